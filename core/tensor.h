/* Tensors: float32 n-d arrays as shape and strides over shared storage.
 *
 * An ln_tensor is a small value struct that the caller owns (on the stack,
 * inside a Lua userdata, inside a layer). It refers to an ln_storage, which is
 * reference counted: every view of a tensor holds one reference, so a view
 * keeps its base's memory alive. A tensor whose storage is NULL is empty and
 * owns nothing. Strides and offsets count elements, not bytes.
 *
 * Ownership words used throughout the core:
 *   new    - the function allocated fresh storage; release it with
 *            ln_tensor_release().
 *   view   - the function made `out` share the input's storage (one more
 *            reference); release it with ln_tensor_release() too.
 *   [OUT]  - the function writes into an existing tensor of the stated shape.
 *
 * All dims here are 0-based. Every function that returns ln_status leaves its
 * outputs untouched (or empty) when it fails. */
#ifndef LUNET_TENSOR_H
#define LUNET_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define LN_MAX_DIMS 8

typedef struct ln_storage ln_storage;

struct ln_storage {
    float *data;
    int64_t numel;                     /* capacity, in elements */
    long refcount;
    void (*free_data)(ln_storage *);   /* NULL: the data is not freed */
    void *context;                     /* for free_data, e.g. an mmap region */
};

typedef struct ln_tensor {
    ln_storage *storage;               /* NULL: an empty tensor */
    int64_t offset;                    /* first element, in elements */
    int ndim;                          /* 0 (a scalar) to LN_MAX_DIMS */
    int64_t shape[LN_MAX_DIMS];
    int64_t stride[LN_MAX_DIMS];
} ln_tensor;

/* Allocation and lifetime ------------------------------------------------ */

/* Allocates new contiguous storage of the given shape, uninitialised (or
 * zero-filled by ln_tensor_zeros). Fails with LN_EINVAL for a rank above
 * LN_MAX_DIMS or a negative size, and LN_ENOMEM, naming the byte count, when
 * the element count overflows or malloc fails. Freed blocks of 32 to 256 MiB
 * are kept for reuse by the next allocation of the same size, up to four
 * blocks and 256 MiB in all. */
ln_status ln_tensor_alloc(ln_tensor *out, int ndim, const int64_t *shape);
ln_status ln_tensor_zeros(ln_tensor *out, int ndim, const int64_t *shape);

/* Frees the blocks that ln_tensor_alloc keeps for reuse, giving their
 * memory back to the system. */
void ln_storage_cache_clear(void);

/* Wraps caller-provided memory; free_data (may be NULL for memory the caller
 * keeps alive) runs when the last reference goes. */
ln_status ln_tensor_wrap(ln_tensor *out, float *data, int64_t numel, int ndim,
                         const int64_t *shape, void (*free_data)(ln_storage *),
                         void *context);

/* Drops t's reference to its storage and makes t empty. Idempotent. */
void ln_tensor_release(ln_tensor *t);

/* Makes out a view of src: same storage, shape, strides and offset. */
void ln_tensor_share(ln_tensor *out, const ln_tensor *src);

/* Inspection ------------------------------------------------------------- */

int64_t ln_numel(const ln_tensor *t);
bool ln_is_contiguous(const ln_tensor *t);
bool ln_same_shape(const ln_tensor *a, const ln_tensor *b);

/* Pointer to element 0 of t (storage data plus offset). */
static inline float *ln_data(const ln_tensor *t)
{
    return t->storage->data + t->offset;
}

/* Writes "2x3x4" (or "scalar") into buffer; returns buffer. */
const char *ln_shape_string(const ln_tensor *t, char *buffer, size_t size);
const char *ln_shape_string_raw(int ndim, const int64_t *shape, char *buffer,
                                size_t size);

/* Product of sizes; LN_ENOMEM when it would overflow int64 or exceed what
 * float32 storage can address. */
ln_status ln_shape_numel(int ndim, const int64_t *shape, int64_t *numel);

/* Contiguous (row-major) strides for shape. */
void ln_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

/* Views (no copy; out becomes a view of src) ------------------------------ */

/* Reshapes a tensor whose memory layout allows it without copying. At most
 * one size may be -1 and is inferred. LN_EINVAL when the element counts
 * differ or the strides do not allow a view (use ln_contiguous first). */
ln_status ln_view(ln_tensor *out, const ln_tensor *src, int ndim,
                  const int64_t *shape);

/* Resolves one -1 in shape against numel, checking the product. */
ln_status ln_infer_shape(int ndim, int64_t *shape, int64_t numel);

void ln_transpose(ln_tensor *out, const ln_tensor *src, int dim0, int dim1);

/* perm must be a permutation of 0..ndim-1 (the caller checks). */
void ln_permute(ln_tensor *out, const ln_tensor *src, const int *perm);

/* 0 <= start, start + length <= size (the caller checks). */
void ln_narrow(ln_tensor *out, const ln_tensor *src, int dim, int64_t start,
               int64_t length);

/* Removes dim, taking element index (the caller checks the range). */
void ln_select(ln_tensor *out, const ln_tensor *src, int dim, int64_t index);

/* Removes dim if its size is 1; with dim < 0, removes every size-1 dim. */
void ln_squeeze(ln_tensor *out, const ln_tensor *src, int dim);

/* Inserts a size-1 dim at position dim (0..ndim); LN_EINVAL past
 * LN_MAX_DIMS. */
ln_status ln_unsqueeze(ln_tensor *out, const ln_tensor *src, int dim);

/* Broadcasts src to shape with stride 0 on expanded dims. Sizes of -1 keep
 * the source size. LN_EINVAL when a non-1 size would change. */
ln_status ln_expand(ln_tensor *out, const ln_tensor *src, int ndim,
                    const int64_t *shape);

/* Copies and fills -------------------------------------------------------- */

/* new: a contiguous copy of src (a plain view when src is contiguous and
 * copy is false). */
ln_status ln_contiguous(ln_tensor *out, const ln_tensor *src, bool copy);

/* [OUT] dst = src, with src broadcast to dst's shape. dst and src may
 * overlap only if they are the same view. */
ln_status ln_copy(ln_tensor *dst, const ln_tensor *src);

/* [OUT] every element of t = value. */
void ln_fill(ln_tensor *t, float value);

/* Broadcasting ------------------------------------------------------------ */

/* NumPy broadcasting: aligns shapes at the last dim; sizes must be equal or
 * one of them 1. LN_EINVAL names both shapes when they do not broadcast. */
ln_status ln_broadcast_shape(const ln_tensor *a, const ln_tensor *b, int *ndim,
                             int64_t *shape);

/* Strides that make t read as `shape` (stride 0 on broadcast dims); t must
 * broadcast to shape. */
void ln_broadcast_strides(const ln_tensor *t, int ndim, const int64_t *shape,
                          int64_t *stride);

#endif
