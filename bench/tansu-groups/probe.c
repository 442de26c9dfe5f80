/* probe.c — consumer-group probe against a Kafka-compatible broker (Tansu), librdkafka.
 *
 * Subcommands (all log one line per event, prefixed with a CLOCK_REALTIME ms timestamp):
 *   probe create    BROKER TOPIC PARTITIONS
 *   probe produce   BROKER TOPIC NKEYS RATE_PER_S SECONDS        (DR lines on stdout)
 *   probe consume   BROKER TOPIC GROUP NAME STRATEGY PROC_MS [k=v ...]
 *                   STRATEGY: cooperative-sticky | range | roundrobin
 *                   extra k=v are passed to rd_kafka_conf_set (e.g. group.protocol=consumer)
 *   probe committed BROKER TOPIC GROUP PARTITIONS
 *   probe rawcommit BROKER TOPIC GROUP PARTITION OFFSET   (commit from outside the group)
 *
 * Consumer log lines:
 *   <ms> NAME ASSIGN|REVOKE|LOST proto=.. parts=0,3   (the change the callback got)
 *   <ms> NAME OWN parts=..                              (the assignment after the change)
 *   <ms> NAME MSG p off key seq
 *   <ms> NAME COMMIT p next_offset err
 *   <ms> NAME ERR/LOG ...
 */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t run = 1;
static const char *me = "?";

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(const char *fmt, ...) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%lld %s ", now_ms(), me);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
    buf[n++] = '\n';
    fwrite(buf, 1, n, stdout);
    fflush(stdout);
}

static void stop(int sig) { (void)sig; run = 0; }

static void die(const char *what) { logf_("FATAL %s", what); exit(1); }

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        logf_("FATAL conf %s=%s: %s", k, v, err);
        exit(1);
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *op) {
    (void)rk; (void)op;
    logf_("ERR %s: %s", rd_kafka_err2name(err), reason);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    logf_("LOG %d %s %s", level, fac, buf);
}

static void parts_str(const rd_kafka_topic_partition_list_t *l, char *out, size_t n) {
    out[0] = 0;
    size_t off = 0;
    for (int i = 0; l && i < l->cnt && off < n - 8; i++)
        off += snprintf(out + off, n - off, "%s%d", i ? "," : "", l->elems[i].partition);
    if (!off) snprintf(out, n, "-");
}

static void log_own(rd_kafka_t *rk) {
    rd_kafka_topic_partition_list_t *a = NULL;
    char s[512];
    rd_kafka_assignment(rk, &a);
    if (a) rd_kafka_topic_partition_list_sort(a, NULL, NULL);
    parts_str(a, s, sizeof s);
    logf_("OWN parts=%s", s);
    if (a) rd_kafka_topic_partition_list_destroy(a);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *op) {
    (void)op;
    char s[512];
    const char *proto = rd_kafka_rebalance_protocol(rk);
    int coop = proto && !strcmp(proto, "COOPERATIVE");
    parts_str(parts, s, sizeof s);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        logf_("ASSIGN proto=%s parts=%s", proto ? proto : "?", s);
        rd_kafka_error_t *e = NULL;
        if (coop) e = rd_kafka_incremental_assign(rk, parts);
        else rd_kafka_assign(rk, parts);
        if (e) { logf_("ERR incremental_assign %s", rd_kafka_error_string(e)); rd_kafka_error_destroy(e); }
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        logf_("%s proto=%s parts=%s", rd_kafka_assignment_lost(rk) ? "LOST" : "REVOKE",
              proto ? proto : "?", s);
        rd_kafka_error_t *e = NULL;
        if (coop) e = rd_kafka_incremental_unassign(rk, parts);
        else rd_kafka_assign(rk, NULL);
        if (e) { logf_("ERR incremental_unassign %s", rd_kafka_error_string(e)); rd_kafka_error_destroy(e); }
    } else {
        logf_("ERR rebalance %s", rd_kafka_err2name(err));
        rd_kafka_assign(rk, NULL);
    }
    log_own(rk);
}

static rd_kafka_conf_t *base_conf(const char *broker, const char *client) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", broker);
    set(c, "client.id", client);
    if (getenv("PROBE_DEBUG")) set(c, "debug", getenv("PROBE_DEBUG"));
    rd_kafka_conf_set_error_cb(c, error_cb);
    rd_kafka_conf_set_log_cb(c, log_cb);
    return c;
}

static int cmd_create(int argc, char **argv) {
    if (argc < 5) die("usage: create BROKER TOPIC PARTITIONS");
    char err[512];
    me = "create";
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, base_conf(argv[2], "probe-admin"), err, sizeof err);
    if (!rk) die(err);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(argv[3], atoi(argv[4]), 1, err, sizeof err);
    if (!nt) die(err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(o, 10000, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    int rc = 1;
    if (!ev) logf_("CREATE timeout");
    else if (rd_kafka_event_error(ev)) logf_("CREATE error %s", rd_kafka_event_error_string(ev));
    else {
        size_t n;
        const rd_kafka_topic_result_t **r =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            logf_("CREATE %s %s %s", rd_kafka_topic_result_name(r[i]),
                  rd_kafka_err2name(rd_kafka_topic_result_error(r[i])),
                  rd_kafka_topic_result_error_string(r[i]) ? rd_kafka_topic_result_error_string(r[i]) : "");
            rc = rd_kafka_topic_result_error(r[i]) ? 1 : 0;
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
    /* metadata: how many partitions does the broker report */
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, argv[3], NULL);
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < md->topic_cnt; i++)
            logf_("METADATA %s partitions=%d err=%s", md->topics[i].topic, md->topics[i].partition_cnt,
                  rd_kafka_err2name(md->topics[i].err));
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op) {
    (void)rk; (void)op;
    logf_("DR %d %lld %.*s %s", m->partition, (long long)m->offset, (int)m->len, (const char *)m->payload,
          rd_kafka_err2name(m->err));
}

static int cmd_produce(int argc, char **argv) {
    if (argc < 7) die("usage: produce BROKER TOPIC NKEYS RATE SECONDS");
    char err[512];
    me = "producer";
    int nkeys = atoi(argv[4]), rate = atoi(argv[5]), secs = atoi(argv[6]);
    rd_kafka_conf_t *c = base_conf(argv[2], "probe-producer");
    set(c, "acks", "all");
    set(c, "enable.idempotence", "true");
    set(c, "linger.ms", "5");
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) die(err);
    long *seq = calloc(nkeys, sizeof *seq);
    long long start = now_ms(), sent = 0;
    while (run && (secs <= 0 || now_ms() - start < secs * 1000LL)) {
        long long due = (now_ms() - start) * rate / 1000;
        while (sent < due && run) {
            int k = sent % nkeys;
            char key[32], val[64];
            snprintf(key, sizeof key, "patient-%02d", k);
            snprintf(val, sizeof val, "%s %ld", key, seq[k]);
            rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[3]),
                RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(val, strlen(val)),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e) { logf_("ERR produce %s", rd_kafka_err2name(e)); rd_kafka_poll(rk, 100); continue; }
            seq[k]++;
            sent++;
        }
        rd_kafka_poll(rk, 20);
    }
    rd_kafka_flush(rk, 30000);
    logf_("PRODUCED %lld outq=%d", sent, rd_kafka_outq_len(rk));
    rd_kafka_destroy(rk);
    return 0;
}

static int cmd_consume(int argc, char **argv) {
    if (argc < 8) die("usage: consume BROKER TOPIC GROUP NAME STRATEGY PROC_MS [k=v...]");
    char err[512];
    me = argv[5];
    int proc_ms = atoi(argv[7]);
    rd_kafka_conf_t *c = base_conf(argv[2], argv[5]);
    set(c, "group.id", argv[4]);
    set(c, "enable.auto.commit", "false");
    set(c, "enable.auto.offset.store", "false");
    set(c, "auto.offset.reset", "earliest");
    int classic = 1;
    for (int i = 8; i < argc; i++)
        if (!strcmp(argv[i], "group.protocol=consumer")) classic = 0;
    if (classic) {
        set(c, "partition.assignment.strategy", argv[6]);
        set(c, "session.timeout.ms", getenv("SESSION_MS") ? getenv("SESSION_MS") : "6000");
        set(c, "heartbeat.interval.ms", getenv("HEARTBEAT_MS") ? getenv("HEARTBEAT_MS") : "1000");
    }
    for (int i = 8; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) die("extra conf must be k=v");
        *eq = 0;
        set(c, argv[i], eq + 1);
        *eq = '=';
    }
    rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) die(err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, argv[3], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) die(rd_kafka_err2str(e));
    logf_("START strategy=%s pid=%d", argv[6], (int)getpid());
    while (run) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                logf_("ERR consume %s %s", rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        logf_("MSG %d %lld %.*s", m->partition, (long long)m->offset, (int)m->len, (const char *)m->payload);
        if (proc_ms) usleep(proc_ms * 1000);     /* "processing" (the DB transaction) */
        rd_kafka_topic_partition_list_t *o = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(o, argv[3], m->partition)->offset = m->offset + 1;
        e = rd_kafka_commit(rk, o, 0 /* synchronous */);
        rd_kafka_resp_err_t pe = o->elems[0].err;
        logf_("COMMIT %d %lld %s", m->partition, (long long)m->offset + 1, rd_kafka_err2name(e ? e : pe));
        rd_kafka_topic_partition_list_destroy(o);
        rd_kafka_message_destroy(m);
    }
    logf_("CLOSING");
    rd_kafka_consumer_close(rk);
    logf_("CLOSED");
    rd_kafka_destroy(rk);
    return 0;
}

/* rawcommit: commit an offset for GROUP from outside the group (generation -1, no member id),
 * as a stale or foreign client would; a Kafka broker rejects this while the group has members. */
static int cmd_rawcommit(int argc, char **argv) {
    if (argc < 7) die("usage: rawcommit BROKER TOPIC GROUP PARTITION OFFSET");
    char err[512];
    me = "rawcommit";
    rd_kafka_conf_t *c = base_conf(argv[2], "probe-rawcommit");
    set(c, "group.id", argv[4]);
    set(c, "enable.auto.commit", "false");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) die(err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, argv[3], atoi(argv[5]))->offset = atoll(argv[6]);
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, l, 0);
    logf_("RAWCOMMIT %s %s offset=%s -> %s / %s", argv[4], argv[5], argv[6], rd_kafka_err2name(e),
          rd_kafka_err2name(l->elems[0].err));
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return e ? 1 : 0;
}

static int cmd_committed(int argc, char **argv) {
    if (argc < 6) die("usage: committed BROKER TOPIC GROUP PARTITIONS");
    char err[512];
    me = "committed";
    rd_kafka_conf_t *c = base_conf(argv[2], "probe-committed");
    set(c, "group.id", argv[4]);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) die(err);
    int n = atoi(argv[5]);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) rd_kafka_topic_partition_list_add(l, argv[3], p);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 10000);
    logf_("COMMITTED-CALL %s", rd_kafka_err2name(e));
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo = -1, hi = -1;
        rd_kafka_query_watermark_offsets(rk, argv[3], l->elems[i].partition, &lo, &hi, 5000);
        logf_("COMMITTED %d %lld %s low=%lld high=%lld", l->elems[i].partition, (long long)l->elems[i].offset,
              rd_kafka_err2name(l->elems[i].err), (long long)lo, (long long)hi);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) die("usage: probe create|produce|consume|committed ...");
    if (!strcmp(argv[1], "create")) return cmd_create(argc, argv);
    if (!strcmp(argv[1], "produce")) return cmd_produce(argc, argv);
    if (!strcmp(argv[1], "consume")) return cmd_consume(argc, argv);
    if (!strcmp(argv[1], "committed")) return cmd_committed(argc, argv);
    if (!strcmp(argv[1], "rawcommit")) return cmd_rawcommit(argc, argv);
    die("unknown subcommand");
    return 1;
}
