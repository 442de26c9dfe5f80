/* A simulated patient: an age-plausible baseline, slow drift, breathing and circadian variation,
 * sensor noise, occasional artefacts, and the scenario's clinical course on top. */
#include <math.h>
#include <string.h>
#include "sim.h"

static const char *const names[V_COUNT] = {"hr", "spo2", "temp", "rr", "sbp", "dbp"};
const double vital_min[V_COUNT] = {25, 60, 33.0, 4, 50, 25};
const double vital_max[V_COUNT] = {220, 100, 41.5, 60, 240, 140};
static const double noise_sd[V_COUNT] = {1.5, 0.6, 0.05, 0.8, 3.0, 2.0};
static const double drift_sd[V_COUNT] = {3.0, 0.7, 0.15, 1.2, 6.0, 4.0};

const char *vital_name(enum vital v) { return v < V_COUNT ? names[v] : "?"; }

int vital_from_name(const char *name) {
    for (int i = 0; i < V_COUNT; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

static double clamp(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

void patient_init(patient_t *p, rng_t *r) {
    memset(p, 0, sizeof *p);
    p->age = 18 + (int)(rng_uniform(r) * 75);
    double old = (p->age - 18) / 75.0;
    p->baseline[V_HR] = 72 + rng_gauss(r) * 7;
    p->baseline[V_SPO2] = 97.5 - old * 1.5 + rng_gauss(r) * 0.6;
    p->baseline[V_TEMP] = 36.8 + rng_gauss(r) * 0.2;
    p->baseline[V_RR] = 15 + rng_gauss(r) * 1.5;
    p->baseline[V_SBP] = 115 + old * 25 + rng_gauss(r) * 8;
    p->baseline[V_DBP] = 72 + old * 6 + rng_gauss(r) * 5;
    /* Ward patients who are well: the tails of the normal ranges would be alarms, not baselines. */
    p->baseline[V_SPO2] = clamp(p->baseline[V_SPO2], 94.5, 99.5);
    p->baseline[V_HR] = clamp(p->baseline[V_HR], 58, 100);
    p->baseline[V_RR] = clamp(p->baseline[V_RR], 12, 20);
    p->baseline[V_SBP] = clamp(p->baseline[V_SBP], 105, 160);
    p->baseline[V_DBP] = clamp(p->baseline[V_DBP], 60, 95);
    p->phase = rng_uniform(r) * 2 * M_PI;
    p->spike_vital = -1;
}

/* The scenario's effect on one vital at time t: ramps add a linearly growing delta (held after
 * the ramp ends), a SET replaces the level from its time on. */
static double scenario_level(const scenario_t *sc, int v, double t, double base) {
    double level = base;
    if (!sc) return level;
    for (int i = 0; i < sc->nsteps; i++) {
        const step_t *s = &sc->steps[i];
        if (s->vital != v || t < s->at) continue;
        if (s->kind == S_SET) level = s->value;
        if (s->kind == S_RAMP) {
            double span = s->until > s->at ? s->until - s->at : 1;
            level += s->value * clamp((t - s->at) / span, 0, 1);
        }
    }
    return level;
}

void patient_step(patient_t *p, rng_t *r, const scenario_t *sc, double t, double dt, double artefact_rate,
                  vitals_t *out) {
    /* Drift: mean-reverting over ~10 minutes, so a patient wanders but does not walk away. */
    double k = clamp(dt / 600.0, 0, 1);
    for (int v = 0; v < V_COUNT; v++)
        p->drift[v] += -p->drift[v] * k + drift_sd[v] * sqrt(2 * k) * rng_gauss(r);

    /* Artefacts a good alarm system must not alarm on: a one-second motion spike, a probe-off gap. */
    if (rng_uniform(r) < artefact_rate * dt / 3600.0) {
        p->spike_vital = rng_uniform(r) < 0.5 ? V_HR : V_SPO2;
        p->spike_delta = p->spike_vital == V_HR ? 45 : -18;
        p->spike_until = t + 1.0;
    }
    if (rng_uniform(r) < artefact_rate * 0.5 * dt / 3600.0) p->gap_until = t + 5 + rng_uniform(r) * 15;

    double circadian = sin(2 * M_PI * t / 86400.0 + p->phase);
    double breathing = sin(2 * M_PI * t / 4.0 + p->phase);
    memset(out, 0, sizeof *out);
    for (int v = 0; v < V_COUNT; v++) {
        double x = scenario_level(sc, v, t, p->baseline[v]) + p->drift[v] + noise_sd[v] * rng_gauss(r);
        if (v == V_TEMP) x += 0.3 * circadian;
        if (v == V_HR) x += 4 * circadian + 2 * breathing;
        if (v == p->spike_vital && t < p->spike_until) x += p->spike_delta;
        out->value[v] = clamp(x, vital_min[v], vital_max[v]);
        out->present[v] = true;
    }
    if (out->value[V_DBP] > out->value[V_SBP] - 15) out->value[V_DBP] = out->value[V_SBP] - 15;
    bool probe_off = t < p->gap_until;
    out->o2 = false;
    out->acvpu = 'A';
    out->battery = 100 - fmod(t / 360.0, 80);           /* a slow drain, recharged now and then */
    if (sc) {
        for (int i = 0; i < sc->nsteps; i++) {
            const step_t *s = &sc->steps[i];
            if (t < s->at) continue;
            if (s->kind == S_PROBE_OFF && t < s->until) probe_off = true;
            if (s->kind == S_BATTERY) out->battery = s->value;
            if (s->kind == S_O2) out->o2 = s->value != 0;
            if (s->kind == S_ACVPU) out->acvpu = s->acvpu;
            if (s->kind == S_SPIKE && t < s->at + 1.0 && s->vital >= 0)
                out->value[s->vital] = clamp(out->value[s->vital] + s->value, vital_min[s->vital], vital_max[s->vital]);
        }
    }
    if (probe_off) out->present[V_SPO2] = out->present[V_HR] = false;
}
