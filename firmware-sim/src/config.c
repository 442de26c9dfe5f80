/* Command-line flags and their checks: a bad argument is a message and exit code 2, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

static int number(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || v < lo || v > hi) {
        fprintf(stderr, "wardline-sim: %s '%s' must be a number from %g to %g\n", flag, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

void config_usage(FILE *f) {
    fprintf(f,
        "usage: wardline-sim [options]\n"
        "  --host H               broker host (env WARDLINE_MQTT_HOST, default 127.0.0.1)\n"
        "  --port P               broker port (env WARDLINE_MQTT_PORT, default 18830)\n"
        "  --devices N            devices in the fleet (default 20; up to 100000)\n"
        "  --connections N        MQTT connections the fleet shares (default 4)\n"
        "  --per-device-connections  one connection, and so one last will, per device (up to 1000)\n"
        "  --credentials FILE     per-device accounts, 'id password' lines (wardline devices provision);\n"
        "                         needs --per-device-connections; the file must be mode 0600\n"
        "  --gateway-credentials FILE  gateway accounts for the shared connections, one line per connection\n"
        "  --cafile FILE          CA of the broker's certificate (env WARDLINE_MQTT_CA_FILE; default: system store)\n"
        "  --cert FILE --key FILE a client certificate, for the broker's mTLS listener\n"
        "  --no-tls               plain TCP (only for a broker without TLS; none that deploy/ makes)\n"
        "  --list-ids             print the fleet's device ids, one a line, and exit (to provision them)\n"
        "  --interval S           seconds of device time between one device's readings (default 1)\n"
        "  --rate R               load mode: R readings/s across the fleet, reported each second\n"
        "  --count N              stop after N readings and exit once the broker has acked them all\n"
        "  --duration S           stop after S seconds of wall time\n"
        "  --speed X              device clock runs X times faster than wall time (default 1)\n"
        "  --seed N               random seed; the same seed gives the same run (default 42)\n"
        "  --scenario FILE        every device follows this scenario file\n"
        "  --mix LIST             scenarios across the fleet, NAME:WEIGHT,...; 'demo' = a mixed ward\n"
        "  --scenario-dir DIR     where --mix finds NAME.scn (default: scenarios/ beside the binary)\n"
        "  --bad-share F          share of devices (0-1) that send malformed, wrong-typed, impossible,\n"
        "                         duplicate and future-dated readings\n"
        "  --artefacts-per-hour F motion spikes and probe-off gaps per device-hour (default 0.5)\n"
        "  --id-prefix P          prefix for device and patient ids (default none)\n"
        "  --oximeter-share F     share of devices that are pulse oximeters (hr, spo2 only; default 0.3)\n"
        "  --quiet                no per-second report\n"
        "  --list-devices         print each device id and its patient id, one pair a line, and exit\n"
        "                         (same flags as the run: what to assign through Wardline's REST API)\n");
}

int config_parse(int argc, char **argv, sim_config_t *c) {
    memset(c, 0, sizeof *c);
    const char *h = getenv("WARDLINE_MQTT_HOST"), *p = getenv("WARDLINE_MQTT_PORT");
    snprintf(c->host, sizeof c->host, "%s", h && *h ? h : "127.0.0.1");
    c->port = p && *p ? atoi(p) : 18830;
    const char *ca = getenv("WARDLINE_MQTT_CA_FILE");
    snprintf(c->cafile, sizeof c->cafile, "%s", ca ? ca : "");
    c->devices = 20;
    c->connections = 4;
    c->interval = 1;
    c->speed = 1;
    c->seed = 42;
    c->artefacts_per_hour = 0.5;
    c->oximeter_share = 0.3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        int has = i + 1 < argc;
#define ARG (has ? argv[++i] : (fprintf(stderr, "wardline-sim: %s needs a value\n", a), (char *)NULL))
#define NUM(lo, hi, dst) do { const char *s_ = ARG; if (!s_ || number(a, s_, lo, hi, &v)) return -1; dst = v; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { config_usage(stdout); exit(0); }
        else if (!strcmp(a, "--host")) { const char *s = ARG; if (!s) return -1; snprintf(c->host, sizeof c->host, "%s", s); }
        else if (!strcmp(a, "--port")) NUM(1, 65535, c->port);
        else if (!strcmp(a, "--devices")) NUM(1, MAX_DEVICES, c->devices);
        else if (!strcmp(a, "--connections")) NUM(1, 64, c->connections);
        else if (!strcmp(a, "--per-device-connections")) c->per_device = true;
        else if (!strcmp(a, "--interval")) NUM(0.001, 3600, c->interval);
        else if (!strcmp(a, "--rate")) NUM(0.1, 1e7, c->rate);
        else if (!strcmp(a, "--count")) NUM(1, 1e12, c->count);
        else if (!strcmp(a, "--duration")) NUM(0.1, 1e7, c->duration);
        else if (!strcmp(a, "--speed")) NUM(0.01, 100000, c->speed);
        else if (!strcmp(a, "--seed")) NUM(0, 1e15, c->seed);
        else if (!strcmp(a, "--scenario")) { const char *s = ARG; if (!s) return -1; snprintf(c->scenario, sizeof c->scenario, "%s", s); }
        else if (!strcmp(a, "--mix")) { const char *s = ARG; if (!s) return -1; snprintf(c->mix, sizeof c->mix, "%s", s); }
        else if (!strcmp(a, "--scenario-dir")) { const char *s = ARG; if (!s) return -1; snprintf(c->scenario_dir, sizeof c->scenario_dir, "%s", s); }
        else if (!strcmp(a, "--bad-share")) NUM(0, 1, c->bad_share);
        else if (!strcmp(a, "--artefacts-per-hour")) NUM(0, 3600, c->artefacts_per_hour);
        else if (!strcmp(a, "--oximeter-share")) NUM(0, 1, c->oximeter_share);
        else if (!strcmp(a, "--id-prefix")) { const char *s = ARG; if (!s) return -1; snprintf(c->id_prefix, sizeof c->id_prefix, "%s", s); }
        else if (!strcmp(a, "--quiet")) c->quiet = true;
        else if (!strcmp(a, "--list-devices")) c->list_devices = true;
        else if (!strcmp(a, "--no-tls")) c->no_tls = true;
        else if (!strcmp(a, "--list-ids")) c->list_ids = true;
        else if (!strcmp(a, "--cafile")) { const char *s = ARG; if (!s) return -1; snprintf(c->cafile, sizeof c->cafile, "%s", s); }
        else if (!strcmp(a, "--cert")) { const char *s = ARG; if (!s) return -1; snprintf(c->certfile, sizeof c->certfile, "%s", s); }
        else if (!strcmp(a, "--key")) { const char *s = ARG; if (!s) return -1; snprintf(c->keyfile, sizeof c->keyfile, "%s", s); }
        else if (!strcmp(a, "--credentials")) { const char *s = ARG; if (!s) return -1; snprintf(c->credentials, sizeof c->credentials, "%s", s); }
        else if (!strcmp(a, "--gateway-credentials")) { const char *s = ARG; if (!s) return -1; snprintf(c->gateway_credentials, sizeof c->gateway_credentials, "%s", s); }
        else { fprintf(stderr, "wardline-sim: unknown option '%s' (see --help)\n", a); return -1; }
#undef NUM
#undef ARG
    }
    if (c->per_device && c->devices > 1000) {
        fprintf(stderr, "wardline-sim: --per-device-connections allows at most 1000 devices (got %d)\n", c->devices);
        return -1;
    }
    if (c->credentials[0] && !c->per_device) {
        fprintf(stderr, "wardline-sim: --credentials are per device: add --per-device-connections, or use --gateway-credentials\n");
        return -1;
    }
    if (c->gateway_credentials[0] && c->per_device) {
        fprintf(stderr, "wardline-sim: use --credentials (per device) or --gateway-credentials (shared connections), not both\n");
        return -1;
    }
    if (!c->certfile[0] != !c->keyfile[0]) { fprintf(stderr, "wardline-sim: --cert and --key go together\n"); return -1; }
    if (c->scenario[0] && c->mix[0]) { fprintf(stderr, "wardline-sim: use --scenario or --mix, not both\n"); return -1; }
    if (c->per_device) c->connections = c->devices;
    if (c->connections > c->devices) c->connections = c->devices;
    if (c->rate <= 0) c->rate = c->devices * c->speed / c->interval;
    return 0;
}
