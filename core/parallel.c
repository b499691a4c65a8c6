#include "parallel.h"

#include <omp.h>

static volatile sig_atomic_t interrupt_requested;
static int num_threads;

void ln_set_num_threads(int n)
{
    if (n < 1)
        n = 1;
    num_threads = n;
    omp_set_num_threads(n);
}

int ln_get_num_threads(void)
{
    if (num_threads == 0)
        num_threads = omp_get_max_threads();
    return num_threads;
}

void ln_interrupt(void)
{
    interrupt_requested = 1;
}

void ln_clear_interrupt(void)
{
    interrupt_requested = 0;
}

bool ln_interrupted(void)
{
    return interrupt_requested != 0;
}
