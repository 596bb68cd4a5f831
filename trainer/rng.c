/* trainer/rng.c — deterministic random numbers: splitmix64 (Steele et al. 2014) and
 * Box–Muller normals. The state is the caller's: no global generator exists. */
#include "trainer/trainer.h"

#include <math.h>

uint64_t trainer_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float trainer_rng_uniform(uint64_t *state)
{
    return (float)(trainer_rng_next(state) >> 40) * (1.0f / 16777216.0f); /* 24 bits */
}

float trainer_rng_normal(uint64_t *state)
{
    /* One normal per call (the pair's twin is dropped: no hidden state). */
    double u1 = ((trainer_rng_next(state) >> 11) + 1.0) * (1.0 / 9007199254740993.0); /* (0,1] */
    double u2 = (trainer_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}
