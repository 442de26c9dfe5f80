/* The device fleet (fleet.c): ids, scenarios, and what each device sends when its turn comes. */
#ifndef WARDLINE_SIM_FLEET_H
#define WARDLINE_SIM_FLEET_H
#include "config.h"
#include "sim.h"

#define BACKLOG_MAX 64
#define PAYLOAD_MAX 384

typedef struct {
    char id[48], patient_id[48];
    char vitals_topic[80], alerts_topic[80], status_topic[80];
    patient_t body;
    rng_t rng;
    const scenario_t *sc;
    uint64_t seq;
    double last_t, offline_until;
    bool oximeter, bad, last_bad, fired[MAX_STEPS];
    int conn, backlog_n;
    char (*backlog)[PAYLOAD_MAX];          /* allocated at start, only for devices whose scenario goes offline */
    char last[PAYLOAD_MAX];
    int last_len;
} device_t;

/* How a device hands a message to its MQTT connection; returns 0 when accepted. */
typedef int (*publish_fn)(int conn, const char *topic, const char *payload, int len, bool retain, void *ctx);

typedef struct {
    device_t *devices;
    int n;
    scenario_t *scenarios;                 /* loaded once; devices point into it */
    int nscenarios;
    double artefacts_per_hour;
    publish_fn publish;
    void *ctx;
    long long errors;
    long long good, bad, duplicates;       /* readings sent, by kind (bad excludes duplicates) */
} fleet_t;

int fleet_init(fleet_t *f, const sim_config_t *c, const char *exe_dir, char *err, size_t errlen);
void fleet_free(fleet_t *f);
/* Publishes each device's retained status. */
void fleet_announce(fleet_t *f, const char *state, int64_t now_ms);
/* One turn of device d at device time t (seconds since start), device clock now_ms. */
void device_turn(fleet_t *f, device_t *d, double t, int64_t now_ms, int64_t tx_us);
#endif
