#ifndef WARD_LOAD_SAMPLES_H
#define WARD_LOAD_SAMPLES_H
#include <stddef.h>
#include <stdint.h>

/* Latency samples (µs) with the second each was taken (epoch s), for the per-window table. */
typedef struct { int64_t *v; int32_t *sec; size_t n, cap; } samples_t;

void samples_add(samples_t *s, int64_t x, int64_t t_us);
/* Nearest-rank percentile of sorted samples; -1 when empty. */
int64_t pct(const samples_t *s, double p);
/* The earliest second either set has a sample in. */
int32_t first_sec(samples_t *a, samples_t *b);
/* The samples taken from second `from` on (the steady state, after the simulator's start-up). */
samples_t after(samples_t *s, int32_t from);
/* p50/p99 of each window_s-second window, a beside b. */
void print_windows(samples_t *a, samples_t *b, int window_s);
/* Sorts s, then prints its percentiles as NAME_pXX_us=… */
void print_lat(const char *name, samples_t *s);
#endif
