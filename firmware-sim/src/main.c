/* wardline-sim: a fleet of bedside devices publishing vitals over MQTT (QoS 1), at a steady
 * target rate, with scenarios, artefacts and bad devices on purpose. */
#include <errno.h>
#include <libgen.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "connection.h"
#include "credentials.h"
#include "fleet.h"

static volatile sig_atomic_t running = 1;
static atomic_llong acked, published;
static connection_t *conns;
static int nconns;

static void on_signal(int sig) { (void)sig; running = 0; }
static void on_publish(struct mosquitto *m, void *obj, int mid) { (void)m; (void)obj; (void)mid; atomic_fetch_add(&acked, 1); }

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t epoch_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int publish(int conn, const char *topic, const char *payload, int len, bool retain, void *ctx) {
    (void)ctx;
    if (mosquitto_publish(conns[conn].m, NULL, topic, len, payload, 1, retain) != MOSQ_ERR_SUCCESS) return -1;
    atomic_fetch_add(&published, 1);
    return 0;
}

/* Every connection's account: the device's own (per device), a gateway's (shared), or none. */
static int connect_all(const sim_config_t *c, const fleet_t *f) {
    credentials_t creds = {0};
    char err[512];
    const char *file = c->credentials[0] ? c->credentials : c->gateway_credentials;
    if (*file && credentials_load(file, &creds, err, sizeof err)) { fprintf(stderr, "wardline-sim: %s\n", err); return -2; }
    if (c->gateway_credentials[0] && creds.n < c->connections) {
        fprintf(stderr, "wardline-sim: %s has %d accounts for %d connections (one line per connection)\n", file, creds.n, c->connections);
        credentials_free(&creds);
        return -2;
    }
    if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) { fprintf(stderr, "wardline-sim: cannot start libmosquitto\n"); return -1; }
    nconns = c->connections;
    conns = calloc((size_t)nconns, sizeof *conns);
    int rc = conns ? 0 : -1;
    for (int i = 0; i < nconns && !rc; i++) {
        char id[96];
        const char *password = NULL;
        if (c->per_device) {
            snprintf(id, sizeof id, "%s", f->devices[i].id);
            const credential_t *mine = creds.n ? credentials_find(&creds, id) : NULL;
            if (creds.n && !mine) { fprintf(stderr, "wardline-sim: %s has no line for device %s\n", file, id); rc = -2; break; }
            password = mine ? mine->password : NULL;
        } else if (creds.n) {
            snprintf(id, sizeof id, "%s", creds.items[i].id);
            password = creds.items[i].password;
        } else {
            snprintf(id, sizeof id, "wardline-sim-%s%d-%d", c->id_prefix, (int)getpid(), i);
        }
        rc = connection_open(&conns[i], c, id, password, c->per_device ? f->devices[i].status_topic : NULL, on_publish);
    }
    credentials_free(&creds);
    if (!rc) rc = connection_wait_accepted(conns, nconns, 30);
    return rc;
}

static void disconnect_all(void) {
    for (int i = 0; conns && i < nconns; i++) connection_close(&conns[i]);
    free(conns);
    mosquitto_lib_cleanup();
}

int main(int argc, char **argv) {
    sim_config_t c;
    if (config_parse(argc, argv, &c)) return 2;
    char exe[1024] = ".";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) { exe[n] = 0; dirname(exe); }
    fleet_t f;
    char err[512];
    if (fleet_init(&f, &c, exe, err, sizeof err)) { fprintf(stderr, "wardline-sim: %s\n", err); fleet_free(&f); return 2; }
    if (c.list_devices) {
        for (int i = 0; i < f.n; i++) printf("%s %s\n", f.devices[i].id, f.devices[i].patient_id);
        fleet_free(&f);
        return fflush(stdout) ? 1 : 0;
    }
    f.publish = publish;
    if (c.list_ids) {
        for (int i = 0; i < f.n; i++) printf("%s\n", f.devices[i].id);
        fleet_free(&f);
        return 0;
    }
    int rc = connect_all(&c, &f);
    if (rc) { disconnect_all(); fleet_free(&f); return rc == -2 ? 2 : 1; }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    /* The device clock: real time, or faster and started in the past so it never runs ahead of now. */
    int64_t start_us = epoch_us();
    double span = c.duration > 0 ? c.duration : (c.count > 0 ? c.count / c.rate : 3600);
    int64_t clock0_ms = start_us / 1000 - (c.speed > 1 ? (int64_t)(span * (c.speed - 1) * 1000) : 0);
    fleet_announce(&f, "online", clock0_ms);
    long long sent = 0, last_sent = 0;
    double t0 = wall(), last_report = t0;
    int turn = 0;
    while (running) {
        double now = wall(), elapsed = now - t0;
        if (c.duration > 0 && elapsed >= c.duration) break;
        long long due = (long long)(c.rate * elapsed);
        if (c.count > 0 && due > (long long)c.count) due = (long long)c.count;
        if (sent >= due) {
            if (c.count > 0 && sent >= (long long)c.count) break;
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
        }
        while (sent < due && running) {
            double device_t = elapsed * c.speed;
            device_turn(&f, &f.devices[turn], device_t, clock0_ms + (int64_t)(device_t * 1000), epoch_us());
            turn = (turn + 1) % f.n;
            sent++;
        }
        if (now - last_report >= 1.0) {
            if (!c.quiet)
                fprintf(stderr, "t=%.0fs rate=%.0f/s sent=%lld acked=%lld errors=%lld\n", elapsed,
                        (sent - last_sent) / (now - last_report), sent, (long long)atomic_load(&acked), f.errors);
            last_sent = sent;
            last_report = now;
        }
    }
    double elapsed = wall() - t0;
    /* Every QoS 1 message the broker has not yet acknowledged is still ours: wait for them. */
    for (int i = 0; i < 600 && atomic_load(&acked) < atomic_load(&published); i++) {
        struct timespec pause = {0, 50000000};
        nanosleep(&pause, NULL);
    }
    long long p = atomic_load(&published), a = atomic_load(&acked);
    if (a < p) { fprintf(stderr, "wardline-sim: the broker acknowledged %lld of %lld messages\n", a, p); f.errors += p - a; }
    printf("sent=%lld published=%lld acked=%lld errors=%lld good=%lld bad=%lld duplicates=%lld rate=%.0f/s seconds=%.2f\n",
           sent, p, a, f.errors, f.good, f.bad, f.duplicates, elapsed > 0 ? sent / elapsed : 0, elapsed);
    fflush(stdout);
    disconnect_all();
    fleet_free(&f);
    return f.errors ? 1 : 0;
}
