/* JSON payloads, formatted into the caller's fixed buffer (no allocation per message). */
#include <stdio.h>
#include <string.h>
#include "sim.h"

#define APPEND(...) do { \
        int n_ = snprintf(buf + used, len - used, __VA_ARGS__); \
        if (n_ < 0 || (size_t)n_ >= len - used) return -1; \
        used += (size_t)n_; \
    } while (0)

int payload_reading(char *buf, size_t len, uint64_t seq, int64_t ts_ms, const char *patient_id,
                    const vitals_t *v, bool oximeter_only, bool with_bp, int64_t tx_us, enum bad_kind bad) {
    size_t used = 0;
    if (bad == BAD_FUTURE) ts_ms += 3600 * 1000;                     /* an hour ahead: a clock gone wrong */
    APPEND("{\"v\":1,\"seq\":%llu,\"ts\":%lld,\"patient_id\":\"%s\"", (unsigned long long)seq, (long long)ts_ms,
           patient_id);
    if (bad == BAD_WRONG_TYPE) {
        APPEND(",\"hr\":\"%d\"", (int)v->value[V_HR]);
    } else if (bad == BAD_IMPOSSIBLE) {
        APPEND(",\"spo2\":%d", 104 + (int)(seq % 20));
    } else {
        if (v->present[V_HR]) { APPEND(",\"hr\":%d", (int)(v->value[V_HR] + 0.5)); }
        if (v->present[V_SPO2]) { APPEND(",\"spo2\":%d", (int)(v->value[V_SPO2] + 0.5)); }
    }
    if (!oximeter_only && bad != BAD_IMPOSSIBLE) {
        APPEND(",\"temp\":%.1f,\"rr\":%d", v->value[V_TEMP], (int)(v->value[V_RR] + 0.5));
        if (with_bp) { APPEND(",\"sbp\":%d,\"dbp\":%d", (int)(v->value[V_SBP] + 0.5), (int)(v->value[V_DBP] + 0.5)); }
        APPEND(",\"o2\":%s,\"acvpu\":\"%c\"", v->o2 ? "true" : "false", v->acvpu);
    }
    if (tx_us > 0) { APPEND(",\"tx_us\":%lld", (long long)tx_us); }
    if (bad == BAD_MALFORMED) return (int)(used > 10 ? used - 3 : used);   /* cut short: not JSON */
    APPEND("}");
    return (int)used;
}
