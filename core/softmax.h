/* Softmax, log-softmax and logsumexp along one dim.
 *
 * Each slice along dim is shifted by its max before exponentiation, and the
 * sum of exponentials accumulates in double, so logits of any finite size
 * (1e36 included) give exact distributions and every row sums to 1 within
 * 1e-6 for rows of up to 2^20 elements. An entry of -inf gets probability
 * exactly 0 (log-probability -inf). A slice that is all -inf yields NaN, as
 * PyTorch does; a slice holding NaN or +inf yields NaN. Results depend only
 * on the shapes and values, never on the thread count.
 *
 * `out` (or grad_input) may be the very tensor given as an input, for an
 * in-place update, but must not otherwise overlap one. dim must be in
 * 0..ndim-1 (0 for a 0-d tensor, which is one slice of one element). */
#ifndef LUNET_SOFTMAX_H
#define LUNET_SOFTMAX_H

#include "tensor.h"

/* [OUT] out has x's shape. */
ln_status ln_softmax(ln_tensor *out, const ln_tensor *x, int dim);
ln_status ln_log_softmax(ln_tensor *out, const ln_tensor *x, int dim);

/* [OUT] out has x's shape with dim removed (or kept as 1). As in PyTorch, a
 * slice that is all -inf (or empty) gives -inf, and one containing +inf
 * gives +inf unless it also contains NaN, which gives NaN. */
ln_status ln_logsumexp(ln_tensor *out, const ln_tensor *x, int dim);

/* [OUT] Gradients: grad_input from the forward output y and grad_output, all
 * three of one shape. softmax: gx = y * (gy - sum(gy * y));
 * log-softmax: gx = gy - exp(y) * sum(gy), sums along dim in double. */
ln_status ln_softmax_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                              const ln_tensor *output, int dim);
ln_status ln_log_softmax_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                  const ln_tensor *output, int dim);

#endif
