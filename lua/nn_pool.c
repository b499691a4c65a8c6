/* nn.MaxPool2d(kernel_size, {stride = kernel_size, padding = 0, dilation = 1,
 *              ceil_mode = false})
 * nn.AvgPool2d(kernel_size, {stride = kernel_size, padding = 0, ceil_mode = false,
 *              count_include_pad = true, divisor_override = nil})
 * nn.AdaptiveAvgPool2d(output_size)
 *
 * Sizes are n or {h, w}. The layers have no parameters; the core kernels in
 * core/nn/pool.h do the work. */
#include "layer.h"

#include <stdio.h>
#include <string.h>

#include "nn/pool.h"

typedef struct pool_config pool_config;

/* The core calls of one pooling class, over its config. */
typedef struct pool_kernels {
    ln_status (*shape)(int64_t *shape, const ln_tensor *input, const pool_config *config);
    ln_status (*forward)(ln_tensor *output, const ln_tensor *input, const pool_config *config);
    ln_status (*backward)(ln_tensor *grad_input, const ln_tensor *grad_output,
                          const ln_tensor *input, const pool_config *config);
} pool_kernels;

/* Bits of pool_config.pairs: options given as {h, w}, which tostring prints
 * as tuples, as PyTorch prints what it was given. */
enum { PAIR_KERNEL = 1, PAIR_STRIDE = 2, PAIR_PADDING = 4, PAIR_DILATION = 8, PAIR_OUTPUT = 16 };

struct pool_config {
    const pool_kernels *kernels;
    ln_pool2d pool;
    int64_t output_size[2];           /* AdaptiveAvgPool2d only */
    unsigned pairs;
};

/* Forward and backward, shared by the three classes ------------------------ */

static int pool_forward(lua_State *L, lb_layer *layer)
{
    const char *fname = layer->cls->name;
    const pool_config *config = LB_LAYER_CONFIG(layer, pool_config);
    ln_tensor *input = lb_check_tensor(L, 2, fname);

    int64_t shape[4];
    lb_check_status(L, config->kernels->shape(shape, input, config), fname);
    ln_tensor *output = lb_new(L, input->ndim, shape, fname);
    lb_check_status(L, config->kernels->forward(output, input, config), fname);
    return 1;
}

static int pool_backward(lua_State *L, lb_layer *layer)
{
    char fname[64];
    snprintf(fname, sizeof fname, "%s.backward", layer->cls->name);
    const pool_config *config = LB_LAYER_CONFIG(layer, pool_config);
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    ln_tensor *grad_output = lb_check_tensor(L, 3, fname);

    int64_t shape[4];
    lb_check_status(L, config->kernels->shape(shape, input, config), fname);
    ln_tensor *grad_input = lb_new(L, input->ndim, input->shape, fname);
    lb_check_status(L, config->kernels->backward(grad_input, grad_output, input, config), fname);
    return 1;
}

static ln_status max_shape(int64_t *shape, const ln_tensor *input, const pool_config *config)
{
    return ln_max_pool2d_shape(shape, input, &config->pool);
}

static ln_status max_forward(ln_tensor *output, const ln_tensor *input, const pool_config *config)
{
    return ln_max_pool2d_forward(output, input, &config->pool);
}

static ln_status max_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                              const ln_tensor *input, const pool_config *config)
{
    return ln_max_pool2d_backward(grad_input, grad_output, input, &config->pool);
}

static ln_status avg_shape(int64_t *shape, const ln_tensor *input, const pool_config *config)
{
    return ln_avg_pool2d_shape(shape, input, &config->pool);
}

static ln_status avg_forward(ln_tensor *output, const ln_tensor *input, const pool_config *config)
{
    return ln_avg_pool2d_forward(output, input, &config->pool);
}

static ln_status avg_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                              const ln_tensor *input, const pool_config *config)
{
    return ln_avg_pool2d_backward(grad_input, grad_output, &config->pool);
}

static ln_status adaptive_shape(int64_t *shape, const ln_tensor *input,
                                const pool_config *config)
{
    return ln_adaptive_avg_pool2d_shape(shape, input, config->output_size);
}

static ln_status adaptive_forward(ln_tensor *output, const ln_tensor *input,
                                  const pool_config *config)
{
    return ln_adaptive_avg_pool2d_forward(output, input, config->output_size);
}

static ln_status adaptive_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                   const ln_tensor *input, const pool_config *config)
{
    return ln_adaptive_avg_pool2d_backward(grad_input, grad_output, config->output_size);
}

static const pool_kernels max_kernels = {max_shape, max_forward, max_backward};
static const pool_kernels avg_kernels = {avg_shape, avg_forward, avg_backward};
static const pool_kernels adaptive_kernels = {adaptive_shape, adaptive_forward,
                                              adaptive_backward};

/* tostring ------------------------------------------------------------------ */

/* Appends "name=3" or, for an option given as a pair, "name=(3, 2)". */
static void add_pair(luaL_Buffer *buffer, const char *name, const int64_t *pair, int is_pair)
{
    char text[128];
    if (is_pair)
        snprintf(text, sizeof text, "%s=(%lld, %lld)", name, (long long)pair[0],
                 (long long)pair[1]);
    else
        snprintf(text, sizeof text, "%s=%lld", name, (long long)pair[0]);
    luaL_addstring(buffer, text);
}

/* kernel_size, stride and padding, which both fixed-window classes print. */
static void add_window(luaL_Buffer *buffer, const pool_config *config)
{
    add_pair(buffer, "kernel_size", config->pool.kernel_size, config->pairs & PAIR_KERNEL);
    luaL_addstring(buffer, ", ");
    add_pair(buffer, "stride", config->pool.stride, config->pairs & PAIR_STRIDE);
    luaL_addstring(buffer, ", ");
    add_pair(buffer, "padding", config->pool.padding, config->pairs & PAIR_PADDING);
}

static void max_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    const pool_config *config = LB_LAYER_CONFIG(layer, pool_config);
    add_window(buffer, config);
    luaL_addstring(buffer, ", ");
    add_pair(buffer, "dilation", config->pool.dilation, config->pairs & PAIR_DILATION);
    luaL_addstring(buffer, config->pool.ceil_mode ? ", ceil_mode=true" : ", ceil_mode=false");
}

/* PyTorch prints only the window of AvgPool2d, not its other options. */
static void avg_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    add_window(buffer, LB_LAYER_CONFIG(layer, pool_config));
}

static void adaptive_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    const pool_config *config = LB_LAYER_CONFIG(layer, pool_config);
    add_pair(buffer, "output_size", config->output_size, config->pairs & PAIR_OUTPUT);
}

static const lb_layer_class max_class = {
    .name = "MaxPool2d",
    .config_size = sizeof(pool_config),
    .forward = pool_forward,
    .backward = pool_backward,
    .describe = max_describe,
};

static const lb_layer_class avg_class = {
    .name = "AvgPool2d",
    .config_size = sizeof(pool_config),
    .forward = pool_forward,
    .backward = pool_backward,
    .describe = avg_describe,
};

static const lb_layer_class adaptive_class = {
    .name = "AdaptiveAvgPool2d",
    .config_size = sizeof(pool_config),
    .forward = pool_forward,
    .backward = pool_backward,
    .describe = adaptive_describe,
};

/* Constructors -------------------------------------------------------------- */

/* Reads option name from the options table at arg 2 into pair, or copies
 * fallback when it is absent. Returns the option's Lua type (LUA_TNIL when
 * absent). */
static int read_pair_option(lua_State *L, const char *name, const int64_t *fallback,
                            int64_t *pair, const char *fname)
{
    lb_option_pair(L, 2, name, 0, pair, fname);
    int type = LUA_TNIL;
    if (lua_istable(L, 2)) {
        type = lua_getfield(L, 2, name);
        lua_pop(L, 1);
    }
    if (type == LUA_TNIL)
        memcpy(pair, fallback, 2 * sizeof(int64_t));
    return type;
}

/* Reads kernel_size (arg 1) and the options that MaxPool2d and AvgPool2d
 * share. */
static pool_config read_window(lua_State *L, const char *fname)
{
    static const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
    pool_config config = {0};
    ln_pool2d *pool = &config.pool;

    lb_check_pair(L, 1, "kernel_size", pool->kernel_size, fname);
    config.pairs = lua_istable(L, 1) ? PAIR_KERNEL : 0;

    /* An absent stride is kernel_size, and prints as kernel_size does. */
    int type = read_pair_option(L, "stride", pool->kernel_size, pool->stride, fname);
    if (type == LUA_TTABLE || (type == LUA_TNIL && (config.pairs & PAIR_KERNEL)))
        config.pairs |= PAIR_STRIDE;
    if (read_pair_option(L, "padding", zero, pool->padding, fname) == LUA_TTABLE)
        config.pairs |= PAIR_PADDING;
    memcpy(pool->dilation, one, sizeof one);
    pool->ceil_mode = lb_option_boolean(L, 2, "ceil_mode", 0, fname);
    return config;
}

/* Stores config in a new layer of cls, pushed on the stack. */
static int push_layer(lua_State *L, const lb_layer_class *cls, const pool_config *config)
{
    lb_layer *layer = lb_new_layer(L, cls);
    *LB_LAYER_CONFIG(layer, pool_config) = *config;
    return 1;
}

static int max_new(lua_State *L)
{
    static const int64_t one[2] = {1, 1};
    static const char *const option_names[] = {"stride", "padding", "dilation", "ceil_mode",
                                               NULL};
    lb_check_option_names(L, 2, option_names, "MaxPool2d");
    pool_config config = read_window(L, "MaxPool2d");
    config.kernels = &max_kernels;
    if (read_pair_option(L, "dilation", one, config.pool.dilation, "MaxPool2d") == LUA_TTABLE)
        config.pairs |= PAIR_DILATION;
    lb_check_status(L, ln_pool2d_check(&config.pool), "MaxPool2d");
    return push_layer(L, &max_class, &config);
}

static int avg_new(lua_State *L)
{
    static const char *const option_names[] = {"stride", "padding", "ceil_mode",
                                               "count_include_pad", "divisor_override", NULL};
    lb_check_option_names(L, 2, option_names, "AvgPool2d");
    pool_config config = read_window(L, "AvgPool2d");
    config.kernels = &avg_kernels;
    config.pool.count_include_pad = lb_option_boolean(L, 2, "count_include_pad", 1, "AvgPool2d");
    if (lua_istable(L, 2) && lua_getfield(L, 2, "divisor_override") != LUA_TNIL) {
        lua_Integer divisor = lb_check_integer(L, -1, "divisor_override", "AvgPool2d");
        if (divisor < 1)
            luaL_error(L, "AvgPool2d: divisor_override must be positive, got %I",
                       (LUAI_UACINT)divisor);
        config.pool.divisor_override = divisor;
    }
    lua_settop(L, 2);
    lb_check_status(L, ln_pool2d_check(&config.pool), "AvgPool2d");
    return push_layer(L, &avg_class, &config);
}

static int adaptive_new(lua_State *L)
{
    pool_config config = {.kernels = &adaptive_kernels};
    lb_check_pair(L, 1, "output_size", config.output_size, "AdaptiveAvgPool2d");
    config.pairs = lua_istable(L, 1) ? PAIR_OUTPUT : 0;
    for (int i = 0; i < 2; i++)
        if (config.output_size[i] < 1 || config.output_size[i] > LN_POOL_MAX_OPTION)
            luaL_error(L, "AdaptiveAvgPool2d: output_size must be between 1 and %d, got %I",
                       LN_POOL_MAX_OPTION, (LUAI_UACINT)config.output_size[i]);
    return push_layer(L, &adaptive_class, &config);
}

void lb_open_pool(lua_State *L)
{
    static const luaL_Reg constructors[] = {
        {"MaxPool2d", max_new},
        {"AvgPool2d", avg_new},
        {"AdaptiveAvgPool2d", adaptive_new},
        {NULL, NULL},
    };
    lb_register_layers(L, constructors);
}
