/* Reading IDX files through zlib; see idx.h. */
#include "idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "parallel.h"

#define IDX_UNSIGNED_BYTE 0x08

/* Bytes per gzread call: the interrupt flag is polled between calls. */
#define READ_CHUNK_BYTES (1 << 20)

/* Element counts up to this keep byte and float sizes far from overflow;
 * the same limit as the tensor allocator's. */
#define MAX_ELEMENTS (INT64_MAX / 8)

typedef struct reader {
    gzFile file;
    const char *path;
} reader;

/* Reads up to n bytes into buffer and stores how many arrived in *got; a
 * short count means the data ended. Fails on read errors and corrupt or
 * truncated gzip streams. */
static ln_status read_bytes(reader *r, void *buffer, size_t n, size_t *got)
{
    unsigned char *out = buffer;
    *got = 0;
    while (*got < n) {
        if (ln_interrupted())
            return ln_fail(LN_EINTR, "interrupted");
        size_t chunk = n - *got < READ_CHUNK_BYTES ? n - *got : READ_CHUNK_BYTES;
        int count = gzread(r->file, out + *got, (unsigned)chunk);
        if (count > 0) {
            *got += (size_t)count;
            continue;
        }
        int code;
        const char *message = gzerror(r->file, &code);
        /* zlib's message starts with the path, which the caller's prefix has */
        size_t path_length = strlen(r->path);
        if (strncmp(message, r->path, path_length) == 0 && message[path_length] == ':')
            message += path_length + (message[path_length + 1] == ' ' ? 2 : 1);
        if (code == Z_ERRNO)
            return ln_fail(LN_EIO, "%s: read failed (%s)", r->path, strerror(errno));
        if (code == Z_BUF_ERROR)
            return ln_fail(LN_EIO, "%s: the gzip data is truncated (%s)", r->path, message);
        if (code != Z_OK && code != Z_STREAM_END)
            return ln_fail(LN_EIO, "%s: corrupt gzip data (%s)", r->path, message);
        break;
    }
    return LN_OK;
}

static ln_status check_magic(const char *path, const unsigned char *magic)
{
    unsigned long value = (unsigned long)magic[0] << 24 | (unsigned long)magic[1] << 16 |
                          (unsigned long)magic[2] << 8 | magic[3];
    if (magic[0] != 0 || magic[1] != 0)
        return ln_fail(LN_EIO, "%s: bad magic number 0x%08lX: an IDX file starts with two "
                       "zero bytes, the data type and the number of dims", path, value);
    if (magic[2] != IDX_UNSIGNED_BYTE)
        return ln_fail(LN_EIO, "%s: data type 0x%02X is not supported (expected 0x08, "
                       "unsigned bytes)", path, magic[2]);
    if (magic[3] == 0 || magic[3] > LN_MAX_DIMS)
        return ln_fail(LN_EIO, "%s: magic number 0x%08lX gives %d dims (expected 1 to %d)",
                       path, value, magic[3], LN_MAX_DIMS);
    return LN_OK;
}

static ln_status read_header(reader *r, int *ndim, int64_t *shape, int64_t *numel)
{
    unsigned char header[4 + 4 * LN_MAX_DIMS];
    size_t got;
    ln_status status = read_bytes(r, header, 4, &got);
    if (status)
        return status;
    if (got < 4)
        return ln_fail(LN_EIO, "%s: the file ends after %zu bytes, inside the 4-byte magic "
                       "number", r->path, got);
    status = check_magic(r->path, header);
    if (status)
        return status;

    *ndim = header[3];
    size_t dims_bytes = 4 * (size_t)*ndim;
    status = read_bytes(r, header + 4, dims_bytes, &got);
    if (status)
        return status;
    if (got < dims_bytes)
        return ln_fail(LN_EIO, "%s: the file ends inside the dims (after %zu of %zu header "
                       "bytes)", r->path, 4 + got, 4 + dims_bytes);

    /* The product of the non-zero sizes must fit too, even when a zero size
     * makes the element count 0, because the strides of the tensor are
     * products of sizes. */
    int64_t product = 1;
    bool overflow = false, has_zero = false;
    for (int d = 0; d < *ndim; d++) {
        const unsigned char *p = header + 4 + 4 * d;
        shape[d] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                             (uint32_t)p[2] << 8 | p[3]);
        if (shape[d] == 0)
            has_zero = true;
        else if (product > MAX_ELEMENTS / shape[d])
            overflow = true;
        else
            product *= shape[d];
    }
    *numel = has_zero ? 0 : product;
    if (overflow) {
        char text[256];
        ln_shape_string_raw(*ndim, shape, text, sizeof text);
        return ln_fail(LN_EIO, "%s: dims %s are too large (the element count overflows "
                       "64-bit sizes)", r->path, text);
    }
    return LN_OK;
}

/* Reads numel bytes into a buffer that grows with the data actually read,
 * then checks that nothing follows them. */
static ln_status read_data(reader *r, int ndim, const int64_t *shape, int64_t numel,
                           unsigned char **data)
{
    char text[256];
    ln_shape_string_raw(ndim, shape, text, sizeof text);
    size_t total = (size_t)numel, done = 0;
    size_t capacity = total < READ_CHUNK_BYTES ? total : READ_CHUNK_BYTES;
    unsigned char *buffer = malloc(capacity ? capacity : 1);
    if (!buffer)
        return ln_fail(LN_ENOMEM, "%s: out of memory", r->path);

    ln_status status = LN_OK;
    while (done < total) {
        if (done == capacity) {
            size_t grown = capacity * 2 < total ? capacity * 2 : total;
            unsigned char *bigger = realloc(buffer, grown);
            if (!bigger) {
                status = ln_fail(LN_ENOMEM, "%s: out of memory reading %zu data bytes",
                                 r->path, total);
                break;
            }
            buffer = bigger;
            capacity = grown;
        }
        size_t got;
        status = read_bytes(r, buffer + done, capacity - done, &got);
        if (status)
            break;
        done += got;
        if (done < capacity) {
            status = ln_fail(LN_EIO, "%s: the file ends after %zu of %zu data bytes (dims %s)",
                             r->path, done, total, text);
            break;
        }
    }

    /* Reading past the data also makes zlib check the gzip trailer's CRC. */
    unsigned char extra;
    size_t got = 0;
    if (!status)
        status = read_bytes(r, &extra, 1, &got);
    if (!status && got > 0)
        status = ln_fail(LN_EIO, "%s: unexpected data after the %zu data bytes of dims %s",
                         r->path, total, text);
    if (status) {
        free(buffer);
        return status;
    }
    *data = buffer;
    return LN_OK;
}

ln_status ln_idx_read(ln_tensor *out, const char *path, float scale, float shift)
{
    struct stat info;
    if (stat(path, &info) != 0)
        return ln_fail(LN_EIO, "%s: cannot open (%s)", path, strerror(errno));
    if (!S_ISREG(info.st_mode))
        return ln_fail(LN_EIO, "%s: not a regular file", path);
    reader r = {gzopen(path, "rb"), path};
    if (!r.file)
        return ln_fail(LN_EIO, "%s: cannot open (%s)", path,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(r.file, 1 << 17);

    int ndim = 0;
    int64_t shape[LN_MAX_DIMS], numel = 0;
    unsigned char *bytes = NULL;
    ln_status status = read_header(&r, &ndim, shape, &numel);
    if (!status)
        status = read_data(&r, ndim, shape, numel, &bytes);
    gzclose(r.file);
    if (status)
        return status;

    ln_tensor t = {0};
    status = ln_tensor_alloc(&t, ndim, shape);
    if (status) {
        char message[256];
        snprintf(message, sizeof message, "%s", ln_last_error());
        free(bytes);
        return ln_fail(status, "%s: %s", path, message);
    }
    float *data = ln_data(&t);
    for (int64_t i = 0; i < numel; i++)
        data[i] = (float)bytes[i] * scale + shift;
    free(bytes);
    *out = t;
    return LN_OK;
}
