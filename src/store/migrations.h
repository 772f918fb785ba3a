/*
 * Versioned schema migrations, oldest first. Each entry moves the schema from
 * version i to i+1 and runs in one transaction. Never edit a released entry:
 * add a new one. The SQL is kept to what SQLite and PostgreSQL both accept
 * (INTEGER/BIGINT times in Unix seconds, TEXT, BLOB/BYTEA named per backend).
 */
#ifndef CR_STORE_MIGRATIONS_H
#define CR_STORE_MIGRATIONS_H

#include <stddef.h>

/* SQLite flavour. */
extern const char *const cr_sqlite_migrations[];
extern const size_t cr_sqlite_migration_count;

#endif
