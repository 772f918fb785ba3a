/* Step 3 「確認續期」: positions, the declaration, documents, e-ID requests, signatures; see store.h. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "db_int.h"
#include "util/buf.h"

static const char SQL_POSITIONS[] = "SELECT title FROM positions WHERE active = 1 ORDER BY title LIMIT $1";

enum cr_err
cr_db_positions(struct cr_db *db, char (*out)[CR_TEXT], size_t max, size_t *n)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	*n = 0;
	if ((st = db_prep(db, SQL_POSITIONS)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max)
		db_col_copy(st, 0, out[(*n)++], CR_TEXT);
	if (rc != DB_ROW && rc != DB_DONE)
		err = db_err(st, "positions");
	db_reset(st);
	return err;
}

static const char SQL_POSITION_KNOWN[] = "SELECT count(*) FROM positions WHERE title = $1 AND active = 1";

enum cr_err
cr_db_position_known(struct cr_db *db, const char *title)
{
	struct db_stmt *st;
	int64_t n = 0;
	enum cr_err err;

	if ((st = db_prep(db, SQL_POSITION_KNOWN)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, title);
	if ((err = db_one_int(st, "position", &n)) != CR_OK)
		return err;
	return n > 0 ? CR_OK : CR_ERR_NOTFOUND;
}

static const char SQL_POSITION_REACTIVATE[] = "UPDATE positions SET active = 1 WHERE title = $1";
static const char SQL_POSITION_ADD[] =
    "INSERT INTO positions (title, active, imported_at) VALUES ($1, 1, $2) ON CONFLICT (title) DO NOTHING";

enum cr_err
cr_db_position_import(struct cr_db *db, const char *title, time_t now, bool *added)
{
	struct db_stmt *st;
	enum cr_err err;

	*added = false;
	if ((st = db_prep(db, SQL_POSITION_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, title);
	db_bind_int(st, 2, now);
	if ((err = db_run(st, "position add")) != CR_OK)
		return err;
	if (db_changes(db) == 1) {
		*added = true;
		return CR_OK;
	}
	if ((st = db_prep(db, SQL_POSITION_REACTIVATE)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, title);
	return db_run(st, "position reactivate");
}

static const char SQL_APP_CONFIRM_GET[] =
    "SELECT coalesce(position, ''), coalesce(declaration_version, ''), coalesce(declaration_sha256, ''),"
    " coalesce(declared_at, 0), coalesce(submitted_at, 0) FROM applications WHERE id = $1";

enum cr_err
cr_db_app_confirm_get(struct cr_db *db, int64_t app_id, struct cr_app_confirm *out)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_APP_CONFIRM_GET)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	if ((rc = db_step(st)) == DB_ROW) {
		db_col_copy(st, 0, out->position, sizeof(out->position));
		db_col_copy(st, 1, out->declaration_version, sizeof(out->declaration_version));
		db_col_copy(st, 2, out->declaration_sha256, sizeof(out->declaration_sha256));
		out->declared_at = (time_t)db_col_int(st, 3);
		out->submitted_at = (time_t)db_col_int(st, 4);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "application step 3");
	db_reset(st);
	return err;
}

static const char SQL_APP_DECLARE[] =
    "UPDATE applications SET position = $2, declaration_version = $3, declaration_sha256 = $4, declared_at = $5,"
    " updated_at = $5 WHERE id = $1 AND state = 'confirm'";

enum cr_err
cr_db_app_declare(struct cr_db *db, int64_t app_id, const char *position, const char *version,
    const char *sha256_hex, time_t now)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_APP_DECLARE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	db_bind_text(st, 2, position);
	db_bind_text(st, 3, version);
	db_bind_text(st, 4, sha256_hex);
	db_bind_int(st, 5, now);
	if ((err = db_run(st, "declaration")) != CR_OK)
		return err;
	return db_changes(db) == 1 ? CR_OK : CR_ERR_CONFLICT;
}

static const char SQL_DOC_SUPERSEDE[] =
    "UPDATE app_documents SET superseded_at = $2 WHERE application_id = $1 AND superseded_at IS NULL";
static const char SQL_DOC_ADD[] =
    "INSERT INTO app_documents (application_id, holder_id, created_at, nonce, sha256, bytes, pdf_sealed,"
    " declaration_version, position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

enum cr_err
cr_db_document_add(struct cr_db *db, const struct cr_document *d, int64_t *id)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_DOC_SUPERSEDE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, d->application_id);
	db_bind_int(st, 2, d->created_at);
	if ((err = db_run(st, "document supersede")) != CR_OK)
		return err;
	if ((st = db_prep(db, SQL_DOC_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, d->application_id);
	db_bind_int(st, 2, d->holder_id);
	db_bind_int(st, 3, d->created_at);
	db_bind_text(st, 4, d->nonce);
	db_bind_text(st, 5, d->sha256);
	db_bind_int(st, 6, d->bytes);
	db_bind_blob(st, 7, d->pdf_sealed, d->pdf_sealed_len);
	db_bind_text(st, 8, d->declaration_version);
	db_bind_text(st, 9, d->position);
	return db_one_int(st, "document", id);
}

static const char SQL_DOC_CURRENT[] =
    "SELECT id, application_id, holder_id, created_at, nonce, sha256, bytes, declaration_version, position,"
    " pdf_sealed FROM app_documents WHERE application_id = $1 AND superseded_at IS NULL ORDER BY id DESC LIMIT 1";

/* Appends column i's blob to b (when b is not NULL). */
static enum cr_err
blob_to(struct db_stmt *st, int i, struct cr_buf *b)
{
	size_t len = 0;
	const void *p;

	if (b == NULL)
		return CR_OK;
	p = db_col_blob(st, i, &len);
	return p == NULL || len == 0 ? CR_ERR_NOTFOUND : cr_buf_add(b, p, len);
}

enum cr_err
cr_db_document_current(struct cr_db *db, int64_t app_id, struct cr_document *out, struct cr_buf *sealed)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_DOC_CURRENT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	if ((rc = db_step(st)) == DB_ROW) {
		out->id = db_col_int(st, 0);
		out->application_id = db_col_int(st, 1);
		out->holder_id = db_col_int(st, 2);
		out->created_at = (time_t)db_col_int(st, 3);
		db_col_copy(st, 4, out->nonce, sizeof(out->nonce));
		db_col_copy(st, 5, out->sha256, sizeof(out->sha256));
		out->bytes = (long)db_col_int(st, 6);
		db_col_copy(st, 7, out->declaration_version, sizeof(out->declaration_version));
		db_col_copy(st, 8, out->position, sizeof(out->position));
		err = blob_to(st, 9, sealed);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "document");
	db_reset(st);
	return err;
}

static void
hash_hex(const unsigned char h[CR_HASH_LEN], char out[CR_DIGEST_HEX])
{
	sodium_bin2hex(out, CR_DIGEST_HEX, h, CR_HASH_LEN);
}

static const char SQL_EID_ADD[] =
    "INSERT INTO eid_requests (application_id, holder_id, document_id, state_hash, nonce, verifier_sealed,"
    " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

enum cr_err
cr_db_eid_request_add(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN], const struct cr_eid_request *r,
    int64_t *id)
{
	char hex[CR_DIGEST_HEX];
	struct db_stmt *st;

	hash_hex(state_hash, hex);
	if ((st = db_prep(db, SQL_EID_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, r->application_id);
	db_bind_int(st, 2, r->holder_id);
	db_bind_int(st, 3, r->document_id);
	db_bind_text(st, 4, hex);
	db_bind_text(st, 5, r->nonce);
	db_bind_blob(st, 6, r->verifier_sealed, r->verifier_sealed_len);
	db_bind_int(st, 7, r->created_at);
	return db_one_int(st, "e-ID request", id);
}

static const char SQL_EID_GET[] =
    "SELECT id, application_id, holder_id, document_id, nonce, created_at, coalesce(used_at, 0), verifier_sealed"
    " FROM eid_requests WHERE state_hash = $1";
static const char SQL_EID_USE[] = "UPDATE eid_requests SET used_at = $2 WHERE id = $1 AND used_at IS NULL";

enum cr_err
cr_db_eid_request_take(struct cr_db *db, const unsigned char state_hash[CR_HASH_LEN], time_t now,
    struct cr_eid_request *out, struct cr_buf *verifier_sealed)
{
	char hex[CR_DIGEST_HEX];
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	hash_hex(state_hash, hex);
	if ((st = db_prep(db, SQL_EID_GET)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, hex);
	if ((rc = db_step(st)) == DB_ROW) {
		out->id = db_col_int(st, 0);
		out->application_id = db_col_int(st, 1);
		out->holder_id = db_col_int(st, 2);
		out->document_id = db_col_int(st, 3);
		db_col_copy(st, 4, out->nonce, sizeof(out->nonce));
		out->created_at = (time_t)db_col_int(st, 5);
		out->used_at = (time_t)db_col_int(st, 6);
		err = blob_to(st, 7, verifier_sealed);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "e-ID request");
	db_reset(st);
	if (err != CR_OK)
		return err;
	if (out->used_at != 0)
		return CR_ERR_CONFLICT;
	/* The guarded update is what makes the request single-use under concurrency. */
	if ((st = db_prep(db, SQL_EID_USE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, out->id);
	db_bind_int(st, 2, now);
	if ((err = db_run(st, "e-ID request use")) != CR_OK)
		return err;
	return db_changes(db) == 1 ? CR_OK : CR_ERR_CONFLICT;
}

static const char SQL_SIG_ADD[] =
    "INSERT INTO signatures (application_id, holder_id, document_id, eid_request_id, at, passed, why,"
    " signer_subject, signing_time, acr, auth_time, cms_sha256, cms_sealed, validation_sealed, id_token_sealed)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";

enum cr_err
cr_db_signature_add(struct cr_db *db, const struct cr_signature *s, int64_t *id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_SIG_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, s->application_id);
	db_bind_int(st, 2, s->holder_id);
	db_bind_int(st, 3, s->document_id);
	db_bind_int(st, 4, s->eid_request_id);
	db_bind_int(st, 5, s->at);
	db_bind_int(st, 6, s->passed);
	db_bind_text(st, 7, s->why);
	db_bind_text(st, 8, s->signer_subject);
	db_bind_int(st, 9, s->signing_time);
	db_bind_text(st, 10, s->acr);
	db_bind_int(st, 11, s->auth_time);
	db_bind_text(st, 12, s->cms_sha256);
	db_bind_blob(st, 13, s->cms_sealed, s->cms_sealed_len);
	db_bind_blob(st, 14, s->validation_sealed, s->validation_sealed_len);
	db_bind_blob(st, 15, s->id_token_sealed, s->id_token_sealed_len);
	return db_one_int(st, "signature", id);
}

static const char SQL_SIG_PASSED[] =
    "SELECT id, application_id, holder_id, document_id, eid_request_id, at, why, signer_subject, signing_time,"
    " acr, auth_time, cms_sha256, cms_sealed FROM signatures WHERE document_id = $1 AND passed = 1"
    " ORDER BY id DESC LIMIT 1";

enum cr_err
cr_db_signature_passed(struct cr_db *db, int64_t document_id, struct cr_signature *out, struct cr_buf *cms_sealed)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_SIG_PASSED)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, document_id);
	if ((rc = db_step(st)) == DB_ROW) {
		out->id = db_col_int(st, 0);
		out->application_id = db_col_int(st, 1);
		out->holder_id = db_col_int(st, 2);
		out->document_id = db_col_int(st, 3);
		out->eid_request_id = db_col_int(st, 4);
		out->at = (time_t)db_col_int(st, 5);
		out->passed = true;
		db_col_copy(st, 6, out->why, sizeof(out->why));
		db_col_copy(st, 7, out->signer_subject, sizeof(out->signer_subject));
		out->signing_time = (time_t)db_col_int(st, 8);
		db_col_copy(st, 9, out->acr, sizeof(out->acr));
		out->auth_time = (time_t)db_col_int(st, 10);
		db_col_copy(st, 11, out->cms_sha256, sizeof(out->cms_sha256));
		err = blob_to(st, 12, cms_sealed);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "signature");
	db_reset(st);
	return err;
}

static const char SQL_APP_SUBMIT[] =
    "UPDATE applications SET state = 'submitted', submitted_at = $2, updated_at = $2"
    " WHERE id = $1 AND state = 'confirm'";
static const char SQL_RENEWALS_SUBMIT[] =
    "UPDATE renewals SET state = $3, updated_at = $4 WHERE application_id = $1 AND state = 'verifying'"
    " AND cert_id IN (SELECT id FROM certificates WHERE type = $2)";

enum cr_err
cr_db_app_submit(struct cr_db *db, int64_t app_id, time_t now)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_APP_SUBMIT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	db_bind_int(st, 2, now);
	if ((err = db_run(st, "submission")) != CR_OK)
		return err;
	if (db_changes(db) != 1)
		return CR_ERR_CONFLICT;
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		if ((st = db_prep(db, SQL_RENEWALS_SUBMIT)) == NULL)
			return CR_ERR_IO;
		db_bind_int(st, 1, app_id);
		db_bind_text(st, 2, cr_cert_type_name((enum cr_cert_type)t));
		db_bind_text(st, 3, cr_renewal_state_name(cr_renewal_after_submit((enum cr_cert_type)t)));
		db_bind_int(st, 4, now);
		if ((err = db_run(st, "renewals submitted")) != CR_OK)
			return err;
	}
	return CR_OK;
}
