/* File formats: lunet.save and lunet.load (safetensors), the IDX reader
 * behind lunet.data.read_idx, and lunet.index_select, which gathers
 * mini-batches. */
#include "binding.h"

#include <string.h>

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

static const lb_function io_functions[] = {
    {"save", save, 0},
    {"load", load, 0},
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
