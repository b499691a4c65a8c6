/* Fully connected layer: y = x W^T + b.
 *
 * input (*, in_features), weight (out_features, in_features), bias
 * (out_features) or NULL, output (*, out_features): any leading dims are
 * treated as a batch of rows. At one row the product runs as a GEMV, which
 * OpenBLAS does faster than a GEMM with N = 1. */
#ifndef LUNET_NN_LINEAR_H
#define LUNET_NN_LINEAR_H

#include "tensor.h"

/* Checks shapes, naming both when in_features disagree. */
ln_status ln_linear_check(const ln_tensor *input, const ln_tensor *weight, const ln_tensor *bias);

/* [OUT] output = input W^T + bias. */
ln_status ln_linear_forward(ln_tensor *output, const ln_tensor *input, const ln_tensor *weight,
                            const ln_tensor *bias);

/* [OUT] grad_input = grad_output W (skipped when NULL); grad_weight +=
 * grad_output^T input and grad_bias += the row sum of grad_output (each
 * skipped when NULL). Gradients accumulate, as parameters' grads do. */
ln_status ln_linear_backward(ln_tensor *grad_input, ln_tensor *grad_weight, ln_tensor *grad_bias,
                             const ln_tensor *grad_output, const ln_tensor *input,
                             const ln_tensor *weight);

#endif
