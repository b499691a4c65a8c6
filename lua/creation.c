/* Tensor constructors: from nested tables, filled, ranges and random. */
#include "binding.h"

#include <math.h>
#include <string.h>

/* lunet.tensor(nested_table | number | tensor) ------------------------------ */

static int infer_nested_shape(lua_State *L, int arg, int64_t *shape)
{
    int ndim = 0;
    lua_pushvalue(L, arg);
    while (lua_type(L, -1) == LUA_TTABLE) {
        if (ndim == LN_MAX_DIMS)
            luaL_error(L, "tensor: the table nests deeper than %d levels", LN_MAX_DIMS);
        shape[ndim++] = luaL_len(L, -1);
        if (shape[ndim - 1] == 0)
            break;
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return ndim;
}

typedef struct fill_cursor {
    float *data;
    int64_t next;
    int64_t path[LN_MAX_DIMS];   /* 1-based position, for messages */
} fill_cursor;

/* Writes the 1-based position "[2][3]" of the element at depth. */
static const char *element_path(const fill_cursor *cursor, int depth, char *where, size_t size)
{
    size_t used = 0;
    snprintf(where, size, "(top)");
    for (int d = 0; d < depth && used < size; d++)
        used += snprintf(where + used, size - used, "[%lld]", (long long)cursor->path[d]);
    return where;
}

static void raise_ragged(lua_State *L, const fill_cursor *cursor, int depth, const char *what)
{
    char where[256];
    luaL_error(L, "tensor: the nested table is not rectangular: element %s %s",
               element_path(cursor, depth, where, sizeof where), what);
}

static void fill_nested(lua_State *L, int depth, int ndim, const int64_t *shape,
                        fill_cursor *cursor)
{
    /* The table to read is at the top of the stack. */
    if (depth == ndim) {
        if (lua_type(L, -1) != LUA_TNUMBER)
        {
            char where[256];
            if (lua_type(L, -1) == LUA_TTABLE)
                raise_ragged(L, cursor, depth, "is a table where a number was expected");
            luaL_error(L, "tensor: element %s is a %s, expected a number",
                       element_path(cursor, depth, where, sizeof where), luaL_typename(L, -1));
        }
        cursor->data[cursor->next++] = (float)lua_tonumber(L, -1);
        return;
    }
    if (lua_type(L, -1) != LUA_TTABLE)
        raise_ragged(L, cursor, depth, "is a number where a table was expected");
    if (luaL_len(L, -1) != shape[depth]) {
        char what[96];
        snprintf(what, sizeof what, "has length %lld, expected %lld",
                 (long long)luaL_len(L, -1), (long long)shape[depth]);
        raise_ragged(L, cursor, depth, what);
    }
    luaL_checkstack(L, 4, "tensor: nesting too deep");
    for (int64_t i = 1; i <= shape[depth]; i++) {
        cursor->path[depth] = i;
        lua_geti(L, -1, i);
        fill_nested(L, depth + 1, ndim, shape, cursor);
        lua_pop(L, 1);
    }
}

static int new_tensor(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TNUMBER) {
        ln_tensor *t = lb_new(L, 0, NULL, "tensor");
        ln_data(t)[0] = (float)lua_tonumber(L, 1);
        return 1;
    }
    ln_tensor *src = lb_test_tensor(L, 1);
    if (src) {
        lb_check_tensor(L, 1, "tensor");
        ln_tensor *t = lb_push_tensor(L);
        lb_check_status(L, ln_contiguous(t, src, true), "tensor");
        return 1;
    }
    if (lua_type(L, 1) != LUA_TTABLE)
        luaL_error(L, "tensor: bad argument #1 (table, number or tensor expected, got %s)",
                   luaL_typename(L, 1));

    int64_t shape[LN_MAX_DIMS];
    int ndim = infer_nested_shape(L, 1, shape);
    ln_tensor *t = lb_new(L, ndim, shape, "tensor");
    if (ln_numel(t) == 0)
        return 1;
    fill_cursor cursor = {ln_data(t), 0, {0}};
    lua_pushvalue(L, 1);
    fill_nested(L, 0, ndim, shape, &cursor);
    lua_pop(L, 1);
    return 1;
}

/* Filled tensors ----------------------------------------------------------- */

static int new_filled(lua_State *L, const char *fname, float value, int zero)
{
    int64_t shape[LN_MAX_DIMS];
    int ndim = lb_check_shape(L, 1, shape, 0, fname);
    ln_tensor *t = lb_push_tensor(L);
    if (zero) {
        lb_alloc_zeros(L, t, ndim, shape, fname);
    } else {
        lb_alloc(L, t, ndim, shape, fname);
        ln_fill(t, value);
    }
    return 1;
}

static int zeros(lua_State *L)
{
    return new_filled(L, "zeros", 0.0f, 1);
}

static int ones(lua_State *L)
{
    return new_filled(L, "ones", 1.0f, 0);
}

/* full(shape..., value) or full({shape}, value) */
static int full(lua_State *L)
{
    int top = lua_gettop(L);
    if (top < 2 || lua_type(L, top) != LUA_TNUMBER)
        luaL_error(L, "full: expected sizes (or a shape table) followed by a fill value, got "
                   "%s last", top < 1 ? "no value" : luaL_typename(L, top));
    float value = (float)lua_tonumber(L, top);
    lua_settop(L, top - 1);
    return new_filled(L, "full", value, 0);
}

static int empty(lua_State *L)
{
    int64_t shape[LN_MAX_DIMS];
    int ndim = lb_check_shape(L, 1, shape, 0, "empty");
    lb_new(L, ndim, shape, "empty");
    return 1;
}

static int random_tensor(lua_State *L, const char *fname, int normal)
{
    int64_t shape[LN_MAX_DIMS];
    int ndim = lb_check_shape(L, 1, shape, 0, fname);
    ln_tensor *t = lb_new(L, ndim, shape, fname);
    if (normal)
        ln_randn(t);
    else
        ln_rand(t);
    return 1;
}

static int rand_uniform(lua_State *L)
{
    return random_tensor(L, "rand", 0);
}

static int rand_normal(lua_State *L)
{
    return random_tensor(L, "randn", 1);
}

/* Returns the number at arg, or fallback when arg is absent and optional. */
static double check_number(lua_State *L, int arg, const char *what, bool optional,
                           double fallback, const char *fname)
{
    if (optional && lua_isnoneornil(L, arg))
        return fallback;
    if (lua_type(L, arg) != LUA_TNUMBER)
        luaL_error(L, "%s: %s must be a number, got %s", fname, what, luaL_typename(L, arg));
    return lua_tonumber(L, arg);
}

/* arange(end), arange(start, end[, step]): PyTorch's half-open range. */
static int arange(lua_State *L)
{
    double start = 0, end, step = 1;
    if (lua_isnoneornil(L, 2)) {
        end = check_number(L, 1, "end", false, 0, "arange");
    } else {
        start = check_number(L, 1, "start", false, 0, "arange");
        end = check_number(L, 2, "end", false, 0, "arange");
        step = check_number(L, 3, "step", true, 1, "arange");
    }
    if (step == 0 || !isfinite(step) || !isfinite(start) || !isfinite(end))
        luaL_error(L, "arange: expected finite start and end and a non-zero step, got "
                   "start=%f end=%f step=%f", start, end, step);
    if ((end - start) / step < 0)
        luaL_error(L, "arange: step %f moves away from end (start=%f, end=%f)", step, start,
                   end);
    double count = ceil((end - start) / step);
    if (count > 9.0e15)
        luaL_error(L, "arange: the range has too many elements (%f)", count);
    int64_t shape[1] = {(int64_t)count};
    ln_tensor *t = lb_new(L, 1, shape, "arange");
    float *data = ln_data(t);
    for (int64_t i = 0; i < shape[0]; i++)
        data[i] = (float)(start + (double)i * step);
    return 1;
}

static int manual_seed(lua_State *L)
{
    lua_Integer seed = lb_check_integer(L, 1, "seed", "manual_seed");
    ln_manual_seed((uint64_t)seed);
    return 0;
}

static int set_num_threads(lua_State *L)
{
    lua_Integer n = lb_check_integer(L, 1, "thread count", "set_num_threads");
    if (n < 1 || n > 1024)
        luaL_error(L, "set_num_threads: thread count %I is out of range (expected 1..1024)",
                   (LUAI_UACINT)n);
    ln_set_num_threads((int)n);
    return 0;
}

static int get_num_threads(lua_State *L)
{
    lua_pushinteger(L, ln_get_num_threads());
    return 1;
}

static int empty_cache(lua_State *L)
{
    (void)L;
    ln_storage_cache_clear();
    return 0;
}

/* In-place random fills, used by layer initialisation. */
static int uniform_(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "uniform_");
    float low = (float)check_number(L, 2, "low", true, 0.0, "uniform_");
    float high = (float)check_number(L, 3, "high", true, 1.0, "uniform_");
    if (!(low <= high))
        luaL_error(L, "uniform_: expected low <= high, got %f and %f", low, high);
    ln_uniform(t, low, high);
    lua_settop(L, 1);
    return 1;
}

static int normal_(lua_State *L)
{
    ln_tensor *t = lb_check_tensor(L, 1, "normal_");
    float mean = (float)check_number(L, 2, "mean", true, 0.0, "normal_");
    float std = (float)check_number(L, 3, "std", true, 1.0, "normal_");
    if (!(std >= 0))
        luaL_error(L, "normal_: std must be >= 0, got %f", std);
    ln_normal(t, mean, std);
    lua_settop(L, 1);
    return 1;
}

static const lb_function creation_functions[] = {
    {"tensor", new_tensor, 0},
    {"zeros", zeros, 0},
    {"ones", ones, 0},
    {"full", full, 0},
    {"empty", empty, 0},
    {"rand", rand_uniform, 0},
    {"randn", rand_normal, 0},
    {"arange", arange, 0},
    {"manual_seed", manual_seed, 0},
    {"set_num_threads", set_num_threads, 0},
    {"get_num_threads", get_num_threads, 0},
    {"empty_cache", empty_cache, 0},
    {"uniform_", uniform_, LB_METHOD_ONLY},
    {"normal_", normal_, LB_METHOD_ONLY},
    {NULL, NULL, 0},
};

void lb_open_creation(lua_State *L)
{
    lb_register(L, creation_functions);
}
