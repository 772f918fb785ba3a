/*
 * Copying a whole installation from one database to another, row for row
 * (`certrenew migrate-sqlite-to-postgres`); see store.h, "copying between
 * databases". The tables and their columns are listed here explicitly, in an
 * order where every table comes after the tables it references, so inserts
 * never meet a missing parent. Every statement is a constant (the statement
 * cache is keyed by address), made from one column list per table so the
 * SELECT and the INSERT cannot disagree. Ids are copied as they are; on
 * PostgreSQL the sequences behind BIGSERIAL ids are then moved past the
 * highest id, so the next insert does not collide, and the tables analysed.
 */
#include <string.h>

#include "db_int.h"
#include "util/log.h"

struct copy_table {
	const char *name;
	const char *types; /* one letter per column: i integer, t text, b blob (each may be NULL) */
	const char *select_sql;
	const char *insert_sql;
	const char *count_sql;
	const char *setval_pg; /* NULL for a table without a sequence */
};

#define TABLE_SQL(var, tbl, cols, order, params)                                              \
	static const char var##_SEL[] = "SELECT " cols " FROM " tbl " ORDER BY " order;       \
	static const char var##_INS[] = "INSERT INTO " tbl " (" cols ") VALUES (" params ")"; \
	static const char var##_CNT[] = "SELECT count(*) FROM " tbl;
#define SETVAL_PG(tbl) \
	"SELECT setval(pg_get_serial_sequence('" tbl "', 'id'), coalesce(max(id), 0) + 1, false) FROM " tbl

#define P2 "$1, $2"
#define P3 P2 ", $3"
#define P4 P3 ", $4"
#define P5 P4 ", $5"
#define P6 P5 ", $6"
#define P7 P6 ", $7"
#define P8 P7 ", $8"
#define P9 P8 ", $9"
#define P10 P9 ", $10"
#define P11 P10 ", $11"
#define P12 P11 ", $12"
#define P14 P12 ", $13, $14"
#define P16 P14 ", $15, $16"
#define P13 P12 ", $13"
#define P17 P16 ", $17"
#define P23 P17 ", $18, $19, $20, $21, $22, $23"

TABLE_SQL(ORG, "organisations", "id, code, name", "id", P3)
TABLE_SQL(PEOPLE, "people",
    "id, govid_sub, name, name_zh, email, id_number, org_id, department, position, created_at", "id", P10)
TABLE_SQL(ROLES, "staff_roles", "person_id, role, org_id", "person_id, role", P3)
TABLE_SQL(CERTS, "certificates",
    "id, serial_hex, type, status, not_before, not_after, holder_id, email, org_id, department, position,"
    " tx_limit, proxy_qualification, signing_account, der, created_at, revocation_hash, revocation_wrong,"
    " revocation_locked_until, superseded_by, revoked_at, revocation_reason, issued_here", "id", P23)
TABLE_SQL(CONF, "confirmations", "cert_id, decision, decided_by, decided_at", "cert_id", P4)
TABLE_SQL(RENEW, "renewals", "cert_id, state, application_id, updated_at", "cert_id", P4)
TABLE_SQL(SESS, "sessions", "id_hash, person_id, created_at, last_seen, ip", "id_hash", P5)
TABLE_SQL(FLOWS, "login_flows", "state_hash, browser_hash, nonce, return_to, created_at, ip", "state_hash", P6)
TABLE_SQL(AUDIT, "audit_log", "id, at, actor, action, object, ip, detail, prev_hash, hash", "id", P9)
TABLE_SQL(OUTBOX, "outbox",
    "id, kind, to_addr, subject, message_id, sealed, state, tries, next_attempt_at, claimed_by, claimed_until,"
    " last_error, created_at, sent_at", "id", P14)
TABLE_SQL(NOTICES, "notices", "cert_id, not_after, kind, outbox_id, created_at", "cert_id, not_after, kind", P5)
TABLE_SQL(APPS, "applications",
    "id, holder_id, state, consent_at, consent_version, created_at, updated_at, counter_reason, position,"
    " declaration_version, declaration_sha256, declared_at, submitted_at", "id", P13)
TABLE_SQL(APPCERTS, "application_certs", "application_id, cert_id", "application_id, cert_id", P2)
TABLE_SQL(CHECKS, "email_checks", "application_id, email, verified_at", "application_id, email", P3)
TABLE_SQL(CODES, "email_codes", "id, application_id, email, code_hash, created_at, expires_at, attempts, used_at",
    "id", P8)
TABLE_SQL(IDCHECKS, "identity_checks",
    "id, application_id, holder_id, at, outcome, name_ok, name_zh_ok, id_number_ok, card_valid, card_expires_on,"
    " dsi_transaction_id, dsi_queried_at, answer_sha256, answer_sealed, consent_version, consent_at, purged_at", "id",
    P17)
TABLE_SQL(PHOTOS, "photos",
    "id, application_id, holder_id, file, sha256, bytes, width, height, source_format, uploaded_at, replaced_at,"
    " purged_at", "id", P12)
TABLE_SQL(FACES, "face_checks",
    "id, application_id, holder_id, photo_id, at, score_ppm, threshold_ppm, passed, algorithm, algorithm_version,"
    " dsi_transaction_id, answer_sha256, answer_sealed, purged_at", "id", P14)

TABLE_SQL(POSITIONS, "positions", "id, title, active, imported_at", "id", P4)
TABLE_SQL(DOCS, "app_documents",
    "id, application_id, holder_id, created_at, nonce, sha256, bytes, pdf_sealed, declaration_version, position,"
    " superseded_at", "id", P11)
TABLE_SQL(EIDREQ, "eid_requests",
    "id, application_id, holder_id, document_id, state_hash, nonce, verifier_sealed, created_at, used_at", "id", P9)
TABLE_SQL(SIGS, "signatures",
    "id, application_id, holder_id, document_id, eid_request_id, at, passed, why, signer_subject, signing_time, acr,"
    " auth_time, cms_sha256, cms_sealed, validation_sealed, id_token_sealed", "id", P16)

TABLE_SQL(ACCOUNTS, "signing_accounts",
    "id, name, holder_id, kdf_salt, kdf_ops, kdf_mem, wrong_tries, locked_until, busy_until, created_at", "id", P10)
TABLE_SQL(VAULT, "vault_keys", "id, account_id, cert_id, public_der, sealed, created_at, destroyed_at", "id", P7)
TABLE_SQL(ISSUANCES, "issuances",
    "id, renewed_cert_id, application_id, holder_id, account_id, vault_key_id, serial_hex, revocation_hash, state,"
    " reserved_at, issued_at, abandoned_at, new_cert_id", "id", P13)
TABLE_SQL(CRLNUM, "crl_numbers", "type, last_number, published_at, covered", "type", P4)

static const char ORG_SETVAL_PG[] = SETVAL_PG("organisations");
static const char PEOPLE_SETVAL_PG[] = SETVAL_PG("people");
static const char CERTS_SETVAL_PG[] = SETVAL_PG("certificates");
static const char OUTBOX_SETVAL_PG[] = SETVAL_PG("outbox");
static const char APPS_SETVAL_PG[] = SETVAL_PG("applications");
static const char CODES_SETVAL_PG[] = SETVAL_PG("email_codes");
static const char IDCHECKS_SETVAL_PG[] = SETVAL_PG("identity_checks");
static const char PHOTOS_SETVAL_PG[] = SETVAL_PG("photos");
static const char FACES_SETVAL_PG[] = SETVAL_PG("face_checks");
static const char POSITIONS_SETVAL_PG[] = SETVAL_PG("positions");
static const char DOCS_SETVAL_PG[] = SETVAL_PG("app_documents");
static const char EIDREQ_SETVAL_PG[] = SETVAL_PG("eid_requests");
static const char SIGS_SETVAL_PG[] = SETVAL_PG("signatures");
static const char ACCOUNTS_SETVAL_PG[] = SETVAL_PG("signing_accounts");
static const char VAULT_SETVAL_PG[] = SETVAL_PG("vault_keys");
static const char ISSUANCES_SETVAL_PG[] = SETVAL_PG("issuances");

#define T(var, tbl, types, setval) {tbl, types, var##_SEL, var##_INS, var##_CNT, setval}

/* Parents before children. schema_version is not copied: the target is migrated by cr_db_migrate. */
static const struct copy_table tables[] = {
	T(ORG, "organisations", "itt", ORG_SETVAL_PG),
	T(PEOPLE, "people", "itttttitti", PEOPLE_SETVAL_PG),
	T(ROLES, "staff_roles", "iti", NULL),
	T(CERTS, "certificates", "itttiiititttttbi" "tiiiiii", CERTS_SETVAL_PG),
	T(CONF, "confirmations", "itti", NULL),
	T(RENEW, "renewals", "itii", NULL),
	T(SESS, "sessions", "biiit", NULL),
	T(FLOWS, "login_flows", "bbttit", NULL),
	T(AUDIT, "audit_log", "iittttttt", NULL),
	T(OUTBOX, "outbox", "ittttbtiititii", OUTBOX_SETVAL_PG),
	T(NOTICES, "notices", "iitii", NULL),
	T(APPS, "applications", "iititiitttti" "i", APPS_SETVAL_PG),
	T(APPCERTS, "application_certs", "ii", NULL),
	T(CHECKS, "email_checks", "iti", NULL),
	T(CODES, "email_codes", "iitbiiii", CODES_SETVAL_PG),
	T(IDCHECKS, "identity_checks", "iiiitiiiittttbtii", IDCHECKS_SETVAL_PG),
	T(PHOTOS, "photos", "iiittiiitiii", PHOTOS_SETVAL_PG),
	T(FACES, "face_checks", "iiiiiiiittttbi", FACES_SETVAL_PG),
	T(POSITIONS, "positions", "itii", POSITIONS_SETVAL_PG),
	T(DOCS, "app_documents", "iiiittibtti", DOCS_SETVAL_PG),
	T(EIDREQ, "eid_requests", "iiiittbii", EIDREQ_SETVAL_PG),
	T(SIGS, "signatures", "iiiiiiittititbbb", SIGS_SETVAL_PG),
	/* Step 4: accounts (people), their keys (certificates), issuances (applications, keys). */
	T(ACCOUNTS, "signing_accounts", "itibiiiiii", ACCOUNTS_SETVAL_PG),
	T(VAULT, "vault_keys", "iiibbii", VAULT_SETVAL_PG),
	T(ISSUANCES, "issuances", "iiiiiitttiiii", ISSUANCES_SETVAL_PG),
	T(CRLNUM, "crl_numbers", "tiii", NULL),
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

size_t
cr_db_copy_table_count(void)
{
	return NTABLES;
}

const char *
cr_db_copy_table_name(size_t t)
{
	return t < NTABLES ? tables[t].name : NULL;
}

enum cr_err
cr_db_copy_table_rows(struct cr_db *db, size_t t, long *out)
{
	struct db_stmt *st;
	int64_t n = 0;
	enum cr_err err;

	*out = 0;
	if (t >= NTABLES)
		return CR_ERR_INVALID;
	if ((st = db_prep(db, tables[t].count_sql)) == NULL)
		return CR_ERR_IO;
	err = db_one_int(st, tables[t].name, &n);
	*out = (long)n;
	return err;
}

/* Binds column i of the source row to $i+1 of the insert, NULL as NULL of the column's type. */
static void
bind_column(struct db_stmt *from, struct db_stmt *to, int i, char type)
{
	enum db_type t = type == 'i' ? DB_T_INT : type == 'b' ? DB_T_BLOB : DB_T_TEXT;

	if (db_col_null(from, i)) {
		db_bind_null(to, i + 1, t);
		return;
	}
	switch (t) {
	case DB_T_INT:
		db_bind_int(to, i + 1, db_col_int(from, i));
		break;
	case DB_T_TEXT:
		db_bind_text(to, i + 1, db_col_text(from, i));
		break;
	case DB_T_BLOB: {
		size_t len = 0;
		const void *p = db_col_blob(from, i, &len);

		/* A zero-length blob is not NULL: SQLite gives no pointer for it. */
		db_bind_blob(to, i + 1, p != NULL ? p : "", len);
		break;
	}
	}
}

enum cr_err
cr_db_copy_table(struct cr_db *from, struct cr_db *to, size_t t, long *copied)
{
	const struct copy_table *ct;
	struct db_stmt *sel, *ins;
	int ncols;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	*copied = 0;
	if (t >= NTABLES)
		return CR_ERR_INVALID;
	ct = &tables[t];
	ncols = (int)strlen(ct->types);
	if (!to->in_tx) {
		cr_error("store", "copy of %s outside a transaction on the target", ct->name);
		return CR_ERR_CONFLICT;
	}
	if ((sel = db_prep(from, ct->select_sql)) == NULL)
		return CR_ERR_IO;
	while ((rc = db_step(sel)) == DB_ROW) {
		if ((ins = db_prep(to, ct->insert_sql)) == NULL) {
			err = CR_ERR_IO;
			break;
		}
		for (int i = 0; i < ncols; i++)
			bind_column(sel, ins, i, ct->types[i]);
		/* Source values are borrowed until the source steps again: run the insert first. */
		if ((err = db_run(ins, ct->name)) != CR_OK)
			break;
		(*copied)++;
	}
	if (err == CR_OK && rc == DB_ERR)
		err = db_err(sel, ct->name);
	db_reset(sel);
	return err;
}

enum cr_err
cr_db_copy_finish(struct cr_db *to)
{
	struct db_stmt *st;
	enum cr_err err;

	if (to->kind != DB_PG)
		return CR_OK; /* SQLite's INTEGER PRIMARY KEY takes max(id) + 1 by itself */
	for (size_t t = 0; t < NTABLES; t++) {
		if (tables[t].setval_pg == NULL)
			continue;
		if ((st = db_prep(to, tables[t].setval_pg)) == NULL)
			return CR_ERR_IO;
		if ((err = db_run(st, tables[t].name)) != CR_OK)
			return err;
	}
	/*
	 * Statistics for the planner now, not when autovacuum gets round to it: plans made while the
	 * statistics still describe empty tables (a sequential scan of notices per certificate, say)
	 * grow with the data. Inside the transaction ANALYZE counts the rows it inserted.
	 */
	return db_exec(to, "ANALYZE");
}
