/* Convolution on the GEMM micro-kernels (gemm_kernel.h), on OpenMP threads.
 *
 * Forward: with stride 1 the kernel reads a zero-padded copy of the input in
 * place, one offset per kernel tap, and no patch matrix is built; other
 * strides build the patch matrix (nn/im2col.h) a block at a time. Weight
 * gradient, stride 1 only: dot products of grad_output with shifted input
 * planes. The gradient of the input is the forward convolution of
 * grad_output with the flipped, transposed filters, which the caller sets
 * up. Internal to the core's conv layers: shapes are checked by the caller,
 * input and output are contiguous. */
#ifndef LUNET_GEMM_CONV_H
#define LUNET_GEMM_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/im2col.h"
#include "status.h"

/* A convolution: batch samples of groups groups, each group mapping
 * geometry.channels input channels to out_channels output channels. */
typedef struct ln_gemm_conv {
    ln_patch_geometry geometry;
    int64_t batch, groups, out_channels;
} ln_gemm_conv;

/* Floats of workspace that ln_gemm_conv_forward needs. */
int64_t ln_gemm_conv_forward_workspace(const ln_gemm_conv *c);

/* [OUT] output = the convolution of input with weight (out_channels *
 * groups, channels, kernel[0], kernel[1]), plus bias (NULL for none). Polls
 * ln_interrupted() and returns LN_EINTR, the output partly written. */
ln_status ln_gemm_conv_forward(float *output, const float *input, const float *weight,
                               const float *bias, const ln_gemm_conv *c, float *workspace);

/* Whether ln_gemm_conv_weight_grad handles this convolution: stride 1, and
 * planes small enough to address with 32-bit offsets. */
bool ln_gemm_conv_weight_grad_supported(const ln_gemm_conv *c);

/* Floats of workspace that ln_gemm_conv_weight_grad needs. */
int64_t ln_gemm_conv_weight_grad_workspace(const ln_gemm_conv *c);

/* [OUT] grad_weight += the gradient of the convolution's weight, for
 * grad_output of the output's shape, where supported. Polls
 * ln_interrupted() and returns LN_EINTR with grad_weight partly summed. */
ln_status ln_gemm_conv_weight_grad(float *grad_weight, const float *input,
                                   const float *grad_output, const ln_gemm_conv *c,
                                   float *workspace);

#endif
