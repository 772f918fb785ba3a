/*
 * Outbox delivery. Messages are claimed in small batches under a lease, sent
 * over one reused SMTP connection (or written as .eml files when no SMTP
 * server is configured, the DEV default), and marked sent. A message whose
 * sender dies between sending and marking is sent again when its lease ends:
 * delivery is at least once, with the same Message-ID, never lost.
 * No other sender takes a message a live sender is sending: each claim reads
 * the clock then, the lease (mail.lease_seconds) is renewed right before each message and
 * the message is skipped when another sender took it meanwhile, and one send
 * (with its one reconnect) is bounded to half the lease. Batches are small
 * enough (BATCH x the SMTP timeout = half the default lease) that a live
 * sender's messages are rarely taken at all. See docs/internals/mail.md.
 * Transient failures back off exponentially (mail.retry_seconds, doubling, capped at 1 h);
 * permanent refusals and the last allowed try mark the message failed, for
 * `certrenew mail list --failed` and `certrenew mail retry`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/mail.h"
#include "jobs.h"
#include "util/log.h"

/* BATCH x SMTP_TIMEOUT_MS = 150 s, half the default lease of 300 s. */
#define BATCH 10
#define SMTP_TIMEOUT_MS 15000

static time_t
backoff(int base, int tries)
{
	time_t d = base;

	for (int i = 1; i < tries && d < 3600; i++)
		d *= 2;
	return d > 3600 ? 3600 : d;
}

static enum cr_err
ensure_smtp(struct cr_jobs *j)
{
	struct cr_smtp_config sc;
	/* A quarter of the lease at most: a send and its one reconnect end within half of it. */
	long timeout_ms = (long)j->cfg->mail_lease_seconds * 1000 / 4;

	if (j->smtp != NULL)
		return CR_OK;
	if (timeout_ms > SMTP_TIMEOUT_MS)
		timeout_ms = SMTP_TIMEOUT_MS;
	sc = (struct cr_smtp_config){
		.url = j->cfg->smtp_url,
		.username = j->cfg->smtp_username[0] ? j->cfg->smtp_username : NULL,
		.password = j->smtp_password[0] ? j->smtp_password : NULL,
		.require_starttls = j->cfg->smtp_starttls,
		.envelope_from = j->cfg->mail_envelope_from,
		.helo_domain = NULL,
		.timeout_ms = timeout_ms,
	};
	return cr_smtp_new(&sc, &j->smtp);
}

/* Sends one opened message; err gets a reason on failure. */
static enum cr_err
send_one(struct cr_jobs *j, const struct cr_outbox_msg *m, const struct cr_buf *msg, char *err, size_t errlen)
{
	char name[48];

	if (j->cfg->smtp_url[0] == '\0') {
		snprintf(name, sizeof(name), "%08lld", (long long)m->id);
		if (cr_mail_write_eml(j->cfg->mail_dir, name, msg->data, msg->len) != CR_OK) {
			snprintf(err, errlen, "cannot write to %.200s", j->cfg->mail_dir);
			return CR_ERR_REMOTE;
		}
		return CR_OK;
	}
	if (ensure_smtp(j) != CR_OK) {
		snprintf(err, errlen, "cannot set up SMTP");
		return CR_ERR_REMOTE;
	}
	return cr_smtp_send(j->smtp, m->to_addr, msg->data, msg->len, err, errlen);
}

/* Records the outcome of one message, at the time it is known. */
static void
settle(struct cr_jobs *j, struct cr_db *db, const struct cr_outbox_msg *m, enum cr_err rc, const char *why,
    struct cr_deliver_stats *st)
{
	time_t now = time(NULL);
	bool give_up = rc == CR_ERR_DENIED || rc == CR_ERR_INVALID || m->tries >= j->cfg->mail_max_tries;

	if (rc == CR_OK) {
		if (cr_db_outbox_sent(db, m->id, j->worker, now) == CR_OK)
			st->sent++;
		return;
	}
	if (cr_db_outbox_retry(db, m->id, j->worker, now + backoff(j->cfg->mail_retry_seconds, m->tries), why, give_up) != CR_OK)
		return;
	if (give_up) {
		cr_error("deliver", "message %lld to %s failed for good after %d tries: %s", (long long)m->id,
		    m->to_addr, m->tries, why);
		st->failed++;
	} else {
		cr_warn("deliver", "message %lld: try %d failed (%s); retrying", (long long)m->id, m->tries, why);
		st->retried++;
	}
}

/* Sends one claimed message, unless another sender has taken it since the claim. */
static void
deliver_one(struct cr_jobs *j, struct cr_db *db, const struct cr_outbox_msg *m, struct cr_deliver_stats *st)
{
	struct cr_buf msg;
	char why[256] = "";
	enum cr_err rc;

	cr_buf_init(&msg, 2u * 1024u * 1024u);
	rc = cr_mailer_build(&j->mailer, m, &msg);
	if (rc != CR_OK) {
		snprintf(why, sizeof(why), "cannot build the message (%s)", cr_err_str(rc));
	} else if ((rc = cr_db_outbox_renew(db, m->id, j->worker, time(NULL) + j->cfg->mail_lease_seconds)) != CR_OK) {
		/* Not ours any more (or we cannot tell): sending it could send it twice. */
		if (rc == CR_ERR_CONFLICT)
			cr_info("deliver", "message %lld: taken over by another sender; skipped", (long long)m->id);
		cr_buf_free_secret(&msg);
		return;
	} else {
		rc = send_one(j, m, &msg, why, sizeof(why));
	}
	cr_buf_free_secret(&msg);
	settle(j, db, m, rc, why, st);
}

enum cr_err
cr_jobs_deliver(struct cr_jobs *j, long max, struct cr_deliver_stats *st)
{
	struct cr_outbox_msg batch[BATCH];
	struct cr_db *db = cr_store_get(j->store);
	enum cr_err err = CR_OK;
	long done = 0;

	memset(st, 0, sizeof(*st));
	while (done < max) {
		size_t n = 0;

		/* The clock of this claim, not of the pass: a lease counted from the start of a long pass
		   would already be over, or nearly, when the batch is taken. */
		err = cr_db_outbox_claim(db, j->worker, time(NULL), j->cfg->mail_lease_seconds, BATCH, batch, &n);
		if (err != CR_OK || n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			deliver_one(j, db, &batch[i], st);
			cr_outbox_msg_free(&batch[i]);
		}
		done += (long)n;
		/* A server that refuses everything: stop this pass instead of spinning through the queue. */
		if (st->sent == 0 && st->retried > 0)
			break;
	}
	cr_store_put(j->store, db);
	return err;
}
