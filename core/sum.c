/* Pairwise summation of float32 values in double.
 *
 * The values are cut into blocks of SUM_BLOCK elements. Each block is summed
 * in double over SUM_LANES independent accumulators (so the loop vectorises
 * without reassociating anything), and block sums are combined as a binary
 * counter: after every 2^k blocks the two newest partial sums of equal size
 * merge. The tree therefore depends only on n, and the error grows as
 * O(log n) instead of O(n).
 *
 * A long sum runs on OpenMP threads in chunks of SUM_CHUNK elements. A chunk
 * is a whole subtree of the serial tree (SUM_CHUNK is a power-of-two number
 * of blocks), so the threaded result is bit for bit the serial one, whatever
 * the thread count. */
#include <omp.h>

#include "internal.h"

#define SUM_LANES 8
#define SUM_BLOCK 128
#define SUM_CHUNK (SUM_BLOCK * 512)

/* Chunk sums computed by one parallel round; bounds the stack buffer. */
#define SUM_ROUND 1024

/* Sums below this many elements are not worth threads. */
#define SUM_PARALLEL_MIN (4 * SUM_CHUNK)

/* Running state of the binary counter: partial[d] holds the sum of the most
 * recent 2^k-block group still waiting for a partner, larger groups first. */
typedef struct pairwise {
    double partial[64];
    int depth;
    int64_t count;             /* groups pushed so far, in units of the group size */
} pairwise;

static void pairwise_push(pairwise *p, double sum)
{
    for (int64_t c = p->count; c & 1; c >>= 1)
        sum = p->partial[--p->depth] + sum;
    p->partial[p->depth++] = sum;
    p->count++;
}

/* Combines what is left, smallest group first; tail is the sum of a trailing
 * partial group (0 when there is none). */
static double pairwise_finish(const pairwise *p, double tail)
{
    double total = tail;
    for (int d = p->depth - 1; d >= 0; d--)
        total = p->partial[d] + total;
    return total;
}

/* Sums n <= SUM_BLOCK values step apart. Callers pass a literal step of 1
 * for the unit-stride case, which this inline function then compiles to a
 * contiguous vector loop. */
static inline double block_sum(const float *x, int64_t n, int64_t step)
{
    double lane[SUM_LANES] = {0};
    int64_t whole = n - n % SUM_LANES;
    for (int64_t i = 0; i < whole; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++)
            lane[j] += x[(i + j) * step];

    double sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                 ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (int64_t i = whole; i < n; i++)
        sum += x[i * step];
    return sum;
}

/* The serial pairwise sum. The unit-stride loop is compiled for several
 * instruction sets and picked at load time; lane order is fixed, so every
 * variant returns the same bits. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static double sum_serial(const float *x, int64_t n, int64_t step)
{
    pairwise p;
    p.depth = 0;
    p.count = 0;
    int64_t full = n / SUM_BLOCK * SUM_BLOCK;

    if (step == 1) {
        for (int64_t i = 0; i < full; i += SUM_BLOCK)
            pairwise_push(&p, block_sum(x + i, SUM_BLOCK, 1));
        return pairwise_finish(&p, block_sum(x + full, n - full, 1));
    }
    for (int64_t i = 0; i < full; i += SUM_BLOCK)
        pairwise_push(&p, block_sum(x + i * step, SUM_BLOCK, step));
    return pairwise_finish(&p, block_sum(x + full * step, n - full, step));
}

/* Threads over whole chunks in rounds of SUM_ROUND, feeding the chunk sums
 * to the counter in order. The chunk counter is the block counter seen at
 * chunk boundaries, where every carry inside a chunk has completed. */
static double sum_parallel(const float *x, int64_t n, int64_t step)
{
    pairwise p;
    p.depth = 0;
    p.count = 0;
    int64_t chunks = n / SUM_CHUNK;
    double sums[SUM_ROUND];

    for (int64_t first = 0; first < chunks; first += SUM_ROUND) {
        int64_t count = chunks - first < SUM_ROUND ? chunks - first : SUM_ROUND;
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < count; c++)
            sums[c] = sum_serial(x + (first + c) * SUM_CHUNK * step, SUM_CHUNK, step);
        for (int64_t c = 0; c < count; c++)
            pairwise_push(&p, sums[c]);
    }
    int64_t done = chunks * SUM_CHUNK;
    return pairwise_finish(&p, sum_serial(x + done * step, n - done, step));
}

double ln_sum_strided(const float *x, int64_t n, int64_t step)
{
    if (n >= SUM_PARALLEL_MIN && !omp_in_parallel() && omp_get_max_threads() > 1)
        return sum_parallel(x, n, step);
    return sum_serial(x, n, step);
}
