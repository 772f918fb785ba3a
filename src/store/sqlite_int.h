/*
 * Internals shared by the SQLite backend's files (store_sqlite*.c): the
 * connection struct and statement helpers. Not for use outside src/store/.
 */
#ifndef CR_STORE_SQLITE_INT_H
#define CR_STORE_SQLITE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

#define STMT_CACHE 96

struct sq_cached {
	const char *sql;
	sqlite3_stmt *st;
};

struct cr_db {
	sqlite3 *h;
	struct sq_cached cache[STMT_CACHE];
	bool in_tx;
	bool busy; /* borrowed */
};

/* Logs the connection's last error; CR_ERR_CONFLICT for constraint violations, else CR_ERR_IO. */
enum cr_err sq_err(struct cr_db *db, const char *what);
/* The prepared statement for sql (a string constant: cached by its address), reset and unbound. */
sqlite3_stmt *sq_prep(struct cr_db *db, const char *sql);
/* Bind $n (SQL uses $1..$n). NULL text binds "". NULL blob binds NULL. */
void sq_bind_text(sqlite3_stmt *st, int n, const char *s);
void sq_bind_int(sqlite3_stmt *st, int n, int64_t v);
void sq_bind_blob(sqlite3_stmt *st, int n, const void *p, size_t len);
/* Copies column i as text into out (truncating to outlen). */
void sq_col_text(sqlite3_stmt *st, int i, char *out, size_t outlen);
/* Steps a statement that returns no rows (or ignores them) and resets it. */
enum cr_err sq_run(struct cr_db *db, sqlite3_stmt *st, const char *what);
/* Runs literal SQL (no parameters). */
enum cr_err sq_exec(struct cr_db *db, const char *sql);

#endif
