/* Reductions as lunet functions and tensor methods: sum, mean, max, min,
 * argmax, argmin and logsumexp.
 *
 * Without a dim, sum, mean, max and min return a Lua number, and argmax and
 * argmin return the 1-based flat index in row-major order as a Lua integer.
 * With a dim they return tensors whose shape drops that dim (or keeps it as
 * size 1 when keepdim is true). max(dim) and min(dim) return two tensors,
 * values and indices. Index tensors hold 1-based indices as floats, which
 * are exact integers up to 2^24 = 16777216. */
#include "binding.h"

#include <string.h>

/* Index tensors store floats, whose integers are exact up to 2^24. */
#define LARGEST_EXACT_INDEX (1 << 24)

typedef enum results { VALUES, VALUES_AND_INDICES, INDICES } results;

static int opt_keepdim(lua_State *L, int arg, const char *fname)
{
    if (lua_isnoneornil(L, arg))
        return 0;
    if (!lua_isboolean(L, arg))
        luaL_error(L, "%s: keepdim must be a boolean, got %s", fname, luaL_typename(L, arg));
    return lua_toboolean(L, arg);
}

/* max/min have no value over an empty dim; checked here so the message
 * names the 1-based dim. */
static void check_nonempty_dim(lua_State *L, const ln_tensor *x, int dim, const char *fname)
{
    if (x->ndim == 0 || x->shape[dim] != 0)
        return;
    char shape[128];
    luaL_error(L, "%s: cannot reduce over dim %d of size 0 (shape %s)", fname, dim + 1,
               ln_shape_string(x, shape, sizeof shape));
}

/* The shape of x reduced over dim: the dim dropped, or kept as size 1. */
static int reduced_shape(const ln_tensor *x, int dim, int keepdim, int64_t *shape)
{
    int ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != dim)
            shape[ndim++] = x->shape[d];
        else if (keepdim)
            shape[ndim++] = 1;
    }
    return ndim;
}

/* Pushes the 1-based float copy of 0-based indices as a tensor of shape
 * like `like`. */
static void push_indices(lua_State *L, const ln_tensor *like, const int64_t *indices,
                         const char *fname)
{
    ln_tensor *t = lb_new(L, like->ndim, like->shape, fname);
    float *data = ln_data(t);
    int64_t numel = ln_numel(t);
    for (int64_t i = 0; i < numel; i++)
        data[i] = (float)(indices[i] + 1);
}

/* x reduced over dim, as tensors on the stack; returns how many. */
static int reduce_dim(lua_State *L, const ln_tensor *x, int dim, int keepdim, ln_reduce_op op,
                      results want, const char *fname)
{
    int64_t shape[LN_MAX_DIMS];
    int ndim = reduced_shape(x, dim, keepdim, shape);
    int extreme = op == LN_MAX || op == LN_MIN;
    if (extreme)
        check_nonempty_dim(L, x, dim, fname);
    if (extreme && x->ndim > 0 && x->shape[dim] > LARGEST_EXACT_INDEX)
        luaL_error(L, "%s: dim %d has %I elements, but index tensors hold floats that are "
                   "exact only up to %d", fname, dim + 1, (LUAI_UACINT)x->shape[dim],
                   LARGEST_EXACT_INDEX);

    ln_tensor *values = lb_new(L, ndim, shape, fname);
    int64_t *indices = NULL;
    if (extreme) {
        /* A userdata, so the collector frees it on every path. */
        int64_t count = ln_numel(values);
        indices = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(count > 0 ? count : 1), 0);
    }
    lb_check_status(L, ln_reduce_dim(values, indices, x, dim, op), fname);
    if (!extreme)
        return 1;

    push_indices(L, values, indices, fname);
    lua_remove(L, -2);
    if (want == INDICES) {
        lua_remove(L, -2);
        return 1;
    }
    return 2;
}

/* Whole-tensor results: a number, or a 1-based integer index. */
static int reduce_all(lua_State *L, const ln_tensor *x, ln_reduce_op op, results want,
                      const char *fname)
{
    if ((op == LN_MAX || op == LN_MIN) && ln_numel(x) == 0) {
        char shape[128];
        luaL_error(L, "%s: cannot reduce a tensor with no elements (shape %s)", fname,
                   ln_shape_string(x, shape, sizeof shape));
    }
    if (want == INDICES) {
        int64_t index;
        lb_check_status(L, ln_arg_all(&index, x, op), fname);
        lua_pushinteger(L, index + 1);
        return 1;
    }
    double result;
    lb_check_status(L, ln_reduce_all(&result, x, op), fname);
    lua_pushnumber(L, result);
    return 1;
}

/* f(x[, dim[, keepdim]]) for every reduction. */
static int reduce(lua_State *L, ln_reduce_op op, results want, const char *fname)
{
    const ln_tensor *x = lb_check_tensor(L, 1, fname);
    int keepdim = opt_keepdim(L, 3, fname);
    if (lua_isnoneornil(L, 2)) {
        if (keepdim)
            luaL_error(L, "%s: keepdim needs a dim (got no dim)", fname);
        return reduce_all(L, x, op, want == VALUES_AND_INDICES ? VALUES : want, fname);
    }
    int dim = lb_check_dim(L, 2, x->ndim, fname);
    return reduce_dim(L, x, dim, keepdim, op, want, fname);
}

static int sum(lua_State *L)
{
    return reduce(L, LN_SUM, VALUES, "sum");
}

static int mean(lua_State *L)
{
    return reduce(L, LN_MEAN, VALUES, "mean");
}

static int max(lua_State *L)
{
    return reduce(L, LN_MAX, VALUES_AND_INDICES, "max");
}

static int min(lua_State *L)
{
    return reduce(L, LN_MIN, VALUES_AND_INDICES, "min");
}

static int argmax(lua_State *L)
{
    return reduce(L, LN_MAX, INDICES, "argmax");
}

static int argmin(lua_State *L)
{
    return reduce(L, LN_MIN, INDICES, "argmin");
}

/* logsumexp(x[, dim[, keepdim]]): dim defaults to the last, as for softmax. */
static int logsumexp(lua_State *L)
{
    const ln_tensor *x = lb_check_tensor(L, 1, "logsumexp");
    int dim = lb_opt_dim(L, 2, x->ndim, "logsumexp");
    int keepdim = opt_keepdim(L, 3, "logsumexp");
    int64_t shape[LN_MAX_DIMS];
    int ndim = reduced_shape(x, dim, keepdim, shape);
    ln_tensor *out = lb_new(L, ndim, shape, "logsumexp");
    lb_check_status(L, ln_logsumexp(out, x, dim), "logsumexp");
    return 1;
}

static const lb_function reduce_functions[] = {
    {"sum", sum, 1},
    {"mean", mean, 1},
    {"max", max, 1},
    {"min", min, 1},
    {"argmax", argmax, 1},
    {"argmin", argmin, 1},
    {"logsumexp", logsumexp, 1},
    {NULL, NULL, 0},
};

void lb_open_reduce(lua_State *L)
{
    lb_register(L, reduce_functions);
}
