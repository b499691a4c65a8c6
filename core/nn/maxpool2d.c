/* 2-d max pooling. Backward recomputes each window's argmax from the input
 * instead of keeping indices from forward: indices would not fit exactly in
 * float32 storage for planes above 2^24 cells, and recomputing cannot go
 * stale when forward ran on another input. */
#include <math.h>

#include "internal.h"
#include "nn/pool_plan.h"

/* The taps of one window along one dim: real positions first, first + step,
 * ..., count of them (count 0 when the window misses every real cell). */
typedef struct taps {
    int64_t first, step, count;
} taps;

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* Taps of output o along a dim of size in; the window starts below in, so
 * in - start > 0. */
static taps window_taps(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                        int64_t dilation)
{
    int64_t start = o * stride - padding;
    int64_t begin = start < 0 ? ceil_div(-start, dilation) : 0;
    int64_t end = ceil_div(in - start, dilation);
    if (end > kernel)
        end = kernel;
    taps t = {start + begin * dilation, dilation, end > begin ? end - begin : 0};
    return t;
}

/* Offset in the plane of the window's max: the first of equal maxima, or
 * the last NaN, as PyTorch picks. -1 when the window has no real cell. */
static int64_t window_argmax(const float *plane, int64_t in_w, taps rows, taps cols)
{
    if (rows.count == 0 || cols.count == 0)
        return -1;
    int64_t best_at = rows.first * in_w + cols.first;
    float best = -INFINITY;
    for (int64_t i = 0; i < rows.count; i++) {
        int64_t row = (rows.first + i * rows.step) * in_w;
        for (int64_t j = 0; j < cols.count; j++) {
            int64_t at = row + cols.first + j * cols.step;
            float v = plane[at];
            if (v > best || isnan(v)) {
                best = v;
                best_at = at;
            }
        }
    }
    return best_at;
}

static taps row_taps(const ln_pool_plan *plan, const ln_pool2d *pool, int64_t oh)
{
    return window_taps(oh, plan->in_h, pool->kernel_size[0], pool->stride[0], pool->padding[0],
                       pool->dilation[0]);
}

static taps col_taps(const ln_pool_plan *plan, const ln_pool2d *pool, int64_t ow)
{
    return window_taps(ow, plan->in_w, pool->kernel_size[1], pool->stride[1], pool->padding[1],
                       pool->dilation[1]);
}

/* Task i: output row i % out_h of plane i / out_h. */
static void forward_row(const ln_pool_plan *plan, int64_t i, const void *options)
{
    const ln_pool2d *pool = options;
    const float *plane = ln_data(&plan->input) + i / plan->out_h * plan->in_h * plan->in_w;
    float *y = plan->target + i * plan->out_w;
    taps rows = row_taps(plan, pool, i % plan->out_h);

    for (int64_t ow = 0; ow < plan->out_w; ow++) {
        int64_t at = window_argmax(plane, plan->in_w, rows, col_taps(plan, pool, ow));
        y[ow] = at < 0 ? -INFINITY : plane[at];
    }
}

/* Task p: plane p, whose windows may overlap and add into one input cell. */
static void backward_plane(const ln_pool_plan *plan, int64_t p, const void *options)
{
    const ln_pool2d *pool = options;
    int64_t in_size = plan->in_h * plan->in_w;
    const float *plane = ln_data(&plan->input) + p * in_size;
    const float *gy = ln_data(&plan->grad_output) + p * plan->out_h * plan->out_w;
    float *gx = plan->target + p * in_size;

    for (int64_t oh = 0; oh < plan->out_h; oh++) {
        taps rows = row_taps(plan, pool, oh);
        for (int64_t ow = 0; ow < plan->out_w; ow++) {
            int64_t at = window_argmax(plane, plan->in_w, rows, col_taps(plan, pool, ow));
            if (at >= 0)
                gx[at] += gy[oh * plan->out_w + ow];
        }
    }
}

ln_status ln_max_pool2d_forward(ln_tensor *output, const ln_tensor *input, const ln_pool2d *pool)
{
    int64_t shape[4];
    ln_status status = ln_max_pool2d_shape(shape, input, pool);
    if (status)
        return status;
    return ln_pool_forward(output, input, shape, pool->kernel_size[0] * pool->kernel_size[1],
                           forward_row, pool);
}

ln_status ln_max_pool2d_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                 const ln_tensor *input, const ln_pool2d *pool)
{
    int64_t shape[4];
    ln_status status = ln_max_pool2d_shape(shape, input, pool);
    if (status)
        return status;
    return ln_pool_backward(grad_input, grad_output, input, shape,
                            pool->kernel_size[0] * pool->kernel_size[1], backward_plane, pool);
}
