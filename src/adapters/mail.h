/*
 * Mail senders: handing a built message (notify/mime.h) to the outside, to an
 * SMTP server with libcurl (smtp.c) or, the DEV default, as a .eml file
 * (eml.c). See docs/internals/mail.md.
 *
 * Trust: the message bytes are sent as given (notify/mime.c checked every
 * header input); recipients, the envelope sender, the HELO name and file
 * names are checked here again, since they end up in SMTP commands and paths.
 */
#ifndef CR_ADAPTERS_MAIL_H
#define CR_ADAPTERS_MAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* ---- .eml files (eml.c) ---- */

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
 * Sends msg (len bytes, CRLF line ends, as built by notify/mime.h cr_mail_build) to the one
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
