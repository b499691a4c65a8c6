/* Views, copies and fills as tensor methods. Views share the source's
 * storage; each returns a new userdata holding one more storage reference. */
#include "binding.h"

#include <string.h>

static int view_common(lua_State *L, const char *fname, int allow_copy)
{
    ln_tensor *t = lb_check_tensor(L, 1, fname);
    int64_t shape[LN_MAX_DIMS];
    int ndim = lb_check_shape(L, 2, shape, 1, fname);
    lb_check_status(L, ln_infer_shape(ndim, shape, ln_numel(t)), fname);

    ln_tensor *out = lb_push_tensor(L);
    ln_status status = ln_view(out, t, ndim, shape);
    if (status == LN_OK || !allow_copy) {
        lb_check_status(L, status, fname);
        return 1;
    }
    /* reshape of a layout that cannot be viewed: copy, then view. */
    ln_tensor copy;
    lb_check_status(L, ln_contiguous(&copy, t, true), fname);
    status = ln_view(out, &copy, ndim, shape);
    ln_tensor_release(&copy);
    lb_check_status(L, status, fname);
    return 1;
}

static int view(lua_State *L)
{
    return view_common(L, "view", 0);
}

static int reshape(lua_State *L)
{
    return view_common(L, "reshape", 1);
}

static int transpose(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "transpose");
    int dim0, dim1;
    if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3)) {
        /* t:transpose() and t:t() swap the two dims of a matrix. */
        if (t->ndim > 2)
            luaL_error(L, "transpose: a %d-d tensor needs two dims to swap", t->ndim);
        dim0 = 0;
        dim1 = t->ndim == 2 ? 1 : 0;
    } else {
        dim0 = lb_check_dim(L, 2, t->ndim, "transpose");
        dim1 = lb_check_dim(L, 3, t->ndim, "transpose");
    }
    ln_tensor *out = lb_push_tensor(L);
    if (t->ndim == 0) {
        ln_tensor_share(out, t);
        return 1;
    }
    ln_transpose(out, t, dim0, dim1);
    return 1;
}

static int permute(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "permute");
    int perm[LN_MAX_DIMS];
    int seen[LN_MAX_DIMS] = {0};
    int count;
    int from_table = lua_type(L, 2) == LUA_TTABLE;

    count = from_table ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
    if (count != t->ndim)
        luaL_error(L, "permute: %d dims given for a %d-d tensor (expected a permutation of "
                   "1..%d)", count, t->ndim, t->ndim);
    for (int i = 0; i < count; i++) {
        lua_Integer dim;
        if (from_table) {
            lua_geti(L, 2, i + 1);
            dim = lb_check_integer(L, -1, "dim", "permute");
            lua_pop(L, 1);
        } else {
            dim = lb_check_integer(L, i + 2, "dim", "permute");
        }
        perm[i] = lb_dim_value(L, dim, t->ndim, 0, "permute");
        if (seen[perm[i]]++)
            luaL_error(L, "permute: dim %d appears twice (expected a permutation of 1..%d)",
                       perm[i] + 1, t->ndim);
    }
    ln_tensor *out = lb_push_tensor(L);
    ln_permute(out, t, perm);
    return 1;
}

static int narrow(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "narrow");
    if (t->ndim == 0)
        luaL_error(L, "narrow: a 0-d tensor cannot be narrowed");
    int dim = lb_check_dim(L, 2, t->ndim, "narrow");
    lua_Integer start = lb_check_integer(L, 3, "start", "narrow");
    lua_Integer length = lb_check_integer(L, 4, "length", "narrow");
    int64_t size = t->shape[dim];
    if (start < 0)
        start += size + 1;
    /* Written so that no sum can overflow: start - 1 is within 0..size here. */
    if (start < 1 || start > size + 1 || length < 0 || length > size - (start - 1))
        luaL_error(L, "narrow: start %I and length %I do not fit dim %d of size %I "
                   "(expected 1 <= start and start + length - 1 <= %I)",
                   (LUAI_UACINT)lua_tointeger(L, 3), (LUAI_UACINT)length, dim + 1,
                   (LUAI_UACINT)size, (LUAI_UACINT)size);
    ln_tensor *out = lb_push_tensor(L);
    ln_narrow(out, t, dim, start - 1, length);
    return 1;
}

static int select_(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "select");
    if (t->ndim == 0)
        luaL_error(L, "select: a 0-d tensor has no dim to select from");
    int dim = lb_check_dim(L, 2, t->ndim, "select");
    lua_Integer index = lb_check_integer(L, 3, "index", "select");
    int64_t size = t->shape[dim];
    if (index < 0)
        index += size + 1;
    if (index < 1 || index > size)
        luaL_error(L, "select: index %I is out of range for dim %d of size %I (expected "
                   "-%I..%I, excluding 0)", (LUAI_UACINT)lua_tointeger(L, 3), dim + 1,
                   (LUAI_UACINT)size, (LUAI_UACINT)size, (LUAI_UACINT)size);
    ln_tensor *out = lb_push_tensor(L);
    ln_select(out, t, dim, index - 1);
    return 1;
}

static int squeeze(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "squeeze");
    int dim = lua_isnoneornil(L, 2) ? -1 : lb_check_dim(L, 2, t->ndim, "squeeze");
    ln_tensor *out = lb_push_tensor(L);
    if (t->ndim == 0) {
        ln_tensor_share(out, t);
        return 1;
    }
    ln_squeeze(out, t, dim);
    return 1;
}

static int unsqueeze(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "unsqueeze");
    int dim = lb_check_dim_extra(L, 2, t->ndim, 1, "unsqueeze");
    ln_tensor *out = lb_push_tensor(L);
    lb_check_status(L, ln_unsqueeze(out, t, dim), "unsqueeze");
    return 1;
}

/* expand(sizes...) or expand({sizes}); -1 keeps a size. */
static int expand(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "expand");
    int64_t shape[LN_MAX_DIMS];
    int ndim = lb_check_shape(L, 2, shape, 1, "expand");
    ln_tensor *out = lb_push_tensor(L);
    lb_check_status(L, ln_expand(out, t, ndim, shape), "expand");
    return 1;
}

static int expand_as(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "expand_as");
    ln_tensor *other = lb_check_tensor(L, 2, "expand_as");
    ln_tensor *out = lb_push_tensor(L);
    lb_check_status(L, ln_expand(out, t, other->ndim, other->shape), "expand_as");
    return 1;
}

static int contiguous(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "contiguous");
    if (ln_is_contiguous(t)) {
        lua_settop(L, 1);
        return 1;
    }
    ln_tensor *out = lb_push_tensor(L);
    lb_account(L, ln_numel(t) * 4);
    lb_check_status(L, ln_contiguous(out, t, true), "contiguous");
    return 1;
}

static int clone(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "clone");
    ln_tensor *out = lb_push_tensor(L);
    lb_account(L, ln_numel(t) * 4);
    lb_check_status(L, ln_contiguous(out, t, true), "clone");
    return 1;
}

static int copy_(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "copy_");
    ln_tensor *src = lb_check_tensor(L, 2, "copy_");
    if (t->storage == src->storage && !(t->offset == src->offset && ln_same_shape(t, src) &&
                                        memcmp(t->stride, src->stride,
                                               sizeof(int64_t) * t->ndim) == 0)) {
        /* Overlapping views of one storage: copy through a temporary. */
        ln_tensor tmp;
        lb_check_status(L, ln_contiguous(&tmp, src, true), "copy_");
        ln_status status = ln_copy(t, &tmp);
        ln_tensor_release(&tmp);
        lb_check_status(L, status, "copy_");
    } else {
        lb_check_status(L, ln_copy(t, src), "copy_");
    }
    lua_settop(L, 1);
    return 1;
}

static int fill_(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "fill_");
    if (lua_type(L, 2) != LUA_TNUMBER)
        luaL_error(L, "fill_: value must be a number, got %s", luaL_typename(L, 2));
    float value = (float)lua_tonumber(L, 2);
    ln_fill(t, value);
    lua_settop(L, 1);
    return 1;
}

static int zero_(lua_State *L)
{
    ln_fill(lb_check_tensor(L, 1, "zero_"), 0.0f);
    lua_settop(L, 1);
    return 1;
}

static const lb_function view_functions[] = {
    {"view", view, 1},
    {"reshape", reshape, 1},
    {"transpose", transpose, 1},
    {"t", transpose, LB_METHOD_ONLY},
    {"permute", permute, 1},
    {"narrow", narrow, 1},
    {"select", select_, 1},
    {"squeeze", squeeze, 1},
    {"unsqueeze", unsqueeze, 1},
    {"expand", expand, 1},
    {"expand_as", expand_as, LB_METHOD_ONLY},
    {"contiguous", contiguous, 1},
    {"clone", clone, 1},
    {"copy_", copy_, LB_METHOD_ONLY},
    {"fill_", fill_, LB_METHOD_ONLY},
    {"zero_", zero_, LB_METHOD_ONLY},
    {NULL, NULL, 0},
};

void lb_open_views(lua_State *L)
{
    lb_register(L, view_functions);
}
