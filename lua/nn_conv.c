/* Placeholder until the conv layers land; replaced by their binding. */
#include "layer.h"

void lb_open_conv(lua_State *L)
{
    (void)L;
}
