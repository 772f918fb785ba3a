/*
 * The store: sessions and OpenID Connect login flows, and their purges; see
 * store.h. Both are keyed by SHA-256 hashes of bearer secrets computed in
 * src/web, never the secrets themselves; taking a login flow is one
 * DELETE ... RETURNING, so a state is usable once.
 */
#include <string.h>

#include "db_int.h"

/* ---- sessions ---- */

static const char SQL_SESSION_CREATE[] =
    "INSERT INTO sessions (id_hash, person_id, created_at, last_seen, ip) VALUES ($1, $2, $3, $3, $4)";
static const char SQL_SESSION_GET[] = "SELECT person_id, created_at, last_seen FROM sessions WHERE id_hash = $1";
static const char SQL_SESSION_TOUCH[] = "UPDATE sessions SET last_seen = $2 WHERE id_hash = $1";
static const char SQL_SESSION_DELETE[] = "DELETE FROM sessions WHERE id_hash = $1";
static const char SQL_SESSION_PURGE[] = "DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2";

enum cr_err
cr_db_session_create(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN], int64_t person_id, time_t now,
    const char *ip)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_SESSION_CREATE)) == NULL)
		return CR_ERR_IO;
	db_bind_blob(st, 1, id_hash, CR_HASH_LEN);
	db_bind_int(st, 2, person_id);
	db_bind_int(st, 3, now);
	db_bind_text(st, 4, ip);
	return db_run(st, "session create");
}

enum cr_err
cr_db_session_get(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN], struct cr_session *out)
{
	struct db_stmt *st;
	enum db_rc rc;

	if ((st = db_prep(db, SQL_SESSION_GET)) == NULL)
		return CR_ERR_IO;
	db_bind_blob(st, 1, id_hash, CR_HASH_LEN);
	if ((rc = db_step(st)) == DB_ROW) {
		out->person_id = db_col_int(st, 0);
		out->created_at = (time_t)db_col_int(st, 1);
		out->last_seen = (time_t)db_col_int(st, 2);
	}
	db_reset(st);
	if (rc == DB_ROW)
		return CR_OK;
	return rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "session get");
}

enum cr_err
cr_db_session_touch(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN], time_t now)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_SESSION_TOUCH)) == NULL)
		return CR_ERR_IO;
	db_bind_blob(st, 1, id_hash, CR_HASH_LEN);
	db_bind_int(st, 2, now);
	return db_run(st, "session touch");
}

enum cr_err
cr_db_session_delete(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN])
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_SESSION_DELETE)) == NULL)
		return CR_ERR_IO;
	db_bind_blob(st, 1, id_hash, CR_HASH_LEN);
	return db_run(st, "session delete");
}

enum cr_err
cr_db_sessions_purge(struct cr_db *db, time_t idle_before, time_t created_before, long *deleted)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_SESSION_PURGE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, idle_before);
	db_bind_int(st, 2, created_before);
	err = db_run(st, "session purge");
	*deleted = err == CR_OK ? (long)db_changes(db) : 0;
	return err;
}

/* ---- login flows ---- */

/*
 * login_flows.return_to (schema version 1) is no longer read or written: nothing used it.
 * Migrations are append-only, so the column stays; new rows get its DEFAULT ''.
 */
static const char SQL_FLOW_CREATE[] =
    "INSERT INTO login_flows (state_hash, browser_hash, nonce, created_at, ip) VALUES ($1, $2, $3, $4, $5)";
static const char SQL_FLOW_RECENT[] = "SELECT count(*) FROM login_flows WHERE ip = $1 AND created_at >= $2";
static const char SQL_FLOW_TAKE[] =
    "DELETE FROM login_flows WHERE state_hash = $1 AND browser_hash = $2 RETURNING browser_hash, nonce, created_at";
static const char SQL_FLOW_PURGE[] = "DELETE FROM login_flows WHERE created_at < $1";

enum cr_err
cr_db_login_flow_create(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN], const struct cr_login_flow *f)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_FLOW_CREATE)) == NULL)
		return CR_ERR_IO;
	db_bind_blob(st, 1, state_hash, CR_HASH_LEN);
	db_bind_blob(st, 2, f->browser_hash, CR_HASH_LEN);
	db_bind_text(st, 3, f->nonce);
	db_bind_int(st, 4, f->created_at);
	db_bind_text(st, 5, f->ip);
	return db_run(st, "login flow create");
}

enum cr_err
cr_db_login_flows_recent(struct cr_db *db, const char *ip, time_t since, long *n)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	*n = 0;
	if ((st = db_prep(db, SQL_FLOW_RECENT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, ip);
	db_bind_int(st, 2, since);
	if ((rc = db_step(st)) == DB_ROW)
		*n = (long)db_col_int(st, 0);
	else
		err = db_err(st, "recent login flows");
	db_reset(st);
	return err;
}

enum cr_err
cr_db_login_flow_take(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN],
    const unsigned char browser_hash[CR_HASH_LEN], struct cr_login_flow *out)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_FLOW_TAKE)) == NULL)
		return CR_ERR_IO;
	db_bind_blob(st, 1, state_hash, CR_HASH_LEN);
	db_bind_blob(st, 2, browser_hash, CR_HASH_LEN);
	rc = db_step(st);
	if (rc == DB_ROW) {
		size_t blen;
		const void *b = db_col_blob(st, 0, &blen);

		memset(out, 0, sizeof(*out));
		if (b != NULL && blen == CR_HASH_LEN)
			memcpy(out->browser_hash, b, CR_HASH_LEN);
		db_col_copy(st, 1, out->nonce, sizeof(out->nonce));
		out->created_at = (time_t)db_col_int(st, 2);
		/* Step to completion so the DELETE takes effect. */
		while ((rc = db_step(st)) == DB_ROW)
			;
		if (rc != DB_DONE)
			err = db_err(st, "login flow take");
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "login flow take");
	db_reset(st);
	return err;
}

enum cr_err
cr_db_login_flows_purge(struct cr_db *db, time_t created_before, long *deleted)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_FLOW_PURGE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, created_before);
	err = db_run(st, "login flow purge");
	*deleted = err == CR_OK ? (long)db_changes(db) : 0;
	return err;
}
