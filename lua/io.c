/* File formats: lunet.save and lunet.load (safetensors), the IDX reader
 * behind lunet.data.read_idx, and lunet.index_select, which gathers
 * mini-batches. */
#include "binding.h"

#include <math.h>
#include <string.h>

#include "idx.h"
#include "index_select.h"
#include "io/json.h"

#define SAFETENSORS_HOLDER "lunet.safetensors"

/* Raises "fname: <what> 'text' ..." with text quoted as the core quotes
 * names, so Lua and core messages look alike. */
static const char *quote(lua_State *L, int index)
{
    size_t length;
    const char *text = lua_tolstring(L, index, &length);
    char quoted[LN_QUOTE_SIZE];
    ln_quote(quoted, text, length);
    return lua_pushstring(L, quoted);
}

static const char *check_path(lua_State *L, int arg, const char *fname)
{
    if (lua_type(L, arg) != LUA_TSTRING)
        luaL_error(L, "%s: bad argument #%d (path string expected, got %s)", fname, arg,
                   luaL_typename(L, arg));
    size_t length;
    const char *path = lua_tolstring(L, arg, &length);
    if (strlen(path) != length)
        luaL_error(L, "%s: the path contains a NUL byte", fname);
    return path;
}

/* Checks that the string at index has no NUL byte, since the core takes C
 * strings. */
static const char *check_c_string(lua_State *L, int index, const char *what)
{
    size_t length;
    const char *text = lua_tolstring(L, index, &length);
    if (strlen(text) != length)
        luaL_error(L, "save: %s %s contains a NUL byte", what, quote(L, index));
    return text;
}

/* lunet.save(path, tensors[, metadata]) ----------------------------------- */

static size_t count_entries(lua_State *L, int table)
{
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, table)) {
        count++;
        lua_pop(L, 1);
    }
    return count;
}

/* Collects the name -> tensor pairs of the table at arg 2. The names and
 * tensors stay alive because the table on the stack refers to them. */
static void collect_tensors(lua_State *L, size_t count, const char **names,
                            const ln_tensor **tensors)
{
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            const char *type = luaL_typename(L, -2);
            luaL_error(L, "save: tensor names must be strings, got the %s key %s", type,
                       luaL_tolstring(L, -2, NULL));
        }
        ln_tensor *t = lb_test_tensor(L, -1);
        if (!t) {
            const char *type = luaL_typename(L, -1);
            luaL_error(L, "save: tensors[%s] is a %s, expected a tensor", quote(L, -2), type);
        }
        if (!t->storage)
            luaL_error(L, "save: tensors[%s] was closed and cannot be saved", quote(L, -2));
        names[i] = check_c_string(L, -2, "tensor name");
        tensors[i] = t;
        i++;
        lua_pop(L, 1);
    }
    (void)count;
}

static void collect_metadata(lua_State *L, const char **keys, const char **values)
{
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, 3)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            const char *type = luaL_typename(L, -2);
            luaL_error(L, "save: metadata keys must be strings, got the %s key %s", type,
                       luaL_tolstring(L, -2, NULL));
        }
        if (lua_type(L, -1) != LUA_TSTRING) {
            const char *type = luaL_typename(L, -1);
            luaL_error(L, "save: metadata[%s] is a %s, expected a string", quote(L, -2), type);
        }
        keys[i] = check_c_string(L, -2, "metadata key");
        values[i] = check_c_string(L, -1, "metadata value");
        i++;
        lua_pop(L, 1);
    }
}

static int save(lua_State *L)
{
    const char *path = check_path(L, 1, "save");
    if (lua_type(L, 2) != LUA_TTABLE)
        luaL_error(L, "save: bad argument #2 (table of name -> tensor expected, got %s)",
                   luaL_typename(L, 2));
    if (!lua_isnoneornil(L, 3) && lua_type(L, 3) != LUA_TTABLE)
        luaL_error(L, "save: bad argument #3 (metadata table of strings expected, got %s)",
                   luaL_typename(L, 3));
    lua_settop(L, 3);

    /* Scratch arrays live in userdata, so an error raised below frees them. */
    size_t count = count_entries(L, 2);
    size_t metadata_count = lua_isnil(L, 3) ? 0 : count_entries(L, 3);
    const char **names = lua_newuserdatauv(L, (count + 1) * sizeof(char *), 0);
    const ln_tensor **tensors = lua_newuserdatauv(L, (count + 1) * sizeof(ln_tensor *), 0);
    const char **keys = lua_newuserdatauv(L, (metadata_count + 1) * sizeof(char *), 0);
    const char **values = lua_newuserdatauv(L, (metadata_count + 1) * sizeof(char *), 0);
    collect_tensors(L, count, names, tensors);
    if (metadata_count > 0)
        collect_metadata(L, keys, values);

    lb_check_status(L, ln_safetensors_write(path, count, names, tensors, metadata_count, keys,
                                            values),
                    "save");
    return 0;
}

/* lunet.load(path) -------------------------------------------------------- */

static int holder_gc(lua_State *L)
{
    ln_safetensors_free(luaL_checkudata(L, 1, SAFETENSORS_HOLDER));
    return 0;
}

static int load(lua_State *L)
{
    const char *path = check_path(L, 1, "load");

    /* The core's result sits in a userdata with __gc until every tensor has
     * moved into its own userdata, so an error on the way leaks nothing. */
    ln_safetensors *st = lua_newuserdatauv(L, sizeof *st, 0);
    memset(st, 0, sizeof *st);
    luaL_setmetatable(L, SAFETENSORS_HOLDER);
    lb_check_status(L, ln_safetensors_read(st, path), "load");

    lua_createtable(L, 0, (int)(st->count < 1 << 20 ? st->count : 0));
    for (size_t i = 0; i < st->count; i++) {
        ln_tensor *t = lb_push_tensor(L);
        *t = st->tensors[i];
        memset(&st->tensors[i], 0, sizeof st->tensors[i]);
        lb_account(L, ln_numel(t) * (int64_t)sizeof(float));
        lua_setfield(L, -2, st->names[i]);
    }
    lua_createtable(L, 0, (int)(st->metadata_count < 1 << 20 ? st->metadata_count : 0));
    for (size_t i = 0; i < st->metadata_count; i++) {
        lua_pushstring(L, st->metadata_values[i]);
        lua_setfield(L, -2, st->metadata_keys[i]);
    }
    ln_safetensors_free(st);
    return 2;
}

/* lunet.data.read_idx(path) ---------------------------------------------- */

/* core._read_idx(path[, scale[, shift]]): the optional affine map lets
 * lunet.data scale pixels and make labels 1-based in the same pass. */
static int read_idx(lua_State *L)
{
    const char *path = check_path(L, 1, "read_idx");
    float scale = (float)luaL_optnumber(L, 2, 1.0);
    float shift = (float)luaL_optnumber(L, 3, 0.0);
    ln_tensor *t = lb_push_tensor(L);
    lb_check_status(L, ln_idx_read(t, path, scale, shift), "read_idx");
    lb_account(L, ln_numel(t) * (int64_t)sizeof(float));
    return 1;
}

/* lunet.index_select(x, dim, indices) -------------------------------------- */

/* Reads the 1-based indices at arg (a table of integers or a 1-d tensor of
 * integral values) into a userdata array pushed on the stack, converted to
 * 0-based. */
static int64_t *check_indices(lua_State *L, int arg, int64_t size, int dim, int64_t *count)
{
    ln_tensor *t = lb_test_tensor(L, arg);
    if (t) {
        lb_check_tensor(L, arg, "index_select");
        if (t->ndim != 1)
            luaL_error(L, "index_select: indices must be a 1-d tensor or a table, got a %d-d "
                       "tensor", t->ndim);
        *count = t->shape[0];
    } else if (lua_type(L, arg) == LUA_TTABLE) {
        *count = luaL_len(L, arg);
    } else {
        luaL_error(L, "index_select: bad argument #%d (table or tensor of indices expected, "
                   "got %s)", arg, luaL_typename(L, arg));
    }

    int64_t *index = lua_newuserdatauv(L, (size_t)(*count > 0 ? *count : 1) * sizeof(int64_t), 0);
    for (int64_t i = 0; i < *count; i++) {
        double value;
        if (t) {
            value = ln_data(t)[i * t->stride[0]];
        } else {
            lua_geti(L, arg, i + 1);
            if (lua_type(L, -1) != LUA_TNUMBER)
                luaL_error(L, "index_select: indices[%I] is a %s, expected an integer",
                           (LUAI_UACINT)(i + 1), luaL_typename(L, -1));
            value = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        if (!(value >= -9.2e18 && value <= 9.2e18) || value != floor(value))
            luaL_error(L, "index_select: indices[%I] is %f, expected an integer",
                       (LUAI_UACINT)(i + 1), value);
        int64_t k = (int64_t)value;
        if (k < 1 || k > size)
            luaL_error(L, "index_select: index %I is out of range for dim %d of size %I "
                       "(expected 1..%I)", (LUAI_UACINT)k, dim + 1, (LUAI_UACINT)size,
                       (LUAI_UACINT)size);
        index[i] = k - 1;
    }
    return index;
}

static int index_select(lua_State *L)
{
    ln_tensor *x = lb_check_tensor(L, 1, "index_select");
    if (x->ndim == 0)
        luaL_error(L, "index_select: a 0-d tensor has no dim to select from");
    int dim = lb_check_dim(L, 2, x->ndim, "index_select");
    int64_t count = 0;
    int64_t *index = check_indices(L, 3, x->shape[dim], dim, &count);

    int64_t shape[LN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[dim] = count;
    ln_tensor *out = lb_new(L, x->ndim, shape, "index_select");
    lb_check_status(L, ln_index_select(out, x, dim, index, count), "index_select");
    return 1;
}

static const lb_function io_functions[] = {
    {"save", save, 0},
    {"load", load, 0},
    {"_read_idx", read_idx, 0},
    {"index_select", index_select, 1},
    {NULL, NULL, 0},
};

void lb_open_io(lua_State *L)
{
    luaL_newmetatable(L, SAFETENSORS_HOLDER);
    lua_pushcfunction(L, holder_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lb_register(L, io_functions);
}
