/* 2-d adaptive average pooling: the windows follow from the input and
 * output sizes instead of a kernel and stride. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "nn/pool_plan.h"

ln_status ln_adaptive_avg_pool2d_shape(int64_t *shape, const ln_tensor *input,
                                       const int64_t *output_size)
{
    for (int i = 0; i < 2; i++)
        if (output_size[i] < 1 || output_size[i] > LN_POOL_MAX_OPTION)
            return ln_fail(LN_EINVAL, "output_size must be between 1 and %d, got %lldx%lld",
                           LN_POOL_MAX_OPTION, (long long)output_size[0],
                           (long long)output_size[1]);
    ln_status status = ln_pool_check_input(input);
    if (status)
        return status;

    /* i * in below must fit in int64. */
    int h = input->ndim - 2;
    if (input->shape[h] > LN_POOL_MAX_OPTION || input->shape[h + 1] > LN_POOL_MAX_OPTION) {
        char text[256];
        return ln_fail(LN_EINVAL, "input %s is too large: height and width must be at most %d",
                       ln_shape_string(input, text, sizeof text), LN_POOL_MAX_OPTION);
    }
    memcpy(shape, input->shape, sizeof(int64_t) * input->ndim);
    shape[h] = output_size[0];
    shape[h + 1] = output_size[1];
    return LN_OK;
}

/* Window of output o when in cells pool to out: [begin, end). */
typedef struct span {
    int64_t begin, end;
} span;

static span window_span(int64_t o, int64_t in, int64_t out)
{
    span s = {o * in / out, ((o + 1) * in + out - 1) / out};
    return s;
}

/* Task i: output row i % out_h of plane i / out_h. */
static void forward_row(const ln_pool_plan *plan, int64_t i, const void *options)
{
    const float *plane = ln_data(&plan->input) + i / plan->out_h * plan->in_h * plan->in_w;
    float *y = plan->target + i * plan->out_w;
    span rows = window_span(i % plan->out_h, plan->in_h, plan->out_h);

    for (int64_t ow = 0; ow < plan->out_w; ow++) {
        span cols = window_span(ow, plan->in_w, plan->out_w);
        double sum = 0.0;
        for (int64_t h = rows.begin; h < rows.end; h++)
            for (int64_t w = cols.begin; w < cols.end; w++)
                sum += plane[h * plan->in_w + w];
        y[ow] = (float)(sum / (double)((rows.end - rows.begin) * (cols.end - cols.begin)));
    }
}

/* Task p: plane p, whose windows may overlap and add into one input cell. */
static void backward_plane(const ln_pool_plan *plan, int64_t p, const void *options)
{
    const float *gy = ln_data(&plan->grad_output) + p * plan->out_h * plan->out_w;
    float *gx = plan->target + p * plan->in_h * plan->in_w;

    for (int64_t oh = 0; oh < plan->out_h; oh++) {
        span rows = window_span(oh, plan->in_h, plan->out_h);
        for (int64_t ow = 0; ow < plan->out_w; ow++) {
            span cols = window_span(ow, plan->in_w, plan->out_w);
            int64_t cells = (rows.end - rows.begin) * (cols.end - cols.begin);
            float g = (float)(gy[oh * plan->out_w + ow] / (double)cells);
            for (int64_t h = rows.begin; h < rows.end; h++)
                for (int64_t w = cols.begin; w < cols.end; w++)
                    gx[h * plan->in_w + w] += g;
        }
    }
}

/* Each output reads at most in / out + 2 cells per dim, rounded down. */
static int64_t window_cells(const int64_t *in_shape, const int64_t *out_shape, int ndim)
{
    int64_t rows = in_shape[ndim - 2] / out_shape[ndim - 2] + 2;
    int64_t cols = in_shape[ndim - 1] / out_shape[ndim - 1] + 2;
    return rows * cols;
}

ln_status ln_adaptive_avg_pool2d_forward(ln_tensor *output, const ln_tensor *input,
                                         const int64_t *output_size)
{
    int64_t shape[4];
    ln_status status = ln_adaptive_avg_pool2d_shape(shape, input, output_size);
    if (status)
        return status;
    return ln_pool_forward(output, input, shape, window_cells(input->shape, shape, input->ndim),
                           forward_row, NULL);
}

ln_status ln_adaptive_avg_pool2d_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                          const int64_t *output_size)
{
    int64_t shape[4];
    ln_status status = ln_adaptive_avg_pool2d_shape(shape, grad_input, output_size);
    if (status)
        return status;
    return ln_pool_backward(grad_input, grad_output, NULL, shape,
                            window_cells(grad_input->shape, shape, grad_input->ndim),
                            backward_plane, NULL);
}
