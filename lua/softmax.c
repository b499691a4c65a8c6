/* softmax and log_softmax as lunet functions and tensor methods, and their
 * gradients as lunet.softmax_backward and lunet.log_softmax_backward for
 * layers. dim defaults to the last dim. logsumexp, a reduction, lives with
 * the other reductions in reduce.c. */
#include "binding.h"

typedef ln_status (*forward_fn)(ln_tensor *out, const ln_tensor *x, int dim);
typedef ln_status (*backward_fn)(ln_tensor *grad_input, const ln_tensor *grad_output,
                                 const ln_tensor *output, int dim);

/* f(x[, dim]): a new tensor of x's shape. */
static int forward(lua_State *L, forward_fn fn, const char *fname)
{
    const ln_tensor *x = lb_check_tensor(L, 1, fname);
    int dim = lb_opt_dim(L, 2, x->ndim, fname);
    ln_tensor *out = lb_new(L, x->ndim, x->shape, fname);
    lb_check_status(L, fn(out, x, dim), fname);
    return 1;
}

/* f(grad_output, output[, dim]): grad_input, a new tensor of output's shape. */
static int backward(lua_State *L, backward_fn fn, const char *fname)
{
    const ln_tensor *grad_output = lb_check_tensor(L, 1, fname);
    const ln_tensor *output = lb_check_tensor(L, 2, fname);
    int dim = lb_opt_dim(L, 3, output->ndim, fname);
    ln_tensor *grad_input = lb_new(L, output->ndim, output->shape, fname);
    lb_check_status(L, fn(grad_input, grad_output, output, dim), fname);
    return 1;
}

static int softmax(lua_State *L)
{
    return forward(L, ln_softmax, "softmax");
}

static int log_softmax(lua_State *L)
{
    return forward(L, ln_log_softmax, "log_softmax");
}

static int softmax_backward(lua_State *L)
{
    return backward(L, ln_softmax_backward, "softmax_backward");
}

static int log_softmax_backward(lua_State *L)
{
    return backward(L, ln_log_softmax_backward, "log_softmax_backward");
}

static const lb_function softmax_functions[] = {
    {"softmax", softmax, 1},
    {"log_softmax", log_softmax, 1},
    {"softmax_backward", softmax_backward, 0},
    {"log_softmax_backward", log_softmax_backward, 0},
    {NULL, NULL, 0},
};

void lb_open_softmax(lua_State *L)
{
    lb_register(L, softmax_functions);
}
