/* 2-d average pooling with PyTorch's divisor rules. */
#include "internal.h"
#include "nn/pool_plan.h"

/* One window along one dim: real cells [begin, end) and the count of cells
 * inside the padded input, which count_include_pad divides by. */
typedef struct span {
    int64_t begin, end, padded;
} span;

static span window_span(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t padding)
{
    int64_t start = o * stride - padding;
    int64_t stop = start + kernel < in + padding ? start + kernel : in + padding;
    span s = {start > 0 ? start : 0, stop < in ? stop : in, stop - start};
    return s;
}

static span row_span(const ln_pool_plan *plan, const ln_pool2d *pool, int64_t oh)
{
    return window_span(oh, plan->in_h, pool->kernel_size[0], pool->stride[0], pool->padding[0]);
}

static span col_span(const ln_pool_plan *plan, const ln_pool2d *pool, int64_t ow)
{
    return window_span(ow, plan->in_w, pool->kernel_size[1], pool->stride[1], pool->padding[1]);
}

static double divisor(const ln_pool2d *pool, span rows, span cols)
{
    if (pool->divisor_override > 0)
        return (double)pool->divisor_override;
    if (pool->count_include_pad)
        return (double)(rows.padded * cols.padded);
    return (double)((rows.end - rows.begin) * (cols.end - cols.begin));
}

/* Task i: output row i % out_h of plane i / out_h. */
static void forward_row(const ln_pool_plan *plan, int64_t i, const void *options)
{
    const ln_pool2d *pool = options;
    const float *plane = ln_data(&plan->input) + i / plan->out_h * plan->in_h * plan->in_w;
    float *y = plan->target + i * plan->out_w;
    span rows = row_span(plan, pool, i % plan->out_h);

    for (int64_t ow = 0; ow < plan->out_w; ow++) {
        span cols = col_span(plan, pool, ow);
        double sum = 0.0;
        for (int64_t h = rows.begin; h < rows.end; h++)
            for (int64_t w = cols.begin; w < cols.end; w++)
                sum += plane[h * plan->in_w + w];
        y[ow] = (float)(sum / divisor(pool, rows, cols));
    }
}

/* Task p: plane p, whose windows may overlap and add into one input cell. */
static void backward_plane(const ln_pool_plan *plan, int64_t p, const void *options)
{
    const ln_pool2d *pool = options;
    const float *gy = ln_data(&plan->grad_output) + p * plan->out_h * plan->out_w;
    float *gx = plan->target + p * plan->in_h * plan->in_w;

    for (int64_t oh = 0; oh < plan->out_h; oh++) {
        span rows = row_span(plan, pool, oh);
        for (int64_t ow = 0; ow < plan->out_w; ow++) {
            span cols = col_span(plan, pool, ow);
            float g = (float)(gy[oh * plan->out_w + ow] / divisor(pool, rows, cols));
            for (int64_t h = rows.begin; h < rows.end; h++)
                for (int64_t w = cols.begin; w < cols.end; w++)
                    gx[h * plan->in_w + w] += g;
        }
    }
}

ln_status ln_avg_pool2d_forward(ln_tensor *output, const ln_tensor *input, const ln_pool2d *pool)
{
    int64_t shape[4];
    ln_status status = ln_avg_pool2d_shape(shape, input, pool);
    if (status)
        return status;
    return ln_pool_forward(output, input, shape, pool->kernel_size[0] * pool->kernel_size[1],
                           forward_row, pool);
}

ln_status ln_avg_pool2d_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                 const ln_pool2d *pool)
{
    int64_t shape[4];
    ln_status status = ln_avg_pool2d_shape(shape, grad_input, pool);
    if (status)
        return status;
    return ln_pool_backward(grad_input, grad_output, NULL, shape,
                            pool->kernel_size[0] * pool->kernel_size[1], backward_plane, pool);
}
