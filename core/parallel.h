/* Threads and interruption.
 *
 * Every kernel runs on OpenMP threads, ln_set_num_threads() of them. GEMM
 * too: ln_gemm shares the output among them and calls OpenBLAS with one
 * thread, so that no second pool of threads competes for the cores.
 *
 * Long kernels poll ln_interrupted() between blocks of work and return
 * LN_EINTR when it is set, so a REPL can stop a big convolution with Ctrl-C
 * without killing the process. */
#ifndef LUNET_PARALLEL_H
#define LUNET_PARALLEL_H

#include <signal.h>
#include <stdbool.h>

void ln_set_num_threads(int n);
int ln_get_num_threads(void);

/* Requests that running kernels stop; async-signal-safe. */
void ln_interrupt(void);

/* Clears a pending request; call before starting new work. */
void ln_clear_interrupt(void);

bool ln_interrupted(void);

#endif
