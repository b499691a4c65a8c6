/* Matrix products through OpenBLAS.
 *
 * ln_matmul follows torch.matmul: 1-d x 1-d is a dot product (a 0-d result),
 * 2-d x 2-d a matrix product, 1-d operands gain and then lose a dim, and
 * higher ranks are batches of matrices whose batch dims broadcast. Matrix-
 * vector cases go to cblas_sgemv and the rest to cblas_sgemm; strided
 * operands whose last two dims are not BLAS-compatible are copied first. */
#ifndef LUNET_MATMUL_H
#define LUNET_MATMUL_H

#include "tensor.h"

/* Computes the result shape, or LN_EINVAL naming both shapes when the inner
 * sizes differ or batch dims do not broadcast. */
ln_status ln_matmul_shape(const ln_tensor *a, const ln_tensor *b, int *ndim, int64_t *shape);

/* [OUT] out = a @ b; out must have ln_matmul_shape's shape and may have any
 * strides or share storage with a or b (it then gets a temporary). LN_EINVAL
 * when a size exceeds BLAS's int range, LN_ENOMEM when a copy fails, and
 * LN_EINTR between batches after ln_interrupt(), leaving out partly
 * written. */
ln_status ln_matmul(ln_tensor *out, const ln_tensor *a, const ln_tensor *b);

/* C = alpha * op(A) op(B) + beta * C for row-major matrices with leading
 * dims lda, ldb and ldc, the entry point layers use; op(A) is m x k and op(B)
 * k x n, and op transposes when trans_a / trans_b is set. Goes to sgemv when
 * m or n is 1 and to a double-accumulated dot product when both are. With
 * k == 0, C becomes beta * C, and beta == 0 overwrites C without reading it.
 * Every size and leading dim must fit in an int (BLAS's index type). Outside
 * a parallel region, the OpenMP threads share the work. */
void ln_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc);

#endif
