/* Latency samples for ward-load: exact percentiles (every sample kept, sorted) and the
 * per-window table. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "samples.h"

void samples_add(samples_t *s, int64_t x, int64_t t_us) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        s->sec = realloc(s->sec, s->cap * sizeof *s->sec);
        if (!s->v || !s->sec) { perror("ward-load: realloc"); exit(1); }
    }
    s->sec[s->n] = (int32_t)(t_us / 1000000);
    s->v[s->n++] = x;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
int64_t pct(const samples_t *s, double p) {
    if (!s->n) return -1;
    size_t k = (size_t)(p / 100.0 * (double)s->n);
    if (k >= s->n) k = s->n - 1;
    return s->v[k];
}
int32_t first_sec(samples_t *a, samples_t *b) {
    int32_t lo = INT32_MAX;
    for (size_t i = 0; i < a->n; i++) if (a->sec[i] < lo) lo = a->sec[i];
    for (size_t i = 0; i < b->n; i++) if (b->sec[i] < lo) lo = b->sec[i];
    return lo;
}

/* The samples taken from second `from` on (the steady state, after the simulator's start-up). */
samples_t after(samples_t *s, int32_t from) {
    samples_t r = {0};
    for (size_t i = 0; i < s->n; i++) if (s->sec[i] >= from) samples_add(&r, s->v[i], (int64_t)s->sec[i] * 1000000);
    return r;
}

/* p50/p99 of each window_s-second window, ws beside mqtt: where in the run the tail comes from. */
void print_windows(samples_t *a, samples_t *b, int window_s) {
    if (!a->n || !b->n) return;
    int32_t lo = first_sec(a, b), hi = lo;
    for (size_t i = 0; i < a->n; i++) if (a->sec[i] > hi) hi = a->sec[i];
    for (size_t i = 0; i < b->n; i++) if (b->sec[i] > hi) hi = b->sec[i];
    samples_t w[2] = {{0}, {0}};
    printf("window   ws_n     ws_p50   ws_p99   mqtt_n   mqtt_p50 mqtt_p99 (µs)\n");
    for (int32_t from = lo; from <= hi; from += window_s) {
        samples_t *src[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            w[k].n = 0;
            for (size_t i = 0; i < src[k]->n; i++)
                if (src[k]->sec[i] >= from && src[k]->sec[i] < from + window_s) samples_add(&w[k], src[k]->v[i], 0);
            qsort(w[k].v, w[k].n, sizeof *w[k].v, cmp64);
        }
        printf("%3d-%-3ds %-8zu %-8" PRId64 " %-8" PRId64 " %-8zu %-8" PRId64 " %-8" PRId64 "\n", from - lo, from - lo + window_s,
               w[0].n, pct(&w[0], 50), pct(&w[0], 99), w[1].n, pct(&w[1], 50), pct(&w[1], 99));
    }
    free(w[0].v); free(w[0].sec); free(w[1].v); free(w[1].sec);
}

void print_lat(const char *name, samples_t *s) {
    qsort(s->v, s->n, sizeof *s->v, cmp64);
    if (!s->n) { printf("%s_samples=0\n", name); return; }
    printf("%s_samples=%zu %s_p50_us=%" PRId64 " %s_p90_us=%" PRId64 " %s_p99_us=%" PRId64 " %s_p999_us=%" PRId64
           " %s_max_us=%" PRId64 " %s_min_us=%" PRId64 "\n",
           name, s->n, name, pct(s, 50), name, pct(s, 90), name, pct(s, 99), name, pct(s, 99.9),
           name, s->v[s->n - 1], name, s->v[0]);
}
