/* The tensor userdata: lifetime, metatable, indexing and inspection. */
#include "binding.h"

#include <string.h>

#define TENSOR_GRAD_FIELD "grad"

/* Lifetime ----------------------------------------------------------------- */

/* __gc and __close share this: releasing twice is harmless, and a closed
 * tensor is rejected by lb_check_tensor from then on. */
static int tensor_release(lua_State *L)
{
    ln_tensor *t = lb_test_tensor(L, 1);
    if (!t)
        luaL_error(L, "close: bad argument #1 (tensor expected, got %s)", luaL_typename(L, 1));
    ln_tensor_release(t);
    return 0;
}

/* Indexing ----------------------------------------------------------------- */

static int64_t check_index(lua_State *L, lua_Integer index, int64_t size, int dim,
                           const char *fname)
{
    if (index >= 1 && index <= size)
        return index - 1;
    if (index <= -1 && index >= -size)
        return size + index;
    luaL_error(L, "%s: index %I is out of range for dim %d of size %I (expected "
               "-%I..%I, excluding 0)", fname, (LUAI_UACINT)index, dim + 1,
               (LUAI_UACINT)size, (LUAI_UACINT)size, (LUAI_UACINT)size);
    return 0;
}

/* t[i]: a number for a 1-d tensor, otherwise a view of slice i along dim 1. */
static int tensor_index(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TNUMBER) {
        ln_tensor *t = lb_check_tensor(L, 1, "index");
        lua_Integer index = lb_check_integer(L, 2, "index", "index");
        if (t->ndim == 0)
            luaL_error(L, "index: a 0-d tensor cannot be indexed; use item()");
        int64_t i = check_index(L, index, t->shape[0], 0, "index");
        if (t->ndim == 1) {
            lua_pushnumber(L, ln_data(t)[i * t->stride[0]]);
            return 1;
        }
        ln_tensor *view = lb_push_tensor(L);
        ln_select(view, t, 0, i);
        return 1;
    }
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), TENSOR_GRAD_FIELD) == 0) {
        lua_getiuservalue(L, 1, 1);
        return 1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, LB_TENSOR_METHODS);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

/* t[i] = v: sets an element of a 1-d tensor, or fills or copies slice i. */
static int tensor_newindex(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), TENSOR_GRAD_FIELD) == 0) {
        if (!lua_isnil(L, 3))
            lb_check_tensor(L, 3, "grad");
        lua_settop(L, 3);
        lua_setiuservalue(L, 1, 1);
        return 0;
    }
    ln_tensor *t = lb_check_tensor(L, 1, "newindex");
    if (lua_type(L, 2) != LUA_TNUMBER)
        luaL_error(L, "newindex: tensors accept only integer indices and the field 'grad', "
                   "got %s", lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2)
                                                           : luaL_typename(L, 2));
    lua_Integer index = lb_check_integer(L, 2, "index", "newindex");
    if (t->ndim == 0)
        luaL_error(L, "newindex: a 0-d tensor cannot be indexed; use fill_()");
    int64_t i = check_index(L, index, t->shape[0], 0, "newindex");

    ln_tensor slice;
    ln_select(&slice, t, 0, i);
    if (lua_type(L, 3) == LUA_TNUMBER) {
        ln_fill(&slice, (float)lua_tonumber(L, 3));
        ln_tensor_release(&slice);
        return 0;
    }
    ln_tensor *src = lb_test_tensor(L, 3);
    ln_status status = src && src->storage ? ln_copy(&slice, src) : LN_EINVAL;
    ln_tensor_release(&slice);
    if (!src || !src->storage)
        luaL_error(L, "newindex: value must be a number or a tensor, got %s",
                   luaL_typename(L, 3));
    lb_check_status(L, status, "newindex");
    return 0;
}

static int tensor_len(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "#");
    if (t->ndim == 0)
        luaL_error(L, "#: a 0-d tensor has no length");
    lua_pushinteger(L, t->shape[0]);
    return 1;
}

static int tensor_eq(lua_State *L)
{
    lua_pushboolean(L, lua_touserdata(L, 1) == lua_touserdata(L, 2));
    return 1;
}

/* Inspection --------------------------------------------------------------- */

static int tensor_size(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "size");
    if (!lua_isnoneornil(L, 2)) {
        int dim = lb_check_dim(L, 2, t->ndim, "size");
        lua_pushinteger(L, t->ndim ? t->shape[dim] : 1);
        return 1;
    }
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushinteger(L, t->shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

static int tensor_stride(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "stride");
    if (!lua_isnoneornil(L, 2)) {
        int dim = lb_check_dim(L, 2, t->ndim, "stride");
        lua_pushinteger(L, t->ndim ? t->stride[dim] : 1);
        return 1;
    }
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushinteger(L, t->stride[d]);
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

static int tensor_dim(lua_State *L)
{
    lua_pushinteger(L, lb_check_tensor(L, 1, "dim")->ndim);
    return 1;
}

static int tensor_numel(lua_State *L)
{
    lua_pushinteger(L, ln_numel(lb_check_tensor(L, 1, "numel")));
    return 1;
}

static int tensor_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, ln_is_contiguous(lb_check_tensor(L, 1, "is_contiguous")));
    return 1;
}

static int tensor_item(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "item");
    int64_t numel = ln_numel(t);
    if (numel != 1) {
        char text[128];
        luaL_error(L, "item: the tensor has %I elements (shape %s) but item() needs exactly 1",
                   (LUAI_UACINT)numel, ln_shape_string(t, text, sizeof text));
    }
    lua_pushnumber(L, ln_data(t)[0]);
    return 1;
}

static void push_nested(lua_State *L, const ln_tensor *t, int dim, const float *base)
{
    int64_t size = t->shape[dim];
    lua_createtable(L, (int)(size < 1 << 30 ? size : 0), 0);
    for (int64_t i = 0; i < size; i++) {
        const float *p = base + i * t->stride[dim];
        if (dim == t->ndim - 1)
            lua_pushnumber(L, *p);
        else
            push_nested(L, t, dim + 1, p);
        lua_rawseti(L, -2, i + 1);
    }
}

static int tensor_totable(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "totable");
    if (t->ndim == 0) {
        lua_pushnumber(L, ln_data(t)[0]);
        return 1;
    }
    luaL_checkstack(L, t->ndim + 4, "totable: nesting too deep");
    push_nested(L, t, 0, ln_data(t));
    return 1;
}

/* Flat values in row-major order, for printing and assertions without
 * nested-table overhead. */
static int tensor_flat(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "flat");
    ln_tensor c;
    lb_check_status(L, ln_contiguous(&c, t, false), "flat");
    int64_t n = ln_numel(&c);
    lua_createtable(L, (int)(n < 1 << 30 ? n : 0), 0);
    const float *data = ln_data(&c);
    for (int64_t i = 0; i < n; i++) {
        lua_pushnumber(L, data[i]);
        lua_rawseti(L, -2, i + 1);
    }
    ln_tensor_release(&c);
    return 1;
}

static int is_tensor(lua_State *L)
{
    lua_pushboolean(L, lb_test_tensor(L, 1) != NULL);
    return 1;
}

static const lb_function tensor_functions[] = {
    {"size", tensor_size, 1},
    {"stride", tensor_stride, 1},
    {"dim", tensor_dim, 1},
    {"numel", tensor_numel, 1},
    {"is_contiguous", tensor_is_contiguous, 1},
    {"item", tensor_item, 1},
    {"totable", tensor_totable, 1},
    {"flat", tensor_flat, 1},
    {"is_tensor", is_tensor, 0},
    {"close", tensor_release, LB_METHOD_ONLY},
    {NULL, NULL, 0},
};

void lb_open_creation(lua_State *L);
void lb_open_views(lua_State *L);

void lb_open_tensor(lua_State *L)
{
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LB_TENSOR_METHODS);

    luaL_newmetatable(L, LB_TENSOR);
    static const luaL_Reg metamethods[] = {
        {"__gc", tensor_release},   {"__close", tensor_release}, {"__index", tensor_index},
        {"__newindex", tensor_newindex}, {"__len", tensor_len},  {"__eq", tensor_eq},
        {NULL, NULL},
    };
    luaL_setfuncs(L, metamethods, 0);
    lua_pop(L, 1);

    lb_register(L, tensor_functions);
    lb_open_creation(L);
    lb_open_views(L);

    /* The metatable and method table, for the Lua side to extend. */
    luaL_getmetatable(L, LB_TENSOR);
    lua_setfield(L, -2, "_tensor_metatable");
    lua_getfield(L, LUA_REGISTRYINDEX, LB_TENSOR_METHODS);
    lua_setfield(L, -2, "_tensor_methods");
}
