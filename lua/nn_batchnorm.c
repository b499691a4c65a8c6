/* nn.BatchNorm1d(num_features, {eps = 1e-5, momentum = 0.1, affine = true,
 *                track_running_stats = true})
 * nn.BatchNorm2d(num_features, {...the same options})
 *
 * BatchNorm1d takes (N, C) or (N, C, L) input, BatchNorm2d (N, C, H, W) or an
 * unbatched (C, H, W), which it normalizes as a batch of one. Parameters:
 * weight (ones) and bias (zeros) when affine; buffers: running_mean (zeros)
 * and running_var (ones) when tracking running statistics. Training-mode
 * forward keeps the batch mean and inverse standard deviation for backward
 * in the fields _save_mean and _save_invstd, which state_dict leaves out. */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/batchnorm.h"

typedef struct batchnorm_config {
    int64_t num_features;
    double eps, momentum;
    int affine, track_running_stats;
    int saved_training;        /* the last forward normalized with batch statistics */
} batchnorm_config;

static const char *const batchnorm_parameters[] = {"weight", "bias", NULL};
static const char *const batchnorm_buffers[] = {"running_mean", "running_var", NULL};

static int is_2d(const lb_layer *layer)
{
    return strcmp(layer->cls->name, "BatchNorm2d") == 0;
}

/* Checks the rank and channel count of the input at arg; returns 1 for an
 * unbatched (C, H, W) input to BatchNorm2d. */
static int check_input(lua_State *L, lb_layer *layer, const ln_tensor *input, const char *fname)
{
    const batchnorm_config *config = LB_LAYER_CONFIG(layer, batchnorm_config);
    char text[256];
    int rank = is_2d(layer) ? 4 : 3;
    if (input->ndim != rank && input->ndim != rank - 1)
        luaL_error(L, "%s: expected a %s input, got %s", fname,
                   is_2d(layer) ? "3-d (C, H, W) or 4-d (N, C, H, W)" : "2-d (N, C) or 3-d (N, C, L)",
                   ln_shape_string(input, text, sizeof text));

    int unbatched = is_2d(layer) && input->ndim == 3;
    int64_t channels = input->shape[unbatched ? 0 : 1];
    if (channels != config->num_features)
        luaL_error(L, "%s: input has %I channels but the layer expects %I (input %s)", fname,
                   (LUAI_UACINT)channels, (LUAI_UACINT)config->num_features,
                   ln_shape_string(input, text, sizeof text));
    return unbatched;
}

/* Pushes t itself, or for an unbatched input a (1, C, H, W) view of it. */
static ln_tensor *push_batched(lua_State *L, int arg, int unbatched, const char *fname)
{
    if (!unbatched) {
        lua_pushvalue(L, arg);
        return lb_check_tensor(L, -1, fname);
    }
    ln_tensor *view = lb_push_tensor(L);
    lb_check_status(L, ln_unsqueeze(view, lb_check_tensor(L, arg, fname), 0), fname);
    return view;
}

static void set_field(lua_State *L, int value_index, const char *name)
{
    if (value_index)
        lua_pushvalue(L, value_index);
    else
        lua_pushnil(L);
    lb_layer_set(L, 1, name);
}

/* Forward ------------------------------------------------------------------- */

static int batchnorm_forward(lua_State *L, lb_layer *layer)
{
    const char *fname = layer->cls->name;
    batchnorm_config *config = LB_LAYER_CONFIG(layer, batchnorm_config);
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    int unbatched = check_input(L, layer, input, fname);

    ln_tensor *weight = lb_layer_tensor(L, 1, "weight");
    ln_tensor *bias = lb_layer_tensor(L, 1, "bias");
    ln_tensor *running_mean = lb_layer_tensor(L, 1, "running_mean");
    ln_tensor *running_var = lb_layer_tensor(L, 1, "running_var");

    /* As in PyTorch, a layer without running statistics always normalizes
     * with batch statistics. */
    ln_batch_norm options = {
        .training = layer->training || !running_mean || !running_var,
        .momentum = config->momentum,
        .eps = config->eps,
    };
    int64_t values = config->num_features ? ln_numel(input) / config->num_features : 0;
    if (options.training && values == 1) {
        char text[256];
        luaL_error(L, "%s: expected more than 1 value per channel when training, got input of "
                   "shape %s", fname, ln_shape_string(input, text, sizeof text));
    }

    lb_new(L, input->ndim, input->shape, fname);
    int output_index = lua_gettop(L);
    ln_tensor *x = push_batched(L, 2, unbatched, fname);
    ln_tensor *y = push_batched(L, output_index, unbatched, fname);
    ln_tensor *save_mean = NULL, *save_invstd = NULL;
    int save_index = 0;
    if (options.training) {
        int64_t channels = config->num_features;
        save_mean = lb_new(L, 1, &channels, fname);
        save_index = lua_gettop(L);
        save_invstd = lb_new(L, 1, &channels, fname);
    }
    lb_check_status(L, ln_batch_norm_forward(y, save_mean, save_invstd, running_mean,
                                             running_var, x, weight, bias, &options),
                    fname);

    set_field(L, save_index, "_save_mean");
    set_field(L, save_index ? save_index + 1 : 0, "_save_invstd");
    config->saved_training = options.training;
    lua_pushvalue(L, output_index);
    return 1;
}

/* Backward ------------------------------------------------------------------ */

/* Finds the mean and invstd that the last forward pass normalized with. Out
 * of training it computes invstd from running_var into a new tensor, which
 * it pushes. */
static void statistics(lua_State *L, lb_layer *layer, ln_tensor **mean, ln_tensor **invstd,
                       const char *fname)
{
    const batchnorm_config *config = LB_LAYER_CONFIG(layer, batchnorm_config);
    if (config->saved_training) {
        *mean = lb_layer_tensor(L, 1, "_save_mean");
        *invstd = lb_layer_tensor(L, 1, "_save_invstd");
        if (!*mean || !*invstd)
            luaL_error(L, "%s: the batch statistics of the last forward pass are missing "
                       "(fields _save_mean and _save_invstd)", fname);
        return;
    }

    ln_tensor *running_var = lb_layer_tensor(L, 1, "running_var");
    *mean = lb_layer_tensor(L, 1, "running_mean");
    if (layer->training || !*mean || !running_var)
        luaL_error(L, "%s: the batch statistics of a training-mode forward pass are missing; "
                   "call forward before backward", fname);
    *invstd = lb_new(L, running_var->ndim, running_var->shape, fname);
    lb_check_status(L, ln_batch_norm_invstd(*invstd, running_var, config->eps), fname);
}

static int batchnorm_backward(lua_State *L, lb_layer *layer)
{
    char fname[64];
    snprintf(fname, sizeof fname, "%s.backward", layer->cls->name);
    const batchnorm_config *config = LB_LAYER_CONFIG(layer, batchnorm_config);
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    ln_tensor *grad_output = lb_check_tensor(L, 3, fname);
    int unbatched = check_input(L, layer, input, fname);
    if (!ln_same_shape(grad_output, input)) {
        char tg[256], ti[256];
        luaL_error(L, "%s: grad_output has shape %s but the output has shape %s", fname,
                   ln_shape_string(grad_output, tg, sizeof tg),
                   ln_shape_string(input, ti, sizeof ti));
    }

    ln_tensor *mean, *invstd;
    statistics(L, layer, &mean, &invstd, fname);
    ln_tensor *weight = lb_layer_tensor(L, 1, "weight");
    ln_tensor *grad_weight = weight ? lb_layer_grad(L, 1, "weight") : NULL;
    ln_tensor *grad_bias = lb_layer_tensor(L, 1, "bias") ? lb_layer_grad(L, 1, "bias") : NULL;

    lb_new(L, input->ndim, input->shape, fname);
    int grad_input_index = lua_gettop(L);
    ln_tensor *x = push_batched(L, 2, unbatched, fname);
    ln_tensor *gy = push_batched(L, 3, unbatched, fname);
    ln_tensor *gx = push_batched(L, grad_input_index, unbatched, fname);
    lb_check_status(L, ln_batch_norm_backward(gx, grad_weight, grad_bias, gy, x, weight, mean,
                                              invstd, config->saved_training),
                    fname);
    lua_pushvalue(L, grad_input_index);
    return 1;
}

/* tostring ------------------------------------------------------------------ */

/* Appends v as Python's repr prints a float: the shortest digits that read
 * back as v, positional from 1e-4 up to 1e16 (with ".0" when integral) and
 * in exponent form beyond. */
static void add_python_float(luaL_Buffer *buffer, double v)
{
    char text[64];
    int precision = 1;
    for (; precision < 17; precision++) {
        snprintf(text, sizeof text, "%.*e", precision - 1, v);
        if (strtod(text, NULL) == v)
            break;
    }
    snprintf(text, sizeof text, "%.*e", precision - 1, v);
    int exponent = atoi(strchr(text, 'e') + 1);
    if (v == 0.0 || (exponent >= -4 && exponent < 16)) {
        int decimals = precision - 1 - exponent;
        snprintf(text, sizeof text, "%.*f", decimals > 0 ? decimals : 0, v);
        if (!strchr(text, '.'))
            strcat(text, ".0");
    }
    luaL_addstring(buffer, text);
}

static void batchnorm_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    const batchnorm_config *config = LB_LAYER_CONFIG(layer, batchnorm_config);
    char text[128];
    snprintf(text, sizeof text, "%lld, eps=", (long long)config->num_features);
    luaL_addstring(buffer, text);
    add_python_float(buffer, config->eps);
    luaL_addstring(buffer, ", momentum=");
    add_python_float(buffer, config->momentum);
    luaL_addstring(buffer, config->affine ? ", affine=true" : ", affine=false");
    luaL_addstring(buffer, config->track_running_stats ? ", track_running_stats=true"
                                                       : ", track_running_stats=false");
}

static const lb_layer_class batchnorm1d_class = {
    .name = "BatchNorm1d",
    .parameters = batchnorm_parameters,
    .buffers = batchnorm_buffers,
    .config_size = sizeof(batchnorm_config),
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .describe = batchnorm_describe,
};

static const lb_layer_class batchnorm2d_class = {
    .name = "BatchNorm2d",
    .parameters = batchnorm_parameters,
    .buffers = batchnorm_buffers,
    .config_size = sizeof(batchnorm_config),
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .describe = batchnorm_describe,
};

/* Constructors -------------------------------------------------------------- */

/* Pushes a new tensor of size C filled with value and stores it as field
 * name of the layer at layer_index. */
static void set_filled(lua_State *L, int layer_index, const char *name, int64_t channels,
                       float value, const char *fname)
{
    ln_tensor *t = lb_new(L, 1, &channels, fname);
    ln_fill(t, value);
    lb_layer_set(L, layer_index, name);
}

static int batchnorm_new(lua_State *L, const lb_layer_class *cls)
{
    const char *fname = cls->name;
    lua_Integer num_features = lb_check_integer(L, 1, "num_features", fname);
    if (num_features < 1)
        luaL_error(L, "%s: num_features must be positive, got %I", fname,
                   (LUAI_UACINT)num_features);
    static const char *const option_names[] = {"eps", "momentum", "affine",
                                               "track_running_stats", NULL};
    lb_check_option_names(L, 2, option_names, fname);
    batchnorm_config config = {
        .num_features = num_features,
        .eps = lb_option_number(L, 2, "eps", 1e-5, fname),
        .momentum = lb_option_number(L, 2, "momentum", 0.1, fname),
        .affine = lb_option_boolean(L, 2, "affine", 1, fname),
        .track_running_stats = lb_option_boolean(L, 2, "track_running_stats", 1, fname),
    };
    if (!(config.eps >= 0.0 && config.eps < HUGE_VAL))
        luaL_error(L, "%s: option 'eps' must be a finite number >= 0, got %f", fname, config.eps);
    if (!(config.momentum >= 0.0 && config.momentum <= 1.0))
        luaL_error(L, "%s: option 'momentum' must be between 0 and 1, got %f", fname,
                   config.momentum);

    lb_layer *layer = lb_new_layer(L, cls);
    *LB_LAYER_CONFIG(layer, batchnorm_config) = config;
    int index = lua_gettop(L);
    if (config.affine) {
        set_filled(L, index, "weight", num_features, 1.0f, fname);
        set_filled(L, index, "bias", num_features, 0.0f, fname);
    }
    if (config.track_running_stats) {
        set_filled(L, index, "running_mean", num_features, 0.0f, fname);
        set_filled(L, index, "running_var", num_features, 1.0f, fname);
    }
    return 1;
}

static int batchnorm1d_new(lua_State *L)
{
    return batchnorm_new(L, &batchnorm1d_class);
}

static int batchnorm2d_new(lua_State *L)
{
    return batchnorm_new(L, &batchnorm2d_class);
}

void lb_open_batchnorm(lua_State *L)
{
    static const luaL_Reg constructors[] = {
        {"BatchNorm1d", batchnorm1d_new},
        {"BatchNorm2d", batchnorm2d_new},
        {NULL, NULL},
    };
    lb_register_layers(L, constructors);
}
