/*
 * Versioned schema migrations, oldest first. Each entry moves the schema from
 * version i to i+1 and runs in one transaction. Never edit a released entry:
 * add a new one, in both lists. Times are Unix seconds (INTEGER in SQLite,
 * BIGINT in PostgreSQL); blobs are BLOB / BYTEA.
 */
#ifndef CR_STORE_MIGRATIONS_H
#define CR_STORE_MIGRATIONS_H

#include <stddef.h>

/* SQLite flavour. */
extern const char *const cr_sqlite_migrations[];
extern const size_t cr_sqlite_migration_count;

/* PostgreSQL flavour: the same versions with the same meaning, entry for entry. */
extern const char *const cr_pg_migrations[];
extern const size_t cr_pg_migration_count;

#endif
