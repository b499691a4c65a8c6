/* 2-d convolution (cross-correlation, as in every deep-learning library).
 *
 * input (N, C, H, W) or unbatched (C, H, W); weight (OC, C / groups, KH, KW);
 * bias (OC) or NULL; output (N, OC, OH, OW), or (OC, OH, OW) for an
 * unbatched input, with
 *
 *     OH = (H + 2 * padding_h - dilation_h * (KH - 1) - 1) / stride_h + 1
 *
 * and OW likewise. Input channel group g (C / groups channels) feeds output
 * channel group g (OC / groups channels).
 *
 * Two algorithms compute it. GEMM: on CPUs with AVX-512, the GEMM kernels of
 * gemm_conv.h (the padded input read in place for stride 1, a blocked patch
 * matrix otherwise); elsewhere, and for the backward pass of strided
 * convolutions, an im2col patch matrix times the weight through OpenBLAS.
 * Winograd (nn/winograd.h): 3x3 kernels with stride 1, dilation 1 and one
 * group, in about a quarter of the multiplications, for forward, grad_input
 * and grad_weight. The buffers live in a caller-provided workspace, so a
 * layer called in a loop allocates nothing. Kernels poll ln_interrupted()
 * between blocks and return LN_EINTR ("interrupted"), leaving [OUT] tensors
 * partly written. */
#ifndef LUNET_NN_CONV2D_H
#define LUNET_NN_CONV2D_H

#include "tensor.h"

/* LN_CONV2D_AUTO picks by shape; the others force an algorithm, for tests
 * and measurements. */
typedef enum ln_conv2d_algorithm {
    LN_CONV2D_AUTO,
    LN_CONV2D_GEMM,
    LN_CONV2D_WINOGRAD,
} ln_conv2d_algorithm;

/* (h, w) pairs. stride and dilation >= 1, padding >= 0, groups >= 1, each
 * at most LN_CONV2D_MAX_OPTION. A zero-initialised algorithm is AUTO. */
typedef struct ln_conv2d_options {
    int64_t stride[2];
    int64_t padding[2];
    int64_t dilation[2];
    int64_t groups;
    ln_conv2d_algorithm algorithm;
} ln_conv2d_options;

#define LN_CONV2D_MAX_OPTION INT32_MAX

/* Checks the ranges above: "stride must be >= 1, got (0, 1)". */
ln_status ln_conv2d_check_options(const ln_conv2d_options *options);

/* Checks the options and the shapes of input, weight and bias (NULL for
 * none) and writes the output's rank and shape. Messages name the shapes:
 * "input has 4 channels but weight expects 3 (input 1x4x32x32, weight
 * 16x3x3x3)". A forced Winograd on another kernel fails: "algorithm
 * 'winograd' needs a 3x3 kernel with stride 1, dilation 1 and groups 1 (weight
 * 16x3x5x5, stride 1, dilation 1, groups 1)". */
ln_status ln_conv2d_output_shape(int *ndim, int64_t *shape, const ln_tensor *input,
                                 const ln_tensor *weight, const ln_tensor *bias,
                                 const ln_conv2d_options *options);

/* The number of floats of workspace that forward and backward need for these
 * (valid) arguments; 0 when the direct 1x1 path needs none. */
int64_t ln_conv2d_workspace_size(const ln_tensor *input, const ln_tensor *weight,
                                 const ln_conv2d_options *options);

/* [OUT] output = conv2d(input, weight) + bias. output must be contiguous.
 * workspace has room for ln_conv2d_workspace_size() floats, or is NULL to
 * have the function allocate (and free) its own. */
ln_status ln_conv2d_forward(ln_tensor *output, const ln_tensor *input, const ln_tensor *weight,
                            const ln_tensor *bias, const ln_conv2d_options *options,
                            float *workspace);

/* [OUT] grad_input = the gradient of the output with respect to the input,
 * contracted with grad_output; grad_weight and grad_bias accumulate (+=) the
 * gradients of the parameters, as parameters' grads do. Each of the three
 * may be NULL to skip it and must otherwise be contiguous, shaped like
 * input, weight and (OC), and apart from the inputs' memory. grad_output has
 * the output's shape. workspace is as for ln_conv2d_forward. */
ln_status ln_conv2d_backward(ln_tensor *grad_input, ln_tensor *grad_weight, ln_tensor *grad_bias,
                             const ln_tensor *grad_output, const ln_tensor *input,
                             const ln_tensor *weight, const ln_conv2d_options *options,
                             float *workspace);

#endif
