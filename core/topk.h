/* The k largest (or smallest) entries along one dim, and full sorts.
 *
 * NaN compares greater than every number, as in PyTorch, so it comes first
 * among the largest. Equal values keep their original order (lower index
 * first), which makes results deterministic. */
#ifndef LUNET_TOPK_H
#define LUNET_TOPK_H

#include "tensor.h"

/* [OUT] values and indices have x's shape with dim's size replaced by k;
 * indices receives 0-based positions along dim. Requires 0 <= k <= size of
 * dim (LN_EINVAL otherwise). A k equal to the size is a full sort. */
ln_status ln_topk(ln_tensor *values, int64_t *indices, const ln_tensor *x, int dim, int64_t k,
                  bool largest);

#endif
