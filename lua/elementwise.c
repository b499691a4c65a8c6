/* Elementwise arithmetic, math functions, comparisons and the arithmetic
 * operators of the tensor metatable.
 *
 * Binary functions take a tensor or a number on either side, so lunet.sub(2,
 * t), t:sub(2) and 2 - t all work. A number operand is passed to the core as
 * a float, not as a tensor; two numbers give a 0-d tensor. Lua's == on
 * tensors stays an identity test (see lua/tensor.c); eq is the elementwise
 * comparison. In-place variants (add_, exp_, clamp_, ...) are methods that
 * write into self and return it. */
#include "binding.h"

#include <math.h>
#include <string.h>

/* Arguments ---------------------------------------------------------------- */

/* Returns the tensor at arg, or NULL after storing the number found there. */
static ln_tensor *check_tensor_or_number(lua_State *L, int arg, float *number, const char *fname)
{
    if (lua_type(L, arg) == LUA_TNUMBER) {
        *number = (float)lua_tonumber(L, arg);
        return NULL;
    }
    return lb_check_operand(L, arg, fname);
}

static float check_number(lua_State *L, int arg, const char *what, const char *fname)
{
    if (lua_type(L, arg) != LUA_TNUMBER)
        luaL_error(L, "%s: %s must be a number, got %s", fname, what, luaL_typename(L, arg));
    return (float)lua_tonumber(L, arg);
}

/* Raises unless other broadcasts to self's shape, which an in-place result
 * must keep. */
static void check_keeps_shape(lua_State *L, const ln_tensor *self, const ln_tensor *other,
                              const char *fname)
{
    int ndim;
    int64_t shape[LN_MAX_DIMS];
    lb_check_status(L, ln_broadcast_shape(self, other, &ndim, shape), fname);
    if (ndim == self->ndim && memcmp(shape, self->shape, sizeof(int64_t) * ndim) == 0)
        return;

    char text_self[256], text_other[256], text_result[256];
    luaL_error(L, "%s: shapes %s and %s broadcast to %s, but an in-place result must keep "
               "the shape of self (%s)", fname, ln_shape_string(self, text_self, sizeof text_self),
               ln_shape_string(other, text_other, sizeof text_other),
               ln_shape_string_raw(ndim, shape, text_result, sizeof text_result), text_self);
}

/* Binary operations -------------------------------------------------------- */

static int binary(lua_State *L, ln_binary_op op, const char *fname)
{
    float number_a = 0.0f, number_b = 0.0f;
    ln_tensor *a = check_tensor_or_number(L, 1, &number_a, fname);
    ln_tensor *b = check_tensor_or_number(L, 2, &number_b, fname);
    if (!a && !b)
        a = lb_check_operand(L, 1, fname);

    if (a && b) {
        int ndim;
        int64_t shape[LN_MAX_DIMS];
        lb_check_status(L, ln_broadcast_shape(a, b, &ndim, shape), fname);
        ln_tensor *out = lb_new(L, ndim, shape, fname);
        lb_check_status(L, ln_binary(out, a, b, op), fname);
        return 1;
    }

    const ln_tensor *t = a ? a : b;
    float scalar = a ? number_b : number_a;
    ln_tensor *out = lb_new(L, t->ndim, t->shape, fname);
    lb_check_status(L, ln_binary_scalar(out, t, scalar, op, a == NULL), fname);
    return 1;
}

static int binary_inplace(lua_State *L, ln_binary_op op, const char *fname)
{
    ln_tensor *self = lb_check_tensor(L, 1, fname);
    float number = 0.0f;
    ln_tensor *other = check_tensor_or_number(L, 2, &number, fname);
    if (other) {
        check_keeps_shape(L, self, other, fname);
        lb_check_status(L, ln_binary(self, self, other, op), fname);
    } else {
        lb_check_status(L, ln_binary_scalar(self, self, number, op, false), fname);
    }
    lua_settop(L, 1);
    return 1;
}

/* add and sub with a third argument alpha: a + alpha * b and a - alpha * b,
 * as in PyTorch. sign is -1 for sub. */
static int add_scaled(lua_State *L, float sign, bool inplace, const char *fname)
{
    float alpha = sign * check_number(L, 3, "alpha", fname);
    ln_tensor *a = inplace ? lb_check_tensor(L, 1, fname) : lb_check_operand(L, 1, fname);
    ln_tensor *b = lb_check_operand(L, 2, fname);
    if (inplace) {
        check_keeps_shape(L, a, b, fname);
        lb_check_status(L, ln_add_scaled(a, a, b, alpha), fname);
        lua_settop(L, 1);
        return 1;
    }

    int ndim;
    int64_t shape[LN_MAX_DIMS];
    lb_check_status(L, ln_broadcast_shape(a, b, &ndim, shape), fname);
    ln_tensor *out = lb_new(L, ndim, shape, fname);
    lb_check_status(L, ln_add_scaled(out, a, b, alpha), fname);
    return 1;
}

static int tensor_add(lua_State *L)
{
    if (lua_isnoneornil(L, 3))
        return binary(L, LN_ADD, "add");
    return add_scaled(L, 1.0f, false, "add");
}

static int tensor_add_(lua_State *L)
{
    if (lua_isnoneornil(L, 3))
        return binary_inplace(L, LN_ADD, "add_");
    return add_scaled(L, 1.0f, true, "add_");
}

static int tensor_sub(lua_State *L)
{
    if (lua_isnoneornil(L, 3))
        return binary(L, LN_SUB, "sub");
    return add_scaled(L, -1.0f, false, "sub");
}

static int tensor_sub_(lua_State *L)
{
    if (lua_isnoneornil(L, 3))
        return binary_inplace(L, LN_SUB, "sub_");
    return add_scaled(L, -1.0f, true, "sub_");
}

/* Defines tensor_<name> for the binary operation op. */
#define BINARY_FUNCTION(name, op)                                                        \
    static int tensor_##name(lua_State *L)                                               \
    {                                                                                    \
        return binary(L, op, #name);                                                     \
    }

/* Defines tensor_<name>_, its in-place method. */
#define BINARY_INPLACE(name, op)                                                         \
    static int tensor_##name##_(lua_State *L)                                            \
    {                                                                                    \
        return binary_inplace(L, op, #name "_");                                         \
    }

BINARY_FUNCTION(mul, LN_MUL)
BINARY_FUNCTION(div, LN_DIV)
BINARY_FUNCTION(pow, LN_POW)
BINARY_FUNCTION(eq, LN_EQ)
BINARY_FUNCTION(ne, LN_NE)
BINARY_FUNCTION(lt, LN_LT)
BINARY_FUNCTION(le, LN_LE)
BINARY_FUNCTION(gt, LN_GT)
BINARY_FUNCTION(ge, LN_GE)
BINARY_FUNCTION(maximum, LN_MAXIMUM)
BINARY_FUNCTION(minimum, LN_MINIMUM)
BINARY_INPLACE(mul, LN_MUL)
BINARY_INPLACE(div, LN_DIV)
BINARY_INPLACE(pow, LN_POW)

/* Unary operations --------------------------------------------------------- */

static int unary(lua_State *L, ln_unary_op op, const char *fname)
{
    ln_tensor *a = lb_check_tensor(L, 1, fname);
    ln_tensor *out = lb_new(L, a->ndim, a->shape, fname);
    lb_check_status(L, ln_unary(out, a, op), fname);
    return 1;
}

static int unary_inplace(lua_State *L, ln_unary_op op, const char *fname)
{
    ln_tensor *self = lb_check_tensor(L, 1, fname);
    lb_check_status(L, ln_unary(self, self, op), fname);
    lua_settop(L, 1);
    return 1;
}

/* Defines tensor_<name> and its in-place method tensor_<name>_. */
#define UNARY_FUNCTIONS(name, op)                                                        \
    static int tensor_##name(lua_State *L)                                               \
    {                                                                                    \
        return unary(L, op, #name);                                                      \
    }                                                                                    \
    static int tensor_##name##_(lua_State *L)                                            \
    {                                                                                    \
        return unary_inplace(L, op, #name "_");                                          \
    }

UNARY_FUNCTIONS(neg, LN_NEG)
UNARY_FUNCTIONS(exp, LN_EXP)
UNARY_FUNCTIONS(log, LN_LOG)
UNARY_FUNCTIONS(sqrt, LN_SQRT)
UNARY_FUNCTIONS(abs, LN_ABS)
UNARY_FUNCTIONS(tanh, LN_TANH)
UNARY_FUNCTIONS(sigmoid, LN_SIGMOID)
UNARY_FUNCTIONS(relu, LN_RELU)

/* clamp(t, min, max) ------------------------------------------------------- */

/* A missing bound is nil and leaves that side open. A NaN bound is rejected
 * because it could only come from a bug upstream. */
static float check_bound(lua_State *L, int arg, float open, const char *what, const char *fname)
{
    if (lua_isnoneornil(L, arg))
        return open;
    if (lua_type(L, arg) != LUA_TNUMBER)
        luaL_error(L, "%s: %s must be a number or nil, got %s", fname, what,
                   luaL_typename(L, arg));
    lua_Number bound = lua_tonumber(L, arg);
    if (isnan(bound))
        luaL_error(L, "%s: %s is NaN (expected a number or nil)", fname, what);
    return (float)bound;
}

static int clamp_common(lua_State *L, bool inplace, const char *fname)
{
    ln_tensor *a = lb_check_tensor(L, 1, fname);
    float low = check_bound(L, 2, -INFINITY, "min", fname);
    float high = check_bound(L, 3, INFINITY, "max", fname);
    if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3))
        luaL_error(L, "%s: min and max are both nil (expected at least one bound)", fname);

    ln_tensor *out = a;
    if (inplace)
        lua_settop(L, 1);
    else
        out = lb_new(L, a->ndim, a->shape, fname);
    lb_check_status(L, ln_clamp(out, a, low, high), fname);
    return 1;
}

static int tensor_clamp(lua_State *L)
{
    return clamp_common(L, false, "clamp");
}

static int tensor_clamp_(lua_State *L)
{
    return clamp_common(L, true, "clamp_");
}

/* Registration ------------------------------------------------------------- */

static const lb_function elementwise_functions[] = {
    {"add", tensor_add, 1},
    {"sub", tensor_sub, 1},
    {"mul", tensor_mul, 1},
    {"div", tensor_div, 1},
    {"pow", tensor_pow, 1},
    {"add_", tensor_add_, LB_METHOD_ONLY},
    {"sub_", tensor_sub_, LB_METHOD_ONLY},
    {"mul_", tensor_mul_, LB_METHOD_ONLY},
    {"div_", tensor_div_, LB_METHOD_ONLY},
    {"pow_", tensor_pow_, LB_METHOD_ONLY},
    {"eq", tensor_eq, 1},
    {"ne", tensor_ne, 1},
    {"lt", tensor_lt, 1},
    {"le", tensor_le, 1},
    {"gt", tensor_gt, 1},
    {"ge", tensor_ge, 1},
    {"maximum", tensor_maximum, 1},
    {"minimum", tensor_minimum, 1},
    {"neg", tensor_neg, 1},
    {"exp", tensor_exp, 1},
    {"log", tensor_log, 1},
    {"sqrt", tensor_sqrt, 1},
    {"abs", tensor_abs, 1},
    {"tanh", tensor_tanh, 1},
    {"sigmoid", tensor_sigmoid, 1},
    {"relu", tensor_relu, 1},
    {"neg_", tensor_neg_, LB_METHOD_ONLY},
    {"exp_", tensor_exp_, LB_METHOD_ONLY},
    {"log_", tensor_log_, LB_METHOD_ONLY},
    {"sqrt_", tensor_sqrt_, LB_METHOD_ONLY},
    {"abs_", tensor_abs_, LB_METHOD_ONLY},
    {"tanh_", tensor_tanh_, LB_METHOD_ONLY},
    {"sigmoid_", tensor_sigmoid_, LB_METHOD_ONLY},
    {"relu_", tensor_relu_, LB_METHOD_ONLY},
    {"clamp", tensor_clamp, 1},
    {"clamp_", tensor_clamp_, LB_METHOD_ONLY},
    {NULL, NULL, 0},
};

/* Operators name the function in their errors: 2 + {} raises "add: ...". */
static const luaL_Reg operators[] = {
    {"__add", tensor_add}, {"__sub", tensor_sub}, {"__mul", tensor_mul},
    {"__div", tensor_div}, {"__pow", tensor_pow}, {"__unm", tensor_neg},
    {NULL, NULL},
};

void lb_open_elementwise(lua_State *L)
{
    lb_register(L, elementwise_functions);
    luaL_getmetatable(L, LB_TENSOR);
    luaL_setfuncs(L, operators, 0);
    lua_pop(L, 1);
}
