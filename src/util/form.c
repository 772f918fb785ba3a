/* Form-body parser; see form.h. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "form.h"
#include "text.h"

static const struct cr_form_rules strict = {CR_FORM_MAX_FIELDS, false, false};

/* Wipes and frees a string that may hold a secret. */
static void
free_secret(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

enum cr_err
cr_form_decode(const char *s, size_t n, char **out)
{
	char *p = malloc(n + 1), *o = p;

	*out = NULL;
	if (p == NULL)
		return CR_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = cr_hexval(s[i + 1])) < 0 || (lo = cr_hexval(s[i + 2])) < 0)
				goto bad;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		/* A NUL would silently cut the value short further on. */
		if (c == '\0')
			goto bad;
		*o++ = c;
	}
	*o = '\0';
	*out = p;
	return CR_OK;
bad:
	sodium_memzero(p, n + 1);
	free(p);
	return CR_ERR_INVALID;
}

/* Appends a decoded field (consumed, also on error) under rules. */
static enum cr_err
append(struct cr_form *form, const struct cr_form_rules *rules, char *name, char *value)
{
	size_t max = rules->max_fields < CR_FORM_MAX_FIELDS ? rules->max_fields : CR_FORM_MAX_FIELDS;

	if (form->n >= max) {
		free(name);
		free_secret(value);
		return CR_ERR_TOOBIG;
	}
	if ((!rules->any_name && (strlen(name) > CR_FORM_MAX_NAME || name[0] == '\0')) ||
	    (!rules->keep_duplicates && cr_form_get(form, name) != NULL)) {
		free(name);
		free_secret(value);
		return CR_ERR_INVALID;
	}
	if (form->n == form->alloc) {
		size_t na = form->alloc ? form->alloc * 2 : 8;
		struct cr_form_field *nf = realloc(form->f, na * sizeof(*nf));

		if (nf == NULL) {
			free(name);
			free_secret(value);
			return CR_ERR_NOMEM;
		}
		form->f = nf;
		form->alloc = na;
	}
	form->f[form->n].name = name;
	form->f[form->n].value = value;
	form->n++;
	return CR_OK;
}

enum cr_err
cr_form_parse_rules(const char *buf, size_t len, const struct cr_form_rules *rules, struct cr_form *form)
{
	size_t i = 0;
	enum cr_err err = CR_OK;

	memset(form, 0, sizeof(*form));
	while (i < len) {
		size_t start = i, eq = (size_t)-1, end;
		char *name, *value;

		while (i < len && buf[i] != '&') {
			if (buf[i] == '=' && eq == (size_t)-1)
				eq = i;
			i++;
		}
		end = i++;
		if (end == start)
			continue; /* empty pair from "&&" or a trailing "&" */
		if (form->n >= rules->max_fields || form->n == CR_FORM_MAX_FIELDS) {
			err = CR_ERR_TOOBIG;
			break;
		}
		if (eq == (size_t)-1)
			eq = end;
		if (!rules->any_name && (eq == start || eq - start > CR_FORM_MAX_NAME * 3)) {
			err = CR_ERR_INVALID;
			break;
		}
		name = value = NULL;
		if ((err = cr_form_decode(buf + start, eq - start, &name)) != CR_OK ||
		    (err = cr_form_decode(eq < end ? buf + eq + 1 : "", eq < end ? end - eq - 1 : 0, &value)) != CR_OK) {
			free(name);
			break;
		}
		if ((err = append(form, rules, name, value)) != CR_OK)
			break;
	}
	if (err != CR_OK)
		cr_form_free(form);
	return err;
}

enum cr_err
cr_form_parse(const char *buf, size_t len, struct cr_form *form)
{
	return cr_form_parse_rules(buf, len, &strict, form);
}

enum cr_err
cr_form_add(struct cr_form *form, const struct cr_form_rules *rules, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	char *n, *v;

	if (nlen == 0 && vlen == 0 && !rules->any_name)
		return CR_OK; /* an empty pair, as the parser skips it */
	if (memchr(name, '\0', nlen) != NULL || memchr(value, '\0', vlen) != NULL)
		return CR_ERR_INVALID;
	if ((n = strndup(name, nlen)) == NULL || (v = strndup(value, vlen)) == NULL) {
		free(n);
		return CR_ERR_NOMEM;
	}
	return append(form, rules, n, v);
}

void
cr_form_free(struct cr_form *form)
{
	for (size_t i = 0; i < form->n; i++) {
		free(form->f[i].name);
		free_secret(form->f[i].value);
	}
	free(form->f);
	form->f = NULL;
	form->n = form->alloc = 0;
}

const char *
cr_form_get(const struct cr_form *form, const char *name)
{
	for (size_t i = 0; i < form->n; i++)
		if (strcmp(form->f[i].name, name) == 0)
			return form->f[i].value;
	return NULL;
}
