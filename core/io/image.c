/* Image decoding and file reading; see image.h. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/stb_image_impl.h"

static ln_status corrupt(const char *label, const char *reason)
{
    return ln_fail(LN_EIO, "%s: corrupt or unsupported image (%s)", label,
                   reason ? reason : "unknown reason");
}

static uint32_t read_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* stb_image decodes a BMP whose pixel data is cut short as if the missing
 * bytes were zero, so a truncated BMP is caught here. For uncompressed
 * pixels (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS), each row takes
 * ceil(bits_per_pixel * width / 32) 4-byte words, and the rows start at the
 * offset that the file header gives. stb rejects the run-length
 * compressions. */
static ln_status check_bmp_length(const unsigned char *data, size_t size, const char *label)
{
    if (size < 26 || data[0] != 'B' || data[1] != 'M')
        return LN_OK;
    uint32_t offset = read_u32le(data + 10), header = read_u32le(data + 14);
    int64_t width, height, bits, compression = 0;
    if (header == 12) {
        width = data[18] | data[19] << 8;
        height = data[20] | data[21] << 8;
        bits = data[24] | data[25] << 8;
    } else {
        if (size < 34)
            return LN_OK;
        width = (int32_t)read_u32le(data + 18);
        height = (int32_t)read_u32le(data + 22);
        bits = data[28] | data[29] << 8;
        compression = read_u32le(data + 30);
    }
    if (compression != 0 && compression != 3 && compression != 6)
        return LN_OK;
    width = width < 0 ? -width : width;
    height = height < 0 ? -height : height;
    int64_t row_bytes = (bits * width + 31) / 32 * 4;
    int64_t needed = (int64_t)offset + row_bytes * height;
    if ((int64_t)size < needed)
        return ln_fail(LN_EIO, "%s: corrupt or unsupported image (truncated BMP: the pixels "
                       "need %lld bytes but the file has %zu)", label, (long long)needed, size);
    return LN_OK;
}

/* Two faults of Debian's stb_image (libstb-dev 0.0~git20220908) with
 * hostile JPEG Huffman tables are caught here before it runs:
 * - it builds a table from the 16 code counts of a DHT segment without
 *   checking that they add up to at most 256 symbols, and then writes past
 *   its 257-entry arrays;
 * - it decodes a scan with a table that no DHT segment defined, reading
 *   uninitialised memory as code lengths and indexing out of bounds.
 * The walk over the markers follows stb_image's. Bytes between segments
 * are skipped, and so are 0xFF fill bytes. Entropy-coded data ends at a
 * 0xFF that is not followed by 0x00 (a stuffed byte) or a restart marker. */
typedef struct jpeg_walk {
    bool defined[2][4];      /* Huffman tables seen: [DC or AC][id] */
    bool progressive;        /* the frame is SOF2 */
} jpeg_walk;

static ln_status check_dht(jpeg_walk *walk, const unsigned char *data, size_t size,
                           size_t pos, size_t length, const char *label)
{
    /* As in stb_image, tables follow each other while the segment length
     * leaves bytes, and bytes past the end read as 0. */
    long remaining = (long)length - 2;
    size_t table = pos + 2;
    while (remaining > 0 && table < size) {
        int symbols = 0;
        for (size_t i = table + 1; i < table + 17 && i < size; i++)
            symbols += data[i];
        if (symbols > 256)
            return ln_fail(LN_EIO, "%s: corrupt or unsupported image (a JPEG Huffman table "
                           "has %d symbols, more than 256)", label, symbols);
        int class = data[table] >> 4, id = data[table] & 15;
        if (class <= 1 && id <= 3)
            walk->defined[class][id] = true;
        table += 17 + (size_t)symbols;
        remaining -= 17 + symbols;
    }
    return LN_OK;
}

/* Checks that the tables a scan decodes with exist. A baseline scan uses
 * the DC and AC table of each component. A progressive scan uses the DC
 * tables for a first DC pass (Ss = 0, Ah = 0), none for a DC refinement,
 * and the AC tables otherwise. */
static ln_status check_sos(const jpeg_walk *walk, const unsigned char *data, size_t size,
                           size_t pos, const char *label)
{
    if (pos + 3 > size)
        return LN_OK;
    size_t components = data[pos + 2], end = pos + 3 + 2 * components;
    if (end + 3 > size)
        return LN_OK;
    int spectral_start = data[end], high_bit = data[end + 2] >> 4;
    bool uses_dc = !walk->progressive || (spectral_start == 0 && high_bit == 0);
    bool uses_ac = !walk->progressive || spectral_start > 0;
    for (size_t c = 0; c < components; c++) {
        int dc = data[pos + 4 + 2 * c] >> 4, ac = data[pos + 4 + 2 * c] & 15;
        bool missing = (uses_dc && dc <= 3 && !walk->defined[0][dc]) ||
                       (uses_ac && ac <= 3 && !walk->defined[1][ac]);
        if (missing)
            return ln_fail(LN_EIO, "%s: corrupt or unsupported image (a JPEG scan uses a "
                           "Huffman table that is not defined)", label);
    }
    return LN_OK;
}

/* The number of 8 x 8 blocks of all components of a frame, from its SOF
 * segment at pos (just past the marker): component c covers
 * ceil(X * Hc / Hmax) x ceil(Y * Vc / Vmax) pixels. 0 when the segment is
 * cut short or has a zero sampling factor, which stb_image rejects. */
static uint64_t jpeg_frame_blocks(const unsigned char *data, size_t size, size_t pos)
{
    if (pos + 8 > size)
        return 0;
    uint64_t height = (uint64_t)data[pos + 3] << 8 | data[pos + 4];
    uint64_t width = (uint64_t)data[pos + 5] << 8 | data[pos + 6];
    size_t components = data[pos + 7];
    if (pos + 8 + 3 * components > size)
        return 0;
    int h_max = 1, v_max = 1;
    for (size_t c = 0; c < components; c++) {
        int sampling = data[pos + 9 + 3 * c];
        if ((sampling >> 4) == 0 || (sampling & 15) == 0)
            return 0;
        h_max = (sampling >> 4) > h_max ? sampling >> 4 : h_max;
        v_max = (sampling & 15) > v_max ? sampling & 15 : v_max;
    }
    uint64_t blocks = 0;
    for (size_t c = 0; c < components; c++) {
        int sampling = data[pos + 9 + 3 * c];
        uint64_t w = (width * (uint64_t)(sampling >> 4) + h_max - 1) / h_max;
        uint64_t h = (height * (uint64_t)(sampling & 15) + v_max - 1) / v_max;
        blocks += (w + 7) / 8 * ((h + 7) / 8);
    }
    return blocks;
}

/* Walks the markers of a JPEG file; see jpeg_walk. It also catches a file
 * whose entropy-coded data is too short for its size: stb_image decodes
 * missing data as zeros, so a 600-byte file claiming 8000 x 8000 pixels
 * would decode to 768 MB of grey. Every block takes at least one bit (its
 * first DC code), so the scans must hold at least blocks / 8 bytes. */
static ln_status check_jpeg(const unsigned char *data, size_t size, const char *label)
{
    if (size < 2 || data[0] != 0xFF || data[1] != 0xD8)
        return LN_OK;
    jpeg_walk walk = {{{false}}, false};
    uint64_t blocks = 0, scan_bytes = 0;
    bool in_scan = false;
    size_t pos = 2;
    while (pos < size) {
        if (data[pos] != 0xFF) {
            scan_bytes += in_scan;
            pos++;
            continue;
        }
        while (pos < size && data[pos] == 0xFF)
            pos++;
        if (pos + 2 >= size)
            break;
        unsigned char marker = data[pos++];
        if (marker == 0xD9)
            break;
        bool no_length = marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7);
        if (no_length) {
            scan_bytes += in_scan ? 2 : 0;
            continue;
        }
        in_scan = false;
        size_t length = (size_t)data[pos] << 8 | data[pos + 1];
        ln_status status = LN_OK;
        if (marker == 0xC0 || marker == 0xC1 || marker == 0xC2) {
            walk.progressive = marker == 0xC2;
            blocks = jpeg_frame_blocks(data, size, pos);
        } else if (marker == 0xC4) {
            status = check_dht(&walk, data, size, pos, length, label);
        } else if (marker == 0xDA) {
            status = check_sos(&walk, data, size, pos, label);
            in_scan = true;
        }
        if (status)
            return status;
        pos += length;
    }
    if (scan_bytes * 8 < blocks)
        return ln_fail(LN_EIO, "%s: corrupt or unsupported image (the JPEG data is truncated: "
                       "%llu bytes of scans for %llu blocks need at least %llu)", label,
                       (unsigned long long)scan_bytes, (unsigned long long)blocks,
                       (unsigned long long)((blocks + 7) / 8));
    return LN_OK;
}

/* stb_image reserves memory for a PNG IDAT chunk from its length field
 * before it reads the chunk, so a 100-byte file could make it reserve 2 GB.
 * Each IDAT chunk must therefore fit in the file: 8 bytes of length and
 * type, the data, and a 4-byte CRC. */
static ln_status check_png_chunks(const unsigned char *data, size_t size, const char *label)
{
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size < 8 || memcmp(data, signature, 8) != 0)
        return LN_OK;
    size_t pos = 8;
    while (size - pos >= 8) {
        uint64_t length = (uint64_t)data[pos] << 24 | (uint64_t)data[pos + 1] << 16 |
                          (uint64_t)data[pos + 2] << 8 | data[pos + 3];
        bool idat = memcmp(data + pos + 4, "IDAT", 4) == 0;
        if (length + 12 > size - pos) {
            if (idat)
                return ln_fail(LN_EIO, "%s: corrupt or unsupported image (a PNG IDAT chunk "
                               "of %llu bytes extends past the end of the file)", label,
                               (unsigned long long)length);
            break;
        }
        pos += 12 + (size_t)length;
    }
    return LN_OK;
}

/* Splits interleaved RGB into three planes scaled to [0, 1]. */
static void planar_from_interleaved(float *out, const ln_decoded_image *image)
{
    int64_t plane = (int64_t)image->width * image->height;
    if (image->sixteen_bit) {
        const uint16_t *pixels = image->pixels;
        for (int64_t i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                out[c * plane + i] = (float)pixels[3 * i + c] / 65535.0f;
    } else {
        const uint8_t *pixels = image->pixels;
        for (int64_t i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                out[c * plane + i] = (float)pixels[3 * i + c] / 255.0f;
    }
}

ln_status ln_image_decode(ln_tensor *out, const void *data, size_t size, const char *label)
{
    if (size > INT_MAX)
        return ln_fail(LN_EIO, "%s: the file is %zu bytes; images above %d bytes are not "
                       "supported", label, size, INT_MAX);

    /* Check the claimed size before the decoder allocates for it. */
    ln_status status = check_jpeg(data, size, label);
    if (!status)
        status = check_png_chunks(data, size, label);
    if (status)
        return status;
    int width, height;
    const char *reason = NULL;
    if (!ln_stb_info(data, (int)size, &width, &height, &reason))
        return corrupt(label, reason);
    if (width <= 0 || height <= 0 || (int64_t)width * height > LN_IMAGE_MAX_PIXELS)
        return ln_fail(LN_EIO, "%s: the image is %d x %d pixels, more than the limit of %lld "
                       "pixels", label, width, height, (long long)LN_IMAGE_MAX_PIXELS);

    status = check_bmp_length(data, size, label);
    if (status)
        return status;

    ln_decoded_image image;
    if (!ln_stb_decode(data, (int)size, &image, &reason))
        return corrupt(label, reason);
    if (image.width != width || image.height != height) {
        ln_stb_free(image.pixels);
        return corrupt(label, "the header and the pixel data disagree about the size");
    }

    int64_t shape[3] = {3, height, width};
    ln_tensor t = {0};
    status = ln_tensor_alloc(&t, 3, shape);
    if (status) {
        char message[256];
        snprintf(message, sizeof message, "%s", ln_last_error());
        ln_stb_free(image.pixels);
        return ln_fail(status, "%s: %s", label, message);
    }
    planar_from_interleaved(ln_data(&t), &image);
    ln_stb_free(image.pixels);
    *out = t;
    return LN_OK;
}

/* Reads the whole file at path into a new buffer. */
static ln_status read_file(const char *path, unsigned char **data, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ln_fail(LN_EIO, "%s: cannot open (%s)", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        return ln_fail(LN_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)info.st_size > INT_MAX) {
        close(fd);
        return ln_fail(LN_EIO, "%s: the file is %lld bytes; images above %d bytes are not "
                       "supported", path, (long long)info.st_size, INT_MAX);
    }

    size_t total = (size_t)info.st_size, done = 0;
    unsigned char *buffer = malloc(total ? total : 1);
    if (!buffer) {
        close(fd);
        return ln_fail(LN_ENOMEM, "%s: out of memory for %zu bytes", path, total);
    }
    while (done < total) {
        ssize_t got = read(fd, buffer + done, total - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int error = errno;
            free(buffer);
            close(fd);
            return got < 0 ? ln_fail(LN_EIO, "%s: read failed (%s)", path, strerror(error))
                           : ln_fail(LN_EIO, "%s: the file shrank while being read", path);
        }
        done += (size_t)got;
    }
    close(fd);
    *data = buffer;
    *size = total;
    return LN_OK;
}

ln_status ln_image_load(ln_tensor *out, const char *path)
{
    unsigned char *data = NULL;
    size_t size = 0;
    ln_status status = read_file(path, &data, &size);
    if (status)
        return status;
    status = ln_image_decode(out, data, size, path);
    free(data);
    return status;
}
