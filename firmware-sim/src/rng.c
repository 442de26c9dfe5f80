/* xorshift64*: small, fast and reproducible from a seed. */
#include <math.h>
#include "sim.h"

void rng_seed(rng_t *r, uint64_t seed) { r->s = seed ? seed * 0x9E3779B97F4A7C15ULL : 0x2545F4914F6CDD1DULL; }

uint64_t rng_next(rng_t *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

double rng_uniform(rng_t *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

double rng_gauss(rng_t *r) {
    double u = rng_uniform(r), v = rng_uniform(r);
    if (u < 1e-12) u = 1e-12;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}
