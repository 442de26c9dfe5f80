/* Shared types of the bedside device simulator. */
#ifndef WARDLINE_SIM_H
#define WARDLINE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- deterministic randomness (rng.c) ---- */
typedef struct { uint64_t s; } rng_t;
void rng_seed(rng_t *r, uint64_t seed);
uint64_t rng_next(rng_t *r);
double rng_uniform(rng_t *r);              /* [0, 1) */
double rng_gauss(rng_t *r);                /* mean 0, sd 1 */

/* ---- vitals ---- */
enum vital { V_HR, V_SPO2, V_TEMP, V_RR, V_SBP, V_DBP, V_COUNT };
const char *vital_name(enum vital v);
int vital_from_name(const char *name);     /* -1 when unknown */

/* ---- scenarios (scenario.c): a timeline of steps in device seconds ---- */
enum step_kind { S_RAMP, S_SET, S_SPIKE, S_PROBE_OFF, S_OFFLINE, S_BATTERY, S_ALERT, S_O2, S_ACVPU };
typedef struct {
    enum step_kind kind;
    double at, until;                      /* seconds from scenario start */
    int vital;                             /* for RAMP/SET/SPIKE */
    double value;                          /* delta, level, battery %, o2 flag */
    char code[24], priority[8], message[64], acvpu;
} step_t;

#define MAX_STEPS 32
typedef struct {
    char name[32];
    int nsteps;
    step_t steps[MAX_STEPS];
} scenario_t;

/* Parses a scenario file; on error returns -1 and writes "file:line: reason" into err. */
int scenario_load(const char *path, scenario_t *out, char *err, size_t errlen);
int scenario_parse(const char *text, const char *name, scenario_t *out, char *err, size_t errlen);

/* ---- physiology (physiology.c) ---- */
typedef struct {
    double baseline[V_COUNT];
    double drift[V_COUNT];                 /* slow Ornstein-Uhlenbeck wander around the baseline */
    double phase;                          /* breathing / circadian phase offset */
    double spike_until, spike_delta;       /* a one-second motion artefact */
    int spike_vital;
    double gap_until;                      /* a probe-off gap: SpO2 and HR missing */
    int age;
} patient_t;

typedef struct {
    bool present[V_COUNT];
    double value[V_COUNT];
    bool o2;
    char acvpu;
    double battery;
} vitals_t;

/* Clinically sensible bounds every generated value stays within. */
extern const double vital_min[V_COUNT], vital_max[V_COUNT];

void patient_init(patient_t *p, rng_t *r);
/* Advances the patient by dt device seconds to device time t (s since start) under the scenario. */
void patient_step(patient_t *p, rng_t *r, const scenario_t *sc, double t, double dt, double artefact_rate,
                  vitals_t *out);

/* ---- payloads (payload.c) ---- */
enum bad_kind { BAD_NONE, BAD_MALFORMED, BAD_WRONG_TYPE, BAD_IMPOSSIBLE, BAD_FUTURE, BAD_DUPLICATE, BAD_KINDS };
/* Writes one reading as JSON; returns its length, or -1 if it does not fit. */
int payload_reading(char *buf, size_t len, uint64_t seq, int64_t ts_ms, const char *patient_id,
                    const vitals_t *v, bool oximeter_only, bool with_bp, int64_t tx_us, enum bad_kind bad);

#endif
