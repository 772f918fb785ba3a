/*
 * Growable byte buffer with a mandatory size cap (after curl's dynbuf).
 * The contents are always NUL-terminated so text can be used directly.
 * Fields are touched only through these functions.
 * Growing moves the contents to a new block and wipes the old one before freeing it (never
 * realloc), so cr_buf_free_secret leaves no copy of a secret behind, however the buffer grew.
 */
#ifndef CR_BUF_H
#define CR_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct cr_buf {
	char *data;   /* NUL-terminated; NULL until the first append */
	size_t len;   /* bytes used, without the terminator */
	size_t alloc; /* bytes allocated */
	size_t cap;   /* largest len allowed */
};

/* Prepares an empty buffer that may grow to cap bytes. Allocates nothing. */
void cr_buf_init(struct cr_buf *b, size_t cap);
/* Frees the contents (wiping nothing; see cr_buf_free_secret). */
void cr_buf_free(struct cr_buf *b);
/* Wipes, then frees: for buffers that held secrets. */
void cr_buf_free_secret(struct cr_buf *b);
/* Empties the buffer, keeping its memory. */
void cr_buf_reset(struct cr_buf *b);
/* Appends n bytes; CR_ERR_TOOBIG past the cap, CR_ERR_NOMEM. */
enum cr_err cr_buf_add(struct cr_buf *b, const void *p, size_t n);
enum cr_err cr_buf_adds(struct cr_buf *b, const char *s);
enum cr_err cr_buf_printf(struct cr_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum cr_err cr_buf_vprintf(struct cr_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Returns the contents ("" when empty); valid until the next change. */
const char *cr_buf_str(const struct cr_buf *b);
/* Hands the contents to the caller (free() them); the buffer is left empty. */
char *cr_buf_take(struct cr_buf *b);

/* Growable arrays: makes room in the array *pv (a pointer to a T *) of elem-sized items, *alloc
   of them allocated and n used, for one more (doubling from 64). CR_ERR_NOMEM. */
enum cr_err cr_grow(void *pv, size_t *alloc, size_t n, size_t elem);

#endif
