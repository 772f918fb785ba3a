/*
 * A fresh, migrated store for each unit test: SQLite in a mkdtemp directory
 * under /tmp or, when CR_TEST_DATABASE_URL names a PostgreSQL server where the
 * test may create databases, a fresh database there (its name replaces the
 * URI's), dropped afterwards. Plus small builders of organisations, people and
 * certificates. Linked into every test binary (see the Makefile).
 */
#ifndef CR_TESTS_DBFX_H
#define CR_TESTS_DBFX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/store.h"
#include "util/seal.h"

#define DAY 86400
#define NOW ((time_t)1750000000)

struct fx {
	char dir[64];
	char path[128];
	char url[1200];
	char pg_db[64]; /* PostgreSQL: this test's database, "" with SQLite */
	struct cr_store *st;
	struct cr_db *db;
};

/* cmocka setup and teardown: *state is a struct fx with a migrated store of one connection. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* The PostgreSQL server to test against, or NULL for SQLite. */
const char *fx_pg_admin_url(void);
/* Runs SQL on a PostgreSQL database; 0 on success, else 1 with the message in msg. */
int fx_pg_exec_url(const char *url, const char *sql, char *msg, size_t msglen);
/* The text for this test's backend, where the two dialects differ. */
const char *fx_dialect(const struct fx *f, const char *sqlite_sql, const char *pg_sql);
/* Runs SQL on the test's database through a separate raw connection; SQLITE_OK (0) on success. */
int fx_raw_exec(const struct fx *f, const char *sql, char *msg, size_t msglen);
/* The first column of the first row of a query on the test's database (a separate raw connection),
   as text: "" when there is no row, "NULL" for SQL NULL. Fails the test when the query fails. */
void fx_query(const struct fx *f, const char *sql, char *out, size_t outlen);
/* The same as a number (a count, an id). */
long long fx_query_int(const struct fx *f, const char *sql);
int64_t fx_make_org(struct cr_db *db, const char *code);
/* A person with sub, name "Name <sub>", email "<sub>@example.test". */
int64_t fx_make_person(struct cr_db *db, const char *sub, int64_t org);
/* A certificate (status NULL: issued) valid for a year until not_after, email holder@example.test. */
int64_t fx_make_cert(struct cr_db *db, const char *serial, enum cr_cert_type t, const char *status, time_t not_after,
    int64_t holder, int64_t org);

/* The verification code in the newest outbox message (its envelope opened with key): six digits. */
void fx_newest_code(struct cr_db *db, const struct cr_seal_key *key, char out[8]);

#endif
