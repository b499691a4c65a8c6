/* The one translation unit that compiles Debian's stb_image, restricted to
 * PNG, JPEG and BMP. Its functions are static (STB_IMAGE_STATIC), so they
 * cannot clash with another copy of stb_image in the same process; this
 * wrapper is the only way in. */
#ifndef LUNET_IO_STB_IMAGE_IMPL_H
#define LUNET_IO_STB_IMAGE_IMPL_H

#include <stdbool.h>

typedef struct ln_decoded_image {
    int width, height;
    bool sixteen_bit;        /* pixels are uint16_t rather than uint8_t */
    void *pixels;            /* height x width x 3 (RGB), row-major */
} ln_decoded_image;

/* Reads the dimensions from the header without decoding the pixels; returns
 * false and sets *reason when the header is invalid or the format
 * unsupported. */
bool ln_stb_info(const unsigned char *data, int size, int *width, int *height,
                 const char **reason);

/* Decodes to RGB (grey repeated, alpha dropped); returns false and sets
 * *reason on failure. Release the pixels with ln_stb_free. */
bool ln_stb_decode(const unsigned char *data, int size, ln_decoded_image *image,
                   const char **reason);

void ln_stb_free(void *pixels);

#endif
