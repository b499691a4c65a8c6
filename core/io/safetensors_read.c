/* Reading safetensors files; see safetensors.h.
 *
 * Why pread and not mmap: the reader reads each tensor's bytes straight into
 * freshly allocated tensor storage with pread(). Copying from the page cache
 * runs at memory bandwidth, so a load takes about as long as reading the file,
 * and the process holds one copy of the data (the page cache is the kernel's).
 * A mapped file would save that copy but would make every tensor depend on
 * the file: a file truncated or rewritten in place by another program while
 * the tensors live turns a later access into SIGBUS, and lunet tensors are
 * writable, which would need private copy-on-write mappings and refcounting
 * across all tensors of a file. Plain malloc'd storage has none of these
 * traps, and F16, BF16 and F64 tensors need a converted copy anyway.
 *
 * Every check runs on the whole header before any tensor is allocated: the
 * allocation for a tensor is then bounded by its verified byte range, so
 * tensors never take more than twice the file size.
 * NOTE: the parsed header itself can take about 9 times the header's size:
 * a hostile 100 MB header of tiny members ({"0":0,"1":0,...}) costs about
 * 900 MB and 8 s before it is rejected (measured on a 2-core x86-64 VM). */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json.h"
#include "parallel.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader assumes a little-endian host"
#endif

#define METADATA_KEY "__metadata__"

/* The header holds objects inside an object inside the root object; a
 * deeper header is invalid anyway, so the parser can stop early. Arrays are
 * shapes and offsets, and the parser rejects long ones before the tree of a
 * hostile header ("[0,0,0,...]") costs 12 bytes of memory per input byte. */
#define HEADER_MAX_DEPTH 4
#define HEADER_MAX_ARRAY_LENGTH 64

/* Bytes read between polls of the interrupt flag, and the size of the
 * scratch buffer for dtypes that need conversion. */
#define READ_CHUNK_BYTES (64 << 20)
#define CONVERT_CHUNK_BYTES (1 << 20)

/* Dtypes ------------------------------------------------------------------ */

typedef enum dtype {
    DTYPE_F32,
    DTYPE_F16,
    DTYPE_BF16,
    DTYPE_F64,
    DTYPE_UNSUPPORTED
} dtype;

typedef struct dtype_info {
    const char *name;
    dtype kind;
    int size;
} dtype_info;

/* The dtypes of the safetensors specification; those lunet cannot represent
 * are listed so that the message can say so rather than "unknown". */
static const dtype_info dtypes[] = {
    {"F32", DTYPE_F32, 4},          {"F16", DTYPE_F16, 2},
    {"BF16", DTYPE_BF16, 2},        {"F64", DTYPE_F64, 8},
    {"BOOL", DTYPE_UNSUPPORTED, 1}, {"U8", DTYPE_UNSUPPORTED, 1},
    {"I8", DTYPE_UNSUPPORTED, 1},   {"F8_E4M3", DTYPE_UNSUPPORTED, 1},
    {"F8_E5M2", DTYPE_UNSUPPORTED, 1}, {"I16", DTYPE_UNSUPPORTED, 2},
    {"U16", DTYPE_UNSUPPORTED, 2},  {"I32", DTYPE_UNSUPPORTED, 4},
    {"U32", DTYPE_UNSUPPORTED, 4},  {"I64", DTYPE_UNSUPPORTED, 8},
    {"U64", DTYPE_UNSUPPORTED, 8},
};

#define SUPPORTED_DTYPES "F32, F16, BF16 or F64"

static const dtype_info *find_dtype(const ln_json *value)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strlen(dtypes[i].name) == value->length &&
            memcmp(dtypes[i].name, value->string, value->length) == 0)
            return &dtypes[i];
    return NULL;
}

/* IEEE binary16 to binary32; exact for every input, including subnormals
 * (which are normal in float32), infinities and NaN payloads. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = h >> 10 & 0x1F;
    uint32_t mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000 | mantissa << 13;
    } else if (exponent != 0) {
        bits = sign | (exponent + 127 - 15) << 23 | mantissa << 13;
    } else {
        /* zero or subnormal: mantissa * 2^-24, exact in float32 */
        float magnitude = (float)mantissa * 0x1p-24f;
        memcpy(&bits, &magnitude, sizeof bits);
        bits |= sign;
    }
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static void convert(float *dst, const unsigned char *src, size_t n, dtype kind)
{
    switch (kind) {
    case DTYPE_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = half_to_float(h);
        }
        break;
    case DTYPE_BF16:
        /* bfloat16 is the top half of a float32 */
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
        }
        break;
    case DTYPE_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        }
        break;
    default:
        memcpy(dst, src, n * 4);
        break;
    }
}

/* Sources: a file read with pread, or a buffer --------------------------- */

typedef struct source {
    const char *label;             /* for messages */
    int fd;                        /* -1 when reading from memory */
    const unsigned char *memory;
    uint64_t size;
} source;

static ln_status read_at(const source *src, uint64_t offset, void *dst, size_t n)
{
    if (src->fd < 0) {
        memcpy(dst, src->memory + offset, n);
        return LN_OK;
    }
    unsigned char *out = dst;
    while (n > 0) {
        ssize_t got = pread(src->fd, out, n, (off_t)offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return ln_fail(LN_EIO, "%s: read failed (%s)", src->label, strerror(errno));
        if (got == 0)
            return ln_fail(LN_EIO, "%s: the file ended early; was it truncated while being "
                           "read?", src->label);
        out += got;
        offset += (uint64_t)got;
        n -= (size_t)got;
    }
    return LN_OK;
}

/* Header validation ------------------------------------------------------ */

typedef struct entry {
    const ln_json_member *member;  /* name and JSON description */
    const dtype_info *dtype;
    int ndim;
    int64_t shape[LN_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;           /* relative to the data section */
} entry;

/* Writes the entry's name, quoted for messages, into name (LN_QUOTE_SIZE
 * bytes). Entries do not keep it, since a header may hold millions. */
static const char *quote_name(const entry *e, char *name)
{
    ln_quote(name, e->member->key, e->member->key_length);
    return name;
}

static const char *json_type_name(const ln_json *value)
{
    static const char *const names[] = {"null", "a boolean", "a number", "a string",
                                        "an array", "an object"};
    return names[value->type];
}

/* Writes "[a, b, ...]" of a JSON array of integers for messages; other
 * values print as "?". */
static void format_integers(char *out, size_t size, const ln_json *array)
{
    size_t used = (size_t)snprintf(out, size, "[");
    for (size_t i = 0; i < array->count && used < size; i++) {
        const ln_json *item = &array->items[i];
        const char *separator = i ? ", " : "";
        if (i == 10) {
            used += (size_t)snprintf(out + used, size - used, ", ...");
            break;
        }
        if (item->type == LN_JSON_NUMBER && item->is_integer)
            used += (size_t)snprintf(out + used, size - used, "%s%lld", separator,
                                     (long long)item->integer);
        else
            used += (size_t)snprintf(out + used, size - used, "%s?", separator);
    }
    if (used < size)
        snprintf(out + used, size - used, "]");
}

static ln_status check_metadata(const source *src, const ln_json *metadata)
{
    if (metadata->type != LN_JSON_OBJECT)
        return ln_fail(LN_EIO, "%s: __metadata__ is %s, expected an object of strings",
                       src->label, json_type_name(metadata));
    for (size_t i = 0; i < metadata->count; i++) {
        const ln_json_member *m = &metadata->members[i];
        char key[LN_QUOTE_SIZE];
        ln_quote(key, m->key, m->key_length);
        if (m->value.type != LN_JSON_STRING)
            return ln_fail(LN_EIO, "%s: __metadata__ value of key %s is %s, expected a string",
                           src->label, key, json_type_name(&m->value));
        if (strlen(m->key) != m->key_length || strlen(m->value.string) != m->value.length)
            return ln_fail(LN_EIO, "%s: __metadata__ entry %s contains a NUL byte",
                           src->label, key);
    }
    return LN_OK;
}

static ln_status check_shape(const source *src, entry *e, const ln_json *shape)
{
    char name[LN_QUOTE_SIZE];
    quote_name(e, name);
    if (shape->type != LN_JSON_ARRAY)
        return ln_fail(LN_EIO, "%s: tensor %s shape is %s, expected an array of sizes",
                       src->label, name, json_type_name(shape));
    if (shape->count > LN_MAX_DIMS)
        return ln_fail(LN_EIO, "%s: tensor %s shape has %zu dims, more than the %d that lunet "
                       "supports", src->label, name, shape->count, LN_MAX_DIMS);

    /* The byte count numel * 8 must fit int64. */
    const int64_t max_numel = INT64_MAX / 8;
    char text[256];
    e->ndim = (int)shape->count;
    e->numel = 1;
    for (int d = 0; d < e->ndim; d++) {
        const ln_json *size = &shape->items[d];
        if (size->type != LN_JSON_NUMBER || !size->is_integer || size->integer < 0) {
            format_integers(text, sizeof text, shape);
            return ln_fail(LN_EIO, "%s: tensor %s shape %s: size %d is not a non-negative "
                           "integer", src->label, name, text, d + 1);
        }
        e->shape[d] = size->integer;
    }
    /* The product of the non-zero sizes must fit too, even when a zero size
     * makes the element count 0, because the strides of the tensor are
     * products of sizes. */
    bool has_zero = false;
    for (int d = 0; d < e->ndim; d++) {
        if (e->shape[d] == 0) {
            has_zero = true;
            continue;
        }
        if (e->numel > max_numel / e->shape[d]) {
            format_integers(text, sizeof text, shape);
            return ln_fail(LN_EIO, "%s: tensor %s shape %s has too many elements (the "
                           "product overflows 64-bit sizes)", src->label, name, text);
        }
        e->numel *= e->shape[d];
    }
    if (has_zero)
        e->numel = 0;
    return LN_OK;
}

static ln_status check_offsets(const source *src, entry *e, const ln_json *offsets,
                               uint64_t data_size)
{
    char name[LN_QUOTE_SIZE];
    quote_name(e, name);
    char text[256];
    format_integers(text, sizeof text, offsets);
    if (offsets->type != LN_JSON_ARRAY || offsets->count != 2)
        return ln_fail(LN_EIO, "%s: tensor %s data_offsets must be an array [begin, end] of "
                       "two byte offsets", src->label, name);
    for (int i = 0; i < 2; i++) {
        const ln_json *value = &offsets->items[i];
        if (value->type != LN_JSON_NUMBER || !value->is_integer || value->integer < 0)
            return ln_fail(LN_EIO, "%s: tensor %s data_offsets %s must be non-negative "
                           "integers", src->label, name, text);
    }
    e->begin = (uint64_t)offsets->items[0].integer;
    e->end = (uint64_t)offsets->items[1].integer;
    if (e->end < e->begin)
        return ln_fail(LN_EIO, "%s: tensor %s data_offsets %s end before they begin",
                       src->label, name, text);
    if (e->end > data_size)
        return ln_fail(LN_EIO, "%s: tensor %s data_offsets %s extend past the end of the "
                       "data section (%llu bytes)", src->label, name, text,
                       (unsigned long long)data_size);

    uint64_t needed = (uint64_t)e->numel * (uint64_t)e->dtype->size;
    if (e->end - e->begin != needed) {
        char shape[256];
        ln_shape_string_raw(e->ndim, e->shape, shape, sizeof shape);
        return ln_fail(LN_EIO, "%s: tensor %s data_offsets %s cover %llu bytes, but shape %s "
                       "of %s needs %llu", src->label, name, text,
                       (unsigned long long)(e->end - e->begin), shape, e->dtype->name,
                       (unsigned long long)needed);
    }
    return LN_OK;
}

static ln_status check_entry(const source *src, entry *e, uint64_t data_size)
{
    const ln_json_member *m = e->member;
    const ln_json *info = &m->value;
    char name[LN_QUOTE_SIZE];
    quote_name(e, name);
    if (m->key_length == 0)
        return ln_fail(LN_EIO, "%s: a tensor has an empty name", src->label);
    if (strlen(m->key) != m->key_length)
        return ln_fail(LN_EIO, "%s: tensor name %s contains a NUL byte", src->label, name);
    if (info->type != LN_JSON_OBJECT)
        return ln_fail(LN_EIO, "%s: tensor %s is %s, expected an object with dtype, shape and "
                       "data_offsets", src->label, name, json_type_name(info));

    static const char *const fields[] = {"dtype", "shape", "data_offsets"};
    for (size_t i = 0; i < info->count; i++) {
        const char *key = info->members[i].key;
        if (strcmp(key, fields[0]) && strcmp(key, fields[1]) && strcmp(key, fields[2])) {
            char field[LN_QUOTE_SIZE];
            ln_quote(field, key, info->members[i].key_length);
            return ln_fail(LN_EIO, "%s: tensor %s has an unknown field %s (expected dtype, "
                           "shape and data_offsets)", src->label, name, field);
        }
    }
    for (int i = 0; i < 3; i++)
        if (!ln_json_get(info, fields[i]))
            return ln_fail(LN_EIO, "%s: tensor %s has no %s", src->label, name, fields[i]);

    const ln_json *dtype = ln_json_get(info, "dtype");
    if (dtype->type != LN_JSON_STRING)
        return ln_fail(LN_EIO, "%s: tensor %s dtype is %s, expected a string such as \"F32\"",
                       src->label, name, json_type_name(dtype));
    e->dtype = find_dtype(dtype);
    if (!e->dtype) {
        char text[LN_QUOTE_SIZE];
        ln_quote(text, dtype->string, dtype->length);
        return ln_fail(LN_EIO, "%s: tensor %s has unknown dtype %s (expected " SUPPORTED_DTYPES
                       ")", src->label, name, text);
    }
    if (e->dtype->kind == DTYPE_UNSUPPORTED)
        return ln_fail(LN_EIO, "%s: tensor %s has dtype %s, which lunet cannot represent "
                       "(expected " SUPPORTED_DTYPES ")", src->label, name, e->dtype->name);

    ln_status status = check_shape(src, e, ln_json_get(info, "shape"));
    if (status)
        return status;
    return check_offsets(src, e, ln_json_get(info, "data_offsets"), data_size);
}

static int compare_begin(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Rejects two non-empty byte ranges that share a byte: after sorting by
 * begin, each range must start at or after the furthest end so far. */
static ln_status check_overlaps(const source *src, entry *entries, size_t count)
{
    if (count < 2)
        return LN_OK;
    entry **sorted = malloc(count * sizeof *sorted);
    if (!sorted)
        return ln_fail(LN_ENOMEM, "%s: out of memory checking the header", src->label);
    for (size_t i = 0; i < count; i++)
        sorted[i] = &entries[i];
    qsort(sorted, count, sizeof *sorted, compare_begin);

    ln_status status = LN_OK;
    const entry *furthest = NULL;
    for (size_t i = 0; i < count; i++) {
        const entry *e = sorted[i];
        if (e->begin == e->end)
            continue;
        if (furthest && e->begin < furthest->end) {
            char first[LN_QUOTE_SIZE], second[LN_QUOTE_SIZE];
            status = ln_fail(LN_EIO, "%s: tensors %s and %s overlap: data_offsets [%llu, %llu] "
                             "and [%llu, %llu]", src->label, quote_name(furthest, first),
                             quote_name(e, second),
                             (unsigned long long)furthest->begin,
                             (unsigned long long)furthest->end, (unsigned long long)e->begin,
                             (unsigned long long)e->end);
            break;
        }
        if (!furthest || e->end > furthest->end)
            furthest = e;
    }
    free(sorted);
    return status;
}

/* Reading tensors --------------------------------------------------------- */

static ln_status read_tensor(const source *src, const entry *e, uint64_t data_start,
                             unsigned char *scratch, ln_tensor *out)
{
    ln_tensor t = {0};
    ln_status status = ln_tensor_alloc(&t, e->ndim, e->shape);
    if (status) {
        char message[256];
        snprintf(message, sizeof message, "%s", ln_last_error());
        char name[LN_QUOTE_SIZE];
        return ln_fail(status, "%s: tensor %s: %s", src->label, quote_name(e, name), message);
    }

    float *data = ln_data(&t);
    uint64_t offset = data_start + e->begin;
    size_t element_size = (size_t)e->dtype->size;
    size_t chunk = e->dtype->kind == DTYPE_F32 ? READ_CHUNK_BYTES / 4
                                               : CONVERT_CHUNK_BYTES / element_size;
    for (int64_t done = 0; done < e->numel && !status;) {
        size_t n = (size_t)(e->numel - done) < chunk ? (size_t)(e->numel - done) : chunk;
        if (ln_interrupted()) {
            status = ln_fail(LN_EINTR, "interrupted");
            break;
        }
        if (e->dtype->kind == DTYPE_F32) {
            status = read_at(src, offset, data + done, n * 4);
        } else {
            status = read_at(src, offset, scratch, n * element_size);
            if (!status)
                convert(data + done, scratch, n, e->dtype->kind);
        }
        offset += n * element_size;
        done += (int64_t)n;
    }
    if (status) {
        ln_tensor_release(&t);
        return status;
    }
    *out = t;
    return LN_OK;
}

static char *copy_string(const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

void ln_safetensors_free(ln_safetensors *st)
{
    for (size_t i = 0; i < st->count; i++) {
        if (st->names)
            free(st->names[i]);
        if (st->tensors)
            ln_tensor_release(&st->tensors[i]);
    }
    for (size_t i = 0; i < st->metadata_count; i++) {
        if (st->metadata_keys)
            free(st->metadata_keys[i]);
        if (st->metadata_values)
            free(st->metadata_values[i]);
    }
    free(st->names);
    free(st->tensors);
    free(st->metadata_keys);
    free(st->metadata_values);
    memset(st, 0, sizeof *st);
}

static ln_status collect_metadata(const source *src, ln_safetensors *out,
                                  const ln_json *metadata)
{
    if (!metadata || metadata->count == 0)
        return LN_OK;
    out->metadata_keys = calloc(metadata->count, sizeof(char *));
    out->metadata_values = calloc(metadata->count, sizeof(char *));
    if (!out->metadata_keys || !out->metadata_values)
        return ln_fail(LN_ENOMEM, "%s: out of memory reading the metadata", src->label);
    out->metadata_count = metadata->count;
    for (size_t i = 0; i < metadata->count; i++) {
        const ln_json_member *m = &metadata->members[i];
        out->metadata_keys[i] = copy_string(m->key, m->key_length);
        out->metadata_values[i] = copy_string(m->value.string, m->value.length);
        if (!out->metadata_keys[i] || !out->metadata_values[i])
            return ln_fail(LN_ENOMEM, "%s: out of memory reading the metadata", src->label);
    }
    return LN_OK;
}

static ln_status read_tensors(const source *src, ln_safetensors *out, entry *entries,
                              size_t count, uint64_t data_start)
{
    out->names = calloc(count ? count : 1, sizeof(char *));
    out->tensors = calloc(count ? count : 1, sizeof(ln_tensor));
    if (!out->names || !out->tensors)
        return ln_fail(LN_ENOMEM, "%s: out of memory reading %zu tensors", src->label, count);
    out->count = count;

    unsigned char *scratch = malloc(CONVERT_CHUNK_BYTES);
    if (!scratch)
        return ln_fail(LN_ENOMEM, "%s: out of memory for the read buffer", src->label);
    ln_status status = LN_OK;
    for (size_t i = 0; i < count && !status; i++) {
        out->names[i] = copy_string(entries[i].member->key, entries[i].member->key_length);
        if (!out->names[i])
            status = ln_fail(LN_ENOMEM, "%s: out of memory reading the names", src->label);
        else
            status = read_tensor(src, &entries[i], data_start, scratch, &out->tensors[i]);
    }
    free(scratch);
    return status;
}

/* Checks the header (already parsed into root) and reads every tensor. */
static ln_status read_body(const source *src, ln_safetensors *out, const ln_json *root,
                           uint64_t data_start)
{
    if (root->type != LN_JSON_OBJECT)
        return ln_fail(LN_EIO, "%s: the header is %s, expected a JSON object",
                       src->label, json_type_name(root));

    const ln_json *metadata = ln_json_get(root, METADATA_KEY);
    if (metadata) {
        ln_status status = check_metadata(src, metadata);
        if (status)
            return status;
    }

    size_t count = root->count - (metadata != NULL);
    entry *entries = calloc(count ? count : 1, sizeof *entries);
    if (!entries)
        return ln_fail(LN_ENOMEM, "%s: out of memory checking %zu tensors", src->label, count);
    uint64_t data_size = src->size - data_start;
    ln_status status = LN_OK;
    size_t n = 0;
    for (size_t i = 0; i < root->count && !status; i++) {
        if (&root->members[i].value == metadata)
            continue;
        entries[n].member = &root->members[i];
        status = check_entry(src, &entries[n++], data_size);
    }
    if (!status)
        status = check_overlaps(src, entries, count);
    if (!status)
        status = collect_metadata(src, out, metadata);
    if (!status)
        status = read_tensors(src, out, entries, count, data_start);
    free(entries);
    return status;
}

static ln_status read_source(ln_safetensors *out, const source *src)
{
    memset(out, 0, sizeof *out);
    if (src->size < 8)
        return ln_fail(LN_EIO, "%s: the file is %llu bytes, too short for the 8-byte header "
                       "length", src->label, (unsigned long long)src->size);

    unsigned char length_bytes[8];
    ln_status status = read_at(src, 0, length_bytes, 8);
    if (status)
        return status;
    uint64_t header_length = 0;
    for (int i = 7; i >= 0; i--)
        header_length = header_length << 8 | length_bytes[i];
    if (header_length > LN_SAFETENSORS_MAX_HEADER)
        return ln_fail(LN_EIO, "%s: header length %llu is larger than the limit of %d bytes; "
                       "is this a safetensors file?", src->label,
                       (unsigned long long)header_length, LN_SAFETENSORS_MAX_HEADER);
    if (header_length > src->size - 8)
        return ln_fail(LN_EIO, "%s: header length %llu extends past the end of the file "
                       "(%llu bytes follow the length)", src->label,
                       (unsigned long long)header_length, (unsigned long long)(src->size - 8));

    char *header = malloc(header_length ? header_length : 1);
    if (!header)
        return ln_fail(LN_ENOMEM, "%s: out of memory for a %llu-byte header", src->label,
                       (unsigned long long)header_length);
    status = read_at(src, 8, header, header_length);
    ln_json_document doc;
    if (!status) {
        status = ln_json_parse(&doc, header, header_length, HEADER_MAX_DEPTH,
                               HEADER_MAX_ARRAY_LENGTH);
        if (status) {
            char message[384];
            snprintf(message, sizeof message, "%s", ln_last_error());
            status = ln_fail(status == LN_ENOMEM ? LN_ENOMEM : LN_EIO,
                             "%s: invalid JSON header %s", src->label, message);
        } else {
            status = read_body(src, out, &doc.root, 8 + header_length);
            ln_json_free(&doc);
        }
    }
    free(header);
    if (status)
        ln_safetensors_free(out);
    return status;
}

ln_status ln_safetensors_parse(ln_safetensors *out, const void *data, size_t size,
                               const char *label)
{
    source src = {label, -1, data, size};
    return read_source(out, &src);
}

ln_status ln_safetensors_read(ln_safetensors *out, const char *path)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ln_fail(LN_EIO, "%s: cannot open (%s)", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0) {
        int error = errno;
        close(fd);
        return ln_fail(LN_EIO, "%s: cannot read the file size (%s)", path, strerror(error));
    }
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        return ln_fail(LN_EIO, "%s: not a regular file", path);
    }
    source src = {path, fd, NULL, (uint64_t)info.st_size};
    ln_status status = read_source(out, &src);
    close(fd);
    return status;
}
