/* The fleet: each device's identity and scenario, and what it sends on its turn: a reading (or
 * a bad one, on purpose), its scenario's alerts and status changes, a backlog array after being
 * offline. Everything is allocated at start; a turn formats into fixed buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fleet.h"

static const char *const demo_mix = "stable:10,sepsis:3,hypoxia:2,bradycardia:1,probe-off:1,offline-backlog:1,low-battery:1";

static int load_mix(fleet_t *f, const sim_config_t *c, const char *exe_dir, double *weights, char *err, size_t errlen) {
    char dir[512], list[256];
    if (c->scenario_dir[0]) snprintf(dir, sizeof dir, "%s", c->scenario_dir);
    else snprintf(dir, sizeof dir, "%s/../scenarios", exe_dir);
    snprintf(list, sizeof list, "%s", strcmp(c->mix, "demo") == 0 ? demo_mix : c->mix);
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (f->nscenarios == 16) { snprintf(err, errlen, "--mix: at most 16 scenarios"); return -1; }
        char *colon = strchr(item, ':');
        double w = 1;
        if (colon) {
            *colon = 0;
            char *end;
            w = strtod(colon + 1, &end);
            if (*end || w <= 0) { snprintf(err, errlen, "--mix: weight of '%s' must be a positive number", item); return -1; }
        }
        char path[800];
        snprintf(path, sizeof path, "%s/%s.scn", dir, item);
        if (scenario_load(path, &f->scenarios[f->nscenarios], err, errlen)) return -1;
        weights[f->nscenarios++] = w;
    }
    return 0;
}

int fleet_init(fleet_t *f, const sim_config_t *c, const char *exe_dir, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    f->n = c->devices;
    f->artefacts_per_hour = c->artefacts_per_hour;
    f->devices = calloc((size_t)f->n, sizeof *f->devices);
    f->scenarios = calloc(16, sizeof *f->scenarios);
    if (!f->devices || !f->scenarios) { snprintf(err, errlen, "out of memory for %d devices", f->n); return -1; }
    double weights[16], total = 0;
    if (c->scenario[0]) {
        if (scenario_load(c->scenario, &f->scenarios[0], err, errlen)) return -1;
        weights[0] = 1;
        f->nscenarios = 1;
    } else if (c->mix[0] && load_mix(f, c, exe_dir, weights, err, errlen)) {
        return -1;
    }
    for (int i = 0; i < f->nscenarios; i++) total += weights[i];
    rng_t pick;
    rng_seed(&pick, (uint64_t)c->seed);
    for (int i = 0; i < f->n; i++) {
        device_t *d = &f->devices[i];
        d->oximeter = rng_uniform(&pick) < c->oximeter_share;
        d->bad = rng_uniform(&pick) < c->bad_share;
        snprintf(d->id, sizeof d->id, "%s-%s%05d", d->oximeter ? "oxi" : "mon", c->id_prefix, i);
        snprintf(d->patient_id, sizeof d->patient_id, "PAT-%s%05d", c->id_prefix, i);
        snprintf(d->vitals_topic, sizeof d->vitals_topic, "devices/%s/vitals", d->id);
        snprintf(d->alerts_topic, sizeof d->alerts_topic, "devices/%s/alerts", d->id);
        snprintf(d->status_topic, sizeof d->status_topic, "devices/%s/status", d->id);
        rng_seed(&d->rng, (uint64_t)c->seed * 1000003u + (uint64_t)i + 1);
        patient_init(&d->body, &d->rng);
        d->conn = i % c->connections;
        if (f->nscenarios) {
            double x = rng_uniform(&pick) * total;
            int k = 0;
            while (k < f->nscenarios - 1 && x >= weights[k]) x -= weights[k++];
            d->sc = f->scenarios[k].nsteps ? &f->scenarios[k] : NULL;
        }
        for (int s = 0; d->sc && s < d->sc->nsteps; s++) {
            if (d->sc->steps[s].kind == S_OFFLINE && !d->backlog) {
                d->backlog = calloc(BACKLOG_MAX, PAYLOAD_MAX);
                if (!d->backlog) { snprintf(err, errlen, "out of memory for backlogs"); return -1; }
            }
        }
    }
    return 0;
}

void fleet_free(fleet_t *f) {
    for (int i = 0; f->devices && i < f->n; i++) free(f->devices[i].backlog);
    free(f->devices);
    free(f->scenarios);
}

static void send(fleet_t *f, device_t *d, const char *topic, const char *payload, int len, bool retain) {
    if (len < 0 || f->publish(d->conn, topic, payload, len, retain, f->ctx) != 0) f->errors++;
}

static void status(fleet_t *f, device_t *d, const char *state, double battery, int64_t now_ms) {
    char buf[PAYLOAD_MAX];
    int n = snprintf(buf, sizeof buf, "{\"v\":1,\"state\":\"%s\",\"ts\":%lld,\"firmware\":\"2.4.1\",\"battery\":%d}",
                     state, (long long)now_ms, (int)battery);
    send(f, d, d->status_topic, buf, n, true);
}

void fleet_announce(fleet_t *f, const char *state, int64_t now_ms) {
    for (int i = 0; i < f->n; i++) status(f, &f->devices[i], state, 100 - i % 40, now_ms);
}

/* The scenario's discrete events whose time has come: device alerts, probe-off, battery, offline. */
static void fire_steps(fleet_t *f, device_t *d, double t, int64_t now_ms, double battery) {
    for (int s = 0; d->sc && s < d->sc->nsteps; s++) {
        const step_t *st = &d->sc->steps[s];
        if (d->fired[s] || t < st->at) continue;
        d->fired[s] = true;
        char buf[PAYLOAD_MAX];
        int n;
        switch (st->kind) {
        case S_ALERT:
        case S_PROBE_OFF:
            n = snprintf(buf, sizeof buf, "{\"v\":1,\"ts\":%lld,\"code\":\"%s\",\"priority\":\"%s\",\"message\":\"%s\"}",
                         (long long)now_ms, st->kind == S_ALERT ? st->code : "probe_off",
                         st->kind == S_ALERT ? st->priority : "low",
                         st->kind == S_ALERT ? st->message : "SpO2 sensor disconnected");
            send(f, d, d->alerts_topic, buf, n, false);
            break;
        case S_BATTERY:
            status(f, d, "online", battery, now_ms);
            if (battery < 15) {
                n = snprintf(buf, sizeof buf, "{\"v\":1,\"ts\":%lld,\"code\":\"low_battery\",\"priority\":\"%s\","
                             "\"message\":\"battery %d %%\"}", (long long)now_ms, battery < 10 ? "medium" : "low", (int)battery);
                send(f, d, d->alerts_topic, buf, n, false);
            }
            break;
        case S_OFFLINE:
            status(f, d, "offline", battery, now_ms);
            d->offline_until = st->until;
            break;
        default:
            break;
        }
    }
}

/* Back online: status first, then everything measured meanwhile as one JSON array. */
static void flush_backlog(fleet_t *f, device_t *d, double battery, int64_t now_ms) {
    static char buf[BACKLOG_MAX * PAYLOAD_MAX + 8];
    status(f, d, "online", battery, now_ms);
    size_t used = 0;
    buf[used++] = '[';
    for (int i = 0; i < d->backlog_n; i++) {
        size_t len = strlen(d->backlog[i]);
        if (i) buf[used++] = ',';
        memcpy(buf + used, d->backlog[i], len);
        used += len;
    }
    buf[used++] = ']';
    send(f, d, d->vitals_topic, buf, (int)used, false);
    d->backlog_n = 0;
}

void device_turn(fleet_t *f, device_t *d, double t, int64_t now_ms, int64_t tx_us) {
    vitals_t v;
    double dt = d->seq ? t - d->last_t : 1.0;
    patient_step(&d->body, &d->rng, d->sc, t, dt > 0 ? dt : 0.001, f->artefacts_per_hour, &v);
    d->last_t = t;
    fire_steps(f, d, t, now_ms, v.battery);
    enum bad_kind bad = BAD_NONE;
    if (d->bad && rng_uniform(&d->rng) < 0.5) bad = (enum bad_kind)(1 + rng_next(&d->rng) % (BAD_KINDS - 1));
    if (bad == BAD_DUPLICATE && d->last_len > 0) {     /* the previous reading again, as a QoS 1 resend would */
        send(f, d, d->vitals_topic, d->last, d->last_len, false);
        if (d->last_bad) f->bad++; else f->duplicates++;   /* a bad one is rejected again; a good one stored once */
        return;
    }
    if (!v.present[V_HR] && !v.present[V_SPO2] && d->oximeter) return;   /* probe off: nothing to send */
    bool with_bp = d->seq % 60 == 0;                    /* NIBP cycles far slower than the monitor */
    char buf[PAYLOAD_MAX];
    int n = payload_reading(buf, sizeof buf, ++d->seq, now_ms, d->patient_id, &v, d->oximeter, with_bp, tx_us,
                            bad == BAD_DUPLICATE ? BAD_NONE : bad);
    if (n < 0) { f->errors++; return; }
    if (t < d->offline_until && d->backlog) {
        if (d->backlog_n < BACKLOG_MAX) {
            memcpy(d->backlog[d->backlog_n++], buf, (size_t)n + 1);
            if (bad == BAD_NONE) f->good++; else f->bad++;
        }
        return;
    }
    if (d->backlog_n > 0) flush_backlog(f, d, v.battery, now_ms);
    memcpy(d->last, buf, (size_t)n + 1);
    d->last_len = n;
    d->last_bad = bad != BAD_NONE && bad != BAD_DUPLICATE;
    send(f, d, d->vitals_topic, buf, n, false);
    if (d->last_bad) f->bad++; else f->good++;
}
