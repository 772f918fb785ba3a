/*
 * The store: the pool of connections, transactions, the migration runner and
 * the statement helpers every store_*.c shares (declared in db_int.h); see
 * store.h. The topic files hold the rest: store_audit.c (the audit chain),
 * store_people.c (organisations, people, certificates), store_session.c
 * (sessions and login flows), store_app.c, store_dept.c, store_mail.c,
 * store_copy.c.
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

#include "db_int.h"
#include "migrations.h"
#include "util/log.h"

/* PostgreSQL advisory lock key (one-key form) serialising two `certrenew init`. */
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
