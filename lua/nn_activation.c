/* Placeholder until the activation layers land; replaced by their binding. */
#include "layer.h"

void lb_open_activation(lua_State *L)
{
    (void)L;
}
