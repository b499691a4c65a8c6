/* lunet.image: load, resize, center_crop and normalize. The functions live in
 * the core module's `_image` table, which lua/lunet/image.lua returns. */
#include "binding.h"

#include <stdint.h>
#include <string.h>

#include "image.h"

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

static int load(lua_State *L)
{
    const char *path = check_path(L, 1, "image.load");
    ln_tensor *t = lb_push_tensor(L);
    lb_check_status(L, ln_image_load(t, path), "image.load");
    lb_account(L, ln_numel(t) * (int64_t)sizeof(float));
    return 1;
}

/* Checks that the tensor at arg has at least min_rank dims (the last two
 * being H and W). */
static ln_tensor *check_image(lua_State *L, int arg, int min_rank, const char *fname)
{
    ln_tensor *t = lb_check_tensor(L, arg, fname);
    if (t->ndim < min_rank) {
        char text[128];
        luaL_error(L, "%s: expected an image of shape %s, got shape %s", fname,
                   min_rank == 3 ? "C x H x W or N x C x H x W" : "H x W, C x H x W or "
                   "N x C x H x W", ln_shape_string(t, text, sizeof text));
    }
    return t;
}

static int64_t check_size_value(lua_State *L, int index, const char *fname)
{
    int is_integer = 0;
    lua_Integer size = lua_tointegerx(L, index, &is_integer);
    if (lua_type(L, index) != LUA_TNUMBER || !is_integer || size < 1 || size > INT32_MAX)
        luaL_error(L, "%s: sizes must be positive integers, got %s", fname,
                   lua_type(L, index) == LUA_TNUMBER ? lua_tostring(L, index)
                                                     : luaL_typename(L, index));
    return size;
}

/* Reads size at arg: one number, or a table {height, width}; a table of one
 * number counts as that number, as in torchvision. Returns 1 for one number
 * (stored in both entries of size) and 2 for a pair. */
static int check_size(lua_State *L, int arg, int64_t *size, const char *fname)
{
    if (lua_type(L, arg) == LUA_TNUMBER) {
        size[0] = size[1] = check_size_value(L, arg, fname);
        return 1;
    }
    if (lua_type(L, arg) != LUA_TTABLE)
        luaL_error(L, "%s: bad argument #%d (size expected: a number or a table {height, "
                   "width}, got %s)", fname, arg, luaL_typename(L, arg));
    lua_Integer n = luaL_len(L, arg);
    if (n != 1 && n != 2)
        luaL_error(L, "%s: a size table must hold {height, width}, got %I entries", fname,
                   (LUAI_UACINT)n);
    for (int i = 0; i < n; i++) {
        lua_geti(L, arg, i + 1);
        size[i] = check_size_value(L, -1, fname);
        lua_pop(L, 1);
    }
    if (n == 1) {
        size[1] = size[0];
        return 1;
    }
    return 2;
}

/* Pushes a new tensor with in's shape but last two sizes height and width. */
static ln_tensor *push_resized(lua_State *L, const ln_tensor *in, int64_t height, int64_t width,
                               const char *fname)
{
    int64_t shape[LN_MAX_DIMS];
    memcpy(shape, in->shape, sizeof(int64_t) * (size_t)in->ndim);
    shape[in->ndim - 2] = height;
    shape[in->ndim - 1] = width;
    return lb_new(L, in->ndim, shape, fname);
}

static int resize(lua_State *L)
{
    const char *fname = "image.resize";
    ln_tensor *in = check_image(L, 1, 2, fname);
    int64_t size[2];
    int given = check_size(L, 2, size, fname);
    int64_t height = in->shape[in->ndim - 2], width = in->shape[in->ndim - 1];
    if (height == 0 || width == 0) {
        char text[128];
        luaL_error(L, "%s: cannot resize an empty image (shape %s)", fname,
                   ln_shape_string(in, text, sizeof text));
    }
    /* A number resizes the shorter side; so does a one-entry table, which
     * torchvision treats like the number. */
    if (given == 1)
        ln_image_resized_shape(height, width, size[0], &size[0], &size[1]);
    ln_tensor *out = push_resized(L, in, size[0], size[1], fname);
    lb_check_status(L, ln_image_resize(out, in), fname);
    return 1;
}

static int center_crop(lua_State *L)
{
    const char *fname = "image.center_crop";
    ln_tensor *in = check_image(L, 1, 2, fname);
    int64_t size[2];
    check_size(L, 2, size, fname);
    ln_tensor *out = push_resized(L, in, size[0], size[1], fname);
    lb_check_status(L, ln_image_center_crop(out, in), fname);
    return 1;
}

/* Reads mean or std at arg: a number for every channel or a table with one
 * number per channel, into a userdata array pushed on the stack. */
static float *check_channel_values(lua_State *L, int arg, int64_t channels, const char *what)
{
    float *values = lua_newuserdatauv(L, (size_t)(channels > 0 ? channels : 1) * sizeof(float),
                                      0);
    if (lua_type(L, arg) == LUA_TNUMBER) {
        for (int64_t c = 0; c < channels; c++)
            values[c] = (float)lua_tonumber(L, arg);
        return values;
    }
    if (lua_type(L, arg) != LUA_TTABLE)
        luaL_error(L, "image.normalize: bad argument #%d (%s expected: a number or a table of "
                   "one number per channel, got %s)", arg, what, luaL_typename(L, arg));
    lua_Integer n = luaL_len(L, arg);
    if (n != channels)
        luaL_error(L, "image.normalize: %s has %I entries but the image has %I channels", what,
                   (LUAI_UACINT)n, (LUAI_UACINT)channels);
    for (int64_t c = 0; c < channels; c++) {
        lua_geti(L, arg, c + 1);
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "image.normalize: %s[%I] is a %s, expected a number", what,
                       (LUAI_UACINT)(c + 1), luaL_typename(L, -1));
        values[c] = (float)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return values;
}

static int normalize(lua_State *L)
{
    const char *fname = "image.normalize";
    ln_tensor *in = check_image(L, 1, 3, fname);
    int64_t channels = in->shape[in->ndim - 3];
    const float *mean = check_channel_values(L, 2, channels, "mean");
    const float *std = check_channel_values(L, 3, channels, "std");
    for (int64_t c = 0; c < channels; c++)
        if (std[c] == 0.0f)
            luaL_error(L, "%s: std[%I] is 0, which would divide by zero", fname,
                       (LUAI_UACINT)(c + 1));
    ln_tensor *out = lb_new(L, in->ndim, in->shape, fname);
    lb_check_status(L, ln_image_normalize(out, in, mean, std), fname);
    return 1;
}

void lb_open_image(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"load", load},
        {"resize", resize},
        {"center_crop", center_crop},
        {"normalize", normalize},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    lua_setfield(L, -2, "_image");
}
