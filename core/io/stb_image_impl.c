/* Compiles stb_image; see stb_image_impl.h. */
#include "io/stb_image_impl.h"

#include "image.h"

/* The decoder reads from memory only, and only the formats lunet supports. */
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP

/* stb_image does not build cleanly under -Wall -Wextra; the unused-function
 * warnings come at the end of the file, so the pragmas stay in force. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image.h>

#include <string.h>

/* stbi_info_from_memory tries every format in turn and, when all fail,
 * reports "unknown image type", losing the reason of the format that the
 * file is. So the format is chosen by its signature here, and only its own
 * header parser runs.
 * NOTE: this calls stb_image's internal per-format functions, which exist
 * in stb_image 2.x (Debian's libstb-dev 0.0~git20220908). */
bool ln_stb_info(const unsigned char *data, int size, int *width, int *height,
                 const char **reason)
{
    static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    stbi__context context;
    stbi__start_mem(&context, data, size);
    int channels, ok;
    if (size >= 8 && memcmp(data, png_signature, 8) == 0) {
        ok = stbi__png_info(&context, width, height, &channels);
    } else if (size >= 2 && data[0] == 0xFF && data[1] == 0xD8) {
        ok = stbi__jpeg_info(&context, width, height, &channels);
    } else if (size >= 2 && data[0] == 'B' && data[1] == 'M') {
        ok = stbi__bmp_info(&context, width, height, &channels);
    } else {
        *reason = "not a PNG, JPEG or BMP file";
        return false;
    }
    if (!ok)
        *reason = stbi_failure_reason();
    return ok != 0;
}

bool ln_stb_decode(const unsigned char *data, int size, ln_decoded_image *image,
                   const char **reason)
{
    int channels;
    image->sixteen_bit = stbi_is_16_bit_from_memory(data, size) != 0;
    if (image->sixteen_bit)
        image->pixels = stbi_load_16_from_memory(data, size, &image->width, &image->height,
                                                 &channels, 3);
    else
        image->pixels = stbi_load_from_memory(data, size, &image->width, &image->height,
                                              &channels, 3);
    if (image->pixels)
        return true;
    *reason = stbi_failure_reason();
    return false;
}

void ln_stb_free(void *pixels)
{
    stbi_image_free(pixels);
}
