/* libFuzzer target: the strict JSON parser, and message quoting of every
 * string it returns. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/json.h"

static void walk(const ln_json *value)
{
    char quoted[LN_QUOTE_SIZE];
    switch (value->type) {
    case LN_JSON_STRING:
        ln_quote(quoted, value->string, value->length);
        /* Decoded strings are valid UTF-8 and NUL-terminated. */
        if (ln_utf8_check((const unsigned char *)value->string, value->length) !=
                value->length ||
            value->string[value->length] != '\0')
            __builtin_trap();
        break;
    case LN_JSON_ARRAY:
        for (size_t i = 0; i < value->count; i++)
            walk(&value->items[i]);
        break;
    case LN_JSON_OBJECT:
        for (size_t i = 0; i < value->count; i++) {
            ln_quote(quoted, value->members[i].key, value->members[i].key_length);
            walk(&value->members[i].value);
        }
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ln_json_document doc;
    if (ln_json_parse(&doc, (const char *)data, size, 64, 1000) == LN_OK) {
        walk(&doc.root);
        ln_json_free(&doc);
    }
    return 0;
}
