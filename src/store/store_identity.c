/* Evidence of step 2 (identity proofing); see store.h. */
#include <stdio.h>
#include <string.h>

#include "db_int.h"

static const char SQL_IDCHECK_ADD[] =
    "INSERT INTO identity_checks (application_id, holder_id, at, outcome, name_ok, name_zh_ok, id_number_ok,"
    " card_valid, card_expires_on, dsi_transaction_id, dsi_queried_at, answer_sha256, answer_sealed, consent_version,"
    " consent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";

enum cr_err
cr_db_id_check_add(struct cr_db *db, const struct cr_id_check *c, int64_t *id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_IDCHECK_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, c->application_id);
	db_bind_int(st, 2, c->holder_id);
	db_bind_int(st, 3, c->at);
	db_bind_text(st, 4, c->outcome);
	db_bind_int(st, 5, c->name_ok);
	db_bind_int(st, 6, c->name_zh_ok);
	db_bind_int(st, 7, c->id_number_ok);
	db_bind_int(st, 8, c->card_valid);
	db_bind_text(st, 9, c->card_expires_on);
	db_bind_text(st, 10, c->dsi_transaction_id);
	db_bind_text(st, 11, c->dsi_queried_at);
	db_bind_text(st, 12, c->answer_sha256);
	db_bind_blob(st, 13, c->answer_sealed, c->answer_sealed_len); /* NULL binds NULL */
	db_bind_text(st, 14, c->consent_version);
	db_bind_int(st, 15, c->consent_at);
	return db_one_int(st, "identity check", id);
}

static const char SQL_IDCHECK_LATEST[] =
    "SELECT id, application_id, holder_id, at, outcome, name_ok, name_zh_ok, id_number_ok, card_valid,"
    " card_expires_on, dsi_transaction_id, dsi_queried_at, answer_sha256, consent_version, consent_at,"
    " purged_at IS NOT NULL FROM identity_checks WHERE application_id = $1 ORDER BY id DESC LIMIT 1";

enum cr_err
cr_db_id_check_latest(struct cr_db *db, int64_t app_id, struct cr_id_check *out)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_IDCHECK_LATEST)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	if ((rc = db_step(st)) == DB_ROW) {
		out->id = db_col_int(st, 0);
		out->application_id = db_col_int(st, 1);
		out->holder_id = db_col_int(st, 2);
		out->at = (time_t)db_col_int(st, 3);
		db_col_copy(st, 4, out->outcome, sizeof(out->outcome));
		out->name_ok = db_col_int(st, 5) != 0;
		out->name_zh_ok = db_col_int(st, 6) != 0;
		out->id_number_ok = db_col_int(st, 7) != 0;
		out->card_valid = db_col_int(st, 8) != 0;
		db_col_copy(st, 9, out->card_expires_on, sizeof(out->card_expires_on));
		db_col_copy(st, 10, out->dsi_transaction_id, sizeof(out->dsi_transaction_id));
		db_col_copy(st, 11, out->dsi_queried_at, sizeof(out->dsi_queried_at));
		db_col_copy(st, 12, out->answer_sha256, sizeof(out->answer_sha256));
		db_col_copy(st, 13, out->consent_version, sizeof(out->consent_version));
		out->consent_at = (time_t)db_col_int(st, 14);
		out->purged = db_col_bool(st, 15);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "identity check");
	db_reset(st);
	return err;
}

/* The current photo, and whether a face comparison used it. */
static const char SQL_PHOTO_CURRENT[] =
    "SELECT p.id, p.application_id, p.holder_id, p.file, p.sha256, p.bytes, p.width, p.height, p.source_format,"
    " p.uploaded_at, (SELECT count(*) FROM face_checks f WHERE f.photo_id = p.id)"
    " FROM photos p WHERE p.application_id = $1 AND p.replaced_at IS NULL AND p.purged_at IS NULL"
    " ORDER BY p.id DESC LIMIT 1";

static enum cr_err
photo_current(struct cr_db *db, int64_t app_id, struct cr_photo *out, int64_t *uses)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_PHOTO_CURRENT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	if ((rc = db_step(st)) == DB_ROW) {
		out->id = db_col_int(st, 0);
		out->application_id = db_col_int(st, 1);
		out->holder_id = db_col_int(st, 2);
		db_col_copy(st, 3, out->file, sizeof(out->file));
		db_col_copy(st, 4, out->sha256, sizeof(out->sha256));
		out->bytes = (long)db_col_int(st, 5);
		out->width = (int)db_col_int(st, 6);
		out->height = (int)db_col_int(st, 7);
		db_col_copy(st, 8, out->source_format, sizeof(out->source_format));
		out->uploaded_at = (time_t)db_col_int(st, 9);
		*uses = db_col_int(st, 10);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "current photo");
	db_reset(st);
	return err;
}

enum cr_err
cr_db_photo_current(struct cr_db *db, int64_t app_id, struct cr_photo *out)
{
	int64_t uses = 0;

	return photo_current(db, app_id, out, &uses);
}

static const char SQL_PHOTO_REPLACED[] = "UPDATE photos SET replaced_at = $2 WHERE id = $1";
static const char SQL_PHOTO_DROPPED[] = "UPDATE photos SET replaced_at = $2, purged_at = $2, file = '' WHERE id = $1";
static const char SQL_PHOTO_ADD[] =
    "INSERT INTO photos (application_id, holder_id, file, sha256, bytes, width, height, source_format, uploaded_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

enum cr_err
cr_db_photo_add(struct cr_db *db, const struct cr_photo *p, int64_t *id, char replaced_file[96])
{
	struct cr_photo old;
	struct db_stmt *st;
	int64_t uses = 0;
	enum cr_err err;

	replaced_file[0] = '\0';
	err = photo_current(db, p->application_id, &old, &uses);
	if (err == CR_OK) {
		/* A photo a comparison used is evidence of that try: it stays until the retention purge. */
		if ((st = db_prep(db, uses > 0 ? SQL_PHOTO_REPLACED : SQL_PHOTO_DROPPED)) == NULL)
			return CR_ERR_IO;
		db_bind_int(st, 1, old.id);
		db_bind_int(st, 2, p->uploaded_at);
		if ((err = db_run(st, "photo replaced")) != CR_OK)
			return err;
		if (uses == 0)
			memcpy(replaced_file, old.file, sizeof(old.file));
	} else if (err != CR_ERR_NOTFOUND)
		return err;
	if ((st = db_prep(db, SQL_PHOTO_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, p->application_id);
	db_bind_int(st, 2, p->holder_id);
	db_bind_text(st, 3, p->file);
	db_bind_text(st, 4, p->sha256);
	db_bind_int(st, 5, p->bytes);
	db_bind_int(st, 6, p->width);
	db_bind_int(st, 7, p->height);
	db_bind_text(st, 8, p->source_format);
	db_bind_int(st, 9, p->uploaded_at);
	return db_one_int(st, "photo", id);
}

static const char SQL_FACE_ADD[] =
    "INSERT INTO face_checks (application_id, holder_id, photo_id, at, score_ppm, threshold_ppm, passed, algorithm,"
    " algorithm_version, dsi_transaction_id, answer_sha256, answer_sealed)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";

enum cr_err
cr_db_face_check_add(struct cr_db *db, const struct cr_face_check *f, int64_t *id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_FACE_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, f->application_id);
	db_bind_int(st, 2, f->holder_id);
	db_bind_int(st, 3, f->photo_id);
	db_bind_int(st, 4, f->at);
	db_bind_int(st, 5, f->score_ppm);
	db_bind_int(st, 6, f->threshold_ppm);
	db_bind_int(st, 7, f->passed);
	db_bind_text(st, 8, f->algorithm);
	db_bind_text(st, 9, f->algorithm_version);
	db_bind_text(st, 10, f->dsi_transaction_id);
	db_bind_text(st, 11, f->answer_sha256);
	db_bind_blob(st, 12, f->answer_sealed, f->answer_sealed_len); /* NULL binds NULL */
	return db_one_int(st, "face check", id);
}

static const char SQL_FACE_FAIL_APP[] = "SELECT count(*) FROM face_checks WHERE application_id = $1 AND passed = 0";
static const char SQL_FACE_FAIL_HOLDER[] =
    "SELECT count(*) FROM face_checks WHERE holder_id = $1 AND passed = 0 AND at >= $2";

enum cr_err
cr_db_face_failures(struct cr_db *db, int64_t app_id, int64_t holder_id, time_t since, int *app_failed,
    int *holder_failed)
{
	struct db_stmt *st;
	int64_t a = 0, h = 0;
	enum cr_err err;

	*app_failed = *holder_failed = 0;
	if ((st = db_prep(db, SQL_FACE_FAIL_APP)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	if ((err = db_one_int(st, "face failures", &a)) != CR_OK)
		return err;
	if ((st = db_prep(db, SQL_FACE_FAIL_HOLDER)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, holder_id);
	db_bind_int(st, 2, since);
	if ((err = db_one_int(st, "face failures", &h)) != CR_OK)
		return err;
	*app_failed = (int)a;
	*holder_failed = (int)h;
	return CR_OK;
}

static const char SQL_APP_COUNTER[] =
    "UPDATE applications SET state = 'counter', counter_reason = $3, updated_at = $4 WHERE id = $1 AND state = $2";

enum cr_err
cr_db_app_to_counter(struct cr_db *db, int64_t app_id, enum cr_app_state from, const char *reason, time_t now)
{
	struct db_stmt *st;
	enum cr_err err;

	if (!cr_app_can_move(from, CR_APP_COUNTER))
		return CR_ERR_INVALID;
	if ((st = db_prep(db, SQL_APP_COUNTER)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, app_id);
	db_bind_text(st, 2, cr_app_state_name(from));
	db_bind_text(st, 3, reason);
	db_bind_int(st, 4, now);
	if ((err = db_run(st, "application to counter")) != CR_OK)
		return err;
	return db_changes(db) == 1 ? CR_OK : CR_ERR_CONFLICT;
}

static const char SQL_PURGE_PHOTOS_SEL[] =
    "SELECT id, file FROM photos WHERE uploaded_at < $1 AND purged_at IS NULL ORDER BY id LIMIT $2";
static const char SQL_PURGE_PHOTO[] = "UPDATE photos SET purged_at = $2, file = '' WHERE id = $1";
static const char SQL_PURGE_IDCHECKS[] =
    "UPDATE identity_checks SET answer_sealed = NULL, purged_at = $2 WHERE at < $1 AND purged_at IS NULL";
static const char SQL_PURGE_FACES[] =
    "UPDATE face_checks SET answer_sealed = NULL, purged_at = $2 WHERE at < $1 AND purged_at IS NULL";

enum cr_err
cr_db_evidence_purge(struct cr_db *db, time_t before, time_t now, char (*files)[96], size_t max, size_t *nfiles,
    long *checks)
{
	int64_t ids[256];
	struct db_stmt *st;
	size_t n = 0;
	enum db_rc rc;
	enum cr_err err;

	*nfiles = 0;
	*checks = 0;
	if (max > sizeof(ids) / sizeof(ids[0]))
		max = sizeof(ids) / sizeof(ids[0]);
	if ((st = db_prep(db, SQL_PURGE_PHOTOS_SEL)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, before);
	db_bind_int(st, 2, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && n < max) {
		ids[n] = db_col_int(st, 0);
		db_col_copy(st, 1, files[n], sizeof(files[n]));
		n++;
	}
	err = rc == DB_ERR ? db_err(st, "purge photos") : CR_OK;
	db_reset(st);
	for (size_t i = 0; err == CR_OK && i < n; i++) {
		if ((st = db_prep(db, SQL_PURGE_PHOTO)) == NULL)
			return CR_ERR_IO;
		db_bind_int(st, 1, ids[i]);
		db_bind_int(st, 2, now);
		err = db_run(st, "purge photo");
	}
	*nfiles = n;
	for (int k = 0; k < 2 && err == CR_OK; k++) {
		if ((st = db_prep(db, k == 0 ? SQL_PURGE_IDCHECKS : SQL_PURGE_FACES)) == NULL)
			return CR_ERR_IO;
		db_bind_int(st, 1, before);
		db_bind_int(st, 2, now);
		if ((err = db_run(st, "purge checks")) == CR_OK)
			*checks += db_changes(db);
	}
	return err;
}
