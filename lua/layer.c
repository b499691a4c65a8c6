/* The machinery shared by every native layer: construction, field access,
 * forward/backward dispatch, train/evaluate and tostring. */
#include "layer.h"

#include <string.h>

/* Registry key of the method table every native layer shares. */
#define LAYER_METHODS "lunet.nn.layer_methods"

static const lb_layer_class *class_of(lua_State *L, int arg)
{
    if (lua_type(L, arg) != LUA_TUSERDATA || !lua_getmetatable(L, arg))
        return NULL;
    lua_getfield(L, -1, "__layer_class");
    const lb_layer_class *cls = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return cls;
}

lb_layer *lb_check_layer(lua_State *L, int arg, const lb_layer_class *cls)
{
    const lb_layer_class *actual = class_of(L, arg);
    if (!actual || (cls && actual != cls)) {
        /* layer.forward(x), with a dot, passes the tensor where the layer
         * belongs. */
        const char *got = lb_test_tensor(L, arg) ? "a tensor (call methods with ':', as in "
                                                   "layer:forward(x))"
                                                 : luaL_typename(L, arg);
        luaL_error(L, "%s: bad argument #%d (%s expected, got %s)", cls ? cls->name : "nn",
                   arg, cls ? cls->name : "native layer", got);
    }
    return lua_touserdata(L, arg);
}

static int is_state_name(const lb_layer_class *cls, const char *name)
{
    for (const char *const *p = cls->parameters; p && *p; p++)
        if (strcmp(*p, name) == 0)
            return 1;
    for (const char *const *p = cls->buffers; p && *p; p++)
        if (strcmp(*p, name) == 0)
            return 1;
    return 0;
}

/* Metamethods -------------------------------------------------------------- */

static int layer_index(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);

    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL)
        return 1;
    lua_pop(L, 2);

    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "training") == 0) {
        lua_pushboolean(L, layer->training);
        return 1;
    }

    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "__methods");
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL)
        return 1;
    lua_pop(L, 3);

    lua_getfield(L, LUA_REGISTRYINDEX, LAYER_METHODS);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int layer_newindex(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);
    const char *name = lua_tostring(L, 2);
    if (lua_type(L, 2) != LUA_TSTRING)
        luaL_error(L, "%s: field names must be strings, got %s", layer->cls->name,
                   luaL_typename(L, 2));
    if (strcmp(name, "training") == 0) {
        layer->training = lua_toboolean(L, 3);
        return 0;
    }
    if (is_state_name(layer->cls, name) && !lua_isnil(L, 3) && !lb_test_tensor(L, 3))
        luaL_error(L, "%s: field '%s' must be a tensor, got %s", layer->cls->name, name,
                   luaL_typename(L, 3));
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

static int layer_tostring(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    luaL_addstring(&buffer, layer->cls->name);
    luaL_addchar(&buffer, '(');
    if (layer->cls->describe)
        layer->cls->describe(layer, &buffer);
    luaL_addchar(&buffer, ')');
    luaL_pushresult(&buffer);
    return 1;
}

/* Shared methods ----------------------------------------------------------- */

/* Slots: the layer, input and, for losses, target. backward takes
 * grad_output after them. */
static int layer_forward(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);
    lua_settop(L, 3);
    return layer->cls->forward(L, layer);
}

static int layer_backward(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);
    if (!layer->cls->backward)
        luaL_error(L, "%s: backward is not implemented", layer->cls->name);
    lua_settop(L, 4);
    return layer->cls->backward(L, layer);
}

static int layer_train(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);
    if (!lua_isnoneornil(L, 2) && !lua_isboolean(L, 2))
        luaL_error(L, "train: mode must be a boolean, got %s", luaL_typename(L, 2));
    layer->training = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    lua_settop(L, 1);
    return 1;
}

static int layer_evaluate(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);
    layer->training = 0;
    lua_settop(L, 1);
    return 1;
}

static void push_names(lua_State *L, const char *const *names)
{
    lua_newtable(L);
    int n = 0;
    for (const char *const *p = names; p && *p; p++) {
        lua_pushstring(L, *p);
        lua_rawseti(L, -2, ++n);
    }
}

/* The names of the parameters this layer has now (a bias switched off is
 * left out), in state_dict order. */
static int layer_parameter_names(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);
    lua_newtable(L);
    int n = 0;
    lua_getiuservalue(L, 1, 1);
    for (const char *const *p = layer->cls->parameters; p && *p; p++) {
        if (lua_getfield(L, -1, *p) != LUA_TNIL) {
            lua_pushstring(L, *p);
            lua_rawseti(L, -4, ++n);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

static int layer_buffer_names(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);
    push_names(L, layer->cls->buffers);
    return 1;
}

static int layer_parameters(lua_State *L)
{
    lb_layer *layer = lb_check_layer(L, 1, NULL);
    lua_newtable(L);
    int n = 0;
    lua_getiuservalue(L, 1, 1);
    for (const char *const *p = layer->cls->parameters; p && *p; p++) {
        if (lua_getfield(L, -1, *p) != LUA_TNIL)
            lua_rawseti(L, -3, ++n);
        else
            lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

static int layer_type(lua_State *L)
{
    lua_pushstring(L, lb_check_layer(L, 1, NULL)->cls->name);
    return 1;
}

/* Construction and field helpers -------------------------------------------- */

lb_layer *lb_new_layer(lua_State *L, const lb_layer_class *cls)
{
    lb_layer *layer = lua_newuserdatauv(L, sizeof(lb_layer) + cls->config_size, 1);
    memset(layer, 0, sizeof(lb_layer) + cls->config_size);
    layer->cls = cls;
    layer->training = 1;

    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);

    char type_name[64];
    snprintf(type_name, sizeof type_name, "lunet.nn.%s", cls->name);
    if (luaL_newmetatable(L, type_name)) {
        static const luaL_Reg metamethods[] = {
            {"__index", layer_index},       {"__newindex", layer_newindex},
            {"__tostring", layer_tostring}, {"__call", layer_forward},
            {NULL, NULL},
        };
        luaL_setfuncs(L, metamethods, 0);
        lua_pushlightuserdata(L, (void *)cls);
        lua_setfield(L, -2, "__layer_class");
        lua_newtable(L);
        if (cls->methods)
            luaL_setfuncs(L, cls->methods, 0);
        lua_setfield(L, -2, "__methods");
    }
    lua_setmetatable(L, -2);
    return layer;
}

void lb_layer_set(lua_State *L, int layer_index, const char *name)
{
    layer_index = lua_absindex(L, layer_index);
    lua_getiuservalue(L, layer_index, 1);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

ln_tensor *lb_layer_tensor(lua_State *L, int layer_index, const char *name)
{
    lb_layer *layer = lua_touserdata(L, layer_index);
    lua_getiuservalue(L, layer_index, 1);
    lua_getfield(L, -1, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 2);
        return NULL;
    }
    ln_tensor *t = lb_test_tensor(L, -1);
    if (!t)
        luaL_error(L, "%s: field '%s' must be a tensor, got %s", layer->cls->name, name,
                   luaL_typename(L, -1));
    if (!t->storage)
        luaL_error(L, "%s: field '%s' is a closed tensor", layer->cls->name, name);
    lua_pop(L, 2);
    return t;
}

ln_tensor *lb_layer_grad(lua_State *L, int layer_index, const char *name)
{
    layer_index = lua_absindex(L, layer_index);
    ln_tensor *param = lb_layer_tensor(L, layer_index, name);
    if (!param)
        return NULL;

    lua_getiuservalue(L, layer_index, 1);
    lua_getfield(L, -1, name);
    lua_getfield(L, -1, "grad");
    ln_tensor *grad = lb_test_tensor(L, -1);
    if (grad && grad->storage && ln_same_shape(grad, param) && ln_is_contiguous(grad)) {
        lua_pop(L, 3);
        return grad;
    }
    lua_pop(L, 1);
    grad = lb_push_tensor(L);
    lb_alloc_zeros(L, grad, param->ndim, param->shape, "backward");
    lua_setfield(L, -2, "grad");
    lua_pop(L, 2);
    return grad;
}

ln_tensor *lb_layer_init_uniform(lua_State *L, int layer_index, const char *name, int ndim,
                                 const int64_t *shape, float bound)
{
    layer_index = lua_absindex(L, layer_index);
    const lb_layer *layer = lua_touserdata(L, layer_index);
    ln_tensor *t = lb_new(L, ndim, shape, layer->cls->name);
    ln_uniform(t, -bound, bound);
    lb_layer_set(L, layer_index, name);
    return t;
}

/* Options ------------------------------------------------------------------ */

/* Pushes options[name] (nil when options is absent) after checking that the
 * options argument is a table. */
static int push_option(lua_State *L, int arg, const char *name, const char *fname)
{
    if (lua_isnoneornil(L, arg)) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    if (lua_type(L, arg) != LUA_TTABLE)
        luaL_error(L, "%s: bad argument #%d (options table expected, got %s)", fname, arg,
                   luaL_typename(L, arg));
    return lua_getfield(L, arg, name);
}

/* Raises on a key of the options table at arg that is not in names, so a
 * misspelt option does not pass silently. */
void lb_check_option_names(lua_State *L, int arg, const char *const *names, const char *fname)
{
    if (lua_isnoneornil(L, arg))
        return;
    if (lua_type(L, arg) != LUA_TTABLE)
        luaL_error(L, "%s: bad argument #%d (options table expected, got %s)", fname, arg,
                   luaL_typename(L, arg));

    lua_pushnil(L);
    while (lua_next(L, arg)) {
        lua_pop(L, 1);
        int known = 0;
        for (const char *const *p = names; *p && lua_type(L, -1) == LUA_TSTRING; p++)
            known = known || strcmp(*p, lua_tostring(L, -1)) == 0;
        if (known)
            continue;

        char expected[256] = "";
        for (const char *const *p = names; *p; p++) {
            strncat(expected, *p, sizeof expected - strlen(expected) - 1);
            if (p[1])
                strncat(expected, p[2] ? ", " : " or ", sizeof expected - strlen(expected) - 1);
        }
        if (lua_type(L, -1) == LUA_TSTRING)
            luaL_error(L, "%s: unknown option '%s' (expected %s)", fname, lua_tostring(L, -1),
                       expected);
        luaL_error(L, "%s: option names must be strings, got %s (expected %s)", fname,
                   luaL_typename(L, -1), expected);
    }
}

int lb_option_boolean(lua_State *L, int arg, const char *name, int fallback, const char *fname)
{
    int type = push_option(L, arg, name, fname);
    if (type != LUA_TNIL && type != LUA_TBOOLEAN)
        luaL_error(L, "%s: option '%s' must be a boolean, got %s", fname, name,
                   luaL_typename(L, -1));
    int value = type == LUA_TNIL ? fallback : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return value;
}

lua_Number lb_option_number(lua_State *L, int arg, const char *name, lua_Number fallback,
                            const char *fname)
{
    int type = push_option(L, arg, name, fname);
    if (type != LUA_TNIL && type != LUA_TNUMBER)
        luaL_error(L, "%s: option '%s' must be a number, got %s", fname, name,
                   luaL_typename(L, -1));
    lua_Number value = type == LUA_TNIL ? fallback : lua_tonumber(L, -1);
    lua_pop(L, 1);
    return value;
}

/* Reads n or {h, w} from the top of the stack. */
static void read_pair(lua_State *L, const char *what, int64_t *pair, const char *fname)
{
    if (lua_type(L, -1) == LUA_TTABLE) {
        if (luaL_len(L, -1) != 2)
            luaL_error(L, "%s: %s must be a number or a table of 2 numbers, got a table of "
                       "%I", fname, what, (LUAI_UACINT)luaL_len(L, -1));
        for (int i = 0; i < 2; i++) {
            lua_geti(L, -1, i + 1);
            pair[i] = lb_check_integer(L, -1, what, fname);
            lua_pop(L, 1);
        }
        return;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "%s: %s must be an integer or a table {h, w}, got %s", fname, what,
                   luaL_typename(L, -1));
    pair[0] = pair[1] = lb_check_integer(L, -1, what, fname);
}

void lb_option_pair(lua_State *L, int arg, const char *name, int64_t fallback, int64_t *pair,
                    const char *fname)
{
    if (push_option(L, arg, name, fname) == LUA_TNIL)
        pair[0] = pair[1] = fallback;
    else
        read_pair(L, name, pair, fname);
    lua_pop(L, 1);
}

void lb_check_pair(lua_State *L, int arg, const char *what, int64_t *pair, const char *fname)
{
    lua_pushvalue(L, arg);
    read_pair(L, what, pair, fname);
    lua_pop(L, 1);
}

void lb_register_layers(lua_State *L, const luaL_Reg *functions)
{
    luaL_setfuncs(L, functions, 0);
}

static const luaL_Reg shared_methods[] = {
    {"forward", layer_forward},
    {"backward", layer_backward},
    {"train", layer_train},
    {"evaluate", layer_evaluate},
    {"parameters", layer_parameters},
    {"_parameter_names", layer_parameter_names},
    {"_buffer_names", layer_buffer_names},
    {"type", layer_type},
    {NULL, NULL},
};

static int is_native_layer(lua_State *L)
{
    lua_pushboolean(L, class_of(L, 1) != NULL);
    return 1;
}

/* Adds lunet.core.nn: the native layer constructors and, for the Lua side,
 * the shared method table. */
void lb_open_nn(lua_State *L)
{
    lua_newtable(L);
    luaL_setfuncs(L, shared_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, LAYER_METHODS);

    lua_newtable(L);                     /* the nn table */
    lua_insert(L, -2);
    lua_setfield(L, -2, "_layer_methods");
    lua_pushcfunction(L, is_native_layer);
    lua_setfield(L, -2, "is_native_layer");

    lb_open_linear(L);
    lb_open_conv(L);
    lb_open_activation(L);
    lb_open_pool(L);
    lb_open_batchnorm(L);
    lb_open_loss(L);

    lua_setfield(L, -2, "nn");
}
