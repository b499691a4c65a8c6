/* Class-index losses: cross entropy on logits and negative log-likelihood on
 * log-probabilities.
 *
 * Cross entropy is log-softmax (the shared kernel of softmax.h, which shifts
 * each position by its max) followed by the smoothed, weighted NLL of the
 * log-probabilities, so both losses share one per-position formula. NLL is
 * that formula with no smoothing. The backward passes start from softmax(x)
 * for cross entropy and from zeros for NLL, then subtract the target term. */
#include "nn/loss.h"

#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "softmax.h"

/* A contiguous input seen as N samples of C classes at S positions each:
 * element (n, c, s) is at x[(n * C + c) * S + s], so the classes of one
 * position are S elements apart. */
typedef struct class_problem {
    ln_tensor x;                  /* contiguous view or copy of the input */
    int class_dim;                /* 0 for a (C) input, else 1 */
    int64_t samples, classes, inner;
    const float *weight;          /* NULL: every class weighs 1 */
    int64_t weight_stride;
    double weight_sum;            /* sum of the C class weights */
    double smoothing;             /* 0 for NLL */
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

/* Reads input and options into p. smoothing is false for NLL, which ignores
 * label_smoothing. */
static ln_status prepare(class_problem *p, const ln_tensor *input,
                         const ln_class_loss_options *options, bool smoothing)
{
    char ti[256], tw[256];
    *p = (class_problem){0};
    if (input->ndim < 1)
        return ln_fail(LN_EINVAL, "input must have a class dim, got a 0-d tensor");

    p->class_dim = input->ndim == 1 ? 0 : 1;
    p->samples = input->ndim == 1 ? 1 : input->shape[0];
    p->classes = input->shape[p->class_dim];
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
    p->smoothing = smoothing ? options->label_smoothing : 0.0;
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

/* Loss of one position from its log-probabilities lp (classes S apart):
 * (1 - e) * w[y] * -lp[y] + (e / C) * sum over c of w[c] * -lp[c]. */
static double smoothed_nll_at(const class_problem *p, const float *lp, int64_t y)
{
    const int64_t step = p->inner;
    double loss = -(1.0 - p->smoothing) * class_weight(p, y) * lp[y * step];
    if (p->smoothing > 0.0) {
        double smooth = 0.0;
        for (int64_t c = 0; c < p->classes; c++)
            smooth -= class_weight(p, c) * lp[c * step];
        loss += p->smoothing / (double)p->classes * smooth;
    }
    return loss;
}

/* Turns g, which contains softmax(x) for cross entropy or zeros for NLL, into
 * scale * (Q * g - q) for one position. q is the smoothed, weighted one-hot
 * vector of the target: e/C * w[c], plus (1 - e) * w[y] at the target, and
 * Q is the sum of q. */
static void apply_target_grad(const class_problem *p, float *g, int64_t y, double scale)
{
    const int64_t step = p->inner;
    double spread = p->smoothing / (double)p->classes;
    double on_target = (1.0 - p->smoothing) * class_weight(p, y);
    double total = on_target + spread * p->weight_sum;
    for (int64_t c = 0; c < p->classes; c++)
        g[c * step] = (float)(scale * (total * g[c * step] - spread * class_weight(p, c)));
    g[y * step] = (float)(g[y * step] - scale * on_target);
}

/* Shared passes -------------------------------------------------------------- */

static ln_status check_output(const ln_tensor *output, const ln_tensor *input,
                              const class_problem *p, ln_reduction reduction)
{
    bool unreduced = reduction == LN_REDUCTION_NONE;
    int64_t expected = unreduced ? position_count(p) : 1;
    if (ln_numel(output) == expected && ln_is_contiguous(output))
        return LN_OK;

    char to[256], ts[256];
    int64_t shape[LN_MAX_DIMS];
    int ndim = unreduced ? loss_shape(input, shape) : 0;
    return ln_fail(LN_EINVAL, "output has shape %s but the loss has shape %s",
                   ln_shape_string(output, to, sizeof to),
                   ln_shape_string_raw(ndim, shape, ts, sizeof ts));
}

static ln_status check_gradients(const ln_tensor *grad_input, const ln_tensor *grad_output,
                                 const ln_tensor *input, const class_problem *p,
                                 ln_reduction reduction)
{
    char tg[256], ts[256];
    bool unreduced = reduction == LN_REDUCTION_NONE;
    int64_t grad_count = ln_numel(grad_output);
    if (grad_count != 1 && (!unreduced || grad_count != position_count(p))) {
        int64_t shape[LN_MAX_DIMS];
        int ndim = unreduced ? loss_shape(input, shape) : 0;
        return ln_fail(LN_EINVAL, "grad_output has shape %s but the loss has shape %s",
                       ln_shape_string(grad_output, tg, sizeof tg),
                       ln_shape_string_raw(ndim, shape, ts, sizeof ts));
    }
    if (!ln_same_shape(grad_input, input) || !ln_is_contiguous(grad_input))
        return ln_fail(LN_EINVAL, "grad_input must be a contiguous tensor of shape %s, got %s",
                       ln_shape_string(input, ts, sizeof ts),
                       ln_shape_string(grad_input, tg, sizeof tg));
    return LN_OK;
}

/* from_logits: cross entropy (input is logits), else NLL (log-probabilities). */
static ln_status class_loss(ln_tensor *output, const ln_tensor *input, const int64_t *target,
                            const ln_class_loss_options *options, bool from_logits)
{
    class_problem p;
    ln_tensor log_probs = {0};
    ln_status status = prepare(&p, input, options, from_logits);
    if (status)
        return status;
    if ((status = check_output(output, input, &p, options->reduction)))
        goto done;

    if (!from_logits)
        ln_tensor_share(&log_probs, &p.x);
    else if (!(status = ln_tensor_alloc(&log_probs, input->ndim, input->shape)))
        status = ln_log_softmax(&log_probs, &p.x, p.class_dim);
    if (status)
        goto done;

    int64_t count = position_count(&p);
    bool unreduced = options->reduction == LN_REDUCTION_NONE;
    const float *lp = ln_data(&log_probs);
    float *out = ln_data(output);
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) \
    if (count * p.classes >= LN_PARALLEL_GRAIN)
    for (int64_t i = 0; i < count; i++) {
        double loss = 0.0;
        if (target[i] >= 0)
            loss = smoothed_nll_at(&p, lp + position_offset(&p, i), target[i]);
        if (unreduced)
            out[i] = (float)loss;
        total += loss;
    }

    if (options->reduction == LN_REDUCTION_SUM)
        out[0] = (float)total;
    else if (options->reduction == LN_REDUCTION_MEAN)
        out[0] = (float)(total / mean_divisor(&p, target));

done:
    ln_tensor_release(&log_probs);
    ln_tensor_release(&p.x);
    return status;
}

static ln_status class_loss_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                     const ln_tensor *input, const int64_t *target,
                                     const ln_class_loss_options *options, bool from_logits)
{
    class_problem p;
    ln_tensor gy_tensor = {0};
    ln_status status = prepare(&p, input, options, from_logits);
    if (status)
        return status;
    if ((status = check_gradients(grad_input, grad_output, input, &p, options->reduction)))
        goto done;
    if ((status = ln_contiguous(&gy_tensor, grad_output, false)))
        goto done;

    if (!from_logits)
        ln_fill(grad_input, 0.0f);
    else if ((status = ln_softmax(grad_input, &p.x, p.class_dim)))
        goto done;

    int64_t count = position_count(&p);
    const float *gy = ln_data(&gy_tensor);
    int64_t gy_step = ln_numel(grad_output) == 1 ? 0 : 1;
    double divisor = options->reduction == LN_REDUCTION_MEAN ? mean_divisor(&p, target) : 1.0;
    float *g = ln_data(grad_input);
#pragma omp parallel for schedule(static) if (count * p.classes >= LN_PARALLEL_GRAIN)
    for (int64_t i = 0; i < count; i++) {
        int64_t offset = position_offset(&p, i);
        if (target[i] >= 0) {
            apply_target_grad(&p, g + offset, target[i], gy[i * gy_step] / divisor);
            continue;
        }
        for (int64_t c = 0; c < p.classes; c++)
            g[offset + c * p.inner] = 0.0f;
    }

done:
    ln_tensor_release(&gy_tensor);
    ln_tensor_release(&p.x);
    return status;
}

/* Public entry points -------------------------------------------------------- */

ln_status ln_cross_entropy(ln_tensor *output, const ln_tensor *input, const int64_t *target,
                           const ln_class_loss_options *options)
{
    return class_loss(output, input, target, options, true);
}

ln_status ln_cross_entropy_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                    const ln_tensor *input, const int64_t *target,
                                    const ln_class_loss_options *options)
{
    return class_loss_backward(grad_input, grad_output, input, target, options, true);
}

ln_status ln_nll_loss(ln_tensor *output, const ln_tensor *input, const int64_t *target,
                      const ln_class_loss_options *options)
{
    return class_loss(output, input, target, options, false);
}

ln_status ln_nll_loss_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                               const ln_tensor *input, const int64_t *target,
                               const ln_class_loss_options *options)
{
    return class_loss_backward(grad_input, grad_output, input, target, options, false);
}
