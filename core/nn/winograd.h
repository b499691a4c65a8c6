/* Winograd F(4x4, 3x3) convolution: 3x3 kernels with stride 1 and dilation 1.
 *
 * Each 4x4 block of output ("tile") comes from the 6x6 input patch under it.
 * Input patches and 3x3 filters are transformed into a 6x6 domain where the
 * convolution becomes 36 independent products over channels,
 *
 *     M[xi] (out_channels x tiles) = U[xi] (out_channels x channels)
 *                                    x V[xi] (channels x tiles),
 *
 * computed by the packed GEMM kernel; the inverse transform of M gives the
 * output tiles. That takes 36 multiply-adds per tile, channel and output
 * channel instead of 144 (Lavin and Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2015, with their interpolation points 0, +-1, +-2).
 *
 * The transforms add rounding error. Against a double reference, with
 * uniform inputs and weights, the largest error measured 2e-6 to 7e-6 of the
 * output's largest magnitude for 16 to 512 channels, where the GEMM path
 * measured 3e-7 to 6e-7.
 * NOTE: the points 0, +-1, 1/2, -2 halve that error in a float32 simulation
 * of these transforms; the kernels still use Lavin and Gray's.
 *
 * Internal to the conv kernels: shapes are checked by the caller. */
#ifndef LUNET_NN_WINOGRAD_H
#define LUNET_NN_WINOGRAD_H

#include "status.h"

#include <stdbool.h>
#include <stdint.h>

/* One convolution: input (batch, channels, height, width) and output
 * (batch, out_channels, out_height, out_width), both contiguous, where
 * out_height = height + 2 * padding[0] - 2 and likewise for the width.
 *
 * The filter of output channel o and input channel i is the 3x3 block at
 * weight + o * weight_stride[0] + i * weight_stride[1], rows 3 floats
 * apart; with flip set, it is read rotated by 180 degrees. A forward pass
 * reads weight (out_channels, channels, 3, 3) with strides (channels * 9,
 * 9); the gradient of the input is the convolution of grad_output with the
 * flipped filters of the transposed weight, strides (9, out_channels * 9),
 * and padding 2 - padding. */
typedef struct ln_winograd_problem {
    int64_t batch, channels, out_channels;
    int64_t height, width;
    int64_t padding[2];
    int64_t weight_stride[2];
    bool flip;
} ln_winograd_problem;

/* Floats of workspace that ln_winograd_run needs. */
int64_t ln_winograd_workspace_size(const ln_winograd_problem *p);

/* [OUT] output = the convolution of input with the filters, plus bias
 * (out_channels floats, or NULL for none). Runs on the OpenMP threads and
 * polls ln_interrupted() between blocks, returning LN_EINTR with the output
 * partly written. */
ln_status ln_winograd_run(float *output, const float *input, const float *weight,
                          const float *bias, const ln_winograd_problem *p, float *workspace);

/* Whether ln_winograd_weight_grad takes this problem: its 36 matrices of
 * out_channels x channels sums must fit the workspace bound (16 MiB). */
bool ln_winograd_weight_grad_supported(const ln_winograd_problem *p);

/* Floats of workspace that ln_winograd_weight_grad needs. */
int64_t ln_winograd_weight_grad_workspace_size(const ln_winograd_problem *p);

/* [OUT] grad_weight += the gradient of the weight of the forward problem p
 * (as ln_winograd_run reads it) for grad_output of the output's shape, by
 * Winograd F(3x3, 4x4). Polls ln_interrupted() and returns LN_EINTR with
 * grad_weight unchanged. */
ln_status ln_winograd_weight_grad(float *grad_weight, const float *input,
                                  const float *grad_output, const ln_winograd_problem *p,
                                  float *workspace);

#endif
