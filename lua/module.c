/* luaopen_lunet_core: the C half of `require "lunet"`. */
#include "binding.h"

#include <cblas.h>
#include <time.h>

static int config(lua_State *L)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, LUNET_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, ln_get_num_threads());
    lua_setfield(L, -2, "num_threads");
    lua_pushstring(L, openblas_get_config());
    lua_setfield(L, -2, "blas_config");
    lua_pushstring(L, openblas_get_corename());
    lua_setfield(L, -2, "blas_core");
    return 1;
}

/* Seconds from a monotonic clock, for timing with wall-clock precision
 * (os.clock counts CPU time, which multiplies with threads). */
static int monotonic_time(lua_State *L)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    lua_pushnumber(L, (lua_Number)now.tv_sec + (lua_Number)now.tv_nsec * 1e-9);
    return 1;
}

static const lb_function module_functions[] = {
    {"config", config, 0},
    {"time", monotonic_time, 0},
    {NULL, NULL, 0},
};

LUALIB_API int luaopen_lunet_core(lua_State *L)
{
    lua_newtable(L);
    lb_open_tensor(L);
    lb_open_elementwise(L);
    lb_open_reduce(L);
    lb_open_softmax(L);
    lb_open_matmul(L);
    lb_open_topk(L);
    lb_open_nn(L);
    lb_open_io(L);
    lb_open_image(L);
    lb_register(L, module_functions);
    return 1;
}
