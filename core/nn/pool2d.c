/* Options, output sizes and the plan shared by the 2-d pooling kernels. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "nn/pool_plan.h"
#include "parallel.h"

/* Writes "3" for {3, 3} and "3x2" for {3, 2}. */
static const char *pair_text(const int64_t *pair, char *buffer, size_t size)
{
    if (pair[0] == pair[1])
        snprintf(buffer, size, "%lld", (long long)pair[0]);
    else
        snprintf(buffer, size, "%lldx%lld", (long long)pair[0], (long long)pair[1]);
    return buffer;
}

static ln_status check_range(const char *name, const int64_t *pair, int64_t min)
{
    char text[64];
    for (int i = 0; i < 2; i++) {
        if (pair[i] < min)
            return ln_fail(LN_EINVAL, "%s must be %s, got %s", name,
                           min > 0 ? "positive" : "non-negative",
                           pair_text(pair, text, sizeof text));
        if (pair[i] > LN_POOL_MAX_OPTION)
            return ln_fail(LN_EINVAL, "%s must be at most %d, got %s", name, LN_POOL_MAX_OPTION,
                           pair_text(pair, text, sizeof text));
    }
    return LN_OK;
}

ln_status ln_pool2d_check(const ln_pool2d *pool)
{
    ln_status status;
    if ((status = check_range("kernel_size", pool->kernel_size, 1)) ||
        (status = check_range("stride", pool->stride, 1)) ||
        (status = check_range("padding", pool->padding, 0)) ||
        (status = check_range("dilation", pool->dilation, 1)))
        return status;

    /* PyTorch's rule; it keeps a padded window from covering only padding. */
    for (int i = 0; i < 2; i++) {
        if (pool->padding[i] > pool->kernel_size[i] / 2) {
            char padding[64], kernel[64];
            return ln_fail(LN_EINVAL, "padding must be at most half of kernel_size, got "
                           "padding %s and kernel_size %s",
                           pair_text(pool->padding, padding, sizeof padding),
                           pair_text(pool->kernel_size, kernel, sizeof kernel));
        }
    }
    if (pool->divisor_override < 0 || pool->divisor_override > LN_POOL_MAX_OPTION)
        return ln_fail(LN_EINVAL, "divisor_override must be between 1 and %d, got %lld",
                       LN_POOL_MAX_OPTION, (long long)pool->divisor_override);
    return LN_OK;
}

ln_status ln_pool_check_input(const ln_tensor *input)
{
    char text[256];
    if (input->ndim != 3 && input->ndim != 4)
        return ln_fail(LN_EINVAL, "expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got %s",
                       ln_shape_string(input, text, sizeof text));
    if (input->shape[input->ndim - 2] == 0 || input->shape[input->ndim - 1] == 0)
        return ln_fail(LN_EINVAL, "input %s is empty: height and width must be at least 1",
                       ln_shape_string(input, text, sizeof text));
    return LN_OK;
}

/* a / b rounded towards -inf, for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return a % b != 0 && a < 0 ? q - 1 : q;
}

/* Options are at most 2^31 and in at most 2^62, so nothing here overflows. */
static int64_t pooled_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                           int64_t dilation, bool ceil_mode)
{
    int64_t span = in + 2 * padding - dilation * (kernel - 1) - 1;
    int64_t out = floor_div(span + (ceil_mode ? stride - 1 : 0), stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + padding)
        out--;
    return out;
}

static ln_status pool_shape(int64_t *shape, const ln_tensor *input, const ln_pool2d *pool,
                            bool has_dilation)
{
    ln_status status = ln_pool2d_check(pool);
    if (!status)
        status = ln_pool_check_input(input);
    if (status)
        return status;

    int h = input->ndim - 2;
    memcpy(shape, input->shape, sizeof(int64_t) * input->ndim);
    for (int i = 0; i < 2; i++)
        shape[h + i] = pooled_size(input->shape[h + i], pool->kernel_size[i], pool->stride[i],
                                   pool->padding[i], pool->dilation[i], pool->ceil_mode);
    if (shape[h] >= 1 && shape[h + 1] >= 1)
        return LN_OK;

    char in[256], kernel[64], padding[64], dilation[64], dilation_clause[96] = "";
    if (has_dilation)
        snprintf(dilation_clause, sizeof dilation_clause, " and dilation %s",
                 pair_text(pool->dilation, dilation, sizeof dilation));
    return ln_fail(LN_EINVAL, "input %s is too small: kernel %s with padding %s%s gives an "
                   "output of %lldx%lld", ln_shape_string(input, in, sizeof in),
                   pair_text(pool->kernel_size, kernel, sizeof kernel),
                   pair_text(pool->padding, padding, sizeof padding), dilation_clause,
                   (long long)(shape[h] > 0 ? shape[h] : 0),
                   (long long)(shape[h + 1] > 0 ? shape[h + 1] : 0));
}

ln_status ln_max_pool2d_shape(int64_t *shape, const ln_tensor *input, const ln_pool2d *pool)
{
    return pool_shape(shape, input, pool, true);
}

ln_status ln_avg_pool2d_shape(int64_t *shape, const ln_tensor *input, const ln_pool2d *pool)
{
    if (pool->dilation[0] != 1 || pool->dilation[1] != 1)
        return ln_fail(LN_EINVAL, "average pooling has no dilation, but dilation is %lldx%lld",
                       (long long)pool->dilation[0], (long long)pool->dilation[1]);
    return pool_shape(shape, input, pool, false);
}

/* Plans ------------------------------------------------------------------- */

static void set_geometry(ln_pool_plan *plan, int ndim, const int64_t *in_shape,
                         const int64_t *out_shape)
{
    plan->planes = in_shape[ndim - 3] * (ndim == 4 ? in_shape[0] : 1);
    plan->in_h = in_shape[ndim - 2];
    plan->in_w = in_shape[ndim - 1];
    plan->out_h = out_shape[ndim - 2];
    plan->out_w = out_shape[ndim - 1];
}

static bool has_shape(const ln_tensor *t, int ndim, const int64_t *shape)
{
    return t->ndim == ndim && memcmp(t->shape, shape, sizeof(int64_t) * ndim) == 0;
}

static void release_plan(ln_pool_plan *plan)
{
    ln_tensor_release(&plan->input);
    ln_tensor_release(&plan->grad_output);
}

/* The elements a pass touches: outputs times window cells, saturated
 * because a huge window times many outputs can exceed int64. */
static int64_t pool_work(int64_t outputs, int64_t window)
{
    int64_t work;
    return __builtin_mul_overflow(outputs, window, &work) ? INT64_MAX : work;
}

/* Runs task for i in [0, count) on OpenMP threads when work (elements
 * touched) reaches LN_PARALLEL_GRAIN. Tasks write disjoint memory. With
 * zero_planes set, task i is a plane of the target, which is zero-filled
 * first by the same thread, so that it is in cache when the task adds to
 * it. */
static ln_status run_tasks(const ln_pool_plan *plan, int64_t count, int64_t work,
                           ln_pool_task task, const void *options, bool zero_planes)
{
    const int64_t plane = plan->in_h * plan->in_w;

    /* A task costs at most a plane, so polling once per task is cheap. */
#pragma omp parallel for schedule(static) if (work >= LN_PARALLEL_GRAIN)
    for (int64_t i = 0; i < count; i++) {
        if (ln_interrupted())
            continue;
        if (zero_planes)
            memset(plan->target + i * plane, 0, sizeof(float) * (size_t)plane);
        task(plan, i, options);
    }
    if (ln_interrupted())
        return ln_fail(LN_EINTR, "interrupted");
    return LN_OK;
}

ln_status ln_pool_forward(ln_tensor *output, const ln_tensor *input, const int64_t *out_shape,
                          int64_t window, ln_pool_task task, const void *options)
{
    if (!ln_is_contiguous(output) || !has_shape(output, input->ndim, out_shape)) {
        char expected[256];
        return ln_fail(LN_EINVAL, "output must be a contiguous tensor of shape %s",
                       ln_shape_string_raw(input->ndim, out_shape, expected, sizeof expected));
    }
    ln_pool_plan plan = {0};
    ln_status status = ln_contiguous(&plan.input, input, false);
    if (status)
        return status;
    plan.target = ln_data(output);
    set_geometry(&plan, input->ndim, input->shape, out_shape);

    status = run_tasks(&plan, plan.planes * plan.out_h, pool_work(ln_numel(output), window),
                       task, options, false);
    release_plan(&plan);
    return status;
}

ln_status ln_pool_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                           const ln_tensor *input, const int64_t *out_shape, int64_t window,
                           ln_pool_task task, const void *options)
{
    char have[256], want[256];
    int ndim = grad_input->ndim;
    if (!has_shape(grad_output, ndim, out_shape))
        return ln_fail(LN_EINVAL, "grad_output has shape %s but the output has shape %s",
                       ln_shape_string(grad_output, have, sizeof have),
                       ln_shape_string_raw(ndim, out_shape, want, sizeof want));
    if (!ln_is_contiguous(grad_input) || (input && !ln_same_shape(grad_input, input)))
        return ln_fail(LN_EINVAL, "grad_input must be a contiguous tensor of shape %s",
                       ln_shape_string(input ? input : grad_input, want, sizeof want));

    ln_pool_plan plan = {0};
    ln_status status = ln_contiguous(&plan.grad_output, grad_output, false);
    if (!status && input)
        status = ln_contiguous(&plan.input, input, false);
    if (!status) {
        plan.target = ln_data(grad_input);
        set_geometry(&plan, ndim, grad_input->shape, out_shape);
        int64_t work = pool_work(ln_numel(grad_output), window);
        work = work > INT64_MAX - ln_numel(grad_input) ? INT64_MAX : work + ln_numel(grad_input);
        status = run_tasks(&plan, plan.planes, work, task, options, true);
    }
    release_plan(&plan);
    return status;
}
