/*
 * The store: the only module that speaks SQL. Callers borrow a connection
 * (struct cr_db) from the pool (struct cr_store) for the length of one request
 * or command, and group writes in cr_db_begin/cr_db_commit so a state change
 * and its audit row commit together.
 *
 * SQLite (WAL) is the embedded backend, PostgreSQL (libpq) the production one;
 * the functions below are the whole contract for both (docs/internals/store.md).
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

struct cr_buf;

struct cr_store;
struct cr_db;

/* Opens a pool of `connections` connections to url: "sqlite:PATH" or a bare path (the file is
   created if missing), or a libpq URI "postgresql://..." / "postgres://...". CR_ERR_CONFIG for
   another scheme or a PostgreSQL server that cannot be reached or refuses the login. */
enum cr_err cr_store_open(const char *url, int connections, struct cr_store **out);
void cr_store_close(struct cr_store *st); /* NULL is a no-op; all connections must be back */
/* Borrows a connection, waiting for one to be free. Never NULL. A PostgreSQL connection that was
   lost is reconnected here; while that fails, its queries fail with CR_ERR_IO. */
struct cr_db *cr_store_get(struct cr_store *st);
/* Returns a connection; an open transaction is rolled back. */
void cr_store_put(struct cr_store *st, struct cr_db *db);

/* Brings the schema to the newest version (idempotent). */
enum cr_err cr_db_migrate(struct cr_db *db);
/* Current schema version (0 on an empty database). */
enum cr_err cr_db_schema_version(struct cr_db *db, int *out);

/* ---- copying between databases (certrenew migrate-sqlite-to-postgres) ----
   Every table of the schema (not schema_version), in an order where each comes after the
   tables it references. */
size_t cr_db_copy_table_count(void);
const char *cr_db_copy_table_name(size_t t); /* static string; NULL past the end */
/* Rows in table t. */
enum cr_err cr_db_copy_table_rows(struct cr_db *db, size_t t, long *out);
/* Inserts every row of table t of `from` into `to`, all columns as they are (ids, blobs, NULLs),
   in primary-key order; *copied counts them. `to` must be inside a transaction (an error leaves
   it to the caller to roll back). Both databases must be at the same schema version. */
enum cr_err cr_db_copy_table(struct cr_db *from, struct cr_db *to, size_t t, long *copied);
/* After the copy, inside the same transaction: PostgreSQL's id sequences are moved past the
   highest copied id, so new rows get fresh ids, and the tables are analysed (planner statistics
   of the copied data at once). A no-op on SQLite. */
enum cr_err cr_db_copy_finish(struct cr_db *to);

/* Write transactions. SQLite: begin takes the write lock at once, so two writers queue
   rather than fail at commit. PostgreSQL: READ COMMITTED; what must be serialised (the audit
   chain, notices per holder) takes its own lock inside. On PostgreSQL an error inside a
   transaction aborts it: roll back after any error (commit then fails). */
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
	time_t created_at;
	char ip[64];                             /* the client address that started it ("" unknown) */
};
enum cr_err cr_db_login_flow_create(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN],
    const struct cr_login_flow *f);
/* Fetches and deletes the flow of state_hash started by the browser whose pre-login cookie hashes
   to browser_hash, in one step, so a state is usable once and only by its browser: another
   browser holding the callback URL cannot spoil the login. CR_ERR_NOTFOUND when absent (unknown,
   forged, already used, or another browser's). */
enum cr_err cr_db_login_flow_take(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN],
    const unsigned char browser_hash[CR_HASH_LEN], struct cr_login_flow *out);
enum cr_err cr_db_login_flows_purge(struct cr_db *db, time_t created_before, long *deleted);
/* How many login flows the address ip started since `since` (still on record). */
enum cr_err cr_db_login_flows_recent(struct cr_db *db, const char *ip, time_t since, long *n);

/* ---- department confirmation (SPEC R2) ---- */
struct cr_org_cert {
	int64_t cert_id;
	char serial_hex[80];
	enum cr_cert_type type;
	time_t not_after;
	char holder_name[CR_TEXT];
	char email[CR_TEXT];
	char decision[16];  /* "confirmed", "declined" or "" when undecided */
};
/* The organisation's issued certificates expiring in (now, now + horizon_days], soonest first;
   at most max rows into out, *n the count. */
enum cr_err cr_db_org_certs_expiring(struct cr_db *db, int64_t org_id, time_t now, int horizon_days,
    struct cr_org_cert *out, size_t max, size_t *n);
/* Records a decision for cert_id only when it belongs to org_id, is issued and expires within the
   horizon; CR_ERR_NOTFOUND otherwise (another organisation's id changes nothing). */
enum cr_err cr_db_org_decide(struct cr_db *db, int64_t org_id, int64_t cert_id, const char *decision,
    const char *decided_by, time_t now, int horizon_days);
/* Looks a certificate up by serial (lower-case hex). der is not filled. */
enum cr_err cr_db_cert_by_serial(struct cr_db *db, const char *serial_hex, struct cr_cert *out);

/* ---- mail outbox (SPEC R1.5) ---- */
struct cr_outbox_msg {
	int64_t id;
	char kind[32];            /* "notice", "reminder", "code", ... */
	char to_addr[CR_TEXT];
	char subject[512];        /* UTF-8, for listings */
	char message_id[256];
	unsigned char *sealed;    /* the sealed envelope (notify/outbox.h); add: borrowed; get/claim: owned */
	size_t sealed_len;
	char state[16];           /* queued, sending, sent, failed */
	int tries;
	time_t next_attempt_at, created_at, sent_at;
	char last_error[256];
};
/* Frees what get/claim allocated (the sealed bytes). */
void cr_outbox_msg_free(struct cr_outbox_msg *m);
/* Queues a message, due at once. Call inside the transaction that decided to send it. */
enum cr_err cr_db_outbox_add(struct cr_db *db, const struct cr_outbox_msg *m, time_t now, int64_t *id);
/* Claims up to max due messages (queued and due, or sending with an expired lease) for worker
   until now + lease seconds, counting a try each; fills out[0..*n). Atomic: two workers never
   claim the same message while a lease runs. */
enum cr_err cr_db_outbox_claim(struct cr_db *db, const char *worker, time_t now, int lease, size_t max,
    struct cr_outbox_msg *out, size_t *n);
/* Extends worker's lease on a claimed message to until, if worker still holds it: CR_OK, or
   CR_ERR_CONFLICT when another sender has claimed it since (or it is no longer being sent). An
   expired lease that nobody took yet is renewed. Call right before sending. */
enum cr_err cr_db_outbox_renew(struct cr_db *db, int64_t id, const char *worker, time_t until);
/* Marks a claimed message sent (only while worker still holds it). */
enum cr_err cr_db_outbox_sent(struct cr_db *db, int64_t id, const char *worker, time_t now);
/* Returns a claimed message to the queue due at next_at, or marks it failed when give_up. */
enum cr_err cr_db_outbox_retry(struct cr_db *db, int64_t id, const char *worker, time_t next_at,
    const char *error, bool give_up);
/* Lists messages newest first, optionally of one state (NULL: all), without the sealed bytes. */
enum cr_err cr_db_outbox_list(struct cr_db *db, const char *state, size_t offset, size_t max,
    struct cr_outbox_msg *out, size_t *n);
/* One message with its sealed bytes. */
enum cr_err cr_db_outbox_get(struct cr_db *db, int64_t id, struct cr_outbox_msg *out);
/* Puts failed messages back in the queue (id 0: all of them). */
enum cr_err cr_db_outbox_requeue_failed(struct cr_db *db, int64_t id, time_t now, long *count);
enum cr_err cr_db_outbox_count(struct cr_db *db, const char *state, long *out);

/* ---- renewal notices (SPEC R1.1-R1.3) ---- */
struct cr_due_cert {
	int64_t cert_id;
	enum cr_cert_type type;
	char serial_hex[80];
	time_t not_after;
	char email[CR_TEXT];
};
/*
 * kind "notice": confirmed, issued certificates expiring in (now, now + days] whose renewal is
 * not finished, with no notice of that kind for this validity yet.
 * kind "reminder-N": the same with days = N, only for certificates already noticed and whose
 * holder has not finished identity verification.
 * due_holders pages through holders by id (> after_id, at most max).
 * due_certs, called inside a transaction on PostgreSQL, also locks the holder's notices until the
 * transaction ends, so a concurrent runner re-reads after this one committed (exactly once).
 */
enum cr_err cr_db_notice_due_holders(struct cr_db *db, const char *kind, time_t now, int days, int64_t after_id,
    size_t max, int64_t *ids, size_t *n);
enum cr_err cr_db_notice_due_certs(struct cr_db *db, int64_t holder_id, const char *kind, time_t now, int days,
    struct cr_due_cert *out, size_t max, size_t *n);
/* Records that cert's notice of kind went out in outbox message outbox_id.
   CR_ERR_CONFLICT when it was recorded already (another runner got there first). */
enum cr_err cr_db_notice_add(struct cr_db *db, int64_t cert_id, time_t not_after, const char *kind,
    int64_t outbox_id, time_t now);
enum cr_err cr_db_notice_count(struct cr_db *db, const char *kind, long *out);

/* ---- renewal applications and email verification (SPEC R5) ---- */
#include "core/application.h"

struct cr_application {
	int64_t id;
	int64_t holder_id;
	enum cr_app_state state;
	time_t consent_at;   /* 0 until consent */
	time_t created_at;
	char consent_version[32];
	char counter_reason[32]; /* why step 2 sent it to the registry counter ("" otherwise) */
};

/* A certificate as shown to its holder (R5.1). */
struct cr_cert_view {
	struct cr_cert c;           /* der not filled */
	char org_name[CR_TEXT];
	char holder_name[CR_TEXT];
};

/* The holder's due certificates that are pending identity verification and in no open
   application: what 「開始鑑別」 would start with. Sorted as the seed shows them: encryption, qualified, cloudsign, then serial. */
enum cr_err cr_db_holder_verifiable_certs(struct cr_db *db, int64_t holder_id, time_t now, int window_days,
    struct cr_cert_view *out, size_t max, size_t *n);
/* The holder's open application; CR_ERR_NOTFOUND when none. */
enum cr_err cr_db_app_open_for_holder(struct cr_db *db, int64_t holder_id, struct cr_application *out);
/* An application, only if it belongs to holder_id (CR_ERR_NOTFOUND otherwise). */
enum cr_err cr_db_app_get(struct cr_db *db, int64_t app_id, int64_t holder_id, struct cr_application *out);
/* Creates an application over cert_ids (which must be the holder's), moving each certificate's
   renewal to verifying and listing the distinct email addresses to verify. Call in a transaction.
   CR_ERR_CONFLICT when the holder already has an open application. */
enum cr_err cr_db_app_create(struct cr_db *db, int64_t holder_id, const int64_t *cert_ids, size_t n, time_t now,
    int64_t *app_id);
/* Moves the application from `from` to `to`; CR_ERR_CONFLICT when it is not in `from` any more. */
enum cr_err cr_db_app_move(struct cr_db *db, int64_t app_id, enum cr_app_state from, enum cr_app_state to,
    time_t now);
/* Records the consent (time and text version) and moves consent -> emails. */
enum cr_err cr_db_app_consent(struct cr_db *db, int64_t app_id, const char *version, time_t now);
enum cr_err cr_db_app_certs(struct cr_db *db, int64_t app_id, struct cr_cert_view *out, size_t max, size_t *n);

struct cr_email_check {
	char email[CR_TEXT];
	bool verified;
};
/* The application's addresses, sorted. */
enum cr_err cr_db_app_emails(struct cr_db *db, int64_t app_id, struct cr_email_check *out, size_t max, size_t *n);
enum cr_err cr_db_app_email_verified(struct cr_db *db, int64_t app_id, const char *email, time_t now);

struct cr_code_row {
	int64_t id;
	unsigned char hash[CR_HASH_LEN];
	time_t created_at, expires_at;
	int attempts;
	bool used;
};
/* The newest code sent for (application, address); CR_ERR_NOTFOUND when none. */
enum cr_err cr_db_code_latest(struct cr_db *db, int64_t app_id, const char *email, struct cr_code_row *out);
enum cr_err cr_db_code_add(struct cr_db *db, int64_t app_id, const char *email, const unsigned char hash[CR_HASH_LEN],
    time_t now, time_t expires_at);
enum cr_err cr_db_code_wrong(struct cr_db *db, int64_t code_id);
enum cr_err cr_db_code_used(struct cr_db *db, int64_t code_id, time_t now);
/* Codes sent to an address (any application) since `since`, and when the newest was sent (0: never).
   Inside a transaction on PostgreSQL this also locks the address until the transaction ends, and
   code_latest locks the code's row, so limits and attempts hold with parallel requests. */
enum cr_err cr_db_code_stats(struct cr_db *db, const char *email, time_t since, int *count, time_t *last_sent);

/* ---- identity proofing, step 2 (SPEC R6; store_identity.c) ----
   Evidence rows are only ever added; the purge after the retention period drops the sealed
   answers and photo files and keeps the hashes and results. */
#define CR_DIGEST_HEX 65

/* One DSI resident lookup and its comparison with the registration data. */
struct cr_id_check {
	int64_t id, application_id, holder_id;
	time_t at;
	char outcome[16];                 /* match | mismatch | not_found */
	bool name_ok, name_zh_ok, id_number_ok, card_valid;
	char card_expires_on[11];
	char dsi_transaction_id[65];
	char dsi_queried_at[32];
	char answer_sha256[CR_DIGEST_HEX]; /* of the answer as received */
	const unsigned char *answer_sealed; /* insert only, borrowed: the answer sealed */
	size_t answer_sealed_len;
	char consent_version[32];
	time_t consent_at;
	bool purged;
};
enum cr_err cr_db_id_check_add(struct cr_db *db, const struct cr_id_check *c, int64_t *id);
/* The newest check of an application; CR_ERR_NOTFOUND when none. */
enum cr_err cr_db_id_check_latest(struct cr_db *db, int64_t app_id, struct cr_id_check *out);

/* A photo the holder uploaded: the re-encoded JPEG, sealed in a file under the evidence directory. */
struct cr_photo {
	int64_t id, application_id, holder_id;
	char file[96];                    /* name under identity.evidence_dir; "" once purged */
	char sha256[CR_DIGEST_HEX];       /* of the re-encoded JPEG */
	long bytes;
	int width, height;
	char source_format[8];            /* jpeg | png | tiff: what was uploaded */
	time_t uploaded_at;
};
/* Adds the application's new current photo. The photo it replaces (if any) is marked replaced;
   when no face comparison used it, its file name is given in replaced_file (else "") for the caller
   to delete after commit, and the row is marked purged. */
enum cr_err cr_db_photo_add(struct cr_db *db, const struct cr_photo *p, int64_t *id, char replaced_file[96]);
/* The application's current photo; CR_ERR_NOTFOUND when none (or purged). */
enum cr_err cr_db_photo_current(struct cr_db *db, int64_t app_id, struct cr_photo *out);

/* One face comparison by DSI. */
struct cr_face_check {
	int64_t id, application_id, holder_id, photo_id;
	time_t at;
	int score_ppm, threshold_ppm;     /* millionths */
	bool passed;
	char algorithm[64], algorithm_version[32];
	char dsi_transaction_id[65];
	char answer_sha256[CR_DIGEST_HEX];
	const unsigned char *answer_sealed; /* insert only, borrowed */
	size_t answer_sealed_len;
};
enum cr_err cr_db_face_check_add(struct cr_db *db, const struct cr_face_check *f, int64_t *id);
/* Failed comparisons of the application, and of the holder since `since` (any application). */
enum cr_err cr_db_face_failures(struct cr_db *db, int64_t app_id, int64_t holder_id, time_t since, int *app_failed,
    int *holder_failed);

/* Moves an application from `from` to the registry counter with its reason; CR_ERR_CONFLICT when it
   is not in `from` any more. */
enum cr_err cr_db_app_to_counter(struct cr_db *db, int64_t app_id, enum cr_app_state from, const char *reason,
    time_t now);

/* The retention purge: photos uploaded and checks made before `before` that are not purged yet, at
   most max photos per call. Their sealed answers are dropped, the photos' file names are put in
   files[0..*nfiles) for the caller to delete before committing; *checks counts the checks purged. */
enum cr_err cr_db_evidence_purge(struct cr_db *db, time_t before, time_t now, char (*files)[96], size_t max,
    size_t *nfiles, long *checks);

/* ---- step 3 「確認續期」 (SPEC R7, R8; store_confirm.c) ----
   Documents, e-ID requests and signatures are only ever added; a new document supersedes the
   application's earlier one. Personal data (the PDF, the CMS, the ID token, the validation record)
   arrives sealed: the store never sees it in clear. */
#define CR_MAX_POSITIONS 200

/* The active positions (職務/職級/職位) an operator imported, sorted; at most max. */
enum cr_err cr_db_positions(struct cr_db *db, char (*out)[CR_TEXT], size_t max, size_t *n);
/* CR_OK when title is an active position, CR_ERR_NOTFOUND otherwise. */
enum cr_err cr_db_position_known(struct cr_db *db, const char *title);
/* Adds a position, or makes an inactive one active again; *added says which. */
enum cr_err cr_db_position_import(struct cr_db *db, const char *title, time_t now, bool *added);

/* What step 3 recorded on the application. */
struct cr_app_confirm {
	char position[CR_TEXT];           /* the chosen 職務/職級/職位 ("" before the declaration) */
	char declaration_version[32];
	char declaration_sha256[CR_DIGEST_HEX];
	time_t declared_at, submitted_at; /* 0: not yet */
};
enum cr_err cr_db_app_confirm_get(struct cr_db *db, int64_t app_id, struct cr_app_confirm *out);
/* Records the accepted declaration and the chosen position (application in state confirm;
   CR_ERR_CONFLICT otherwise). */
enum cr_err cr_db_app_declare(struct cr_db *db, int64_t app_id, const char *position, const char *version,
    const char *sha256_hex, time_t now);

/* The application document (PDF) of one declaration. */
struct cr_document {
	int64_t id, application_id, holder_id;
	time_t created_at;
	char nonce[64];                   /* the one-time nonce printed on it */
	char sha256[CR_DIGEST_HEX];       /* of the PDF in clear */
	long bytes;
	char declaration_version[32];
	char position[CR_TEXT];
	const unsigned char *pdf_sealed;  /* insert only, borrowed */
	size_t pdf_sealed_len;
};
/* Adds the application's new document and marks the earlier ones superseded. */
enum cr_err cr_db_document_add(struct cr_db *db, const struct cr_document *d, int64_t *id);
/* The application's current document; its sealed PDF appended to sealed when not NULL.
   CR_ERR_NOTFOUND when none. */
enum cr_err cr_db_document_current(struct cr_db *db, int64_t app_id, struct cr_document *out, struct cr_buf *sealed);

/* A very-high e-ID authorization request of step 3. */
struct cr_eid_request {
	int64_t id, application_id, holder_id, document_id;
	char nonce[64];
	time_t created_at, used_at;
	const unsigned char *verifier_sealed; /* insert only, borrowed */
	size_t verifier_sealed_len;
};
enum cr_err cr_db_eid_request_add(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN],
    const struct cr_eid_request *r, int64_t *id);
/* Takes the request named by state_hash once (marks it used at now); the sealed verifier is
   appended to verifier_sealed. CR_ERR_NOTFOUND: unknown; CR_ERR_CONFLICT: used already (out is
   filled either way when the row exists). */
enum cr_err cr_db_eid_request_take(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN], time_t now,
    struct cr_eid_request *out, struct cr_buf *verifier_sealed);

/* One e-signature of an application document and the result of its validation. */
struct cr_signature {
	int64_t id, application_id, holder_id, document_id, eid_request_id;
	time_t at;
	bool passed;
	char why[32];                     /* "ok" or the first failed check */
	char signer_subject[512];
	time_t signing_time, auth_time;
	char acr[64];
	char cms_sha256[CR_DIGEST_HEX];
	/* insert only, borrowed; NULL binds NULL */
	const unsigned char *cms_sealed, *validation_sealed, *id_token_sealed;
	size_t cms_sealed_len, validation_sealed_len, id_token_sealed_len;
};
enum cr_err cr_db_signature_add(struct cr_db *db, const struct cr_signature *s, int64_t *id);
/* The newest passed signature of a document; its sealed CMS appended to cms_sealed when not NULL.
   CR_ERR_NOTFOUND when none. */
enum cr_err cr_db_signature_passed(struct cr_db *db, int64_t document_id, struct cr_signature *out,
    struct cr_buf *cms_sealed);
/* Submission (R7.4, R8): the application confirm -> submitted with its time, and each certificate
   to the state its type reaches (cr_renewal_after_submit). CR_ERR_CONFLICT when it is not at confirm. */
enum cr_err cr_db_app_submit(struct cr_db *db, int64_t app_id, time_t now);


/* ---- step 4: signing accounts, the vault's rows, issuances, revocation, CRLs (store_activate.c) ---- */
#define CR_DB_KDF_SALT_LEN 16
#define CR_DB_VAULT_MAX 4096      /* a sealed key's or a public key's bytes, at most */

/* A cloudsign signing account (雲簽用户名稱): the vault's key derivation parameters and its locks. */
struct cr_signing_account {
	int64_t id, holder_id;
	char name[CR_TEXT];
	unsigned char kdf_salt[CR_DB_KDF_SALT_LEN];
	int64_t kdf_ops, kdf_mem;
	int wrong_tries;
	time_t locked_until, busy_until;
};
enum cr_err cr_db_account_create(struct cr_db *db, const struct cr_signing_account *a, time_t now, int64_t *id);
/* The account named name, only if it is holder_id's; CR_ERR_NOTFOUND otherwise. */
enum cr_err cr_db_account_get(struct cr_db *db, const char *name, int64_t holder_id, struct cr_signing_account *out);
/* Holds the account for one activation until `until`: CR_ERR_CONFLICT while another holds it or
   the account is locked. */
enum cr_err cr_db_account_claim(struct cr_db *db, int64_t id, time_t now, time_t until);
/* Ends the claim that set busy_until = until, and only that one (a slow activation whose claim
   expired cannot end another's). */
enum cr_err cr_db_account_release(struct cr_db *db, int64_t id, time_t until);
/* A wrong password: counts it; the max-th in a row locks the account until lock_until (and starts
   the count again). *tries gets the count after this one, 0 when it locked. CR_ERR_NOTFOUND for
   no such account. */
enum cr_err cr_db_account_wrong(struct cr_db *db, int64_t id, int max, time_t lock_until, int *tries);
/* A right password: the count of wrong ones starts again. */
enum cr_err cr_db_account_right(struct cr_db *db, int64_t id);

/* A sealed signing key of an account, as the vault made it. */
struct cr_vault_row {
	int64_t id, account_id, cert_id;  /* cert_id 0 while the key has no certificate */
	unsigned char public_der[CR_DB_VAULT_MAX]; size_t public_len;
	unsigned char sealed[CR_DB_VAULT_MAX]; size_t sealed_len; /* 0 once destroyed */
	time_t created_at, destroyed_at;
};
enum cr_err cr_db_vault_key_add(struct cr_db *db, const struct cr_vault_row *k, time_t now, int64_t *id);
/* The live key of account_id bound to certificate cert_id; CR_ERR_NOTFOUND when none. */
enum cr_err cr_db_vault_key_of_cert(struct cr_db *db, int64_t account_id, int64_t cert_id, struct cr_vault_row *out);
enum cr_err cr_db_vault_key_bind(struct cr_db *db, int64_t key_id, int64_t cert_id);
/* Destroys one key (the sealed blob is overwritten with NULL, destroyed_at set). */
enum cr_err cr_db_vault_key_destroy(struct cr_db *db, int64_t key_id, time_t now);
/* Up to max ids (lowest first) of live keys whose certificate is superseded or revoked and expired
   (not_after <= now): what `certrenew jobs` destroys. The key of a certificate that expired without
   being renewed stays (the account's only key). */
enum cr_err cr_db_vault_keys_expired(struct cr_db *db, time_t now, int64_t *ids, size_t max, size_t *n);

/* An issuance: reserved (serial and key on record) before the CA signs, issued when the
   certificate is stored, abandoned when the process stopped in between (docs/internals/issuance.md). */
struct cr_issuance {
	int64_t id, renewed_cert_id, application_id, holder_id, account_id, vault_key_id, new_cert_id;
	char serial_hex[80];
	char state[16];                   /* reserved | issued | abandoned */
	char revocation_hash[128];        /* Argon2id string of the 證書撤銷短語 */
	time_t reserved_at, issued_at;
};
/* The issuance of renewed_cert_id that is not abandoned; CR_ERR_NOTFOUND when none. */
enum cr_err cr_db_issuance_of(struct cr_db *db, int64_t renewed_cert_id, struct cr_issuance *out);
/* Reserves: CR_ERR_CONFLICT when the renewed certificate has one already or the serial is taken
   (here or by any certificate). */
enum cr_err cr_db_issuance_reserve(struct cr_db *db, const struct cr_issuance *i, int64_t *id);
enum cr_err cr_db_issuance_abandon(struct cr_db *db, int64_t id, time_t now);
/* reserved -> issued with the new certificate; CR_ERR_CONFLICT when it is not reserved any more. */
enum cr_err cr_db_issuance_done(struct cr_db *db, int64_t id, int64_t new_cert_id, time_t now);
/* A certificate issued here: its revocation passphrase hash and the mark that our CA issued it. */
enum cr_err cr_db_cert_issued_here(struct cr_db *db, int64_t cert_id, const char *revocation_hash);
/* old_id superseded by new_id (status superseded; it stays valid until it expires). */
enum cr_err cr_db_cert_supersede(struct cr_db *db, int64_t old_id, int64_t new_id);
/* A certificate's renewal state from `from` to `to` (application_id cleared when to is
   pending_verification). CR_ERR_CONFLICT when it is not in `from`. */
enum cr_err cr_db_renewal_move(struct cr_db *db, int64_t cert_id, const char *from, const char *to, time_t now);
/* The renewal state of cert_id ("" when none); CR_ERR_NOTFOUND when the certificate has no renewal. */
enum cr_err cr_db_renewal_state(struct cr_db *db, int64_t cert_id, char *out, size_t outlen);
/* A certificate's renewal state and the application it belongs to (0: none); CR_ERR_NOTFOUND
   when it has no renewal. */
enum cr_err cr_db_renewal_of(struct cr_db *db, int64_t cert_id, char *state, size_t statelen, int64_t *app_id);
/* cr_db_renewal_move, only while the renewal belongs to app_id. */
enum cr_err cr_db_renewal_move_app(struct cr_db *db, int64_t cert_id, int64_t app_id, const char *from, const char *to,
    time_t now);
/* One revocation attempt counted before the passphrase is checked (so parallel guesses count
   too): CR_ERR_CONFLICT when revocation is locked or the certificate revoked; the max-th attempt
   in a row locks until lock_until (*tries 0), else *tries is the count after this one. A revocation
   sets the count back to 0. */
enum cr_err cr_db_revocation_attempt(struct cr_db *db, int64_t cert_id, int max, time_t now, time_t lock_until,
    int *tries);
/* An issuance by id; CR_ERR_NOTFOUND when none. */
enum cr_err cr_db_issuance_by_id(struct cr_db *db, int64_t id, struct cr_issuance *out);
/* Up to max issuances still reserved that were reserved before `before` (left by a crash or a
   failure): what the jobs worker abandons. */
enum cr_err cr_db_issuances_stale(struct cr_db *db, time_t before, struct cr_issuance *out, size_t max, size_t *n);
/* The holder's newest submitted application with a certificate in pending_activation. */
enum cr_err cr_db_activation_app(struct cr_db *db, int64_t holder_id, int64_t *app_id);
/* The holder's certificate by id (CR_ERR_NOTFOUND for another holder's); der appended when not NULL. */
enum cr_err cr_db_cert_of_holder(struct cr_db *db, int64_t cert_id, int64_t holder_id, struct cr_cert_view *out,
    struct cr_buf *der);

/* Revocation of a certificate issued here, by its holder's passphrase. */
struct cr_revocation_state {
	char hash[128];                   /* "" when the certificate has no passphrase (not issued here) */
	int wrong;
	time_t locked_until, revoked_at;
};
enum cr_err cr_db_revocation_state(struct cr_db *db, int64_t cert_id, struct cr_revocation_state *out);
/* Counts a wrong passphrase; the max-th locks until lock_until. *tries and CR_ERR_NOTFOUND as
   cr_db_account_wrong. */
enum cr_err cr_db_revocation_wrong(struct cr_db *db, int64_t cert_id, int max, time_t lock_until, int *tries);
/* Marks it revoked (status revoked, time, RFC 5280 reason). CR_ERR_CONFLICT when revoked already. */
enum cr_err cr_db_cert_revoke(struct cr_db *db, int64_t cert_id, int reason, time_t now);
/* The holder's certificates issued here, newest first (at most max). */
enum cr_err cr_db_holder_issued_certs(struct cr_db *db, int64_t holder_id, struct cr_cert_view *out, size_t max,
    size_t *n);

/* One revoked certificate for a CRL. */
struct cr_revoked_row {
	char serial_hex[80];
	time_t revoked_at;
	int reason;
};
/* The revoked, not yet expired certificates of a type (at most max; CR_ERR_TOOBIG past it). */
enum cr_err cr_db_revoked_of_type(struct cr_db *db, const char *type, time_t now, struct cr_revoked_row *out,
    size_t max, size_t *n);
/* What the newest CRL of a type covers against what there is: when it was published (0: never),
   how many revocations it covered, how many certificates issued here of the type are revoked. */
struct cr_crl_state {
	time_t published_at;
	int64_t covered, revoked;
};
enum cr_err cr_db_crl_state(struct cr_db *db, const char *type, struct cr_crl_state *out);
/* Takes number (from cr_db_crl_number_next, committed) for publishing at now: CR_ERR_CONFLICT
   when a newer number was taken meanwhile (that one will be published). Holds the row until the
   transaction ends, so publications of a type are written in order. */
enum cr_err cr_db_crl_claim(struct cr_db *db, const char *type, int64_t number, time_t now);
/* Records how many revocations the CRL being published covers. */
enum cr_err cr_db_crl_covered(struct cr_db *db, const char *type, int64_t covered);
/* The next crlNumber of a type's CA (1, 2, ...), recorded with the time. In a transaction. */
enum cr_err cr_db_crl_number_next(struct cr_db *db, const char *type, time_t now, int64_t *out);

#endif
