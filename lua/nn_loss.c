/* Placeholder until the loss layers land; replaced by their binding. */
#include "layer.h"

void lb_open_loss(lua_State *L)
{
    (void)L;
}
