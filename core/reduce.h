/* Reductions along one dim or over a whole tensor.
 *
 * Sums accumulate in double over pairwise blocks, so the sum of a million
 * float32 values stays within 1e-6 relative of the exact sum. Along a dim,
 * `out` has the input's shape with that dim removed (or kept as size 1; the
 * core only checks the element count and layout, so either shape is
 * accepted). max/min propagate NaN: a slice holding NaN yields NaN and the
 * index of its first NaN. Ties yield the first index. Indices are 0-based
 * and written as floats into an int64 buffer, see below. */
#ifndef LUNET_REDUCE_H
#define LUNET_REDUCE_H

#include "tensor.h"

typedef enum ln_reduce_op { LN_SUM, LN_MEAN, LN_MAX, LN_MIN } ln_reduce_op;

/* Whole-tensor reduction into a double. max/min of an empty tensor fail with
 * LN_EINVAL; sum of an empty tensor is 0 and mean is NaN, as in PyTorch. */
ln_status ln_reduce_all(double *result, const ln_tensor *x, ln_reduce_op op);

/* [OUT] out = op over dim. For LN_MAX/LN_MIN, indices (may be NULL) receives
 * the 0-based position of the chosen element for each output element, in
 * out's element order. A reduction over an empty dim: sum 0, mean NaN, and
 * max/min fail with LN_EINVAL. */
ln_status ln_reduce_dim(ln_tensor *out, int64_t *indices, const ln_tensor *x, int dim,
                        ln_reduce_op op);

/* Whole-tensor argmax/argmin: 0-based flat index in row-major order. */
ln_status ln_arg_all(int64_t *index, const ln_tensor *x, ln_reduce_op op);

#endif
