/*
 * SQLite backend of the store; see store.h.
 *
 * Each connection keeps its prepared statements, keyed by the address of the
 * SQL string constant, so a statement is compiled once per connection. SQL
 * uses $1..$n placeholders (the PostgreSQL spelling), bound by name.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "migrations.h"
#include "sqlite_int.h"
#include "util/log.h"

struct cr_store {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	struct cr_db *dbs;
};

/* ---- connections and statements ---- */

enum cr_err
sq_err(struct cr_db *db, const char *what)
{
	int code = sqlite3_extended_errcode(db->h);

	cr_error("store", "%s: %s", what, sqlite3_errmsg(db->h));
	if ((code & 0xff) == SQLITE_CONSTRAINT)
		return CR_ERR_CONFLICT;
	return CR_ERR_IO;
}

sqlite3_stmt *
sq_prep(struct cr_db *db, const char *sql)
{
	int free_slot = -1;
	sqlite3_stmt *st = NULL;

	for (int i = 0; i < STMT_CACHE; i++) {
		if (db->cache[i].sql == sql) {
			sqlite3_reset(db->cache[i].st);
			sqlite3_clear_bindings(db->cache[i].st);
			return db->cache[i].st;
		}
		if (db->cache[i].sql == NULL && free_slot < 0)
			free_slot = i;
	}
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		cr_error("store", "prepare: %s", sqlite3_errmsg(db->h));
		return NULL;
	}
	if (free_slot >= 0) {
		db->cache[free_slot].sql = sql;
		db->cache[free_slot].st = st;
	} else {
		/* The cache is sized for every statement in this file; reaching here is a bug. */
		cr_error("store", "statement cache full");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

static int
pidx(sqlite3_stmt *st, int n)
{
	char name[8];

	snprintf(name, sizeof(name), "$%d", n);
	return sqlite3_bind_parameter_index(st, name);
}

void
sq_bind_text(sqlite3_stmt *st, int n, const char *s)
{
	sqlite3_bind_text(st, pidx(st, n), s ? s : "", -1, SQLITE_TRANSIENT);
}

void
sq_bind_int(sqlite3_stmt *st, int n, int64_t v)
{
	sqlite3_bind_int64(st, pidx(st, n), v);
}

void
sq_bind_blob(sqlite3_stmt *st, int n, const void *p, size_t len)
{
	if (p == NULL)
		sqlite3_bind_null(st, pidx(st, n));
	else
		sqlite3_bind_blob(st, pidx(st, n), p, (int)len, SQLITE_TRANSIENT);
}

void
sq_col_text(sqlite3_stmt *st, int i, char *out, size_t outlen)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

/* Runs a statement that returns no rows. */
enum cr_err
sq_run(struct cr_db *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	enum cr_err err = CR_OK;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sq_err(db, what);
	sqlite3_reset(st);
	return err;
}

enum cr_err
sq_exec(struct cr_db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cr_error("store", "exec: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return CR_ERR_IO;
	}
	return CR_OK;
}

static enum cr_err
open_one(const char *path, struct cr_db *db)
{
	memset(db, 0, sizeof(*db));
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		cr_error("store", "open %s: %s", path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
		return CR_ERR_IO;
	}
	sqlite3_busy_timeout(db->h, 10000);
	return sq_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
}

static void
close_one(struct cr_db *db)
{
	for (int i = 0; i < STMT_CACHE; i++)
		if (db->cache[i].st != NULL)
			sqlite3_finalize(db->cache[i].st);
	sqlite3_close(db->h);
}

enum cr_err
cr_store_open(const char *url, int connections, struct cr_store **out)
{
	struct cr_store *st;
	const char *path = url;
	enum cr_err err;

	*out = NULL;
	if (strncmp(url, "sqlite:", 7) == 0)
		path = url + 7;
	else if (strstr(url, "://") != NULL) {
		cr_error("store", "unsupported database url scheme (this build has sqlite:PATH)");
		return CR_ERR_CONFIG;
	}
	if (connections < 1)
		connections = 1;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->dbs = calloc((size_t)connections, sizeof(*st->dbs))) == NULL) {
		free(st);
		return CR_ERR_NOMEM;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	for (st->n = 0; st->n < connections; st->n++)
		if ((err = open_one(path, &st->dbs[st->n])) != CR_OK) {
			st->n++;
			cr_store_close(st);
			return err;
		}
	*out = st;
	return CR_OK;
}

void
cr_store_close(struct cr_store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < st->n; i++)
		close_one(&st->dbs[i]);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	free(st->dbs);
	free(st);
}

struct cr_db *
cr_store_get(struct cr_store *st)
{
	struct cr_db *db = NULL;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		for (int i = 0; i < st->n; i++)
			if (!st->dbs[i].busy) {
				db = &st->dbs[i];
				break;
			}
		if (db != NULL)
			break;
		pthread_cond_wait(&st->cv, &st->mu);
	}
	db->busy = true;
	pthread_mutex_unlock(&st->mu);
	return db;
}

void
cr_store_put(struct cr_store *st, struct cr_db *db)
{
	if (db == NULL)
		return;
	if (db->in_tx)
		cr_db_rollback(db);
	pthread_mutex_lock(&st->mu);
	db->busy = false;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

enum cr_err
cr_db_begin(struct cr_db *db)
{
	enum cr_err err;

	if (db->in_tx)
		return CR_ERR_CONFLICT;
	if ((err = sq_exec(db, "BEGIN IMMEDIATE")) == CR_OK)
		db->in_tx = true;
	return err;
}

enum cr_err
cr_db_commit(struct cr_db *db)
{
	enum cr_err err;

	if (!db->in_tx)
		return CR_ERR_CONFLICT;
	err = sq_exec(db, "COMMIT");
	if (err != CR_OK)
		sq_exec(db, "ROLLBACK");
	db->in_tx = false;
	return err;
}

void
cr_db_rollback(struct cr_db *db)
{
	if (db->in_tx)
		sq_exec(db, "ROLLBACK");
	db->in_tx = false;
}

/* ---- migrations ---- */

enum cr_err
cr_db_schema_version(struct cr_db *db, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = 0;
	if (sq_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)") != CR_OK)
		return CR_ERR_IO;
	if (sqlite3_prepare_v2(db->h, "SELECT max(version) FROM schema_version", -1, &st, NULL) != SQLITE_OK)
		return sq_err(db, "schema version");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? CR_OK : CR_ERR_IO;
}

enum cr_err
cr_db_migrate(struct cr_db *db)
{
	int v;
	enum cr_err err;

	if ((err = cr_db_begin(db)) != CR_OK)
		return err;
	if ((err = cr_db_schema_version(db, &v)) != CR_OK)
		goto out;
	if ((size_t)v > cr_sqlite_migration_count) {
		cr_error("store", "database schema %d is newer than this program (%zu)", v, cr_sqlite_migration_count);
		err = CR_ERR_CONFLICT;
		goto out;
	}
	for (size_t i = (size_t)v; i < cr_sqlite_migration_count; i++) {
		char bump[96];

		if ((err = sq_exec(db, cr_sqlite_migrations[i])) != CR_OK)
			goto out;
		snprintf(bump, sizeof(bump), "INSERT INTO schema_version (version) VALUES (%zu)", i + 1);
		if ((err = sq_exec(db, bump)) != CR_OK)
			goto out;
		cr_info("store", "migrated schema to version %zu", i + 1);
	}
	return cr_db_commit(db);
out:
	cr_db_rollback(db);
	return err;
}

/* ---- audit log ---- */

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

enum cr_err
cr_db_audit(struct cr_db *db, time_t at, const struct cr_audit *in)
{
	sqlite3_stmt *st;
	char prev[65] = "genesis", hash[65];
	int64_t id = 1;
	struct cr_audit a = {
		in->actor ? in->actor : "", in->action ? in->action : "", in->object ? in->object : "",
		in->ip ? in->ip : "", in->detail ? in->detail : "",
	};

	if (!db->in_tx) {
		cr_error("store", "audit row outside a transaction");
		return CR_ERR_CONFLICT;
	}
	if ((st = sq_prep(db, SQL_AUDIT_LAST)) == NULL)
		return CR_ERR_IO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0) + 1;
		sq_col_text(st, 1, prev, sizeof(prev));
	}
	sqlite3_reset(st);
	audit_hash(prev, id, at, &a, hash);
	if ((st = sq_prep(db, SQL_AUDIT_INSERT)) == NULL)
		return CR_ERR_IO;
	sq_bind_int(st, 1, id);
	sq_bind_int(st, 2, at);
	sq_bind_text(st, 3, a.actor);
	sq_bind_text(st, 4, a.action);
	sq_bind_text(st, 5, a.object);
	sq_bind_text(st, 6, a.ip);
	sq_bind_text(st, 7, a.detail);
	sq_bind_text(st, 8, prev);
	sq_bind_text(st, 9, hash);
	return sq_run(db, st, "audit insert");
}

static const char SQL_AUDIT_ALL[] =
    "SELECT id, at, actor, action, object, ip, detail, prev_hash, hash FROM audit_log ORDER BY id";

enum cr_err
cr_db_audit_verify(struct cr_db *db, long *rows, int64_t *bad_id)
{
	sqlite3_stmt *st;
	char prev[65] = "genesis";
	int rc;

	*rows = 0;
	*bad_id = 0;
	if ((st = sq_prep(db, SQL_AUDIT_ALL)) == NULL)
		return CR_ERR_IO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char hash[65];
		const char *f[5], *stored_prev, *stored;
		struct cr_audit a;
		int64_t id = sqlite3_column_int64(st, 0);

		for (int i = 0; i < 5; i++) {
			const unsigned char *t = sqlite3_column_text(st, 2 + i);
			f[i] = t ? (const char *)t : "";
		}
		a = (struct cr_audit){f[0], f[1], f[2], f[3], f[4]};
		/* Compared whole, as stored: a copy into a fixed buffer would hide appended text. */
		stored_prev = (const char *)sqlite3_column_text(st, 7);
		stored = (const char *)sqlite3_column_text(st, 8);
		audit_hash(prev, id, (time_t)sqlite3_column_int64(st, 1), &a, hash);
		if (stored_prev == NULL || stored == NULL || strcmp(stored_prev, prev) != 0 || strcmp(stored, hash) != 0) {
			*bad_id = id;
			sqlite3_reset(st);
			return CR_ERR_CONFLICT;
		}
		memcpy(prev, hash, sizeof(prev));
		(*rows)++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? CR_OK : sq_err(db, "audit verify");
}

static const char SQL_AUDIT_COUNT[] = "SELECT count(*) FROM audit_log WHERE action = $1";

enum cr_err
cr_db_audit_count(struct cr_db *db, const char *action, long *out)
{
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_AUDIT_COUNT)) == NULL)
		return CR_ERR_IO;
	sq_bind_text(st, 1, action);
	*out = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return CR_OK;
}

/* ---- organisations and people ---- */

static const char SQL_ORG_UPSERT[] =
    "INSERT INTO organisations (code, name) VALUES ($1, $2)"
    " ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id";

enum cr_err
cr_db_org_upsert(struct cr_db *db, const char *code, const char *name, int64_t *id)
{
	sqlite3_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = sq_prep(db, SQL_ORG_UPSERT)) == NULL)
		return CR_ERR_IO;
	sq_bind_text(st, 1, code);
	sq_bind_text(st, 2, name);
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		err = sq_err(db, "org upsert");
	sqlite3_reset(st);
	return err;
}

static const char SQL_PERSON_UPSERT[] =
    "INSERT INTO people (govid_sub, name, name_zh, email, id_number, org_id, department, position, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    " ON CONFLICT (govid_sub) DO UPDATE SET name = excluded.name, name_zh = excluded.name_zh,"
    " email = excluded.email, id_number = excluded.id_number, org_id = excluded.org_id,"
    " department = excluded.department, position = excluded.position RETURNING id";

enum cr_err
cr_db_person_upsert(struct cr_db *db, const struct cr_person *p, int64_t *id)
{
	sqlite3_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = sq_prep(db, SQL_PERSON_UPSERT)) == NULL)
		return CR_ERR_IO;
	sq_bind_text(st, 1, p->sub);
	sq_bind_text(st, 2, p->name);
	sq_bind_text(st, 3, p->name_zh);
	sq_bind_text(st, 4, p->email);
	sq_bind_text(st, 5, p->id_number);
	sq_bind_int(st, 6, p->org_id);
	sq_bind_text(st, 7, p->department);
	sq_bind_text(st, 8, p->position);
	sq_bind_int(st, 9, time(NULL));
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		err = sq_err(db, "person upsert");
	sqlite3_reset(st);
	return err;
}

static const char SQL_ROLE_ADD[] =
    "INSERT INTO staff_roles (person_id, role, org_id) VALUES ($1, $2, $3)"
    " ON CONFLICT (person_id, role) DO UPDATE SET org_id = excluded.org_id";

enum cr_err
cr_db_role_add(struct cr_db *db, int64_t person_id, const char *role, int64_t org_id)
{
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_ROLE_ADD)) == NULL)
		return CR_ERR_IO;
	sq_bind_int(st, 1, person_id);
	sq_bind_text(st, 2, role);
	sq_bind_int(st, 3, org_id);
	return sq_run(db, st, "role add");
}

#define PERSON_COLS \
	"p.id, p.govid_sub, p.name, p.name_zh, p.email, p.id_number, p.org_id, o.name, p.department, p.position," \
	" EXISTS (SELECT 1 FROM staff_roles r WHERE r.person_id = p.id AND r.role = 'coordinator')," \
	" EXISTS (SELECT 1 FROM staff_roles r WHERE r.person_id = p.id AND r.role = 'officer')" \
	" FROM people p JOIN organisations o ON o.id = p.org_id"

static const char SQL_PERSON_BY_SUB[] = "SELECT " PERSON_COLS " WHERE p.govid_sub = $1";
static const char SQL_PERSON_BY_ID[] = "SELECT " PERSON_COLS " WHERE p.id = $1";

static enum cr_err
read_person(struct cr_db *db, sqlite3_stmt *st, struct cr_person *p)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		memset(p, 0, sizeof(*p));
		p->id = sqlite3_column_int64(st, 0);
		sq_col_text(st, 1, p->sub, sizeof(p->sub));
		sq_col_text(st, 2, p->name, sizeof(p->name));
		sq_col_text(st, 3, p->name_zh, sizeof(p->name_zh));
		sq_col_text(st, 4, p->email, sizeof(p->email));
		sq_col_text(st, 5, p->id_number, sizeof(p->id_number));
		p->org_id = sqlite3_column_int64(st, 6);
		sq_col_text(st, 7, p->org_name, sizeof(p->org_name));
		sq_col_text(st, 8, p->department, sizeof(p->department));
		sq_col_text(st, 9, p->position, sizeof(p->position));
		p->is_coordinator = sqlite3_column_int(st, 10) != 0;
		p->is_officer = sqlite3_column_int(st, 11) != 0;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return CR_OK;
	return rc == SQLITE_DONE ? CR_ERR_NOTFOUND : sq_err(db, "person");
}

enum cr_err
cr_db_person_by_sub(struct cr_db *db, const char *sub, struct cr_person *out)
{
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_PERSON_BY_SUB)) == NULL)
		return CR_ERR_IO;
	sq_bind_text(st, 1, sub);
	return read_person(db, st, out);
}

enum cr_err
cr_db_person_by_id(struct cr_db *db, int64_t id, struct cr_person *out)
{
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_PERSON_BY_ID)) == NULL)
		return CR_ERR_IO;
	sq_bind_int(st, 1, id);
	return read_person(db, st, out);
}

static const char SQL_PERSON_COUNT[] = "SELECT count(*) FROM people";

enum cr_err
cr_db_person_count(struct cr_db *db, long *out)
{
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_PERSON_COUNT)) == NULL)
		return CR_ERR_IO;
	*out = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return CR_OK;
}

/* ---- certificates ---- */

static const char SQL_CERT_INSERT[] =
    "INSERT INTO certificates (serial_hex, type, status, not_before, not_after, holder_id, email, org_id,"
    " department, position, tx_limit, proxy_qualification, signing_account, der, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";

enum cr_err
cr_db_cert_insert(struct cr_db *db, const struct cr_cert *c, int64_t *id)
{
	sqlite3_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = sq_prep(db, SQL_CERT_INSERT)) == NULL)
		return CR_ERR_IO;
	sq_bind_text(st, 1, c->serial_hex);
	sq_bind_text(st, 2, cr_cert_type_name(c->type));
	sq_bind_text(st, 3, c->status[0] ? c->status : "issued");
	sq_bind_int(st, 4, c->not_before);
	sq_bind_int(st, 5, c->not_after);
	sq_bind_int(st, 6, c->holder_id);
	sq_bind_text(st, 7, c->email);
	sq_bind_int(st, 8, c->org_id);
	sq_bind_text(st, 9, c->department);
	sq_bind_text(st, 10, c->position);
	sq_bind_text(st, 11, c->tx_limit);
	sq_bind_text(st, 12, c->proxy);
	sq_bind_text(st, 13, c->signing_account);
	sq_bind_blob(st, 14, c->der, c->der_len);
	sq_bind_int(st, 15, time(NULL));
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		err = sq_err(db, "certificate insert");
	sqlite3_reset(st);
	return err;
}

static const char SQL_CONFIRM_SET[] =
    "INSERT INTO confirmations (cert_id, decision, decided_by, decided_at) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (cert_id) DO UPDATE SET decision = excluded.decision,"
    " decided_by = excluded.decided_by, decided_at = excluded.decided_at";

enum cr_err
cr_db_confirmation_set(struct cr_db *db, int64_t cert_id, const char *decision, const char *by, time_t at)
{
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_CONFIRM_SET)) == NULL)
		return CR_ERR_IO;
	sq_bind_int(st, 1, cert_id);
	sq_bind_text(st, 2, decision);
	sq_bind_text(st, 3, by);
	sq_bind_int(st, 4, at);
	return sq_run(db, st, "confirmation");
}

static const char SQL_PENDING[] =
    "SELECT c.type, coalesce(r.state, 'pending_verification'), count(*)"
    " FROM certificates c"
    " JOIN confirmations f ON f.cert_id = c.id AND f.decision = 'confirmed'"
    " LEFT JOIN renewals r ON r.cert_id = c.id"
    " WHERE c.holder_id = $1 AND c.status = 'issued' AND c.not_after > $2 AND c.not_after <= $3"
    " GROUP BY 1, 2";

enum cr_err
cr_db_pending_counts(struct cr_db *db, int64_t holder_id, time_t now, int window_days,
    struct cr_pending_counts *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((st = sq_prep(db, SQL_PENDING)) == NULL)
		return CR_ERR_IO;
	sq_bind_int(st, 1, holder_id);
	sq_bind_int(st, 2, now);
	sq_bind_int(st, 3, now + (time_t)window_days * 86400);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum cr_cert_type t;
		enum cr_renewal_state s;
		enum cr_pending_group g;
		int n = sqlite3_column_int(st, 2);

		if (!cr_cert_type_parse((const char *)sqlite3_column_text(st, 0), &t) ||
		    !cr_renewal_state_parse((const char *)sqlite3_column_text(st, 1), &s))
			continue;
		if ((g = cr_renewal_group(t, s)) == CR_GROUP_NONE)
			continue;
		out->n[g][t] += n;
		out->total[g] += n;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? CR_OK : sq_err(db, "pending counts");
}

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
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_SESSION_CREATE)) == NULL)
		return CR_ERR_IO;
	sq_bind_blob(st, 1, id_hash, CR_HASH_LEN);
	sq_bind_int(st, 2, person_id);
	sq_bind_int(st, 3, now);
	sq_bind_text(st, 4, ip);
	return sq_run(db, st, "session create");
}

enum cr_err
cr_db_session_get(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN], struct cr_session *out)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = sq_prep(db, SQL_SESSION_GET)) == NULL)
		return CR_ERR_IO;
	sq_bind_blob(st, 1, id_hash, CR_HASH_LEN);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		out->person_id = sqlite3_column_int64(st, 0);
		out->created_at = (time_t)sqlite3_column_int64(st, 1);
		out->last_seen = (time_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return CR_OK;
	return rc == SQLITE_DONE ? CR_ERR_NOTFOUND : sq_err(db, "session get");
}

enum cr_err
cr_db_session_touch(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN], time_t now)
{
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_SESSION_TOUCH)) == NULL)
		return CR_ERR_IO;
	sq_bind_blob(st, 1, id_hash, CR_HASH_LEN);
	sq_bind_int(st, 2, now);
	return sq_run(db, st, "session touch");
}

enum cr_err
cr_db_session_delete(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN])
{
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_SESSION_DELETE)) == NULL)
		return CR_ERR_IO;
	sq_bind_blob(st, 1, id_hash, CR_HASH_LEN);
	return sq_run(db, st, "session delete");
}

enum cr_err
cr_db_sessions_purge(struct cr_db *db, time_t idle_before, time_t created_before, long *deleted)
{
	sqlite3_stmt *st;
	enum cr_err err;

	if ((st = sq_prep(db, SQL_SESSION_PURGE)) == NULL)
		return CR_ERR_IO;
	sq_bind_int(st, 1, idle_before);
	sq_bind_int(st, 2, created_before);
	err = sq_run(db, st, "session purge");
	*deleted = err == CR_OK ? (long)sqlite3_changes(db->h) : 0;
	return err;
}

/* ---- login flows ---- */

static const char SQL_FLOW_CREATE[] =
    "INSERT INTO login_flows (state_hash, browser_hash, nonce, return_to, created_at) VALUES ($1, $2, $3, $4, $5)";
static const char SQL_FLOW_TAKE[] =
    "DELETE FROM login_flows WHERE state_hash = $1 RETURNING browser_hash, nonce, return_to, created_at";
static const char SQL_FLOW_PURGE[] = "DELETE FROM login_flows WHERE created_at < $1";

enum cr_err
cr_db_login_flow_create(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN], const struct cr_login_flow *f)
{
	sqlite3_stmt *st;

	if ((st = sq_prep(db, SQL_FLOW_CREATE)) == NULL)
		return CR_ERR_IO;
	sq_bind_blob(st, 1, state_hash, CR_HASH_LEN);
	sq_bind_blob(st, 2, f->browser_hash, CR_HASH_LEN);
	sq_bind_text(st, 3, f->nonce);
	sq_bind_text(st, 4, f->return_to);
	sq_bind_int(st, 5, f->created_at);
	return sq_run(db, st, "login flow create");
}

enum cr_err
cr_db_login_flow_take(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN], struct cr_login_flow *out)
{
	sqlite3_stmt *st;
	int rc;
	enum cr_err err = CR_OK;

	if ((st = sq_prep(db, SQL_FLOW_TAKE)) == NULL)
		return CR_ERR_IO;
	sq_bind_blob(st, 1, state_hash, CR_HASH_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(st, 0);

		memset(out, 0, sizeof(*out));
		if (b != NULL && sqlite3_column_bytes(st, 0) == CR_HASH_LEN)
			memcpy(out->browser_hash, b, CR_HASH_LEN);
		sq_col_text(st, 1, out->nonce, sizeof(out->nonce));
		sq_col_text(st, 2, out->return_to, sizeof(out->return_to));
		out->created_at = (time_t)sqlite3_column_int64(st, 3);
		/* Step to completion so the DELETE takes effect. */
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		if (rc != SQLITE_DONE)
			err = sq_err(db, "login flow take");
	} else
		err = rc == SQLITE_DONE ? CR_ERR_NOTFOUND : sq_err(db, "login flow take");
	sqlite3_reset(st);
	return err;
}

enum cr_err
cr_db_login_flows_purge(struct cr_db *db, time_t created_before, long *deleted)
{
	sqlite3_stmt *st;
	enum cr_err err;

	if ((st = sq_prep(db, SQL_FLOW_PURGE)) == NULL)
		return CR_ERR_IO;
	sq_bind_int(st, 1, created_before);
	err = sq_run(db, st, "login flow purge");
	*deleted = err == CR_OK ? (long)sqlite3_changes(db->h) : 0;
	return err;
}
