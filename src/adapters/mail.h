/*
 * Mail: composing RFC 5322 / MIME messages (mail.c) and handing them to an
 * SMTP server with libcurl (smtp.c). See docs/internals/mail.md.
 *
 * Trust: the cr_mail fields come from configuration and from our own
 * templates, but addresses and subjects may carry user data, so every header
 * input is checked (no CR, LF or other control characters; addresses must be
 * plausible addr-specs) and refused rather than cleaned. cr_mail_decode reads
 * stored messages and is written as a parser of hostile input: capped, no I/O,
 * fuzzed (fuzz/fuzz_mail_decode.c).
 */
#ifndef CR_ADAPTERS_MAIL_H
#define CR_ADAPTERS_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"
#include "util/err.h"

/* Largest message cr_mail_decode looks at (CR_ERR_TOOBIG beyond). */
#define CR_MAIL_DECODE_MAX (8u * 1024u * 1024u)

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
 * Builds an RFC 5322 / MIME message with CRLF line ends and appends it to out
 * (initialised by the caller, whose cap bounds the message; CR_ERR_TOOBIG past
 * it). Headers: Date (UTC, "+0000"), Message-ID "<random@domain>", From (a
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

/*
 * Decodes a message built by cr_mail_build (also after a mail server or a
 * Maildir rewrote its line ends or added headers). Not a general MIME parser,
 * but safe on any input: capped (CR_MAIL_DECODE_MAX, CR_ERR_TOOBIG beyond), no
 * I/O. subject gets the decoded Subject, text the text/plain part, html (may be
 * NULL) the text/html part if there is one; all UTF-8 with \n line ends. The
 * buffers are emptied first and keep their caps (CR_ERR_TOOBIG past one).
 * CR_ERR_INVALID when the message is not recognised (no Subject or text part, charset not
 * UTF-8/US-ASCII, bad encoding, invalid UTF-8, malformed headers).
 * Used by the DEV mail viewer and tests.
 */
enum cr_err cr_mail_decode(const char *msg, size_t len, struct cr_buf *subject, struct cr_buf *text,
    struct cr_buf *html);

/*
 * Writes msg (len bytes) atomically to dir/<name>.eml: a temporary file in dir,
 * mode 0640, synced, then renamed. Creates dir and its parents (0750) if
 * needed. name is 1-128 characters of [A-Za-z0-9._-], not starting with '.'
 * (CR_ERR_INVALID otherwise). CR_ERR_IO when the file cannot be written.
 */
enum cr_err cr_mail_write_eml(const char *dir, const char *name, const char *msg, size_t len);

/* ---- SMTP delivery (smtp.c) ---- */

struct cr_smtp_config {
	const char *url;          /* smtp://host:port or smtps://host:port */
	const char *username;     /* NULL: no AUTH */
	const char *password;
	bool require_starttls;    /* CURLUSESSL_ALL for smtp:// (false: plain SMTP, for loopback relays) */
	const char *envelope_from;/* MAIL FROM */
	const char *helo_domain;  /* may be NULL (then the host name) */
	long timeout_ms;          /* bounds each send, connecting included; <= 0: 30 s */
};

/* One SMTP session: a libcurl easy handle reused, so consecutive sends share the
   connection. Not for use by two threads at once. */
struct cr_smtp;

/*
 * Copies cfg's strings into a new session in *out; no network yet.
 * CR_ERR_CONFIG for a URL that is not smtp:// or smtps:// (or has a path), a
 * bad envelope_from or helo_domain, or a username over smtp:// without
 * require_starttls (the password would cross the network in clear).
 * Free with cr_smtp_free.
 */
enum cr_err cr_smtp_new(const struct cr_smtp_config *cfg, struct cr_smtp **out);

/*
 * Sends msg (len bytes, CRLF line ends, as built by cr_mail_build) to the one
 * recipient rcpt, reusing the session's connection when it is still open.
 * CR_OK when the server accepted it; CR_ERR_REMOTE for failures worth retrying
 * (cannot connect, timeout, TLS or login failure, 4xx, 5xx before MAIL);
 * CR_ERR_DENIED for permanent refusals (5xx to MAIL, RCPT or DATA);
 * CR_ERR_INVALID for a recipient that is not a plausible address.
 * err (errlen bytes, may be NULL) gets a short reason: curl's error and the
 * server's last reply, never message content or the password.
 */
enum cr_err cr_smtp_send(struct cr_smtp *s, const char *rcpt, const char *msg, size_t len, char *err,
    size_t errlen);

/* Closes the connection (QUIT), wipes the password copy and frees s. NULL is a no-op. */
void cr_smtp_free(struct cr_smtp *s);

#endif
