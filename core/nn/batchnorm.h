/* Batch normalization over the channel dim of (N, C, *) input.
 *
 * Every channel c is normalized over its N x (trailing size) values:
 *     y = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]
 * In training, mean and var are the channel's mean and biased variance over
 * the batch, computed in double. Otherwise they are the running statistics.
 * weight and bias may be NULL, which acts as 1 and 0 (affine = false).
 *
 * Input, output and gradients are (N, C, *) with at least 2 dims. Every
 * per-channel tensor is 1-d of C elements and may have any stride. Work runs
 * on OpenMP threads over the N x C planes for large inputs, and a pending
 * ln_interrupt() stops it with LN_EINTR. */
#ifndef LUNET_NN_BATCHNORM_H
#define LUNET_NN_BATCHNORM_H

#include <stdbool.h>

#include "tensor.h"

typedef struct ln_batch_norm {
    bool training;         /* normalize with batch statistics and update running ones */
    double momentum;       /* running = (1 - momentum) running + momentum batch */
    double eps;            /* added to the variance before the square root */
} ln_batch_norm;

/* [OUT] output (input's shape, contiguous) = the normalized input.
 *
 * In training, save_mean and save_invstd [OUT] (C, contiguous) receive the
 * batch mean and 1 / sqrt(var + eps), which backward needs. running_mean and
 * running_var [OUT], unless NULL, move towards the batch mean and the
 * unbiased batch variance var n / (n - 1), where n is the count of values per
 * channel. Training needs n >= 2 and fails otherwise with "expected more than
 * 1 value per channel when training, got input of shape 1x3x1x1".
 *
 * Out of training, running_mean and running_var are required and only read,
 * and the save tensors may be NULL.
 *
 * Fails naming the shapes when a per-channel tensor does not have C
 * elements. An input without elements gives an empty output and changes
 * nothing but zero-filling the save tensors. */
ln_status ln_batch_norm_forward(ln_tensor *output, ln_tensor *save_mean, ln_tensor *save_invstd,
                                ln_tensor *running_mean, ln_tensor *running_var,
                                const ln_tensor *input, const ln_tensor *weight,
                                const ln_tensor *bias, const ln_batch_norm *options);

/* [OUT] invstd (C, contiguous) = 1 / sqrt(var + eps), for backward after a
 * forward pass out of training. */
ln_status ln_batch_norm_invstd(ln_tensor *invstd, const ln_tensor *var, double eps);

/* Gradients of a forward pass that normalized with mean and invstd: in
 * training the saved batch statistics, otherwise the running mean and
 * ln_batch_norm_invstd of the running variance.
 *
 * [OUT] grad_input (input's shape, contiguous; skipped when NULL). In
 * training it includes the paths through the batch mean and variance,
 *     grad_input = weight invstd (g - mean(g) - xhat mean(g xhat)),
 * where g is grad_output, xhat the normalized input and the means run over
 * the channel; otherwise it is g weight invstd.
 * grad_weight += sum(g xhat) and grad_bias += sum(g) per channel (each
 * skipped when NULL): gradients accumulate, as parameters' grads do. */
ln_status ln_batch_norm_backward(ln_tensor *grad_input, ln_tensor *grad_weight,
                                 ln_tensor *grad_bias, const ln_tensor *grad_output,
                                 const ln_tensor *input, const ln_tensor *weight,
                                 const ln_tensor *mean, const ln_tensor *invstd, bool training);

#endif
