/* Loss layers: nn.CrossEntropyLoss, nn.NLLLoss, nn.MSELoss and
 * nn.BCEWithLogitsLoss.
 *
 * A loss is a native layer without parameters. loss(input, target) and
 * loss:forward(input, target) return the loss: a 0-d tensor for reduction
 * "mean" or "sum" (read it with :item()), one value per sample for "none".
 * loss:backward(input, target, grad_output) returns grad_input. grad_output
 * may be omitted (1), a number or a 0-d tensor (scaling every position), or
 * for "none" a tensor of the loss's shape.
 *
 * Class-index targets are 1-based, as every index in lunet: a float tensor
 * or a Lua list of integers. This file checks them and converts them to the
 * core's 0-based indices, with -1 for an ignored position. Class weights
 * (`weight`) and BCE's `pos_weight` are buffers of the layer, so they appear
 * in state_dict() as in PyTorch. */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/loss.h"

typedef struct loss_config {
    ln_reduction reduction;
    double label_smoothing;
    int has_ignore_index;
    lua_Integer ignore_index;     /* 1-based, as the target */
} loss_config;

static const char *const class_weight_buffers[] = {"weight", NULL};
static const char *const pos_weight_buffers[] = {"pos_weight", NULL};

/* Options ------------------------------------------------------------------- */

/* Pushes options[name], or nil when the options table at arg is absent. */
static int push_option(lua_State *L, int arg, const char *name)
{
    if (lua_isnoneornil(L, arg)) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    return lua_getfield(L, arg, name);
}

static ln_reduction option_reduction(lua_State *L, int arg, const char *fname)
{
    if (push_option(L, arg, "reduction") == LUA_TNIL) {
        lua_pop(L, 1);
        return LN_REDUCTION_MEAN;
    }
    static const char *const names[] = {"mean", "sum", "none", NULL};
    static const ln_reduction values[] = {LN_REDUCTION_MEAN, LN_REDUCTION_SUM,
                                          LN_REDUCTION_NONE};
    const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    for (int i = 0; name && names[i]; i++) {
        if (strcmp(name, names[i]) == 0) {
            lua_pop(L, 1);
            return values[i];
        }
    }
    if (name)
        luaL_error(L, "%s: option 'reduction' must be \"mean\", \"sum\" or \"none\", got \"%s\"",
                   fname, name);
    luaL_error(L, "%s: option 'reduction' must be \"mean\", \"sum\" or \"none\", got %s", fname,
               luaL_typename(L, -1));
    return LN_REDUCTION_MEAN;
}

static const char *reduction_name(ln_reduction reduction)
{
    return reduction == LN_REDUCTION_NONE ? "none"
           : reduction == LN_REDUCTION_SUM ? "sum"
                                            : "mean";
}

/* Stores the tensor option name, if given, as the field name of the layer
 * on top of the stack. With one_dim set, the tensor must be 1-d. */
static void option_tensor(lua_State *L, int arg, const char *name, int one_dim,
                          const char *fname)
{
    if (push_option(L, arg, name) == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    ln_tensor *t = lb_test_tensor(L, -1);
    if (!t || !t->storage)
        luaL_error(L, "%s: option '%s' must be a tensor, got %s", fname, name,
                   t ? "a closed tensor" : luaL_typename(L, -1));
    if (one_dim && t->ndim != 1) {
        char text[256];
        luaL_error(L, "%s: option '%s' must be a 1-d tensor of class weights, got shape %s",
                   fname, name, ln_shape_string(t, text, sizeof text));
    }
    lb_layer_set(L, -2, name);
}

static void option_ignore_index(lua_State *L, int arg, loss_config *config, const char *fname)
{
    if (push_option(L, arg, "ignore_index") == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    int is_integer = 0;
    config->ignore_index = lua_tointegerx(L, -1, &is_integer);
    if (!is_integer)
        luaL_error(L, "%s: option 'ignore_index' must be an integer, got %s", fname,
                   lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1)
                                                  : luaL_typename(L, -1));
    config->has_ignore_index = 1;
    lua_pop(L, 1);
}

static void describe_loss(lb_layer *layer, luaL_Buffer *buffer)
{
    loss_config *config = LB_LAYER_CONFIG(layer, loss_config);
    char text[160];
    snprintf(text, sizeof text, "reduction=%s", reduction_name(config->reduction));
    luaL_addstring(buffer, text);
    if (config->label_smoothing != 0.0) {
        snprintf(text, sizeof text, ", label_smoothing=%g", config->label_smoothing);
        luaL_addstring(buffer, text);
    }
    if (config->has_ignore_index) {
        snprintf(text, sizeof text, ", ignore_index=%lld", (long long)config->ignore_index);
        luaL_addstring(buffer, text);
    }
}

/* Shapes --------------------------------------------------------------------- */

/* Writes "3" for a 1-d target and "(2, 1, 3)" otherwise: the 1-based
 * position of flat index i in a tensor of shape. */
static void position_text(char *buffer, size_t size, int ndim, const int64_t *shape, int64_t i)
{
    int64_t index[LN_MAX_DIMS];
    for (int d = ndim - 1; d >= 0; d--) {
        index[d] = i % shape[d] + 1;
        i /= shape[d];
    }
    if (ndim == 1) {
        snprintf(buffer, size, "%lld", (long long)index[0]);
        return;
    }
    size_t used = snprintf(buffer, size, "(");
    for (int d = 0; d < ndim && used < size; d++)
        used += snprintf(buffer + used, size - used, d + 1 < ndim ? "%lld, " : "%lld)",
                         (long long)index[d]);
}

/* Pushes grad_output from arg, checked against the loss's shape: 1 when
 * absent, a number or a 0-d tensor, or for reduction "none" a tensor of the
 * loss's shape. */
static ln_tensor *check_grad_output(lua_State *L, int arg, ln_reduction reduction, int ndim,
                                    const int64_t *shape, const char *fname)
{
    if (lua_isnoneornil(L, arg)) {
        ln_tensor *one = lb_new(L, 0, NULL, fname);
        ln_data(one)[0] = 1.0f;
        lua_replace(L, arg);
        return one;
    }
    ln_tensor *grad_output = lb_check_operand(L, arg, fname);
    if (grad_output->ndim == 0)
        return grad_output;
    if (reduction == LN_REDUCTION_NONE && grad_output->ndim == ndim &&
        memcmp(grad_output->shape, shape, sizeof(int64_t) * ndim) == 0)
        return grad_output;

    char given[256], expected[256];
    luaL_error(L, "%s: grad_output has shape %s but the loss has shape %s", fname,
               ln_shape_string(grad_output, given, sizeof given),
               ln_shape_string_raw(reduction == LN_REDUCTION_NONE ? ndim : 0, shape, expected,
                                   sizeof expected));
    return NULL;
}

/* Class-index targets ------------------------------------------------------------ */

/* What a class-index loss expects: the loss shape (the input's shape without
 * its class dim) and the class count. */
typedef struct class_shape {
    int ndim;
    int64_t shape[LN_MAX_DIMS];
    int64_t count;
    int64_t classes;
} class_shape;

static class_shape check_class_input(lua_State *L, const ln_tensor *input, const char *fname)
{
    if (input->ndim == 0)
        luaL_error(L, "%s: input must be (N, C), (C) or (N, C, d1, ...), got a 0-d tensor",
                   fname);
    class_shape s = {0};
    s.classes = input->ndim == 1 ? input->shape[0] : input->shape[1];
    if (input->ndim > 1) {
        s.ndim = input->ndim - 1;
        s.shape[0] = input->shape[0];
        for (int d = 2; d < input->ndim; d++)
            s.shape[d - 1] = input->shape[d];
    }
    s.count = 1;
    for (int d = 0; d < s.ndim; d++)
        s.count *= s.shape[d];
    return s;
}

static void raise_target_shape(lua_State *L, const ln_tensor *input, int ndim,
                               const int64_t *shape, const class_shape *s, const char *fname)
{
    char ti[256], tt[256], te[256];
    ln_shape_string(input, ti, sizeof ti);
    ln_shape_string_raw(ndim, shape, tt, sizeof tt);
    if (s->ndim == 0)
        luaL_error(L, "%s: input %s is one sample, so the target must be a number or a 0-d "
                   "tensor, got target %s", fname, ti, tt);
    if (ndim == s->ndim && shape[0] != s->shape[0])
        luaL_error(L, "%s: input %s and target %s disagree on the batch size", fname, ti, tt);
    luaL_error(L, "%s: input %s and target %s disagree (expected a target of shape %s)", fname,
               ti, tt, ln_shape_string_raw(s->ndim, s->shape, te, sizeof te));
}

/* Raises a target error, naming the position when the target is not 0-d. */
static void raise_target_value(lua_State *L, const char *problem, lua_Number value, int64_t i,
                               const class_shape *s, const char *fname)
{
    char where[160] = "";
    if (s->ndim > 0) {
        strcpy(where, " at position ");
        position_text(where + strlen(where), sizeof where - strlen(where), s->ndim, s->shape, i);
    }
    /* An integral value prints as 11, not as Lua's float form 11.0, and NaN
     * as nan whatever its sign bit. */
    lua_Integer integer;
    if (isnan(value))
        lua_pushliteral(L, "nan");
    else if (value == floor(value) && lua_numbertointeger(value, &integer))
        lua_pushfstring(L, "%I", (LUAI_UACINT)integer);
    else
        lua_pushfstring(L, "%f", value);
    const char *text = lua_tostring(L, -1);

    if (strcmp(problem, "range") == 0)
        luaL_error(L, "%s: target %s is out of range for %I classes (expected 1..%I)%s", fname,
                   text, (LUAI_UACINT)s->classes, (LUAI_UACINT)s->classes, where);
    luaL_error(L, "%s: target %s%s is not an integer (expected a class index 1..%I)", fname,
               text, where, (LUAI_UACINT)s->classes);
}

/* Converts one 1-based target value to a 0-based class index, -1 when it
 * equals ignore_index. */
static int64_t class_index(lua_State *L, lua_Number value, int64_t i, const class_shape *s,
                           const loss_config *config, const char *fname)
{
    if (!isfinite(value) || value != floor(value))
        raise_target_value(L, "integer", value, i, s, fname);
    if (config->has_ignore_index && value == (lua_Number)config->ignore_index)
        return -1;
    if (value < 1 || value > (lua_Number)s->classes)
        raise_target_value(L, "range", value, i, s, fname);
    return (int64_t)value - 1;
}

/* Reads the target at arg: a number or 0-d tensor for a (C) input, otherwise
 * a tensor of the loss's shape or, for (N, C) input, a list of N integers.
 * Returns 0-based class indices in a userdata left on the stack. */
static const int64_t *check_class_target(lua_State *L, int arg, const ln_tensor *input,
                                         const class_shape *s, const loss_config *config,
                                         const char *fname)
{
    int type = lua_type(L, arg);
    int64_t shape[LN_MAX_DIMS];
    int ndim = 0;
    const float *values = NULL;
    if (type == LUA_TTABLE) {
        ndim = 1;
        shape[0] = luaL_len(L, arg);
    } else if (type != LUA_TNUMBER) {
        ln_tensor *t = lb_test_tensor(L, arg);
        if (!t)
            luaL_error(L, "%s: bad argument #%d (target tensor, list or number expected, got "
                       "%s)", fname, arg, luaL_typename(L, arg));
        t = lb_check_tensor(L, arg, fname);
        ndim = t->ndim;
        memcpy(shape, t->shape, sizeof(int64_t) * t->ndim);
        if (ndim == s->ndim && memcmp(shape, s->shape, sizeof(int64_t) * ndim) == 0) {
            ln_tensor *contiguous = lb_push_tensor(L);
            lb_check_status(L, ln_contiguous(contiguous, t, false), fname);
            values = ln_data(contiguous);
        }
    }
    if (ndim != s->ndim || memcmp(shape, s->shape, sizeof(int64_t) * ndim) != 0)
        raise_target_shape(L, input, ndim, shape, s, fname);

    int64_t *indices = lua_newuserdatauv(L, (size_t)(s->count ? s->count : 1) * sizeof *indices,
                                         0);
    for (int64_t i = 0; i < s->count; i++) {
        lua_Number value;
        if (type == LUA_TNUMBER) {
            value = lua_tonumber(L, arg);
        } else if (type == LUA_TTABLE) {
            if (lua_geti(L, arg, i + 1) != LUA_TNUMBER)
                luaL_error(L, "%s: target[%I] must be a number, got %s", fname,
                           (LUAI_UACINT)(i + 1), luaL_typename(L, -1));
            value = lua_tonumber(L, -1);
            lua_pop(L, 1);
        } else {
            value = values[i];
        }
        indices[i] = class_index(L, value, i, s, config, fname);
    }
    return indices;
}

/* Class-index losses --------------------------------------------------------------- */

typedef ln_status (*class_loss_fn)(ln_tensor *, const ln_tensor *, const int64_t *,
                                   const ln_class_loss_options *);
typedef ln_status (*class_grad_fn)(ln_tensor *, const ln_tensor *, const ln_tensor *,
                                   const int64_t *, const ln_class_loss_options *);

static ln_class_loss_options class_options(lua_State *L, lb_layer *layer)
{
    loss_config *config = LB_LAYER_CONFIG(layer, loss_config);
    ln_class_loss_options options = {
        .weight = lb_layer_tensor(L, 1, "weight"),
        .reduction = config->reduction,
        .label_smoothing = config->label_smoothing,
    };
    return options;
}

static int class_forward(lua_State *L, lb_layer *layer, class_loss_fn loss)
{
    const char *fname = layer->cls->name;
    loss_config *config = LB_LAYER_CONFIG(layer, loss_config);
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    class_shape s = check_class_input(L, input, fname);
    ln_class_loss_options options = class_options(L, layer);
    const int64_t *target = check_class_target(L, 3, input, &s, config, fname);

    int unreduced = config->reduction == LN_REDUCTION_NONE;
    ln_tensor *output = lb_new(L, unreduced ? s.ndim : 0, s.shape, fname);
    lb_check_status(L, loss(output, input, target, &options), fname);
    return 1;
}

static int class_backward(lua_State *L, lb_layer *layer, class_grad_fn grad)
{
    char fname[64];
    snprintf(fname, sizeof fname, "%s.backward", layer->cls->name);
    loss_config *config = LB_LAYER_CONFIG(layer, loss_config);
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    class_shape s = check_class_input(L, input, fname);
    ln_class_loss_options options = class_options(L, layer);
    const int64_t *target = check_class_target(L, 3, input, &s, config, fname);
    ln_tensor *grad_output = check_grad_output(L, 4, config->reduction, s.ndim, s.shape, fname);

    ln_tensor *grad_input = lb_new(L, input->ndim, input->shape, fname);
    lb_check_status(L, grad(grad_input, grad_output, input, target, &options), fname);
    return 1;
}

static int cross_entropy_forward(lua_State *L, lb_layer *layer)
{
    return class_forward(L, layer, ln_cross_entropy);
}

static int cross_entropy_backward(lua_State *L, lb_layer *layer)
{
    return class_backward(L, layer, ln_cross_entropy_backward);
}

static int nll_forward(lua_State *L, lb_layer *layer)
{
    return class_forward(L, layer, ln_nll_loss);
}

static int nll_backward(lua_State *L, lb_layer *layer)
{
    return class_backward(L, layer, ln_nll_loss_backward);
}

static const lb_layer_class cross_entropy_class = {
    .name = "CrossEntropyLoss",
    .buffers = class_weight_buffers,
    .config_size = sizeof(loss_config),
    .forward = cross_entropy_forward,
    .backward = cross_entropy_backward,
    .describe = describe_loss,
};

static const lb_layer_class nll_class = {
    .name = "NLLLoss",
    .buffers = class_weight_buffers,
    .config_size = sizeof(loss_config),
    .forward = nll_forward,
    .backward = nll_backward,
    .describe = describe_loss,
};

/* Pushes a new class-index loss with the options shared by both kinds. */
static lb_layer *new_class_loss(lua_State *L, const lb_layer_class *cls,
                                const char *const *names)
{
    const char *fname = cls->name;
    lua_settop(L, 1);
    lb_check_option_names(L, 1, names, fname);
    ln_reduction reduction = option_reduction(L, 1, fname);

    lb_layer *layer = lb_new_layer(L, cls);
    loss_config *config = LB_LAYER_CONFIG(layer, loss_config);
    config->reduction = reduction;
    option_ignore_index(L, 1, config, fname);
    option_tensor(L, 1, "weight", 1, fname);
    return layer;
}

/* nn.CrossEntropyLoss({weight, reduction, label_smoothing, ignore_index}) */
static int cross_entropy_new(lua_State *L)
{
    static const char *const names[] = {"weight", "reduction", "label_smoothing",
                                        "ignore_index", NULL};
    const char *fname = cross_entropy_class.name;
    lb_layer *layer = new_class_loss(L, &cross_entropy_class, names);
    lua_Number smoothing = lb_option_number(L, 1, "label_smoothing", 0.0, fname);
    if (!(smoothing >= 0.0 && smoothing <= 1.0))
        luaL_error(L, "%s: option 'label_smoothing' must be in [0, 1], got %f", fname,
                   smoothing);
    LB_LAYER_CONFIG(layer, loss_config)->label_smoothing = smoothing;
    return 1;
}

/* nn.NLLLoss({weight, reduction, ignore_index}) */
static int nll_new(lua_State *L)
{
    static const char *const names[] = {"weight", "reduction", "ignore_index", NULL};
    new_class_loss(L, &nll_class, names);
    return 1;
}

/* Elementwise losses ---------------------------------------------------------------- */

typedef ln_status (*elementwise_loss_fn)(ln_tensor *, const ln_tensor *, const ln_tensor *,
                                         const ln_tensor *, ln_reduction);
typedef ln_status (*elementwise_grad_fn)(ln_tensor *, const ln_tensor *, const ln_tensor *,
                                         const ln_tensor *, const ln_tensor *, ln_reduction);

/* Returns BCE's pos_weight field, or NULL for MSE, which has no such buffer. */
static ln_tensor *layer_pos_weight(lua_State *L, lb_layer *layer)
{
    return layer->cls->buffers == pos_weight_buffers ? lb_layer_tensor(L, 1, "pos_weight")
                                                     : NULL;
}

static int elementwise_forward(lua_State *L, lb_layer *layer, elementwise_loss_fn loss)
{
    const char *fname = layer->cls->name;
    loss_config *config = LB_LAYER_CONFIG(layer, loss_config);
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    ln_tensor *target = lb_check_tensor(L, 3, fname);
    ln_tensor *pos_weight = layer_pos_weight(L, layer);

    int unreduced = config->reduction == LN_REDUCTION_NONE;
    ln_tensor *output = lb_new(L, unreduced ? input->ndim : 0, input->shape, fname);
    lb_check_status(L, loss(output, input, target, pos_weight, config->reduction), fname);
    return 1;
}

static int elementwise_backward(lua_State *L, lb_layer *layer, elementwise_grad_fn grad)
{
    char fname[64];
    snprintf(fname, sizeof fname, "%s.backward", layer->cls->name);
    loss_config *config = LB_LAYER_CONFIG(layer, loss_config);
    ln_tensor *input = lb_check_tensor(L, 2, fname);
    ln_tensor *target = lb_check_tensor(L, 3, fname);
    ln_tensor *pos_weight = layer_pos_weight(L, layer);
    ln_tensor *grad_output =
        check_grad_output(L, 4, config->reduction, input->ndim, input->shape, fname);

    ln_tensor *grad_input = lb_new(L, input->ndim, input->shape, fname);
    lb_check_status(L, grad(grad_input, grad_output, input, target, pos_weight,
                            config->reduction),
                    fname);
    return 1;
}

/* MSE has no pos_weight; these adapt it to the shared signature. */
static ln_status mse_loss(ln_tensor *output, const ln_tensor *input, const ln_tensor *target,
                          const ln_tensor *pos_weight, ln_reduction reduction)
{
    return ln_mse_loss(output, input, target, reduction);
}

static ln_status mse_grad(ln_tensor *grad_input, const ln_tensor *grad_output,
                          const ln_tensor *input, const ln_tensor *target,
                          const ln_tensor *pos_weight, ln_reduction reduction)
{
    return ln_mse_loss_backward(grad_input, grad_output, input, target, reduction);
}

static int mse_forward(lua_State *L, lb_layer *layer)
{
    return elementwise_forward(L, layer, mse_loss);
}

static int mse_backward(lua_State *L, lb_layer *layer)
{
    return elementwise_backward(L, layer, mse_grad);
}

static int bce_forward(lua_State *L, lb_layer *layer)
{
    return elementwise_forward(L, layer, ln_bce_with_logits);
}

static int bce_backward(lua_State *L, lb_layer *layer)
{
    return elementwise_backward(L, layer, ln_bce_with_logits_backward);
}

static const lb_layer_class mse_class = {
    .name = "MSELoss",
    .config_size = sizeof(loss_config),
    .forward = mse_forward,
    .backward = mse_backward,
    .describe = describe_loss,
};

static const lb_layer_class bce_class = {
    .name = "BCEWithLogitsLoss",
    .buffers = pos_weight_buffers,
    .config_size = sizeof(loss_config),
    .forward = bce_forward,
    .backward = bce_backward,
    .describe = describe_loss,
};

/* nn.MSELoss({reduction}) */
static int mse_new(lua_State *L)
{
    static const char *const names[] = {"reduction", NULL};
    lua_settop(L, 1);
    lb_check_option_names(L, 1, names, mse_class.name);
    ln_reduction reduction = option_reduction(L, 1, mse_class.name);
    lb_layer *layer = lb_new_layer(L, &mse_class);
    LB_LAYER_CONFIG(layer, loss_config)->reduction = reduction;
    return 1;
}

/* nn.BCEWithLogitsLoss({reduction, pos_weight}) */
static int bce_new(lua_State *L)
{
    static const char *const names[] = {"reduction", "pos_weight", NULL};
    lua_settop(L, 1);
    lb_check_option_names(L, 1, names, bce_class.name);
    ln_reduction reduction = option_reduction(L, 1, bce_class.name);
    lb_layer *layer = lb_new_layer(L, &bce_class);
    LB_LAYER_CONFIG(layer, loss_config)->reduction = reduction;
    option_tensor(L, 1, "pos_weight", 0, bce_class.name);
    return 1;
}

void lb_open_loss(lua_State *L)
{
    static const luaL_Reg constructors[] = {
        {"CrossEntropyLoss", cross_entropy_new},
        {"NLLLoss", nll_new},
        {"MSELoss", mse_new},
        {"BCEWithLogitsLoss", bce_new},
        {NULL, NULL},
    };
    lb_register_layers(L, constructors);
}
