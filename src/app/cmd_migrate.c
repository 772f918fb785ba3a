/*
 * `certrenew migrate-sqlite-to-postgres SQLITE_URL POSTGRES_URL`: moves a DEV or small
 * SQLite installation into PostgreSQL (issue 5).
 *
 * 1. The target is migrated to this program's schema; the source must be at the same
 *    version (otherwise `certrenew init` on it first).
 * 2. One PostgreSQL transaction: the target must be empty (every table), then every
 *    table is copied in dependency order with its ids, blobs and NULLs as they are, the
 *    id sequences are moved past the copied ids, row counts are compared table by table
 *    with the source, and the audit chain must verify on the target (the copied rows,
 *    seen from inside the transaction). Only then is it committed; any error, refusal or
 *    mismatch rolls everything back and exits non-zero.
 * The source is read inside a transaction (on SQLite: BEGIN IMMEDIATE), so it is one
 * consistent state and writers wait; stop `serve` and `jobs` first anyway.
 * All SQL is in src/store/ (store_copy.c); this file only orders the steps.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/commands.h"
#include "store/store.h"
#include "util/log.h"

static const char usage[] =
    "usage: certrenew migrate-sqlite-to-postgres SQLITE_URL POSTGRES_URL\n"
    "Copies every table of the SQLite database SQLITE_URL (sqlite:PATH or a path) into the\n"
    "PostgreSQL database POSTGRES_URL (postgresql://...), which must exist and be empty: the\n"
    "schema is created there first. One transaction: ids and blobs are kept, id sequences\n"
    "are moved past them, row counts and the audit chain are verified before the commit.\n"
    "Exits 0 when done, 1 when refused or on an error, 2 when verification failed (nothing\n"
    "is written then). Stop serve and jobs first. Keep passwords out of the URL (~/.pgpass).\n";

static bool
is_pg(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

static bool
is_sqlite(const char *url)
{
	return strncmp(url, "sqlite:", 7) == 0 || strstr(url, "://") == NULL;
}

/* Opens url (one connection) and lends it; *st NULL on failure. */
static struct cr_db *
open_one(const char *url, const char *what, struct cr_store **st)
{
	enum cr_err err;

	if ((err = cr_store_open(url, 1, st)) != CR_OK) {
		fprintf(stderr, "certrenew: cannot open the %s database (%s)\n", what, cr_err_str(err));
		*st = NULL;
		return NULL;
	}
	return cr_store_get(*st);
}

int
cr_cmd_migrate_sqlite_to_postgres(const struct cr_config *cfg, int argc, char **argv)
{
	struct cr_store *src_st = NULL, *dst_st = NULL;
	struct cr_db *src = NULL, *dst = NULL;
	size_t nt = cr_db_copy_table_count();
	long src_rows[64] = {0}, dst_rows[64] = {0}, copied[64] = {0}, total = 0, audit_src = 0, audit_dst = 0, audit_want = -1;
	int64_t bad = 0;
	int sv = 0, dv = 0, rc = 1;
	bool mismatch = false;
	enum cr_err err;

	(void)cfg; /* both databases are named on the command line */
	if (cr_cmd_wants_help(argc, argv, usage))
		return 0;
	if (argc != 3 || !is_sqlite(argv[1]) || !is_pg(argv[2])) {
		fputs(usage, stderr);
		return 1;
	}
	/* Opening a SQLite path that does not exist would create an empty database there. */
	{
		const char *path = strncmp(argv[1], "sqlite:", 7) == 0 ? argv[1] + 7 : argv[1];

		if (access(path, R_OK | W_OK) != 0) {
			fprintf(stderr, "certrenew: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	if (nt > sizeof(src_rows) / sizeof(src_rows[0])) {
		cr_error("migrate", "more tables than this command can count");
		return 1;
	}
	if ((src = open_one(argv[1], "SQLite", &src_st)) == NULL || (dst = open_one(argv[2], "PostgreSQL", &dst_st)) == NULL)
		goto out;

	/* 1. Same schema on both sides. */
	if ((err = cr_db_migrate(dst)) != CR_OK) {
		fprintf(stderr, "certrenew: migrating the PostgreSQL schema failed (%s)\n", cr_err_str(err));
		goto out;
	}
	if (cr_db_schema_version(src, &sv) != CR_OK || cr_db_schema_version(dst, &dv) != CR_OK) {
		fprintf(stderr, "certrenew: cannot read the schema versions\n");
		goto out;
	}
	if (sv != dv) {
		fprintf(stderr, "certrenew: the SQLite database is at schema version %d, this program at %d%s\n", sv, dv,
		    sv < dv ? ": run `certrenew init` on it first (CERTRENEW_DATABASE_URL=SQLITE_URL)" : "");
		goto out;
	}
	printf("schema version %d on both databases\n", dv);

	/* 2. One transaction on each side: a consistent source, an all-or-nothing target. */
	if (cr_db_begin(src) != CR_OK || cr_db_begin(dst) != CR_OK) {
		fprintf(stderr, "certrenew: cannot start the transactions\n");
		goto out;
	}
	for (size_t t = 0; t < nt; t++) {
		long n;

		if (cr_db_copy_table_rows(dst, t, &n) != CR_OK)
			goto out;
		if (n != 0) {
			fprintf(stderr,
			    "certrenew: the PostgreSQL database is not empty (%s has %ld rows): refused, nothing changed\n",
			    cr_db_copy_table_name(t), n);
			goto out;
		}
	}
	for (size_t t = 0; t < nt; t++) {
		if ((err = cr_db_copy_table(src, dst, t, &copied[t])) != CR_OK) {
			fprintf(stderr, "certrenew: copying %s failed (%s): rolled back, nothing changed\n",
			    cr_db_copy_table_name(t), cr_err_str(err));
			goto out;
		}
		total += copied[t];
	}
	if ((err = cr_db_copy_finish(dst)) != CR_OK) {
		fprintf(stderr, "certrenew: resetting the id sequences failed (%s): rolled back\n", cr_err_str(err));
		goto out;
	}

	/* 3. Verify before committing. */
	printf("%-20s %10s %10s %10s\n", "table", "sqlite", "postgresql", "copied");
	for (size_t t = 0; t < nt; t++) {
		bool ok;

		if (cr_db_copy_table_rows(src, t, &src_rows[t]) != CR_OK ||
		    cr_db_copy_table_rows(dst, t, &dst_rows[t]) != CR_OK)
			goto out;
		ok = src_rows[t] == dst_rows[t] && dst_rows[t] == copied[t];
		mismatch |= !ok;
		printf("%-20s %10ld %10ld %10ld%s\n", cr_db_copy_table_name(t), src_rows[t], dst_rows[t], copied[t],
		    ok ? "" : "  MISMATCH");
	}
	for (size_t t = 0; t < nt; t++)
		if (strcmp(cr_db_copy_table_name(t), "audit_log") == 0)
			audit_want = src_rows[t];
	if (cr_db_audit_verify(src, &audit_src, &bad) != CR_OK)
		printf("audit chain on SQLite: BROKEN at row %lld (copied as it is)\n", (long long)bad);
	err = cr_db_audit_verify(dst, &audit_dst, &bad);
	if (err == CR_OK && audit_dst == audit_want)
		printf("audit chain on PostgreSQL: OK, %ld rows\n", audit_dst);
	else {
		printf("audit chain on PostgreSQL: %s (%ld rows verified)\n", err == CR_OK ? "row count differs" : "BROKEN",
		    audit_dst);
		mismatch = true;
	}
	if (mismatch) {
		fprintf(stderr, "certrenew: verification failed: rolled back, nothing changed\n");
		rc = 2;
		goto out;
	}
	if ((err = cr_db_commit(dst)) != CR_OK) {
		fprintf(stderr, "certrenew: commit failed (%s): nothing changed\n", cr_err_str(err));
		goto out;
	}
	printf("migrated %ld rows in %zu tables from SQLite to PostgreSQL\n", total, nt);
	rc = 0;
out:
	/* Returning a connection rolls back what was not committed (the source's read transaction too). */
	if (src != NULL)
		cr_store_put(src_st, src);
	if (dst != NULL)
		cr_store_put(dst_st, dst);
	cr_store_close(src_st);
	cr_store_close(dst_st);
	return rc;
}
