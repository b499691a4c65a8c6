/* Strided loops over n-d operands.
 *
 * ln_apply first drops size-1 dims and merges adjacent dims that are
 * contiguous for every operand, so a contiguous tensor becomes one long row.
 * It then walks the remaining outer dims with an index counter and hands each
 * innermost row to a row function, which can vectorise a unit-stride loop.
 * For threading, the work is cut into pieces: whole rows when there are many,
 * or equal chunks of each row when rows are few and long. Pieces are
 * independent, so they are split into equal ranges across OpenMP threads. */
#include <omp.h>
#include <string.h>

#include "internal.h"

static int merge_dims(int count, ln_operand *ops, int ndim, int64_t *shape)
{
    int kept = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1)
            continue;
        shape[kept] = shape[d];
        for (int k = 0; k < count; k++)
            ops[k].stride[kept] = ops[k].stride[d];
        kept++;
    }

    int out = 0;
    for (int d = 1; d < kept; d++) {
        bool mergeable = true;
        for (int k = 0; k < count; k++)
            mergeable = mergeable && ops[k].stride[out] == ops[k].stride[d] * shape[d];
        if (mergeable) {
            shape[out] *= shape[d];
            for (int k = 0; k < count; k++)
                ops[k].stride[out] = ops[k].stride[d];
        } else {
            out++;
            shape[out] = shape[d];
            for (int k = 0; k < count; k++)
                ops[k].stride[out] = ops[k].stride[d];
        }
    }
    return kept == 0 ? 0 : out + 1;
}

typedef struct loop {
    int count;
    const ln_operand *ops;
    int ndim;
    const int64_t *shape;
    int64_t chunks;        /* pieces per row */
    ln_row_fn row;
    void *context;
} loop;

static void run_pieces(const loop *lp, int64_t first, int64_t last)
{
    int outer = lp->ndim - 1;
    int64_t inner = lp->shape[outer];
    int64_t chunk_len = (inner + lp->chunks - 1) / lp->chunks;
    int64_t step[LN_MAX_DIMS];
    float *ptr[LN_MAX_DIMS];

    for (int k = 0; k < lp->count; k++)
        step[k] = lp->ops[k].stride[outer];

    for (int64_t piece = first; piece < last; piece++) {
        int64_t row = piece / lp->chunks;
        int64_t start = (piece % lp->chunks) * chunk_len;
        int64_t n = inner - start < chunk_len ? inner - start : chunk_len;
        if (n <= 0)
            continue;
        for (int k = 0; k < lp->count; k++) {
            float *p = lp->ops[k].data + start * step[k];
            int64_t rest = row;
            for (int d = outer - 1; d >= 0; d--) {
                p += (rest % lp->shape[d]) * lp->ops[k].stride[d];
                rest /= lp->shape[d];
            }
            ptr[k] = p;
        }
        lp->row(n, ptr, step, lp->context);
    }
}

void ln_apply(int count, const ln_operand *operands, int ndim, const int64_t *in_shape,
              ln_row_fn row, void *context, bool parallel)
{
    ln_operand ops[LN_MAX_DIMS];
    int64_t shape[LN_MAX_DIMS];
    int64_t total = 1;

    for (int d = 0; d < ndim; d++)
        total *= in_shape[d];
    if (total == 0)
        return;
    memcpy(ops, operands, sizeof(ln_operand) * count);
    memcpy(shape, in_shape, sizeof(int64_t) * ndim);

    ndim = merge_dims(count, ops, ndim, shape);
    if (ndim == 0) {
        shape[0] = 1;
        for (int k = 0; k < count; k++)
            ops[k].stride[0] = 1;
        ndim = 1;
    }

    loop lp = {count, ops, ndim, shape, 1, row, context};
    int64_t rows = total / shape[ndim - 1];
    int threads = parallel && total >= LN_PARALLEL_GRAIN ? omp_get_max_threads() : 1;
    if (threads == 1) {
        run_pieces(&lp, 0, rows);
        return;
    }
    if (rows < 4 * threads)
        lp.chunks = 4 * threads;
    int64_t pieces = rows * lp.chunks;
#pragma omp parallel num_threads(threads)
    {
        int team = omp_get_num_threads();
        int id = omp_get_thread_num();
        run_pieces(&lp, pieces * id / team, pieces * (id + 1) / team);
    }
}
