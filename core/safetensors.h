/* safetensors files: reading and writing named tensors.
 *
 * The format: an 8-byte little-endian unsigned header length N, N bytes of
 * UTF-8 JSON, then the data section. The JSON object maps each tensor name
 * to {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, with
 * byte offsets relative to the start of the data section, and may hold a
 * "__metadata__" object of string values. Tensor data is little-endian and
 * row-major.
 *
 * Reading converts F32, F16, BF16 and F64 to float32 tensors (F64 rounds to
 * nearest; F16 subnormals, infinities and NaN convert exactly). The reader
 * trusts nothing in the file: every fault yields LN_EIO with a message that
 * starts with the file's label and names the fault, e.g. "model.safetensors:
 * tensor 'w' data_offsets [0, 400] extend past the end of the data section
 * (240 bytes)". Names and metadata strings containing a NUL byte (\u0000) are
 * rejected, because they are returned as C strings.
 *
 * Writing is atomic. The data goes to a temporary file in the target's
 * folder, which is synced and then renamed over the target, so a failed or
 * killed save leaves any existing file as it was. A killed save may leave
 * the temporary "PATH.tmp.XXXXXX" behind. */
#ifndef LUNET_SAFETENSORS_H
#define LUNET_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

/* Headers above this size are rejected before they are read. */
#define LN_SAFETENSORS_MAX_HEADER 100000000

/* The tensors and metadata of one file. Names, keys and values are
 * NUL-terminated strings owned by the struct. */
typedef struct ln_safetensors {
    size_t count;
    char **names;              /* in header order */
    ln_tensor *tensors;        /* new; contiguous float32 */
    size_t metadata_count;
    char **metadata_keys;      /* in header order */
    char **metadata_values;
} ln_safetensors;

/* Reads the file at path into out (zeroed first). On failure out owns
 * nothing. */
ln_status ln_safetensors_read(ln_safetensors *out, const char *path);

/* Reads a file already in memory; label names it in messages. The tensors
 * are copies, so data may be freed afterwards. */
ln_status ln_safetensors_parse(ln_safetensors *out, const void *data, size_t size,
                               const char *label);

/* Releases every tensor and string of st and zeroes it; safe to repeat. A
 * caller may take a tensor first by copying it and zeroing its slot. */
void ln_safetensors_free(ln_safetensors *st);

/* Writes count tensors as F32 under the given names, plus metadata_count
 * string pairs as "__metadata__" (none when metadata_count is 0). Tensors
 * may be strided; they are written row-major. Names are written in sorted
 * order (byte-wise), so the same content gives the same file. Fails with
 * LN_EINVAL, before touching any file, on an empty, duplicate, reserved
 * ("__metadata__") or non-UTF-8 name, or a non-UTF-8 metadata string; with
 * LN_EIO when the file cannot be written, in which case the target is left
 * as it was. */
ln_status ln_safetensors_write(const char *path, size_t count, const char *const *names,
                               const ln_tensor *const *tensors, size_t metadata_count,
                               const char *const *metadata_keys,
                               const char *const *metadata_values);

#endif
