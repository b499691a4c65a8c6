/* GEMM micro-kernels: the inner loops of the convolution paths.
 *
 * block computes a block of C with `rows` rows and LN_GEMM_PANEL columns,
 *
 *     C(r, j) (+)= sum over d < depth of A(d, r) * B(d, j).
 *
 * A is packed, A(d, r) at a[d * rows + r], so that every step reads the
 * rows side by side. B(d, j) is at b[d * b_step + j], or at b[b_offsets[d]
 * + j] when b_offsets is set: each step reads LN_GEMM_PANEL contiguous
 * floats, of a packed panel (b_step = LN_GEMM_PANEL), a row-major matrix
 * (b_step = ldb) or anywhere (an input plane read in place). Column j of
 * row r of C is at c + r * c_row + (j / 16) * c_half + j % 16, so C can be
 * an ordinary row-major matrix (c_row = ldc, c_half = 16) or scattered in
 * two runs of 16 columns. With accumulate set, the products add to C;
 * otherwise they replace it, plus row_bias[r] when row_bias is set. rows is
 * 1 .. max_rows.
 *
 * dots computes a block of dot products of long vectors,
 *
 *     C(r, j) += sum over i < length of a[r * a_row + i] * b[b_offsets[j] + i],
 *
 * C(r, j) at c[r * c_row + j], for rows 1 .. LN_DOT_ROWS and columns 1 ..
 * LN_DOT_COLUMNS; length is a multiple of 16. It sums in float, 16 partial
 * sums per product.
 *
 * The kernels are chosen once, at the first call of ln_gemm_select(), from
 * what the CPU supports: AVX-512 (16 lanes, max_rows 14) or portable C.
 * Internal to the core. */
#ifndef LUNET_GEMM_KERNEL_H
#define LUNET_GEMM_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#define LN_GEMM_PANEL 32

typedef struct ln_gemm_strides {
    int64_t b_step;
    const int32_t *b_offsets;
    int64_t c_row, c_half;
    const float *row_bias;
    bool stream;       /* store C with non-temporal stores where 64-byte aligned */
} ln_gemm_strides;

typedef void (*ln_gemm_block_fn)(int64_t depth, const float *a, const float *b, float *c,
                                 const ln_gemm_strides *strides, int rows, bool accumulate);

#define LN_DOT_ROWS 3
#define LN_DOT_COLUMNS 8

typedef void (*ln_gemm_dots_fn)(int64_t length, const float *a, int64_t a_row, int rows,
                                const float *b, const int32_t *b_offsets, int columns, float *c,
                                int64_t c_row);

typedef struct ln_gemm_kernel {
    const char *name;  /* "avx512" or "portable" */
    bool simd;         /* written with vector instructions; else BLAS is faster */
    int max_rows;
    ln_gemm_block_fn block;
    ln_gemm_dots_fn dots;
} ln_gemm_kernel;

const ln_gemm_kernel *ln_gemm_select(void);

/* Row blocks for packing A: the m rows split into ceil(m / max_rows)
 * blocks of nearly equal height, so no block is much shorter than the
 * others. Block b covers rows [ln_gemm_row_start(b), ln_gemm_row_start(b + 1)). */
int64_t ln_gemm_row_blocks(int64_t m, int max_rows);
int64_t ln_gemm_row_start(int64_t block, int64_t m, int64_t blocks);

#endif
