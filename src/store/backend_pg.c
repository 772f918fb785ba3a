/*
 * PostgreSQL (libpq) implementation of the store's statement layer (db_int.h).
 *
 * Statements: each SQL constant is prepared once per connection (PQprepare,
 * named "s<slot>") on its first run, with the parameter types taken from what
 * was bound (int -> int8, text -> text, bool -> bool, blob -> bytea), so the
 * server never has to guess the type of a bare `$1 = $1`. Parameters travel as
 * text, blobs as binary. Results come back in text format in single-row mode,
 * so a long result (the audit chain) is streamed, not held in memory; a caller
 * that stops early has the rest drained by db_reset. Booleans arrive as 't'/'f',
 * bytea as "\x<hex>" (decoded into a buffer per statement and column, so that
 * every blob of a row stays valid until the next step, as db_int.h promises: the
 * copy binds all of a row's blobs before it inserts).
 *
 * Errors: SQLSTATE class 23 (integrity constraint violation: unique, foreign
 * key, check, and the audit log's trigger) is a conflict, the rest I/O. In
 * PostgreSQL a failed statement aborts its transaction; every caller already
 * rolls back on an error, and a COMMIT of an aborted transaction is refused here
 * rather than silently rolling back.
 *
 * Connection loss: a query on a dead connection fails with CR_ERR_IO; when the
 * pool lends the connection again (revive), a connection that is marked bad, or
 * whose socket became readable while idle (the server said goodbye), is reset
 * with PQreset and its statements are prepared afresh on next use.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db_int.h"
#include "util/log.h"

#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

enum pg_state { PG_IDLE, PG_RUNNING, PG_DONE, PG_FAILED };

/* A decoded bytea column, reused row after row. */
struct pg_blob {
	unsigned char *p;
	size_t cap;
};

struct pg_stmt {
	struct db_stmt base;
	char name[16];
	bool prepared;
	enum pg_state state;
	int nparams;
	const char *values[DB_MAX_PARAMS];
	int lengths[DB_MAX_PARAMS];
	int formats[DB_MAX_PARAMS];
	Oid types[DB_MAX_PARAMS];
	char nums[DB_MAX_PARAMS][24];
	PGresult *row; /* the current row (single-row mode) */
	struct pg_blob *blobs; /* decoded bytea, one buffer per column index; nblobs of them */
	int nblobs;
	char sqlstate[6];
	char errmsg[256];
};

struct pg_db {
	struct cr_db base;
	PGconn *conn;
	long changes;
	time_t last_warn;
	struct pg_stmt cache[DB_STMT_CACHE];
};

#define PS(st) ((struct pg_stmt *)(void *)(st))
#define PGDB(db) ((struct pg_db *)(void *)(db))

static void
set_error(struct pg_stmt *s, const char *sqlstate, const char *msg)
{
	size_t n;

	snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", sqlstate ? sqlstate : "");
	snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg && *msg ? msg : "unknown error");
	n = strlen(s->errmsg);
	while (n > 0 && (s->errmsg[n - 1] == '\n' || s->errmsg[n - 1] == ' '))
		s->errmsg[--n] = '\0';
	for (char *p = s->errmsg; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

static void
set_result_error(struct pg_stmt *s, const PGresult *r, PGconn *conn)
{
	if (r != NULL)
		set_error(s, PQresultErrorField(r, PG_DIAG_SQLSTATE), PQresultErrorMessage(r));
	else
		set_error(s, NULL, PQerrorMessage(conn));
}

/* Reads what is left of a running query so the connection is ready for the next one. */
static void
drain(PGconn *conn)
{
	PGresult *r;

	while ((r = PQgetResult(conn)) != NULL)
		PQclear(r);
}

static void
stmt_finish(struct pg_stmt *s, PGconn *conn)
{
	if (s->state == PG_RUNNING)
		drain(conn);
	PQclear(s->row);
	s->row = NULL;
	s->state = PG_IDLE;
}

static struct db_stmt *
pg_prep(struct cr_db *cdb, const char *sql)
{
	struct pg_db *db = PGDB(cdb);
	int free_slot = -1;
	struct pg_stmt *s;

	for (int i = 0; i < DB_STMT_CACHE; i++) {
		s = &db->cache[i];
		if (s->base.sql == sql)
			goto found;
		if (s->base.sql == NULL && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		cr_error("store", "statement cache full");
		return NULL;
	}
	s = &db->cache[free_slot];
	s->base = (struct db_stmt){cdb, sql};
	snprintf(s->name, sizeof(s->name), "s%d", free_slot);
	s->prepared = false;
found:
	stmt_finish(s, db->conn);
	s->nparams = 0;
	s->sqlstate[0] = '\0';
	s->errmsg[0] = '\0';
	return &s->base;
}

static int
param(struct pg_stmt *s, int n)
{
	if (n < 1 || n > DB_MAX_PARAMS) {
		cr_error("store", "parameter $%d out of range", n);
		abort();
	}
	if (n > s->nparams) {
		for (int i = s->nparams; i < n - 1; i++) {
			/* A gap: unbound, sent as NULL with the type left to the server. */
			s->values[i] = NULL;
			s->lengths[i] = 0;
			s->formats[i] = 0;
			s->types[i] = 0;
		}
		s->nparams = n;
	}
	return n - 1;
}

static void
pg_bind_text(struct db_stmt *st, int n, const char *v)
{
	struct pg_stmt *s = PS(st);
	int i = param(s, n);

	s->values[i] = v ? v : "";
	s->lengths[i] = 0;
	s->formats[i] = 0;
	s->types[i] = OID_TEXT;
}

static void
pg_bind_int(struct db_stmt *st, int n, int64_t v)
{
	struct pg_stmt *s = PS(st);
	int i = param(s, n);

	snprintf(s->nums[i], sizeof(s->nums[i]), "%lld", (long long)v);
	s->values[i] = s->nums[i];
	s->lengths[i] = 0;
	s->formats[i] = 0;
	s->types[i] = OID_INT8;
}

static void
pg_bind_bool(struct db_stmt *st, int n, bool v)
{
	struct pg_stmt *s = PS(st);
	int i = param(s, n);

	s->values[i] = v ? "t" : "f";
	s->lengths[i] = 0;
	s->formats[i] = 0;
	s->types[i] = OID_BOOL;
}

static void
pg_bind_blob(struct db_stmt *st, int n, const void *p, size_t len)
{
	struct pg_stmt *s = PS(st);
	int i = param(s, n);

	s->values[i] = p;
	s->lengths[i] = p ? (int)len : 0;
	s->formats[i] = 1;
	s->types[i] = OID_BYTEA;
}

static void
pg_bind_null(struct db_stmt *st, int n, enum db_type t)
{
	struct pg_stmt *s = PS(st);
	int i = param(s, n);

	s->values[i] = NULL;
	s->lengths[i] = 0;
	s->formats[i] = t == DB_T_BLOB ? 1 : 0;
	s->types[i] = t == DB_T_INT ? OID_INT8 : t == DB_T_BLOB ? OID_BYTEA : OID_TEXT;
}

static enum db_rc
pg_step(struct db_stmt *st)
{
	struct pg_stmt *s = PS(st);
	struct pg_db *db = PGDB(st->db);
	PGresult *r;

	switch (s->state) {
	case PG_DONE:
		return DB_DONE;
	case PG_FAILED:
		return DB_ERR;
	case PG_IDLE:
		if (!s->prepared) {
			r = PQprepare(db->conn, s->name, st->sql, s->nparams, s->types);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				set_result_error(s, r, db->conn);
				PQclear(r);
				s->state = PG_FAILED;
				return DB_ERR;
			}
			PQclear(r);
			s->prepared = true;
		}
		if (!PQsendQueryPrepared(db->conn, s->name, s->nparams, s->values, s->lengths, s->formats, 0)) {
			set_result_error(s, NULL, db->conn);
			s->state = PG_FAILED;
			return DB_ERR;
		}
		PQsetSingleRowMode(db->conn);
		s->state = PG_RUNNING;
		break;
	case PG_RUNNING:
		break;
	}
	PQclear(s->row);
	s->row = NULL;
	if ((r = PQgetResult(db->conn)) == NULL) {
		s->state = PG_DONE;
		return DB_DONE;
	}
	switch (PQresultStatus(r)) {
	case PGRES_SINGLE_TUPLE:
		s->row = r;
		return DB_ROW;
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		db->changes = strtol(PQcmdTuples(r), NULL, 10);
		PQclear(r);
		drain(db->conn);
		s->state = PG_DONE;
		return DB_DONE;
	default:
		set_result_error(s, r, db->conn);
		PQclear(r);
		drain(db->conn);
		s->state = PG_FAILED;
		return DB_ERR;
	}
}

static bool
pg_col_null(struct db_stmt *st, int i)
{
	return PS(st)->row == NULL || PQgetisnull(PS(st)->row, 0, i);
}

static const char *
pg_col_text(struct db_stmt *st, int i)
{
	const PGresult *r = PS(st)->row;

	if (r == NULL || i >= PQnfields(r) || PQgetisnull(r, 0, i))
		return NULL;
	return PQgetvalue(r, 0, i);
}

static int64_t
pg_col_int(struct db_stmt *st, int i)
{
	const char *v = pg_col_text(st, i);

	if (v == NULL)
		return 0;
	if (v[0] == 't' || v[0] == 'f')
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static bool
pg_col_bool(struct db_stmt *st, int i)
{
	return pg_col_int(st, i) != 0;
}

/* bytea in text format is "\x" and two hex digits a byte (bytea_output = hex, the default).
   Column i has its own buffer: another blob column of the same row must not overwrite it. */
static const void *
pg_col_blob(struct db_stmt *st, int i, size_t *len)
{
	struct pg_stmt *s = PS(st);
	const char *v = pg_col_text(st, i);
	struct pg_blob *b;
	size_t n;

	*len = 0;
	if (v == NULL)
		return NULL;
	if (v[0] != '\\' || v[1] != 'x') {
		cr_error("store", "bytea not in hex format (set bytea_output = hex)");
		return NULL;
	}
	if (i >= s->nblobs) {
		struct pg_blob *grown = realloc(s->blobs, (size_t)(i + 1) * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		memset(grown + s->nblobs, 0, (size_t)(i + 1 - s->nblobs) * sizeof(*grown));
		s->blobs = grown;
		s->nblobs = i + 1;
	}
	b = &s->blobs[i];
	v += 2;
	n = strlen(v) / 2;
	if (n + 1 > b->cap) {
		unsigned char *p = realloc(b->p, n + 1);

		if (p == NULL)
			return NULL;
		b->p = p;
		b->cap = n + 1;
	}
	if (sodium_hex2bin(b->p, b->cap, v, 2 * n, NULL, &n, NULL) != 0)
		return NULL;
	*len = n;
	return b->p;
}

static void
pg_reset(struct db_stmt *st)
{
	stmt_finish(PS(st), PGDB(st->db)->conn);
}

/* Class 23: integrity constraint violation (23505 unique, 23503 foreign key, 23514 check, 23001 trigger). */
static bool
pg_is_conflict(struct db_stmt *st)
{
	return strncmp(PS(st)->sqlstate, "23", 2) == 0;
}

static const char *
pg_errmsg(struct db_stmt *st)
{
	return PS(st)->errmsg;
}

static long
pg_changes(struct cr_db *db)
{
	return PGDB(db)->changes;
}

static enum cr_err
pg_exec(struct cr_db *cdb, const char *sql)
{
	struct pg_db *db = PGDB(cdb);
	PGresult *r = PQexec(db->conn, sql);
	ExecStatusType rs = PQresultStatus(r);
	enum cr_err err = CR_OK;

	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		struct pg_stmt tmp;

		set_result_error(&tmp, r, db->conn);
		cr_error("store", "exec: %s", tmp.errmsg);
		err = state && strncmp(state, "23", 2) == 0 ? CR_ERR_CONFLICT : CR_ERR_IO;
	}
	PQclear(r);
	return err;
}

static enum cr_err
pg_begin(struct cr_db *db)
{
	return pg_exec(db, "BEGIN ISOLATION LEVEL READ COMMITTED");
}

static enum cr_err
pg_commit(struct cr_db *cdb)
{
	struct pg_db *db = PGDB(cdb);

	if (PQstatus(db->conn) != CONNECTION_OK) {
		cr_error("store", "commit: the connection to PostgreSQL was lost; the transaction is gone");
		return CR_ERR_IO;
	}
	/* COMMIT of an aborted transaction "succeeds" as a ROLLBACK: refuse it instead. */
	if (PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
		cr_error("store", "commit of a transaction in which a statement failed: rolled back");
		pg_exec(cdb, "ROLLBACK");
		return CR_ERR_IO;
	}
	if (pg_exec(cdb, "COMMIT") != CR_OK) {
		if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
			pg_exec(cdb, "ROLLBACK");
		return CR_ERR_IO;
	}
	return CR_OK;
}

static void
pg_rollback(struct cr_db *cdb)
{
	struct pg_db *db = PGDB(cdb);

	if (PQstatus(db->conn) == CONNECTION_OK && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		pg_exec(cdb, "ROLLBACK");
}

static void
quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "relation already exists, skipping" and the like: not worth a log line */
}

/* After a (re)connect: server-side statements are gone, and so is any transaction. */
static void
forget_session(struct pg_db *db)
{
	for (int i = 0; i < DB_STMT_CACHE; i++) {
		struct pg_stmt *s = &db->cache[i];

		PQclear(s->row);
		s->row = NULL;
		s->state = PG_IDLE;
		s->prepared = false;
	}
	db->base.in_tx = false;
	db->base.audit_locked = false;
}

/* Is the idle connection's socket readable? Then the server has spoken unasked: mostly a goodbye. */
static bool
readable_while_idle(PGconn *conn)
{
	struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};

	if (p.fd < 0)
		return true;
	return poll(&p, 1, 0) > 0;
}

static void
pg_revive(struct cr_db *cdb)
{
	struct pg_db *db = PGDB(cdb);
	bool bad = PQstatus(db->conn) != CONNECTION_OK;
	time_t now;

	if (!bad && readable_while_idle(db->conn)) {
		if (!PQconsumeInput(db->conn) || PQstatus(db->conn) != CONNECTION_OK)
			bad = true;
		else {
			PGnotify *n;

			while ((n = PQnotifies(db->conn)) != NULL)
				PQfreemem(n);
			/* An error sent while idle (the server shutting down) leaves no usable session. */
			bad = PQtransactionStatus(db->conn) != PQTRANS_IDLE || readable_while_idle(db->conn);
		}
	}
	if (!bad)
		return;
	PQreset(db->conn);
	forget_session(db);
	now = time(NULL);
	if (PQstatus(db->conn) == CONNECTION_OK) {
		cr_info("store", "reconnected to PostgreSQL");
		db->last_warn = 0;
	} else if (now - db->last_warn >= 10) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(db->conn));
		msg[strcspn(msg, "\n")] = '\0';
		cr_warn("store", "PostgreSQL connection lost; reconnecting failed: %s", msg);
		db->last_warn = now;
	}
}

static void
pg_close(struct cr_db *cdb)
{
	struct pg_db *db = PGDB(cdb);

	for (int i = 0; i < DB_STMT_CACHE; i++) {
		PQclear(db->cache[i].row);
		for (int b = 0; b < db->cache[i].nblobs; b++)
			free(db->cache[i].blobs[b].p);
		free(db->cache[i].blobs);
	}
	PQfinish(db->conn);
	free(db);
}

static const struct db_ops pg_ops = {
	.prep = pg_prep,
	.bind_text = pg_bind_text,
	.bind_int = pg_bind_int,
	.bind_bool = pg_bind_bool,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.col_null = pg_col_null,
	.col_int = pg_col_int,
	.col_bool = pg_col_bool,
	.col_text = pg_col_text,
	.col_blob = pg_col_blob,
	.reset = pg_reset,
	.is_conflict = pg_is_conflict,
	.errmsg = pg_errmsg,
	.changes = pg_changes,
	.exec = pg_exec,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.revive = pg_revive,
	.close = pg_close,
};

/*
 * url is a libpq connection URI (postgresql://user@host:port/db?...). The defaults below come
 * before it, so the URI may override them. A password is better kept in ~/.pgpass (PGPASSFILE)
 * than in the URI, which is logged by some commands.
 */
enum cr_err
db_pg_open(const char *url, struct cr_db **out)
{
	static const char *const keys[] = {"connect_timeout", "application_name", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "client_encoding", "dbname", NULL};
	const char *vals[] = {"10", "certrenew", "30", "10", "3", "UTF8", url, NULL};
	struct pg_db *db;
	char msg[256];

	*out = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return CR_ERR_NOMEM;
	db->base.ops = &pg_ops;
	db->base.kind = DB_PG;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL) {
		free(db);
		return CR_ERR_NOMEM;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(db->conn));
		msg[strcspn(msg, "\n")] = '\0';
		cr_error("store", "database.url: cannot connect to PostgreSQL: %s", msg);
		PQfinish(db->conn);
		free(db);
		/* At start-up a URL that leads to no usable database is a configuration problem. */
		return CR_ERR_CONFIG;
	}
	PQsetNoticeProcessor(db->conn, quiet_notices, NULL);
	*out = &db->base;
	return CR_OK;
}
