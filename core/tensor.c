#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Storage ------------------------------------------------------------------ */

/* Largest element count whose byte size fits comfortably in size_t and
 * ptrdiff_t on a 64-bit machine. */
#define LN_MAX_NUMEL (INT64_MAX / 8)

/* Bytes allocated for numel elements; an empty tensor still gets one. */
static size_t storage_bytes(int64_t numel)
{
    return (size_t)(numel > 0 ? numel : 1) * sizeof(float);
}

static ln_storage *storage_new(float *data, int64_t numel,
                               void (*free_data)(ln_storage *), void *context)
{
    ln_storage *storage = malloc(sizeof *storage);
    if (!storage)
        return NULL;
    storage->data = data;
    storage->numel = numel;
    storage->refcount = 1;
    storage->free_data = free_data;
    storage->context = context;
    return storage;
}

/* free_data of the storage that ln_tensor_alloc and ln_tensor_zeros make. */
static void free_allocated(ln_storage *storage)
{
    ln_storage_free(storage->data, storage_bytes(storage->numel));
}

static void storage_release(ln_storage *storage)
{
    if (--storage->refcount > 0)
        return;
    if (storage->free_data)
        storage->free_data(storage);
    free(storage);
}

ln_status ln_shape_numel(int ndim, const int64_t *shape, int64_t *numel)
{
    /* The product of the non-zero sizes bounds the strides, so it must fit
     * even when a zero size makes the element count 0. */
    int64_t total = 1, nonzero = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return ln_fail(LN_EINVAL, "size %lld is negative", (long long)shape[d]);
        if (shape[d] != 0 && nonzero > LN_MAX_NUMEL / shape[d]) {
            char text[256];
            ln_shape_string_raw(ndim, shape, text, sizeof text);
            return ln_fail(LN_ENOMEM,
                           "cannot allocate a tensor of shape %s: its element count "
                           "overflows 64-bit sizes", text);
        }
        total *= shape[d];
        if (shape[d] != 0)
            nonzero *= shape[d];
    }
    *numel = total;
    return LN_OK;
}

void ln_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t step = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = step;
        step *= shape[d] > 0 ? shape[d] : 1;
    }
}

static void set_shape(ln_tensor *t, int ndim, const int64_t *shape)
{
    t->ndim = ndim;
    t->offset = 0;
    for (int d = 0; d < ndim; d++)
        t->shape[d] = shape[d];
    ln_contiguous_strides(ndim, shape, t->stride);
}

static ln_status check_rank(int ndim)
{
    if (ndim < 0 || ndim > LN_MAX_DIMS)
        return ln_fail(LN_EINVAL, "rank %d is not supported (expected 0..%d)", ndim,
                       LN_MAX_DIMS);
    return LN_OK;
}

static ln_status alloc_storage(ln_tensor *out, int ndim, const int64_t *shape, bool zero)
{
    int64_t numel;
    ln_status status = check_rank(ndim);
    if (status)
        return status;
    status = ln_shape_numel(ndim, shape, &numel);
    if (status)
        return status;

    float *data = ln_storage_malloc(storage_bytes(numel), zero);
    if (!data) {
        char text[256];
        ln_shape_string_raw(ndim, shape, text, sizeof text);
        return ln_fail(LN_ENOMEM, "out of memory: a tensor of shape %s needs %.4g GB",
                       text, (double)numel * 4 / 1e9);
    }
    ln_storage *storage = storage_new(data, numel, free_allocated, NULL);
    if (!storage) {
        ln_storage_free(data, storage_bytes(numel));
        return ln_fail(LN_ENOMEM, "out of memory allocating tensor storage");
    }
    out->storage = storage;
    set_shape(out, ndim, shape);
    return LN_OK;
}

ln_status ln_tensor_alloc(ln_tensor *out, int ndim, const int64_t *shape)
{
    return alloc_storage(out, ndim, shape, false);
}

ln_status ln_tensor_zeros(ln_tensor *out, int ndim, const int64_t *shape)
{
    return alloc_storage(out, ndim, shape, true);
}

ln_status ln_tensor_wrap(ln_tensor *out, float *data, int64_t numel, int ndim,
                         const int64_t *shape, void (*free_data)(ln_storage *),
                         void *context)
{
    int64_t needed;
    ln_status status = check_rank(ndim);
    if (status)
        return status;
    status = ln_shape_numel(ndim, shape, &needed);
    if (status)
        return status;
    if (needed > numel)
        return ln_fail(LN_EINVAL, "shape needs %lld elements but the buffer has %lld",
                       (long long)needed, (long long)numel);
    ln_storage *storage = storage_new(data, numel, free_data, context);
    if (!storage)
        return ln_fail(LN_ENOMEM, "out of memory allocating tensor storage");
    out->storage = storage;
    set_shape(out, ndim, shape);
    return LN_OK;
}

void ln_tensor_release(ln_tensor *t)
{
    if (t->storage)
        storage_release(t->storage);
    t->storage = NULL;
}

void ln_tensor_share(ln_tensor *out, const ln_tensor *src)
{
    if (out == src)
        return;
    *out = *src;
    if (out->storage)
        out->storage->refcount++;
}

/* Inspection --------------------------------------------------------------- */

int64_t ln_numel(const ln_tensor *t)
{
    int64_t total = 1;
    for (int d = 0; d < t->ndim; d++)
        total *= t->shape[d];
    return total;
}

bool ln_is_contiguous(const ln_tensor *t)
{
    int64_t step = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] == 1)
            continue;
        if (t->shape[d] == 0)
            return true;
        if (t->stride[d] != step)
            return false;
        step *= t->shape[d];
    }
    return true;
}

bool ln_same_shape(const ln_tensor *a, const ln_tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

const char *ln_shape_string_raw(int ndim, const int64_t *shape, char *buffer, size_t size)
{
    if (ndim == 0) {
        snprintf(buffer, size, "scalar");
        return buffer;
    }
    size_t used = 0;
    buffer[0] = '\0';
    for (int d = 0; d < ndim && used < size; d++)
        used += snprintf(buffer + used, size - used, d ? "x%lld" : "%lld",
                         (long long)shape[d]);
    return buffer;
}

const char *ln_shape_string(const ln_tensor *t, char *buffer, size_t size)
{
    return ln_shape_string_raw(t->ndim, t->shape, buffer, size);
}

/* Views -------------------------------------------------------------------- */

ln_status ln_infer_shape(int ndim, int64_t *shape, int64_t numel)
{
    int inferred = -1;
    int64_t known = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == -1) {
            if (inferred >= 0)
                return ln_fail(LN_EINVAL, "only one size may be -1");
            inferred = d;
        } else if (shape[d] < 0) {
            return ln_fail(LN_EINVAL, "size %lld is negative", (long long)shape[d]);
        } else {
            if (shape[d] != 0 && known > LN_MAX_NUMEL / shape[d]) {
                char text[256];
                ln_shape_string_raw(ndim, shape, text, sizeof text);
                return ln_fail(LN_EINVAL, "the requested shape %s overflows 64-bit sizes",
                               text);
            }
            known *= shape[d];
        }
    }
    if (inferred >= 0) {
        if (known == 0 || numel % known != 0)
            return ln_fail(LN_EINVAL, "cannot infer the -1 size: %lld elements do not "
                           "divide into parts of %lld", (long long)numel, (long long)known);
        shape[inferred] = numel / known;
        known = numel;
    }
    if (known != numel) {
        char text[256];
        ln_shape_string_raw(ndim, shape, text, sizeof text);
        return ln_fail(LN_EINVAL, "shape %s has %lld elements but the tensor has %lld",
                       text, (long long)known, (long long)numel);
    }
    return LN_OK;
}

/* Computes strides for viewing src as new_shape without copying, following
 * the rule that each run of new dims must split or merge runs of old dims that
 * are themselves contiguous with each other. Returns false when impossible. */
static bool view_strides(const ln_tensor *src, int ndim, const int64_t *shape,
                         int64_t *stride)
{
    if (ln_numel(src) == 0 || ln_is_contiguous(src)) {
        ln_contiguous_strides(ndim, shape, stride);
        return true;
    }

    int new_d = ndim - 1;
    int64_t chunk_base_stride = src->stride[src->ndim - 1];
    int64_t tensor_numel = 1;
    int64_t view_numel = 1;
    for (int d = src->ndim - 1; d >= 0; d--) {
        tensor_numel *= src->shape[d];
        bool chunk_ends = d == 0 || (src->shape[d - 1] != 1 &&
                                     src->stride[d - 1] != tensor_numel * chunk_base_stride);
        if (!chunk_ends)
            continue;
        while (new_d >= 0 && (view_numel < tensor_numel || shape[new_d] == 1)) {
            stride[new_d] = view_numel * chunk_base_stride;
            view_numel *= shape[new_d];
            new_d--;
        }
        if (view_numel != tensor_numel)
            return false;
        if (d > 0) {
            chunk_base_stride = src->stride[d - 1];
            tensor_numel = 1;
            view_numel = 1;
        }
    }
    return new_d == -1;
}

ln_status ln_view(ln_tensor *out, const ln_tensor *src, int ndim, const int64_t *shape)
{
    int64_t resolved[LN_MAX_DIMS];
    int64_t stride[LN_MAX_DIMS];
    ln_status status = check_rank(ndim);
    if (status)
        return status;
    memcpy(resolved, shape, sizeof(int64_t) * ndim);
    status = ln_infer_shape(ndim, resolved, ln_numel(src));
    if (status)
        return status;
    if (!view_strides(src, ndim, resolved, stride))
        return ln_fail(LN_EINVAL, "the tensor's strides do not allow a view of this shape; "
                       "call contiguous() first or use reshape()");

    ln_tensor_share(out, src);
    out->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        out->shape[d] = resolved[d];
        out->stride[d] = stride[d];
    }
    return LN_OK;
}

void ln_transpose(ln_tensor *out, const ln_tensor *src, int dim0, int dim1)
{
    ln_tensor_share(out, src);
    int64_t size = out->shape[dim0], stride = out->stride[dim0];
    out->shape[dim0] = out->shape[dim1];
    out->stride[dim0] = out->stride[dim1];
    out->shape[dim1] = size;
    out->stride[dim1] = stride;
}

void ln_permute(ln_tensor *out, const ln_tensor *src, const int *perm)
{
    ln_tensor copy = *src;
    ln_tensor_share(out, src);
    for (int d = 0; d < src->ndim; d++) {
        out->shape[d] = copy.shape[perm[d]];
        out->stride[d] = copy.stride[perm[d]];
    }
}

void ln_narrow(ln_tensor *out, const ln_tensor *src, int dim, int64_t start, int64_t length)
{
    ln_tensor_share(out, src);
    if (length > 0)
        out->offset += start * out->stride[dim];
    out->shape[dim] = length;
}

static void remove_dim(ln_tensor *t, int dim)
{
    for (int d = dim; d < t->ndim - 1; d++) {
        t->shape[d] = t->shape[d + 1];
        t->stride[d] = t->stride[d + 1];
    }
    t->ndim--;
}

void ln_select(ln_tensor *out, const ln_tensor *src, int dim, int64_t index)
{
    ln_tensor_share(out, src);
    out->offset += index * out->stride[dim];
    remove_dim(out, dim);
}

void ln_squeeze(ln_tensor *out, const ln_tensor *src, int dim)
{
    ln_tensor_share(out, src);
    if (dim >= 0) {
        if (out->shape[dim] == 1)
            remove_dim(out, dim);
        return;
    }
    for (int d = out->ndim - 1; d >= 0; d--)
        if (out->shape[d] == 1)
            remove_dim(out, d);
}

ln_status ln_unsqueeze(ln_tensor *out, const ln_tensor *src, int dim)
{
    if (src->ndim >= LN_MAX_DIMS)
        return ln_fail(LN_EINVAL, "a %d-d tensor cannot gain a dim (at most %d dims)",
                       src->ndim, LN_MAX_DIMS);
    ln_tensor_share(out, src);
    for (int d = out->ndim; d > dim; d--) {
        out->shape[d] = out->shape[d - 1];
        out->stride[d] = out->stride[d - 1];
    }
    out->shape[dim] = 1;
    out->stride[dim] = dim < src->ndim ? src->stride[dim] * src->shape[dim] : 1;
    out->ndim++;
    return LN_OK;
}

ln_status ln_expand(ln_tensor *out, const ln_tensor *src, int ndim, const int64_t *shape)
{
    int64_t resolved[LN_MAX_DIMS];
    int64_t stride[LN_MAX_DIMS];
    ln_status status = check_rank(ndim);
    if (status)
        return status;
    if (ndim < src->ndim)
        return ln_fail(LN_EINVAL, "cannot expand a %d-d tensor to %d dims", src->ndim, ndim);

    int lead = ndim - src->ndim;
    for (int d = 0; d < ndim; d++) {
        int s = d - lead;
        int64_t size = shape[d];
        if (s < 0) {
            if (size < 0)
                return ln_fail(LN_EINVAL, "size -1 is not allowed for a new leading dim");
            resolved[d] = size;
            stride[d] = 0;
            continue;
        }
        if (size == -1)
            size = src->shape[s];
        if (size < 0)
            return ln_fail(LN_EINVAL, "size %lld is negative", (long long)size);
        if (src->shape[s] == size) {
            stride[d] = src->stride[s];
        } else if (src->shape[s] == 1) {
            stride[d] = 0;
        } else {
            char from[256], to[256];
            ln_shape_string(src, from, sizeof from);
            ln_shape_string_raw(ndim, shape, to, sizeof to);
            return ln_fail(LN_EINVAL, "cannot expand shape %s to %s: only size-1 dims "
                           "can grow", from, to);
        }
        resolved[d] = size;
    }
    int64_t numel;
    status = ln_shape_numel(ndim, resolved, &numel);
    if (status)
        return status;

    ln_tensor_share(out, src);
    out->ndim = ndim;
    memcpy(out->shape, resolved, sizeof(int64_t) * ndim);
    memcpy(out->stride, stride, sizeof(int64_t) * ndim);
    return LN_OK;
}

/* Broadcasting ------------------------------------------------------------- */

ln_status ln_broadcast_shape(const ln_tensor *a, const ln_tensor *b, int *ndim,
                             int64_t *shape)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < n; d++) {
        int da = d - (n - a->ndim), db = d - (n - b->ndim);
        int64_t sa = da >= 0 ? a->shape[da] : 1;
        int64_t sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char ta[256], tb[256];
            return ln_fail(LN_EINVAL, "shapes %s and %s do not broadcast (size %lld vs "
                           "%lld at dim %d from the end)",
                           ln_shape_string(a, ta, sizeof ta), ln_shape_string(b, tb, sizeof tb),
                           (long long)sa, (long long)sb, n - d);
        }
        shape[d] = sa == 1 ? sb : sa;
    }
    *ndim = n;
    return LN_OK;
}

void ln_broadcast_strides(const ln_tensor *t, int ndim, const int64_t *shape, int64_t *stride)
{
    int lead = ndim - t->ndim;
    for (int d = 0; d < ndim; d++) {
        int s = d - lead;
        stride[d] = (s < 0 || (t->shape[s] == 1 && shape[d] != 1)) ? 0 : t->stride[s];
    }
}

/* Copies and fills --------------------------------------------------------- */

static void copy_row(int64_t n, float **ptr, const int64_t *step, void *context)
{
    (void)context;
    float *dst = ptr[0];
    const float *src = ptr[1];
    if (step[0] == 1 && step[1] == 1) {
        memmove(dst, src, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; i++)
        dst[i * step[0]] = src[i * step[1]];
}

ln_status ln_copy(ln_tensor *dst, const ln_tensor *src)
{
    int ndim;
    int64_t shape[LN_MAX_DIMS];
    ln_status status = ln_broadcast_shape(dst, src, &ndim, shape);
    if (status || ndim != dst->ndim || memcmp(shape, dst->shape, sizeof(int64_t) * ndim) != 0) {
        char ta[256], tb[256];
        return ln_fail(LN_EINVAL, "cannot copy a tensor of shape %s into one of shape %s",
                       ln_shape_string(src, tb, sizeof tb), ln_shape_string(dst, ta, sizeof ta));
    }
    ln_operand operands[2] = {{ln_data(dst), {0}}, {ln_data(src), {0}}};
    memcpy(operands[0].stride, dst->stride, sizeof(int64_t) * ndim);
    ln_broadcast_strides(src, ndim, shape, operands[1].stride);
    ln_apply(2, operands, ndim, shape, copy_row, NULL, false);
    return LN_OK;
}

static void fill_row(int64_t n, float **ptr, const int64_t *step, void *context)
{
    float value = *(const float *)context;
    float *dst = ptr[0];
    for (int64_t i = 0; i < n; i++)
        dst[i * step[0]] = value;
}

void ln_fill(ln_tensor *t, float value)
{
    if (!t->storage)
        return;
    ln_operand operand = {ln_data(t), {0}};
    memcpy(operand.stride, t->stride, sizeof(int64_t) * t->ndim);
    ln_apply(1, &operand, t->ndim, t->shape, fill_row, &value, true);
}

ln_status ln_contiguous(ln_tensor *out, const ln_tensor *src, bool copy)
{
    if (!copy && ln_is_contiguous(src)) {
        ln_tensor_share(out, src);
        return LN_OK;
    }
    ln_tensor result;
    ln_status status = ln_tensor_alloc(&result, src->ndim, src->shape);
    if (status)
        return status;
    status = ln_copy(&result, src);
    if (status) {
        ln_tensor_release(&result);
        return status;
    }
    *out = result;
    return LN_OK;
}
