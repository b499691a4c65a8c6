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

/* VGG's 2x2 pooling with stride 2 and no padding or dilation, whose windows
 * away from a ceil_mode edge lie wholly inside the input, takes a
 * branch-light path over rows of such windows. */
static bool is_plain_2x2(const ln_pool2d *pool)
{
    return pool->kernel_size[0] == 2 && pool->kernel_size[1] == 2 && pool->stride[0] == 2 &&
           pool->stride[1] == 2 && pool->padding[0] == 0 && pool->padding[1] == 0 &&
           pool->dilation[0] == 1 && pool->dilation[1] == 1;
}

/* The max of a then b, where a NaN wins, as window_argmax's order gives. */
static inline float max_nan(float a, float b)
{
    return (b > a || b != b) ? b : a;
}

/* Output columns [0, count) of a plain 2x2 row whose two input rows are r0
 * and r1. */
static void forward_row_2x2(const float *r0, const float *r1, float *y, int64_t count)
{
    for (int64_t ow = 0; ow < count; ow++) {
        float top = max_nan(max_nan(-INFINITY, r0[2 * ow]), r0[2 * ow + 1]);
        y[ow] = max_nan(max_nan(top, r1[2 * ow]), r1[2 * ow + 1]);
    }
}

/* Full windows of a plain 2x2 row: those whose two rows and columns are in
 * the input. */
static int64_t full_2x2_columns(const ln_pool_plan *plan, int64_t oh)
{
    if (2 * oh + 1 >= plan->in_h)
        return 0;
    int64_t full = plan->in_w / 2;
    return full < plan->out_w ? full : plan->out_w;
}

/* Task i: output row i % out_h of plane i / out_h. */
static void forward_row(const ln_pool_plan *plan, int64_t i, const void *options)
{
    const ln_pool2d *pool = options;
    const float *plane = ln_data(&plan->input) + i / plan->out_h * plan->in_h * plan->in_w;
    float *y = plan->target + i * plan->out_w;
    int64_t oh = i % plan->out_h;
    taps rows = row_taps(plan, pool, oh);

    int64_t first = 0;
    if (is_plain_2x2(pool)) {
        first = full_2x2_columns(plan, oh);
        const float *r0 = plane + 2 * oh * plan->in_w;
        forward_row_2x2(r0, r0 + plan->in_w, y, first);
    }
    for (int64_t ow = first; ow < plan->out_w; ow++) {
        int64_t at = window_argmax(plane, plan->in_w, rows, col_taps(plan, pool, ow));
        y[ow] = at < 0 ? -INFINITY : plane[at];
    }
}

/* Routes the grads of output columns [0, count) of a plain 2x2 row to the
 * input cell window_argmax would pick; row is the window's first input row. */
static void backward_row_2x2(const float *plane, int64_t in_w, int64_t row, const float *gy,
                             float *gx, int64_t count)
{
    for (int64_t ow = 0; ow < count; ow++) {
        int64_t at[4] = {row * in_w + 2 * ow, row * in_w + 2 * ow + 1,
                         (row + 1) * in_w + 2 * ow, (row + 1) * in_w + 2 * ow + 1};
        int64_t best_at = at[0];
        float best = -INFINITY;
        for (int k = 0; k < 4; k++) {
            float v = plane[at[k]];
            if (v > best || v != v) {
                best = v;
                best_at = at[k];
            }
        }
        gx[best_at] += gy[ow];
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
        int64_t first = 0;
        if (is_plain_2x2(pool)) {
            first = full_2x2_columns(plan, oh);
            backward_row_2x2(plane, plan->in_w, 2 * oh, gy + oh * plan->out_w, gx, first);
        }
        for (int64_t ow = first; ow < plan->out_w; ow++) {
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
