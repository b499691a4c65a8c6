#include "nn/linear.h"

#include <stdio.h>

#include "internal.h"
#include "matmul.h"

ln_status ln_linear_check(const ln_tensor *input, const ln_tensor *weight, const ln_tensor *bias)
{
    char ti[256], tw[256], tb[256];
    if (weight->ndim != 2)
        return ln_fail(LN_EINVAL, "weight must be 2-d (out_features x in_features), got %s",
                       ln_shape_string(weight, tw, sizeof tw));
    if (input->ndim < 1)
        return ln_fail(LN_EINVAL, "input must have at least 1 dim, got a 0-d tensor");
    if (input->shape[input->ndim - 1] != weight->shape[1])
        return ln_fail(LN_EINVAL, "input has %lld features but weight expects %lld (input %s, "
                       "weight %s)", (long long)input->shape[input->ndim - 1],
                       (long long)weight->shape[1], ln_shape_string(input, ti, sizeof ti),
                       ln_shape_string(weight, tw, sizeof tw));
    if (bias && (bias->ndim != 1 || bias->shape[0] != weight->shape[0]))
        return ln_fail(LN_EINVAL, "bias has shape %s but weight %s needs %lld values",
                       ln_shape_string(bias, tb, sizeof tb),
                       ln_shape_string(weight, tw, sizeof tw), (long long)weight->shape[0]);
    return LN_OK;
}

/* Contiguous operands of both passes, as (rows x features) matrices. */
typedef struct operands {
    ln_tensor x, w, gy;
    int64_t rows, in, out;
} operands;

static void release_operands(operands *o)
{
    ln_tensor_release(&o->x);
    ln_tensor_release(&o->w);
    ln_tensor_release(&o->gy);
}

static ln_status prepare(operands *o, const ln_tensor *input, const ln_tensor *weight,
                         const ln_tensor *grad_output)
{
    *o = (operands){0};
    o->in = weight->shape[1];
    o->out = weight->shape[0];
    /* Rows are the leading dims, counted directly so that in_features 0
     * still gives their number. */
    o->rows = 1;
    for (int d = 0; d + 1 < input->ndim; d++)
        o->rows *= input->shape[d];
    ln_status status = ln_contiguous(&o->x, input, false);
    if (!status)
        status = ln_contiguous(&o->w, weight, false);
    if (!status && grad_output)
        status = ln_contiguous(&o->gy, grad_output, false);
    if (status)
        release_operands(o);
    return status;
}

ln_status ln_linear_forward(ln_tensor *output, const ln_tensor *input, const ln_tensor *weight,
                            const ln_tensor *bias)
{
    ln_status status = ln_linear_check(input, weight, bias);
    if (status)
        return status;
    operands o;
    if ((status = prepare(&o, input, weight, NULL)))
        return status;
    if (!ln_is_contiguous(output) || ln_numel(output) != o.rows * o.out) {
        release_operands(&o);
        return ln_fail(LN_EINVAL, "output must be a contiguous tensor of %lld x %lld",
                       (long long)o.rows, (long long)o.out);
    }

    float *y = ln_data(output);
    float beta = 0.0f;
    if (bias) {
        const float *b = ln_data(bias);
        for (int64_t r = 0; r < o.rows; r++)
            for (int64_t j = 0; j < o.out; j++)
                y[r * o.out + j] = b[j * bias->stride[0]];
        beta = 1.0f;
    }
    /* With in_features 0, ln_gemm leaves beta * y: the bias, or zeros. */
    ln_gemm(false, true, o.rows, o.out, o.in, 1.0f, ln_data(&o.x), o.in, ln_data(&o.w), o.in,
            beta, y, o.out);
    release_operands(&o);
    return LN_OK;
}

ln_status ln_linear_backward(ln_tensor *grad_input, ln_tensor *grad_weight, ln_tensor *grad_bias,
                             const ln_tensor *grad_output, const ln_tensor *input,
                             const ln_tensor *weight)
{
    operands o;
    ln_status status = prepare(&o, input, weight, grad_output);
    if (status)
        return status;
    if (ln_numel(&o.gy) != o.rows * o.out) {
        char tg[256], ti[256];
        release_operands(&o);
        return ln_fail(LN_EINVAL, "grad_output has shape %s but the output of input %s has "
                       "%lld features", ln_shape_string(grad_output, tg, sizeof tg),
                       ln_shape_string(input, ti, sizeof ti), (long long)o.out);
    }
    const float *gy = ln_data(&o.gy);

    /* ln_gemm skips empty products and writes beta * C when the inner size
     * is 0: zeros for grad_input, an unchanged grad_weight. */
    if (grad_input)
        ln_gemm(false, false, o.rows, o.in, o.out, 1.0f, gy, o.out, ln_data(&o.w), o.in, 0.0f,
                ln_data(grad_input), o.in);
    if (grad_weight)
        ln_gemm(true, false, o.out, o.in, o.rows, 1.0f, gy, o.out, ln_data(&o.x), o.in, 1.0f,
                ln_data(grad_weight), o.in);
    if (grad_bias) {
        float *gb = ln_data(grad_bias);
        for (int64_t j = 0; j < o.out; j++)
            gb[j] += (float)ln_sum_strided(gy + j, o.rows, o.out);
    }
    release_operands(&o);
    return LN_OK;
}
