/* The store fixture of the unit tests; see dbfx.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "dbfx.h"
#include "notify/outbox.h"
#include "util/buf.h"


const char *
fx_pg_admin_url(void)
{
	const char *u = getenv("CR_TEST_DATABASE_URL");

	return u != NULL && *u != '\0' ? u : NULL;
}

/* admin URI with its database name replaced by db (query string kept). */
static void
pg_url_for(const char *admin, const char *db, char *out, size_t outlen)
{
	const char *scheme = strstr(admin, "://"), *slash, *query;

	assert_non_null(scheme);
	slash = strchr(scheme + 3, '/');
	query = strchr(scheme + 3, '?');
	if (slash == NULL || (query != NULL && query < slash))
		slash = query ? query : admin + strlen(admin);
	snprintf(out, outlen, "%.*s/%s%s", (int)(slash - admin), admin, db, query ? query : "");
}

/* Runs SQL on a PostgreSQL database; 0 on success, else 1 with the message in msg. */
int
fx_pg_exec_url(const char *url, const char *sql, char *msg, size_t msglen)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r;
	int rc = 1;

	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	if (PQstatus(c) != CONNECTION_OK) {
		if (msg != NULL)
			snprintf(msg, msglen, "%s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		rc = 0;
	else if (msg != NULL)
		snprintf(msg, msglen, "%s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return rc;
}

int
fx_setup(void **state)
{
	static int seq;
	struct fx *f = calloc(1, sizeof(*f));
	const char *admin = fx_pg_admin_url();

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cr-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	if (admin != NULL) {
		char sql[128], msg[256];

		snprintf(f->pg_db, sizeof(f->pg_db), "cr_store_%ld_%d", (long)getpid(), ++seq);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->pg_db);
		if (fx_pg_exec_url(admin, sql, msg, sizeof(msg)) != 0) {
			fprintf(stderr, "setup: %s", msg);
			rmdir(f->dir);
			free(f);
			return -1;
		}
		pg_url_for(admin, f->pg_db, f->url, sizeof(f->url));
	}
	if (cr_store_open(f->url, 1, &f->st) != CR_OK) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	f->db = cr_store_get(f->st);
	if (cr_db_migrate(f->db) != CR_OK)
		return -1;
	*state = f;
	return 0;
}

int
fx_teardown(void **state)
{
	struct fx *f = *state;
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char p[160];

	if (f == NULL)
		return 0;
	if (f->st != NULL) {
		cr_store_put(f->st, f->db);
		cr_store_close(f->st);
	}
	if (f->pg_db[0] != '\0') {
		char sql[128], msg[256];

		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->pg_db);
		if (fx_pg_exec_url(fx_pg_admin_url(), sql, msg, sizeof(msg)) != 0)
			fprintf(stderr, "teardown: %s", msg);
	}
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The text for this test's backend, where the two dialects differ. */
const char *
fx_dialect(const struct fx *f, const char *sqlite_sql, const char *pg_sql)
{
	return f->pg_db[0] != '\0' ? pg_sql : sqlite_sql;
}

/* Runs SQL on the test's database through a separate raw connection; returns SQLITE_OK (0) on
   success, else an error code (the sqlite3 result code, or SQLITE_ERROR from PostgreSQL). */
int
fx_raw_exec(const struct fx *f, const char *sql, char *msg, size_t msglen)
{
	sqlite3 *h = NULL;
	char *m = NULL;
	int rc;

	if (f->pg_db[0] != '\0')
		return fx_pg_exec_url(f->url, sql, msg, msglen) == 0 ? SQLITE_OK : SQLITE_ERROR;
	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	rc = sqlite3_exec(h, sql, NULL, NULL, &m);
	if (m != NULL && msg != NULL)
		snprintf(msg, msglen, "%s", m);
	sqlite3_free(m);
	sqlite3_close(h);
	return rc;
}

void
fx_query(const struct fx *f, const char *sql, char *out, size_t outlen)
{
	out[0] = '\0';
	if (f->pg_db[0] != '\0') {
		PGconn *c = PQconnectdb(f->url);
		PGresult *r;

		if (PQstatus(c) != CONNECTION_OK)
			fail_msg("fx_query: %s", PQerrorMessage(c));
		r = PQexec(c, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("fx_query: %s: %s", sql, PQresultErrorMessage(r));
		if (PQntuples(r) > 0)
			snprintf(out, outlen, "%s", PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *h = NULL;
		sqlite3_stmt *st = NULL;
		int rc;

		assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
		sqlite3_busy_timeout(h, 5000);
		if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
			fail_msg("fx_query: %s: %s", sql, sqlite3_errmsg(h));
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const unsigned char *v = sqlite3_column_text(st, 0);

			snprintf(out, outlen, "%s", sqlite3_column_type(st, 0) == SQLITE_NULL ? "NULL" : (const char *)v);
		} else if (rc != SQLITE_DONE)
			fail_msg("fx_query: %s: %s", sql, sqlite3_errmsg(h));
		sqlite3_finalize(st);
		sqlite3_close(h);
	}
}

long long
fx_query_int(const struct fx *f, const char *sql)
{
	char v[64], *end;
	long long n;

	fx_query(f, sql, v, sizeof(v));
	n = strtoll(v, &end, 10);
	if (v[0] == '\0' || *end != '\0')
		fail_msg("fx_query_int: %s gave \"%s\"", sql, v);
	return n;
}

int64_t
fx_make_org(struct cr_db *db, const char *code)
{
	int64_t id = 0;

	assert_int_equal(cr_db_org_upsert(db, code, "Org", &id), CR_OK);
	assert_true(id > 0);
	return id;
}

int64_t
fx_make_person(struct cr_db *db, const char *sub, int64_t org)
{
	struct cr_person p;
	int64_t id = 0;

	memset(&p, 0, sizeof(p));
	snprintf(p.sub, sizeof(p.sub), "%s", sub);
	snprintf(p.name, sizeof(p.name), "Name %s", sub);
	snprintf(p.email, sizeof(p.email), "%s@example.test", sub);
	snprintf(p.id_number, sizeof(p.id_number), "1234567(8)");
	p.org_id = org;
	assert_int_equal(cr_db_person_upsert(db, &p, &id), CR_OK);
	assert_true(id > 0);
	return id;
}

int64_t
fx_make_cert(struct cr_db *db, const char *serial, enum cr_cert_type t, const char *status, time_t not_after,
    int64_t holder, int64_t org)
{
	struct cr_cert c;
	int64_t id = 0;

	memset(&c, 0, sizeof(c));
	snprintf(c.serial_hex, sizeof(c.serial_hex), "%s", serial);
	c.type = t;
	if (status != NULL)
		snprintf(c.status, sizeof(c.status), "%s", status);
	c.not_before = not_after - 365 * DAY;
	c.not_after = not_after;
	c.holder_id = holder;
	c.org_id = org;
	snprintf(c.email, sizeof(c.email), "holder@example.test");
	assert_int_equal(cr_db_cert_insert(db, &c, &id), CR_OK);
	assert_true(id > 0);
	return id;
}

/* ---- schema ---- */

void
fx_newest_code(struct cr_db *db, const struct cr_seal_key *key, char out[8])
{
	struct cr_outbox_msg m, full;
	struct cr_buf plain;
	size_t n = 0;
	json_t *env;

	assert_int_equal(cr_db_outbox_list(db, NULL, 0, 1, &m, &n), CR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cr_db_outbox_get(db, m.id, &full), CR_OK);
	cr_buf_init(&plain, 1 << 16);
	assert_int_equal(cr_outbox_open(key, full.sealed, full.sealed_len, &plain), CR_OK);
	env = json_loadb(plain.data, plain.len, 0, NULL);
	assert_non_null(env);
	snprintf(out, 8, "%s", json_string_value(json_object_get(json_object_get(env, "ctx"), "code")));
	assert_int_equal(strlen(out), 6);
	json_decref(env);
	cr_buf_free(&plain);
	cr_outbox_msg_free(&full);
}
