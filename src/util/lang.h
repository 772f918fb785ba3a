/*
 * The languages of the portal, in the order the language switch shows them;
 * the first is the default. locale/<code>.json holds each one's texts.
 */
#ifndef CR_UTIL_LANG_H
#define CR_UTIL_LANG_H

#include <stddef.h>

struct cr_lang {
	const char *code;  /* BCP 47 tag: "zh-Hant", "pt", "en" */
	const char *label; /* the language's own name, for the switch */
};

extern const struct cr_lang cr_langs[];
extern const size_t cr_lang_count;

/* The list's own code equal to s (static storage), or NULL for NULL or an unknown code. */
const char *cr_lang_find(const char *s);

#endif
