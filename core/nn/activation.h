/* Activation functions and their gradients, elementwise over tensors of any
 * shape and strides.
 *
 * The forward passes of ReLU, sigmoid and tanh are ln_unary (elementwise.h);
 * this file adds leaky ReLU and the backward passes. In every function all
 * tensors have the same shape, and the [OUT] tensor may be the same view as
 * an input but must not otherwise overlap one. The gradients follow
 * PyTorch's conventions at kinks: ReLU passes no gradient at x = 0, and leaky
 * ReLU passes negative_slope times it there. */
#ifndef LUNET_NN_ACTIVATION_H
#define LUNET_NN_ACTIVATION_H

#include "tensor.h"

/* [OUT] out = x for x > 0, negative_slope * x otherwise. */
ln_status ln_leaky_relu(ln_tensor *out, const ln_tensor *x, float negative_slope);

/* [OUT] grad_input from grad_output and the forward input:
 * ReLU: grad_output where input > 0, else 0;
 * leaky ReLU: grad_output where input > 0, else negative_slope * grad_output. */
ln_status ln_relu_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                           const ln_tensor *input);
ln_status ln_leaky_relu_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                 const ln_tensor *input, float negative_slope);

/* [OUT] grad_input from grad_output and the forward output y:
 * sigmoid: grad_output * y * (1 - y); tanh: grad_output * (1 - y^2). */
ln_status ln_sigmoid_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                              const ln_tensor *output);
ln_status ln_tanh_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                           const ln_tensor *output);

#endif
