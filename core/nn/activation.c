#include "nn/activation.h"

#include <string.h>

#include "internal.h"

/* A row function over out = expr(a, b), with a unit-stride loop that GCC
 * vectorises and a strided one. context points at a float parameter. */
#define BINARY_ROW(name, expr)                                                            \
    LN_CLONES static void name##_row(int64_t n, float **ptr, const int64_t *step,         \
                                     void *context)                                       \
    {                                                                                     \
        float *out = ptr[0];                                                              \
        const float *as = ptr[1], *bs = ptr[2];                                           \
        const float parameter = context ? *(const float *)context : 0.0f;                 \
        (void)parameter;                                                                  \
        if (step[0] == 1 && step[1] == 1 && step[2] == 1) {                               \
            for (int64_t i = 0; i < n; i++) {                                             \
                float a = as[i], b = bs[i];                                               \
                (void)b;                                                                  \
                out[i] = (expr);                                                          \
            }                                                                             \
        } else {                                                                          \
            for (int64_t i = 0; i < n; i++) {                                             \
                float a = as[i * step[1]], b = bs[i * step[2]];                           \
                (void)b;                                                                  \
                out[i * step[0]] = (expr);                                                \
            }                                                                             \
        }                                                                                 \
    }

/* In the gradients, a is grad_output and b the forward input or output. NaN
 * inputs take the "otherwise" branch of each comparison, as in PyTorch. */
BINARY_ROW(relu_backward, b <= 0.0f ? 0.0f : a)
BINARY_ROW(leaky_relu_backward, b > 0.0f ? a : a * parameter)
BINARY_ROW(sigmoid_backward, a * b * (1.0f - b))
BINARY_ROW(tanh_backward, a * (1.0f - b * b))

/* In the forward pass a is the input and b is unused. */
BINARY_ROW(leaky_relu, a > 0.0f ? a : a * parameter)

static ln_status check_shape(const ln_tensor *t, const char *role, const ln_tensor *reference,
                             const char *reference_role)
{
    if (ln_same_shape(t, reference))
        return LN_OK;
    char tt[256], tr[256];
    return ln_fail(LN_EINVAL, "%s has shape %s but %s has shape %s", role,
                   ln_shape_string(t, tt, sizeof tt), reference_role,
                   ln_shape_string(reference, tr, sizeof tr));
}

static void run(ln_tensor *out, const ln_tensor *a, const ln_tensor *b, ln_row_fn row,
                float *parameter)
{
    ln_operand operands[3];
    const ln_tensor *tensors[3] = {out, a, b};
    for (int k = 0; k < 3; k++) {
        operands[k].data = ln_data(tensors[k]);
        memcpy(operands[k].stride, tensors[k]->stride, sizeof(int64_t) * out->ndim);
    }
    ln_apply(3, operands, out->ndim, out->shape, row, parameter, true);
}

/* Checks the shapes of a backward pass and runs row over it. */
static ln_status backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                          const ln_tensor *saved, const char *saved_role, ln_row_fn row,
                          float *parameter)
{
    ln_status status = check_shape(grad_output, "grad_output", saved, saved_role);
    if (!status)
        status = check_shape(grad_input, "grad_input", saved, saved_role);
    if (!status)
        run(grad_input, grad_output, saved, row, parameter);
    return status;
}

ln_status ln_leaky_relu(ln_tensor *out, const ln_tensor *x, float negative_slope)
{
    ln_status status = check_shape(out, "the output", x, "the input");
    if (!status)
        run(out, x, x, leaky_relu_row, &negative_slope);
    return status;
}

ln_status ln_relu_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                           const ln_tensor *input)
{
    return backward(grad_input, grad_output, input, "the input", relu_backward_row, NULL);
}

ln_status ln_leaky_relu_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                 const ln_tensor *input, float negative_slope)
{
    return backward(grad_input, grad_output, input, "the input", leaky_relu_backward_row,
                    &negative_slope);
}

ln_status ln_sigmoid_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                              const ln_tensor *output)
{
    return backward(grad_input, grad_output, output, "the output", sigmoid_backward_row, NULL);
}

ln_status ln_tanh_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                           const ln_tensor *output)
{
    return backward(grad_input, grad_output, output, "the output", tanh_backward_row, NULL);
}
