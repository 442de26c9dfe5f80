/* ward-load: N WebSocket clients (libwebsockets client role, one context, one thread) against
 * Wardline's hub, plus a bare MQTT subscriber (libmosquitto, its own thread) as the baseline.
 *
 * Each client presents its token, waits for `session:ready`, sends `subscribe:patient` for its
 * patient, and then counts what it receives. For every `vitals:update` it records
 * now - sent_at_us (the device's send time, epoch µs) as a publish → frame latency; the MQTT
 * subscriber records now - tx_us for the same stream straight from the broker. Stalled clients
 * (--stall N) stop reading once subscribed (lws_rx_flow_control(wsi, 0), small receive buffer),
 * like a frozen browser tab; at the end they read again for --drain seconds to find out what the
 * server did with them (closed with a reason, or kept them open).
 *
 * JSON handling is strstr on the frame text: enough for a benchmark client, not a parser. */
#include <errno.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_IDLE, ST_CONNECTING, ST_OPEN, ST_SUBSCRIBING, ST_SUBSCRIBED, ST_CLOSED, ST_FAILED };
static const char *state_name[] = {"idle", "connecting", "open", "subscribing", "subscribed", "closed", "failed"};

#include "samples.h"

typedef struct {
    int idx;
    char token[1024], patient[64], path[1200];
    struct lws *wsi;
    int state;
    bool stalled, paused, want_subscribe, want_close;
    long vitals, foreign, critical, updated, heartbeats, errors, other, drained;
    int64_t connected_us, subscribed_us, last_frame_us, max_stalled_age_us;
    int64_t server_fin_us;  /* a stalled client: when the server closed its side (seen in TCP_INFO) */
    int unread_bytes;       /* a stalled client: bytes waiting in its receive buffer, last seen */
    int close_code;
    char close_reason[160], error_text[160];
    char **ids;            /* alert:critical alarm ids, each once */
    int nids, capids;
    unsigned char *rx;     /* a frame that arrived in fragments */
    size_t rxlen, rxcap;
} client_t;

static client_t *clients;
static int nclients, nstall;
static const char *host = "127.0.0.1";
static int port = 18090, mqtt_port = 18830, stall_rcvbuf = 4096;
static double duration = 60, drain_s = 3, ready_timeout = 60;
static const char *tokens_file, *out_file, *ready_file;
static char device_match[2][64];   /* --device-prefix P: only devices/mon-P…, devices/oxi-P… count */
static struct lws_context *ctx;
static volatile sig_atomic_t stop_requested;
static bool ending;              /* after the drain: closes are ours, not the server's */
static samples_t ws_lat, mqtt_lat;
static long ws_no_stamp, mqtt_arrays, mqtt_msgs;
static int next_connect, connects_per_tick = 25;
static lws_sorted_usec_list_t tick_sul;

static int64_t now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* The value of "key":"..." (JSON-unescaping \/ \" \\) into out; false if absent. */
static bool json_string(const char *text, const char *key, char *out, size_t outlen) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(text, pat);
    if (!p) return false;
    p += strlen(pat);
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < outlen) {
        if (*p == '\\' && p[1]) p++;
        out[n++] = *p++;
    }
    out[n] = 0;
    return true;
}

static bool json_int(const char *text, const char *key, int64_t *out) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (!p) return false;
    char *end;
    long long v = strtoll(p + strlen(pat), &end, 10);
    if (end == p + strlen(pat)) return false;
    *out = v;
    return true;
}

static void add_id(client_t *c, const char *id) {
    for (int i = 0; i < c->nids; i++) if (!strcmp(c->ids[i], id)) return;
    if (c->nids == c->capids) {
        c->capids = c->capids ? c->capids * 2 : 8;
        c->ids = realloc(c->ids, (size_t)c->capids * sizeof *c->ids);
    }
    c->ids[c->nids++] = strdup(id);
}

static void on_frame(client_t *c, char *text, int64_t t) {
    char event[48] = "";
    if (!json_string(text, "event", event, sizeof event)) { c->other++; return; }
    c->last_frame_us = t;
    if (!strcmp(event, "vitals:update")) {
        char pid[64];
        if (json_string(text, "patient_id", pid, sizeof pid) && strcmp(pid, c->patient)) c->foreign++;
        c->vitals++;
        int64_t sent;
        if (!json_int(text, "sent_at_us", &sent)) { ws_no_stamp++; return; }
        if (c->stalled) {
            if (t - sent > c->max_stalled_age_us) c->max_stalled_age_us = t - sent;
            c->drained++;   /* a stalled client reads only in the drain at the end */
        } else {
            samples_add(&ws_lat, t - sent, t);
        }
    } else if (!strcmp(event, "alert:critical")) {
        char id[256];
        c->critical++;
        if (json_string(text, "id", id, sizeof id)) add_id(c, id);
    } else if (!strcmp(event, "alert:updated")) {
        c->updated++;
    } else if (!strcmp(event, "heartbeat")) {
        c->heartbeats++;
    } else if (!strcmp(event, "session:ready")) {
        c->state = ST_OPEN;
        c->want_subscribe = true;
        lws_callback_on_writable(c->wsi);
    } else if (!strcmp(event, "subscribed")) {
        c->state = ST_SUBSCRIBED;
        c->subscribed_us = t;
        if (c->stalled) {           /* from here on, never read: a frozen tab */
            c->paused = true;
            lws_rx_flow_control(c->wsi, 0);
        }
    } else if (!strcmp(event, "error")) {
        c->errors++;
        char msg[160] = "";
        json_string(text, "message", msg, sizeof msg);
        snprintf(c->error_text, sizeof c->error_text, "%s", msg);
    } else {
        c->other++;
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    (void)user;
    client_t *c = (client_t *)lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c) break;
        c->state = ST_OPEN;
        c->connected_us = now_us();
        if (c->stalled && stall_rcvbuf > 0) {
            int fd = lws_get_socket_fd(wsi), sz = stall_rcvbuf;
            if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!c) break;
        int64_t t = now_us();
        bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
        if (final && c->rxlen == 0) {
            /* The whole frame in one piece (the usual case): terminate a copy and parse it. */
            char stackbuf[4096];
            char *text = len < sizeof stackbuf ? stackbuf : malloc(len + 1);
            memcpy(text, in, len);
            text[len] = 0;
            on_frame(c, text, t);
            if (text != stackbuf) free(text);
            break;
        }
        if (c->rxlen + len + 1 > c->rxcap) {
            c->rxcap = (c->rxlen + len + 1) * 2;
            c->rx = realloc(c->rx, c->rxcap);
        }
        memcpy(c->rx + c->rxlen, in, len);
        c->rxlen += len;
        if (final) {
            c->rx[c->rxlen] = 0;
            on_frame(c, (char *)c->rx, t);
            c->rxlen = 0;
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!c) break;
        if (c->want_close) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bench over", 10);
            return -1;
        }
        if (!c->want_subscribe) break;
        c->want_subscribe = false;
        unsigned char buf[LWS_PRE + 256];
        int n = snprintf((char *)buf + LWS_PRE, 256, "{\"event\":\"subscribe:patient\",\"data\":{\"patient_id\":\"%s\"}}", c->patient);
        if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n) return -1;
        c->state = ST_SUBSCRIBING;
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (!c || ending) break;
        if (len >= 2) {
            const unsigned char *p = in;
            c->close_code = p[0] << 8 | p[1];
            int rl = (int)len - 2;
            if (rl > (int)sizeof c->close_reason - 1) rl = (int)sizeof c->close_reason - 1;
            memcpy(c->close_reason, p + 2, (size_t)rl);
            c->close_reason[rl] = 0;
        } else {
            c->close_code = 1005;
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!c) break;
        c->state = ST_FAILED;
        c->wsi = NULL;
        snprintf(c->error_text, sizeof c->error_text, "%s", in ? (const char *)in : "connection error");
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!c) break;
        if (!ending) {
            c->state = ST_CLOSED;
            if (!c->close_code) { c->close_code = 1006; snprintf(c->close_reason, sizeof c->close_reason, "closed without a close frame"); }
        }
        c->wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"ward-load", callback, 0, 8192, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}
};

static void connect_client(client_t *c) {
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = ctx;
    ci.address = host;
    ci.port = port;
    ci.path = c->path;
    ci.host = host;
    ci.origin = host;
    ci.ietf_version_or_minus_one = -1;
    ci.local_protocol_name = "ward-load";
    ci.opaque_user_data = c;
    ci.pwsi = &c->wsi;
    c->state = ST_CONNECTING;
    if (!lws_client_connect_via_info(&ci)) {
        c->state = ST_FAILED;
        snprintf(c->error_text, sizeof c->error_text, "lws_client_connect_via_info failed");
    }
}

/* A stalled client reads nothing, so it learns of a server close only from its socket's state:
 * CLOSE_WAIT means the server sent FIN. */
static void watch_stalled(void) {
    for (int i = 0; i < nclients; i++) {
        client_t *c = &clients[i];
        if (!c->stalled || !c->paused || !c->wsi) continue;
        int fd = lws_get_socket_fd(c->wsi);
        if (fd < 0) continue;
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        if (!c->server_fin_us && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0
            && (ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_state == TCP_CLOSE))
            c->server_fin_us = now_us();
        int n;
        if (ioctl(fd, FIONREAD, &n) == 0) c->unread_bytes = n;
    }
}

static void tick(lws_sorted_usec_list_t *sul) {
    static int n;
    if (++n % 25 == 0) watch_stalled();   /* every 0.5 s */
    for (int k = 0; k < connects_per_tick && next_connect < nclients; k++) connect_client(&clients[next_connect++]);
    lws_sul_schedule(ctx, 0, sul, tick, 20 * LWS_US_PER_MS);
}

/* --- MQTT baseline ------------------------------------------------------------------------ */

static void mqtt_on_connect(struct mosquitto *m, void *obj, int rc) {
    (void)obj;
    if (rc) { fprintf(stderr, "ward-load: MQTT connect refused: %s\n", mosquitto_connack_string(rc)); return; }
    mosquitto_subscribe(m, NULL, "devices/+/vitals", 1);
}

static void mqtt_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
    (void)m; (void)obj;
    int64_t t = now_us();
    if (device_match[0][0] && strncmp(msg->topic, device_match[0], strlen(device_match[0]))
        && strncmp(msg->topic, device_match[1], strlen(device_match[1]))) return;
    mqtt_msgs++;
    const char *p = msg->payload;
    if (!p || msg->payloadlen < 2) return;
    if (p[0] == '[') { mqtt_arrays++; return; }   /* an offline device's backlog: not live latency */
    char buf[2048];
    int n = msg->payloadlen < (int)sizeof buf - 1 ? msg->payloadlen : (int)sizeof buf - 1;
    memcpy(buf, p, (size_t)n);
    buf[n] = 0;
    int64_t sent;
    if (json_int(buf, "tx_us", &sent)) samples_add(&mqtt_lat, t - sent, t);
}

/* --- main --------------------------------------------------------------------------------- */

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
    if (ctx) lws_cancel_service(ctx);
}

static void usage(void) {
    fprintf(stderr,
        "usage: ward-load --tokens FILE [--url HOST:PORT] [--duration S] [--stall N] [--out FILE]\n"
        "                 [--mqtt-port P] [--device-prefix P] [--ready-file FILE] [--drain S] [--stall-rcvbuf BYTES]\n"
        "  --tokens FILE      one line per client: TOKEN PATIENT_ID\n"
        "  --url HOST:PORT    Wardline's WebSocket hub (default 127.0.0.1:18090; path /ws?token=...)\n"
        "  --duration S       stop after S seconds once every client is subscribed (SIGINT/SIGTERM stop sooner)\n"
        "  --stall N          the first N clients stop reading once subscribed\n"
        "  --stall-rcvbuf B   SO_RCVBUF of a stalled client's socket (default 4096; 0: kernel default)\n"
        "  --drain S          at the end, stalled clients read again for S seconds (default 3)\n"
        "  --out FILE         per-client results, TSV\n"
        "  --mqtt-port P      broker for the baseline subscriber on 127.0.0.1 (default 18830; 0: none)\n"
        "  --window S         per-window p50/p99 table, windows of S seconds (default 5)\n"
        "  --warmup S         also report percentiles without the stream's first S seconds (default 5)\n"
        "  --device-prefix P  baseline counts only devices/{mon,oxi}-P… (the simulator's --id-prefix)\n"
        "  --ready-file FILE  written once every client is subscribed (or --ready-timeout passed)\n");
    exit(2);
}

static void load_tokens(void) {
    FILE *f = fopen(tokens_file, "r");
    if (!f) { fprintf(stderr, "ward-load: %s: %s\n", tokens_file, strerror(errno)); exit(2); }
    char line[1200];
    int cap = 1024;
    clients = calloc((size_t)cap, sizeof *clients);
    while (fgets(line, sizeof line, f)) {
        char tok[1024], pat[64];
        if (sscanf(line, "%1023s %63s", tok, pat) != 2) continue;
        if (nclients == cap) { cap *= 2; clients = realloc(clients, (size_t)cap * sizeof *clients); }
        client_t *c = &clients[nclients];
        memset(c, 0, sizeof *c);
        c->idx = nclients++;
        snprintf(c->token, sizeof c->token, "%s", tok);
        snprintf(c->patient, sizeof c->patient, "%s", pat);
        snprintf(c->path, sizeof c->path, "/ws?token=%s", tok);
    }
    fclose(f);
    if (!nclients) { fprintf(stderr, "ward-load: no clients in %s\n", tokens_file); exit(2); }
}

static int window_s = 5, warmup_s = 5;

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage();
        if (!v) usage();
        i++;
        if (!strcmp(a, "--url")) {
            static char h[256];
            const char *s = strncmp(v, "ws://", 5) ? v : v + 5;
            const char *colon = strrchr(s, ':');
            if (!colon) usage();
            snprintf(h, sizeof h, "%.*s", (int)(colon - s), s);
            host = h;
            port = atoi(colon + 1);
        } else if (!strcmp(a, "--tokens")) tokens_file = v;
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--stall")) nstall = atoi(v);
        else if (!strcmp(a, "--stall-rcvbuf")) stall_rcvbuf = atoi(v);
        else if (!strcmp(a, "--drain")) drain_s = atof(v);
        else if (!strcmp(a, "--out")) out_file = v;
        else if (!strcmp(a, "--mqtt-port")) mqtt_port = atoi(v);
        else if (!strcmp(a, "--ready-file")) ready_file = v;
        else if (!strcmp(a, "--ready-timeout")) ready_timeout = atof(v);
        else if (!strcmp(a, "--warmup")) warmup_s = atoi(v);
        else if (!strcmp(a, "--window")) { window_s = atoi(v); if (window_s < 1) usage(); }
        else if (!strcmp(a, "--device-prefix")) {
            snprintf(device_match[0], sizeof device_match[0], "devices/mon-%s", v);
            snprintf(device_match[1], sizeof device_match[1], "devices/oxi-%s", v);
        }
        else usage();
    }
    if (!tokens_file) usage();
    load_tokens();
    for (int i = 0; i < nstall && i < nclients; i++) clients[i].stalled = true;

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);

    struct mosquitto *mq = NULL;
    if (mqtt_port > 0) {
        mosquitto_lib_init();
        char id[64];
        snprintf(id, sizeof id, "ward-load-%d", (int)getpid());
        mq = mosquitto_new(id, true, NULL);
        mosquitto_connect_callback_set(mq, mqtt_on_connect);
        mosquitto_message_callback_set(mq, mqtt_on_message);
        if (mosquitto_connect(mq, host, mqtt_port, 30) != MOSQ_ERR_SUCCESS || mosquitto_loop_start(mq) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "ward-load: cannot connect to the MQTT broker on %s:%d\n", host, mqtt_port);
            return 1;
        }
    }

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.fd_limit_per_thread = (unsigned)nclients + 64;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    ctx = lws_create_context(&info);
    if (!ctx) { fprintf(stderr, "ward-load: lws_create_context failed (ulimit -n?)\n"); return 1; }

    int64_t t_start = now_us(), t_ready = 0, t_stop = 0, t_drain_end = 0;
    lws_sul_schedule(ctx, 0, &tick_sul, tick, 1);
    enum { CONNECTING, RUNNING, DRAINING, CLOSING } phase = CONNECTING;
    int last_report = 0;
    while (1) {
        lws_service(ctx, 0);
        int64_t t = now_us();
        int subscribed = 0, settled = 0, stalled_open = 0, open = 0;
        for (int i = 0; i < nclients; i++) {
            int s = clients[i].state;
            if (s == ST_SUBSCRIBED) subscribed++;
            if (s == ST_SUBSCRIBED || s == ST_FAILED || s == ST_CLOSED) settled++;
            if (clients[i].wsi) open++;
            if (clients[i].stalled && clients[i].wsi) stalled_open++;
        }
        if (phase == CONNECTING) {
            int sec = (int)((t - t_start) / 1000000);
            if (sec != last_report) { last_report = sec; fprintf(stderr, "ward-load: %d/%d subscribed\n", subscribed, nclients); }
            if (settled == nclients || (t - t_start) / 1e6 > ready_timeout || stop_requested) {
                t_ready = t;
                phase = RUNNING;
                printf("ready: subscribed=%d of %d in %.2f s\n", subscribed, nclients, (t - t_start) / 1e6);
                fflush(stdout);
                if (ready_file) {
                    FILE *f = fopen(ready_file, "w");
                    if (f) { fprintf(f, "%d\n", subscribed); fclose(f); }
                }
            }
        } else if (phase == RUNNING) {
            if (stop_requested || (t - t_ready) / 1e6 >= duration) {
                t_stop = t;
                phase = DRAINING;
                for (int i = 0; i < nclients; i++)
                    if (clients[i].stalled && clients[i].wsi && clients[i].paused) {
                        clients[i].paused = false;
                        lws_rx_flow_control(clients[i].wsi, 1);
                    }
            }
        } else if (phase == DRAINING) {
            if ((t - t_stop) / 1e6 >= drain_s) {
                ending = true;
                phase = CLOSING;
                t_drain_end = t;
                for (int i = 0; i < nclients; i++)
                    if (clients[i].wsi) { clients[i].want_close = true; lws_callback_on_writable(clients[i].wsi); }
            }
        } else if (phase == CLOSING) {
            if (!open || (t - t_drain_end) / 1e6 > 2) break;
        }
    }
    int64_t t_end = now_us();

    if (mq) {
        mosquitto_disconnect(mq);
        mosquitto_loop_stop(mq, false);
        mosquitto_destroy(mq);
        mosquitto_lib_cleanup();
    }

    long frames = 0, crit = 0, upd = 0, errs = 0, foreign = 0, connected = 0, subscribed_ok = 0, failed = 0, closed_early = 0;
    long hb = 0, normal = 0;
    for (int i = 0; i < nclients; i++) {
        client_t *c = &clients[i];
        if (c->connected_us) connected++;
        if (c->subscribed_us) subscribed_ok++;
        if (c->state == ST_FAILED) failed++;
        if (c->stalled) continue;
        normal++;
        frames += c->vitals; crit += c->critical; upd += c->updated; errs += c->errors; foreign += c->foreign; hb += c->heartbeats;
        if (c->state == ST_CLOSED) closed_early++;
    }
    if (out_file) {
        FILE *f = fopen(out_file, "w");
        if (!f) { fprintf(stderr, "ward-load: %s: %s\n", out_file, strerror(errno)); return 1; }
        fprintf(f, "client\tpatient\tstalled\tstate\tvitals\tforeign\tcritical\tupdated\theartbeats\terrors\tdrained\t"
                   "max_stalled_age_us\tserver_fin_after_s\tclose_code\tclose_reason\terror\tcritical_ids\n");
        for (int i = 0; i < nclients; i++) {
            client_t *c = &clients[i];
            fprintf(f, "%d\t%s\t%d\t%s\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%" PRId64 "\t%.1f\t%d\t%s\t%s\t",
                    c->idx, c->patient, c->stalled, state_name[c->state], c->vitals, c->foreign, c->critical, c->updated,
                    c->heartbeats, c->errors, c->drained, c->max_stalled_age_us,
                    c->server_fin_us ? (c->server_fin_us - c->subscribed_us) / 1e6 : -1.0, c->close_code, c->close_reason, c->error_text);
            for (int k = 0; k < c->nids; k++) fprintf(f, "%s%s", k ? "," : "", c->ids[k]);
            fputc('\n', f);
        }
        fclose(f);
    }

    double measured = 0;   /* seconds in which vitals frames arrived */
    if (ws_lat.n) {
        int32_t lo = ws_lat.sec[0], hi = ws_lat.sec[0];
        for (size_t i = 0; i < ws_lat.n; i++) { if (ws_lat.sec[i] < lo) lo = ws_lat.sec[i]; if (ws_lat.sec[i] > hi) hi = ws_lat.sec[i]; }
        measured = hi - lo + 1;
    }
    printf("clients=%d connected=%ld subscribed=%ld failed=%ld stalled=%d closed_by_server(non-stalled)=%ld\n",
           nclients, connected, subscribed_ok, failed, nstall, closed_early);
    printf("ws_frames(vitals, non-stalled)=%ld (%.0f/s over the %.0f s they arrived in) alert_critical=%ld alert_updated=%ld heartbeats=%ld errors=%ld foreign_patient_frames=%ld no_sent_at_us=%ld\n",
           frames, measured > 0 ? frames / measured : 0, measured, crit, upd, hb, errs, foreign, ws_no_stamp);
    printf("mqtt_messages=%ld (backlog arrays skipped: %ld)\n", mqtt_msgs, mqtt_arrays);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("ward-load cpu: %.1f s over %.1f s wall (%.0f %% of one core, both threads)\n", cpu, (t_end - t_start) / 1e6,
           100 * cpu / ((t_end - t_start) / 1e6));
    print_windows(&ws_lat, &mqtt_lat, window_s);
    int32_t steady_from = first_sec(&ws_lat, &mqtt_lat) + warmup_s;
    samples_t ws_steady = after(&ws_lat, steady_from), mqtt_steady = after(&mqtt_lat, steady_from);
    printf("-- all samples:\n");
    print_lat("ws", &ws_lat);
    print_lat("mqtt", &mqtt_lat);
    if (ws_lat.n && mqtt_lat.n) {
        int64_t wp = pct(&ws_lat, 99), mp = pct(&mqtt_lat, 99), w5 = pct(&ws_lat, 50), m5 = pct(&mqtt_lat, 50);
        printf("ratio_p99=%.2f ratio_p50=%.2f\n", mp > 0 ? (double)wp / mp : 0, m5 > 0 ? (double)w5 / m5 : 0);
    }
    printf("-- steady state (without the first %d s of the stream):\n", warmup_s);
    print_lat("steady_ws", &ws_steady);
    print_lat("steady_mqtt", &mqtt_steady);
    if (ws_steady.n && mqtt_steady.n) {
        int64_t wp = pct(&ws_steady, 99), mp = pct(&mqtt_steady, 99), w5 = pct(&ws_steady, 50), m5 = pct(&mqtt_steady, 50);
        printf("steady_ratio_p99=%.2f steady_ratio_p50=%.2f\n", mp > 0 ? (double)wp / mp : 0, m5 > 0 ? (double)w5 / m5 : 0);
    }
    for (int i = 0; i < nclients; i++) {
        client_t *c = &clients[i];
        if (!c->stalled) continue;
        int64_t quiet = c->subscribed_us ? ((c->last_frame_us ? c->last_frame_us : t_end) - c->subscribed_us) : 0;
        char fin[160] = "no FIN reached it while stalled (a server's FIN waits behind the data the client does not read)";
        if (c->server_fin_us) snprintf(fin, sizeof fin, "FIN from the server %.1f s after it subscribed", (c->server_fin_us - c->subscribed_us) / 1e6);
        printf("stalled client %d (%s): %s; unread when last looked: %d bytes; on reading again at the end: state=%s, "
               "vitals=%ld (oldest %.1f s old), alert:critical=%ld, close_code=%d reason=\"%s\" (last frame %.1f s after subscribing)\n",
               c->idx, c->patient, fin, c->unread_bytes, c->state == ST_CLOSED ? "closed" : "open",
               c->vitals, c->max_stalled_age_us / 1e6, c->critical, c->close_code, c->close_reason, quiet / 1e6);
    }
    for (int i = 0, shown = 0; i < nclients && shown < 5; i++) {
        client_t *c = &clients[i];
        if (c->stalled || (c->state != ST_FAILED && c->state != ST_CLOSED && !c->errors)) continue;
        shown++;
        printf("problem: client %d (%s) state=%s close=%d \"%s\" error=\"%s\"\n", c->idx, c->patient, state_name[c->state],
               c->close_code, c->close_reason, c->error_text);
    }
    lws_context_destroy(ctx);
    return 0;
}
