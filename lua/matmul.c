/* Matrix products: matmul with torch.matmul's rank rules, and mm for two
 * matrices only. */
#include "binding.h"

static int product(lua_State *L, const char *fname, bool matrices_only)
{
    ln_tensor *a = lb_check_tensor(L, 1, fname);
    ln_tensor *b = lb_check_tensor(L, 2, fname);
    if (matrices_only && (a->ndim != 2 || b->ndim != 2)) {
        char text_a[256], text_b[256];
        luaL_error(L, "%s: expected two 2-d tensors, got %s @ %s (matmul accepts other ranks)",
                   fname, ln_shape_string(a, text_a, sizeof text_a),
                   ln_shape_string(b, text_b, sizeof text_b));
    }

    int ndim;
    int64_t shape[LN_MAX_DIMS];
    lb_check_status(L, ln_matmul_shape(a, b, &ndim, shape), fname);
    ln_tensor *out = lb_new(L, ndim, shape, fname);
    lb_check_status(L, ln_matmul(out, a, b), fname);
    return 1;
}

static int matmul(lua_State *L)
{
    return product(L, "matmul", false);
}

static int mm(lua_State *L)
{
    return product(L, "mm", true);
}

static const lb_function matmul_functions[] = {
    {"matmul", matmul, 1},
    {"mm", mm, 1},
    {NULL, NULL, 0},
};

void lb_open_matmul(lua_State *L)
{
    lb_register(L, matmul_functions);
}
