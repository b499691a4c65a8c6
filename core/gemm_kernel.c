#include "gemm_kernel.h"

#include <immintrin.h>

#include "internal.h"

/* The AVX-512 kernel keeps a 14 x 32 block of C in 28 of the 32 zmm
 * registers: each step loads two vectors of B and broadcasts 14 values of
 * A, for 28 fused multiply-adds. */
#define AVX512_ROWS 14

#ifndef PREFETCH_STEPS
#define PREFETCH_STEPS 8
#endif

/* The portable kernel leaves vectorisation to the compiler. */
#define PORTABLE_ROWS 4

/* B row d is at b + offsets[d], or b + d * step without offsets. */
__attribute__((target("avx512f"), always_inline)) static inline void
avx512_block_rows(int64_t depth, const float *a, const float *b, const int32_t *offsets,
                  float *c, const ln_gemm_strides *s, const int rows, bool accumulate)
{
    __m512 c0[AVX512_ROWS], c1[AVX512_ROWS];
#pragma GCC unroll 14
    for (int r = 0; r < rows; r++) {
        c0[r] = _mm512_set1_ps(s->row_bias && !accumulate ? s->row_bias[r] : 0.0f);
        c1[r] = c0[r];
    }
    const int64_t step = s->b_step;
    for (int64_t d = 0; d < depth; d++) {
        const float *row = offsets ? b + offsets[d] : b + d * step;
        if (!offsets) {
            _mm_prefetch((const char *)(row + PREFETCH_STEPS * step), _MM_HINT_T0);
            _mm_prefetch((const char *)(row + PREFETCH_STEPS * step + 16), _MM_HINT_T0);
        }
        __m512 b0 = _mm512_loadu_ps(row);
        __m512 b1 = _mm512_loadu_ps(row + 16);
#pragma GCC unroll 14
        for (int r = 0; r < rows; r++) {
            __m512 x = _mm512_set1_ps(a[r]);
            c0[r] = _mm512_fmadd_ps(x, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(x, b1, c1[r]);
        }
        a += rows;
    }
#pragma GCC unroll 14
    for (int r = 0; r < rows; r++) {
        float *lo = c + r * s->c_row, *hi = lo + s->c_half;
        if (accumulate) {
            c0[r] = _mm512_add_ps(c0[r], _mm512_loadu_ps(lo));
            c1[r] = _mm512_add_ps(c1[r], _mm512_loadu_ps(hi));
        }
        if (s->stream && !accumulate && !(((uintptr_t)lo | (uintptr_t)hi) & 63)) {
            _mm512_stream_ps(lo, c0[r]);
            _mm512_stream_ps(hi, c1[r]);
        } else {
            _mm512_storeu_ps(lo, c0[r]);
            _mm512_storeu_ps(hi, c1[r]);
        }
    }
}

/* One instance per row count, so every loop over rows unrolls into
 * registers. */
__attribute__((target("avx512f"))) static void avx512_block(int64_t depth, const float *a,
                                                            const float *b, float *c,
                                                            const ln_gemm_strides *s, int rows,
                                                            bool accumulate)
{
#define ROWS_CASE(n)                                                                           \
    case n:                                                                                    \
        if (s->b_offsets)                                                                      \
            avx512_block_rows(depth, a, b, s->b_offsets, c, s, n, accumulate);                 \
        else                                                                                   \
            avx512_block_rows(depth, a, b, NULL, c, s, n, accumulate);                         \
        break;
    switch (rows) {
        ROWS_CASE(1)
        ROWS_CASE(2)
        ROWS_CASE(3)
        ROWS_CASE(4)
        ROWS_CASE(5)
        ROWS_CASE(6)
        ROWS_CASE(7)
        ROWS_CASE(8)
        ROWS_CASE(9)
        ROWS_CASE(10)
        ROWS_CASE(11)
        ROWS_CASE(12)
        ROWS_CASE(13)
        ROWS_CASE(14)
    }
#undef ROWS_CASE
}

static void portable_block(int64_t depth, const float *a, const float *b, float *c,
                           const ln_gemm_strides *s, int rows, bool accumulate)
{
    float sum[PORTABLE_ROWS][LN_GEMM_PANEL] = {{0}};
    for (int64_t d = 0; d < depth; d++) {
        const float *row = s->b_offsets ? b + s->b_offsets[d] : b + d * s->b_step;
        for (int r = 0; r < rows; r++) {
            float x = a[r];
            for (int j = 0; j < LN_GEMM_PANEL; j++)
                sum[r][j] += x * row[j];
        }
        a += rows;
    }
    for (int r = 0; r < rows; r++) {
        float start = s->row_bias ? s->row_bias[r] : 0.0f;
        for (int j = 0; j < LN_GEMM_PANEL; j++) {
            float *out = c + r * s->c_row + j / 16 * s->c_half + j % 16;
            *out = accumulate ? *out + sum[r][j] : start + sum[r][j];
        }
    }
}

/* out[j] += the sum of the lanes of v[j] for j < 8, reducing the eight
 * vectors together: a shuffle tree takes 28 instructions where eight
 * separate reductions take over 60. */
__attribute__((target("avx512f"), always_inline)) static inline void add_sums8(float *out,
                                                                              const __m512 v[8])
{
    /* Halves: lanes 0-7 of pair[i] hold v[2i]'s quarters 0+2 and 1+3, lanes
     * 8-15 v[2i + 1]'s. */
    __m512 pair[4];
    for (int i = 0; i < 4; i++)
        pair[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                                _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xee));
    /* Quarters: quarter k of quad[h] holds four partial sums of v[4h + k]. */
    __m512 quad[2];
    for (int h = 0; h < 2; h++)
        quad[h] = _mm512_add_ps(_mm512_shuffle_f32x4(pair[2 * h], pair[2 * h + 1], 0x88),
                                _mm512_shuffle_f32x4(pair[2 * h], pair[2 * h + 1], 0xdd));
    /* Within each quarter: every lane ends with the quarter's total. */
    for (int h = 0; h < 2; h++) {
        quad[h] = _mm512_add_ps(quad[h], _mm512_permute_ps(quad[h], 0x4e));
        quad[h] = _mm512_add_ps(quad[h], _mm512_permute_ps(quad[h], 0xb1));
    }
    const __m512i first_lanes = _mm512_set_epi32(28, 24, 20, 16, 12, 8, 4, 0, 28, 24, 20, 16,
                                                 12, 8, 4, 0);
    __m512 sums = _mm512_permutex2var_ps(quad[0], first_lanes, quad[1]);
    const __mmask16 eight = 0xff;
    _mm512_mask_storeu_ps(out, eight, _mm512_add_ps(_mm512_maskz_loadu_ps(eight, out), sums));
}

/* The dot kernel keeps LN_DOT_ROWS x LN_DOT_COLUMNS vectors of partial
 * sums in 24 registers; each step loads 3 + 8 vectors for 24 fused
 * multiply-adds. */
__attribute__((target("avx512f"), always_inline)) static inline void
avx512_dots_shape(int64_t length, const float *a, int64_t a_row, const float *b,
                  const int32_t *offsets, float *c, int64_t c_row, const int rows,
                  const int columns)
{
    __m512 sum[LN_DOT_ROWS][LN_DOT_COLUMNS];
    const float *column[LN_DOT_COLUMNS];
#pragma GCC unroll 8
    for (int j = 0; j < columns; j++) {
        column[j] = b + offsets[j];
#pragma GCC unroll 3
        for (int r = 0; r < rows; r++)
            sum[r][j] = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i < length; i += 16) {
        __m512 x[LN_DOT_ROWS];
#pragma GCC unroll 3
        for (int r = 0; r < rows; r++)
            x[r] = _mm512_loadu_ps(a + r * a_row + i);
#pragma GCC unroll 8
        for (int j = 0; j < columns; j++) {
            __m512 y = _mm512_loadu_ps(column[j] + i);
            /* Keeps y in a register: folded into each multiply-add, the
             * load, usually split across two cache lines, would repeat
             * for every row. */
            __asm__("" : "+v"(y));
#pragma GCC unroll 3
            for (int r = 0; r < rows; r++)
                sum[r][j] = _mm512_fmadd_ps(x[r], y, sum[r][j]);
        }
    }
#pragma GCC unroll 3
    for (int r = 0; r < rows; r++) {
        if (columns == LN_DOT_COLUMNS) {
            add_sums8(c + r * c_row, sum[r]);
            continue;
        }
#pragma GCC unroll 8
        for (int j = 0; j < columns; j++)
            c[r * c_row + j] += _mm512_reduce_add_ps(sum[r][j]);
    }
}

__attribute__((target("avx512f"))) static void avx512_dots(int64_t length, const float *a,
                                                           int64_t a_row, int rows,
                                                           const float *b,
                                                           const int32_t *offsets, int columns,
                                                           float *c, int64_t c_row)
{
#define COLUMNS_CASE(r, n)                                                                     \
    case n:                                                                                    \
        avx512_dots_shape(length, a, a_row, b, offsets, c, c_row, r, n);                       \
        break;
#define ROWS_CASE(r)                                                                           \
    case r:                                                                                    \
        switch (columns) {                                                                     \
            COLUMNS_CASE(r, 1)                                                                 \
            COLUMNS_CASE(r, 2)                                                                 \
            COLUMNS_CASE(r, 3)                                                                 \
            COLUMNS_CASE(r, 4)                                                                 \
            COLUMNS_CASE(r, 5)                                                                 \
            COLUMNS_CASE(r, 6)                                                                 \
            COLUMNS_CASE(r, 7)                                                                 \
            COLUMNS_CASE(r, 8)                                                                 \
        }                                                                                      \
        break;
    switch (rows) {
        ROWS_CASE(1)
        ROWS_CASE(2)
        ROWS_CASE(3)
    }
#undef ROWS_CASE
#undef COLUMNS_CASE
}

static void portable_dots(int64_t length, const float *a, int64_t a_row, int rows,
                          const float *b, const int32_t *offsets, int columns, float *c,
                          int64_t c_row)
{
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < columns; j++) {
            const float *x = a + r * a_row, *y = b + offsets[j];
            float sum[16] = {0};
            for (int64_t i = 0; i < length; i += 16)
                for (int k = 0; k < 16; k++)
                    sum[k] += x[i + k] * y[i + k];
            float total = 0.0f;
            for (int k = 0; k < 16; k++)
                total += sum[k];
            c[r * c_row + j] += total;
        }
    }
}

const ln_gemm_kernel *ln_gemm_select(void)
{
    static const ln_gemm_kernel avx512 = {"avx512", true, AVX512_ROWS, avx512_block,
                                          avx512_dots};
    static const ln_gemm_kernel portable = {"portable", false, PORTABLE_ROWS, portable_block,
                                            portable_dots};
    /* The choice never changes, so threads racing on the first call store
     * the same pointer. */
    static const ln_gemm_kernel *chosen;
    if (!chosen)
        chosen = ln_cpu_has_avx512() ? &avx512 : &portable;
    return chosen;
}

int64_t ln_gemm_row_blocks(int64_t m, int max_rows)
{
    return (m + max_rows - 1) / max_rows;
}

int64_t ln_gemm_row_start(int64_t block, int64_t m, int64_t blocks)
{
    return block * m / blocks;
}
