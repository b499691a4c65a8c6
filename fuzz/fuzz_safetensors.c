/* libFuzzer target: the safetensors reader on an in-memory file. */
#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ln_safetensors st;
    if (ln_safetensors_parse(&st, data, size, "fuzz.safetensors") == LN_OK) {
        /* Touch every element, so a tensor shorter than its shape shows up
         * as a read past its storage. */
        volatile float sink = 0;
        for (size_t i = 0; i < st.count; i++) {
            int64_t n = ln_numel(&st.tensors[i]);
            const float *values = ln_data(&st.tensors[i]);
            for (int64_t k = 0; k < n; k++)
                sink += values[k];
        }
        (void)sink;
    }
    ln_safetensors_free(&st);
    return 0;
}
