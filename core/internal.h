/* Internal helpers shared by the core's kernels; not part of the public API. */
#ifndef LUNET_INTERNAL_H
#define LUNET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

/* Compiles a hot loop for several instruction sets, picked at load time. */
#define LN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

/* Returns whether the processor has AVX-512F, for kernels with an explicit
 * AVX-512 loop beside their portable one. */
bool ln_cpu_has_avx512(void);

/* Element counts below this run on one thread: spawning threads costs more
 * than the work saved. */
#define LN_PARALLEL_GRAIN 32768

/* One operand of a strided loop: a base pointer and per-dim strides (in
 * elements) over a shared iteration shape. */
typedef struct ln_operand {
    float *data;
    int64_t stride[LN_MAX_DIMS];
} ln_operand;

/* Inner loop over one row: n elements, pointers to each operand's first
 * element and each operand's step along the row. */
typedef void (*ln_row_fn)(int64_t n, float **ptr, const int64_t *step, void *context);

/* Calls row over every innermost row of shape, after merging dims that are
 * contiguous for every operand so that rows are as long as possible. With
 * parallel set, rows are split across OpenMP threads when the work is large;
 * row must then only write to operand 0 at its own positions. */
void ln_apply(int count, const ln_operand *operands, int ndim, const int64_t *shape,
              ln_row_fn row, void *context, bool parallel);

/* Pairwise sum of n floats read with stride step, accumulated in double; the
 * error grows as O(log n) instead of O(n). */
double ln_sum_strided(const float *x, int64_t n, int64_t step);

/* Allocates and frees tensor storage: 64-byte aligned memory, or calloc's
 * zeroed memory, except that large blocks are recycled through a small cache
 * (storage_cache.c). bytes must be the size the block was allocated with. */
void *ln_storage_malloc(size_t bytes, bool zero);
void ln_storage_free(void *data, size_t bytes);

#endif
