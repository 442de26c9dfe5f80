/* One MQTT connection to the broker (connection.c): TLS, the account, the last will. */
#ifndef WARDLINE_SIM_CONNECTION_H
#define WARDLINE_SIM_CONNECTION_H
#include <mosquitto.h>
#include <stdatomic.h>
#include "config.h"

typedef struct {
    struct mosquitto *m;
    char client_id[65];
    atomic_int connack;                    /* -1 until the broker answers CONNECT, then its code */
} connection_t;

/* Creates the client, sets TLS (unless --no-tls), user name and password (when given) and the
 * will (when will_topic is set), connects and starts its network thread. Returns 0, or -1 with
 * a message on stderr. */
int connection_open(connection_t *c, const sim_config_t *cfg, const char *client_id, const char *password,
                    const char *will_topic, void (*on_publish)(struct mosquitto *, void *, int));
/* Waits until the broker has answered every CONNECT; prints the first refusal. 0: all accepted. */
int connection_wait_accepted(connection_t *conns, int n, double seconds);
void connection_close(connection_t *c);
#endif
