/*
 * The store: the audit log, append-only and hash-chained (SPEC R11.1); see
 * store.h and docs/internals/store.md. cr_db_audit runs only inside a
 * transaction and reads the previous row's hash under a lock every appender
 * takes, so a state change and its audit row commit together and concurrent
 * writers cannot fork the chain; cr_db_audit_verify recomputes it.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "db_int.h"
#include "util/log.h"

/* PostgreSQL advisory lock key (one-key form) held while appending to the chain. */
#define LOCK_AUDIT_CHAIN 0x637241756469LL  /* "crAudi" */

/* Hash input: each field as 8-byte big-endian length then bytes, so no two rows hash alike by shifting text. */
static void
hash_field(crypto_hash_sha256_state *h, const char *s)
{
	size_t n = strlen(s);
	unsigned char len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	crypto_hash_sha256_update(h, len, sizeof(len));
	crypto_hash_sha256_update(h, (const unsigned char *)s, n);
}

static void
audit_hash(const char *prev, int64_t id, time_t at, const struct cr_audit *a, char out[65])
{
	crypto_hash_sha256_state h;
	unsigned char md[32];
	char num[48];

	crypto_hash_sha256_init(&h);
	hash_field(&h, prev);
	snprintf(num, sizeof(num), "%lld", (long long)id);
	hash_field(&h, num);
	snprintf(num, sizeof(num), "%lld", (long long)at);
	hash_field(&h, num);
	hash_field(&h, a->actor);
	hash_field(&h, a->action);
	hash_field(&h, a->object);
	hash_field(&h, a->ip);
	hash_field(&h, a->detail);
	crypto_hash_sha256_final(&h, md);
	sodium_bin2hex(out, 65, md, sizeof(md));
}

static const char SQL_AUDIT_LAST[] = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1";
static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit_log (id, at, actor, action, object, ip, detail, prev_hash, hash)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/*
 * The read of the last hash must happen under a lock that every appender takes, or two
 * writers fork the chain. SQLite: BEGIN IMMEDIATE already holds the database's write lock.
 * PostgreSQL (READ COMMITTED): a transaction-scoped advisory lock, taken once per transaction
 * and held to its end, so the next appender reads the last hash after this one committed.
 */
static enum cr_err
audit_lock(struct cr_db *db)
{
	static const char SQL_AUDIT_LOCK_PG[] = "SELECT pg_advisory_xact_lock($1)";
	struct db_stmt *st;
	enum cr_err err;

	if (db->kind != DB_PG || db->audit_locked)
		return CR_OK;
	if ((st = db_prep(db, SQL_AUDIT_LOCK_PG)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, LOCK_AUDIT_CHAIN);
	if ((err = db_run(st, "audit lock")) == CR_OK)
		db->audit_locked = true;
	return err;
}

enum cr_err
cr_db_audit(struct cr_db *db, time_t at, const struct cr_audit *in)
{
	struct db_stmt *st;
	char prev[65] = "genesis", hash[65];
	int64_t id = 1;
	enum db_rc rc;
	enum cr_err err;
	struct cr_audit a = {
		in->actor ? in->actor : "", in->action ? in->action : "", in->object ? in->object : "",
		in->ip ? in->ip : "", in->detail ? in->detail : "",
	};

	if (!db->in_tx) {
		cr_error("store", "audit row outside a transaction");
		return CR_ERR_CONFLICT;
	}
	if ((err = audit_lock(db)) != CR_OK)
		return err;
	if ((st = db_prep(db, SQL_AUDIT_LAST)) == NULL)
		return CR_ERR_IO;
	if ((rc = db_step(st)) == DB_ROW) {
		id = db_col_int(st, 0) + 1;
		db_col_copy(st, 1, prev, sizeof(prev));
	} else if (rc == DB_ERR) {
		err = db_err(st, "audit last");
		db_reset(st);
		return err;
	}
	db_reset(st);
	audit_hash(prev, id, at, &a, hash);
	if ((st = db_prep(db, SQL_AUDIT_INSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, at);
	db_bind_text(st, 3, a.actor);
	db_bind_text(st, 4, a.action);
	db_bind_text(st, 5, a.object);
	db_bind_text(st, 6, a.ip);
	db_bind_text(st, 7, a.detail);
	db_bind_text(st, 8, prev);
	db_bind_text(st, 9, hash);
	return db_run(st, "audit insert");
}

static const char SQL_AUDIT_ALL[] =
    "SELECT id, at, actor, action, object, ip, detail, prev_hash, hash FROM audit_log ORDER BY id";

enum cr_err
cr_db_audit_verify(struct cr_db *db, long *rows, int64_t *bad_id)
{
	struct db_stmt *st;
	char prev[65] = "genesis";
	enum db_rc rc;
	enum cr_err err = CR_OK;

	*rows = 0;
	*bad_id = 0;
	if ((st = db_prep(db, SQL_AUDIT_ALL)) == NULL)
		return CR_ERR_IO;
	while ((rc = db_step(st)) == DB_ROW) {
		char hash[65];
		const char *f[5], *stored_prev, *stored;
		struct cr_audit a;
		int64_t id = db_col_int(st, 0);

		for (int i = 0; i < 5; i++) {
			const char *t = db_col_text(st, 2 + i);
			f[i] = t ? t : "";
		}
		a = (struct cr_audit){f[0], f[1], f[2], f[3], f[4]};
		/* Compared whole, as stored: a copy into a fixed buffer would hide appended text. */
		stored_prev = db_col_text(st, 7);
		stored = db_col_text(st, 8);
		audit_hash(prev, id, (time_t)db_col_int(st, 1), &a, hash);
		if (stored_prev == NULL || stored == NULL || strcmp(stored_prev, prev) != 0 || strcmp(stored, hash) != 0) {
			*bad_id = id;
			db_reset(st);
			return CR_ERR_CONFLICT;
		}
		memcpy(prev, hash, sizeof(prev));
		(*rows)++;
	}
	if (rc == DB_ERR)
		err = db_err(st, "audit verify");
	db_reset(st);
	return err;
}

static const char SQL_AUDIT_COUNT[] = "SELECT count(*) FROM audit_log WHERE action = $1";

enum cr_err
cr_db_audit_count(struct cr_db *db, const char *action, long *out)
{
	struct db_stmt *st;
	int64_t n;
	enum cr_err err;

	*out = 0;
	if ((st = db_prep(db, SQL_AUDIT_COUNT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, action);
	err = db_one_int(st, "audit count", &n);
	*out = (long)n;
	return err;
}
