/* Processor features, each checked once. */
#include "internal.h"

bool ln_cpu_has_avx512(void)
{
    static int supported = -1;
    if (supported < 0)
        supported = __builtin_cpu_supports("avx512f");
    return supported;
}
