/* topk and sort as tensor methods and lunet functions. */
#include "binding.h"

#include <stdlib.h>

#include "topk.h"

/* Returns the optional boolean at arg, fallback when absent. */
static int opt_boolean(lua_State *L, int arg, const char *what, int fallback, const char *fname)
{
    if (lua_isnoneornil(L, arg))
        return fallback;
    if (!lua_isboolean(L, arg))
        luaL_error(L, "%s: %s must be a boolean, got %s", fname, what, luaL_typename(L, arg));
    return lua_toboolean(L, arg);
}

/* Pushes values and 1-based indices (as floats) of the k selected entries. */
static int push_topk(lua_State *L, ln_tensor *x, int dim, int64_t k, int largest,
                     const char *fname)
{
    int64_t shape[LN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = d == dim ? k : x->shape[d];
    ln_tensor *values = lb_new(L, x->ndim, shape, fname);
    ln_tensor *positions = lb_new(L, x->ndim, shape, fname);

    /* The int64 index buffer is a Lua userdata, so an error frees it. */
    int64_t count = ln_numel(values);
    int64_t *indices = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(count > 0 ? count : 1), 0);
    lb_check_status(L, ln_topk(values, indices, x, dim, k, largest), fname);
    float *out = ln_data(positions);
    for (int64_t i = 0; i < count; i++)
        out[i] = (float)(indices[i] + 1);
    lua_pop(L, 1);
    return 2;
}

/* topk(x, k[, dim[, largest]]): dim defaults to the last, largest to true. */
static int topk(lua_State *L)
{
    ln_tensor *x = lb_check_tensor(L, 1, "topk");
    lua_Integer k = lb_check_integer(L, 2, "k", "topk");
    int dim = lb_opt_dim(L, 3, x->ndim, "topk");
    int largest = opt_boolean(L, 4, "largest", 1, "topk");
    if (x->ndim == 0)
        luaL_error(L, "topk: expected a tensor with at least 1 dim, got a 0-d tensor");
    if (k < 0 || k > x->shape[dim])
        luaL_error(L, "topk: k %I is out of range for dim %d of size %I (expected 0..%I)",
                   (LUAI_UACINT)k, dim + 1, (LUAI_UACINT)x->shape[dim],
                   (LUAI_UACINT)x->shape[dim]);
    return push_topk(L, x, dim, k, largest, "topk");
}

/* sort(x[, dim[, descending]]): ascending by default, as PyTorch. */
static int sort(lua_State *L)
{
    ln_tensor *x = lb_check_tensor(L, 1, "sort");
    if (x->ndim == 0)
        luaL_error(L, "sort: expected a tensor with at least 1 dim, got a 0-d tensor");
    int dim = lb_opt_dim(L, 2, x->ndim, "sort");
    int descending = opt_boolean(L, 3, "descending", 0, "sort");
    return push_topk(L, x, dim, x->shape[dim], descending, "sort");
}

static const lb_function topk_functions[] = {
    {"topk", topk, 1},
    {"sort", sort, 1},
    {NULL, NULL, 0},
};

void lb_open_topk(lua_State *L)
{
    lb_register(L, topk_functions);
}
