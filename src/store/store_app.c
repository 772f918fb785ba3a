/*
 * The store: renewal applications, their certificates and email
 * verification codes; see store.h. Every read of an application is scoped by
 * its holder in SQL, so another holder's id finds nothing.
 */
#include <stdio.h>
#include <string.h>

#include "db_int.h"

/* PostgreSQL advisory lock class (two-key form: class, hash of the address) for code limits. */
#define LOCK_CODE_ADDRESS 0x63724364 /* "crCd" */

#define VIEW_COLS DB_CERT_COLS ", o.name, p.name"

static void
read_view(struct db_stmt *st, struct cr_cert_view *v)
{
	memset(v, 0, sizeof(*v));
	db_read_cert(st, &v->c);
	db_col_copy(st, DB_CERT_NCOLS, v->org_name, sizeof(v->org_name));
	db_col_copy(st, DB_CERT_NCOLS + 1, v->holder_name, sizeof(v->holder_name));
}

static enum cr_err
read_views(struct db_stmt *st, struct cr_cert_view *out, size_t max, size_t *n, const char *what)
{
	enum db_rc rc;

	*n = 0;
	while ((rc = db_step(st)) == DB_ROW && *n < max)
		read_view(st, &out[(*n)++]);
	db_reset(st);
	return rc == DB_DONE || rc == DB_ROW ? CR_OK : db_err(st, what);
}

static const char SQL_VERIFIABLE[] =
    "SELECT " VIEW_COLS " FROM certificates c"
    " JOIN organisations o ON o.id = c.org_id JOIN people p ON p.id = c.holder_id"
    " JOIN confirmations f ON f.cert_id = c.id AND f.decision = 'confirmed'"
    " LEFT JOIN renewals r ON r.cert_id = c.id"
    " WHERE c.holder_id = $1 AND c.status = 'issued' AND c.not_after > $2 AND c.not_after <= $3"
    "   AND coalesce(r.state, 'pending_verification') = 'pending_verification'"
    " ORDER BY CASE c.type WHEN 'encryption' THEN 0 WHEN 'qualified' THEN 1 ELSE 2 END, c.serial_hex";

enum cr_err
cr_db_holder_verifiable_certs(struct cr_db *db, int64_t holder_id, time_t now, int window_days,
    struct cr_cert_view *out, size_t max, size_t *n)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_VERIFIABLE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, holder_id);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, now + (time_t)window_days * 86400);
	return read_views(st, out, max, n, "verifiable certs");
}

static const char SQL_APP_CERTS[] =
    "SELECT " VIEW_COLS " FROM application_certs a JOIN certificates c ON c.id = a.cert_id"
    " JOIN organisations o ON o.id = c.org_id JOIN people p ON p.id = c.holder_id"
    " WHERE a.application_id = $1"
    " ORDER BY CASE c.type WHEN 'encryption' THEN 0 WHEN 'qualified' THEN 1 ELSE 2 END, c.serial_hex";

enum cr_err
cr_db_app_certs(struct cr_db *db, int64_t app_id, struct cr_cert_view *out, size_t max, size_t *n)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_APP_CERTS)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	return read_views(st, out, max, n, "application certs");
}

#define APP_COLS "id, holder_id, state, coalesce(consent_at, 0), created_at, consent_version, counter_reason"

static enum cr_err
read_app(struct db_stmt *st, struct cr_application *a)
{
	enum db_rc rc = db_step(st);
	enum cr_err err = CR_OK;

	if (rc == DB_ROW) {
		memset(a, 0, sizeof(*a));
		a->id = db_col_int(st, 0);
		a->holder_id = db_col_int(st, 1);
		if (!cr_app_state_parse(db_col_text(st, 2), &a->state))
			err = CR_ERR_INVALID;
		a->consent_at = (time_t)db_col_int(st, 3);
		a->created_at = (time_t)db_col_int(st, 4);
		snprintf(a->consent_version, sizeof(a->consent_version), "%s", db_col_text(st, 5));
		snprintf(a->counter_reason, sizeof(a->counter_reason), "%s", db_col_text(st, 6));
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "application");
	db_reset(st);
	return err;
}

static const char SQL_APP_OPEN[] =
    "SELECT " APP_COLS " FROM applications WHERE holder_id = $1 AND state NOT IN ('submitted', 'cancelled')";
static const char SQL_APP_GET[] = "SELECT " APP_COLS " FROM applications WHERE id = $1 AND holder_id = $2";

enum cr_err
cr_db_app_open_for_holder(struct cr_db *db, int64_t holder_id, struct cr_application *out)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_APP_OPEN)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, holder_id);
	return read_app(st, out);
}

enum cr_err
cr_db_app_get(struct cr_db *db, int64_t app_id, int64_t holder_id, struct cr_application *out)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_APP_GET)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	db_bind_int(st, 2, holder_id);
	return read_app(st, out);
}

static const char SQL_APP_INSERT[] =
    "INSERT INTO applications (holder_id, state, created_at, updated_at) VALUES ($1, 'consent', $2, $2) RETURNING id";
static const char SQL_APP_CERT_INSERT[] =
    "INSERT INTO application_certs (application_id, cert_id)"
    " SELECT $1, id FROM certificates WHERE id = $2 AND holder_id = $3";
static const char SQL_RENEWAL_VERIFYING[] =
    "INSERT INTO renewals (cert_id, state, application_id, updated_at) VALUES ($1, 'verifying', $2, $3)"
    " ON CONFLICT (cert_id) DO UPDATE SET state = 'verifying', application_id = excluded.application_id,"
    " updated_at = excluded.updated_at";
static const char SQL_APP_EMAILS_INSERT[] =
    "INSERT INTO email_checks (application_id, email)"
    " SELECT DISTINCT $1, lower(c.email) FROM application_certs a JOIN certificates c ON c.id = a.cert_id"
    " WHERE a.application_id = $1";

enum cr_err
cr_db_app_create(struct cr_db *db, int64_t holder_id, const int64_t *cert_ids, size_t n, time_t now, int64_t *app_id)
{
	struct db_stmt *st;
	enum cr_err err = CR_OK;
	enum db_rc rc;

	if ((st = db_prep(db, SQL_APP_INSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, holder_id);
	db_bind_int(st, 2, now);
	rc = db_step(st);
	if (rc == DB_ROW)
		*app_id = db_col_int(st, 0);
	else
		err = db_is_conflict(st) ? CR_ERR_CONFLICT : db_err(st, "application insert");
	db_reset(st);
	if (err != CR_OK)
		return err;
	for (size_t i = 0; i < n; i++) {
		if ((st = db_prep(db, SQL_APP_CERT_INSERT)) == NULL)
			return CR_ERR_IO;
		db_bind_int(st, 1, *app_id);
		db_bind_int(st, 2, cert_ids[i]);
		db_bind_int(st, 3, holder_id);
		if ((err = db_run(st, "application cert")) != CR_OK)
			return err;
		/* The holder filter above inserted nothing for someone else's certificate. */
		if (db_changes(db) != 1)
			return CR_ERR_NOTFOUND;
		if ((st = db_prep(db, SQL_RENEWAL_VERIFYING)) == NULL)
			return CR_ERR_IO;
		db_bind_int(st, 1, cert_ids[i]);
		db_bind_int(st, 2, *app_id);
		db_bind_int(st, 3, now);
		if ((err = db_run(st, "renewal verifying")) != CR_OK)
			return err;
	}
	if ((st = db_prep(db, SQL_APP_EMAILS_INSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, *app_id);
	return db_run(st, "application emails");
}

static const char SQL_APP_MOVE[] = "UPDATE applications SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2";

enum cr_err
cr_db_app_move(struct cr_db *db, int64_t app_id, enum cr_app_state from, enum cr_app_state to, time_t now)
{
	struct db_stmt *st;
	enum cr_err err;

	if (!cr_app_can_move(from, to))
		return CR_ERR_INVALID;
	if ((st = db_prep(db, SQL_APP_MOVE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	db_bind_text(st, 2, cr_app_state_name(from));
	db_bind_text(st, 3, cr_app_state_name(to));
	db_bind_int(st, 4, now);
	if ((err = db_run(st, "application move")) != CR_OK)
		return err;
	return db_changes(db) == 1 ? CR_OK : CR_ERR_CONFLICT;
}

static const char SQL_APP_CONSENT[] =
    "UPDATE applications SET state = 'emails', consent_at = $2, consent_version = $3, updated_at = $2"
    " WHERE id = $1 AND state = 'consent'";

enum cr_err
cr_db_app_consent(struct cr_db *db, int64_t app_id, const char *version, time_t now)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_APP_CONSENT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	db_bind_int(st, 2, now);
	db_bind_text(st, 3, version);
	if ((err = db_run(st, "consent")) != CR_OK)
		return err;
	return db_changes(db) == 1 ? CR_OK : CR_ERR_CONFLICT;
}

static const char SQL_APP_EMAILS[] =
    "SELECT email, verified_at IS NOT NULL FROM email_checks WHERE application_id = $1 ORDER BY email";

enum cr_err
cr_db_app_emails(struct cr_db *db, int64_t app_id, struct cr_email_check *out, size_t max, size_t *n)
{
	struct db_stmt *st;
	enum db_rc rc;

	*n = 0;
	if ((st = db_prep(db, SQL_APP_EMAILS)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	while ((rc = db_step(st)) == DB_ROW && *n < max) {
		db_col_copy(st, 0, out[*n].email, sizeof(out[*n].email));
		out[*n].verified = db_col_bool(st, 1);
		(*n)++;
	}
	db_reset(st);
	return rc == DB_DONE || rc == DB_ROW ? CR_OK : db_err(st, "application emails");
}

static const char SQL_EMAIL_VERIFIED[] =
    "UPDATE email_checks SET verified_at = $3 WHERE application_id = $1 AND email = $2 AND verified_at IS NULL";

enum cr_err
cr_db_app_email_verified(struct cr_db *db, int64_t app_id, const char *email, time_t now)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_EMAIL_VERIFIED)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	db_bind_text(st, 2, email);
	db_bind_int(st, 3, now);
	if ((err = db_run(st, "email verified")) != CR_OK)
		return err;
	return db_changes(db) == 1 ? CR_OK : CR_ERR_CONFLICT;
}

#define CODE_LATEST \
	"SELECT id, code_hash, created_at, expires_at, attempts, used_at IS NOT NULL FROM email_codes" \
	" WHERE application_id = $1 AND email = $2 ORDER BY id DESC LIMIT 1"

enum cr_err
cr_db_code_latest(struct cr_db *db, int64_t app_id, const char *email, struct cr_code_row *out)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	static const char SQL_CODE_LATEST_SQLITE[] = CODE_LATEST;
	/* Inside the caller's transaction the row stays locked until it ends, so parallel guesses are
	   checked one after the other, each seeing the attempts the one before counted (SQLite: the
	   write transaction already serialises them). */
	static const char SQL_CODE_LATEST_PG[] = CODE_LATEST " FOR UPDATE";

	if ((st = db_prep2(db, SQL_CODE_LATEST_SQLITE, SQL_CODE_LATEST_PG)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	db_bind_text(st, 2, email);
	rc = db_step(st);
	if (rc == DB_ROW) {
		size_t hlen;
		const void *h = db_col_blob(st, 1, &hlen);

		memset(out, 0, sizeof(*out));
		out->id = db_col_int(st, 0);
		if (h == NULL || hlen != CR_HASH_LEN)
			err = CR_ERR_INVALID;
		else
			memcpy(out->hash, h, CR_HASH_LEN);
		out->created_at = (time_t)db_col_int(st, 2);
		out->expires_at = (time_t)db_col_int(st, 3);
		out->attempts = (int)db_col_int(st, 4);
		out->used = db_col_bool(st, 5);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "latest code");
	db_reset(st);
	return err;
}

static const char SQL_CODE_ADD[] =
    "INSERT INTO email_codes (application_id, email, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";

enum cr_err
cr_db_code_add(struct cr_db *db, int64_t app_id, const char *email, const unsigned char hash[CR_HASH_LEN], time_t now,
    time_t expires_at)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CODE_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	db_bind_text(st, 2, email);
	db_bind_blob(st, 3, hash, CR_HASH_LEN);
	db_bind_int(st, 4, now);
	db_bind_int(st, 5, expires_at);
	return db_run(st, "code add");
}

static const char SQL_CODE_WRONG[] = "UPDATE email_codes SET attempts = attempts + 1 WHERE id = $1";
static const char SQL_CODE_USED[] = "UPDATE email_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL";

enum cr_err
cr_db_code_wrong(struct cr_db *db, int64_t code_id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CODE_WRONG)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, code_id);
	return db_run(st, "code wrong");
}

enum cr_err
cr_db_code_used(struct cr_db *db, int64_t code_id, time_t now)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_CODE_USED)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, code_id);
	db_bind_int(st, 2, now);
	if ((err = db_run(st, "code used")) != CR_OK)
		return err;
	/* Two tabs submitting the same code: only one wins. */
	return db_changes(db) == 1 ? CR_OK : CR_ERR_CONFLICT;
}

static const char SQL_CODE_STATS[] =
    "SELECT count(*), coalesce(max(created_at), 0) FROM email_codes WHERE email = $1 AND created_at > $2";
static const char SQL_CODE_LAST[] = "SELECT coalesce(max(created_at), 0) FROM email_codes WHERE email = $1";

enum cr_err
cr_db_code_stats(struct cr_db *db, const char *email, time_t since, int *count, time_t *last_sent)
{
	struct db_stmt *st;
	int64_t v;
	enum cr_err err;

	/* The limits are read and then acted on in the caller's transaction. SQLite serialises writers;
	   on PostgreSQL a lock per address does, so two parallel sends cannot both see "none yet". */
	static const char SQL_CODE_ADDR_LOCK_PG[] = "SELECT pg_advisory_xact_lock(CAST($1 AS INTEGER), hashtext($2))";

	*count = 0;
	*last_sent = 0;
	if (db->kind == DB_PG && db->in_tx) {
		if ((st = db_prep(db, SQL_CODE_ADDR_LOCK_PG)) == NULL)
			return CR_ERR_IO;
		db_bind_int(st, 1, LOCK_CODE_ADDRESS);
		db_bind_text(st, 2, email);
		if ((err = db_run(st, "code address lock")) != CR_OK)
			return err;
	}
	if ((st = db_prep(db, SQL_CODE_STATS)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, email);
	db_bind_int(st, 2, since);
	if ((err = db_one_int(st, "code stats", &v)) != CR_OK)
		return err;
	*count = (int)v;
	if ((st = db_prep(db, SQL_CODE_LAST)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, email);
	err = db_one_int(st, "code stats", &v);
	*last_sent = (time_t)v;
	return err;
}
