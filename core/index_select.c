#include "index_select.h"

#include <string.h>

#include "internal.h"

static ln_status check_arguments(const ln_tensor *out, const ln_tensor *x, int dim,
                                 const int64_t *index, int64_t count)
{
    bool shape_ok = out->ndim == x->ndim && out->shape[dim] == count;
    for (int d = 0; d < x->ndim && shape_ok; d++)
        shape_ok = d == dim || out->shape[d] == x->shape[d];
    if (!shape_ok) {
        char a[256], b[256];
        return ln_fail(LN_EINVAL, "output has shape %s but selecting %lld slices of a tensor "
                       "of shape %s needs the same shape with %lld at the selected dim",
                       ln_shape_string(out, a, sizeof a), (long long)count,
                       ln_shape_string(x, b, sizeof b), (long long)count);
    }
    for (int64_t i = 0; i < count; i++)
        if (index[i] < 0 || index[i] >= x->shape[dim])
            return ln_fail(LN_EINVAL, "index %lld is out of range for a dim of size %lld",
                           (long long)index[i], (long long)x->shape[dim]);
    return LN_OK;
}

/* Both tensors contiguous: each selected slice is `inner` consecutive
 * floats in each of `outer` blocks. */
static void select_contiguous(float *out, const float *x, int64_t outer, int64_t size,
                              int64_t inner, const int64_t *index, int64_t count)
{
    int64_t total = outer * count;
    #pragma omp parallel for if (total * inner >= LN_PARALLEL_GRAIN)
    for (int64_t k = 0; k < total; k++) {
        int64_t o = k / count, i = k % count;
        memcpy(out + k * inner, x + (o * size + index[i]) * inner,
               (size_t)inner * sizeof(float));
    }
}

ln_status ln_index_select(ln_tensor *out, const ln_tensor *x, int dim, const int64_t *index,
                          int64_t count)
{
    ln_status status = check_arguments(out, x, dim, index, count);
    if (status || ln_numel(out) == 0)
        return status;

    if (ln_is_contiguous(out) && ln_is_contiguous(x)) {
        int64_t outer = 1, inner = 1;
        for (int d = 0; d < dim; d++)
            outer *= x->shape[d];
        for (int d = dim + 1; d < x->ndim; d++)
            inner *= x->shape[d];
        select_contiguous(ln_data(out), ln_data(x), outer, x->shape[dim], inner, index, count);
        return LN_OK;
    }

    /* Strided operands: copy one slice at a time through views. */
    for (int64_t i = 0; i < count && !status; i++) {
        ln_tensor to, from;
        ln_select(&to, out, dim, i);
        ln_select(&from, x, dim, index[i]);
        status = ln_copy(&to, &from);
        ln_tensor_release(&to);
        ln_tensor_release(&from);
    }
    return status;
}
