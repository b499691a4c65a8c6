#include "topk.h"

#include <stdlib.h>

typedef struct entry {
    float value;
    int64_t index;
} entry;

/* Orders by descending value, NaN first, then ascending index. */
static int compare_descending(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    int a_nan = a->value != a->value, b_nan = b->value != b->value;
    if (a_nan != b_nan)
        return a_nan ? -1 : 1;
    if (!a_nan && a->value != b->value)
        return a->value > b->value ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Orders by ascending value, NaN last, then ascending index. */
static int compare_ascending(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    int a_nan = a->value != a->value, b_nan = b->value != b->value;
    if (a_nan != b_nan)
        return a_nan ? 1 : -1;
    if (!a_nan && a->value != b->value)
        return a->value < b->value ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

ln_status ln_topk(ln_tensor *values, int64_t *indices, const ln_tensor *x, int dim, int64_t k,
                  bool largest)
{
    int64_t n = x->ndim ? x->shape[dim] : 1;
    int64_t step = x->ndim ? x->stride[dim] : 1;
    if (k < 0 || k > n)
        return ln_fail(LN_EINVAL, "k %lld is out of range for a dim of size %lld (expected "
                       "0..%lld)", (long long)k, (long long)n, (long long)n);
    if (!ln_is_contiguous(values))
        return ln_fail(LN_EINVAL, "values must be contiguous");

    /* Slices are walked as (outer, n, inner) in row-major order of x's
     * other dims; values and indices are written in the same order. */
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < dim)
            outer *= x->shape[d];
        else if (d > dim)
            inner *= x->shape[d];
    }
    entry *scratch = malloc(sizeof(entry) * (size_t)(n > 0 ? n : 1));
    if (!scratch)
        return ln_fail(LN_ENOMEM, "out of memory sorting %lld values", (long long)n);

    float *out = ln_data(values);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            /* Offset of element (o, 0, i) in x, through x's own strides. */
            int64_t offset = 0, rest_outer = o, rest_inner = i;
            for (int d = x->ndim - 1; d > dim; d--) {
                offset += (rest_inner % x->shape[d]) * x->stride[d];
                rest_inner /= x->shape[d];
            }
            for (int d = dim - 1; d >= 0; d--) {
                offset += (rest_outer % x->shape[d]) * x->stride[d];
                rest_outer /= x->shape[d];
            }
            const float *src = ln_data(x) + offset;
            for (int64_t j = 0; j < n; j++)
                scratch[j] = (entry){src[j * step], j};
            qsort(scratch, (size_t)n, sizeof(entry),
                  largest ? compare_descending : compare_ascending);
            for (int64_t j = 0; j < k; j++) {
                int64_t position = (o * k + j) * inner + i;
                out[position] = scratch[j].value;
                indices[position] = scratch[j].index;
            }
        }
    }
    free(scratch);
    return LN_OK;
}
