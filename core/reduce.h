/* Reductions along one dim or over a whole tensor.
 *
 * Sums accumulate in double, pairwise along rows, so the sum of a million
 * float32 values stays within 1e-6 relative of the exact sum. A result
 * depends only on the input's shape and values, never on the thread count.
 * Along a dim, `out` has the input's shape with that dim removed or kept as
 * size 1, and must not overlap the input. max/min propagate NaN: a slice
 * holding NaN yields NaN and the index of its first NaN. Ties yield the
 * first index. Indices are 0-based int64 values. */
#ifndef LUNET_REDUCE_H
#define LUNET_REDUCE_H

#include "tensor.h"

typedef enum ln_reduce_op { LN_SUM, LN_MEAN, LN_MAX, LN_MIN } ln_reduce_op;

/* Whole-tensor reduction into a double. max/min of an empty tensor fail with
 * LN_EINVAL; sum of an empty tensor is 0 and mean is NaN, as in PyTorch. */
ln_status ln_reduce_all(double *result, const ln_tensor *x, ln_reduce_op op);

/* [OUT] out = op over dim. For LN_MAX/LN_MIN, indices (may be NULL) receives
 * the 0-based position along dim of the chosen element for each output
 * element, in out's row-major element order (ln_numel(out) entries). A
 * reduction over an empty dim: sum 0, mean NaN, and max/min fail with
 * LN_EINVAL. */
ln_status ln_reduce_dim(ln_tensor *out, int64_t *indices, const ln_tensor *x, int dim,
                        ln_reduce_op op);

/* Whole-tensor argmax/argmin: 0-based flat index in row-major order. */
ln_status ln_arg_all(int64_t *index, const ln_tensor *x, ln_reduce_op op);

/* Checks that out has x's shape with dim removed or kept as size 1, the
 * output shape of every reduction along dim; LN_EINVAL names both shapes. */
ln_status ln_check_reduced_shape(const ln_tensor *out, const ln_tensor *x, int dim);

#endif
