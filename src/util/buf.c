/* Capped growable buffer; see buf.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"

void
cr_buf_init(struct cr_buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void
cr_buf_free(struct cr_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

void
cr_buf_free_secret(struct cr_buf *b)
{
	if (b->data != NULL)
		sodium_memzero(b->data, b->alloc);
	cr_buf_free(b);
}

void
cr_buf_reset(struct cr_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static enum cr_err
reserve(struct cr_buf *b, size_t n)
{
	size_t need, na;
	char *p;

	if (n > b->cap || b->len > b->cap - n)
		return CR_ERR_TOOBIG;
	need = b->len + n + 1;
	if (need <= b->alloc)
		return CR_OK;
	na = b->alloc ? b->alloc : 64;
	while (na < need)
		na = na > SIZE_MAX / 2 ? need : na * 2;
	/* Never realloc: it would free the old block unwiped, and any buffer may hold a secret
	   (cr_buf_free_secret can only wipe the block it sees). So copy, wipe and free the old one. */
	if ((p = malloc(na)) == NULL)
		return CR_ERR_NOMEM;
	if (b->data != NULL) {
		memcpy(p, b->data, b->len + 1);
		sodium_memzero(b->data, b->alloc);
		free(b->data);
	}
	b->data = p;
	b->alloc = na;
	return CR_OK;
}

enum cr_err
cr_buf_add(struct cr_buf *b, const void *p, size_t n)
{
	enum cr_err err;

	if ((err = reserve(b, n)) != CR_OK)
		return err;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CR_OK;
}

enum cr_err
cr_buf_adds(struct cr_buf *b, const char *s)
{
	return cr_buf_add(b, s, strlen(s));
}

enum cr_err
cr_buf_vprintf(struct cr_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	enum cr_err err;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return CR_ERR_INVALID;
	if ((err = reserve(b, (size_t)n)) != CR_OK)
		return err;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return CR_OK;
}

enum cr_err
cr_buf_printf(struct cr_buf *b, const char *fmt, ...)
{
	va_list ap;
	enum cr_err err;

	va_start(ap, fmt);
	err = cr_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return err;
}

const char *
cr_buf_str(const struct cr_buf *b)
{
	return b->data ? b->data : "";
}

char *
cr_buf_take(struct cr_buf *b)
{
	char *p = b->data;

	if (p == NULL)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->alloc = 0;
	return p;
}

enum cr_err
cr_grow(void *pv, size_t *alloc, size_t n, size_t elem)
{
	void *v, *nv;
	size_t na;

	if (n < *alloc)
		return CR_OK;
	if (*alloc > SIZE_MAX / 2 / elem)
		return CR_ERR_NOMEM;
	memcpy(&v, pv, sizeof(v));
	na = *alloc ? *alloc * 2 : 64;
	if ((nv = realloc(v, na * elem)) == NULL)
		return CR_ERR_NOMEM;
	memcpy(pv, &nv, sizeof(nv));
	*alloc = na;
	return CR_OK;
}
