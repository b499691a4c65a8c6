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
#include <stdint.h>
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

/* Cache-line alignment lets kernels use aligned and streaming stores. The
 * block is over-allocated by STORAGE_ALIGNMENT bytes, and the pointer that
 * malloc returned is kept just before the aligned data. posix_memalign
 * needs no such header, but with it VGG16's peak memory was 30 MB higher. */
static void *aligned_block(size_t bytes, bool zero)
{
    if (bytes > SIZE_MAX - STORAGE_ALIGNMENT)
        return NULL;
    size_t total = bytes + STORAGE_ALIGNMENT;
    char *raw = zero ? calloc(1, total) : malloc(total);
    if (!raw)
        return NULL;
    uintptr_t aligned = ((uintptr_t)raw + STORAGE_ALIGNMENT) &
                        ~(uintptr_t)(STORAGE_ALIGNMENT - 1);
    ((void **)aligned)[-1] = raw;
    return (void *)aligned;
}

static void free_aligned_block(void *data)
{
    free(((void **)data)[-1]);
}

void *ln_storage_malloc(size_t bytes, bool zero)
{
    void *data = bytes >= CACHE_MIN_BYTES ? take_cached(bytes) : NULL;
    if (data) {
        if (zero)
            memset(data, 0, bytes);
        return data;
    }
    return aligned_block(bytes, zero);
}

void ln_storage_cache_clear(void)
{
    pthread_mutex_lock(&lock);
    while (count > 0)
        free_aligned_block(take_slot(count - 1));
    pthread_mutex_unlock(&lock);
}

void ln_storage_free(void *data, size_t bytes)
{
    if (!data)
        return;
    if (bytes < CACHE_MIN_BYTES || bytes > CACHE_MAX_BYTES) {
        free_aligned_block(data);
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
        free_aligned_block(evicted[i]);
}
