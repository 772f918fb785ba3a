/*
 * application/x-www-form-urlencoded parsing for /login and /token bodies and
 * for query strings that libmicrohttpd has already split. Input is untrusted:
 * the body is capped by the caller (GS_BODY_MAX), the field count here
 * (GS_FORM_FIELDS); NUL bytes and broken escapes are refused, not repaired.
 * Only the fields an endpoint asks for are ever read.
 */
#include <stdlib.h>
#include <string.h>

#include "govsim.h"

void
gs_form_init(struct gs_form *f)
{
	memset(f, 0, sizeof(*f));
}

void
gs_form_free(struct gs_form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->name[i]);
		/* Values may be secrets (client_secret, code_verifier). */
		if (f->value[i] != NULL) {
			explicit_bzero(f->value[i], strlen(f->value[i]));
			free(f->value[i]);
		}
	}
	f->n = 0;
}

enum cr_err
gs_form_add(struct gs_form *f, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	char *n, *v;

	if (f->n == GS_FORM_FIELDS)
		return CR_ERR_TOOBIG;
	n = strndup(name, nlen);
	v = strndup(value, vlen);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		return CR_ERR_NOMEM;
	}
	f->name[f->n] = n;
	f->value[f->n] = v;
	f->n++;
	return CR_OK;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum cr_err
gs_urldecode(const char *s, size_t n, char **out)
{
	char *p;
	size_t j = 0;

	if ((p = malloc(n + 1)) == NULL)
		return CR_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			/* Two hex digits must follow. */
			if (n - i < 3)
				goto bad;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			c = hi * 16 + lo;
			i += 2;
		}
		/* A NUL would silently cut the value short further on. */
		if (c == 0)
			goto bad;
		p[j++] = (char)c;
	}
	p[j] = '\0';
	*out = p;
	return CR_OK;
bad:
	free(p);
	return CR_ERR_INVALID;
}

/* Adds one "name=value" piece of length n. */
static enum cr_err
add_pair(struct gs_form *f, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	size_t nl = eq ? (size_t)(eq - s) : n;
	char *name = NULL, *value = NULL;
	enum cr_err err;

	if ((err = gs_urldecode(s, nl, &name)) != CR_OK)
		goto out;
	err = gs_urldecode(eq ? eq + 1 : s + n, eq ? n - nl - 1 : 0, &value);
	if (err != CR_OK)
		goto out;
	err = gs_form_add(f, name, strlen(name), value, strlen(value));
out:
	free(name);
	if (value != NULL) {
		explicit_bzero(value, strlen(value));
		free(value);
	}
	return err;
}

enum cr_err
gs_form_parse(const char *buf, size_t len, struct gs_form *out)
{
	size_t i = 0;
	enum cr_err err;

	gs_form_init(out);
	while (i < len) {
		const char *amp = memchr(buf + i, '&', len - i);
		size_t n = amp ? (size_t)(amp - (buf + i)) : len - i;

		if (n > 0 && (err = add_pair(out, buf + i, n)) != CR_OK) {
			gs_form_free(out);
			return err;
		}
		i += n + 1;
	}
	return CR_OK;
}

enum cr_err
gs_form_get(const struct gs_form *f, const char *name, size_t maxlen, const char **val)
{
	const char *found = NULL;

	*val = NULL;
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->name[i], name) != 0)
			continue;
		/* RFC 6749 3.1: parameters must not be repeated. */
		if (found != NULL)
			return CR_ERR_CONFLICT;
		found = f->value[i];
	}
	if (found == NULL || *found == '\0')
		return CR_ERR_NOTFOUND;
	if (strlen(found) > maxlen)
		return CR_ERR_TOOBIG;
	if (gs_has_ctl(found))
		return CR_ERR_INVALID;
	*val = found;
	return CR_OK;
}
