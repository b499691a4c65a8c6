/* Softmax, log-softmax, logsumexp and the softmax gradients.
 *
 * Every function works on contiguous data read as (outer, n, inner), where n
 * is the size of dim; non-contiguous inputs are copied first, and a
 * non-contiguous output is written through a contiguous temporary. With
 * inner == 1 each slice is a contiguous row: one pass finds the max and the
 * sum of exp(x - max) in double together, rescaling the sum whenever the max
 * grows, and a second pass writes the result. With inner > 1
 * the kernels walk a block of up to COLUMN_WIDTH neighbouring slices at
 * once, so the innermost loop runs unit-stride across slices and vectorises.
 *
 * Threads share rows or column blocks. When rows are fewer than threads,
 * each row is cut into fixed chunks of ROW_CHUNK elements. The max and sum
 * of every chunk are merged in chunk order, so a result never depends on the
 * thread count. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "avx512.h"
#include "internal.h"
#include "parallel.h"
#include "reduce.h"
#include "softmax.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Independent running maxima in max_ignoring_nan. */
#define MAX_LANES 16

/* Elements whose max is found before their exponentials are summed; 16 KB
 * stays in L1 between the two loops. */
#define EXP_BLOCK 4096

/* Elements of short rows shifted and exponentiated together; each of the
 * three 4 KB buffers of softmax_short_rows stays in L1. */
#define SHORT_BLOCK 1024

/* Elements ahead of the current one that the streaming loop prefetches. */
#define PREFETCH_AHEAD 1024

/* Double accumulators in exp_sum: two AVX-512 registers. */
#define SUM_LANES 16

/* Elements per chunk of a long row, the unit of work of one thread. */
#define ROW_CHUNK (16 * EXP_BLOCK)

/* Outputs of at least this many elements (16 MiB) are written with
 * non-temporal stores, because they would not stay in the caches anyway. */
#define STREAM_ELEMENTS (4 << 20)

/* Rows shorter than this go through softmax_short_rows. */
#define SHORT_ROW 128

/* Chunk sums kept by one parallel round; bounds the stack buffer. */
#define ROW_ROUND 1024

/* Neighbouring slices handled together when dim is not the innermost. */
#define COLUMN_WIDTH 64
#define COLUMN_MIN_WIDTH 8

typedef enum softmax_kind { SOFTMAX, LOG_SOFTMAX, LOGSUMEXP } softmax_kind;

/* exp for float32 in plain arithmetic, so loops calling it vectorise.
 *
 * exp(x) = 2^k * exp(r) with k = round(x / ln 2) and |r| <= ln(2) / 2. r is
 * computed as x - k * ln2_hi - k * ln2_lo with ln2_hi short enough (9
 * significant bits) that k * ln2_hi and the first subtraction are exact
 * (Cody and Waite's reduction). exp(r) is its degree-7 Taylor polynomial,
 * whose truncation error is below 6e-9 on that interval. 2^k is applied as
 * two factors 2^(k/2) so that results down to the subnormal range round once.
 * A comparison with exp() in double over every float32 input found at most
 * 1.03 ulp of error, exp(-inf) = 0, exp(+inf) = inf, exp(NaN) = NaN, and 0
 * below about -103.97, where the true value rounds to 0. */
static ALWAYS_INLINE float bits_to_float(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static ALWAYS_INLINE uint32_t float_to_bits(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static ALWAYS_INLINE float fast_expf(float x)
{
    const float lowest = -104.0f;                  /* exp rounds to 0 below this */
    const float highest = 88.72283935546875f;      /* largest x with a finite exp */
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f;
    const float ln2_lo = -2.12194440e-4f;
    const float round_bias = 12582912.0f;          /* 1.5 * 2^23: adding it rounds to an integer */

    float clamped = x > lowest ? x : lowest;       /* NaN becomes lowest here, see the end */
    clamped = clamped < highest ? clamped : highest;

    float biased = clamped * log2e + round_bias;
    float k = biased - round_bias;
    int32_t k_int = (int32_t)(float_to_bits(biased) - float_to_bits(round_bias));
    float r = (clamped - k * ln2_hi) - k * ln2_lo;

    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    float y = 1.0f + (r + r * r * p);

    int32_t k_low = k_int >> 1;
    int32_t k_high = k_int - k_low;
    y = y * bits_to_float((uint32_t)(k_low + 127) << 23);
    y = y * bits_to_float((uint32_t)(k_high + 127) << 23);
    y = x > highest ? INFINITY : y;
    return x != x ? x : y;
}

/* Row kernels -------------------------------------------------------------- */

/* Max of n values ignoring NaN: -inf when there is no other value. A NaN
 * still turns its slice to NaN, through exp(NaN - max) in the sum. */
LN_CLONES static float max_ignoring_nan(const float *x, int64_t n)
{
    float lane[MAX_LANES];
    for (int j = 0; j < MAX_LANES; j++)
        lane[j] = -INFINITY;

    int64_t whole = n - n % MAX_LANES;
    for (int64_t i = 0; i < whole; i += MAX_LANES) {
        /* Unrolled, this loop would become scalar branches. */
#pragma GCC unroll 1
        for (int j = 0; j < MAX_LANES; j++)
            lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    }

    float max = -INFINITY;
    for (int j = 0; j < MAX_LANES; j++)
        max = lane[j] > max ? lane[j] : max;
    for (int64_t i = whole; i < n; i++)
        max = x[i] > max ? x[i] : max;
    return max;
}

LN_CLONES static void exp_shifted(float *e, const float *x, int64_t n, float shift)
{
    for (int64_t i = 0; i < n; i++)
        e[i] = fast_expf(x[i] - shift);
}

/* Long rows spend most of their time in exp, so they get explicit AVX-512
 * loops where the processor has it. */

__attribute__((target("avx512f"))) static __m512d add_halves(__m512d sum, __m512 e)
{
    __m512d low = _mm512_cvtps_pd(_mm512_castps512_ps256(e));
    __m512d high = _mm512_cvtps_pd(
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1)));
    return _mm512_add_pd(sum, _mm512_add_pd(low, high));
}

/* With store set, the exponentials are also written there. */
__attribute__((target("avx512f"))) static double exp_sum_avx512(float *store, const float *x,
                                                                 int64_t n, float shift)
{
    __m512 shift16 = _mm512_set1_ps(shift);
    __m512d even = _mm512_setzero_pd(), odd = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        /* total_of reads the next block after this one, so fetch it while
         * the exps run. */
        _mm_prefetch((const char *)(x + i + EXP_BLOCK), _MM_HINT_T0);
        _mm_prefetch((const char *)(x + i + EXP_BLOCK + 16), _MM_HINT_T0);
        __m512 e0 = ln_exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), shift16));
        __m512 e1 = ln_exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), shift16));
        if (store) {
            _mm512_storeu_ps(store + i, e0);
            _mm512_storeu_ps(store + i + 16, e1);
        }
        even = add_halves(even, e0);
        odd = add_halves(odd, e1);
    }
    for (; i < n; i += 16) {
        __mmask16 mask = ln_first_lanes(n - i);
        __m512 e = ln_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + i), shift16));
        e = _mm512_maskz_mov_ps(mask, e);
        if (store)
            _mm512_mask_storeu_ps(store + i, mask, e);
        even = add_halves(even, e);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(even, odd));
}

__attribute__((target("avx512f"))) static __m512 exp_scaled16(const float *x, __mmask16 mask,
                                                               __m512 shift, __m512 scale)
{
    __m512 e = ln_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x), shift));
    return _mm512_mul_ps(e, scale);
}

/* With stream set, whole 64-byte lines of out are written with
 * non-temporal stores, which skip reading the line first and keep a large
 * output from evicting x between the two passes. */
__attribute__((target("avx512f"))) static void exp_scaled_avx512(float *out, const float *x,
                                                                 int64_t n, float shift,
                                                                 float scale, bool stream)
{
    __m512 shift16 = _mm512_set1_ps(shift), scale16 = _mm512_set1_ps(scale);
    int64_t i = 0;
    if (stream) {
        int64_t head = (int64_t)(((64 - ((uintptr_t)out & 63)) & 63) / sizeof(float));
        head = head < n ? head : n;
        if (head > 0)
            _mm512_mask_storeu_ps(out, ln_first_lanes(head),
                                  exp_scaled16(x, ln_first_lanes(head), shift16, scale16));
        for (i = head; i + 16 <= n; i += 16) {
            _mm_prefetch((const char *)(x + i + PREFETCH_AHEAD), _MM_HINT_T0);
            _mm512_stream_ps(out + i, exp_scaled16(x + i, 0xFFFF, shift16, scale16));
        }
        /* Orders the streamed lines before the stores of later code and
         * the barrier at the end of the parallel loop. */
        _mm_sfence();
    }
    for (; i < n; i += 16) {
        __mmask16 mask = ln_first_lanes(n - i);
        _mm512_mask_storeu_ps(out + i, mask, exp_scaled16(x + i, mask, shift16, scale16));
    }
}

/* Sum of exp(x - shift) over n values, in SUM_LANES double accumulators
 * that the compiler keeps in vector registers. With store set, the
 * exponentials are also written there. */
LN_CLONES static double exp_sum(float *store, const float *x, int64_t n, float shift)
{
    if (ln_cpu_has_avx512())
        return exp_sum_avx512(store, x, n, shift);

    double lane[SUM_LANES] = {0};
    int64_t whole = n - n % SUM_LANES;
    for (int64_t i = 0; i < whole; i += SUM_LANES) {
        for (int j = 0; j < SUM_LANES; j++) {
            float e = fast_expf(x[i + j] - shift);
            if (store)
                store[i + j] = e;
            lane[j] += e;
        }
    }

    for (int width = SUM_LANES / 2; width > 0; width /= 2)
        for (int j = 0; j < width; j++)
            lane[j] += lane[j + width];
    double sum = lane[0];
    for (int64_t i = whole; i < n; i++) {
        float e = fast_expf(x[i] - shift);
        if (store)
            store[i] = e;
        sum += e;
    }
    return sum;
}

LN_CLONES static void scale_row(float *out, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        out[i] *= scale;
}

/* out = (x - max) - log_sum. x - max is exact in double, and the result
 * rounds once, so log-softmax of logits near 1e36 keeps log_sum. */
LN_CLONES static void subtract_row(float *out, const float *x, int64_t n, float max,
                                   double log_sum)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)(((double)x[i] - max) - log_sum);
}

/* logsumexp shifts by a finite max only: with max = -inf (all -inf) the sum
 * is 0 and the result -inf, and with max = +inf it is +inf, as in PyTorch. */
static float logsumexp_shift(float max)
{
    return isinf(max) ? 0.0f : max;
}

LN_CLONES static void exp_scaled(float *out, const float *x, int64_t n, float shift, float scale,
                                 bool stream)
{
    if (ln_cpu_has_avx512()) {
        exp_scaled_avx512(out, x, n, shift, scale, stream);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = fast_expf(x[i] - shift) * scale;
}

/* The max of part of a row (ignoring NaN, -inf when empty) and the sum of
 * exp(x - logsumexp_shift(max)) over that part, so long rows need one pass
 * to find both. */
typedef struct exp_total {
    float max;
    double sum;
} exp_total;

static const exp_total EMPTY_TOTAL = {-INFINITY, 0.0};

/* Moves total to a larger max, rescaling its sum. A zero sum stays zero,
 * which also keeps exp(0 - max) from overflowing for a total whose values
 * were all -inf. */
static void raise_max(exp_total *total, float max)
{
    if (total->sum != 0.0)
        total->sum *= exp((double)logsumexp_shift(total->max) - logsumexp_shift(max));
    total->max = max;
}

static exp_total merge_totals(exp_total a, exp_total b)
{
    float max = a.max > b.max ? a.max : b.max;
    raise_max(&a, max);
    raise_max(&b, max);
    return (exp_total){max, a.sum + b.sum};
}

/* The exp_total of n values, block by block: the max of each block is found
 * first, so the exponentials never overflow and x is read from memory once. */
static exp_total total_of(const float *x, int64_t n)
{
    exp_total total = EMPTY_TOTAL;
    for (int64_t i = 0; i < n; i += EXP_BLOCK) {
        int64_t len = n - i < EXP_BLOCK ? n - i : EXP_BLOCK;
        float max = max_ignoring_nan(x + i, len);
        if (max > total.max)
            raise_max(&total, max);
        total.sum += exp_sum(NULL, x + i, len, logsumexp_shift(total.max));
    }
    return total;
}

/* Writes softmax or log-softmax of one chunk, given its row's total. */
static void finish_chunk(float *out, const float *x, int64_t n, exp_total row,
                         softmax_kind kind, bool stream)
{
    /* With a +inf in the row, x - max is NaN there and the whole row is NaN,
     * as in PyTorch. */
    double sum = row.max == INFINITY ? NAN : row.sum;
    if (kind == SOFTMAX)
        exp_scaled(out, x, n, row.max, (float)(1.0 / sum), stream);
    else
        subtract_row(out, x, n, row.max, log(sum));
}

static int64_t chunk_length(int64_t n, int64_t start)
{
    return n - start < ROW_CHUNK ? n - start : ROW_CHUNK;
}

/* One row of n >= 1 elements; returns logsumexp for LOGSUMEXP and writes out
 * otherwise. Two passes over x: the totals of ROW_CHUNK-element chunks,
 * merged in chunk order, then the output. With parallel set, threads share
 * the chunks, and the result is the same bits either way. */
static float softmax_row(float *out, const float *x, int64_t n, softmax_kind kind, bool parallel,
                         bool stream)
{
    /* A row that fits in one block stays in L1, so storing the exponentials
     * and scaling them costs less than computing them twice. */
    if (kind == SOFTMAX && n <= EXP_BLOCK) {
        float max = max_ignoring_nan(x, n);
        scale_row(out, n, (float)(1.0 / exp_sum(out, x, n, max)));
        return 0.0f;
    }

    int64_t chunks = (n + ROW_CHUNK - 1) / ROW_CHUNK;
    parallel = parallel && chunks > 1;

    exp_total row = EMPTY_TOTAL;
    if (!parallel) {
        for (int64_t start = 0; start < n; start += ROW_CHUNK)
            row = merge_totals(row, total_of(x + start, chunk_length(n, start)));
    }
    exp_total partial[ROW_ROUND];
    for (int64_t first = 0; parallel && first < chunks; first += ROW_ROUND) {
        int64_t count = chunks - first < ROW_ROUND ? chunks - first : ROW_ROUND;
#pragma omp parallel for
        for (int64_t c = 0; c < count; c++) {
            int64_t start = (first + c) * ROW_CHUNK;
            partial[c] = total_of(x + start, chunk_length(n, start));
        }
        for (int64_t c = 0; c < count; c++)
            row = merge_totals(row, partial[c]);
    }

    if (kind == LOGSUMEXP)
        return (float)(log(row.sum) + logsumexp_shift(row.max));
    if (!parallel) {
        finish_chunk(out, x, n, row, kind, stream);
        return 0.0f;
    }
#pragma omp parallel for
    for (int64_t c = 0; c < chunks; c++) {
        int64_t start = c * ROW_CHUNK;
        finish_chunk(out + start, x + start, chunk_length(n, start), row, kind, stream);
    }
    return 0.0f;
}

/* Rows of fewer than SHORT_ROW elements, many at a time: each row is shifted
 * by its max into one buffer, so exp runs vectorised across rows instead of
 * in the scalar remainder of every short row. For LOGSUMEXP, out receives
 * one value per row. */
static void softmax_short_rows(float *out, const float *x, int64_t rows, int64_t n,
                               softmax_kind kind)
{
    float shifted[SHORT_BLOCK], buffer[SHORT_BLOCK], max[SHORT_BLOCK];
    int64_t group = SHORT_BLOCK / n;

    for (int64_t first = 0; first < rows; first += group) {
        int64_t count = rows - first < group ? rows - first : group;
        const float *xg = x + first * n;
        float *e = kind == SOFTMAX ? out + first * n : buffer;

        for (int64_t r = 0; r < count; r++) {
            float row_max = -INFINITY;
            for (int64_t i = 0; i < n; i++)
                row_max = xg[r * n + i] > row_max ? xg[r * n + i] : row_max;
            max[r] = row_max;
            float shift = kind == LOGSUMEXP ? logsumexp_shift(row_max) : row_max;
            for (int64_t i = 0; i < n; i++)
                shifted[r * n + i] = xg[r * n + i] - shift;
            if (kind == LOGSUMEXP)
                max[r] = shift;
        }
        exp_shifted(e, shifted, count * n, 0.0f);

        for (int64_t r = 0; r < count; r++) {
            double sum = 0.0;
            for (int64_t i = 0; i < n; i++)
                sum += e[r * n + i];
            if (kind == LOGSUMEXP) {
                out[first + r] = (float)(log(sum) + max[r]);
            } else if (kind == SOFTMAX) {
                float scale = (float)(1.0 / sum);
                for (int64_t i = 0; i < n; i++)
                    e[r * n + i] *= scale;
            } else {
                subtract_row(out + (first + r) * n, xg + r * n, n, max[r], log(sum));
            }
        }
    }
}

/* Column kernels: width neighbouring slices, n elements inner apart -------- */

static ALWAYS_INLINE void column_softmax(float *out, float *result, const float *x, int64_t n,
                                         int64_t inner, int64_t width, softmax_kind kind)
{
    float max[COLUMN_WIDTH], shift[COLUMN_WIDTH];
    double sum[COLUMN_WIDTH];

    for (int64_t j = 0; j < width; j++) {
        max[j] = -INFINITY;
        sum[j] = 0.0;
    }
    for (int64_t k = 0; k < n; k++) {
        const float *row = x + k * inner;
        for (int64_t j = 0; j < width; j++)
            max[j] = row[j] > max[j] ? row[j] : max[j];
    }
    for (int64_t j = 0; j < width; j++)
        shift[j] = kind == LOGSUMEXP ? logsumexp_shift(max[j]) : max[j];

    for (int64_t k = 0; k < n; k++) {
        const float *row = x + k * inner;
        float *out_row = out + k * inner;
        for (int64_t j = 0; j < width; j++) {
            float e = fast_expf(row[j] - shift[j]);
            if (kind == SOFTMAX)
                out_row[j] = e;
            sum[j] += e;
        }
    }

    if (kind == LOGSUMEXP) {
        for (int64_t j = 0; j < width; j++)
            result[j] = (float)(log(sum[j]) + shift[j]);
        return;
    }
    if (kind == SOFTMAX) {
        float scale[COLUMN_WIDTH];
        for (int64_t j = 0; j < width; j++)
            scale[j] = (float)(1.0 / sum[j]);
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < width; j++)
                out[k * inner + j] *= scale[j];
        return;
    }
    double log_sum[COLUMN_WIDTH];
    for (int64_t j = 0; j < width; j++)
        log_sum[j] = log(sum[j]);
    for (int64_t k = 0; k < n; k++)
        for (int64_t j = 0; j < width; j++)
            out[k * inner + j] = (float)(((double)x[k * inner + j] - max[j]) - log_sum[j]);
}

LN_CLONES static void column_softmax_exp(float *out, const float *x, int64_t n, int64_t inner,
                                         int64_t width)
{
    column_softmax(out, NULL, x, n, inner, width, SOFTMAX);
}

LN_CLONES static void column_log_softmax(float *out, const float *x, int64_t n, int64_t inner,
                                         int64_t width)
{
    column_softmax(out, NULL, x, n, inner, width, LOG_SOFTMAX);
}

LN_CLONES static void column_logsumexp(float *result, const float *x, int64_t n,
                                       int64_t inner, int64_t width)
{
    column_softmax(NULL, result, x, n, inner, width, LOGSUMEXP);
}

/* Gradient kernels --------------------------------------------------------- */

LN_CLONES static double dot_row(const float *a, const float *b, int64_t n)
{
    double lane[8] = {0};
    int64_t whole = n - n % 8;
    for (int64_t i = 0; i < whole; i += 8)
        for (int j = 0; j < 8; j++)
            lane[j] += (double)a[i + j] * b[i + j];

    double sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                 ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (int64_t i = whole; i < n; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

/* softmax: gx = y * (gy - sum(gy * y)). */
LN_CLONES static void softmax_grad_row(float *gx, const float *gy, const float *y, int64_t n)
{
    float dot = (float)dot_row(gy, y, n);
    for (int64_t i = 0; i < n; i++)
        gx[i] = y[i] * (gy[i] - dot);
}

/* log-softmax: gx = gy - exp(y) * sum(gy). */
LN_CLONES static void log_softmax_grad_row(float *gx, const float *gy, const float *y, int64_t n)
{
    float sum = (float)ln_sum_strided(gy, n, 1);
    for (int64_t i = 0; i < n; i++)
        gx[i] = gy[i] - fast_expf(y[i]) * sum;
}

static ALWAYS_INLINE void column_grad(float *gx, const float *gy, const float *y, int64_t n,
                                      int64_t inner, int64_t width, bool log_softmax)
{
    double sum[COLUMN_WIDTH];
    float factor[COLUMN_WIDTH];

    for (int64_t j = 0; j < width; j++)
        sum[j] = 0.0;
    for (int64_t k = 0; k < n; k++)
        for (int64_t j = 0; j < width; j++)
            sum[j] += log_softmax ? (double)gy[k * inner + j]
                                  : (double)gy[k * inner + j] * y[k * inner + j];
    for (int64_t j = 0; j < width; j++)
        factor[j] = (float)sum[j];

    for (int64_t k = 0; k < n; k++) {
        for (int64_t j = 0; j < width; j++) {
            int64_t i = k * inner + j;
            gx[i] = log_softmax ? gy[i] - fast_expf(y[i]) * factor[j]
                                : y[i] * (gy[i] - factor[j]);
        }
    }
}

LN_CLONES static void column_softmax_grad(float *gx, const float *gy, const float *y,
                                          int64_t n, int64_t inner, int64_t width)
{
    column_grad(gx, gy, y, n, inner, width, false);
}

LN_CLONES static void column_log_softmax_grad(float *gx, const float *gy, const float *y,
                                              int64_t n, int64_t inner, int64_t width)
{
    column_grad(gx, gy, y, n, inner, width, true);
}

/* Work division ------------------------------------------------------------ */

/* One call: contiguous operands read as (outer, n, inner). */
typedef struct job {
    float *out;                /* x's shape; (outer, inner) for LOGSUMEXP */
    const float *x;            /* x, or grad_output for gradients */
    const float *y;            /* the forward output, for gradients */
    int64_t outer, n, inner;
    int64_t width;             /* slices per column piece */
    int kind;                  /* softmax_kind, or GRAD_* */
} job;

enum { GRAD_SOFTMAX = LOGSUMEXP + 1, GRAD_LOG_SOFTMAX };

static void run_row(const job *w, int64_t row, bool parallel)
{
    int64_t at = row * w->n;
    switch (w->kind) {
    case LOGSUMEXP:
        w->out[row] = softmax_row(NULL, w->x + at, w->n, LOGSUMEXP, parallel, false);
        break;
    case SOFTMAX:
    case LOG_SOFTMAX:
        softmax_row(w->out + at, w->x + at, w->n, (softmax_kind)w->kind, parallel,
                    w->outer * w->n >= STREAM_ELEMENTS);
        break;
    case GRAD_SOFTMAX:
        softmax_grad_row(w->out + at, w->x + at, w->y + at, w->n);
        break;
    case GRAD_LOG_SOFTMAX:
        log_softmax_grad_row(w->out + at, w->x + at, w->y + at, w->n);
        break;
    }
}

/* Piece p: outer block p / blocks, slices (p % blocks) * width onwards. */
static void run_column_piece(const job *w, int64_t p)
{
    int64_t blocks = (w->inner + w->width - 1) / w->width;
    int64_t o = p / blocks;
    int64_t first = p % blocks * w->width;
    int64_t width = w->inner - first < w->width ? w->inner - first : w->width;
    int64_t at = o * w->n * w->inner + first;

    switch (w->kind) {
    case LOGSUMEXP:
        column_logsumexp(w->out + o * w->inner + first, w->x + at, w->n, w->inner, width);
        break;
    case SOFTMAX:
        column_softmax_exp(w->out + at, w->x + at, w->n, w->inner, width);
        break;
    case LOG_SOFTMAX:
        column_log_softmax(w->out + at, w->x + at, w->n, w->inner, width);
        break;
    case GRAD_SOFTMAX:
        column_softmax_grad(w->out + at, w->x + at, w->y + at, w->n, w->inner, width);
        break;
    case GRAD_LOG_SOFTMAX:
        column_log_softmax_grad(w->out + at, w->x + at, w->y + at, w->n, w->inner, width);
        break;
    }
}

/* Shares rows or column pieces among threads. Rows fewer than threads each
 * run split into chunks instead.
 * NOTE: only the forward kinds split rows; the gradients of rows fewer than
 * threads use one thread per row. */
static ln_status run_job(job *w)
{
    int threads = omp_get_max_threads();
    bool large = w->outer * w->n * w->inner >= LN_PARALLEL_GRAIN && threads > 1;

    if (w->inner == 1 && w->n < SHORT_ROW && w->kind <= LOGSUMEXP) {
        int64_t group = SHORT_BLOCK / w->n;
        int64_t pieces = (w->outer + group - 1) / group;
#pragma omp parallel for schedule(static) if (large)
        for (int64_t p = 0; p < pieces; p++) {
            int64_t first = p * group;
            int64_t rows = w->outer - first < group ? w->outer - first : group;
            float *out = w->out + (w->kind == LOGSUMEXP ? first : first * w->n);
            if (!ln_interrupted())
                softmax_short_rows(out, w->x + first * w->n, rows, w->n,
                                   (softmax_kind)w->kind);
        }
    } else if (w->inner == 1) {
        bool split_rows = large && w->outer < threads && w->kind <= LOGSUMEXP;
        if (split_rows) {
            for (int64_t row = 0; row < w->outer && !ln_interrupted(); row++)
                run_row(w, row, true);
        } else {
#pragma omp parallel for schedule(static) if (large)
            for (int64_t row = 0; row < w->outer; row++)
                if (!ln_interrupted())
                    run_row(w, row, false);
        }
    } else {
        w->width = COLUMN_WIDTH;
        if (large) {
            /* Narrow the blocks until every thread has one. */
            int64_t per_outer = (threads + w->outer - 1) / w->outer;
            int64_t width = (w->inner + per_outer - 1) / per_outer;
            if (width < w->width)
                w->width = width < COLUMN_MIN_WIDTH ? COLUMN_MIN_WIDTH : width;
        }
        int64_t pieces = w->outer * ((w->inner + w->width - 1) / w->width);
#pragma omp parallel for schedule(static) if (large)
        for (int64_t p = 0; p < pieces; p++)
            if (!ln_interrupted())
                run_column_piece(w, p);
    }
    return ln_interrupted() ? ln_fail(LN_EINTR, "interrupted") : LN_OK;
}

/* Entry points ------------------------------------------------------------- */

static ln_status check_dim(const ln_tensor *x, int dim)
{
    if (dim < 0 || dim >= (x->ndim > 0 ? x->ndim : 1))
        return ln_fail(LN_EINVAL, "softmax dim is out of range for a %d-d tensor", x->ndim);
    return LN_OK;
}

static ln_status check_same_shape(const ln_tensor *a, const char *a_name, const ln_tensor *b,
                                  const char *b_name)
{
    if (ln_same_shape(a, b))
        return LN_OK;
    char a_shape[128], b_shape[128];
    return ln_fail(LN_EINVAL, "%s has shape %s but %s has shape %s", a_name,
                   ln_shape_string(a, a_shape, sizeof a_shape), b_name,
                   ln_shape_string(b, b_shape, sizeof b_shape));
}

static void split_at_dim(job *w, const ln_tensor *x, int dim)
{
    w->outer = 1;
    w->n = x->ndim > 0 ? x->shape[dim] : 1;
    w->inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < dim)
            w->outer *= x->shape[d];
        if (d > dim)
            w->inner *= x->shape[d];
    }
}

/* Runs w with contiguous operands: copies of non-contiguous inputs, and a
 * temporary for a non-contiguous out that is copied back at the end. */
static ln_status run_contiguous(job *w, ln_tensor *out, const ln_tensor *x, const ln_tensor *y)
{
    ln_tensor x_source = {0}, y_source = {0}, result = {0};
    ln_status status = ln_contiguous(&x_source, x, false);
    if (!status && y)
        status = ln_contiguous(&y_source, y, false);
    if (!status && !ln_is_contiguous(out))
        status = ln_tensor_alloc(&result, out->ndim, out->shape);
    if (!status) {
        w->x = ln_data(&x_source);
        w->y = y ? ln_data(&y_source) : NULL;
        w->out = ln_data(result.storage ? &result : out);
        status = run_job(w);
    }
    if (!status && result.storage)
        status = ln_copy(out, &result);
    ln_tensor_release(&x_source);
    ln_tensor_release(&y_source);
    ln_tensor_release(&result);
    return status;
}

static ln_status softmax_forward(ln_tensor *out, const ln_tensor *x, int dim, softmax_kind kind)
{
    ln_status status = check_dim(x, dim);
    if (status)
        return status;
    status = kind == LOGSUMEXP ? ln_check_reduced_shape(out, x, dim)
                               : check_same_shape(out, "output", x, "input");
    if (status)
        return status;

    job w = {.kind = kind};
    split_at_dim(&w, x, dim);
    if (w.n == 0) {
        /* Only logsumexp has outputs here: log(0) = -inf, as in PyTorch. */
        if (kind == LOGSUMEXP)
            ln_fill(out, -INFINITY);
        return LN_OK;
    }
    if (w.outer == 0 || w.inner == 0)
        return LN_OK;
    return run_contiguous(&w, out, x, NULL);
}

ln_status ln_softmax(ln_tensor *out, const ln_tensor *x, int dim)
{
    return softmax_forward(out, x, dim, SOFTMAX);
}

ln_status ln_log_softmax(ln_tensor *out, const ln_tensor *x, int dim)
{
    return softmax_forward(out, x, dim, LOG_SOFTMAX);
}

ln_status ln_logsumexp(ln_tensor *out, const ln_tensor *x, int dim)
{
    return softmax_forward(out, x, dim, LOGSUMEXP);
}

static ln_status softmax_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                  const ln_tensor *output, int dim, int kind)
{
    ln_status status = check_dim(output, dim);
    if (!status)
        status = check_same_shape(grad_output, "grad_output", output, "output");
    if (!status)
        status = check_same_shape(grad_input, "grad_input", output, "output");
    if (status)
        return status;

    job w = {.kind = kind};
    split_at_dim(&w, output, dim);
    if (w.outer * w.n * w.inner == 0)
        return LN_OK;
    return run_contiguous(&w, grad_input, grad_output, output);
}

ln_status ln_softmax_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                              const ln_tensor *output, int dim)
{
    return softmax_backward(grad_input, grad_output, output, dim, GRAD_SOFTMAX);
}

ln_status ln_log_softmax_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                  const ln_tensor *output, int dim)
{
    return softmax_backward(grad_input, grad_output, output, dim, GRAD_LOG_SOFTMAX);
}
