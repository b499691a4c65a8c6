/* Shared steps of the pooling kernels (internal to the core/nn pooling files).
 *
 * A plan contains contiguous views of the operands and the geometry: planes =
 * N x C, each pooled from in_h x in_w to out_h x out_w. Kernels then run a
 * task per output row (forward) or per plane (backward, where windows of one
 * plane may overlap and scatter into the same input cells). */
#ifndef LUNET_NN_POOL_PLAN_H
#define LUNET_NN_POOL_PLAN_H

#include "nn/pool.h"

typedef struct ln_pool_plan {
    ln_tensor input;               /* contiguous input; empty when not needed */
    ln_tensor grad_output;         /* contiguous grad_output; backward only */
    float *target;                 /* output (forward) or grad_input (backward) data */
    int64_t planes, in_h, in_w, out_h, out_w;
} ln_pool_plan;

/* Checks the rank (3-d or 4-d) and that height and width are not empty. */
ln_status ln_pool_check_input(const ln_tensor *input);

/* Runs task(plan, i, options) once per plane and output row, i in [0,
 * planes out_h), after checking that output is contiguous with shape
 * out_shape (input->ndim sizes). window is the count of cells one output
 * reads, which decides whether the work is worth OpenMP threads. */
typedef void (*ln_pool_task)(const ln_pool_plan *plan, int64_t i, const void *options);
ln_status ln_pool_forward(ln_tensor *output, const ln_tensor *input, const int64_t *out_shape,
                          int64_t window, ln_pool_task task, const void *options);

/* Runs task(plan, p, options) once per plane p, after zero-filling that
 * plane of grad_input for the task to add into. grad_input must be contiguous, its
 * shape is the input shape (and input, when given, must have it too), and
 * grad_output must have shape out_shape. */
ln_status ln_pool_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                           const ln_tensor *input, const int64_t *out_shape, int64_t window,
                           ln_pool_task task, const void *options);

#endif
