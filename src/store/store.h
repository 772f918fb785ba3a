/*
 * The store: the only module that speaks SQL. Callers borrow a connection
 * (struct cr_db) from the pool (struct cr_store) for the length of one request
 * or command, and group writes in cr_db_begin/cr_db_commit so a state change
 * and its audit row commit together.
 *
 * SQLite (WAL) is the embedded backend; the functions below are the whole
 * contract, so a PostgreSQL backend can sit behind them without touching callers.
 * Text results are copied into caller-owned structs; nothing returned borrows
 * from the connection.
 */
#ifndef CR_STORE_H
#define CR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/renewal.h"
#include "util/err.h"

struct cr_store;
struct cr_db;

/* Opens a pool of `connections` connections to url ("sqlite:PATH" or a bare path).
   The database file is created if missing. */
enum cr_err cr_store_open(const char *url, int connections, struct cr_store **out);
void cr_store_close(struct cr_store *st); /* NULL is a no-op; all connections must be back */
/* Borrows a connection, waiting for one to be free. Never NULL. */
struct cr_db *cr_store_get(struct cr_store *st);
/* Returns a connection; an open transaction is rolled back. */
void cr_store_put(struct cr_store *st, struct cr_db *db);

/* Brings the schema to the newest version (idempotent). */
enum cr_err cr_db_migrate(struct cr_db *db);
/* Current schema version (0 on an empty database). */
enum cr_err cr_db_schema_version(struct cr_db *db, int *out);

/* Write transactions. begin takes the write lock at once, so two writers queue
   rather than fail at commit. */
enum cr_err cr_db_begin(struct cr_db *db);
enum cr_err cr_db_commit(struct cr_db *db);
void cr_db_rollback(struct cr_db *db);

/* ---- audit log (append-only, hash-chained; SPEC R11.1) ---- */
struct cr_audit {
	const char *actor;  /* "person:12", "system", "operator" */
	const char *action; /* "login", "logout", "confirm", ... */
	const char *object; /* "cert:5", "session", "" */
	const char *ip;     /* client address or "" */
	const char *detail; /* short free text, never secrets */
};
/* Appends one row chained to the previous one. Call inside a transaction. */
enum cr_err cr_db_audit(struct cr_db *db, time_t at, const struct cr_audit *a);
/* Recomputes the chain. *rows gets the row count; on a broken chain returns
   CR_ERR_CONFLICT with *bad_id the first row that does not verify. */
enum cr_err cr_db_audit_verify(struct cr_db *db, long *rows, int64_t *bad_id);
/* Number of audit rows with this action (for tests and operators). */
enum cr_err cr_db_audit_count(struct cr_db *db, const char *action, long *out);

/* ---- organisations and people ---- */
#define CR_TEXT 256

struct cr_person {
	int64_t id;
	char sub[CR_TEXT];        /* GovID subject */
	char name[CR_TEXT];       /* registered name (Latin) */
	char name_zh[CR_TEXT];
	char email[CR_TEXT];
	char id_number[32];       /* resident ID card number */
	char department[CR_TEXT];
	char position[CR_TEXT];
	int64_t org_id;
	char org_name[CR_TEXT];
	bool is_coordinator;
	bool is_officer;
};

enum cr_err cr_db_org_upsert(struct cr_db *db, const char *code, const char *name, int64_t *id);
/* Inserts or updates by sub; p->id is ignored, *id gets the row id. */
enum cr_err cr_db_person_upsert(struct cr_db *db, const struct cr_person *p, int64_t *id);
/* role: "coordinator" or "officer", for organisation org_id. */
enum cr_err cr_db_role_add(struct cr_db *db, int64_t person_id, const char *role, int64_t org_id);
enum cr_err cr_db_person_by_sub(struct cr_db *db, const char *sub, struct cr_person *out);
enum cr_err cr_db_person_by_id(struct cr_db *db, int64_t id, struct cr_person *out);
enum cr_err cr_db_person_count(struct cr_db *db, long *out);

/* ---- certificates ---- */
struct cr_cert {
	int64_t id;
	char serial_hex[80];
	enum cr_cert_type type;
	char status[32];          /* "issued", "revoked", ... */
	time_t not_before, not_after;
	int64_t holder_id;
	char email[CR_TEXT];
	int64_t org_id;
	char department[CR_TEXT];
	char position[CR_TEXT];
	char tx_limit[64];        /* qualified only */
	char proxy[CR_TEXT];      /* 代理資格, qualified only */
	char signing_account[CR_TEXT]; /* cloudsign only */
	const unsigned char *der; /* insert only: borrowed for the call */
	size_t der_len;
};

/* CR_ERR_CONFLICT when the serial exists. */
enum cr_err cr_db_cert_insert(struct cr_db *db, const struct cr_cert *c, int64_t *id);
/* decision: "confirmed" or "declined"; replaces an earlier decision. */
enum cr_err cr_db_confirmation_set(struct cr_db *db, int64_t cert_id, const char *decision,
    const char *decided_by, time_t at);

/* Counts of a holder's due certificates per pending-page group and type:
   inside the renewal window at `now`, status issued, confirmed by the department. */
struct cr_pending_counts {
	int n[CR_GROUP_COUNT][CR_CERT_TYPE_COUNT];
	int total[CR_GROUP_COUNT];
};
enum cr_err cr_db_pending_counts(struct cr_db *db, int64_t holder_id, time_t now, int window_days,
    struct cr_pending_counts *out);

/* ---- sessions (ids are stored only as SHA-256 hashes) ---- */
#define CR_HASH_LEN 32

struct cr_session {
	int64_t person_id;
	time_t created_at;
	time_t last_seen;
};
enum cr_err cr_db_session_create(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN],
    int64_t person_id, time_t now, const char *ip);
/* CR_ERR_NOTFOUND when there is no such session. */
enum cr_err cr_db_session_get(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN], struct cr_session *out);
enum cr_err cr_db_session_touch(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN], time_t now);
enum cr_err cr_db_session_delete(struct cr_db *db, const unsigned char id_hash[CR_HASH_LEN]);
/* Deletes sessions idle since before idle_before or created before created_before. */
enum cr_err cr_db_sessions_purge(struct cr_db *db, time_t idle_before, time_t created_before, long *deleted);

/* ---- OpenID Connect login flows in progress ---- */
struct cr_login_flow {
	unsigned char browser_hash[CR_HASH_LEN]; /* hash of the pre-login cookie */
	char nonce[128];
	char return_to[512];
	time_t created_at;
};
enum cr_err cr_db_login_flow_create(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN],
    const struct cr_login_flow *f);
/* Fetches and deletes the flow in one step, so a state is usable once.
   CR_ERR_NOTFOUND when absent (unknown, forged or already used). */
enum cr_err cr_db_login_flow_take(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN],
    struct cr_login_flow *out);
enum cr_err cr_db_login_flows_purge(struct cr_db *db, time_t created_before, long *deleted);

#endif
