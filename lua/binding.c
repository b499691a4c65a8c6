/* Argument checking and error helpers shared by the binding's files. */
#include "binding.h"

#include <math.h>
#include <string.h>

ln_tensor *lb_test_tensor(lua_State *L, int arg)
{
    return luaL_testudata(L, arg, LB_TENSOR);
}

ln_tensor *lb_check_tensor(lua_State *L, int arg, const char *fname)
{
    ln_tensor *t = luaL_testudata(L, arg, LB_TENSOR);
    if (!t)
        luaL_error(L, "%s: bad argument #%d (tensor expected, got %s)", fname, arg,
                   luaL_typename(L, arg));
    if (!t->storage)
        luaL_error(L, "%s: bad argument #%d (the tensor was closed and cannot be used)",
                   fname, arg);
    return t;
}

ln_tensor *lb_push_tensor(lua_State *L)
{
    ln_tensor *t = lua_newuserdatauv(L, sizeof(ln_tensor), 1);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, LB_TENSOR);
    return t;
}

/* lb_account reports one byte in TENSOR_BYTES_PER_GC_BYTE of each tensor to
 * the collector. Reporting every byte made it traverse the whole Lua heap
 * once per heap-sized amount of new tensors, about 5 us per 64 KB tensor,
 * most of the time of a small model's call. With a quarter, garbage tensors
 * stay within a few times the Lua heap, and VGG16's peak memory at batch 1
 * is unchanged. */
#define TENSOR_BYTES_PER_GC_BYTE 4

void lb_account(lua_State *L, int64_t bytes)
{
    /* A step "as if" this many KB were allocated: without it a loop of large
     * temporaries would outrun the collector, which counts only small
     * userdata. */
    int64_t kb = bytes / TENSOR_BYTES_PER_GC_BYTE / 1024;
    if (kb > 0)
        lua_gc(L, LUA_GCSTEP, kb > 1 << 30 ? 1 << 30 : (int)kb);
}

void lb_check_status(lua_State *L, ln_status status, const char *fname)
{
    if (status != LN_OK)
        luaL_error(L, "%s: %s", fname, ln_last_error());
}

static void alloc_common(lua_State *L, ln_tensor *t, int ndim, const int64_t *shape,
                         const char *fname, bool zero)
{
    int64_t numel;
    lb_check_status(L, ln_shape_numel(ndim, shape, &numel), fname);
    lb_account(L, numel * (int64_t)sizeof(float));
    ln_status status = zero ? ln_tensor_zeros(t, ndim, shape) : ln_tensor_alloc(t, ndim, shape);
    if (status == LN_ENOMEM) {
        /* Collect once and retry: garbage tensors may hold the memory. */
        lua_gc(L, LUA_GCCOLLECT);
        status = zero ? ln_tensor_zeros(t, ndim, shape) : ln_tensor_alloc(t, ndim, shape);
    }
    lb_check_status(L, status, fname);
}

void lb_alloc(lua_State *L, ln_tensor *t, int ndim, const int64_t *shape, const char *fname)
{
    alloc_common(L, t, ndim, shape, fname, false);
}

void lb_alloc_zeros(lua_State *L, ln_tensor *t, int ndim, const int64_t *shape,
                    const char *fname)
{
    alloc_common(L, t, ndim, shape, fname, true);
}

ln_tensor *lb_new(lua_State *L, int ndim, const int64_t *shape, const char *fname)
{
    ln_tensor *t = lb_push_tensor(L);
    lb_alloc(L, t, ndim, shape, fname);
    return t;
}

lua_Integer lb_check_integer(lua_State *L, int arg, const char *what, const char *fname)
{
    int is_integer = 0;
    lua_Integer value = lua_tointegerx(L, arg, &is_integer);
    if (is_integer)
        return value;
    if (lua_type(L, arg) == LUA_TNUMBER)
        luaL_error(L, "%s: %s must be an integer, got %s", fname, what,
                   lua_tostring(L, arg));
    luaL_error(L, "%s: %s must be an integer, got %s", fname, what, luaL_typename(L, arg));
    return 0;
}

int lb_dim_value(lua_State *L, lua_Integer dim, int ndim, int extra, const char *fname)
{
    int range = ndim + extra > 0 ? ndim + extra : 1;
    if (dim >= 1 && dim <= range)
        return (int)dim - 1;
    if (dim <= -1 && dim >= -range)
        return range + (int)dim;
    luaL_error(L, "%s: dim %I is out of range for a %d-d tensor (expected %d..%d, "
               "excluding 0)", fname, (LUAI_UACINT)dim, ndim, -range, range);
    return 0;
}

int lb_check_dim_extra(lua_State *L, int arg, int ndim, int extra, const char *fname)
{
    lua_Integer dim = lb_check_integer(L, arg, "dim", fname);
    return lb_dim_value(L, dim, ndim, extra, fname);
}

int lb_check_dim(lua_State *L, int arg, int ndim, const char *fname)
{
    return lb_check_dim_extra(L, arg, ndim, 0, fname);
}

int lb_opt_dim(lua_State *L, int arg, int ndim, const char *fname)
{
    if (lua_isnoneornil(L, arg))
        return ndim > 0 ? ndim - 1 : 0;
    return lb_check_dim(L, arg, ndim, fname);
}

static int64_t check_size_value(lua_State *L, int allow_infer, const char *fname)
{
    /* The value to check is at the top of the stack. */
    int is_integer = 0;
    lua_Integer size = lua_tointegerx(L, -1, &is_integer);
    if (!is_integer) {
        if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number n = lua_tonumber(L, -1);
            if (n == floor(n) && fabs(n) < 9.2e18)
                size = (lua_Integer)n;
            else
                luaL_error(L, "%s: size must be an integer, got %s", fname,
                           lua_tostring(L, -1));
        } else {
            luaL_error(L, "%s: size must be an integer, got %s", fname, luaL_typename(L, -1));
        }
    }
    if (size < 0 && !(allow_infer && size == -1))
        luaL_error(L, "%s: size %I is negative (expected a size >= 0%s)", fname,
                   (LUAI_UACINT)size, allow_infer ? ", or -1 to infer it" : "");
    return size;
}

int lb_check_shape(lua_State *L, int arg, int64_t *shape, int allow_infer, const char *fname)
{
    int ndim = 0;
    if (lua_type(L, arg) == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, arg);
        if (n > LN_MAX_DIMS)
            luaL_error(L, "%s: %I sizes given but at most %d dims are supported", fname,
                       (LUAI_UACINT)n, LN_MAX_DIMS);
        for (int i = 1; i <= n; i++) {
            lua_geti(L, arg, i);
            shape[ndim++] = check_size_value(L, allow_infer, fname);
            lua_pop(L, 1);
        }
        if (!lua_isnone(L, arg + 1) && !lua_isnil(L, arg + 1) && lua_type(L, arg + 1) != LUA_TTABLE)
            luaL_error(L, "%s: give the shape either as sizes or as one table, not both",
                       fname);
    } else {
        int top = lua_gettop(L);
        for (int i = arg; i <= top; i++) {
            if (lua_type(L, i) == LUA_TTABLE)
                break;
            if (ndim == LN_MAX_DIMS)
                luaL_error(L, "%s: more than %d sizes given", fname, LN_MAX_DIMS);
            lua_pushvalue(L, i);
            shape[ndim++] = check_size_value(L, allow_infer, fname);
            lua_pop(L, 1);
        }
    }
    int inferred = 0;
    for (int d = 0; d < ndim; d++)
        inferred += shape[d] == -1;
    if (inferred > 1)
        luaL_error(L, "%s: only one size may be -1", fname);
    return ndim;
}

ln_tensor *lb_check_operand(lua_State *L, int arg, const char *fname)
{
    arg = lua_absindex(L, arg);
    if (lua_type(L, arg) == LUA_TNUMBER) {
        float value = (float)lua_tonumber(L, arg);
        ln_tensor *scalar = lb_new(L, 0, NULL, fname);
        ln_data(scalar)[0] = value;
        lua_replace(L, arg);
        return scalar;
    }
    ln_tensor *t = lb_test_tensor(L, arg);
    if (!t)
        luaL_error(L, "%s: bad argument #%d (tensor or number expected, got %s)", fname, arg,
                   luaL_typename(L, arg));
    if (!t->storage)
        luaL_error(L, "%s: bad argument #%d (the tensor was closed and cannot be used)",
                   fname, arg);
    return t;
}

void lb_register(lua_State *L, const lb_function *functions)
{
    /* module table at -1 */
    lua_getfield(L, LUA_REGISTRYINDEX, LB_TENSOR_METHODS);
    for (const lb_function *f = functions; f->name; f++) {
        if (f->method != LB_METHOD_ONLY) {
            lua_pushcfunction(L, f->fn);
            lua_setfield(L, -3, f->name);
        }
        if (f->method) {
            lua_pushcfunction(L, f->fn);
            lua_setfield(L, -2, f->name);
        }
    }
    lua_pop(L, 1);
}
