/*
 * Background work of `certrenew jobs`: renewal notices and reminders (SPEC R1)
 * and outbox delivery. Each pass is safe to run in several processes at once:
 * notices are decided inside a write transaction that re-reads what is due,
 * and outbox messages are claimed under a lease.
 */
#ifndef CR_JOBS_H
#define CR_JOBS_H

#include <time.h>

#include "config/config.h"
#include "notify/outbox.h"
#include "store/store.h"
#include "util/tmpl.h"

struct cr_smtp;

struct cr_pki;

struct cr_jobs {
	const struct cr_config *cfg;
	struct cr_store *store;
	struct cr_tmpl_set *tmpl;
	json_t *texts;               /* zh-Hant locale texts (type labels) */
	struct cr_seal_key key;
	struct cr_mailer mailer;
	char worker[64];             /* "host:pid", names outbox leases */
	char smtp_password[512];
	struct cr_smtp *smtp;        /* opened on first delivery when smtp.url is set */
	int test_crash_after;        /* >0: abort after this many holders (crash-safety tests) */
	struct cr_pki *pki;          /* the CAs: CRL publication and the vault's housekeeping */
};

struct cr_notice_stats {
	long holders;  /* mails queued */
	long certs;    /* certificates noticed */
};

/* Queues the renewal notice for every holder with due, confirmed, not-yet-noticed certificates,
   then the reminders of renewal.reminder_days. */
enum cr_err cr_jobs_notices(struct cr_jobs *j, time_t now, struct cr_notice_stats *st);

struct cr_deliver_stats {
	long sent, retried, failed;
};
/* Delivers due outbox messages (SMTP, or .eml files when smtp.url is empty), at most max. Reads
   the clock at each claim and each message (a pass can outlast the lease), so it takes no now. */
enum cr_err cr_jobs_deliver(struct cr_jobs *j, long max, struct cr_deliver_stats *st);

#endif
