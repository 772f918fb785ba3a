/* The revocation passphrase rule; see passphrase.h. */
#include <stdbool.h>
#include <string.h>

#include <zxcvbn.h>

#include "core/passphrase.h"

#define MAX_OWN_WORDS 16

/* Counts code points of well-formed UTF-8 without control characters; -1 otherwise. */
static long
utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;

	while (*p != '\0') {
		unsigned c = *p;
		int len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

		if (len == 0 || (len == 2 && c < 0xc2) || (len == 4 && c > 0xf4) || c < 0x20 || c == 0x7f)
			return -1;
		for (int i = 1; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				return -1;
		p += len;
		n++;
	}
	return n;
}

/* Splits own words into the dictionary zxcvbn takes: each whole, and each part of an address or
   a name ("wong", "demo", "esigntrust"). The strings go into store. */
static void
own_dictionary(const char *const *words, char store[MAX_OWN_WORDS][64], const char *dict[MAX_OWN_WORDS + 1])
{
	size_t n = 0;

	for (size_t w = 0; words != NULL && words[w] != NULL && n < MAX_OWN_WORDS; w++) {
		const char *s = words[w];

		while (*s != '\0' && n < MAX_OWN_WORDS) {
			size_t len = strcspn(s, " @._-+");

			if (len >= 3 && len < 64) {
				memcpy(store[n], s, len);
				store[n][len] = '\0';
				dict[n] = store[n];
				n++;
			}
			s += len;
			s += strspn(s, " @._-+");
		}
	}
	dict[n] = NULL;
}

enum cr_passphrase_verdict
cr_passphrase_judge(const char *passphrase, const char *again, const char *password, const char *const *own_words,
    double *bits)
{
	char store[MAX_OWN_WORDS][64];
	const char *dict[MAX_OWN_WORDS + 1];
	long chars;
	double e;

	if (bits != NULL)
		*bits = 0;
	if (passphrase == NULL || *passphrase == '\0')
		return CR_PASS_EMPTY;
	if (strlen(passphrase) > CR_PASSPHRASE_MAX_BYTES)
		return CR_PASS_TOO_LONG;
	if ((chars = utf8_chars(passphrase)) < 0)
		return CR_PASS_NOT_UTF8;
	if (again == NULL || strcmp(passphrase, again) != 0)
		return CR_PASS_MISMATCH;
	if (chars < CR_PASSPHRASE_MIN_CHARS)
		return CR_PASS_TOO_SHORT;
	if (password != NULL && strcmp(passphrase, password) == 0)
		return CR_PASS_IS_PASSWORD;
	own_dictionary(own_words, store, dict);
	e = ZxcvbnMatch(passphrase, dict, NULL);
	memset(store, 0, sizeof(store));
	if (bits != NULL)
		*bits = e;
	return e < CR_PASSPHRASE_MIN_BITS ? CR_PASS_WEAK : CR_PASS_OK;
}

const char *
cr_passphrase_verdict_name(enum cr_passphrase_verdict v)
{
	static const char *const names[] = {"ok", "empty", "too_short", "too_long", "not_utf8", "mismatch", "weak",
	    "is_password"};

	return (size_t)v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}
