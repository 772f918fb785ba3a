/*
 * The store: pool, transactions, migrations, audit log, people, certificates,
 * sessions and login flows; see store.h. Topic files store_*.c hold the rest.
 *
 * Backend-neutral: every statement goes through the layer in db_int.h, which
 * has a SQLite (backend_sqlite.c) and a PostgreSQL (backend_pg.c)
 * implementation. Where the two dialects must differ, both texts stand side by
 * side as a pair named *_SQLITE / *_PG in the function that uses them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "db_int.h"
#include "migrations.h"
#include "util/log.h"

/* PostgreSQL advisory lock keys (the one-key form; the two-key form is used per holder). */
#define LOCK_AUDIT_CHAIN 0x637241756469LL  /* "crAudi" */
#define LOCK_MIGRATE     0x63724d696772LL  /* "crMigr" */

struct cr_store {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	struct cr_db **dbs;
};

/* ---- statement helpers shared by the store's files ---- */

void
db_col_copy(struct db_stmt *st, int i, char *out, size_t outlen)
{
	const char *t = db_col_text(st, i);

	snprintf(out, outlen, "%s", t ? t : "");
}

enum cr_err
db_err(struct db_stmt *st, const char *what)
{
	cr_error("store", "%s: %s", what, st->db->ops->errmsg(st));
	return db_is_conflict(st) ? CR_ERR_CONFLICT : CR_ERR_IO;
}

enum cr_err
db_run(struct db_stmt *st, const char *what)
{
	enum db_rc rc = db_step(st);
	enum cr_err err = CR_OK;

	if (rc == DB_ERR)
		err = db_err(st, what);
	db_reset(st);
	return err;
}

bool
db_read_cert(struct db_stmt *st, struct cr_cert *c)
{
	memset(c, 0, sizeof(*c));
	c->id = db_col_int(st, 0);
	db_col_copy(st, 1, c->serial_hex, sizeof(c->serial_hex));
	db_col_copy(st, 3, c->status, sizeof(c->status));
	c->not_before = (time_t)db_col_int(st, 4);
	c->not_after = (time_t)db_col_int(st, 5);
	c->holder_id = db_col_int(st, 6);
	db_col_copy(st, 7, c->email, sizeof(c->email));
	c->org_id = db_col_int(st, 8);
	db_col_copy(st, 9, c->department, sizeof(c->department));
	db_col_copy(st, 10, c->position, sizeof(c->position));
	db_col_copy(st, 11, c->tx_limit, sizeof(c->tx_limit));
	db_col_copy(st, 12, c->proxy, sizeof(c->proxy));
	db_col_copy(st, 13, c->signing_account, sizeof(c->signing_account));
	return cr_cert_type_parse(db_col_text(st, 2), &c->type);
}

enum cr_err
db_one_int(struct db_stmt *st, const char *what, int64_t *out)
{
	enum db_rc rc = db_step(st);
	enum cr_err err = CR_OK;

	*out = 0;
	if (rc == DB_ROW)
		*out = db_col_int(st, 0);
	else if (rc == DB_ERR)
		err = db_err(st, what);
	db_reset(st);
	return err;
}

/* ---- the pool ---- */

enum cr_err
cr_store_open(const char *url, int connections, struct cr_store **out)
{
	struct cr_store *st;
	const char *path = url;
	bool pg = false;
	enum cr_err err;

	*out = NULL;
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
		pg = true;
	else if (strncmp(url, "sqlite:", 7) == 0)
		path = url + 7;
	else if (strstr(url, "://") != NULL) {
		cr_error("store", "database.url: unsupported scheme (sqlite:PATH, postgresql://...)");
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
		if ((err = pg ? db_pg_open(url, &st->dbs[st->n]) : db_sqlite_open(path, &st->dbs[st->n])) != CR_OK) {
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
		st->dbs[i]->ops->close(st->dbs[i]);
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
			if (!st->dbs[i]->busy) {
				db = st->dbs[i];
				break;
			}
		if (db != NULL)
			break;
		pthread_cond_wait(&st->cv, &st->mu);
	}
	db->busy = true;
	pthread_mutex_unlock(&st->mu);
	/* Outside the lock: reconnecting a lost PostgreSQL connection may take a moment. */
	db->ops->revive(db);
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

/* ---- transactions ---- */

enum cr_err
cr_db_begin(struct cr_db *db)
{
	enum cr_err err;

	if (db->in_tx)
		return CR_ERR_CONFLICT;
	if ((err = db->ops->begin(db)) == CR_OK)
		db->in_tx = true;
	db->audit_locked = false;
	return err;
}

enum cr_err
cr_db_commit(struct cr_db *db)
{
	enum cr_err err;

	if (!db->in_tx)
		return CR_ERR_CONFLICT;
	err = db->ops->commit(db);
	db->in_tx = false;
	db->audit_locked = false;
	return err;
}

void
cr_db_rollback(struct cr_db *db)
{
	if (db->in_tx)
		db->ops->rollback(db);
	db->in_tx = false;
	db->audit_locked = false;
}

/* ---- migrations ---- */

static const char SQL_SCHEMA_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)";
static const char SQL_SCHEMA_MAX[] = "SELECT coalesce(max(version), 0) FROM schema_version";

enum cr_err
cr_db_schema_version(struct cr_db *db, int *out)
{
	/* PostgreSQL: look before reading, rather than create the table from a read-only path. */
	static const char SQL_SCHEMA_EXISTS_PG[] = "SELECT CAST(to_regclass('schema_version') IS NOT NULL AS INTEGER)";
	struct db_stmt *st;
	int64_t v = 0;
	enum cr_err err;

	*out = 0;
	if (db->kind == DB_SQLITE) {
		if (db_exec(db, SQL_SCHEMA_TABLE) != CR_OK)
			return CR_ERR_IO;
	} else {
		if ((st = db_prep(db, SQL_SCHEMA_EXISTS_PG)) == NULL)
			return CR_ERR_IO;
		if ((err = db_one_int(st, "schema version", &v)) != CR_OK || v == 0)
			return err;
	}
	if ((st = db_prep(db, SQL_SCHEMA_MAX)) == NULL)
		return CR_ERR_IO;
	err = db_one_int(st, "schema version", &v);
	*out = (int)v;
	return err;
}

enum cr_err
cr_db_migrate(struct cr_db *db)
{
	/* Two `certrenew init` at once on PostgreSQL: the second waits, then finds nothing to do. */
	static const char SQL_MIGRATE_LOCK_PG[] = "SELECT pg_advisory_xact_lock($1)";
	const char *const *list = db->kind == DB_PG ? cr_pg_migrations : cr_sqlite_migrations;
	size_t count = db->kind == DB_PG ? cr_pg_migration_count : cr_sqlite_migration_count;
	struct db_stmt *st;
	int v;
	enum cr_err err;

	if (cr_pg_migration_count != cr_sqlite_migration_count) {
		cr_error("store", "migration lists differ in length: a migration was added to one backend only");
		abort();
	}
	if ((err = cr_db_begin(db)) != CR_OK)
		return err;
	if (db->kind == DB_PG) {
		if ((st = db_prep(db, SQL_MIGRATE_LOCK_PG)) == NULL) {
			err = CR_ERR_IO;
			goto out;
		}
		db_bind_int(st, 1, LOCK_MIGRATE);
		if ((err = db_run(st, "migration lock")) != CR_OK)
			goto out;
		if ((err = db_exec(db, SQL_SCHEMA_TABLE)) != CR_OK)
			goto out;
	}
	if ((err = cr_db_schema_version(db, &v)) != CR_OK)
		goto out;
	if ((size_t)v > count) {
		cr_error("store", "database schema %d is newer than this program (%zu)", v, count);
		err = CR_ERR_CONFLICT;
		goto out;
	}
	for (size_t i = (size_t)v; i < count; i++) {
		char bump[96];

		if ((err = db_exec(db, list[i])) != CR_OK)
			goto out;
		snprintf(bump, sizeof(bump), "INSERT INTO schema_version (version) VALUES (%zu)", i + 1);
		if ((err = db_exec(db, bump)) != CR_OK)
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

/* ---- organisations and people ---- */

static const char SQL_ORG_UPSERT[] =
    "INSERT INTO organisations (code, name) VALUES ($1, $2)"
    " ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id";

enum cr_err
cr_db_org_upsert(struct cr_db *db, const char *code, const char *name, int64_t *id)
{
	struct db_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_ORG_UPSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, code);
	db_bind_text(st, 2, name);
	if (db_step(st) == DB_ROW)
		*id = db_col_int(st, 0);
	else
		err = db_err(st, "org upsert");
	db_reset(st);
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
	struct db_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_PERSON_UPSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, p->sub);
	db_bind_text(st, 2, p->name);
	db_bind_text(st, 3, p->name_zh);
	db_bind_text(st, 4, p->email);
	db_bind_text(st, 5, p->id_number);
	db_bind_int(st, 6, p->org_id);
	db_bind_text(st, 7, p->department);
	db_bind_text(st, 8, p->position);
	db_bind_int(st, 9, time(NULL));
	if (db_step(st) == DB_ROW)
		*id = db_col_int(st, 0);
	else
		err = db_err(st, "person upsert");
	db_reset(st);
	return err;
}

static const char SQL_ROLE_ADD[] =
    "INSERT INTO staff_roles (person_id, role, org_id) VALUES ($1, $2, $3)"
    " ON CONFLICT (person_id, role) DO UPDATE SET org_id = excluded.org_id";

enum cr_err
cr_db_role_add(struct cr_db *db, int64_t person_id, const char *role, int64_t org_id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_ROLE_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, person_id);
	db_bind_text(st, 2, role);
	db_bind_int(st, 3, org_id);
	return db_run(st, "role add");
}

#define PERSON_COLS \
	"p.id, p.govid_sub, p.name, p.name_zh, p.email, p.id_number, p.org_id, o.name, p.department, p.position," \
	" EXISTS (SELECT 1 FROM staff_roles r WHERE r.person_id = p.id AND r.role = 'coordinator')," \
	" EXISTS (SELECT 1 FROM staff_roles r WHERE r.person_id = p.id AND r.role = 'officer')" \
	" FROM people p JOIN organisations o ON o.id = p.org_id"

static const char SQL_PERSON_BY_SUB[] = "SELECT " PERSON_COLS " WHERE p.govid_sub = $1";
static const char SQL_PERSON_BY_ID[] = "SELECT " PERSON_COLS " WHERE p.id = $1";

static enum cr_err
read_person(struct db_stmt *st, struct cr_person *p)
{
	enum db_rc rc = db_step(st);

	if (rc == DB_ROW) {
		memset(p, 0, sizeof(*p));
		p->id = db_col_int(st, 0);
		db_col_copy(st, 1, p->sub, sizeof(p->sub));
		db_col_copy(st, 2, p->name, sizeof(p->name));
		db_col_copy(st, 3, p->name_zh, sizeof(p->name_zh));
		db_col_copy(st, 4, p->email, sizeof(p->email));
		db_col_copy(st, 5, p->id_number, sizeof(p->id_number));
		p->org_id = db_col_int(st, 6);
		db_col_copy(st, 7, p->org_name, sizeof(p->org_name));
		db_col_copy(st, 8, p->department, sizeof(p->department));
		db_col_copy(st, 9, p->position, sizeof(p->position));
		p->is_coordinator = db_col_bool(st, 10);
		p->is_officer = db_col_bool(st, 11);
	}
	db_reset(st);
	if (rc == DB_ROW)
		return CR_OK;
	return rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "person");
}

enum cr_err
cr_db_person_by_sub(struct cr_db *db, const char *sub, struct cr_person *out)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_PERSON_BY_SUB)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, sub);
	return read_person(st, out);
}

enum cr_err
cr_db_person_by_id(struct cr_db *db, int64_t id, struct cr_person *out)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_PERSON_BY_ID)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	return read_person(st, out);
}

static const char SQL_PERSON_COUNT[] = "SELECT count(*) FROM people";

enum cr_err
cr_db_person_count(struct cr_db *db, long *out)
{
	struct db_stmt *st;
	int64_t v;
	enum cr_err err;

	if ((st = db_prep(db, SQL_PERSON_COUNT)) == NULL)
		return CR_ERR_IO;
	err = db_one_int(st, "count", &v);
	*out = (long)v;
	return err;
}

/* ---- certificates ---- */

static const char SQL_CERT_INSERT[] =
    "INSERT INTO certificates (serial_hex, type, status, not_before, not_after, holder_id, email, org_id,"
    " department, position, tx_limit, proxy_qualification, signing_account, der, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";

enum cr_err
cr_db_cert_insert(struct cr_db *db, const struct cr_cert *c, int64_t *id)
{
	struct db_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_CERT_INSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, c->serial_hex);
	db_bind_text(st, 2, cr_cert_type_name(c->type));
	db_bind_text(st, 3, c->status[0] ? c->status : "issued");
	db_bind_int(st, 4, c->not_before);
	db_bind_int(st, 5, c->not_after);
	db_bind_int(st, 6, c->holder_id);
	db_bind_text(st, 7, c->email);
	db_bind_int(st, 8, c->org_id);
	db_bind_text(st, 9, c->department);
	db_bind_text(st, 10, c->position);
	db_bind_text(st, 11, c->tx_limit);
	db_bind_text(st, 12, c->proxy);
	db_bind_text(st, 13, c->signing_account);
	db_bind_blob(st, 14, c->der, c->der_len);
	db_bind_int(st, 15, time(NULL));
	if (db_step(st) == DB_ROW)
		*id = db_col_int(st, 0);
	else
		err = db_err(st, "certificate insert");
	db_reset(st);
	return err;
}

static const char SQL_CONFIRM_SET[] =
    "INSERT INTO confirmations (cert_id, decision, decided_by, decided_at) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (cert_id) DO UPDATE SET decision = excluded.decision,"
    " decided_by = excluded.decided_by, decided_at = excluded.decided_at";

enum cr_err
cr_db_confirmation_set(struct cr_db *db, int64_t cert_id, const char *decision, const char *by, time_t at)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CONFIRM_SET)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	db_bind_text(st, 2, decision);
	db_bind_text(st, 3, by);
	db_bind_int(st, 4, at);
	return db_run(st, "confirmation");
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
	struct db_stmt *st;
	enum db_rc rc;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_PENDING)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, holder_id);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, now + (time_t)window_days * 86400);
	while ((rc = db_step(st)) == DB_ROW) {
		enum cr_cert_type t;
		enum cr_renewal_state s;
		enum cr_pending_group g;
		int n = (int)db_col_int(st, 2);

		if (!cr_cert_type_parse(db_col_text(st, 0), &t) ||
		    !cr_renewal_state_parse(db_col_text(st, 1), &s))
			continue;
		if ((g = cr_renewal_group(t, s)) == CR_GROUP_NONE)
			continue;
		out->n[g][t] += n;
		out->total[g] += n;
	}
	db_reset(st);
	return rc == DB_DONE ? CR_OK : db_err(st, "pending counts");
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

static const char SQL_FLOW_CREATE[] =
    "INSERT INTO login_flows (state_hash, browser_hash, nonce, return_to, created_at) VALUES ($1, $2, $3, $4, $5)";
static const char SQL_FLOW_TAKE[] =
    "DELETE FROM login_flows WHERE state_hash = $1 RETURNING browser_hash, nonce, return_to, created_at";
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
	db_bind_text(st, 4, f->return_to);
	db_bind_int(st, 5, f->created_at);
	return db_run(st, "login flow create");
}

enum cr_err
cr_db_login_flow_take(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN], struct cr_login_flow *out)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_FLOW_TAKE)) == NULL)
		return CR_ERR_IO;
	db_bind_blob(st, 1, state_hash, CR_HASH_LEN);
	rc = db_step(st);
	if (rc == DB_ROW) {
		size_t blen;
		const void *b = db_col_blob(st, 0, &blen);

		memset(out, 0, sizeof(*out));
		if (b != NULL && blen == CR_HASH_LEN)
			memcpy(out->browser_hash, b, CR_HASH_LEN);
		db_col_copy(st, 1, out->nonce, sizeof(out->nonce));
		db_col_copy(st, 2, out->return_to, sizeof(out->return_to));
		out->created_at = (time_t)db_col_int(st, 3);
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
