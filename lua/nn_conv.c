/* nn.Conv2d(in_channels, out_channels, kernel_size, {stride = 1, padding = 0,
 * dilation = 1, groups = 1, bias = true})
 *
 * conv:set_algorithm(name) picks how the convolution is computed: "auto"
 * (the default) chooses by shape, "gemm" and "winograd" force one, for tests
 * and measurements; results agree to float rounding. */
#include "layer.h"

#include <math.h>
#include <string.h>

#include "nn/conv2d.h"

typedef struct conv2d_config {
    int64_t in_channels, out_channels, kernel_size[2];
    ln_conv2d_options options;
    int bias;
} conv2d_config;

static const char *const conv2d_parameters[] = {"weight", "bias", NULL};

/* Indexed by ln_conv2d_algorithm. */
static const char *const algorithm_names[] = {"auto", "gemm", "winograd", NULL};

/* Registry key of the convolution workspace (patch matrices, padded copies,
 * Winograd transforms). Layers of one Lua state run one at a time, so every
 * Conv2d shares one buffer, grown to the largest size needed so far,
 * instead of each layer keeping its own. */
#define WORKSPACE_KEY "lunet.nn.Conv2d.workspace"

/* Returns a workspace of at least floats floats (NULL for none). It stays
 * valid until the next call. */
static float *conv_workspace(lua_State *L, int64_t floats, const char *fname)
{
    if (floats == 0)
        return NULL;
    lua_getfield(L, LUA_REGISTRYINDEX, WORKSPACE_KEY);
    ln_tensor *t = lb_test_tensor(L, -1);
    lua_pop(L, 1);
    if (t && t->storage && ln_numel(t) >= floats)
        return ln_data(t);

    t = lb_new(L, 1, &floats, fname);
    lua_setfield(L, LUA_REGISTRYINDEX, WORKSPACE_KEY);
    return ln_data(t);
}

static ln_tensor *conv2d_weight(lua_State *L, const char *fname)
{
    ln_tensor *weight = lb_layer_tensor(L, 1, "weight");
    if (!weight)
        luaL_error(L, "%s: the layer has no weight", fname);
    return weight;
}

static int conv2d_forward(lua_State *L, lb_layer *layer)
{
    const ln_conv2d_options *options = &LB_LAYER_CONFIG(layer, conv2d_config)->options;
    ln_tensor *input = lb_check_tensor(L, 2, "Conv2d");
    ln_tensor *weight = conv2d_weight(L, "Conv2d");
    ln_tensor *bias = lb_layer_tensor(L, 1, "bias");

    int ndim;
    int64_t shape[4];
    lb_check_status(L, ln_conv2d_output_shape(&ndim, shape, input, weight, bias, options),
                    "Conv2d");
    float *workspace =
        conv_workspace(L, ln_conv2d_workspace_size(input, weight, options), "Conv2d");
    ln_tensor *output = lb_new(L, ndim, shape, "Conv2d");
    lb_check_status(L, ln_conv2d_forward(output, input, weight, bias, options, workspace),
                    "Conv2d");
    return 1;
}

static int conv2d_backward(lua_State *L, lb_layer *layer)
{
    const char *fname = "Conv2d.backward";
    const ln_conv2d_options *options = &LB_LAYER_CONFIG(layer, conv2d_config)->options;
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    ln_tensor *grad_output = lb_check_tensor(L, 3, fname);
    ln_tensor *weight = conv2d_weight(L, fname);
    ln_tensor *bias = lb_layer_tensor(L, 1, "bias");

    int ndim;
    int64_t shape[4];
    lb_check_status(L, ln_conv2d_output_shape(&ndim, shape, input, weight, bias, options), fname);
    if (grad_output->ndim != ndim || memcmp(grad_output->shape, shape, sizeof(int64_t) * ndim)) {
        char tg[256], ts[256];
        luaL_error(L, "%s: grad_output has shape %s but the output has shape %s", fname,
                   ln_shape_string(grad_output, tg, sizeof tg),
                   ln_shape_string_raw(ndim, shape, ts, sizeof ts));
    }

    ln_tensor *grad_weight = lb_layer_grad(L, 1, "weight");
    ln_tensor *grad_bias = lb_layer_grad(L, 1, "bias");
    float *workspace = conv_workspace(L, ln_conv2d_workspace_size(input, weight, options), fname);
    ln_tensor *grad_input = lb_new(L, input->ndim, input->shape, fname);
    lb_check_status(L, ln_conv2d_backward(grad_input, grad_weight, grad_bias, grad_output, input,
                                          weight, options, workspace),
                    fname);
    return 1;
}

/* "3" for (3, 3) and "(3, 2)" otherwise, as PyTorch prints a pair. */
static const char *pair_text(const int64_t *pair, char *text, size_t size)
{
    if (pair[0] == pair[1])
        snprintf(text, size, "%lld", (long long)pair[0]);
    else
        snprintf(text, size, "(%lld, %lld)", (long long)pair[0], (long long)pair[1]);
    return text;
}

static void add_pair(luaL_Buffer *buffer, const char *name, const int64_t *pair)
{
    char text[64];
    luaL_addstring(buffer, ", ");
    luaL_addstring(buffer, name);
    luaL_addchar(buffer, '=');
    luaL_addstring(buffer, pair_text(pair, text, sizeof text));
}

/* PyTorch's form, with options shown only when they differ from the
 * default: "3, 64, kernel_size=3, padding=1". */
static void conv2d_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    const conv2d_config *config = LB_LAYER_CONFIG(layer, conv2d_config);
    const ln_conv2d_options *options = &config->options;
    char text[96];
    snprintf(text, sizeof text, "%lld, %lld", (long long)config->in_channels,
             (long long)config->out_channels);
    luaL_addstring(buffer, text);
    add_pair(buffer, "kernel_size", config->kernel_size);
    if (options->stride[0] != 1 || options->stride[1] != 1)
        add_pair(buffer, "stride", options->stride);
    if (options->padding[0] != 0 || options->padding[1] != 0)
        add_pair(buffer, "padding", options->padding);
    if (options->dilation[0] != 1 || options->dilation[1] != 1)
        add_pair(buffer, "dilation", options->dilation);
    if (options->groups != 1) {
        snprintf(text, sizeof text, ", groups=%lld", (long long)options->groups);
        luaL_addstring(buffer, text);
    }
    if (!config->bias)
        luaL_addstring(buffer, ", bias=false");

}

static const lb_layer_class conv2d_class;

/* conv:set_algorithm(name): returns the layer. */
static int conv2d_set_algorithm(lua_State *L)
{
    const char *fname = "Conv2d.set_algorithm";
    lb_layer *layer = lb_check_layer(L, 1, &conv2d_class);
    conv2d_config *config = LB_LAYER_CONFIG(layer, conv2d_config);
    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_error(L, "%s: bad argument #2 ('auto', 'gemm' or 'winograd' expected, got %s)",
                          fname, luaL_typename(L, 2));
    const char *name = lua_tostring(L, 2);
    int algorithm = 0;
    while (algorithm_names[algorithm] && strcmp(name, algorithm_names[algorithm]) != 0)
        algorithm++;
    if (!algorithm_names[algorithm])
        return luaL_error(L, "%s: algorithm must be 'auto', 'gemm' or 'winograd', got '%s'", fname,
                          name);

    const ln_conv2d_options *o = &config->options;
    bool fits = config->kernel_size[0] == 3 && config->kernel_size[1] == 3 && o->stride[0] == 1 &&
                o->stride[1] == 1 && o->dilation[0] == 1 && o->dilation[1] == 1 && o->groups == 1;
    if (algorithm == LN_CONV2D_WINOGRAD && !fits)
        return luaL_error(L, "%s: 'winograd' needs a 3x3 kernel with stride 1, dilation 1 and "
                          "groups 1", fname);
    config->options.algorithm = (ln_conv2d_algorithm)algorithm;
    lua_settop(L, 1);
    return 1;
}

static const luaL_Reg conv2d_methods[] = {{"set_algorithm", conv2d_set_algorithm}, {NULL, NULL}};

static const lb_layer_class conv2d_class = {
    .name = "Conv2d",
    .parameters = conv2d_parameters,
    .config_size = sizeof(conv2d_config),
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .describe = conv2d_describe,
    .methods = conv2d_methods,
};

static int64_t option_groups(lua_State *L, int arg)
{
    lua_Number groups = lb_option_number(L, arg, "groups", 1, "Conv2d");
    if (groups != floor(groups) || fabs(groups) > LN_CONV2D_MAX_OPTION)
        luaL_error(L, "Conv2d: option 'groups' must be an integer between 1 and %d, got %f",
                   LN_CONV2D_MAX_OPTION, (LUAI_UACNUMBER)groups);
    return (int64_t)groups;
}

/* Reads and checks every constructor argument before the layer is made. */
static void check_arguments(lua_State *L, conv2d_config *config)
{
    lua_Integer in = lb_check_integer(L, 1, "in_channels", "Conv2d");
    lua_Integer out = lb_check_integer(L, 2, "out_channels", "Conv2d");
    if (in < 1 || out < 1)
        luaL_error(L, "Conv2d: in_channels and out_channels must be >= 1, got in_channels=%I, "
                   "out_channels=%I", (LUAI_UACINT)in, (LUAI_UACINT)out);
    config->in_channels = in;
    config->out_channels = out;

    int64_t *kernel = config->kernel_size;
    lb_check_pair(L, 3, "kernel_size", kernel, "Conv2d");
    if (kernel[0] < 1 || kernel[1] < 1 || kernel[0] > LN_CONV2D_MAX_OPTION ||
        kernel[1] > LN_CONV2D_MAX_OPTION) {
        char text[64];
        luaL_error(L, "Conv2d: kernel_size must be between 1 and %d, got %s",
                   LN_CONV2D_MAX_OPTION, pair_text(kernel, text, sizeof text));
    }

    static const char *const option_names[] = {"stride", "padding", "dilation", "groups", "bias",
                                               NULL};
    lb_check_option_names(L, 4, option_names, "Conv2d");
    ln_conv2d_options *options = &config->options;
    lb_option_pair(L, 4, "stride", 1, options->stride, "Conv2d");
    lb_option_pair(L, 4, "padding", 0, options->padding, "Conv2d");
    lb_option_pair(L, 4, "dilation", 1, options->dilation, "Conv2d");
    options->groups = option_groups(L, 4);
    config->bias = lb_option_boolean(L, 4, "bias", 1, "Conv2d");
    lb_check_status(L, ln_conv2d_check_options(options), "Conv2d");

    if (in % options->groups != 0 || out % options->groups != 0)
        luaL_error(L, "Conv2d: groups %I must divide in_channels %I and out_channels %I",
                   (LUAI_UACINT)options->groups, (LUAI_UACINT)in, (LUAI_UACINT)out);

}

/* PyTorch's default init, kaiming_uniform with a = sqrt(5): weight and bias
 * ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels / groups * KH * KW. */
static int conv2d_new(lua_State *L)
{
    conv2d_config config = {0};
    check_arguments(L, &config);

    lb_layer *layer = lb_new_layer(L, &conv2d_class);
    *LB_LAYER_CONFIG(layer, conv2d_config) = config;

    int64_t group_channels = config.in_channels / config.options.groups;
    double fan_in = (double)group_channels * config.kernel_size[0] * config.kernel_size[1];
    float bound = (float)(1.0 / sqrt(fan_in));
    int64_t weight_shape[4] = {config.out_channels, group_channels, config.kernel_size[0],
                               config.kernel_size[1]};
    lb_layer_init_uniform(L, -1, "weight", 4, weight_shape, bound);
    if (config.bias) {
        int64_t bias_shape[1] = {config.out_channels};
        lb_layer_init_uniform(L, -1, "bias", 1, bias_shape, bound);
    }
    return 1;
}

void lb_open_conv(lua_State *L)
{
    static const luaL_Reg constructors[] = {{"Conv2d", conv2d_new}, {NULL, NULL}};
    lb_register_layers(L, constructors);
}
