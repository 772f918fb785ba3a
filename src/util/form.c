/* Form-body parser; see form.h. */
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "text.h"

/* Decodes s[0..n) into a new string; NULL on bad escape, NUL byte or no memory. */
static char *
decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = cr_hexval(s[i + 1])) < 0 || (lo = cr_hexval(s[i + 2])) < 0) {
				free(out);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0') {
			free(out);
			return NULL;
		}
		*o++ = c;
	}
	*o = '\0';
	return out;
}

enum cr_err
cr_form_parse(const char *buf, size_t len, struct cr_form *form)
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
		if (form->n == CR_FORM_MAX_FIELDS) {
			err = CR_ERR_TOOBIG;
			break;
		}
		if (eq == (size_t)-1)
			eq = end;
		if (eq == start || eq - start > CR_FORM_MAX_NAME * 3) {
			err = CR_ERR_INVALID;
			break;
		}
		name = decode(buf + start, eq - start);
		value = eq < end ? decode(buf + eq + 1, end - eq - 1) : decode("", 0);
		if (name == NULL || value == NULL || strlen(name) > CR_FORM_MAX_NAME || name[0] == '\0' ||
		    cr_form_get(form, name) != NULL) {
			free(name);
			free(value);
			err = CR_ERR_INVALID;
			break;
		}
		if (form->n == form->alloc) {
			size_t na = form->alloc ? form->alloc * 2 : 8;
			struct cr_form_field *nf = realloc(form->f, na * sizeof(*nf));

			if (nf == NULL) {
				free(name);
				free(value);
				err = CR_ERR_NOMEM;
				break;
			}
			form->f = nf;
			form->alloc = na;
		}
		form->f[form->n].name = name;
		form->f[form->n].value = value;
		form->n++;
	}
	if (err != CR_OK)
		cr_form_free(form);
	return err;
}

void
cr_form_free(struct cr_form *form)
{
	for (size_t i = 0; i < form->n; i++) {
		free(form->f[i].name);
		free(form->f[i].value);
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
