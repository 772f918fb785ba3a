/*
 * Renewal notices (SPEC R1.1-R1.4) and reminders.
 *
 * Holders are paged by id outside any transaction; then, for a page, one write
 * transaction re-reads each holder's due certificates, queues one mail listing
 * them, and records a notice row per certificate. Because the re-read happens
 * under the write lock, a second runner finds nothing left to do, and a crash
 * before COMMIT leaves nothing half-done: the next run sends the whole page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "util/log.h"
#include "util/timefmt.h"

/* Holders per write transaction: large enough that the due scan runs a few times, not hundreds. */
#define PAGE 1000
/* Holders found by one scan; more wait for the next run. */
#define MAX_HOLDERS 1000000
#define MAX_CERTS 64

static const char SUBJECT_NOTICE[] = "eSignTrust 電子證書服務（政府機關） - 部門用戶電子證書續期《待續期》通知";
static const char SUBJECT_REMINDER[] = "eSignTrust 電子證書服務（政府機關） - 部門用戶電子證書續期《待續期》提示";

static json_t *
mail_ctx(struct cr_jobs *j, const struct cr_person *p, const struct cr_due_cert *certs, size_t n, int days)
{
	json_t *list = json_array();
	char url[CR_CFG_STR + 32];

	for (size_t i = 0; i < n; i++) {
		char key[32], expiry[16];
		const char *label;

		snprintf(key, sizeof(key), "type_%s", cr_cert_type_name(certs[i].type));
		label = json_string_value(json_object_get(j->texts, key));
		cr_macau_date(certs[i].not_after, expiry);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "type_label",
		    label ? label : cr_cert_type_label_zh(certs[i].type), "serial", certs[i].serial_hex, "expiry", expiry));
	}
	snprintf(url, sizeof(url), "%s/ecmp/certrenewal", j->cfg->base_url);
	return json_pack("{s:s, s:i, s:s, s:o}", "name", p->name, "days", days, "login_url", url, "certs", list);
}

/* Notices one holder inside the open transaction; *queued is false when nothing was due any more. */
static enum cr_err
notice_holder(struct cr_jobs *j, struct cr_db *db, int64_t holder, const char *kind, int days, time_t now,
    bool *queued, long *ncerts)
{
	struct cr_due_cert certs[MAX_CERTS];
	struct cr_person p;
	size_t n = 0;
	int64_t outbox_id;
	json_t *ctx;
	char actor_obj[48], detail[64];
	bool reminder = strcmp(kind, "notice") != 0;
	enum cr_err err;

	*queued = false;
	if ((err = cr_db_notice_due_certs(db, holder, kind, now, days, certs, MAX_CERTS, &n)) != CR_OK || n == 0)
		return err;
	if ((err = cr_db_person_by_id(db, holder, &p)) != CR_OK)
		return err;
	/* The notice keeps the seed's sentence (the window, 30 days); a reminder says how many days are
	   really left before the first of the certificates expires. */
	if (reminder)
		days = (int)((certs[0].not_after - now + 86399) / 86400);
	if ((ctx = mail_ctx(j, &p, certs, n, days)) == NULL)
		return CR_ERR_NOMEM;
	err = cr_mailer_queue(&j->mailer, db, reminder ? "reminder" : "notice", p.email,
	    reminder ? SUBJECT_REMINDER : SUBJECT_NOTICE, reminder ? "reminder" : "notice", ctx, now, &outbox_id);
	json_decref(ctx);
	if (err == CR_ERR_INVALID) {
		/* A holder whose address cannot be mailed must not block everyone else. */
		cr_warn("notices", "person %lld has an unusable email address; skipped", (long long)holder);
		return CR_OK;
	}
	if (err != CR_OK)
		return err;
	for (size_t i = 0; i < n; i++)
		if ((err = cr_db_notice_add(db, certs[i].cert_id, certs[i].not_after, kind, outbox_id, now)) != CR_OK)
			return err;
	snprintf(actor_obj, sizeof(actor_obj), "person:%lld", (long long)holder);
	snprintf(detail, sizeof(detail), "%s for %zu certificates, outbox %lld", kind, n, (long long)outbox_id);
	if ((err = cr_db_audit(db, now, &(struct cr_audit){"system", "notice_queued", actor_obj, "", detail})) != CR_OK)
		return err;
	*queued = true;
	*ncerts += (long)n;
	return CR_OK;
}

/*
 * One scan finds every due holder (ids only); then pages of PAGE holders are noticed, one write
 * transaction each, re-reading each holder's certificates inside it. A holder who became due
 * during the run is found by the next run.
 */
static enum cr_err
notice_kind(struct cr_jobs *j, const char *kind, int days, time_t now, struct cr_notice_stats *st)
{
	int64_t *ids = calloc(MAX_HOLDERS, sizeof(*ids));
	size_t n = 0;
	struct cr_db *db = cr_store_get(j->store);
	enum cr_err err = CR_OK;

	if (ids == NULL)
		err = CR_ERR_NOMEM;
	else
		err = cr_db_notice_due_holders(db, kind, now, days, 0, MAX_HOLDERS, ids, &n);
	for (size_t start = 0; err == CR_OK && start < n; start += PAGE) {
		size_t end = start + PAGE < n ? start + PAGE : n;

		if ((err = cr_db_begin(db)) != CR_OK)
			break;
		for (size_t i = start; i < end && err == CR_OK; i++) {
			bool queued;

			err = notice_holder(j, db, ids[i], kind, days, now, &queued, &st->certs);
			if (err == CR_OK && queued) {
				st->holders++;
				if (j->test_crash_after > 0 && st->holders >= j->test_crash_after) {
					cr_error("notices", "test hook: crashing mid-batch after %ld holders", st->holders);
					abort();
				}
			}
		}
		if (err != CR_OK) {
			cr_db_rollback(db);
			break;
		}
		err = cr_db_commit(db);
	}
	cr_store_put(j->store, db);
	free(ids);
	return err;
}

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Parses renewal.reminder_days ("14,7,1" or "none") into ascending days; *n 0 for none. */
static enum cr_err
reminder_days(const char *spec, int *days, size_t max, size_t *n)
{
	const char *p = spec;
	char *end;

	*n = 0;
	if (strcmp(spec, "none") == 0)
		return CR_OK;
	while (*p != '\0') {
		long d = strtol(p, &end, 10);

		if (end == p || d < 1 || d > 365 || (*end != ',' && *end != '\0') || *n == max) {
			cr_error("notices", "renewal.reminder_days must be a comma-separated list of days, or none");
			return CR_ERR_CONFIG;
		}
		days[(*n)++] = (int)d;
		p = *end ? end + 1 : end;
	}
	qsort(days, *n, sizeof(days[0]), cmp_int);
	return CR_OK;
}

enum cr_err
cr_jobs_notices(struct cr_jobs *j, time_t now, struct cr_notice_stats *st)
{
	int days[16];
	size_t n;
	enum cr_err err;

	memset(st, 0, sizeof(*st));
	if ((err = reminder_days(j->cfg->reminder_days, days, 16, &n)) != CR_OK)
		return err;
	if ((err = notice_kind(j, "notice", j->cfg->window_days, now, st)) != CR_OK)
		return err;
	/* Smallest window first: a late run sends the most urgent reminder, and that one only. */
	for (size_t i = 0; i < n; i++) {
		char kind[32];

		if (days[i] >= j->cfg->window_days)
			continue;
		snprintf(kind, sizeof(kind), "reminder-%d", days[i]);
		if ((err = notice_kind(j, kind, days[i], now, st)) != CR_OK)
			return err;
	}
	return CR_OK;
}
