/*
 * SQLite implementation of the store's statement layer (db_int.h).
 *
 * Thin: a db_stmt wraps the sqlite3_stmt, which is prepared once per
 * connection (SQLITE_PREPARE_PERSISTENT) and found again by the address of
 * its SQL constant. Columns are read straight from SQLite (no copies here).
 * SQLite treats $1 as a *named* parameter, so binds look the index up by name,
 * which also lets one $n appear twice. Text and blob binds are copied
 * (SQLITE_TRANSIENT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db_int.h"
#include "util/log.h"

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *h;
	int last_rc; /* extended code of the last failed step, 0 otherwise */
	char errmsg[256];
};

struct sq_db {
	struct cr_db base;
	sqlite3 *h;
	struct sq_stmt cache[DB_STMT_CACHE];
};

#define SQ(st) ((struct sq_stmt *)(void *)(st))
#define SQDB(db) ((struct sq_db *)(void *)(db))

static struct db_stmt *
sq_prep(struct cr_db *cdb, const char *sql)
{
	struct sq_db *db = SQDB(cdb);
	int free_slot = -1;
	sqlite3_stmt *h = NULL;

	for (int i = 0; i < DB_STMT_CACHE; i++) {
		struct sq_stmt *s = &db->cache[i];

		if (s->base.sql == sql) {
			sqlite3_reset(s->h);
			sqlite3_clear_bindings(s->h);
			s->last_rc = 0;
			return &s->base;
		}
		if (s->base.sql == NULL && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		/* The cache is sized for every statement of the store; reaching here is a bug. */
		cr_error("store", "statement cache full");
		return NULL;
	}
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &h, NULL) != SQLITE_OK) {
		cr_error("store", "prepare: %s", sqlite3_errmsg(db->h));
		return NULL;
	}
	db->cache[free_slot] = (struct sq_stmt){.base = {cdb, sql}, .h = h};
	return &db->cache[free_slot].base;
}

static int
pidx(sqlite3_stmt *h, int n)
{
	char name[8];

	snprintf(name, sizeof(name), "$%d", n);
	return sqlite3_bind_parameter_index(h, name);
}

static void
sq_bind_text(struct db_stmt *st, int n, const char *s)
{
	sqlite3_bind_text(SQ(st)->h, pidx(SQ(st)->h, n), s ? s : "", -1, SQLITE_TRANSIENT);
}

static void
sq_bind_int(struct db_stmt *st, int n, int64_t v)
{
	sqlite3_bind_int64(SQ(st)->h, pidx(SQ(st)->h, n), v);
}

static void
sq_bind_bool(struct db_stmt *st, int n, bool v)
{
	sqlite3_bind_int(SQ(st)->h, pidx(SQ(st)->h, n), v ? 1 : 0);
}

static void
sq_bind_blob(struct db_stmt *st, int n, const void *p, size_t len)
{
	sqlite3_stmt *h = SQ(st)->h;

	if (p == NULL)
		sqlite3_bind_null(h, pidx(h, n));
	else
		sqlite3_bind_blob(h, pidx(h, n), p, (int)len, SQLITE_TRANSIENT);
}

static void
sq_bind_null(struct db_stmt *st, int n, enum db_type t)
{
	(void)t; /* SQLite's NULL has no type */
	sqlite3_bind_null(SQ(st)->h, pidx(SQ(st)->h, n));
}

static enum db_rc
sq_step(struct db_stmt *st)
{
	struct sq_stmt *s = SQ(st);
	sqlite3 *h;
	int rc = sqlite3_step(s->h);

	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	h = SQDB(st->db)->h;
	s->last_rc = sqlite3_extended_errcode(h);
	snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errmsg(h));
	return DB_ERR;
}

static bool
sq_col_null(struct db_stmt *st, int i)
{
	return sqlite3_column_type(SQ(st)->h, i) == SQLITE_NULL;
}

static int64_t
sq_col_int(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(SQ(st)->h, i);
}

static bool
sq_col_bool(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(SQ(st)->h, i) != 0;
}

static const char *
sq_col_text(struct db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(SQ(st)->h, i);
}

static const void *
sq_col_blob(struct db_stmt *st, int i, size_t *len)
{
	const void *b = sqlite3_column_blob(SQ(st)->h, i);

	*len = b ? (size_t)sqlite3_column_bytes(SQ(st)->h, i) : 0;
	return b;
}

static void
sq_reset(struct db_stmt *st)
{
	sqlite3_reset(SQ(st)->h);
}

static bool
sq_is_conflict(struct db_stmt *st)
{
	return (SQ(st)->last_rc & 0xff) == SQLITE_CONSTRAINT;
}

static const char *
sq_errmsg(struct db_stmt *st)
{
	return SQ(st)->errmsg;
}

static long
sq_changes(struct cr_db *db)
{
	return (long)sqlite3_changes(SQDB(db)->h);
}

static enum cr_err
sq_exec(struct cr_db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(SQDB(db)->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cr_error("store", "exec: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return CR_ERR_IO;
	}
	return CR_OK;
}

/* BEGIN IMMEDIATE takes the write lock at once: two writers queue on the busy timeout
   instead of both reading and one failing at COMMIT with SQLITE_BUSY. */
static enum cr_err
sq_begin(struct cr_db *db)
{
	return sq_exec(db, "BEGIN IMMEDIATE");
}

static enum cr_err
sq_commit(struct cr_db *db)
{
	enum cr_err err = sq_exec(db, "COMMIT");

	if (err != CR_OK)
		sq_exec(db, "ROLLBACK");
	return err;
}

static void
sq_rollback(struct cr_db *db)
{
	sq_exec(db, "ROLLBACK");
}

static void
sq_revive(struct cr_db *db)
{
	(void)db; /* a file does not go away */
}

static void
sq_close(struct cr_db *cdb)
{
	struct sq_db *db = SQDB(cdb);

	for (int i = 0; i < DB_STMT_CACHE; i++)
		if (db->cache[i].h != NULL)
			sqlite3_finalize(db->cache[i].h);
	sqlite3_close(db->h);
	free(db);
}

static const struct db_ops sq_ops = {
	.prep = sq_prep,
	.bind_text = sq_bind_text,
	.bind_int = sq_bind_int,
	.bind_bool = sq_bind_bool,
	.bind_blob = sq_bind_blob,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.col_null = sq_col_null,
	.col_int = sq_col_int,
	.col_bool = sq_col_bool,
	.col_text = sq_col_text,
	.col_blob = sq_col_blob,
	.reset = sq_reset,
	.is_conflict = sq_is_conflict,
	.errmsg = sq_errmsg,
	.changes = sq_changes,
	.exec = sq_exec,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.revive = sq_revive,
	.close = sq_close,
};

/* WAL, synchronous=NORMAL, foreign keys on, 10 s busy timeout; one thread at a time (NOMUTEX). */
enum cr_err
db_sqlite_open(const char *path, struct cr_db **out)
{
	struct sq_db *db;
	enum cr_err err;

	*out = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return CR_ERR_NOMEM;
	db->base.ops = &sq_ops;
	db->base.kind = DB_SQLITE;
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		cr_error("store", "open %s: %s", path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
		sqlite3_close(db->h);
		free(db);
		return CR_ERR_IO;
	}
	sqlite3_busy_timeout(db->h, 10000);
	if ((err = sq_exec(&db->base, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")) !=
	    CR_OK) {
		sq_close(&db->base);
		return err;
	}
	*out = &db->base;
	return CR_OK;
}
