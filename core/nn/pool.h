/* 2-d pooling: max, average and adaptive average, forward and backward.
 *
 * Inputs are (N, C, H, W) or, unbatched, (C, H, W). Each of the N x C planes
 * is pooled on its own, and outputs keep the input's rank: (N, C, out_h,
 * out_w) or (C, out_h, out_w). Pairs are {height, width}.
 *
 * Output sizes follow PyTorch (1.13):
 *     out = floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1
 * with ceil in place of floor under ceil_mode. A ceil_mode window that would
 * start inside the right padding, (out - 1) stride >= in + padding, is
 * dropped, so every window starts on a real row and column.
 *
 * Forward functions write an [OUT] contiguous output of the shape the
 * matching *_shape function gives. Backward functions write an [OUT]
 * contiguous grad_input of the input's shape (overwritten, not accumulated)
 * and check that grad_output has the output's shape. Inputs may have any
 * strides. Planes run on OpenMP threads for large inputs, and a pending
 * ln_interrupt() makes a kernel stop early with LN_EINTR. */
#ifndef LUNET_NN_POOL_H
#define LUNET_NN_POOL_H

#include <stdbool.h>

#include "tensor.h"

/* Options are limited to this value, so window arithmetic cannot overflow. */
#define LN_POOL_MAX_OPTION 2147483647

typedef struct ln_pool2d {
    int64_t kernel_size[2];        /* >= 1 */
    int64_t stride[2];             /* >= 1 */
    int64_t padding[2];            /* 0 to kernel_size / 2, rounded down */
    int64_t dilation[2];           /* >= 1; average pooling requires 1 */
    bool ceil_mode;
    bool count_include_pad;        /* average pooling: padded cells count in the divisor */
    int64_t divisor_override;      /* average pooling: > 0 replaces the divisor; 0 = none */
} ln_pool2d;

/* Checks the options, naming the offending one in PyTorch's terms
 * ("padding must be at most half of kernel_size, got padding 2 and
 * kernel_size 3"). */
ln_status ln_pool2d_check(const ln_pool2d *pool);

/* Writes the output shape (input->ndim sizes) of pooling input. Fails on
 * bad options, an input that is not 3-d or 4-d, an empty height or width,
 * and an input that pools to nothing ("input 1x3x1x1 is too small: kernel 2
 * with padding 0 and dilation 1 gives an output of 0x0"). The average pooling
 * message leaves out dilation, which it does not have. */
ln_status ln_max_pool2d_shape(int64_t *shape, const ln_tensor *input, const ln_pool2d *pool);
ln_status ln_avg_pool2d_shape(int64_t *shape, const ln_tensor *input, const ln_pool2d *pool);

/* Max pooling. Padding acts as -inf, and a window containing NaN gives NaN.
 * Backward recomputes each window's argmax from input and routes grad_output
 * there. As in PyTorch 1.13, the first of equal maxima in row-major order
 * wins, or the last NaN when the window has any. A dilated window that misses
 * every real cell gives -inf and passes no gradient. */
ln_status ln_max_pool2d_forward(ln_tensor *output, const ln_tensor *input,
                                const ln_pool2d *pool);
ln_status ln_max_pool2d_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                 const ln_tensor *input, const ln_pool2d *pool);

/* Average pooling (dilation must be 1). Each window sums its real cells in
 * double and divides the sum by divisor_override when it is set. Otherwise
 * count_include_pad divides by the window's cells inside the padded input,
 * so cells of a ceil_mode window past the padding do not count, and without
 * count_include_pad the divisor is the count of real cells. grad_input's
 * shape gives the input shape. */
ln_status ln_avg_pool2d_forward(ln_tensor *output, const ln_tensor *input,
                                const ln_pool2d *pool);
ln_status ln_avg_pool2d_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                 const ln_pool2d *pool);

/* Adaptive average pooling to output_size {out_h, out_w} (each >= 1). Output
 * i along a dim of input size in averages [floor(i in / out), ceil((i + 1) in
 * / out)), so the windows cover the input and overlap when the sizes do not
 * divide. Height and width of the input are limited to LN_POOL_MAX_OPTION.
 * grad_input's shape gives the input shape. */
ln_status ln_adaptive_avg_pool2d_shape(int64_t *shape, const ln_tensor *input,
                                       const int64_t *output_size);
ln_status ln_adaptive_avg_pool2d_forward(ln_tensor *output, const ln_tensor *input,
                                         const int64_t *output_size);
ln_status ln_adaptive_avg_pool2d_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                          const int64_t *output_size);

#endif
