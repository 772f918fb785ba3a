/*
 * System mail, queued in the outbox inside the caller's transaction so a state
 * change and the mail it causes commit together (SPEC R1.5).
 *
 * The outbox keeps what to send, not the built message: recipient, subject,
 * template name and its data, as a small JSON envelope sealed with
 * XChaCha20-Poly1305 (some carry verification codes). Delivery opens it,
 * renders the templates and builds the MIME message (mime.h), with the
 * Message-ID and Date fixed at queueing, so a resend is the same message; the
 * DEV viewer opens and renders it the same way and shows the letter as is.
 * Queueing stays cheap (a notice run queues thousands in a second).
 */
#ifndef CR_NOTIFY_OUTBOX_H
#define CR_NOTIFY_OUTBOX_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "config/config.h"
#include "notify/mime.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/seal.h"
#include "util/tmpl.h"

/* Seals msg; *out is malloc'd (nonce || ciphertext || tag). */
enum cr_err cr_outbox_seal(const struct cr_seal_key *key, const char *msg, size_t len, unsigned char **out,
    size_t *outlen);
/* Opens a sealed message into out. CR_ERR_DENIED when it does not authenticate. */
enum cr_err cr_outbox_open(const struct cr_seal_key *key, const unsigned char *sealed, size_t len,
    struct cr_buf *out);

struct cr_mailer {
	const struct cr_config *cfg;
	const struct cr_tmpl_set *tmpl;
	const struct cr_seal_key *key;
};

/*
 * Renders templates mail/<name>.txt and mail/<name>.html (the HTML part is
 * optional) with ctx, builds the message to `to` with `subject`, seals it and
 * adds it to the outbox in db. Call inside the transaction that decided to
 * send it. *outbox_id gets the row id.
 */
enum cr_err cr_mailer_queue(const struct cr_mailer *m, struct cr_db *db, const char *kind, const char *to,
    const char *subject, const char *name, const json_t *ctx, time_t now, int64_t *outbox_id);

/*
 * An outbox row opened: its envelope read and its templates rendered. mail
 * holds what cr_mail_build turns into the message (From, Reply-To, To,
 * Subject, text, HTML or NULL, domain, Date and Message-ID fixed at
 * queueing); its strings point into the letter and into the row, so they live
 * until cr_mailer_letter_free and as long as the row. Do not copy the struct.
 */
struct cr_mailer_letter {
	struct cr_mail mail;
	json_t *env;            /* the opened envelope: to and subject point into it */
	struct cr_buf text, html;
	char domain[128];
};

/*
 * Opens row with the key and renders mail/<template> (and mail/<template>_html
 * when there is one) into *l. CR_ERR_DENIED when the row does not open with
 * this key; CR_ERR_INVALID for a broken envelope; a template's error as is.
 * Free with cr_mailer_letter_free, also after an error.
 */
enum cr_err cr_mailer_open(const struct cr_mailer *m, const struct cr_outbox_msg *row,
    struct cr_mailer_letter *l);

/* Wipes the rendered texts (they may carry codes) and frees them. */
void cr_mailer_letter_free(struct cr_mailer_letter *l);

/* Builds the RFC 5322 message of an outbox row (cr_mailer_open, then cr_mail_build) into out. */
enum cr_err cr_mailer_build(const struct cr_mailer *m, const struct cr_outbox_msg *row, struct cr_buf *out);

#endif
