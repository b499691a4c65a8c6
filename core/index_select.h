/* Gathering slices by index, as for mini-batches of a data set. */
#ifndef LUNET_INDEX_SELECT_H
#define LUNET_INDEX_SELECT_H

#include "tensor.h"

/* [OUT] out = the slices index[0..count-1] of x along dim, in that order
 * (indices may repeat). out must have x's shape with size count at dim.
 * Fails with LN_EINVAL when out has another shape or an index is outside
 * 0..size-1 (the binding checks 1-based indices first). */
ln_status ln_index_select(ln_tensor *out, const ln_tensor *x, int dim, const int64_t *index,
                          int64_t count);

#endif
