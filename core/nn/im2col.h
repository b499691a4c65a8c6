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

#include <stdint.h>

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

/* Writes the patch-matrix row of tap (ki, kj) of one input plane over output
 * positions [first, first + count) in row-major order, which may span
 * several output rows, into dst[0 .. count). */
void ln_patch_row(float *dst, const float *plane, const ln_patch_geometry *g, int64_t ki,
                  int64_t kj, int64_t first, int64_t count);

#endif
