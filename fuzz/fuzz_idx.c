/* libFuzzer target: the IDX reader, through zlib, on a memory-backed file
 * (memfd), so gzip and plain inputs take the same path as files on disk. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.idx", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    ln_tensor t = {0};
    if (done == size && ln_idx_read(&t, path, 1.0f, 0.0f) == LN_OK) {
        volatile float sink = 0;
        for (int64_t i = 0; i < ln_numel(&t); i++)
            sink += ln_data(&t)[i];
        (void)sink;
        ln_tensor_release(&t);
    }
    close(fd);
    return 0;
}
