/* Loss functions and their gradients with respect to the input.
 *
 * Class-index losses (cross entropy on logits, negative log-likelihood on
 * log-probabilities) take input of shape (N, C), or (C) for one sample, or
 * (N, C, d1, ..., dk) for one class per position (a pixel, a token). The
 * target is an array of 0-based class indices, one per sample and position,
 * in the row-major order of the shape (N, d1, ..., dk). A negative index
 * marks an ignored position: it adds nothing to the loss or the gradient and
 * does not count in a mean. The caller checks that every other index is
 * below C.
 *
 * Elementwise losses (mean squared error, binary cross entropy on logits)
 * take input and target of the same shape.
 *
 * Reductions. LN_REDUCTION_NONE writes one loss per position: output has
 * shape (N, d1, ..., dk) for class-index losses (0-d for a (C) input) and the
 * input's shape for elementwise losses. LN_REDUCTION_SUM and
 * LN_REDUCTION_MEAN write a 0-d output. A class-index mean divides by the sum
 * of the class weights of the positions that are not ignored (their count
 * when there are no weights), as PyTorch 1.13 does, so an empty or wholly
 * ignored batch gives NaN. An elementwise mean divides by the element count.
 *
 * Backward passes write grad_input ([OUT], the input's shape, contiguous).
 * grad_output has the output's shape, or one element that scales every
 * position (1 for the plain gradient of a reduced loss). Sums of many terms
 * accumulate in double. */
#ifndef LUNET_NN_LOSS_H
#define LUNET_NN_LOSS_H

#include "tensor.h"

typedef enum ln_reduction {
    LN_REDUCTION_NONE,
    LN_REDUCTION_MEAN,
    LN_REDUCTION_SUM
} ln_reduction;

typedef struct ln_class_loss_options {
    const ln_tensor *weight;    /* (C) class weights, or NULL for all ones */
    ln_reduction reduction;
    double label_smoothing;     /* in [0, 1], read by cross entropy only */
} ln_class_loss_options;

/* Cross entropy of logits: log-softmax over the class dim (ln_log_softmax,
 * which shifts each position by its max, so logits of any finite size give
 * exact losses: three equal logits of 1e8 give ln 3), then a smoothed NLL,
 * in one call. With class weights w and label smoothing e, a position with target y
 * and log-probabilities lp has the loss
 *     (1 - e) * w[y] * -lp[y]  +  (e / C) * sum over c of w[c] * -lp[c],
 * the formula of PyTorch 1.13. Its gradient is Q * softmax(x) - q, where q
 * is the smoothed, weighted one-hot vector of the target and Q its sum. */
ln_status ln_cross_entropy(ln_tensor *output, const ln_tensor *input, const int64_t *target,
                           const ln_class_loss_options *options);
ln_status ln_cross_entropy_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                    const ln_tensor *input, const int64_t *target,
                                    const ln_class_loss_options *options);

/* Negative log-likelihood: the loss of a position is -w[y] * input[y]. */
ln_status ln_nll_loss(ln_tensor *output, const ln_tensor *input, const int64_t *target,
                      const ln_class_loss_options *options);
ln_status ln_nll_loss_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                               const ln_tensor *input, const int64_t *target,
                               const ln_class_loss_options *options);

/* Mean squared error: the loss of an element is (input - target)^2. */
ln_status ln_mse_loss(ln_tensor *output, const ln_tensor *input, const ln_tensor *target,
                      ln_reduction reduction);
ln_status ln_mse_loss_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                               const ln_tensor *input, const ln_tensor *target,
                               ln_reduction reduction);

/* Binary cross entropy of logits x against probabilities y. pos_weight p
 * (NULL for 1) weighs the positive term and broadcasts to the input's shape,
 * typically as one value per class along the last dim. The loss of an
 * element is
 *     (1 - y) * x + (1 + (p - 1) * y) * (log1p(exp(-|x|)) + max(-x, 0)),
 * which never exponentiates a positive number, so it stays finite for any
 * finite logit. */
ln_status ln_bce_with_logits(ln_tensor *output, const ln_tensor *input, const ln_tensor *target,
                             const ln_tensor *pos_weight, ln_reduction reduction);
ln_status ln_bce_with_logits_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                      const ln_tensor *input, const ln_tensor *target,
                                      const ln_tensor *pos_weight, ln_reduction reduction);

#endif
