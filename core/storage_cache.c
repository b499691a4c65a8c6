/* Tensor storage: aligned allocation and a small cache of large freed
 * buffers.
 *
 * glibc serves blocks above its mmap threshold with mmap and unmaps them on
 * free. The threshold rises to the largest block freed, but never above
 * 32 MiB on 64-bit systems (mallopt(3)). A loop that allocates a result of
 * the same large shape on every call, such as softmax over 16x1000000, then
 * spends more time in page faults on fresh pages than in the kernel.
 *
 * The cache keeps up to CACHE_SLOTS blocks and CACHE_MAX_BYTES in all, and
 * hands a block out again only for the same byte size. The oldest block is
 * freed to make room. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CACHE_MIN_BYTES ((size_t)32 << 20)
#define CACHE_MAX_BYTES ((size_t)256 << 20)
#define CACHE_SLOTS 4

#define STORAGE_ALIGNMENT 64

typedef struct cached_block {
    void *data;
    size_t bytes;
} cached_block;

/* Slots 0..count-1, oldest first. */
static cached_block slots[CACHE_SLOTS];
static int count;
static size_t cached_bytes;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Removes slot i and returns its block. The caller must hold the lock. */
static void *take_slot(int i)
{
    void *data = slots[i].data;
    cached_bytes -= slots[i].bytes;
    memmove(&slots[i], &slots[i + 1], sizeof slots[0] * (size_t)(count - i - 1));
    count--;
    return data;
}

static void *take_cached(size_t bytes)
{
    void *data = NULL;
    pthread_mutex_lock(&lock);
    for (int i = count - 1; i >= 0 && !data; i--)
        if (slots[i].bytes == bytes)
            data = take_slot(i);
    pthread_mutex_unlock(&lock);
    return data;
}

void *ln_storage_malloc(size_t bytes, bool zero)
{
    void *data = bytes >= CACHE_MIN_BYTES ? take_cached(bytes) : NULL;
    if (data) {
        if (zero)
            memset(data, 0, bytes);
        return data;
    }
    if (zero)
        return calloc(1, bytes);
    /* Cache-line alignment lets kernels use aligned and streaming stores. */
    return posix_memalign(&data, STORAGE_ALIGNMENT, bytes) == 0 ? data : NULL;
}

void ln_storage_free(void *data, size_t bytes)
{
    if (!data)
        return;
    if (bytes < CACHE_MIN_BYTES || bytes > CACHE_MAX_BYTES) {
        free(data);
        return;
    }

    /* Blocks evicted to make room are freed after the lock is released. */
    void *evicted[CACHE_SLOTS];
    int evicted_count = 0;
    pthread_mutex_lock(&lock);
    while (count > 0 && (count == CACHE_SLOTS || cached_bytes + bytes > CACHE_MAX_BYTES))
        evicted[evicted_count++] = take_slot(0);
    slots[count].data = data;
    slots[count].bytes = bytes;
    count++;
    cached_bytes += bytes;
    pthread_mutex_unlock(&lock);

    for (int i = 0; i < evicted_count; i++)
        free(evicted[i]);
}
