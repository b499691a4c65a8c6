#include "random.h"

#include <math.h>

#include "internal.h"

static uint64_t state[4] = {0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull,
                            0x94d049bb133111ebull, 0x2545f4914f6cdd1dull};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void ln_manual_seed(uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        state[i] = splitmix64(&seed);
}

uint64_t ln_random_u64(void)
{
    uint64_t result = rotl(state[1] * 5, 7) * 9;
    uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
}

float ln_random_uniform(void)
{
    /* 24 random bits fill a float's mantissa exactly, so the result is a
     * multiple of 2^-24 in [0, 1). */
    return (float)(ln_random_u64() >> 40) * 0x1.0p-24f;
}

/* Random fills walk the tensor in row-major order on one thread, so a seed
 * gives the same values whatever the thread count or the tensor's strides. */
typedef float (*draw_fn)(void *context);

static void fill_row(int64_t n, float **ptr, const int64_t *step, void *context)
{
    void **pair = context;
    draw_fn draw = (draw_fn)pair[0];
    float *dst = ptr[0];
    for (int64_t i = 0; i < n; i++)
        dst[i * step[0]] = draw(pair[1]);
}

static void fill(ln_tensor *t, draw_fn draw, void *context)
{
    ln_operand operand = {ln_data(t), {0}};
    for (int d = 0; d < t->ndim; d++)
        operand.stride[d] = t->stride[d];
    void *pair[2] = {(void *)draw, context};
    ln_apply(1, &operand, t->ndim, t->shape, fill_row, pair, false);
}

static float draw_uniform(void *context)
{
    const float *range = context;
    return range[0] + (range[1] - range[0]) * ln_random_uniform();
}

void ln_uniform(ln_tensor *t, float low, float high)
{
    float range[2] = {low, high};
    fill(t, draw_uniform, range);
}

typedef struct normal_state {
    float mean, std;
    int has_spare;
    double spare;
} normal_state;

static float draw_normal(void *context)
{
    normal_state *s = context;
    if (s->has_spare) {
        s->has_spare = 0;
        return (float)(s->mean + s->std * s->spare);
    }
    /* Box-Muller on (0, 1] so that log never sees 0. */
    double u1 = ((ln_random_u64() >> 11) + 1) * 0x1.0p-53;
    double u2 = (ln_random_u64() >> 11) * 0x1.0p-53;
    double radius = sqrt(-2.0 * log(u1));
    s->spare = radius * sin(2.0 * M_PI * u2);
    s->has_spare = 1;
    return (float)(s->mean + s->std * radius * cos(2.0 * M_PI * u2));
}

void ln_normal(ln_tensor *t, float mean, float std)
{
    normal_state s = {mean, std, 0, 0.0};
    fill(t, draw_normal, &s);
}

static float draw_mask(void *context)
{
    float p = *(const float *)context;
    return ln_random_uniform() < p ? 0.0f : 1.0f / (1.0f - p);
}

void ln_bernoulli_mask(ln_tensor *t, float p)
{
    fill(t, draw_mask, &p);
}
