/* Error reporting for the lunet core.
 *
 * Core functions never abort or exit. A function that can fail returns an
 * ln_status; on failure it also stores a message, readable with
 * ln_last_error() until the next failure on the same thread. Messages speak
 * in shapes and values, never in 0-based dim numbers: a caller that exposes
 * dims to users validates them before calling the core. */
#ifndef LUNET_STATUS_H
#define LUNET_STATUS_H

typedef enum ln_status {
    LN_OK = 0,
    LN_EINVAL,    /* an argument is invalid: shape, value or option */
    LN_ENOMEM,    /* an allocation failed */
    LN_EIO,       /* a file could not be read or written, or is malformed */
    LN_EINTR      /* interrupted through ln_interrupt() */
} ln_status;

/* Returns the message of the last failure on this thread ("" if none). */
const char *ln_last_error(void);

/* Stores a printf-style message and returns status, so a failing path can
 * read `return ln_fail(LN_EINVAL, "...", ...);`. */
ln_status ln_fail(ln_status status, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
