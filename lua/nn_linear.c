/* nn.Linear(in_features, out_features, {bias = true}) */
#include "layer.h"

#include <math.h>
#include <string.h>

#include "nn/linear.h"

typedef struct linear_config {
    int64_t in_features, out_features;
} linear_config;

static const char *const linear_parameters[] = {"weight", "bias", NULL};

/* The output shape for input: its leading dims, then out_features. */
static void output_shape(const ln_tensor *input, const ln_tensor *weight, int64_t *shape)
{
    for (int d = 0; d < input->ndim - 1; d++)
        shape[d] = input->shape[d];
    shape[input->ndim - 1] = weight->shape[0];
}

static int linear_forward(lua_State *L, lb_layer *layer)
{
    ln_tensor *input = lb_check_tensor(L, 2, "Linear");
    ln_tensor *weight = lb_layer_tensor(L, 1, "weight");
    ln_tensor *bias = lb_layer_tensor(L, 1, "bias");
    if (!weight)
        luaL_error(L, "Linear: the layer has no weight");
    lb_check_status(L, ln_linear_check(input, weight, bias), "Linear");

    int64_t shape[LN_MAX_DIMS];
    output_shape(input, weight, shape);
    ln_tensor *output = lb_new(L, input->ndim, shape, "Linear");
    lb_check_status(L, ln_linear_forward(output, input, weight, bias), "Linear");
    return 1;
}

static int linear_backward(lua_State *L, lb_layer *layer)
{
    ln_tensor *input = lb_check_tensor(L, 2, "Linear.backward");
    ln_tensor *grad_output = lb_check_tensor(L, 3, "Linear.backward");
    ln_tensor *weight = lb_layer_tensor(L, 1, "weight");
    if (!weight)
        luaL_error(L, "Linear.backward: the layer has no weight");
    lb_check_status(L, ln_linear_check(input, weight, NULL), "Linear.backward");

    int64_t expected[LN_MAX_DIMS];
    output_shape(input, weight, expected);
    if (grad_output->ndim != input->ndim ||
        memcmp(grad_output->shape, expected, sizeof(int64_t) * input->ndim) != 0) {
        char tg[256], te[256];
        luaL_error(L, "Linear.backward: grad_output has shape %s but the output has shape %s",
                   ln_shape_string(grad_output, tg, sizeof tg),
                   ln_shape_string_raw(input->ndim, expected, te, sizeof te));
    }

    ln_tensor *grad_weight = lb_layer_grad(L, 1, "weight");
    ln_tensor *grad_bias = lb_layer_grad(L, 1, "bias");
    ln_tensor *grad_input = lb_new(L, input->ndim, input->shape, "Linear.backward");
    lb_check_status(L, ln_linear_backward(grad_input, grad_weight, grad_bias, grad_output,
                                          input, weight),
                    "Linear.backward");
    return 1;
}

static void linear_describe(lb_layer *layer, luaL_Buffer *buffer)
{
    linear_config *config = LB_LAYER_CONFIG(layer, linear_config);
    char text[128];
    snprintf(text, sizeof text, "in_features=%lld, out_features=%lld",
             (long long)config->in_features, (long long)config->out_features);
    luaL_addstring(buffer, text);
}

static const lb_layer_class linear_class = {
    .name = "Linear",
    .parameters = linear_parameters,
    .config_size = sizeof(linear_config),
    .forward = linear_forward,
    .backward = linear_backward,
    .describe = linear_describe,
};

/* PyTorch's default: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)). */
static int linear_new(lua_State *L)
{
    lua_Integer in = lb_check_integer(L, 1, "in_features", "Linear");
    lua_Integer out = lb_check_integer(L, 2, "out_features", "Linear");
    if (in < 0 || out < 0)
        luaL_error(L, "Linear: sizes must be >= 0, got in_features=%I, out_features=%I",
                   (LUAI_UACINT)in, (LUAI_UACINT)out);
    static const char *const option_names[] = {"bias", NULL};
    lb_check_option_names(L, 3, option_names, "Linear");
    int bias = lb_option_boolean(L, 3, "bias", 1, "Linear");

    lb_layer *layer = lb_new_layer(L, &linear_class);
    linear_config *config = LB_LAYER_CONFIG(layer, linear_config);
    config->in_features = in;
    config->out_features = out;

    float bound = in > 0 ? 1.0f / sqrtf((float)in) : 0.0f;
    int64_t weight_shape[2] = {out, in};
    lb_layer_init_uniform(L, -1, "weight", 2, weight_shape, bound);
    if (bias) {
        int64_t bias_shape[1] = {out};
        lb_layer_init_uniform(L, -1, "bias", 1, bias_shape, bound);
    }
    return 1;
}

void lb_open_linear(lua_State *L)
{
    static const luaL_Reg constructors[] = {{"Linear", linear_new}, {NULL, NULL}};
    lb_register_layers(L, constructors);
}
