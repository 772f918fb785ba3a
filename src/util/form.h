/*
 * Parser of application/x-www-form-urlencoded bodies (untrusted input; a fuzz
 * target). Caps: CR_FORM_MAX_FIELDS fields; names up to 64 bytes; a value may
 * not contain NUL. Duplicate names are refused, so a forged second copy of a
 * field cannot shadow the first in one reader and not in another.
 */
#ifndef CR_UTIL_FORM_H
#define CR_UTIL_FORM_H

#include <stddef.h>

#include "err.h"

#define CR_FORM_MAX_FIELDS 1024
#define CR_FORM_MAX_NAME 64

struct cr_form_field {
	char *name;  /* decoded, NUL-terminated */
	char *value; /* decoded, NUL-terminated */
};

/* Small on purpose (it lives in every request): the fields are allocated by the parser. */
struct cr_form {
	size_t n;
	size_t alloc;
	struct cr_form_field *f;
};

/* Parses buf (len bytes). On success *form owns copies; free with cr_form_free.
   CR_ERR_INVALID for bad escapes, NUL bytes, empty or over-long names, duplicates;
   CR_ERR_TOOBIG for too many fields. */
enum cr_err cr_form_parse(const char *buf, size_t len, struct cr_form *form);
void cr_form_free(struct cr_form *form);
/* The value of field name, or NULL; valid until cr_form_free. */
const char *cr_form_get(const struct cr_form *form, const char *name);

#endif
