/* A small strict JSON parser (RFC 8259) for file headers; internal to the
 * core's readers.
 *
 * The parser accepts only valid JSON: no trailing commas, comments, single
 * quotes, leading zeros or data after the value. Strings must be valid UTF-8
 * (no overlong forms, no surrogates), escapes must be valid (a \u surrogate
 * must come in a high-low pair), control characters must be escaped, and an
 * object must not repeat a key. Nesting is limited by max_depth, so hostile
 * input cannot exhaust the stack.
 *
 * The whole tree lives in one arena owned by the document: ln_json_free()
 * releases it at once. Strings are decoded and NUL-terminated, but may also
 * contain NUL bytes (from \u0000), so use their length. */
#ifndef LUNET_IO_JSON_H
#define LUNET_IO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum ln_json_type {
    LN_JSON_NULL,
    LN_JSON_BOOL,
    LN_JSON_NUMBER,
    LN_JSON_STRING,
    LN_JSON_ARRAY,
    LN_JSON_OBJECT
} ln_json_type;

typedef struct ln_json ln_json;
typedef struct ln_json_member ln_json_member;

/* Fields in a union are valid only for their type, so read type first. */
struct ln_json {
    ln_json_type type;
    bool boolean;                    /* LN_JSON_BOOL */
    /* LN_JSON_NUMBER: is_integer is set for a number written without
     * fraction or exponent whose value fits int64_t; other numbers are
     * checked for syntax only and carry no value, because no reader needs
     * them. */
    bool is_integer;
    union {
        int64_t integer;             /* LN_JSON_NUMBER with is_integer */
        const char *string;          /* LN_JSON_STRING: decoded, NUL-terminated */
        ln_json *items;              /* LN_JSON_ARRAY, in order */
        ln_json_member *members;     /* LN_JSON_OBJECT, in input order */
    };
    union {
        size_t length;               /* LN_JSON_STRING, in bytes */
        size_t count;                /* LN_JSON_ARRAY and LN_JSON_OBJECT */
    };
};

struct ln_json_member {
    const char *key;                 /* decoded, NUL-terminated */
    size_t key_length;
    ln_json value;
};

typedef struct ln_json_document {
    ln_json root;
    struct ln_json_block *blocks;   /* the arena */
} ln_json_document;

/* Parses length bytes of text (no terminator needed) into doc. Arrays and
 * objects may nest max_depth levels, and an array may hold at most
 * max_array_length elements (objects have no such limit). On failure
 * returns LN_EINVAL (LN_ENOMEM when memory runs out) with a message like
 * "at byte 17: expected ':' after an object key", and doc owns nothing.
 * The tree takes about 24 bytes per value and 40 per object member, plus
 * the decoded strings. */
ln_status ln_json_parse(ln_json_document *doc, const char *text, size_t length, int max_depth,
                        size_t max_array_length);

/* Releases the document's memory; safe on a zeroed or failed document. */
void ln_json_free(ln_json_document *doc);

/* Returns the value of key in an object, or NULL. */
const ln_json *ln_json_get(const ln_json *object, const char *key);

/* Checks that n bytes are valid UTF-8 (shortest forms, no surrogates, at
 * most U+10FFFF); returns the offset of the first invalid byte, or n. */
size_t ln_utf8_check(const unsigned char *s, size_t n);

/* Writes text in single quotes into out for an error message: bytes below
 * 0x20, 0x7F, backslash, quote and bytes that are not valid UTF-8 become
 * \xNN, valid UTF-8 characters stay as they are, and text past
 * LN_QUOTE_BYTES bytes becomes "...". out needs LN_QUOTE_SIZE bytes. */
#define LN_QUOTE_BYTES 64
#define LN_QUOTE_SIZE (LN_QUOTE_BYTES * 4 + 6)
void ln_quote(char *out, const char *text, size_t length);

#endif
