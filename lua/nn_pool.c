/* Placeholder until the pool layers land; replaced by their binding. */
#include "layer.h"

void lb_open_pool(lua_State *L)
{
    (void)L;
}
