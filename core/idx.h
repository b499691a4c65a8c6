/* IDX files: the format of the MNIST and Fashion-MNIST data sets.
 *
 * An IDX file starts with a 4-byte magic number: two zero bytes, a data type
 * (0x08 for unsigned bytes) and the number of dims; then each dim as a
 * big-endian 32-bit size; then the elements, row-major. Fashion-MNIST's
 * image files are 0x00000803 (N x 28 x 28) and its label files 0x00000801
 * (N). The files usually come gzip-compressed; zlib reads compressed and
 * plain files alike. */
#ifndef LUNET_IDX_H
#define LUNET_IDX_H

#include "tensor.h"

/* new: reads the IDX file of unsigned bytes at path into a float tensor of
 * the file's dims, each byte b becoming b * scale + shift (scale 1 and shift
 * 0 give the raw values 0..255). Fails with LN_EIO and a message that starts
 * with the path and names the fault: a missing file, a bad magic number, a
 * data type other than unsigned bytes, 0 or more than LN_MAX_DIMS dims,
 * dims whose product overflows, data that ends early or goes on after the
 * last element, or a corrupt gzip stream. Memory grows with the data
 * actually read, so a header that claims huge dims cannot make the reader
 * allocate more than the file holds. */
ln_status ln_idx_read(ln_tensor *out, const char *path, float scale, float shift);

#endif
