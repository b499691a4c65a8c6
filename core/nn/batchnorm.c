/* Batch normalization. Channel statistics are sums over planes: the N x C
 * planes of (trailing size) contiguous values are summed in parallel, each
 * in double, and each channel then adds its N plane sums. */
#include "nn/batchnorm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "parallel.h"

/* Input viewed as (n, channels, size): size is the product of the trailing
 * dims, so plane p = i channels + c is values [p size, (p + 1) size). */
typedef struct geometry {
    int64_t n, channels, size;
} geometry;

static geometry geometry_of(const ln_tensor *input)
{
    geometry g = {input->shape[0], input->shape[1], 1};
    for (int d = 2; d < input->ndim; d++)
        g.size *= input->shape[d];
    return g;
}

/* Checks that t (when given) is 1-d with one value per channel. */
static ln_status check_channels(const ln_tensor *t, const char *name, const ln_tensor *input)
{
    if (!t || (t->ndim == 1 && t->shape[0] == input->shape[1]))
        return LN_OK;
    char tt[256], ti[256];
    return ln_fail(LN_EINVAL, "%s has shape %s but the input has %lld channels (input %s)", name,
                   ln_shape_string(t, tt, sizeof tt), (long long)input->shape[1],
                   ln_shape_string(input, ti, sizeof ti));
}

static ln_status check_input(const ln_tensor *input)
{
    if (input->ndim >= 2)
        return LN_OK;
    char text[256];
    return ln_fail(LN_EINVAL, "expected an input of at least 2 dims (N, C, *), got %s",
                   ln_shape_string(input, text, sizeof text));
}

static ln_status check_result(const ln_tensor *t, const char *name, const ln_tensor *input)
{
    if (ln_is_contiguous(t) && ln_same_shape(t, input))
        return LN_OK;
    char text[256];
    return ln_fail(LN_EINVAL, "%s must be a contiguous tensor of shape %s", name,
                   ln_shape_string(input, text, sizeof text));
}

/* Value c of a per-channel tensor, or fallback when it is NULL. */
static double channel_value(const ln_tensor *t, int64_t c, double fallback)
{
    return t ? ln_data(t)[c * t->stride[0]] : fallback;
}

static ln_status interrupted(void)
{
    return ln_fail(LN_EINTR, "interrupted");
}

static bool run_parallel(geometry g)
{
    return g.n * g.channels * g.size >= LN_PARALLEL_GRAIN;
}

/* Sums ---------------------------------------------------------------------- */

/* Sum of (x[i] - mean)^2 in double, over independent lanes so that the loop
 * pipelines. */
static double squared_deviation(const float *x, int64_t n, double mean)
{
    double lane[4] = {0};
    int64_t whole = n - n % 4;
    for (int64_t i = 0; i < whole; i += 4)
        for (int j = 0; j < 4; j++) {
            double d = x[i + j] - mean;
            lane[j] += d * d;
        }
    double sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    for (int64_t i = whole; i < n; i++)
        sum += (x[i] - mean) * (x[i] - mean);
    return sum;
}

/* Sum of g[i] (x[i] - mean) in double. */
static double centered_dot(const float *g, const float *x, int64_t n, double mean)
{
    double lane[4] = {0};
    int64_t whole = n - n % 4;
    for (int64_t i = 0; i < whole; i += 4)
        for (int j = 0; j < 4; j++)
            lane[j] += g[i + j] * (x[i + j] - mean);
    double sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    for (int64_t i = whole; i < n; i++)
        sum += g[i] * (x[i] - mean);
    return sum;
}

/* channel[c] = the sum over i of plane[i channels + c]. */
static void add_planes(double *channel, const double *plane, geometry g)
{
    for (int64_t c = 0; c < g.channels; c++)
        channel[c] = 0.0;
    for (int64_t i = 0; i < g.n; i++)
        for (int64_t c = 0; c < g.channels; c++)
            channel[c] += plane[i * g.channels + c];
}

/* Batch mean and biased variance per channel, from contiguous x. Uses
 * plane (N x C doubles) as scratch. */
static ln_status batch_statistics(double *mean, double *var, double *plane, const float *x,
                                  geometry g)
{
    int64_t planes = g.n * g.channels;
    double count = (double)(g.n * g.size);

#pragma omp parallel for schedule(static) if (run_parallel(g))
    for (int64_t p = 0; p < planes; p++)
        if (!ln_interrupted())
            plane[p] = ln_sum_strided(x + p * g.size, g.size, 1);
    if (ln_interrupted())
        return interrupted();
    add_planes(mean, plane, g);
    for (int64_t c = 0; c < g.channels; c++)
        mean[c] /= count;

    /* Two passes: the sum of squares about the mean does not cancel, as
     * E[x^2] - E[x]^2 would for inputs far from 0. */
#pragma omp parallel for schedule(static) if (run_parallel(g))
    for (int64_t p = 0; p < planes; p++)
        if (!ln_interrupted())
            plane[p] = squared_deviation(x + p * g.size, g.size, mean[p % g.channels]);
    if (ln_interrupted())
        return interrupted();
    add_planes(var, plane, g);
    for (int64_t c = 0; c < g.channels; c++)
        var[c] /= count;
    return LN_OK;
}

/* Forward ------------------------------------------------------------------- */

static ln_status check_forward(const ln_tensor *output, const ln_tensor *save_mean,
                               const ln_tensor *save_invstd, const ln_tensor *running_mean,
                               const ln_tensor *running_var, const ln_tensor *input,
                               const ln_tensor *weight, const ln_tensor *bias,
                               const ln_batch_norm *options)
{
    ln_status status;
    if ((status = check_input(input)) || (status = check_result(output, "output", input)) ||
        (status = check_channels(weight, "weight", input)) ||
        (status = check_channels(bias, "bias", input)) ||
        (status = check_channels(running_mean, "running_mean", input)) ||
        (status = check_channels(running_var, "running_var", input)))
        return status;

    if (!options->training)
        return running_mean && running_var
                   ? LN_OK
                   : ln_fail(LN_EINVAL, "running_mean and running_var are required out of "
                             "training");
    if (!save_mean || !save_invstd || !ln_is_contiguous(save_mean) ||
        !ln_is_contiguous(save_invstd))
        return ln_fail(LN_EINVAL, "training needs contiguous save_mean and save_invstd");
    if ((status = check_channels(save_mean, "save_mean", input)) ||
        (status = check_channels(save_invstd, "save_invstd", input)))
        return status;

    geometry g = geometry_of(input);
    if (g.n * g.size == 1) {
        char text[256];
        return ln_fail(LN_EINVAL, "expected more than 1 value per channel when training, got "
                       "input of shape %s", ln_shape_string(input, text, sizeof text));
    }
    return LN_OK;
}

/* Computes the batch statistics, saves them and updates the running ones;
 * mean and invstd (C each) receive what normalization uses. */
static ln_status train_statistics(double *mean, double *invstd, ln_tensor *save_mean,
                                  ln_tensor *save_invstd, ln_tensor *running_mean,
                                  ln_tensor *running_var, const float *x, geometry g,
                                  const ln_batch_norm *options)
{
    int64_t planes = g.n * g.channels;
    double *scratch = malloc(sizeof(double) * (size_t)(planes + g.channels));
    if (!scratch)
        return ln_fail(LN_ENOMEM, "out of memory for %lld batch norm sums", (long long)planes);
    double *var = scratch + planes;
    ln_status status = batch_statistics(mean, var, scratch, x, g);
    if (status) {
        free(scratch);
        return status;
    }

    double count = (double)(g.n * g.size), m = options->momentum;
    for (int64_t c = 0; c < g.channels; c++) {
        invstd[c] = 1.0 / sqrt(var[c] + options->eps);
        ln_data(save_mean)[c] = (float)mean[c];
        ln_data(save_invstd)[c] = (float)invstd[c];
        if (running_mean) {
            float *rm = ln_data(running_mean) + c * running_mean->stride[0];
            *rm = (float)((1.0 - m) * *rm + m * mean[c]);
        }
        if (running_var) {
            float *rv = ln_data(running_var) + c * running_var->stride[0];
            *rv = (float)((1.0 - m) * *rv + m * var[c] * count / (count - 1.0));
        }
    }
    free(scratch);
    return LN_OK;
}

/* y = (x - mean) scale + shift, where subtracting first keeps the precision
 * of inputs far from 0. */
static ln_status normalize(ln_tensor *output, const float *xs, const ln_tensor *weight,
                           const ln_tensor *bias, const double *mean, const double *invstd,
                           geometry g)
{
    int64_t planes = g.n * g.channels;
    float *ys = ln_data(output);

#pragma omp parallel for schedule(static) if (run_parallel(g))
    for (int64_t p = 0; p < planes; p++) {
        if (ln_interrupted())
            continue;
        int64_t c = p % g.channels;
        float center = (float)mean[c];
        float scale = (float)(invstd[c] * channel_value(weight, c, 1.0));
        float shift = (float)channel_value(bias, c, 0.0);
        const float *xp = xs + p * g.size;
        float *yp = ys + p * g.size;
        for (int64_t i = 0; i < g.size; i++)
            yp[i] = (xp[i] - center) * scale + shift;
    }
    return ln_interrupted() ? interrupted() : LN_OK;
}

ln_status ln_batch_norm_forward(ln_tensor *output, ln_tensor *save_mean, ln_tensor *save_invstd,
                                ln_tensor *running_mean, ln_tensor *running_var,
                                const ln_tensor *input, const ln_tensor *weight,
                                const ln_tensor *bias, const ln_batch_norm *options)
{
    ln_status status = check_forward(output, save_mean, save_invstd, running_mean, running_var,
                                     input, weight, bias, options);
    if (status)
        return status;
    if (ln_numel(input) == 0) {
        /* No statistics: the saved ones read as mean 0 and invstd 0. */
        if (options->training) {
            ln_fill(save_mean, 0.0f);
            ln_fill(save_invstd, 0.0f);
        }
        return LN_OK;
    }

    geometry g = geometry_of(input);
    ln_tensor x;
    if ((status = ln_contiguous(&x, input, false)))
        return status;
    double *channel = malloc(sizeof(double) * (size_t)(2 * g.channels));
    if (!channel) {
        ln_tensor_release(&x);
        return ln_fail(LN_ENOMEM, "out of memory for %lld channels", (long long)g.channels);
    }
    double *mean = channel, *invstd = channel + g.channels;

    if (options->training) {
        status = train_statistics(mean, invstd, save_mean, save_invstd, running_mean,
                                  running_var, ln_data(&x), g, options);
    } else {
        for (int64_t c = 0; c < g.channels; c++) {
            mean[c] = channel_value(running_mean, c, 0.0);
            invstd[c] = 1.0 / sqrt(channel_value(running_var, c, 1.0) + options->eps);
        }
    }

    if (!status)
        status = normalize(output, ln_data(&x), weight, bias, mean, invstd, g);
    free(channel);
    ln_tensor_release(&x);
    return status;
}

ln_status ln_batch_norm_invstd(ln_tensor *invstd, const ln_tensor *var, double eps)
{
    if (var->ndim != 1 || !ln_is_contiguous(invstd) || !ln_same_shape(invstd, var)) {
        char text[256];
        return ln_fail(LN_EINVAL, "invstd must be a contiguous tensor of the variance's shape "
                       "%s, and the variance 1-d", ln_shape_string(var, text, sizeof text));
    }
    for (int64_t c = 0; c < var->shape[0]; c++)
        ln_data(invstd)[c] = (float)(1.0 / sqrt(channel_value(var, c, 1.0) + eps));
    return LN_OK;
}

/* Backward ------------------------------------------------------------------ */

/* Per-plane sums of g and of g (x - mean), then per channel. */
static ln_status gradient_sums(double *sum_g, double *sum_gx, double *plane, const float *gy,
                               const float *x, const ln_tensor *mean, geometry g)
{
    int64_t planes = g.n * g.channels;
    double *plane_gx = plane + planes;

#pragma omp parallel for schedule(static) if (run_parallel(g))
    for (int64_t p = 0; p < planes; p++) {
        if (ln_interrupted())
            continue;
        const float *gp = gy + p * g.size, *xp = x + p * g.size;
        plane[p] = ln_sum_strided(gp, g.size, 1);
        plane_gx[p] = centered_dot(gp, xp, g.size, channel_value(mean, p % g.channels, 0.0));
    }
    if (ln_interrupted())
        return interrupted();
    add_planes(sum_g, plane, g);
    add_planes(sum_gx, plane_gx, g);
    return LN_OK;
}

static ln_status check_backward(const ln_tensor *grad_input, const ln_tensor *grad_weight,
                                const ln_tensor *grad_bias, const ln_tensor *grad_output,
                                const ln_tensor *input, const ln_tensor *weight,
                                const ln_tensor *mean, const ln_tensor *invstd)
{
    ln_status status;
    if ((status = check_input(input)))
        return status;
    if (!ln_same_shape(grad_output, input)) {
        char tg[256], ti[256];
        return ln_fail(LN_EINVAL, "grad_output has shape %s but the output has shape %s",
                       ln_shape_string(grad_output, tg, sizeof tg),
                       ln_shape_string(input, ti, sizeof ti));
    }
    if (!mean || !invstd)
        return ln_fail(LN_EINVAL, "backward needs the mean and invstd of the forward pass");
    if ((grad_input && (status = check_result(grad_input, "grad_input", input))) ||
        (status = check_channels(weight, "weight", input)) ||
        (status = check_channels(mean, "mean", input)) ||
        (status = check_channels(invstd, "invstd", input)) ||
        (status = check_channels(grad_weight, "grad_weight", input)) ||
        (status = check_channels(grad_bias, "grad_bias", input)))
        return status;
    return LN_OK;
}

/* grad_input = scale (g - shift - (x - center) slope) per channel, where out
 * of training shift and slope are 0. */
static ln_status write_grad_input(ln_tensor *grad_input, const float *gs, const float *xs,
                                  const ln_tensor *weight, const ln_tensor *mean,
                                  const ln_tensor *invstd, const double *sum_g,
                                  const double *sum_gx, bool training, geometry g)
{
    int64_t planes = g.n * g.channels;
    double count = (double)(g.n * g.size);
    float *out = ln_data(grad_input);

#pragma omp parallel for schedule(static) if (run_parallel(g))
    for (int64_t p = 0; p < planes; p++) {
        if (ln_interrupted())
            continue;
        int64_t c = p % g.channels;
        double istd = channel_value(invstd, c, 1.0);
        float scale = (float)(istd * channel_value(weight, c, 1.0));
        float center = (float)channel_value(mean, c, 0.0);
        float shift = training ? (float)(sum_g[c] / count) : 0.0f;
        float slope = training ? (float)(sum_gx[c] / count * istd * istd) : 0.0f;
        const float *xp = xs + p * g.size, *gp = gs + p * g.size;
        float *op = out + p * g.size;
        for (int64_t i = 0; i < g.size; i++)
            op[i] = scale * (gp[i] - shift - (xp[i] - center) * slope);
    }
    return ln_interrupted() ? interrupted() : LN_OK;
}

ln_status ln_batch_norm_backward(ln_tensor *grad_input, ln_tensor *grad_weight,
                                 ln_tensor *grad_bias, const ln_tensor *grad_output,
                                 const ln_tensor *input, const ln_tensor *weight,
                                 const ln_tensor *mean, const ln_tensor *invstd, bool training)
{
    ln_status status = check_backward(grad_input, grad_weight, grad_bias, grad_output, input,
                                      weight, mean, invstd);
    if (status || ln_numel(input) == 0)
        return status;

    geometry g = geometry_of(input);
    int64_t planes = g.n * g.channels;
    double *scratch = malloc(sizeof(double) * (size_t)(2 * planes + 2 * g.channels));
    if (!scratch)
        return ln_fail(LN_ENOMEM, "out of memory for %lld batch norm sums", (long long)planes);
    double *sum_g = scratch + 2 * planes, *sum_gx = sum_g + g.channels;

    ln_tensor x = {0}, gy = {0};
    bool need_sums = training || grad_weight || grad_bias;
    if (!(status = ln_contiguous(&x, input, false)) &&
        !(status = ln_contiguous(&gy, grad_output, false)) && need_sums)
        status = gradient_sums(sum_g, sum_gx, scratch, ln_data(&gy), ln_data(&x), mean, g);

    for (int64_t c = 0; !status && c < g.channels; c++) {
        double istd = channel_value(invstd, c, 1.0);
        if (grad_weight)
            ln_data(grad_weight)[c * grad_weight->stride[0]] += (float)(sum_gx[c] * istd);
        if (grad_bias)
            ln_data(grad_bias)[c * grad_bias->stride[0]] += (float)sum_g[c];
    }
    if (!status && grad_input)
        status = write_grad_input(grad_input, ln_data(&gy), ln_data(&x), weight, mean, invstd,
                                  sum_g, sum_gx, training, g);
    free(scratch);
    ln_tensor_release(&x);
    ln_tensor_release(&gy);
    return status;
}
