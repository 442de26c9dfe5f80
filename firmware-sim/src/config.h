/* The simulator's configuration (config.c). */
#ifndef WARDLINE_SIM_CONFIG_H
#define WARDLINE_SIM_CONFIG_H
#include <stdbool.h>
#include <stdio.h>

#define MAX_DEVICES 100000

typedef struct {
    char host[128];
    int port, devices, connections;
    bool per_device, quiet, list_devices, no_tls, list_ids;
    double interval, rate, count, duration, speed, seed, bad_share, artefacts_per_hour, oximeter_share;
    char scenario[256], mix[256], scenario_dir[256], id_prefix[24];
    char cafile[256], certfile[256], keyfile[256], credentials[256], gateway_credentials[256];
} sim_config_t;

int config_parse(int argc, char **argv, sim_config_t *c);
void config_usage(FILE *f);
#endif
