/* Class-index losses: cross entropy on logits and negative log-likelihood on
 * log-probabilities. Both walk the same positions and reduce the same way,
 * and differ only in the loss and gradient of one position. */
#include "nn/loss.h"

#include <math.h>
#include <stdio.h>

#include "internal.h"

/* A contiguous input seen as N samples of C classes at S positions each:
 * element (n, c, s) is at x[(n * C + c) * S + s], so the classes of one
 * position are S elements apart. */
typedef struct class_problem {
    ln_tensor x;                  /* contiguous view or copy of the input */
    int64_t samples, classes, inner;
    const float *weight;          /* NULL: every class weighs 1 */
    int64_t weight_stride;
    double weight_sum;            /* sum of the C class weights */
    double smoothing;
} class_problem;

static double class_weight(const class_problem *p, int64_t c)
{
    return p->weight ? p->weight[c * p->weight_stride] : 1.0;
}

/* The shape of an unreduced loss: the input's without its class dim. */
static int loss_shape(const ln_tensor *input, int64_t *shape)
{
    if (input->ndim <= 1)
        return 0;
    shape[0] = input->shape[0];
    for (int d = 2; d < input->ndim; d++)
        shape[d - 1] = input->shape[d];
    return input->ndim - 1;
}

static ln_status prepare(class_problem *p, const ln_tensor *input,
                         const ln_class_loss_options *options)
{
    char ti[256], tw[256];
    *p = (class_problem){0};
    if (input->ndim < 1)
        return ln_fail(LN_EINVAL, "input must have a class dim, got a 0-d tensor");

    p->samples = input->ndim == 1 ? 1 : input->shape[0];
    p->classes = input->ndim == 1 ? input->shape[0] : input->shape[1];
    p->inner = 1;
    for (int d = 2; d < input->ndim; d++)
        p->inner *= input->shape[d];

    const ln_tensor *weight = options->weight;
    if (weight && (weight->ndim != 1 || weight->shape[0] != p->classes))
        return ln_fail(LN_EINVAL, "weight has shape %s but input %s has %lld classes",
                       ln_shape_string(weight, tw, sizeof tw),
                       ln_shape_string(input, ti, sizeof ti), (long long)p->classes);
    if (!(options->label_smoothing >= 0.0 && options->label_smoothing <= 1.0))
        return ln_fail(LN_EINVAL, "label_smoothing must be in [0, 1], got %g",
                       options->label_smoothing);

    if (weight) {
        p->weight = ln_data(weight);
        p->weight_stride = weight->stride[0];
    }
    p->weight_sum = 0.0;
    for (int64_t c = 0; c < p->classes; c++)
        p->weight_sum += class_weight(p, c);
    p->smoothing = options->label_smoothing;
    return ln_contiguous(&p->x, input, false);
}

static int64_t position_count(const class_problem *p)
{
    return p->samples * p->inner;
}

/* First element of position i (its class 0). */
static int64_t position_offset(const class_problem *p, int64_t i)
{
    return (i / p->inner) * p->classes * p->inner + i % p->inner;
}

/* The divisor of a mean: the summed class weights of the targets that are
 * not ignored. */
static double mean_divisor(const class_problem *p, const int64_t *target)
{
    double total = 0.0;
    for (int64_t i = 0; i < position_count(p); i++)
        if (target[i] >= 0)
            total += class_weight(p, target[i]);
    return total;
}

/* Per-position kernels -------------------------------------------------------- */

/* Loss of one position whose classes start at x, S = p->inner apart. */
typedef double (*position_loss_fn)(const class_problem *p, const float *x, int64_t y);

/* Writes the gradient of scale * loss for one position into g (same layout). */
typedef void (*position_grad_fn)(const class_problem *p, float *g, const float *x, int64_t y,
                                 double scale);

/* Max and log of the sum of exp(x - max) over the classes of a position.
 * Subtracting the max first keeps every exponent <= 0, so no logit is too
 * large. NaN or +inf logits make the sum NaN. */
static void log_sum_exp(const class_problem *p, const float *x, double *max, double *log_sum)
{
    const int64_t step = p->inner;
    float top = -INFINITY;
    for (int64_t c = 0; c < p->classes; c++)
        if (x[c * step] > top)
            top = x[c * step];

    double sum = 0.0;
    for (int64_t c = 0; c < p->classes; c++)
        sum += exp((double)x[c * step] - top);
    *max = top;
    *log_sum = log(sum);
}

static double cross_entropy_at(const class_problem *p, const float *x, int64_t y)
{
    const int64_t step = p->inner;
    double max, log_sum;
    log_sum_exp(p, x, &max, &log_sum);

    /* -log softmax(x)[c] = log_sum - (x[c] - max) */
    double loss = (1.0 - p->smoothing) * class_weight(p, y) * (log_sum - (x[y * step] - max));
    if (p->smoothing > 0.0) {
        double smooth = 0.0;
        for (int64_t c = 0; c < p->classes; c++)
            smooth += class_weight(p, c) * (log_sum - (x[c * step] - max));
        loss += p->smoothing / (double)p->classes * smooth;
    }
    return loss;
}

static void cross_entropy_grad_at(const class_problem *p, float *g, const float *x, int64_t y,
                                  double scale)
{
    const int64_t step = p->inner;
    double max, log_sum;
    log_sum_exp(p, x, &max, &log_sum);

    /* q[c] = e/C * w[c], plus (1 - e) * w[y] at the target, and Q is the sum
     * of q. */
    double spread = p->smoothing / (double)p->classes;
    double on_target = (1.0 - p->smoothing) * class_weight(p, y);
    double total = on_target + spread * p->weight_sum;
    for (int64_t c = 0; c < p->classes; c++) {
        double probability = exp((double)x[c * step] - max - log_sum);
        g[c * step] = (float)(scale * (total * probability - spread * class_weight(p, c)));
    }
    g[y * step] = (float)(g[y * step] - scale * on_target);
}

static double nll_at(const class_problem *p, const float *x, int64_t y)
{
    return -class_weight(p, y) * x[y * p->inner];
}

static void nll_grad_at(const class_problem *p, float *g, const float *x, int64_t y,
                        double scale)
{
    for (int64_t c = 0; c < p->classes; c++)
        g[c * p->inner] = 0.0f;
    g[y * p->inner] = (float)(-scale * class_weight(p, y));
}

/* Shared passes -------------------------------------------------------------- */

static ln_status class_loss(ln_tensor *output, const ln_tensor *input, const int64_t *target,
                            const ln_class_loss_options *options, position_loss_fn loss_at)
{
    class_problem p;
    ln_status status = prepare(&p, input, options);
    if (status)
        return status;

    int64_t count = position_count(&p);
    bool unreduced = options->reduction == LN_REDUCTION_NONE;
    int64_t expected = unreduced ? count : 1;
    if (ln_numel(output) != expected || !ln_is_contiguous(output)) {
        char to[256], ts[256];
        int64_t shape[LN_MAX_DIMS];
        int ndim = unreduced ? loss_shape(input, shape) : 0;
        ln_tensor_release(&p.x);
        return ln_fail(LN_EINVAL, "output has shape %s but the loss has shape %s",
                       ln_shape_string(output, to, sizeof to),
                       ln_shape_string_raw(ndim, shape, ts, sizeof ts));
    }

    const float *x = ln_data(&p.x);
    float *out = ln_data(output);
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) \
    if (count * p.classes >= LN_PARALLEL_GRAIN)
    for (int64_t i = 0; i < count; i++) {
        double loss = target[i] < 0 ? 0.0 : loss_at(&p, x + position_offset(&p, i), target[i]);
        if (unreduced)
            out[i] = (float)loss;
        total += loss;
    }

    if (options->reduction == LN_REDUCTION_SUM)
        out[0] = (float)total;
    else if (options->reduction == LN_REDUCTION_MEAN)
        out[0] = (float)(total / mean_divisor(&p, target));
    ln_tensor_release(&p.x);
    return LN_OK;
}

static ln_status class_loss_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                     const ln_tensor *input, const int64_t *target,
                                     const ln_class_loss_options *options,
                                     position_grad_fn grad_at)
{
    char tg[256], ts[256];
    class_problem p;
    ln_status status = prepare(&p, input, options);
    if (status)
        return status;

    int64_t count = position_count(&p);
    bool unreduced = options->reduction == LN_REDUCTION_NONE;
    int64_t grad_count = ln_numel(grad_output);
    if (grad_count != 1 && (!unreduced || grad_count != count)) {
        int64_t shape[LN_MAX_DIMS];
        int ndim = unreduced ? loss_shape(input, shape) : 0;
        ln_tensor_release(&p.x);
        return ln_fail(LN_EINVAL, "grad_output has shape %s but the loss has shape %s",
                       ln_shape_string(grad_output, tg, sizeof tg),
                       ln_shape_string_raw(ndim, shape, ts, sizeof ts));
    }
    if (!ln_same_shape(grad_input, input) || !ln_is_contiguous(grad_input)) {
        ln_tensor_release(&p.x);
        return ln_fail(LN_EINVAL, "grad_input must be a contiguous tensor of shape %s, got %s",
                       ln_shape_string(input, ts, sizeof ts),
                       ln_shape_string(grad_input, tg, sizeof tg));
    }

    ln_tensor gy_tensor = {0};
    if ((status = ln_contiguous(&gy_tensor, grad_output, false))) {
        ln_tensor_release(&p.x);
        return status;
    }
    const float *gy = ln_data(&gy_tensor);
    int64_t gy_step = grad_count == 1 ? 0 : 1;
    double divisor = options->reduction == LN_REDUCTION_MEAN ? mean_divisor(&p, target) : 1.0;

    const float *x = ln_data(&p.x);
    float *g = ln_data(grad_input);
#pragma omp parallel for schedule(static) if (count * p.classes >= LN_PARALLEL_GRAIN)
    for (int64_t i = 0; i < count; i++) {
        int64_t offset = position_offset(&p, i);
        if (target[i] < 0) {
            for (int64_t c = 0; c < p.classes; c++)
                g[offset + c * p.inner] = 0.0f;
            continue;
        }
        grad_at(&p, g + offset, x + offset, target[i], gy[i * gy_step] / divisor);
    }
    ln_tensor_release(&gy_tensor);
    ln_tensor_release(&p.x);
    return LN_OK;
}

/* Public entry points -------------------------------------------------------- */

ln_status ln_cross_entropy(ln_tensor *output, const ln_tensor *input, const int64_t *target,
                           const ln_class_loss_options *options)
{
    return class_loss(output, input, target, options, cross_entropy_at);
}

ln_status ln_cross_entropy_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                    const ln_tensor *input, const int64_t *target,
                                    const ln_class_loss_options *options)
{
    return class_loss_backward(grad_input, grad_output, input, target, options,
                               cross_entropy_grad_at);
}

ln_status ln_nll_loss(ln_tensor *output, const ln_tensor *input, const int64_t *target,
                      const ln_class_loss_options *options)
{
    return class_loss(output, input, target, options, nll_at);
}

ln_status ln_nll_loss_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                               const ln_tensor *input, const int64_t *target,
                               const ln_class_loss_options *options)
{
    return class_loss_backward(grad_input, grad_output, input, target, options, nll_grad_at);
}
