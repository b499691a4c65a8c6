/* Elementwise arithmetic, math functions and comparisons.
 *
 * Binary operations broadcast their inputs NumPy-style (see
 * ln_broadcast_shape). `out` must already have the broadcast shape, and no two
 * of its elements may share memory (an expanded view is rejected). It may be
 * the same tensor as an input (in-place); an input that overlaps out in any
 * other way, such as x += x[1], is copied first so the result is as if all
 * inputs were read before out is written. Every input and out may have any
 * strides. Comparisons write 1.0f where the relation is true and 0.0f elsewhere
 * (so eq with NaN gives 0 and ne gives 1). maximum and minimum return NaN
 * when either input is NaN. Large operations run on OpenMP threads. */
#ifndef LUNET_ELEMENTWISE_H
#define LUNET_ELEMENTWISE_H

#include "tensor.h"

typedef enum ln_binary_op {
    LN_ADD, LN_SUB, LN_MUL, LN_DIV, LN_POW,
    LN_EQ, LN_NE, LN_LT, LN_LE, LN_GT, LN_GE,
    LN_MAXIMUM, LN_MINIMUM
} ln_binary_op;

typedef enum ln_unary_op {
    LN_NEG, LN_EXP, LN_LOG, LN_SQRT, LN_ABS, LN_TANH, LN_SIGMOID, LN_RELU
} ln_unary_op;

/* [OUT] out = a op b. LN_EINVAL names both shapes when they do not broadcast
 * or out has the wrong shape. */
ln_status ln_binary(ln_tensor *out, const ln_tensor *a, const ln_tensor *b, ln_binary_op op);

/* [OUT] out = a op scalar (or scalar op a when reversed is set, as in 2 - x);
 * out has a's shape. */
ln_status ln_binary_scalar(ln_tensor *out, const ln_tensor *a, float scalar, ln_binary_op op,
                           bool reversed);

/* [OUT] out = op(a); out has a's shape. Follows IEEE float semantics:
 * log(0) = -inf, log(-1) and sqrt(-1) are NaN, and sigmoid is computed so
 * that it neither overflows nor loses relative precision for large |x|. */
ln_status ln_unary(ln_tensor *out, const ln_tensor *a, ln_unary_op op);

/* [OUT] out = min(max(a, low), high); out has a's shape. An element that is
 * NaN stays NaN, either bound may be infinite, a NaN bound is ignored, and
 * with low > high every element becomes high. */
ln_status ln_clamp(ln_tensor *out, const ln_tensor *a, float low, float high);

/* [OUT] out = a + alpha * b (broadcast), the axpy shape used by optimisers. */
ln_status ln_add_scaled(ln_tensor *out, const ln_tensor *a, const ln_tensor *b, float alpha);

#endif
