/* im2col and col2im: the patch matrix that turns a convolution into a GEMM.
 *
 * For one sample's input planes (channels x height x width, contiguous), the
 * patch matrix has one row per (channel, kernel row, kernel column) and one
 * column per output position. Entry (c, ki, kj; oh, ow) is the input pixel
 * under kernel tap (ki, kj) when the kernel sits at output (oh, ow). Taps
 * that fall in the padding read 0. To bound its size, the matrix covers a
 * block of output rows [first_row, first_row + row_count), so it has
 * row_count * out_width columns per sample.
 *
 * Several samples share one matrix side by side: sample s (0 <= s < samples)
 * reads input + s * sample_stride and owns the columns from
 * s * row_count * out_width on, so the matrix has
 * samples * row_count * out_width columns, the row stride. Internal to the
 * core's conv kernels. */
#ifndef LUNET_NN_IM2COL_H
#define LUNET_NN_IM2COL_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

typedef struct ln_patch_geometry {
    int64_t channels, height, width;  /* input planes */
    int64_t out_height, out_width;
    int64_t kernel[2], stride[2], padding[2], dilation[2];  /* (h, w) each */
} ln_patch_geometry;

/* Writes the patch matrix of the block into col, row-major. */
void ln_im2col(float *col, const float *input, int64_t sample_stride, int64_t samples,
               const ln_patch_geometry *g, int64_t first_row, int64_t row_count);

/* Adds each entry of the block's patch matrix col into the input pixel it
 * was read from: the adjoint of ln_im2col, so input accumulates. */
void ln_col2im(float *input, int64_t sample_stride, int64_t samples, const float *col,
               const ln_patch_geometry *g, int64_t first_row, int64_t row_count);

/* A whole convolution through the GEMM kernel: batch samples of groups
 * groups, each group mapping geometry.channels input channels (planes of
 * contiguous input) to out_channels output channels. */
typedef struct ln_patch_conv {
    ln_patch_geometry geometry;
    int64_t batch, groups, out_channels;
} ln_patch_conv;

/* Floats of workspace that ln_patch_forward needs. */
int64_t ln_patch_forward_workspace(const ln_patch_conv *c);

/* [OUT] output = the convolution of input with weight (out_channels *
 * groups, channels, kernel[0], kernel[1]), plus bias (NULL for none), on
 * the OpenMP threads. The patch matrix is built a block at a time and never
 * whole. Polls ln_interrupted() and returns LN_EINTR, the output partly
 * written. */
ln_status ln_patch_forward(float *output, const float *input, const float *weight,
                           const float *bias, const ln_patch_conv *c, float *workspace);

/* Whether ln_patch_weight_grad handles this convolution: stride 1, and
 * planes small enough to address with 32-bit offsets. */
bool ln_patch_weight_grad_supported(const ln_patch_conv *c);

/* Floats of workspace that ln_patch_weight_grad needs. */
int64_t ln_patch_weight_grad_workspace(const ln_patch_conv *c);

/* [OUT] grad_weight += the gradient of the convolution's weight, for
 * grad_output of the output's shape, where supported. On the OpenMP threads;
 * polls ln_interrupted() and returns LN_EINTR with grad_weight partly
 * summed. */
ln_status ln_patch_weight_grad(float *grad_weight, const float *input,
                               const float *grad_output, const ln_patch_conv *c,
                               float *workspace);

#endif
