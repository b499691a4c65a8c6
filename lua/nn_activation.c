/* Activations and small layers: nn.ReLU(), nn.LeakyReLU(negative_slope),
 * nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim), nn.LogSoftmax(dim),
 * nn.Flatten(start_dim, end_dim), nn.Identity() and nn.Dropout(p).
 *
 * Each backward takes the forward input (slot 2) and grad_output (slot 3).
 * Sigmoid, Tanh and the softmaxes recompute their output from the input
 * rather than caching it, so a backward is right even when the input tensor
 * changed in place since the forward pass. */
#include "layer.h"

#include <math.h>
#include <string.h>

#include "nn/activation.h"

/* Raises "<name>.backward: grad_output has shape A but the output has shape
 * B" unless grad_output has the given shape. */
static void check_grad_output(lua_State *L, const ln_tensor *grad_output, int ndim,
                              const int64_t *shape, const char *fname)
{
    if (grad_output->ndim == ndim && memcmp(grad_output->shape, shape, sizeof(int64_t) * ndim) == 0)
        return;
    char tg[256], ts[256];
    luaL_error(L, "%s: grad_output has shape %s but the output has shape %s", fname,
               ln_shape_string(grad_output, tg, sizeof tg),
               ln_shape_string_raw(ndim, shape, ts, sizeof ts));
}

/* Reads input and grad_output of a backward whose output has the input's
 * shape, and builds the "<name>.backward" error prefix in fname. */
static ln_tensor *backward_arguments(lua_State *L, lb_layer *layer, ln_tensor **grad_output,
                                     char *fname, size_t size)
{
    snprintf(fname, size, "%s.backward", layer->cls->name);
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    *grad_output = lb_check_tensor(L, 3, fname);
    check_grad_output(L, *grad_output, input->ndim, input->shape, fname);
    return input;
}

/* Elementwise activations ---------------------------------------------------- */

/* A class whose forward and backward are each one core call on tensors of
 * the input's shape. `base` comes first, so layer->cls points at the whole
 * struct. */
typedef struct elementwise_class {
    lb_layer_class base;
    ln_status (*forward)(lb_layer *layer, ln_tensor *output, const ln_tensor *input);
    /* grad_input is a new tensor of the input's shape, free to use as
     * scratch before the result is written. */
    ln_status (*backward)(lb_layer *layer, ln_tensor *grad_input, const ln_tensor *grad_output,
                          const ln_tensor *input);
} elementwise_class;

typedef struct leaky_relu_config {
    lua_Number negative_slope;
} leaky_relu_config;

static int elementwise_forward(lua_State *L, lb_layer *layer)
{
    const elementwise_class *cls = (const elementwise_class *)layer->cls;
    ln_tensor *input = lb_check_tensor(L, 2, cls->base.name);
    ln_tensor *output = lb_new(L, input->ndim, input->shape, cls->base.name);
    lb_check_status(L, cls->forward(layer, output, input), cls->base.name);
    return 1;
}

static int elementwise_backward(lua_State *L, lb_layer *layer)
{
    const elementwise_class *cls = (const elementwise_class *)layer->cls;
    char fname[64];
    ln_tensor *grad_output;
    ln_tensor *input = backward_arguments(L, layer, &grad_output, fname, sizeof fname);
    ln_tensor *grad_input = lb_new(L, input->ndim, input->shape, fname);
    lb_check_status(L, cls->backward(layer, grad_input, grad_output, input), fname);
    return 1;
}

static ln_status relu_forward(lb_layer *layer, ln_tensor *output, const ln_tensor *input)
{
    return ln_unary(output, input, LN_RELU);
}

static ln_status relu_backward(lb_layer *layer, ln_tensor *grad_input,
                               const ln_tensor *grad_output, const ln_tensor *input)
{
    return ln_relu_backward(grad_input, grad_output, input);
}

static float negative_slope(lb_layer *layer)
{
    return (float)LB_LAYER_CONFIG(layer, leaky_relu_config)->negative_slope;
}

static ln_status leaky_relu_forward(lb_layer *layer, ln_tensor *output, const ln_tensor *input)
{
    return ln_leaky_relu(output, input, negative_slope(layer));
}

static ln_status leaky_relu_backward(lb_layer *layer, ln_tensor *grad_input,
                                     const ln_tensor *grad_output, const ln_tensor *input)
{
    return ln_leaky_relu_backward(grad_input, grad_output, input, negative_slope(layer));
}

static ln_status sigmoid_forward(lb_layer *layer, ln_tensor *output, const ln_tensor *input)
{
    return ln_unary(output, input, LN_SIGMOID);
}

/* The output is recomputed into grad_input, which the gradient then
 * overwrites element by element. */
static ln_status sigmoid_backward(lb_layer *layer, ln_tensor *grad_input,
                                  const ln_tensor *grad_output, const ln_tensor *input)
{
    ln_status status = ln_unary(grad_input, input, LN_SIGMOID);
    return status ? status : ln_sigmoid_backward(grad_input, grad_output, grad_input);
}

static ln_status tanh_forward(lb_layer *layer, ln_tensor *output, const ln_tensor *input)
{
    return ln_unary(output, input, LN_TANH);
}

static ln_status tanh_backward(lb_layer *layer, ln_tensor *grad_input,
                               const ln_tensor *grad_output, const ln_tensor *input)
{
    ln_status status = ln_unary(grad_input, input, LN_TANH);
    return status ? status : ln_tanh_backward(grad_input, grad_output, grad_input);
}

static void leaky_relu_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    char text[64];
    snprintf(text, sizeof text, "negative_slope=%.14g",
             LB_LAYER_CONFIG(layer, leaky_relu_config)->negative_slope);
    luaL_addstring(buffer, text);
}

#define ELEMENTWISE_CLASS(variable, class_name, prefix, size, describe_fn)                  \
    static const elementwise_class variable = {                                            \
        .base = {.name = class_name, .config_size = size, .forward = elementwise_forward,  \
                 .backward = elementwise_backward, .describe = describe_fn},               \
        .forward = prefix##_forward,                                                       \
        .backward = prefix##_backward,                                                     \
    }

ELEMENTWISE_CLASS(relu_class, "ReLU", relu, 0, NULL);
ELEMENTWISE_CLASS(leaky_relu_class, "LeakyReLU", leaky_relu, sizeof(leaky_relu_config),
                  leaky_relu_describe);
ELEMENTWISE_CLASS(sigmoid_class, "Sigmoid", sigmoid, 0, NULL);
ELEMENTWISE_CLASS(tanh_class, "Tanh", tanh, 0, NULL);

static int relu_new(lua_State *L)
{
    lb_new_layer(L, &relu_class.base);
    return 1;
}

static int leaky_relu_new(lua_State *L)
{
    lua_Number slope = 0.01;
    if (!lua_isnoneornil(L, 1)) {
        if (lua_type(L, 1) != LUA_TNUMBER)
            luaL_error(L, "LeakyReLU: negative_slope must be a number, got %s",
                       luaL_typename(L, 1));
        slope = lua_tonumber(L, 1);
    }
    lb_layer *layer = lb_new_layer(L, &leaky_relu_class.base);
    LB_LAYER_CONFIG(layer, leaky_relu_config)->negative_slope = slope;
    return 1;
}

static int sigmoid_new(lua_State *L)
{
    lb_new_layer(L, &sigmoid_class.base);
    return 1;
}

static int tanh_new(lua_State *L)
{
    lb_new_layer(L, &tanh_class.base);
    return 1;
}

/* Softmax and LogSoftmax --------------------------------------------------------- */

typedef struct softmax_config {
    lua_Integer dim;  /* as given: 1-based, or negative from the end */
    int log;
} softmax_config;

static ln_status softmax_apply(const softmax_config *config, ln_tensor *output,
                               const ln_tensor *input, int dim)
{
    return config->log ? ln_log_softmax(output, input, dim) : ln_softmax(output, input, dim);
}

static int softmax_forward(lua_State *L, lb_layer *layer)
{
    const softmax_config *config = LB_LAYER_CONFIG(layer, softmax_config);
    const char *fname = layer->cls->name;
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    int dim = lb_dim_value(L, config->dim, input->ndim, 0, fname);
    ln_tensor *output = lb_new(L, input->ndim, input->shape, fname);
    lb_check_status(L, softmax_apply(config, output, input, dim), fname);
    return 1;
}

static int softmax_backward(lua_State *L, lb_layer *layer)
{
    const softmax_config *config = LB_LAYER_CONFIG(layer, softmax_config);
    char fname[64];
    ln_tensor *grad_output;
    ln_tensor *input = backward_arguments(L, layer, &grad_output, fname, sizeof fname);
    int dim = lb_dim_value(L, config->dim, input->ndim, 0, fname);

    /* The recomputed output is a userdata, so the collector frees it on
     * every path. */
    ln_tensor *output = lb_new(L, input->ndim, input->shape, fname);
    lb_check_status(L, softmax_apply(config, output, input, dim), fname);
    ln_tensor *grad_input = lb_new(L, input->ndim, input->shape, fname);
    ln_status status = config->log
                           ? ln_log_softmax_backward(grad_input, grad_output, output, dim)
                           : ln_softmax_backward(grad_input, grad_output, output, dim);
    lb_check_status(L, status, fname);
    return 1;
}

static void softmax_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    char text[64];
    snprintf(text, sizeof text, "dim=%lld",
             (long long)LB_LAYER_CONFIG(layer, softmax_config)->dim);
    luaL_addstring(buffer, text);
}

static const lb_layer_class softmax_class = {
    .name = "Softmax",
    .config_size = sizeof(softmax_config),
    .forward = softmax_forward,
    .backward = softmax_backward,
    .describe = softmax_describe,
};

static const lb_layer_class log_softmax_class = {
    .name = "LogSoftmax",
    .config_size = sizeof(softmax_config),
    .forward = softmax_forward,
    .backward = softmax_backward,
    .describe = softmax_describe,
};

/* Reads an optional dim at arg: an integer other than 0, default fallback.
 * Its range is checked against each input's rank in forward. */
static lua_Integer check_dim_option(lua_State *L, int arg, const char *what,
                                    lua_Integer fallback, const char *fname)
{
    if (lua_isnoneornil(L, arg))
        return fallback;
    lua_Integer dim = lb_check_integer(L, arg, what, fname);
    if (dim == 0)
        luaL_error(L, "%s: %s 0 is invalid (dims are 1-based: use 1 for the first dim or -1 "
                   "for the last)", fname, what);
    return dim;
}

static int softmax_new_common(lua_State *L, const lb_layer_class *cls, int log)
{
    lua_Integer dim = check_dim_option(L, 1, "dim", -1, cls->name);
    lb_layer *layer = lb_new_layer(L, cls);
    softmax_config *config = LB_LAYER_CONFIG(layer, softmax_config);
    config->dim = dim;
    config->log = log;
    return 1;
}

static int softmax_new(lua_State *L)
{
    return softmax_new_common(L, &softmax_class, 0);
}

static int log_softmax_new(lua_State *L)
{
    return softmax_new_common(L, &log_softmax_class, 1);
}

/* Flatten -------------------------------------------------------------------------- */

typedef struct flatten_config {
    lua_Integer start_dim, end_dim;  /* as given: 1-based, or negative */
} flatten_config;

/* Pushes t:reshape(shape) through the tensor method, which views t when
 * its strides allow and copies it otherwise. */
static void push_reshape(lua_State *L, int tensor_index, int ndim, const int64_t *shape)
{
    tensor_index = lua_absindex(L, tensor_index);
    lua_getfield(L, LUA_REGISTRYINDEX, LB_TENSOR_METHODS);
    lua_getfield(L, -1, "reshape");
    lua_remove(L, -2);
    lua_pushvalue(L, tensor_index);
    lua_createtable(L, ndim, 0);
    for (int d = 0; d < ndim; d++) {
        lua_pushinteger(L, shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
    lua_call(L, 2, 1);
}

/* Writes the flattened shape of input and returns its rank. A 0-d input
 * becomes a 1-d tensor of one element, as in PyTorch. */
static int flatten_shape(lua_State *L, const flatten_config *config, const ln_tensor *input,
                         int64_t *shape, const char *fname)
{
    if (input->ndim == 0) {
        lb_dim_value(L, config->start_dim, 0, 0, fname);
        lb_dim_value(L, config->end_dim, 0, 0, fname);
        shape[0] = 1;
        return 1;
    }
    int start = lb_dim_value(L, config->start_dim, input->ndim, 0, fname);
    int end = lb_dim_value(L, config->end_dim, input->ndim, 0, fname);
    if (start > end)
        luaL_error(L, "%s: start_dim %I comes after end_dim %I for a %d-d input", fname,
                   (LUAI_UACINT)config->start_dim, (LUAI_UACINT)config->end_dim, input->ndim);

    int ndim = 0;
    for (int d = 0; d < start; d++)
        shape[ndim++] = input->shape[d];
    int64_t merged = 1;
    for (int d = start; d <= end; d++)
        merged *= input->shape[d];
    shape[ndim++] = merged;
    for (int d = end + 1; d < input->ndim; d++)
        shape[ndim++] = input->shape[d];
    return ndim;
}

static int flatten_forward(lua_State *L, lb_layer *layer)
{
    const flatten_config *config = LB_LAYER_CONFIG(layer, flatten_config);
    ln_tensor *input = lb_check_tensor(L, 2, "Flatten");
    int64_t shape[LN_MAX_DIMS];
    int ndim = flatten_shape(L, config, input, shape, "Flatten");
    push_reshape(L, 2, ndim, shape);
    return 1;
}

static int flatten_backward(lua_State *L, lb_layer *layer)
{
    const flatten_config *config = LB_LAYER_CONFIG(layer, flatten_config);
    const char *fname = "Flatten.backward";
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    ln_tensor *grad_output = lb_check_tensor(L, 3, fname);
    int64_t shape[LN_MAX_DIMS];
    int ndim = flatten_shape(L, config, input, shape, fname);
    check_grad_output(L, grad_output, ndim, shape, fname);
    push_reshape(L, 3, input->ndim, input->shape);
    return 1;
}

static void flatten_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    const flatten_config *config = LB_LAYER_CONFIG(layer, flatten_config);
    char text[96];
    snprintf(text, sizeof text, "start_dim=%lld, end_dim=%lld", (long long)config->start_dim,
             (long long)config->end_dim);
    luaL_addstring(buffer, text);
}

static const lb_layer_class flatten_class = {
    .name = "Flatten",
    .config_size = sizeof(flatten_config),
    .forward = flatten_forward,
    .backward = flatten_backward,
    .describe = flatten_describe,
};

static int flatten_new(lua_State *L)
{
    lua_Integer start = check_dim_option(L, 1, "start_dim", 2, "Flatten");
    lua_Integer end = check_dim_option(L, 2, "end_dim", -1, "Flatten");
    lb_layer *layer = lb_new_layer(L, &flatten_class);
    flatten_config *config = LB_LAYER_CONFIG(layer, flatten_config);
    config->start_dim = start;
    config->end_dim = end;
    return 1;
}

/* Identity ------------------------------------------------------------------------- */

/* Returns the input tensor itself, and backward grad_output itself, as
 * PyTorch's Identity does. */
static int identity_forward(lua_State *L, lb_layer *layer)
{
    lb_check_tensor(L, 2, "Identity");
    lua_settop(L, 2);
    return 1;
}

static int identity_backward(lua_State *L, lb_layer *layer)
{
    char fname[64];
    ln_tensor *grad_output;
    backward_arguments(L, layer, &grad_output, fname, sizeof fname);
    lua_settop(L, 3);
    return 1;
}

static const lb_layer_class identity_class = {
    .name = "Identity",
    .forward = identity_forward,
    .backward = identity_backward,
};

/* PyTorch's Identity ignores its arguments, and so does this constructor. */
static int identity_new(lua_State *L)
{
    lb_new_layer(L, &identity_class);
    return 1;
}

/* Dropout -------------------------------------------------------------------------- */

typedef struct dropout_config {
    lua_Number p;
} dropout_config;

/* Scratch field holding the mask of the last forward pass in training mode:
 * 0 for dropped elements and 1 / (1 - p) for kept ones. */
#define DROPOUT_MASK "_mask"

static int dropout_active(lb_layer *layer)
{
    return layer->training && LB_LAYER_CONFIG(layer, dropout_config)->p > 0;
}

/* Inverted dropout: in training mode each element is zeroed with probability
 * p and the others scaled by 1 / (1 - p), so the expected output equals the
 * input; in evaluation mode (or with p = 0) the input itself is returned. */
static int dropout_forward(lua_State *L, lb_layer *layer)
{
    ln_tensor *input = lb_check_tensor(L, 2, "Dropout");
    if (!dropout_active(layer)) {
        lua_settop(L, 2);
        return 1;
    }
    ln_tensor *mask = lb_new(L, input->ndim, input->shape, "Dropout");
    ln_bernoulli_mask(mask, (float)LB_LAYER_CONFIG(layer, dropout_config)->p);
    lua_pushvalue(L, -1);
    lb_layer_set(L, 1, DROPOUT_MASK);

    ln_tensor *output = lb_new(L, input->ndim, input->shape, "Dropout");
    lb_check_status(L, ln_binary(output, input, mask, LN_MUL), "Dropout");
    return 1;
}

static int dropout_backward(lua_State *L, lb_layer *layer)
{
    char fname[64];
    ln_tensor *grad_output;
    ln_tensor *input = backward_arguments(L, layer, &grad_output, fname, sizeof fname);
    if (!dropout_active(layer)) {
        lua_settop(L, 3);
        return 1;
    }
    ln_tensor *mask = lb_layer_tensor(L, 1, DROPOUT_MASK);
    if (!mask || !ln_same_shape(mask, input)) {
        char ti[256];
        luaL_error(L, "%s: no mask for input %s; call forward in training mode first", fname,
                   ln_shape_string(input, ti, sizeof ti));
    }
    ln_tensor *grad_input = lb_new(L, input->ndim, input->shape, fname);
    lb_check_status(L, ln_binary(grad_input, grad_output, mask, LN_MUL), fname);
    return 1;
}

static void dropout_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    char text[64];
    snprintf(text, sizeof text, "p=%.14g", LB_LAYER_CONFIG(layer, dropout_config)->p);
    luaL_addstring(buffer, text);
}

static const lb_layer_class dropout_class = {
    .name = "Dropout",
    .config_size = sizeof(dropout_config),
    .forward = dropout_forward,
    .backward = dropout_backward,
    .describe = dropout_describe,
};

static int dropout_new(lua_State *L)
{
    lua_Number p = 0.5;
    if (!lua_isnoneornil(L, 1)) {
        if (lua_type(L, 1) != LUA_TNUMBER)
            luaL_error(L, "Dropout: p must be a number, got %s", luaL_typename(L, 1));
        p = lua_tonumber(L, 1);
    }
    if (!(p >= 0 && p <= 1))
        luaL_error(L, "Dropout: p must be between 0 and 1, got %f", (LUAI_UACNUMBER)p);
    lb_layer *layer = lb_new_layer(L, &dropout_class);
    LB_LAYER_CONFIG(layer, dropout_config)->p = p;
    return 1;
}

void lb_open_activation(lua_State *L)
{
    static const luaL_Reg constructors[] = {
        {"ReLU", relu_new},         {"LeakyReLU", leaky_relu_new},
        {"Sigmoid", sigmoid_new},   {"Tanh", tanh_new},
        {"Softmax", softmax_new},   {"LogSoftmax", log_softmax_new},
        {"Flatten", flatten_new},   {"Identity", identity_new},
        {"Dropout", dropout_new},   {NULL, NULL},
    };
    lb_register_layers(L, constructors);
}
