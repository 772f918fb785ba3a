/*
 * The store: the mail outbox and the notices record; see store.h.
 * Claiming is one UPDATE ... RETURNING statement, so several senders never hold
 * the same message under a live lease: atomic in SQLite (one writer at a time);
 * on PostgreSQL the candidates are locked with FOR UPDATE SKIP LOCKED, so a
 * second sender skips what the first is claiming instead of waiting for it.
 */
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "util/log.h"

/* PostgreSQL advisory lock class (two-key form: class, holder id) for notices. */
#define LOCK_NOTICE_HOLDER 0x63724e6f /* "crNo" */

void
cr_outbox_msg_free(struct cr_outbox_msg *m)
{
	free(m->sealed);
	m->sealed = NULL;
	m->sealed_len = 0;
}

static const char SQL_OUTBOX_ADD[] =
    "INSERT INTO outbox (kind, to_addr, subject, message_id, sealed, next_attempt_at, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id";

enum cr_err
cr_db_outbox_add(struct cr_db *db, const struct cr_outbox_msg *m, time_t now, int64_t *id)
{
	struct db_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_OUTBOX_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, m->kind);
	db_bind_text(st, 2, m->to_addr);
	db_bind_text(st, 3, m->subject);
	db_bind_text(st, 4, m->message_id);
	db_bind_blob(st, 5, m->sealed, m->sealed_len);
	db_bind_int(st, 6, now);
	if (db_step(st) == DB_ROW)
		*id = db_col_int(st, 0);
	else
		err = db_err(st, "outbox add");
	db_reset(st);
	return err;
}

#define MSG_COLS "id, kind, to_addr, subject, message_id, state, tries, next_attempt_at, created_at, " \
	"coalesce(sent_at, 0), last_error"

/* Reads the MSG_COLS columns, then the sealed blob at column `sealed_col` if >= 0. */
static enum cr_err
read_msg(struct db_stmt *st, struct cr_outbox_msg *m, int sealed_col)
{
	memset(m, 0, sizeof(*m));
	m->id = db_col_int(st, 0);
	db_col_copy(st, 1, m->kind, sizeof(m->kind));
	db_col_copy(st, 2, m->to_addr, sizeof(m->to_addr));
	db_col_copy(st, 3, m->subject, sizeof(m->subject));
	db_col_copy(st, 4, m->message_id, sizeof(m->message_id));
	db_col_copy(st, 5, m->state, sizeof(m->state));
	m->tries = (int)db_col_int(st, 6);
	m->next_attempt_at = (time_t)db_col_int(st, 7);
	m->created_at = (time_t)db_col_int(st, 8);
	m->sent_at = (time_t)db_col_int(st, 9);
	db_col_copy(st, 10, m->last_error, sizeof(m->last_error));
	if (sealed_col >= 0) {
		size_t len;
		const void *b = db_col_blob(st, sealed_col, &len);

		if (b == NULL || len == 0)
			return CR_ERR_INVALID;
		if ((m->sealed = malloc(len)) == NULL)
			return CR_ERR_NOMEM;
		memcpy(m->sealed, b, len);
		m->sealed_len = len;
	}
	return CR_OK;
}

#define CLAIM_SET \
	"UPDATE outbox SET state = 'sending', claimed_by = $1, claimed_until = $2, tries = tries + 1" \
	" WHERE id IN (SELECT id FROM outbox" \
	"   WHERE (state = 'queued' AND next_attempt_at <= $3) OR (state = 'sending' AND claimed_until < $3)" \
	"   ORDER BY id LIMIT $4"

enum cr_err
cr_db_outbox_claim(struct cr_db *db, const char *worker, time_t now, int lease, size_t max,
    struct cr_outbox_msg *out, size_t *n)
{
	struct db_stmt *st;
	enum cr_err err = CR_OK;
	enum db_rc rc;

	static const char SQL_OUTBOX_CLAIM_SQLITE[] = CLAIM_SET ") RETURNING " MSG_COLS ", sealed";
	/* READ COMMITTED: a row another sender has locked is skipped; one it claimed and committed
	   meanwhile is re-checked against the WHERE clause and left out. */
	static const char SQL_OUTBOX_CLAIM_PG[] = CLAIM_SET " FOR UPDATE SKIP LOCKED) RETURNING " MSG_COLS ", sealed";

	*n = 0;
	if ((st = db_prep2(db, SQL_OUTBOX_CLAIM_SQLITE, SQL_OUTBOX_CLAIM_PG)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, worker);
	db_bind_int(st, 2, now + lease);
	db_bind_int(st, 3, now);
	db_bind_int(st, 4, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW) {
		if (*n == max || read_msg(st, &out[*n], 11) != CR_OK) {
			/* Left claimed: the lease expires and another pass takes it. */
			continue;
		}
		(*n)++;
	}
	if (rc != DB_DONE)
		err = db_err(st, "outbox claim");
	db_reset(st);
	if (err != CR_OK) {
		for (size_t i = 0; i < *n; i++)
			cr_outbox_msg_free(&out[i]);
		*n = 0;
	}
	return err;
}

static const char SQL_OUTBOX_RENEW[] =
    "UPDATE outbox SET claimed_until = $3 WHERE id = $1 AND claimed_by = $2 AND state = 'sending'";

enum cr_err
cr_db_outbox_renew(struct cr_db *db, int64_t id, const char *worker, time_t until)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_OUTBOX_RENEW)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, worker);
	db_bind_int(st, 3, until);
	if ((err = db_run(st, "outbox renew")) != CR_OK)
		return err;
	/* Claiming rewrites claimed_by in one statement, so this is a compare-and-set: no row means
	   another sender claimed the message after our lease ran out (or it was settled). */
	return db_changes(db) == 1 ? CR_OK : CR_ERR_CONFLICT;
}

static const char SQL_OUTBOX_SENT[] =
    "UPDATE outbox SET state = 'sent', sent_at = $3, last_error = ''"
    " WHERE id = $1 AND claimed_by = $2 AND state = 'sending'";

enum cr_err
cr_db_outbox_sent(struct cr_db *db, int64_t id, const char *worker, time_t now)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_OUTBOX_SENT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, worker);
	db_bind_int(st, 3, now);
	return db_run(st, "outbox sent");
}

static const char SQL_OUTBOX_RETRY[] =
    "UPDATE outbox SET state = CASE WHEN $5 THEN 'failed' ELSE 'queued' END, next_attempt_at = $3,"
    " last_error = $4, claimed_until = 0"
    " WHERE id = $1 AND claimed_by = $2 AND state = 'sending'";

enum cr_err
cr_db_outbox_retry(struct cr_db *db, int64_t id, const char *worker, time_t next_at, const char *error,
    bool give_up)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_OUTBOX_RETRY)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, worker);
	db_bind_int(st, 3, next_at);
	db_bind_text(st, 4, error);
	db_bind_bool(st, 5, give_up);
	return db_run(st, "outbox retry");
}

static const char SQL_OUTBOX_LIST_ALL[] = "SELECT " MSG_COLS " FROM outbox ORDER BY id DESC LIMIT $1 OFFSET $2";
static const char SQL_OUTBOX_LIST_STATE[] =
    "SELECT " MSG_COLS " FROM outbox WHERE state = $3 ORDER BY id DESC LIMIT $1 OFFSET $2";

enum cr_err
cr_db_outbox_list(struct cr_db *db, const char *state, size_t offset, size_t max, struct cr_outbox_msg *out,
    size_t *n)
{
	struct db_stmt *st;
	enum db_rc rc;

	*n = 0;
	if ((st = db_prep(db, state ? SQL_OUTBOX_LIST_STATE : SQL_OUTBOX_LIST_ALL)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, (int64_t)max);
	db_bind_int(st, 2, (int64_t)offset);
	if (state != NULL)
		db_bind_text(st, 3, state);
	while ((rc = db_step(st)) == DB_ROW && *n < max)
		read_msg(st, &out[(*n)++], -1);
	db_reset(st);
	return rc == DB_DONE || rc == DB_ROW ? CR_OK : db_err(st, "outbox list");
}

static const char SQL_OUTBOX_GET[] = "SELECT " MSG_COLS ", sealed FROM outbox WHERE id = $1";

enum cr_err
cr_db_outbox_get(struct cr_db *db, int64_t id, struct cr_outbox_msg *out)
{
	struct db_stmt *st;
	enum cr_err err;
	enum db_rc rc;

	if ((st = db_prep(db, SQL_OUTBOX_GET)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	rc = db_step(st);
	if (rc == DB_ROW)
		err = read_msg(st, out, 11);
	else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "outbox get");
	db_reset(st);
	return err;
}

static const char SQL_OUTBOX_REQUEUE_ONE[] =
    "UPDATE outbox SET state = 'queued', tries = 0, next_attempt_at = $2 WHERE state = 'failed' AND id = $1";
static const char SQL_OUTBOX_REQUEUE_ALL[] =
    "UPDATE outbox SET state = 'queued', tries = 0, next_attempt_at = $2 WHERE state = 'failed' AND $1 = 0";

enum cr_err
cr_db_outbox_requeue_failed(struct cr_db *db, int64_t id, time_t now, long *count)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, id ? SQL_OUTBOX_REQUEUE_ONE : SQL_OUTBOX_REQUEUE_ALL)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, now);
	err = db_run(st, "outbox requeue");
	*count = err == CR_OK ? (long)db_changes(db) : 0;
	return err;
}

static const char SQL_OUTBOX_COUNT_ALL[] = "SELECT count(*) FROM outbox WHERE $1 = $1";
static const char SQL_OUTBOX_COUNT_STATE[] = "SELECT count(*) FROM outbox WHERE state = $1";

enum cr_err
cr_db_outbox_count(struct cr_db *db, const char *state, long *out)
{
	struct db_stmt *st;
	int64_t v;
	enum cr_err err;

	if ((st = db_prep(db, state ? SQL_OUTBOX_COUNT_STATE : SQL_OUTBOX_COUNT_ALL)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, state ? state : "");
	err = db_one_int(st, "count", &v);
	*out = (long)v;
	return err;
}

/* ---- notices ---- */

/*
 * The due set, shared by both queries. $1 kind, $2 now, $3 now + days, $4 1 for reminders,
 * $7 days in seconds.
 * A notice is due once per certificate validity. A reminder needs the first notice sent, the
 * holder not yet through verification, nothing sent for this certificate since it entered the
 * reminder's window (so reminders run smallest window first and a late run sends one, not all),
 * and nothing sent to the holder in the last day (one mail a day at most).
 */
#define DUE_WHERE \
	" FROM certificates c" \
	" JOIN confirmations f ON f.cert_id = c.id AND f.decision = 'confirmed'" \
	" LEFT JOIN renewals r ON r.cert_id = c.id" \
	" WHERE c.status = 'issued' AND c.not_after > $2 AND c.not_after <= $3" \
	"   AND coalesce(r.state, 'pending_verification') NOT IN ('renewed', 'cancelled')" \
	"   AND (($4 = 0 AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.cert_id = c.id" \
	"                                AND n.not_after = c.not_after AND n.kind = $1))" \
	"     OR ($4 = 1 AND coalesce(r.state, 'pending_verification') IN ('pending_verification', 'verifying')" \
	"        AND EXISTS (SELECT 1 FROM notices n0 WHERE n0.cert_id = c.id AND n0.not_after = c.not_after" \
	"                    AND n0.kind = 'notice')" \
	"        AND NOT EXISTS (SELECT 1 FROM notices n1 WHERE n1.cert_id = c.id AND n1.not_after = c.not_after" \
	"                        AND n1.created_at > c.not_after - $7)" \
	"        AND NOT EXISTS (SELECT 1 FROM notices n2 JOIN certificates c2 ON c2.id = n2.cert_id" \
	"                        WHERE c2.holder_id = c.holder_id AND n2.created_at > $2 - 86400)))"

static const char SQL_DUE_HOLDERS[] =
    "SELECT DISTINCT c.holder_id" DUE_WHERE " AND c.holder_id > $5 ORDER BY c.holder_id LIMIT $6";
static const char SQL_DUE_CERTS[] =
    "SELECT c.id, c.type, c.serial_hex, c.not_after, c.email" DUE_WHERE " AND c.holder_id = $5"
    " ORDER BY c.not_after, c.id LIMIT $6";

static void
bind_due(struct db_stmt *st, const char *kind, time_t now, int days)
{
	db_bind_text(st, 1, kind);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, now + (time_t)days * 86400);
	db_bind_int(st, 4, strncmp(kind, "reminder", 8) == 0 ? 1 : 0);
	db_bind_int(st, 7, (int64_t)days * 86400);
}

enum cr_err
cr_db_notice_due_holders(struct cr_db *db, const char *kind, time_t now, int days, int64_t after_id, size_t max,
    int64_t *ids, size_t *n)
{
	struct db_stmt *st;
	enum db_rc rc;

	*n = 0;
	if ((st = db_prep(db, SQL_DUE_HOLDERS)) == NULL)
		return CR_ERR_IO;
	bind_due(st, kind, now, days);
	db_bind_int(st, 5, after_id);
	db_bind_int(st, 6, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max)
		ids[(*n)++] = db_col_int(st, 0);
	db_reset(st);
	return rc == DB_DONE || rc == DB_ROW ? CR_OK : db_err(st, "due holders");
}

enum cr_err
cr_db_notice_due_certs(struct cr_db *db, int64_t holder_id, const char *kind, time_t now, int days,
    struct cr_due_cert *out, size_t max, size_t *n)
{
	/*
	 * Exactly once with several runners. SQLite: the caller's write transaction (BEGIN IMMEDIATE)
	 * already serialises them. PostgreSQL (READ COMMITTED): a lock per holder, held to the end of
	 * the caller's transaction, so a second runner waits here and then reads what the first
	 * committed (each statement takes a fresh snapshot) and finds nothing left to send.
	 */
	static const char SQL_NOTICE_HOLDER_LOCK_PG[] =
	    "SELECT pg_advisory_xact_lock(CAST($1 AS INTEGER), CAST($2 AS INTEGER))";
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err;

	*n = 0;
	if (db->kind == DB_PG && db->in_tx) {
		if ((st = db_prep(db, SQL_NOTICE_HOLDER_LOCK_PG)) == NULL)
			return CR_ERR_IO;
		db_bind_int(st, 1, LOCK_NOTICE_HOLDER);
		db_bind_int(st, 2, holder_id & 0x7fffffff);
		if ((err = db_run(st, "notice lock")) != CR_OK)
			return err;
	}
	if ((st = db_prep(db, SQL_DUE_CERTS)) == NULL)
		return CR_ERR_IO;
	bind_due(st, kind, now, days);
	db_bind_int(st, 5, holder_id);
	db_bind_int(st, 6, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max) {
		struct cr_due_cert *c = &out[*n];

		c->cert_id = db_col_int(st, 0);
		if (!cr_cert_type_parse(db_col_text(st, 1), &c->type))
			continue;
		db_col_copy(st, 2, c->serial_hex, sizeof(c->serial_hex));
		c->not_after = (time_t)db_col_int(st, 3);
		db_col_copy(st, 4, c->email, sizeof(c->email));
		(*n)++;
	}
	db_reset(st);
	return rc == DB_DONE || rc == DB_ROW ? CR_OK : db_err(st, "due certs");
}

static const char SQL_NOTICE_ADD[] =
    "INSERT INTO notices (cert_id, not_after, kind, outbox_id, created_at) VALUES ($1, $2, $3, $4, $5)";

enum cr_err
cr_db_notice_add(struct cr_db *db, int64_t cert_id, time_t not_after, const char *kind, int64_t outbox_id, time_t now)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_NOTICE_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	db_bind_int(st, 2, not_after);
	db_bind_text(st, 3, kind);
	db_bind_int(st, 4, outbox_id);
	db_bind_int(st, 5, now);
	rc = db_step(st);
	/* A duplicate is an expected race, not an error worth a log line. */
	if (db_is_conflict(st))
		err = CR_ERR_CONFLICT;
	else if (rc != DB_DONE)
		err = db_err(st, "notice add");
	db_reset(st);
	return err;
}

static const char SQL_NOTICE_COUNT[] = "SELECT count(*) FROM notices WHERE kind = $1";

enum cr_err
cr_db_notice_count(struct cr_db *db, const char *kind, long *out)
{
	struct db_stmt *st;
	int64_t v;
	enum cr_err err;

	if ((st = db_prep(db, SQL_NOTICE_COUNT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, kind);
	err = db_one_int(st, "count", &v);
	*out = (long)v;
	return err;
}
