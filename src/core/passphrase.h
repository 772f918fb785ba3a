/*
 * The rule for a 證書撤銷短語 (revocation passphrase, SPEC R9.3): long enough, not
 * guessable, typed the same twice, and not the signing password. Strength is
 * zxcvbn's entropy estimate (libzxcvbn), with the holder's own names, account and
 * address as a user dictionary so "WongDemo2026" does not pass for strong.
 * Pure: no I/O, no clock.
 */
#ifndef CR_CORE_PASSPHRASE_H
#define CR_CORE_PASSPHRASE_H

#include <stddef.h>

#define CR_PASSPHRASE_MIN_CHARS 10   /* Unicode code points */
#define CR_PASSPHRASE_MAX_BYTES 256
#define CR_PASSPHRASE_MIN_BITS 40.0  /* zxcvbn entropy estimate: ~10^12 guesses */

enum cr_passphrase_verdict {
	CR_PASS_OK,
	CR_PASS_EMPTY,
	CR_PASS_TOO_SHORT,
	CR_PASS_TOO_LONG,
	CR_PASS_NOT_UTF8,     /* or a control character */
	CR_PASS_MISMATCH,     /* the two entries differ */
	CR_PASS_WEAK,         /* guessable: a word, a pattern, a date, the holder's own data */
	CR_PASS_IS_PASSWORD,  /* the same as the signing password */
};

/* Judges passphrase (typed twice: again) for a holder whose own words (name, account name,
   email; NULL-terminated list, may be NULL) must not make it up. password is the signing
   password typed on the same form (NULL when none). *bits gets the estimate when not NULL. */
enum cr_passphrase_verdict cr_passphrase_judge(const char *passphrase, const char *again, const char *password,
    const char *const *own_words, double *bits);
/* A stable name ("too_short"), for logs and message keys. */
const char *cr_passphrase_verdict_name(enum cr_passphrase_verdict v);

#endif
