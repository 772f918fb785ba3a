/*
 * The store's internal statement layer: what store_*.c use to speak SQL, with
 * one implementation per backend (backend_sqlite.c, backend_pg.c), in the manner
 * of curl's vtls. Not for use outside src/store/.
 *
 * A statement is prepared from a string constant and cached per connection by
 * the constant's ADDRESS (a pointer comparison; never pass a buffer). SQL uses
 * $1..$n placeholders. Usage:
 *
 *     st = db_prep(db, SQL_X);            // or db_prep2(db, SQL_X_SQLITE, SQL_X_PG)
 *     db_bind_int(st, 1, id);             // bound values are borrowed until the first db_step
 *     while ((rc = db_step(st)) == DB_ROW) { ... db_col_int(st, 0) ... }
 *     err = rc == DB_DONE ? CR_OK : db_err(st, "what");
 *     db_reset(st);                        // always, also on early exit
 *
 * Column values (text, blob) are borrowed until the next db_step or db_reset.
 * db_run does step + reset for statements whose rows are not read.
 */
#ifndef CR_STORE_DB_INT_H
#define CR_STORE_DB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum db_kind { DB_SQLITE, DB_PG };
enum db_rc { DB_ROW, DB_DONE, DB_ERR };

/* Every statement cache is sized for all statements of the store, the copy's included, so that one
   connection may run them all; running out is logged as a bug. With step 4 there are 214 on
   PostgreSQL (193 on SQLite): 120 of the store's files, 94 of the copy (3 per table, 16 setval).
   A slot costs about 1.4 KB on PostgreSQL, 0.3 KB on SQLite, per connection. */
#define DB_STMT_CACHE 256
/* Highest $n any statement uses (the copy of certificates binds 23). */
#define DB_MAX_PARAMS 24

struct db_stmt;

/* A column's type, where a NULL must be bound typed (PostgreSQL prepares with parameter types). */
enum db_type { DB_T_INT, DB_T_TEXT, DB_T_BLOB };

struct db_ops {
	struct db_stmt *(*prep)(struct cr_db *db, const char *sql);
	void (*bind_text)(struct db_stmt *st, int n, const char *s);
	void (*bind_int)(struct db_stmt *st, int n, int64_t v);
	void (*bind_bool)(struct db_stmt *st, int n, bool v);
	void (*bind_blob)(struct db_stmt *st, int n, const void *p, size_t len);
	void (*bind_null)(struct db_stmt *st, int n, enum db_type t);
	enum db_rc (*step)(struct db_stmt *st);
	bool (*col_null)(struct db_stmt *st, int i);
	int64_t (*col_int)(struct db_stmt *st, int i);
	bool (*col_bool)(struct db_stmt *st, int i);
	const char *(*col_text)(struct db_stmt *st, int i);
	const void *(*col_blob)(struct db_stmt *st, int i, size_t *len);
	void (*reset)(struct db_stmt *st);
	/* The last error of st: a constraint violation (unique, foreign key, check, trigger)? */
	bool (*is_conflict)(struct db_stmt *st);
	const char *(*errmsg)(struct db_stmt *st);
	/* Rows changed by the statement last run to completion on this connection. */
	long (*changes)(struct cr_db *db);
	/* Literal SQL without parameters (may hold several statements). */
	enum cr_err (*exec)(struct cr_db *db, const char *sql);
	enum cr_err (*begin)(struct cr_db *db);
	enum cr_err (*commit)(struct cr_db *db);
	void (*rollback)(struct cr_db *db);
	/* Called when the pool lends the connection: reconnects a broken one. */
	void (*revive)(struct cr_db *db);
	void (*close)(struct cr_db *db); /* frees db too */
};

/* A connection: each backend's struct starts with this one. Used by one thread at a time. */
struct cr_db {
	const struct db_ops *ops;
	enum db_kind kind;
	bool in_tx;
	bool busy;         /* lent out by the pool */
	bool audit_locked; /* PostgreSQL: the audit chain's lock is held by the open transaction */
};

/* What every backend's statement starts with. */
struct db_stmt {
	struct cr_db *db;
	const char *sql;
};

/* Backends. Each opens one connection; errors are logged. */
enum cr_err db_sqlite_open(const char *path, struct cr_db **out);
enum cr_err db_pg_open(const char *url, struct cr_db **out);

/* The prepared statement for sql (reset, nothing bound); NULL when it cannot be prepared (logged). */
static inline struct db_stmt *
db_prep(struct cr_db *db, const char *sql)
{
	return db->ops->prep(db, sql);
}

/* The same where the two dialects need different text: both kept side by side at the call site. */
static inline struct db_stmt *
db_prep2(struct cr_db *db, const char *sqlite_sql, const char *pg_sql)
{
	return db->ops->prep(db, db->kind == DB_PG ? pg_sql : sqlite_sql);
}

/* Bind $n. NULL text binds ""; a NULL blob binds SQL NULL. */
static inline void db_bind_text(struct db_stmt *st, int n, const char *s) { st->db->ops->bind_text(st, n, s); }
static inline void db_bind_int(struct db_stmt *st, int n, int64_t v) { st->db->ops->bind_int(st, n, v); }
static inline void db_bind_bool(struct db_stmt *st, int n, bool v) { st->db->ops->bind_bool(st, n, v); }
static inline void
db_bind_blob(struct db_stmt *st, int n, const void *p, size_t len)
{
	st->db->ops->bind_blob(st, n, p, len);
}

/* Bind SQL NULL to $n as a value of type t. */
static inline void db_bind_null(struct db_stmt *st, int n, enum db_type t) { st->db->ops->bind_null(st, n, t); }

static inline enum db_rc db_step(struct db_stmt *st) { return st->db->ops->step(st); }
static inline bool db_col_null(struct db_stmt *st, int i) { return st->db->ops->col_null(st, i); }
static inline int64_t db_col_int(struct db_stmt *st, int i) { return st->db->ops->col_int(st, i); }
static inline bool db_col_bool(struct db_stmt *st, int i) { return st->db->ops->col_bool(st, i); }
/* NULL for SQL NULL. */
static inline const char *db_col_text(struct db_stmt *st, int i) { return st->db->ops->col_text(st, i); }
/* NULL for SQL NULL (*len 0). */
static inline const void *
db_col_blob(struct db_stmt *st, int i, size_t *len)
{
	return st->db->ops->col_blob(st, i, len);
}
static inline void db_reset(struct db_stmt *st) { st->db->ops->reset(st); }
static inline bool db_is_conflict(struct db_stmt *st) { return st->db->ops->is_conflict(st); }
static inline long db_changes(struct cr_db *db) { return db->ops->changes(db); }
static inline enum cr_err db_exec(struct cr_db *db, const char *sql) { return db->ops->exec(db, sql); }

/* Copies column i as text into out (truncating to outlen; NULL gives ""). */
void db_col_copy(struct db_stmt *st, int i, char *out, size_t outlen);
/* Logs the statement's last error; CR_ERR_CONFLICT for constraint violations, else CR_ERR_IO. */
enum cr_err db_err(struct db_stmt *st, const char *what);
/* Steps a statement whose rows are not read, then resets it. */
enum cr_err db_run(struct db_stmt *st, const char *what);
/* Steps a statement expected to give one row with one integer; *out 0 when none. */
enum cr_err db_one_int(struct db_stmt *st, const char *what, int64_t *out);

/* The certificate columns every certificate query selects first, in this order. */
#define DB_CERT_COLS \
	"c.id, c.serial_hex, c.type, c.status, c.not_before, c.not_after, c.holder_id, c.email, c.org_id," \
	" c.department, c.position, c.tx_limit, c.proxy_qualification, c.signing_account"
#define DB_CERT_NCOLS 14
/* Reads the DB_CERT_COLS of the current row into c (der not filled); false for an unknown type. */
bool db_read_cert(struct db_stmt *st, struct cr_cert *c);

#endif
