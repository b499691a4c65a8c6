/* Writing safetensors files atomically; see safetensors.h. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json.h"
#include "parallel.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors writer assumes a little-endian host"
#endif

#define METADATA_KEY "__metadata__"

/* Elements gathered per write() for strided tensors, and bytes per write()
 * between polls of the interrupt flag. */
#define GATHER_ELEMENTS (1 << 18)
#define WRITE_CHUNK_BYTES (64 << 20)

/* Argument checks --------------------------------------------------------- */

static ln_status check_text(const char *kind, const char *text)
{
    size_t n = strlen(text);
    size_t bad = ln_utf8_check((const unsigned char *)text, n);
    if (bad == n)
        return LN_OK;
    char quoted[LN_QUOTE_SIZE];
    ln_quote(quoted, text, n);
    return ln_fail(LN_EINVAL, "%s %s is not valid UTF-8 (invalid byte at offset %zu)", kind,
                   quoted, bad);
}

static int compare_by_name(const void *a, const void *b, void *names)
{
    const char *const *text = names;
    return strcmp(text[*(const size_t *)a], text[*(const size_t *)b]);
}

/* Fills order with the indices of names in sorted order, then rejects
 * duplicates, which are neighbours once sorted. */
static ln_status sort_unique(const char *kind, const char *const *names, size_t count,
                             size_t *order)
{
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    qsort_r(order, count, sizeof *order, compare_by_name, (void *)names);
    for (size_t i = 1; i < count; i++) {
        if (strcmp(names[order[i - 1]], names[order[i]]) == 0) {
            char quoted[LN_QUOTE_SIZE];
            ln_quote(quoted, names[order[i]], strlen(names[order[i]]));
            return ln_fail(LN_EINVAL, "%s %s appears twice", kind, quoted);
        }
    }
    return LN_OK;
}

static ln_status check_arguments(size_t count, const char *const *names,
                                 const ln_tensor *const *tensors, size_t metadata_count,
                                 const char *const *keys, const char *const *values)
{
    for (size_t i = 0; i < count; i++) {
        if (names[i][0] == '\0')
            return ln_fail(LN_EINVAL, "tensor names must not be empty");
        if (strcmp(names[i], METADATA_KEY) == 0)
            return ln_fail(LN_EINVAL, "tensor name '" METADATA_KEY "' is reserved for "
                           "metadata");
        ln_status status = check_text("tensor name", names[i]);
        if (status)
            return status;
        if (!tensors[i]->storage) {
            char quoted[LN_QUOTE_SIZE];
            ln_quote(quoted, names[i], strlen(names[i]));
            return ln_fail(LN_EINVAL, "tensor %s is empty (closed or released)", quoted);
        }
    }
    for (size_t i = 0; i < metadata_count; i++) {
        ln_status status = check_text("metadata key", keys[i]);
        if (!status)
            status = check_text("metadata value", values[i]);
        if (status)
            return status;
    }
    return LN_OK;
}

/* Header ------------------------------------------------------------------ */

typedef struct text_buffer {
    char *data;
    size_t length, capacity;
    bool failed;
} text_buffer;

static void append(text_buffer *b, const char *text, size_t n)
{
    if (b->failed)
        return;
    if (b->length + n + 1 > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 1024;
        while (capacity < b->length + n + 1)
            capacity *= 2;
        char *data = realloc(b->data, capacity);
        if (!data) {
            b->failed = true;
            return;
        }
        b->data = data;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, text, n);
    b->length += n;
    b->data[b->length] = '\0';
}

static void append_text(text_buffer *b, const char *text)
{
    append(b, text, strlen(text));
}

static void append_format(text_buffer *b, const char *format, long long a, long long c)
{
    char text[64];
    int n = snprintf(text, sizeof text, format, a, c);
    append(b, text, (size_t)n);
}

/* Appends text as a JSON string: quote, backslash and control characters
 * are escaped; other bytes (checked UTF-8) are copied. */
static void append_json_string(text_buffer *b, const char *text)
{
    append_text(b, "\"");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char escape[8];
        if (*p == '"' || *p == '\\') {
            escape[0] = '\\';
            escape[1] = (char)*p;
            append(b, escape, 2);
        } else if (*p < 0x20) {
            snprintf(escape, sizeof escape, "\\u%04x", *p);
            append(b, escape, 6);
        } else {
            append(b, (const char *)p, 1);
        }
    }
    append_text(b, "\"");
}

/* Builds the header; the data section will hold the tensors in order. The
 * JSON is padded with spaces so that the data section starts at a multiple
 * of 8 bytes, as the reference writer does. */
static ln_status build_header(text_buffer *b, const size_t *order, size_t count,
                              const char *const *names, const ln_tensor *const *tensors,
                              const size_t *metadata_order, size_t metadata_count,
                              const char *const *keys, const char *const *values)
{
    append_text(b, "{");
    if (metadata_count > 0) {
        append_text(b, "\"" METADATA_KEY "\":{");
        for (size_t i = 0; i < metadata_count; i++) {
            if (i)
                append_text(b, ",");
            append_json_string(b, keys[metadata_order[i]]);
            append_text(b, ":");
            append_json_string(b, values[metadata_order[i]]);
        }
        append_text(b, "}");
    }

    int64_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        const ln_tensor *t = tensors[order[i]];
        if (i || metadata_count > 0)
            append_text(b, ",");
        append_json_string(b, names[order[i]]);
        append_text(b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++)
            append_format(b, d ? ",%lld" : "%lld", (long long)t->shape[d], 0);
        int64_t bytes = ln_numel(t) * 4;
        append_format(b, "],\"data_offsets\":[%lld,%lld]}", (long long)offset,
                      (long long)(offset + bytes));
        offset += bytes;
    }
    append_text(b, "}");
    while ((8 + b->length) % 8 != 0)
        append_text(b, " ");
    if (b->failed)
        return ln_fail(LN_ENOMEM, "out of memory building the header");
    return LN_OK;
}

/* File output ------------------------------------------------------------- */

static ln_status write_all(int fd, const void *data, size_t n, const char *path)
{
    const unsigned char *p = data;
    while (n > 0) {
        if (ln_interrupted())
            return ln_fail(LN_EINTR, "interrupted");
        size_t chunk = n < WRITE_CHUNK_BYTES ? n : WRITE_CHUNK_BYTES;
        ssize_t written = write(fd, p, chunk);
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0)
            return ln_fail(LN_EIO, "%s: write failed (%s)", path, strerror(errno));
        p += written;
        n -= (size_t)written;
    }
    return LN_OK;
}

/* Writes a strided tensor's elements in row-major order through buffer. */
static ln_status write_strided(int fd, const ln_tensor *t, float *buffer, const char *path)
{
    int last = t->ndim - 1;
    int64_t row = t->shape[last], step = t->stride[last];
    int64_t index[LN_MAX_DIMS] = {0};
    int64_t rows = ln_numel(t) / row;
    const float *data = ln_data(t);
    size_t used = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *base = data;
        for (int d = 0; d < last; d++)
            base += index[d] * t->stride[d];
        for (int64_t i = 0; i < row; i++) {
            buffer[used++] = base[i * step];
            if (used == GATHER_ELEMENTS) {
                ln_status status = write_all(fd, buffer, used * 4, path);
                if (status)
                    return status;
                used = 0;
            }
        }
        for (int d = last - 1; d >= 0; d--) {
            if (++index[d] < t->shape[d])
                break;
            index[d] = 0;
        }
    }
    return write_all(fd, buffer, used * 4, path);
}

static ln_status write_contents(int fd, const char *path, const text_buffer *header,
                                const size_t *order, size_t count,
                                const ln_tensor *const *tensors)
{
    unsigned char length[8];
    uint64_t n = header->length;
    for (int i = 0; i < 8; i++)
        length[i] = (unsigned char)(n >> (8 * i));
    ln_status status = write_all(fd, length, 8, path);
    if (!status)
        status = write_all(fd, header->data, header->length, path);

    float *buffer = NULL;
    for (size_t i = 0; i < count && !status; i++) {
        const ln_tensor *t = tensors[order[i]];
        int64_t numel = ln_numel(t);
        if (numel == 0)
            continue;
        if (ln_is_contiguous(t)) {
            status = write_all(fd, ln_data(t), (size_t)numel * 4, path);
            continue;
        }
        if (!buffer && !(buffer = malloc(GATHER_ELEMENTS * sizeof(float))))
            status = ln_fail(LN_ENOMEM, "out of memory for the write buffer");
        else
            status = write_strided(fd, t, buffer, path);
    }
    free(buffer);
    return status;
}

/* Permission bits for the new file: those of the file it replaces, or what
 * open() would give a new file under the current umask. */
static mode_t target_mode(const char *path)
{
    struct stat info;
    if (stat(path, &info) == 0)
        return info.st_mode & 07777;
    /* NOTE: umask can only be read by setting it; another thread creating a
     * file at this instant would see a zero umask. */
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

/* Makes the rename durable; a failure here is not reported, because the new
 * file is already in place. */
static void sync_directory(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

static ln_status write_file(const char *path, const text_buffer *header, const size_t *order,
                            size_t count, const ln_tensor *const *tensors)
{
    size_t n = strlen(path);
    char *temporary = malloc(n + 12);
    if (!temporary)
        return ln_fail(LN_ENOMEM, "out of memory");
    memcpy(temporary, path, n);
    memcpy(temporary + n, ".tmp.XXXXXX", 12);

    int fd = mkostemp(temporary, O_CLOEXEC);
    if (fd < 0) {
        int error = errno;
        free(temporary);
        return ln_fail(LN_EIO, "%s: cannot create a temporary file beside it (%s)", path,
                       strerror(error));
    }

    ln_status status = LN_OK;
    if (fchmod(fd, target_mode(path)) != 0)
        status = ln_fail(LN_EIO, "%s: cannot set the permissions of %s (%s)", path, temporary,
                         strerror(errno));
    if (!status)
        status = write_contents(fd, path, header, order, count, tensors);
    if (!status && fsync(fd) != 0)
        status = ln_fail(LN_EIO, "%s: fsync failed (%s)", path, strerror(errno));
    if (close(fd) != 0 && !status)
        status = ln_fail(LN_EIO, "%s: close failed (%s)", path, strerror(errno));
    if (!status && rename(temporary, path) != 0)
        status = ln_fail(LN_EIO, "%s: cannot replace the file (%s)", path, strerror(errno));

    if (status)
        unlink(temporary);
    else
        sync_directory(path);
    free(temporary);
    return status;
}

ln_status ln_safetensors_write(const char *path, size_t count, const char *const *names,
                               const ln_tensor *const *tensors, size_t metadata_count,
                               const char *const *metadata_keys,
                               const char *const *metadata_values)
{
    ln_status status = check_arguments(count, names, tensors, metadata_count, metadata_keys,
                                       metadata_values);
    if (status)
        return status;

    size_t *order = malloc((count + metadata_count + 1) * sizeof *order);
    if (!order)
        return ln_fail(LN_ENOMEM, "out of memory");
    size_t *metadata_order = order + count;
    status = sort_unique("tensor name", names, count, order);
    if (!status)
        status = sort_unique("metadata key", metadata_keys, metadata_count, metadata_order);

    text_buffer header = {0};
    if (!status)
        status = build_header(&header, order, count, names, tensors, metadata_order,
                              metadata_count, metadata_keys, metadata_values);
    if (!status)
        status = write_file(path, &header, order, count, tensors);
    free(header.data);
    free(order);
    return status;
}
