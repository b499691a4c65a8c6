/* Elementwise kernels over ln_apply.
 *
 * Each operation is one row function with a few loop variants. The first
 * has every operand at unit stride: that is the contiguous case, which
 * ln_apply turns into one long row split across threads. The next two have
 * one input constant along the row (a broadcast operand or a scalar), and the
 * last is the general strided loop. The unit-stride loops contain no calls or
 * branches that stop GCC from vectorising them, except where the operation
 * itself is a libm call (powf, expf, logf, sqrtf, tanhf). */
#include "elementwise.h"

#include <math.h>
#include <string.h>

#include "internal.h"

/* Operands and overlap ----------------------------------------------------- */

static void set_operand(ln_operand *operand, const ln_tensor *t, int ndim, const int64_t *shape)
{
    operand->data = ln_data(t);
    ln_broadcast_strides(t, ndim, shape, operand->stride);
}

/* Lowest and highest storage element that t can reach. */
static void element_span(const ln_tensor *t, int64_t *first, int64_t *last)
{
    *first = *last = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        int64_t reach = (t->shape[d] - 1) * t->stride[d];
        if (reach < 0)
            *first += reach;
        else
            *last += reach;
    }
}

/* True when reading `in` (broadcast to out's shape) at each output position
 * touches exactly that position of out, so in-place updates are safe. */
static bool is_same_view(const ln_tensor *out, const ln_tensor *in)
{
    int64_t stride[LN_MAX_DIMS];
    if (in->offset != out->offset)
        return false;
    ln_broadcast_strides(in, out->ndim, out->shape, stride);
    for (int d = 0; d < out->ndim; d++)
        if (out->shape[d] > 1 && stride[d] != out->stride[d])
            return false;
    return true;
}

static bool overlaps_output(const ln_tensor *out, const ln_tensor *in)
{
    int64_t in_first, in_last, out_first, out_last;
    if (in->storage != out->storage || ln_numel(in) == 0 || ln_numel(out) == 0)
        return false;
    if (is_same_view(out, in))
        return false;
    element_span(in, &in_first, &in_last);
    element_span(out, &out_first, &out_last);
    return in_first <= out_last && out_first <= in_last;
}

/* Replaces each input that shares memory with out in any way other than as
 * the same view (say x += x[1], or x += x:t()) by a contiguous copy in
 * copies[k], so that writing out cannot change values still to be read. */
static ln_status separate_inputs(const ln_tensor *out, int count, const ln_tensor **inputs,
                                 ln_tensor *copies)
{
    for (int k = 0; k < count; k++) {
        if (!overlaps_output(out, inputs[k]))
            continue;
        ln_status status = ln_contiguous(&copies[k], inputs[k], true);
        if (status) {
            for (int j = 0; j < k; j++)
                ln_tensor_release(&copies[j]);
            return status;
        }
        inputs[k] = &copies[k];
    }
    return LN_OK;
}

/* Checks that out has exactly the result shape and that no two of its
 * elements share memory, which only an expanded view (stride 0) can do. */
static ln_status check_output(const ln_tensor *out, int ndim, const int64_t *shape)
{
    char have[256], want[256];
    if (!out->storage)
        return ln_fail(LN_EINVAL, "the output tensor has no storage");
    if (out->ndim != ndim || memcmp(out->shape, shape, sizeof(int64_t) * ndim) != 0)
        return ln_fail(LN_EINVAL, "the output has shape %s but the result has shape %s",
                       ln_shape_string(out, have, sizeof have),
                       ln_shape_string_raw(ndim, shape, want, sizeof want));
    for (int d = 0; d < ndim; d++)
        if (shape[d] > 1 && out->stride[d] == 0)
            return ln_fail(LN_EINVAL, "cannot write into an expanded tensor of shape %s "
                           "because its elements share memory; make a contiguous copy first",
                           ln_shape_string(out, have, sizeof have));
    return LN_OK;
}

/* Runs row over out and the inputs (already broadcast-compatible with out's
 * shape), after copying any input that overlaps out. */
static ln_status run_kernel(ln_tensor *out, int count, const ln_tensor **inputs, ln_row_fn row,
                            void *context)
{
    ln_tensor copies[2] = {{0}, {0}};
    ln_operand operands[3];
    ln_status status = separate_inputs(out, count, inputs, copies);
    if (status)
        return status;

    set_operand(&operands[0], out, out->ndim, out->shape);
    for (int k = 0; k < count; k++)
        set_operand(&operands[k + 1], inputs[k], out->ndim, out->shape);
    ln_apply(count + 1, operands, out->ndim, out->shape, row, context, true);

    for (int k = 0; k < count; k++)
        ln_tensor_release(&copies[k]);
    return LN_OK;
}

/* Binary kernels ----------------------------------------------------------- */

/* Defines name_row computing out = expr from x (operand 1) and y (operand 2),
 * with alpha from the context for ln_add_scaled. */
#define BINARY_KERNEL(name, expr)                                                        \
    LN_CLONES static void name##_row(int64_t n, float **ptr, const int64_t *step,        \
                                     void *context)                                      \
    {                                                                                    \
        const float alpha = *(const float *)context;                                     \
        float *out = ptr[0];                                                             \
        const float *xs = ptr[1], *ys = ptr[2];                                          \
        (void)alpha;                                                                     \
        if (step[0] == 1 && step[1] == 1 && step[2] == 1) {                              \
            for (int64_t i = 0; i < n; i++) {                                            \
                float x = xs[i], y = ys[i];                                              \
                out[i] = (expr);                                                         \
            }                                                                            \
        } else if (step[0] == 1 && step[1] == 1 && step[2] == 0) {                       \
            const float y = ys[0];                                                       \
            for (int64_t i = 0; i < n; i++) {                                            \
                float x = xs[i];                                                         \
                out[i] = (expr);                                                         \
            }                                                                            \
        } else if (step[0] == 1 && step[1] == 0 && step[2] == 1) {                       \
            const float x = xs[0];                                                       \
            for (int64_t i = 0; i < n; i++) {                                            \
                float y = ys[i];                                                         \
                out[i] = (expr);                                                         \
            }                                                                            \
        } else {                                                                         \
            for (int64_t i = 0; i < n; i++) {                                            \
                float x = xs[i * step[1]], y = ys[i * step[2]];                          \
                out[i * step[0]] = (expr);                                               \
            }                                                                            \
        }                                                                                \
    }

BINARY_KERNEL(add, x + y)
BINARY_KERNEL(sub, x - y)
BINARY_KERNEL(mul, x * y)
BINARY_KERNEL(div, x / y)
BINARY_KERNEL(pow, powf(x, y))
BINARY_KERNEL(eq, x == y ? 1.0f : 0.0f)
BINARY_KERNEL(ne, x != y ? 1.0f : 0.0f)
BINARY_KERNEL(lt, x < y ? 1.0f : 0.0f)
BINARY_KERNEL(le, x <= y ? 1.0f : 0.0f)
BINARY_KERNEL(gt, x > y ? 1.0f : 0.0f)
BINARY_KERNEL(ge, x >= y ? 1.0f : 0.0f)
/* NaN in either input gives NaN, as in PyTorch; fmaxf would drop it. */
BINARY_KERNEL(maximum, (x > y || x != x) ? x : y)
BINARY_KERNEL(minimum, (x < y || x != x) ? x : y)
BINARY_KERNEL(add_scaled, x + alpha * y)

/* Defines name_row computing out = expr from x (operand 1). */
#define UNARY_KERNEL(name, expr)                                                         \
    LN_CLONES static void name##_row(int64_t n, float **ptr, const int64_t *step,        \
                                     void *context)                                      \
    {                                                                                    \
        float *out = ptr[0];                                                             \
        const float *xs = ptr[1];                                                        \
        (void)context;                                                                   \
        if (step[0] == 1 && step[1] == 1) {                                              \
            for (int64_t i = 0; i < n; i++) {                                            \
                float x = xs[i];                                                         \
                out[i] = (expr);                                                         \
            }                                                                            \
        } else {                                                                         \
            for (int64_t i = 0; i < n; i++) {                                            \
                float x = xs[i * step[1]];                                               \
                out[i * step[0]] = (expr);                                               \
            }                                                                            \
        }                                                                                \
    }

/* x ^ 2, the common power, as one multiply instead of a powf call. */
UNARY_KERNEL(square, x * x)

static const ln_row_fn binary_rows[] = {
    [LN_ADD] = add_row,         [LN_SUB] = sub_row, [LN_MUL] = mul_row, [LN_DIV] = div_row,
    [LN_POW] = pow_row,         [LN_EQ] = eq_row,   [LN_NE] = ne_row,   [LN_LT] = lt_row,
    [LN_LE] = le_row,           [LN_GT] = gt_row,   [LN_GE] = ge_row,
    [LN_MAXIMUM] = maximum_row, [LN_MINIMUM] = minimum_row,
};

static ln_status check_binary_op(ln_binary_op op)
{
    if ((unsigned)op >= sizeof binary_rows / sizeof binary_rows[0])
        return ln_fail(LN_EINVAL, "unknown binary operation %d", (int)op);
    return LN_OK;
}

static ln_status run_binary(ln_tensor *out, const ln_tensor *a, const ln_tensor *b,
                            ln_row_fn row, float alpha)
{
    int ndim;
    int64_t shape[LN_MAX_DIMS];
    ln_status status = ln_broadcast_shape(a, b, &ndim, shape);
    if (status)
        return status;
    status = check_output(out, ndim, shape);
    if (status)
        return status;

    const ln_tensor *inputs[2] = {a, b};
    return run_kernel(out, 2, inputs, row, &alpha);
}

ln_status ln_binary(ln_tensor *out, const ln_tensor *a, const ln_tensor *b, ln_binary_op op)
{
    ln_status status = check_binary_op(op);
    if (status)
        return status;
    return run_binary(out, a, b, binary_rows[op], 1.0f);
}

ln_status ln_add_scaled(ln_tensor *out, const ln_tensor *a, const ln_tensor *b, float alpha)
{
    return run_binary(out, a, b, add_scaled_row, alpha);
}

ln_status ln_binary_scalar(ln_tensor *out, const ln_tensor *a, float scalar, ln_binary_op op,
                           bool reversed)
{
    ln_status status = check_binary_op(op);
    if (status)
        return status;
    status = check_output(out, a->ndim, a->shape);
    if (status)
        return status;

    ln_tensor copy = {0};
    const ln_tensor *inputs[1] = {a};
    if (op == LN_POW && !reversed && scalar == 2.0f)
        return run_kernel(out, 1, inputs, square_row, NULL);
    status = separate_inputs(out, 1, inputs, &copy);
    if (status)
        return status;

    /* The scalar is an operand with stride 0 everywhere, so the binary row
     * functions serve unchanged and take their broadcast loop. */
    float alpha = 1.0f;
    ln_operand operands[3];
    ln_operand *tensor_side = &operands[reversed ? 2 : 1];
    ln_operand *scalar_side = &operands[reversed ? 1 : 2];
    set_operand(&operands[0], out, out->ndim, out->shape);
    set_operand(tensor_side, inputs[0], out->ndim, out->shape);
    memset(scalar_side, 0, sizeof *scalar_side);
    scalar_side->data = &scalar;

    ln_apply(3, operands, out->ndim, out->shape, binary_rows[op], &alpha, true);
    ln_tensor_release(&copy);
    return LN_OK;
}

/* Unary kernels ------------------------------------------------------------ */

/* sigmoid(x) = 1 / (1 + e^-x) = e^x / (1 + e^x). With e = e^-|x| <= 1 neither
 * form overflows, and the second keeps full relative precision for very
 * negative x, where 1 - 1 / (1 + e) would round to 0. */
static inline float sigmoid(float x)
{
    float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

UNARY_KERNEL(neg, -x)
UNARY_KERNEL(exp, expf(x))
UNARY_KERNEL(log, logf(x))
UNARY_KERNEL(sqrt, sqrtf(x))
UNARY_KERNEL(abs, fabsf(x))
UNARY_KERNEL(tanh, tanhf(x))
UNARY_KERNEL(sigmoid, sigmoid(x))
/* x < 0 is false for NaN, so NaN passes through as in PyTorch. */
UNARY_KERNEL(relu, x < 0.0f ? 0.0f : x)

static const ln_row_fn unary_rows[] = {
    [LN_NEG] = neg_row,   [LN_EXP] = exp_row,   [LN_LOG] = log_row,
    [LN_SQRT] = sqrt_row, [LN_ABS] = abs_row,   [LN_TANH] = tanh_row,
    [LN_SIGMOID] = sigmoid_row, [LN_RELU] = relu_row,
};

ln_status ln_unary(ln_tensor *out, const ln_tensor *a, ln_unary_op op)
{
    if ((unsigned)op >= sizeof unary_rows / sizeof unary_rows[0])
        return ln_fail(LN_EINVAL, "unknown unary operation %d", (int)op);
    ln_status status = check_output(out, a->ndim, a->shape);
    if (status)
        return status;

    const ln_tensor *inputs[1] = {a};
    return run_kernel(out, 1, inputs, unary_rows[op], NULL);
}

/* Clamp -------------------------------------------------------------------- */

typedef struct clamp_bounds {
    float low, high;
} clamp_bounds;

static void clamp_row(int64_t n, float **ptr, const int64_t *step, void *context)
{
    const clamp_bounds *bounds = context;
    const float low = bounds->low, high = bounds->high;
    float *out = ptr[0];
    const float *xs = ptr[1];

    /* Both comparisons are false for NaN, so a NaN element stays NaN and a
     * NaN bound bounds nothing. With low > high every element becomes high,
     * as in PyTorch. */
    if (step[0] == 1 && step[1] == 1) {
        for (int64_t i = 0; i < n; i++) {
            float y = xs[i] < low ? low : xs[i];
            out[i] = y > high ? high : y;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float x = xs[i * step[1]];
        float y = x < low ? low : x;
        out[i * step[0]] = y > high ? high : y;
    }
}

ln_status ln_clamp(ln_tensor *out, const ln_tensor *a, float low, float high)
{
    ln_status status = check_output(out, a->ndim, a->shape);
    if (status)
        return status;

    clamp_bounds bounds = {low, high};
    const ln_tensor *inputs[1] = {a};
    return run_kernel(out, 1, inputs, clamp_row, &bounds);
}
