/* libFuzzer target: image decoding (PNG, JPEG, BMP through stb_image) from
 * memory. The fuzz build lowers LN_IMAGE_MAX_PIXELS, so a valid header
 * claiming a large image cannot exhaust the fuzzer's memory limit. */
#include <stddef.h>
#include <stdint.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ln_tensor t = {0};
    if (ln_image_decode(&t, data, size, "fuzz.image") == LN_OK) {
        volatile float sink = 0;
        for (int64_t i = 0; i < ln_numel(&t); i++)
            sink += ln_data(&t)[i];
        (void)sink;
        ln_tensor_release(&t);
    }
    return 0;
}
