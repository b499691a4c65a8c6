/* The seeded random generator (xoshiro256**, seeded through splitmix64).
 *
 * One process-wide stream, as in Torch7 and PyTorch's default generator:
 * ln_manual_seed(n) makes every later draw identical run to run. Streams are
 * not PyTorch's: fixtures that must match PyTorch store their values. */
#ifndef LUNET_RANDOM_H
#define LUNET_RANDOM_H

#include <stdint.h>

#include "tensor.h"

void ln_manual_seed(uint64_t seed);

/* Next 64 random bits, and a uniform float in [0, 1). */
uint64_t ln_random_u64(void);
float ln_random_uniform(void);

/* [OUT] fills t with U(low, high), or N(mean, std) by Box-Muller. */
void ln_uniform(ln_tensor *t, float low, float high);
void ln_normal(ln_tensor *t, float mean, float std);

static inline void ln_rand(ln_tensor *t) { ln_uniform(t, 0.0f, 1.0f); }
static inline void ln_randn(ln_tensor *t) { ln_normal(t, 0.0f, 1.0f); }

/* [OUT] fills t with 1/(1-p) with probability 1-p and 0 otherwise (an
 * inverted-dropout mask). */
void ln_bernoulli_mask(ln_tensor *t, float p);

#endif
