/* Strict JSON parsing into an arena-allocated tree; see json.h. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arena ------------------------------------------------------------------- */

typedef struct ln_json_block {
    struct ln_json_block *next;
    size_t used, size;
    max_align_t data[];
} ln_json_block;

#define ARENA_BLOCK_BYTES 65536

static void *arena_alloc(ln_json_document *doc, size_t bytes)
{
    bytes = (bytes + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    ln_json_block *block = doc->blocks;
    if (!block || block->size - block->used < bytes) {
        size_t size = bytes > ARENA_BLOCK_BYTES ? bytes : ARENA_BLOCK_BYTES;
        block = malloc(sizeof *block + size);
        if (!block)
            return NULL;
        block->used = 0;
        block->size = size;
        block->next = doc->blocks;
        doc->blocks = block;
    }
    void *p = (char *)block->data + block->used;
    block->used += bytes;
    return p;
}

void ln_json_free(ln_json_document *doc)
{
    ln_json_block *block = doc->blocks;
    while (block) {
        ln_json_block *next = block->next;
        free(block);
        block = next;
    }
    doc->blocks = NULL;
    memset(&doc->root, 0, sizeof doc->root);
}

/* UTF-8 ------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. The
 * ranges follow the table of well-formed byte sequences in the Unicode
 * standard (chapter 3, table 3-7). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;

    size_t length;
    unsigned char low = 0x80, high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        length = 3;
        if (c == 0xE0)
            low = 0xA0;          /* no overlong forms */
        if (c == 0xED)
            high = 0x9F;         /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        length = 4;
        if (c == 0xF0)
            low = 0x90;
        if (c == 0xF4)
            high = 0x8F;         /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (n < length || s[1] < low || s[1] > high)
        return 0;
    for (size_t i = 2; i < length; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return length;
}

size_t ln_utf8_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t length = utf8_sequence(s + i, n - i);
        if (length == 0)
            return i;
        i += length;
    }
    return n;
}

static size_t utf8_encode(uint32_t code, char *out)
{
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xC0 | code >> 6);
        out[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | code >> 12);
        out[1] = (char)(0x80 | (code >> 6 & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | code >> 18);
    out[1] = (char)(0x80 | (code >> 12 & 0x3F));
    out[2] = (char)(0x80 | (code >> 6 & 0x3F));
    out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

void ln_quote(char *out, const char *text, size_t length)
{
    /* Worst case: 2 quotes, LN_QUOTE_BYTES escapes of 4 bytes, "..." and NUL. */
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0;
    out[n++] = '\'';
    for (size_t i = 0; i < length;) {
        if (i >= LN_QUOTE_BYTES) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        size_t sequence = utf8_sequence(s + i, length - i);
        if (sequence > 1) {
            memcpy(out + n, s + i, sequence);
            n += sequence;
            i += sequence;
            continue;
        }
        if (sequence == 0 || s[i] < 0x20 || s[i] == 0x7F || s[i] == '\\' || s[i] == '\'')
            n += (size_t)snprintf(out + n, 5, "\\x%02X", s[i]);
        else
            out[n++] = (char)s[i];
        i++;
    }
    out[n++] = '\'';
    out[n] = '\0';
}

/* Parser ------------------------------------------------------------------ */

typedef struct parser {
    const unsigned char *text;
    size_t length;
    size_t pos;
    int max_depth;
    size_t max_array_length;
    ln_json_document *doc;
} parser;

static ln_status syntax_error(const parser *p, const char *what)
{
    if (p->pos >= p->length)
        return ln_fail(LN_EINVAL, "at byte %zu: unexpected end of text, %s", p->pos, what);
    return ln_fail(LN_EINVAL, "at byte %zu: %s", p->pos, what);
}

static ln_status out_of_memory(void)
{
    return ln_fail(LN_ENOMEM, "out of memory while parsing JSON");
}

static void skip_whitespace(parser *p)
{
    while (p->pos < p->length) {
        unsigned char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static bool consume_literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->length - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return false;
    p->pos += n;
    return true;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \u escape at p->pos. */
static ln_status parse_hex4(parser *p, uint32_t *code)
{
    if (p->length - p->pos < 4)
        return syntax_error(p, "expected 4 hex digits after \\u");
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_digit(p->text[p->pos + i]);
        if (digit < 0) {
            p->pos += i;
            return syntax_error(p, "invalid hex digit in a \\u escape");
        }
        value = value << 4 | (uint32_t)digit;
    }
    p->pos += 4;
    *code = value;
    return LN_OK;
}

static ln_status parse_unicode_escape(parser *p, uint32_t *code)
{
    /* p->pos is just past "\u" */
    ln_status status = parse_hex4(p, code);
    if (status)
        return status;
    if (*code >= 0xDC00 && *code <= 0xDFFF) {
        p->pos -= 6;
        return syntax_error(p, "a low surrogate \\u escape without a high surrogate before it");
    }
    if (*code < 0xD800 || *code > 0xDBFF)
        return LN_OK;

    size_t escape_start = p->pos - 6;
    uint32_t low;
    if (!consume_literal(p, "\\u")) {
        p->pos = escape_start;
        return syntax_error(p, "a high surrogate \\u escape without a low surrogate after it");
    }
    status = parse_hex4(p, &low);
    if (status)
        return status;
    if (low < 0xDC00 || low > 0xDFFF) {
        p->pos = escape_start;
        return syntax_error(p, "a high surrogate \\u escape without a low surrogate after it");
    }
    *code = 0x10000 + ((*code - 0xD800) << 10) + (low - 0xDC00);
    return LN_OK;
}

/* Parses a string at p->pos (the opening quote) into arena memory. */
static ln_status parse_string(parser *p, const char **out, size_t *out_length)
{
    p->pos++;

    /* The decoded text is never longer than the source text. */
    size_t end = p->pos;
    while (end < p->length && p->text[end] != '"')
        end += p->text[end] == '\\' ? 2 : 1;
    size_t capacity = (end < p->length ? end : p->length) - p->pos + 1;
    char *buffer = arena_alloc(p->doc, capacity);
    if (!buffer)
        return out_of_memory();

    size_t n = 0;
    for (;;) {
        if (p->pos >= p->length)
            return syntax_error(p, "a string is not closed");
        unsigned char c = p->text[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return syntax_error(p, "a control character in a string must be escaped");
        if (c != '\\') {
            size_t length = utf8_sequence(p->text + p->pos, p->length - p->pos);
            if (length == 0)
                return syntax_error(p, "invalid UTF-8 in a string");
            memcpy(buffer + n, p->text + p->pos, length);
            n += length;
            p->pos += length;
            continue;
        }

        p->pos++;
        if (p->pos >= p->length)
            return syntax_error(p, "a string is not closed");
        unsigned char e = p->text[p->pos++];
        uint32_t code;
        switch (e) {
        case '"': buffer[n++] = '"'; break;
        case '\\': buffer[n++] = '\\'; break;
        case '/': buffer[n++] = '/'; break;
        case 'b': buffer[n++] = '\b'; break;
        case 'f': buffer[n++] = '\f'; break;
        case 'n': buffer[n++] = '\n'; break;
        case 'r': buffer[n++] = '\r'; break;
        case 't': buffer[n++] = '\t'; break;
        case 'u': {
            ln_status status = parse_unicode_escape(p, &code);
            if (status)
                return status;
            /* The 6 (or 12) escape bytes encode to at most 3 (or 4). */
            n += utf8_encode(code, buffer + n);
            break;
        }
        default:
            p->pos--;
            return syntax_error(p, "invalid escape in a string (expected one of \\\" \\\\ \\/ "
                                   "\\b \\f \\n \\r \\t \\u)");
        }
    }
    buffer[n] = '\0';
    *out = buffer;
    *out_length = n;
    return LN_OK;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static ln_status parse_number(parser *p, ln_json *value)
{
    bool negative = false;
    if (p->text[p->pos] == '-') {
        negative = true;
        p->pos++;
    }
    if (p->pos >= p->length || !is_digit(p->text[p->pos]))
        return syntax_error(p, "expected a digit in a number");

    /* Accumulate the magnitude as a negative number, whose range includes
     * INT64_MIN; overflow leaves is_integer unset. */
    bool fits = true;
    int64_t magnitude = 0;
    if (p->text[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->length && is_digit(p->text[p->pos]))
            return syntax_error(p, "a number must not have a leading zero");
    } else {
        while (p->pos < p->length && is_digit(p->text[p->pos])) {
            int digit = p->text[p->pos++] - '0';
            if (magnitude < (INT64_MIN + digit) / 10)
                fits = false;
            else
                magnitude = magnitude * 10 - digit;
        }
    }

    bool integral = true;
    if (p->pos < p->length && p->text[p->pos] == '.') {
        integral = false;
        p->pos++;
        if (p->pos >= p->length || !is_digit(p->text[p->pos]))
            return syntax_error(p, "expected a digit after the decimal point");
        while (p->pos < p->length && is_digit(p->text[p->pos]))
            p->pos++;
    }
    if (p->pos < p->length && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
        integral = false;
        p->pos++;
        if (p->pos < p->length && (p->text[p->pos] == '+' || p->text[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->length || !is_digit(p->text[p->pos]))
            return syntax_error(p, "expected a digit in the exponent");
        while (p->pos < p->length && is_digit(p->text[p->pos]))
            p->pos++;
    }

    value->type = LN_JSON_NUMBER;
    if (integral && fits && (negative || magnitude != INT64_MIN)) {
        value->is_integer = true;
        value->integer = negative ? magnitude : -magnitude;
    }
    return LN_OK;
}

static ln_status parse_value(parser *p, ln_json *value, int depth);

/* A growable buffer for the children of one array or object. It is an
 * arena block itself, so the document adopts it once complete instead of
 * copying it: large vectors grow by realloc, which glibc does in place for
 * big blocks (mremap), so the peak stays near the final size. */
typedef struct vector {
    ln_json_block *block;
    size_t count, capacity, item_size;
} vector;

static void *vector_push(vector *v)
{
    if (v->count == v->capacity) {
        size_t capacity = v->capacity ? v->capacity * 2 : 4;
        ln_json_block *block = realloc(v->block, sizeof *block + capacity * v->item_size);
        if (!block)
            return NULL;
        v->block = block;
        v->capacity = capacity;
    }
    void *item = (char *)v->block->data + v->count * v->item_size;
    memset(item, 0, v->item_size);
    v->count++;
    return item;
}

/* Hands the vector's block to the document and stores its items in *out.
 * The block goes second in the list, so the arena keeps filling its
 * current block. */
static void vector_adopt(parser *p, vector *v, void **out)
{
    *out = NULL;
    if (!v->block)
        return;
    if (v->count == 0) {
        free(v->block);
        v->block = NULL;
        return;
    }
    ln_json_block *block = v->block;
    v->block = NULL;
    block->used = block->size = 0;
    ln_json_document *doc = p->doc;
    if (doc->blocks) {
        block->next = doc->blocks->next;
        doc->blocks->next = block;
    } else {
        block->next = NULL;
        doc->blocks = block;
    }
    *out = block->data;
}

static ln_status enter(parser *p, int depth)
{
    if (depth >= p->max_depth)
        return ln_fail(LN_EINVAL, "at byte %zu: arrays and objects nest deeper than %d levels",
                       p->pos, p->max_depth);
    p->pos++;
    skip_whitespace(p);
    return LN_OK;
}

static ln_status parse_array(parser *p, ln_json *value, int depth)
{
    ln_status status = enter(p, depth);
    if (status)
        return status;
    vector items = {NULL, 0, 0, sizeof(ln_json)};
    if (p->pos < p->length && p->text[p->pos] == ']') {
        p->pos++;
    } else {
        for (;;) {
            if (items.count == p->max_array_length) {
                status = ln_fail(LN_EINVAL, "at byte %zu: an array has more than %zu elements",
                                 p->pos, p->max_array_length);
                break;
            }
            ln_json *item = vector_push(&items);
            if (!item) {
                status = out_of_memory();
                break;
            }
            status = parse_value(p, item, depth + 1);
            if (status)
                break;
            skip_whitespace(p);
            if (p->pos < p->length && p->text[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->length && p->text[p->pos] == ']') {
                p->pos++;
                break;
            }
            status = syntax_error(p, "expected ',' or ']' after an array element");
            break;
        }
    }
    if (!status) {
        value->type = LN_JSON_ARRAY;
        value->count = items.count;
        vector_adopt(p, &items, (void **)&value->items);
    }
    free(items.block);
    return status;
}

static int compare_members(const void *a, const void *b)
{
    const ln_json_member *x = *(const ln_json_member *const *)a;
    const ln_json_member *y = *(const ln_json_member *const *)b;
    size_t n = x->key_length < y->key_length ? x->key_length : y->key_length;
    int order = memcmp(x->key, y->key, n);
    if (order)
        return order;
    return (x->key_length > y->key_length) - (x->key_length < y->key_length);
}

/* Sorts pointers to the members so that equal keys become neighbours:
 * O(n log n) even for a header with a million keys. */
static ln_status check_duplicates(const ln_json_member *members, size_t count, size_t pos)
{
    if (count < 2)
        return LN_OK;
    const ln_json_member **sorted = malloc(count * sizeof *sorted);
    if (!sorted)
        return out_of_memory();
    for (size_t i = 0; i < count; i++)
        sorted[i] = &members[i];
    qsort(sorted, count, sizeof *sorted, compare_members);

    ln_status status = LN_OK;
    for (size_t i = 1; i < count; i++) {
        if (compare_members(&sorted[i - 1], &sorted[i]) == 0) {
            char key[LN_QUOTE_SIZE];
            ln_quote(key, sorted[i]->key, sorted[i]->key_length);
            status = ln_fail(LN_EINVAL, "at byte %zu: the object repeats the key %s", pos, key);
            break;
        }
    }
    free(sorted);
    return status;
}

static ln_status parse_object(parser *p, ln_json *value, int depth)
{
    size_t start = p->pos;
    ln_status status = enter(p, depth);
    if (status)
        return status;
    vector members = {NULL, 0, 0, sizeof(ln_json_member)};
    if (p->pos < p->length && p->text[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            if (p->pos >= p->length || p->text[p->pos] != '"') {
                status = syntax_error(p, "expected a string as an object key");
                break;
            }
            ln_json_member *member = vector_push(&members);
            if (!member) {
                status = out_of_memory();
                break;
            }
            status = parse_string(p, &member->key, &member->key_length);
            if (status)
                break;
            skip_whitespace(p);
            if (p->pos >= p->length || p->text[p->pos] != ':') {
                status = syntax_error(p, "expected ':' after an object key");
                break;
            }
            p->pos++;
            status = parse_value(p, &member->value, depth + 1);
            if (status)
                break;
            skip_whitespace(p);
            if (p->pos < p->length && p->text[p->pos] == ',') {
                p->pos++;
                skip_whitespace(p);
                continue;
            }
            if (p->pos < p->length && p->text[p->pos] == '}') {
                p->pos++;
                break;
            }
            status = syntax_error(p, "expected ',' or '}' after an object member");
            break;
        }
    }
    if (!status && members.block)
        status = check_duplicates((const ln_json_member *)members.block->data, members.count,
                                  start);
    if (!status) {
        value->type = LN_JSON_OBJECT;
        value->count = members.count;
        vector_adopt(p, &members, (void **)&value->members);
    }
    free(members.block);
    return status;
}

static ln_status parse_value(parser *p, ln_json *value, int depth)
{
    memset(value, 0, sizeof *value);
    skip_whitespace(p);
    if (p->pos >= p->length)
        return syntax_error(p, "expected a value");

    switch (p->text[p->pos]) {
    case '{':
        return parse_object(p, value, depth);
    case '[':
        return parse_array(p, value, depth);
    case '"':
        value->type = LN_JSON_STRING;
        return parse_string(p, &value->string, &value->length);
    case 't':
    case 'f':
    case 'n':
        if (consume_literal(p, "true")) {
            value->type = LN_JSON_BOOL;
            value->boolean = true;
        } else if (consume_literal(p, "false")) {
            value->type = LN_JSON_BOOL;
        } else if (consume_literal(p, "null")) {
            value->type = LN_JSON_NULL;
        } else {
            return syntax_error(p, "invalid literal (expected true, false or null)");
        }
        return LN_OK;
    default:
        if (p->text[p->pos] == '-' || is_digit(p->text[p->pos]))
            return parse_number(p, value);
        return syntax_error(p, "expected a value");
    }
}

ln_status ln_json_parse(ln_json_document *doc, const char *text, size_t length, int max_depth,
                        size_t max_array_length)
{
    memset(doc, 0, sizeof *doc);
    parser p = {(const unsigned char *)text, length, 0, max_depth, max_array_length, doc};
    ln_status status = parse_value(&p, &doc->root, 0);
    if (!status) {
        skip_whitespace(&p);
        if (p.pos < p.length)
            status = syntax_error(&p, "unexpected data after the JSON value");
    }
    if (status)
        ln_json_free(doc);
    return status;
}

const ln_json *ln_json_get(const ln_json *object, const char *key)
{
    if (object->type != LN_JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < object->count; i++) {
        const ln_json_member *m = &object->members[i];
        if (m->key_length == n && memcmp(m->key, key, n) == 0)
            return &m->value;
    }
    return NULL;
}
