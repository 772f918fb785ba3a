/*
 * Outbox delivery. Messages are claimed in small batches under a lease, sent
 * over one reused SMTP connection (or written as .eml files when no SMTP
 * server is configured, the DEV default), and marked sent. A message whose
 * sender dies between sending and marking is sent again when its lease ends:
 * delivery is at least once, with the same Message-ID, never lost.
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

#define BATCH 50

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

	if (j->smtp != NULL)
		return CR_OK;
	sc = (struct cr_smtp_config){
		.url = j->cfg->smtp_url,
		.username = j->cfg->smtp_username[0] ? j->cfg->smtp_username : NULL,
		.password = j->smtp_password[0] ? j->smtp_password : NULL,
		.require_starttls = j->cfg->smtp_starttls,
		.envelope_from = j->cfg->mail_envelope_from,
		.helo_domain = NULL,
		.timeout_ms = 15000,
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

static void
settle(struct cr_jobs *j, struct cr_db *db, const struct cr_outbox_msg *m, enum cr_err rc, const char *why,
    time_t now, struct cr_deliver_stats *st)
{
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

enum cr_err
cr_jobs_deliver(struct cr_jobs *j, time_t now, long max, struct cr_deliver_stats *st)
{
	struct cr_outbox_msg batch[BATCH];
	struct cr_db *db = cr_store_get(j->store);
	enum cr_err err = CR_OK;
	long done = 0;

	memset(st, 0, sizeof(*st));
	while (done < max) {
		size_t n = 0;

		if ((err = cr_db_outbox_claim(db, j->worker, now, j->cfg->mail_lease_seconds, BATCH, batch, &n)) != CR_OK || n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			struct cr_buf msg;
			char why[256] = "";
			enum cr_err rc;

			cr_buf_init(&msg, 2u * 1024u * 1024u);
			rc = cr_mailer_build(&j->mailer, &batch[i], &msg);
			if (rc != CR_OK)
				snprintf(why, sizeof(why), "cannot build the message (%s)", cr_err_str(rc));
			else
				rc = send_one(j, &batch[i], &msg, why, sizeof(why));
			cr_buf_free_secret(&msg);
			settle(j, db, &batch[i], rc, why, now, st);
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
