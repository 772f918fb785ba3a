/*
 * Parser of application/x-www-form-urlencoded bodies (untrusted input; a fuzz
 * target), used by the portal and by govsim. Caps: CR_FORM_MAX_FIELDS fields;
 * names up to 64 bytes; a value may not contain NUL. Duplicate names are
 * refused, so a forged second copy of a field cannot shadow the first in one
 * reader and not in another; a reader that refuses repeats itself (OAuth,
 * RFC 6749 3.1) may keep them instead (struct cr_form_rules).
 */
#ifndef CR_UTIL_FORM_H
#define CR_UTIL_FORM_H

#include <stdbool.h>
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

/* What is accepted besides the syntax. cr_form_parse: {CR_FORM_MAX_FIELDS, false, false}. */
struct cr_form_rules {
	size_t max_fields;    /* at most this many fields (and never more than CR_FORM_MAX_FIELDS) */
	bool keep_duplicates; /* every copy of a repeated name is kept, for the reader to refuse */
	bool any_name;        /* empty and over-long names are kept too (a reader never asks for them) */
};

/* Parses buf (len bytes). On success *form owns copies; free with cr_form_free.
   CR_ERR_INVALID for bad escapes, NUL bytes, empty or over-long names, duplicates;
   CR_ERR_TOOBIG for too many fields. On error *form is empty. */
enum cr_err cr_form_parse(const char *buf, size_t len, struct cr_form *form);
/* The same under other rules. */
enum cr_err cr_form_parse_rules(const char *buf, size_t len, const struct cr_form_rules *rules,
    struct cr_form *form);
/* Adds one field already decoded (a query argument libmicrohttpd split and decoded), copying both,
   under the same rules; an empty name with an empty value (from "&&") is skipped unless any_name
   is set. Start from a
   zeroed form ({0}). On error the form is left as it was. */
enum cr_err cr_form_add(struct cr_form *form, const struct cr_form_rules *rules, const char *name, size_t nlen,
    const char *value, size_t vlen);
/* Frees (and wipes: values may be secrets) the fields; the form is empty again. */
void cr_form_free(struct cr_form *form);
/* The value of field name (the first copy), or NULL; valid until cr_form_free. */
const char *cr_form_get(const struct cr_form *form, const char *name);

/* Percent-decodes s[0..n) into a new string (free()): '+' is a space; CR_ERR_INVALID for a bad
   escape or a NUL byte, CR_ERR_NOMEM. */
enum cr_err cr_form_decode(const char *s, size_t n, char **out);

#endif
