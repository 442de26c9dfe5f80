/* Connecting to the broker the way a device does: TLS verified against the hospital's CA, then
 * the device's own account (user name = client id = device id, as provisioned). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "connection.h"

static const char system_ca_path[] = "/etc/ssl/certs";

static void on_connect(struct mosquitto *m, void *obj, int rc) {
    (void)m;
    atomic_store(&((connection_t *)obj)->connack, rc);
}

int connection_open(connection_t *c, const sim_config_t *cfg, const char *client_id, const char *password,
                    const char *will_topic, void (*on_publish)(struct mosquitto *, void *, int)) {
    snprintf(c->client_id, sizeof c->client_id, "%s", client_id);
    atomic_store(&c->connack, -1);
    c->m = mosquitto_new(client_id, true, c);
    if (!c->m) { fprintf(stderr, "wardline-sim: cannot create MQTT client\n"); return -1; }
    mosquitto_connect_callback_set(c->m, on_connect);
    mosquitto_publish_callback_set(c->m, on_publish);
    int rc = mosquitto_max_inflight_messages_set(c->m, 2000);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
    if (rc == MOSQ_ERR_SUCCESS && !cfg->no_tls)
        rc = mosquitto_tls_set(c->m, cfg->cafile[0] ? cfg->cafile : NULL, cfg->cafile[0] ? NULL : system_ca_path,
                               cfg->certfile[0] ? cfg->certfile : NULL, cfg->keyfile[0] ? cfg->keyfile : NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "wardline-sim: TLS setup for %s failed: %s\n", client_id, mosquitto_strerror(rc));
        return -1;
    }
    if (password && (rc = mosquitto_username_pw_set(c->m, client_id, password)) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "wardline-sim: credentials for %s: %s\n", client_id, mosquitto_strerror(rc));
        return -1;
    }
    if (will_topic) {   /* the broker announces this device offline if it vanishes */
        static const char will[] = "{\"v\":1,\"state\":\"offline\"}";
        if ((rc = mosquitto_will_set(c->m, will_topic, (int)strlen(will), will, 1, true)) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "wardline-sim: last will for %s: %s\n", client_id, mosquitto_strerror(rc));
            return -1;
        }
    }
    rc = mosquitto_connect(c->m, cfg->host, cfg->port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "wardline-sim: cannot connect to broker %s:%d: %s\n", cfg->host, cfg->port,
                rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        return -1;
    }
    if (mosquitto_loop_start(c->m) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "wardline-sim: cannot start MQTT thread\n"); return -1; }
    return 0;
}

int connection_wait_accepted(connection_t *conns, int n, double seconds) {
    struct timespec pause = {0, 10000000};
    for (int waited = 0; waited < seconds * 100; waited++) {
        int pending = 0;
        for (int i = 0; i < n; i++) {
            int rc = atomic_load(&conns[i].connack);
            if (rc > 0) {
                fprintf(stderr, "wardline-sim: broker refused %s: %s\n", conns[i].client_id, mosquitto_connack_string(rc));
                return -1;
            }
            pending += rc < 0;
        }
        if (!pending) return 0;
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "wardline-sim: the broker did not accept every connection within %.0f s "
            "(a TLS failure? --cafile must name the CA that signed the broker's certificate)\n", seconds);
    return -1;
}

void connection_close(connection_t *c) {
    if (!c->m) return;
    mosquitto_disconnect(c->m);
    mosquitto_loop_stop(c->m, false);
    mosquitto_destroy(c->m);
    c->m = NULL;
}
