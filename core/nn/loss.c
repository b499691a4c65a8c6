/* Elementwise losses: mean squared error and binary cross entropy on logits.
 *
 * Both passes run one strided loop (ln_apply) over five operands in a fixed
 * order: the tensor written, input, target, pos_weight and grad_output. An
 * operand a loss does not use reads a single constant through zero strides,
 * so one driver serves every loss. A reduced loss writes the element losses
 * into a scratch tensor and sums it pairwise in double. */
#include "nn/loss.h"

#include <math.h>
#include <string.h>

#include "internal.h"

enum { WRITTEN, INPUT, TARGET, POS_WEIGHT, GRAD_OUTPUT, OPERAND_COUNT };

/* The element value of operand k in the row at offset i. */
#define AT(k, i) ptr[k][(i) * step[k]]

static void mse_row(int64_t n, float **ptr, const int64_t *step, void *context)
{
    for (int64_t i = 0; i < n; i++) {
        float difference = AT(INPUT, i) - AT(TARGET, i);
        AT(WRITTEN, i) = difference * difference;
    }
}

static void mse_grad_row(int64_t n, float **ptr, const int64_t *step, void *context)
{
    float scale = *(const float *)context;
    for (int64_t i = 0; i < n; i++)
        AT(WRITTEN, i) = 2.0f * (AT(INPUT, i) - AT(TARGET, i)) * AT(GRAD_OUTPUT, i) * scale;
}

/* log(1 + exp(-x)) = log1p(exp(-|x|)) + max(-x, 0) exponentiates only
 * values <= 0. */
static void bce_row(int64_t n, float **ptr, const int64_t *step, void *context)
{
    for (int64_t i = 0; i < n; i++) {
        float x = AT(INPUT, i), y = AT(TARGET, i), p = AT(POS_WEIGHT, i);
        float softplus_neg = log1pf(expf(-fabsf(x))) + fmaxf(-x, 0.0f);
        AT(WRITTEN, i) = (1.0f - y) * x + (1.0f + (p - 1.0f) * y) * softplus_neg;
    }
}

/* d/dx = (1 + (p - 1) y) sigmoid(x) - p y, which is sigmoid(x) - y for p = 1. */
static void bce_grad_row(int64_t n, float **ptr, const int64_t *step, void *context)
{
    float scale = *(const float *)context;
    for (int64_t i = 0; i < n; i++) {
        float x = AT(INPUT, i), y = AT(TARGET, i), p = AT(POS_WEIGHT, i);
        float e = expf(-fabsf(x));
        float sigmoid = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        float grad = (1.0f + (p - 1.0f) * y) * sigmoid - p * y;
        AT(WRITTEN, i) = grad * AT(GRAD_OUTPUT, i) * scale;
    }
}

/* Checks input, target and pos_weight (may be NULL) against each other. */
static ln_status check_operands(const ln_tensor *input, const ln_tensor *target,
                                const ln_tensor *pos_weight)
{
    char ti[256], tt[256];
    if (!ln_same_shape(input, target))
        return ln_fail(LN_EINVAL, "input %s and target %s differ",
                       ln_shape_string(input, ti, sizeof ti),
                       ln_shape_string(target, tt, sizeof tt));
    if (!pos_weight)
        return LN_OK;

    int ndim;
    int64_t shape[LN_MAX_DIMS];
    ln_status status = ln_broadcast_shape(input, pos_weight, &ndim, shape);
    if (status || ndim != input->ndim ||
        memcmp(shape, input->shape, sizeof(int64_t) * ndim) != 0)
        return ln_fail(LN_EINVAL, "pos_weight %s does not broadcast to input %s",
                       ln_shape_string(pos_weight, tt, sizeof tt),
                       ln_shape_string(input, ti, sizeof ti));
    return LN_OK;
}

/* Sets an operand that reads t as the input's shape (broadcast), or reads
 * the constant *fallback when t is NULL. */
static void set_operand(ln_operand *op, const ln_tensor *t, const ln_tensor *input,
                        float *fallback)
{
    if (!t) {
        op->data = fallback;
        for (int d = 0; d < LN_MAX_DIMS; d++)
            op->stride[d] = 0;
        return;
    }
    op->data = ln_data(t);
    ln_broadcast_strides(t, input->ndim, input->shape, op->stride);
}

/* Runs row over every element of input with the operands in their fixed
 * order. A NULL pos_weight reads 1. A NULL grad_output reads *grad_scalar,
 * or 1 when grad_scalar is NULL too. */
static void run_rows(ln_tensor *written, const ln_tensor *input, const ln_tensor *target,
                     const ln_tensor *pos_weight, const ln_tensor *grad_output,
                     float *grad_scalar, ln_row_fn row, void *context)
{
    float one = 1.0f;
    ln_operand ops[OPERAND_COUNT];
    set_operand(&ops[WRITTEN], written, input, NULL);
    set_operand(&ops[INPUT], input, input, NULL);
    set_operand(&ops[TARGET], target, input, NULL);
    set_operand(&ops[POS_WEIGHT], pos_weight, input, &one);
    set_operand(&ops[GRAD_OUTPUT], grad_output, input, grad_scalar ? grad_scalar : &one);
    ln_apply(OPERAND_COUNT, ops, input->ndim, input->shape, row, context, true);
}

static ln_status elementwise_loss(ln_tensor *output, const ln_tensor *input,
                                  const ln_tensor *target, const ln_tensor *pos_weight,
                                  ln_reduction reduction, ln_row_fn row)
{
    ln_status status = check_operands(input, target, pos_weight);
    if (status)
        return status;
    bool unreduced = reduction == LN_REDUCTION_NONE;
    if (unreduced ? !ln_same_shape(output, input) : ln_numel(output) != 1) {
        char to[256], ti[256];
        return ln_fail(LN_EINVAL, "output has shape %s but the loss has shape %s",
                       ln_shape_string(output, to, sizeof to),
                       unreduced ? ln_shape_string(input, ti, sizeof ti) : "scalar");
    }

    ln_tensor scratch = {0};
    ln_tensor *written = output;
    if (!unreduced) {
        if ((status = ln_tensor_alloc(&scratch, input->ndim, input->shape)))
            return status;
        written = &scratch;
    }

    run_rows(written, input, target, pos_weight, NULL, NULL, row, NULL);

    if (!unreduced) {
        int64_t count = ln_numel(input);
        double total = ln_sum_strided(ln_data(&scratch), count, 1);
        if (reduction == LN_REDUCTION_MEAN)
            total /= (double)count;
        ln_data(output)[0] = (float)total;
        ln_tensor_release(&scratch);
    }
    return LN_OK;
}

static ln_status elementwise_loss_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                           const ln_tensor *input, const ln_tensor *target,
                                           const ln_tensor *pos_weight, ln_reduction reduction,
                                           ln_row_fn row)
{
    char tg[256], ti[256];
    ln_status status = check_operands(input, target, pos_weight);
    if (status)
        return status;
    bool unreduced = reduction == LN_REDUCTION_NONE;
    bool scalar = ln_numel(grad_output) == 1;
    if (!scalar && !(unreduced && ln_same_shape(grad_output, input)))
        return ln_fail(LN_EINVAL, "grad_output has shape %s but the loss has shape %s",
                       ln_shape_string(grad_output, tg, sizeof tg),
                       unreduced ? ln_shape_string(input, ti, sizeof ti) : "scalar");
    if (!ln_same_shape(grad_input, input))
        return ln_fail(LN_EINVAL, "grad_input has shape %s but input has shape %s",
                       ln_shape_string(grad_input, tg, sizeof tg),
                       ln_shape_string(input, ti, sizeof ti));

    int64_t count = ln_numel(input);
    float scale = reduction == LN_REDUCTION_MEAN ? (float)(1.0 / (double)count) : 1.0f;
    run_rows(grad_input, input, target, pos_weight, scalar ? NULL : grad_output,
             ln_data(grad_output), row, &scale);
    return LN_OK;
}

ln_status ln_mse_loss(ln_tensor *output, const ln_tensor *input, const ln_tensor *target,
                      ln_reduction reduction)
{
    return elementwise_loss(output, input, target, NULL, reduction, mse_row);
}

ln_status ln_mse_loss_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                               const ln_tensor *input, const ln_tensor *target,
                               ln_reduction reduction)
{
    return elementwise_loss_backward(grad_input, grad_output, input, target, NULL, reduction,
                                     mse_grad_row);
}

ln_status ln_bce_with_logits(ln_tensor *output, const ln_tensor *input, const ln_tensor *target,
                             const ln_tensor *pos_weight, ln_reduction reduction)
{
    return elementwise_loss(output, input, target, pos_weight, reduction, bce_row);
}

ln_status ln_bce_with_logits_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                      const ln_tensor *input, const ln_tensor *target,
                                      const ln_tensor *pos_weight, ln_reduction reduction)
{
    return elementwise_loss_backward(grad_input, grad_output, input, target, pos_weight,
                                     reduction, bce_grad_row);
}
