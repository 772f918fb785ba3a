/*
 * Building system mail: RFC 5322 / MIME messages (mime.c). The outbox
 * (outbox.c) renders the templates and calls cr_mail_build; the adapters
 * (adapters/mail.h) hand the result to an SMTP server or write it as a .eml
 * file. See docs/internals/mail.md.
 *
 * Trust: the cr_mail fields come from configuration and from our own
 * templates, but addresses and subjects may carry user data, so every header
 * input is checked (no CR, LF or other control characters; addresses must be
 * plausible addr-specs) and refused rather than cleaned.
 */
#ifndef CR_NOTIFY_MIME_H
#define CR_NOTIFY_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"
#include "util/err.h"

/* Room for a Date value from cr_mail_date, NUL included. */
#define CR_MAIL_DATE_SIZE 32

struct cr_mail {
	const char *from;      /* "eSignTrust 電子認證服務 <noreply@esigntrust.com>": display name may be UTF-8 */
	const char *reply_to;  /* bare address or NULL */
	const char *to;        /* bare address */
	const char *subject;   /* UTF-8 */
	const char *text;      /* UTF-8 plain text, \n line ends */
	const char *html;      /* UTF-8 HTML or NULL (then a single text/plain part) */
	const char *domain;    /* for the Message-ID, e.g. "esigntrust.com" */
	time_t date;
	const char *message_id; /* "<id@domain>" to reuse (a resend keeps its id); NULL: a new random one */
};

/* Whether addr is a plain addr-spec this module will send to (no display name). */
bool cr_mail_addr_ok(const char *addr);

/*
 * The value of the Date header for t, as cr_mail_build writes it: UTC,
 * English names whatever the locale, "Tue, 24 Nov 2026 00:00:00 +0000".
 * CR_ERR_INVALID for a date out of range (before 1900 or after 9999),
 * CR_ERR_TOOBIG when outlen is under CR_MAIL_DATE_SIZE.
 */
enum cr_err cr_mail_date(time_t t, char *out, size_t outlen);

/*
 * Builds an RFC 5322 / MIME message with CRLF line ends and appends it to out
 * (initialised by the caller, whose cap bounds the message; CR_ERR_TOOBIG past
 * it). Headers: Date (cr_mail_date), Message-ID "<random@domain>", From (a
 * non-ASCII display name as RFC 2047 encoded-words), Reply-To, To, Subject
 * (encoded-words of at most 75 characters, folded, never splitting a UTF-8
 * character), MIME-Version. With html: multipart/alternative with a random
 * boundary, text/plain then text/html; without: a single text/plain part.
 * Bodies are UTF-8, base64 in lines of 76. No header line exceeds 78 characters.
 *
 * CR_ERR_INVALID for a missing field, CR or LF or another control character in
 * a header input, invalid UTF-8 anywhere, an address that is not a plausible
 * addr-spec, a bad domain or a date out of range. On error out is unchanged.
 * message_id (may be NULL) gets the Message-ID with its angle brackets;
 * CR_ERR_TOOBIG when idlen is too small for it.
 */
enum cr_err cr_mail_build(const struct cr_mail *m, struct cr_buf *out, char *message_id, size_t idlen);

#endif
