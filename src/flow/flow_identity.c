/*
 * Step 2 「驗證身份」 of the renewal application (SPEC R6; seed steps 12-14):
 * DSI's current ID-card data compared with the registration data, a recent
 * photo, and DSI's comparison of it with the face it holds.
 *
 * External calls (DSI) run outside any transaction: the store is never locked
 * while a remote service thinks. What DSI answered is then recorded, as
 * evidence sealed under the evidence key, in the same transaction as the state
 * change it explains (ETSI TS 119 461: the evidence of each proofing step).
 * DSI failing changes nothing but an audit row saying so.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "flow_int.h"
#include "util/file.h"
#include "util/log.h"
#include "util/timefmt.h"

#define PURPOSE_DSI_ANSWER "certrenew dsi answer v1"
#define PURPOSE_PHOTO "certrenew photo v1"
#define PHOTO_FILE_MAX (16u * 1024u * 1024u)

/* ---- the ID card (R6.1) ---- */

/* Every certificate of the application still valid and not revoked: a revoked or expired one cannot be
   renewed online. */
static enum cr_err
certs_still_valid(const struct cr_flow_ctx *c, int64_t app_id, bool *ok)
{
	struct cr_cert_view *v = calloc(CR_FLOW_MAX_CERTS, sizeof(*v));
	size_t n = 0;
	enum cr_err err;

	*ok = false;
	if (v == NULL)
		return CR_ERR_NOMEM;
	if ((err = cr_db_app_certs(c->db, app_id, v, CR_FLOW_MAX_CERTS, &n)) == CR_OK) {
		*ok = n > 0;
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].c.status, "issued") != 0 || v[i].c.not_after <= c->now) {
				cr_warn("identity", "application %lld: certificate %s is %s, expiring %lld", (long long)app_id,
				    v[i].c.serial_hex, v[i].c.status, (long long)v[i].c.not_after);
				*ok = false;
			}
	}
	free(v);
	return err;
}

void
flow_registration_of(const struct cr_person *p, struct cr_id_registration *r)
{
	snprintf(r->name, sizeof(r->name), "%s", p->name);
	snprintf(r->name_zh, sizeof(r->name_zh), "%s", p->name_zh);
	snprintf(r->id_number, sizeof(r->id_number), "%s", p->id_number);
}

enum cr_err
flow_id_evidence(const struct cr_flow_ctx *c, const struct cr_application *app, const struct cr_dsi_resident *dsi,
    const struct cr_buf *raw, const struct cr_id_match *m, const char *outcome, struct cr_id_check *row,
    unsigned char **sealed)
{
	enum cr_err err = CR_OK;

	*sealed = NULL;
	*row = (struct cr_id_check){.application_id = app->id, .holder_id = app->holder_id, .at = c->now,
	    .name_ok = m->name, .name_zh_ok = m->name_zh, .id_number_ok = m->id_number, .card_valid = m->card_valid,
	    .consent_at = app->consent_at};
	snprintf(row->outcome, sizeof(row->outcome), "%s", outcome);
	snprintf(row->card_expires_on, sizeof(row->card_expires_on), "%s", dsi->card.expires_on);
	snprintf(row->dsi_transaction_id, sizeof(row->dsi_transaction_id), "%s", dsi->transaction_id);
	snprintf(row->dsi_queried_at, sizeof(row->dsi_queried_at), "%s", dsi->queried_at);
	snprintf(row->consent_version, sizeof(row->consent_version), "%s", app->consent_version);
	if (raw->len > 0) {
		flow_sha256_hex(raw->data, raw->len, row->answer_sha256);
		err = cr_seal(c->env->evidence_key, PURPOSE_DSI_ANSWER, raw->data, raw->len, CR_DSI_ANSWER_MAX, sealed,
		    &row->answer_sealed_len);
		row->answer_sealed = *sealed;
	}
	return err;
}

/* The counter reason for a failed comparison, the most basic first. */
static const char *
mismatch_reason(const struct cr_id_match *m)
{
	if (!m->id_number || !m->name || !m->name_zh)
		return CR_COUNTER_ID_MISMATCH;
	return CR_COUNTER_CARD_INVALID;
}

/* Records the check and moves the application on: to step 2 when everything matched, else to the
   counter. In one transaction. */
static enum cr_err
record_id_check(const struct cr_flow_ctx *c, struct cr_application *app, const struct cr_dsi_resident *dsi,
    const struct cr_buf *raw, bool found, const struct cr_id_match *m)
{
	bool match = found && m->name && m->name_zh && m->id_number && m->card_valid;
	const char *reason = !found ? CR_COUNTER_NOT_RESIDENT : mismatch_reason(m);
	struct cr_id_check row;
	unsigned char *sealed = NULL;
	char detail[200];
	int64_t id = 0;
	enum cr_err err;

	if ((err = flow_id_evidence(c, app, dsi, raw, m, match ? "match" : found ? "mismatch" : "not_found", &row, &sealed)) !=
	    CR_OK)
		return err;
	snprintf(detail, sizeof(detail), "DSI %s: name %s, Chinese name %s, ID number %s, card %s",
	    found ? dsi->transaction_id : "not found", m->name ? "ok" : "differs", m->name_zh ? "ok" : "differs",
	    m->id_number ? "ok" : "differs", m->card_valid ? "valid" : "not valid");
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_id_check_add(c->db, &row, &id)) == CR_OK) {
		if (match)
			err = cr_db_app_move(c->db, app->id, CR_APP_EMAILS, CR_APP_IDENTITY, c->now);
		else
			err = cr_db_app_to_counter(c->db, app->id, CR_APP_EMAILS, reason, c->now);
	}
	/* Step 1 ends here, with DSI's answer in the same transaction. */
	if (err == CR_OK)
		err = flow_audit_app(c, "emails_verified", app->id, "");
	if (err == CR_OK)
		err = flow_audit_app(c, match ? "identity_matched" : "identity_mismatch", app->id, detail);
	free(sealed);
	if ((err = flow_commit(c, err)) != CR_OK)
		return err;
	app->state = match ? CR_APP_IDENTITY : CR_APP_COUNTER;
	snprintf(app->counter_reason, sizeof(app->counter_reason), "%s", match ? "" : reason);
	if (!match)
		cr_warn("identity", "application %lld: %s; sent to the registry counter", (long long)app->id, reason);
	return CR_OK;
}

void
flow_identity_check(const struct cr_flow_ctx *c, struct cr_flow_result *res)
{
	struct cr_dsi_resident dsi;
	struct cr_id_registration reg;
	struct cr_id_match m = {0};
	struct cr_buf raw;
	char today[16];
	bool valid = false, found = true;
	enum cr_err err;

	if ((err = certs_still_valid(c, res->app.id, &valid)) != CR_OK) {
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return;
	}
	if (!valid) {
		flow_audit_alone(c, "identity_refused", res->app.id, "a certificate expired or was revoked");
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_CERT_INVALID, 0);
		return;
	}
	/* DSI's answer is kept sealed: without the evidence key there is nothing to keep it with. */
	if (c->env->dsi == NULL || c->env->evidence_key == NULL || c->env->evidence_dir == NULL || c->actor == NULL) {
		cr_error("identity", "no DSI or no evidence key is configured: step 2 cannot run");
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_DSI_DOWN, 0);
		return;
	}
	cr_buf_init(&raw, CR_DSI_ANSWER_MAX);
	err = cr_dsi_resident_get(c->env->dsi, c->actor->id_number, &dsi, &raw);
	if (err == CR_ERR_NOTFOUND)
		found = false;
	else if (err != CR_OK) {
		cr_buf_free_secret(&raw);
		cr_error("identity", "application %lld: DSI resident lookup failed: %s", (long long)res->app.id,
		    cr_err_str(err));
		flow_audit_alone(c, "dsi_unavailable", res->app.id, "resident lookup");
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_DSI_DOWN, 0);
		return;
	}
	if (found) {
		flow_registration_of(c->actor, &reg);
		cr_macau_date(c->now, today);
		cr_identity_compare(&reg, &dsi.card, today, &m);
	} else
		memset(&dsi, 0, sizeof(dsi));
	err = record_id_check(c, &res->app, &dsi, &raw, found, &m);
	cr_buf_free_secret(&raw);
	sodium_memzero(&dsi, sizeof(dsi));
	if (err != CR_OK) {
		flow_lost_or_failed(c, err, res);
		return;
	}
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

/* ---- the step 2 page ---- */

static enum cr_err
tries(const struct cr_flow_ctx *c, const struct cr_application *app, int *left, int *used)
{
	const struct cr_flow_env *e = c->env;
	int app_failed = 0, holder_failed = 0;
	enum cr_err err = cr_db_face_failures(c->db, app->id, app->holder_id,
	    c->now - (time_t)e->face_tries_window_days * 86400, &app_failed, &holder_failed);

	*used = app_failed;
	*left = cr_face_tries_left(e->face_tries_per_app, app_failed, e->face_tries_per_holder, holder_failed);
	return err;
}

void
cr_flow_identity_view(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_identity *out,
    struct cr_flow_result *res)
{
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	memset(res, 0, sizeof(*res));
	if ((err = cr_flow_app_get(c, app_id, &res->app)) != CR_OK) {
		memset(&res->app, 0, sizeof(res->app));
		flow_result(res, err == CR_ERR_NOTFOUND ? CR_FLOW_REFUSED : CR_FLOW_UNAVAILABLE,
		    err == CR_ERR_NOTFOUND ? CR_WHY_NOT_FOUND : CR_WHY_NONE, 0);
		return;
	}
	if (res->app.state != CR_APP_IDENTITY && res->app.state != CR_APP_COUNTER) {
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP, 0);
		return;
	}
	err = cr_db_id_check_latest(c->db, app_id, &out->check);
	out->checked = err == CR_OK;
	if (err == CR_OK || err == CR_ERR_NOTFOUND) {
		err = cr_db_photo_current(c->db, app_id, &out->photo);
		out->has_photo = err == CR_OK;
	}
	if (err == CR_OK || err == CR_ERR_NOTFOUND)
		err = tries(c, &res->app, &out->tries_left, &out->tries_used);
	flow_result(res, err == CR_OK ? CR_FLOW_DONE : CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
}

/* ---- the photo (R6.2) ---- */

static const char *
format_name(enum cr_image_format f)
{
	switch (f) {
	case CR_IMG_FMT_JPEG: return "jpeg";
	case CR_IMG_FMT_PNG: return "png";
	case CR_IMG_FMT_TIFF: return "tiff";
	default: return "other";
	}
}

static void
photo_path(const struct cr_flow_ctx *c, const char *file, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", c->env->evidence_dir, file);
}

/* Seals the JPEG into a new file under the evidence directory; p->file gets its name. */
static enum cr_err
photo_write(const struct cr_flow_ctx *c, const unsigned char *jpeg, size_t len, struct cr_photo *p)
{
	unsigned char rnd[12], *sealed = NULL;
	char hex[25], path[CR_TEXT * 5];
	size_t slen = 0;
	enum cr_err err;

	cr_random(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(p->file, sizeof(p->file), "photo-%lld-%s.sealed", (long long)p->application_id, hex);
	photo_path(c, p->file, path, sizeof(path));
	if ((err = cr_seal(c->env->evidence_key, PURPOSE_PHOTO, jpeg, len, PHOTO_FILE_MAX, &sealed, &slen)) != CR_OK)
		return err;
	err = cr_file_write_secret(path, sealed, slen);
	free(sealed);
	if (err != CR_OK)
		cr_error("identity", "cannot write %s: %s", path, strerror(errno));
	return err;
}

static void
photo_unlink(const struct cr_flow_ctx *c, const char *file)
{
	char path[CR_TEXT * 5];

	if (file[0] == '\0')
		return;
	photo_path(c, file, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		cr_warn("identity", "cannot delete %s: %s", path, strerror(errno));
}

void
cr_flow_photo_upload(const struct cr_flow_ctx *c, int64_t app_id, const void *data, size_t len,
    struct cr_flow_result *res)
{
	struct cr_photo p = {0};
	unsigned char *jpeg = NULL;
	size_t jlen = 0;
	uint32_t w = 0, h = 0;
	enum cr_image_verdict v;
	char replaced[96], detail[160];
	int64_t id = 0;
	enum cr_err err;

	if (!flow_load_at(c, app_id, CR_APP_IDENTITY, CR_APP_CONFIRM, res))
		return;
	v = cr_image_normalise(data, len, &c->env->photo, &jpeg, &jlen, &w, &h);
	if (v != CR_IMG_OK) {
		cr_warn("identity", "application %lld: photo refused (%s, %zu bytes)", (long long)app_id,
		    cr_image_verdict_name(v), len);
		flow_result(res, v == CR_IMG_INTERNAL ? CR_FLOW_UNAVAILABLE : CR_FLOW_REFUSED, CR_WHY_PHOTO_BAD, (int)v);
		return;
	}
	p = (struct cr_photo){.application_id = app_id, .holder_id = res->app.holder_id, .bytes = (long)jlen,
	    .width = (int)w, .height = (int)h, .uploaded_at = c->now};
	snprintf(p.source_format, sizeof(p.source_format), "%s", format_name(cr_image_sniff(data, len)));
	flow_sha256_hex(jpeg, jlen, p.sha256);
	err = photo_write(c, jpeg, jlen, &p);
	sodium_memzero(jpeg, jlen);
	free(jpeg);
	if (err != CR_OK) {
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return;
	}
	snprintf(detail, sizeof(detail), "photo %s %dx%d sha256 %.16s", p.source_format, p.width, p.height, p.sha256);
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_photo_add(c->db, &p, &id, replaced)) == CR_OK)
		err = flow_audit_app(c, "photo_uploaded", app_id, detail);
	if ((err = flow_commit(c, err)) != CR_OK) {
		photo_unlink(c, p.file);
		flow_lost_or_failed(c, err, res);
		return;
	}
	/* The photo it replaced was never compared: nothing to keep it for. */
	photo_unlink(c, replaced);
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

/* Reads and opens a sealed photo file into jpeg. */
static enum cr_err
photo_read(const struct cr_flow_ctx *c, const char *file, struct cr_buf *jpeg)
{
	char path[CR_TEXT * 5], *sealed = NULL;
	size_t len = 0;
	enum cr_err err;

	photo_path(c, file, path, sizeof(path));
	if ((err = cr_file_read(path, PHOTO_FILE_MAX + 64, CR_FILE_NOFOLLOW, &sealed, &len)) != CR_OK) {
		cr_error("identity", "cannot read %s: %s", path, cr_err_str(err));
		return err;
	}
	err = cr_unseal(c->env->evidence_key, PURPOSE_PHOTO, (const unsigned char *)sealed, len, PHOTO_FILE_MAX, jpeg);
	if (err != CR_OK)
		cr_error("identity", "%s does not open with the evidence key: %s", path, cr_err_str(err));
	free(sealed);
	return err;
}

enum cr_err
cr_flow_photo_get(const struct cr_flow_ctx *c, int64_t app_id, struct cr_buf *jpeg)
{
	struct cr_application app;
	struct cr_photo p;
	enum cr_err err;

	if ((err = cr_flow_app_get(c, app_id, &app)) != CR_OK)
		return err;
	if ((err = cr_db_photo_current(c->db, app.id, &p)) != CR_OK)
		return err;
	return photo_read(c, p.file, jpeg);
}

/* ---- the face comparison (R6.3) ---- */

/* Moves the application to the counter with an audit row; in a transaction of its own. */
static enum cr_err
to_counter(const struct cr_flow_ctx *c, struct cr_application *app, const char *reason)
{
	enum cr_err err;

	if ((err = cr_db_begin(c->db)) == CR_OK &&
	    (err = cr_db_app_to_counter(c->db, app->id, CR_APP_IDENTITY, reason, c->now)) == CR_OK)
		err = flow_audit_app(c, "identity_to_counter", app->id, reason);
	if ((err = flow_commit(c, err)) == CR_OK) {
		app->state = CR_APP_COUNTER;
		snprintf(app->counter_reason, sizeof(app->counter_reason), "%s", reason);
		cr_warn("identity", "application %lld: %s; sent to the registry counter", (long long)app->id, reason);
	}
	return err;
}

/* Records a comparison; passing moves to step 3, the last failed try to the counter. */
static enum cr_err
record_face(const struct cr_flow_ctx *c, struct cr_application *app, const struct cr_photo *p,
    const struct cr_dsi_face *f, const struct cr_buf *raw, bool passed, bool last)
{
	struct cr_face_check row = {.application_id = app->id, .holder_id = app->holder_id, .photo_id = p->id,
	    .at = c->now, .score_ppm = (int)lround(f->score * 1e6), .threshold_ppm = (int)lround(c->env->face_threshold * 1e6),
	    .passed = passed};
	unsigned char *sealed = NULL;
	char detail[400];
	int64_t id = 0;
	enum cr_err err;

	snprintf(row.algorithm, sizeof(row.algorithm), "%s", f->algorithm);
	snprintf(row.algorithm_version, sizeof(row.algorithm_version), "%s", f->algorithm_version);
	snprintf(row.dsi_transaction_id, sizeof(row.dsi_transaction_id), "%s", f->transaction_id);
	flow_sha256_hex(raw->data, raw->len, row.answer_sha256);
	if ((err = cr_seal(c->env->evidence_key, PURPOSE_DSI_ANSWER, raw->data, raw->len, CR_DSI_ANSWER_MAX, &sealed,
	         &row.answer_sealed_len)) != CR_OK)
		return err;
	row.answer_sealed = sealed;
	snprintf(detail, sizeof(detail), "DSI %s: score %.4f, threshold %.4f, %s %s, photo sha256 %.16s: %s",
	    f->transaction_id, f->score, c->env->face_threshold, f->algorithm, f->algorithm_version, p->sha256,
	    passed ? "passed" : "failed");
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_face_check_add(c->db, &row, &id)) == CR_OK &&
	    (err = flow_audit_app(c, passed ? "face_passed" : "face_failed", app->id, detail)) == CR_OK) {
		if (passed)
			err = cr_db_app_move(c->db, app->id, CR_APP_IDENTITY, CR_APP_CONFIRM, c->now);
		else if (last && (err = cr_db_app_to_counter(c->db, app->id, CR_APP_IDENTITY, CR_COUNTER_FACE_TRIES,
		                      c->now)) == CR_OK)
			err = flow_audit_app(c, "identity_to_counter", app->id, CR_COUNTER_FACE_TRIES);
	}
	free(sealed);
	if ((err = flow_commit(c, err)) != CR_OK)
		return err;
	if (passed)
		app->state = CR_APP_CONFIRM;
	else if (last) {
		app->state = CR_APP_COUNTER;
		snprintf(app->counter_reason, sizeof(app->counter_reason), "%s", CR_COUNTER_FACE_TRIES);
	}
	return CR_OK;
}

/* Sends the photo to DSI; false with res set when DSI did not give a usable score. */
static bool
compare(const struct cr_flow_ctx *c, struct cr_flow_result *res, const struct cr_photo *p, struct cr_dsi_face *f,
    struct cr_buf *raw)
{
	struct cr_buf jpeg;
	enum cr_err err;

	cr_buf_init(&jpeg, PHOTO_FILE_MAX);
	if ((err = photo_read(c, p->file, &jpeg)) != CR_OK) {
		cr_buf_free_secret(&jpeg);
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return false;
	}
	err = c->env->dsi ? cr_dsi_face_compare(c->env->dsi, c->actor->id_number, jpeg.data, jpeg.len, f, raw)
	                  : CR_ERR_REMOTE;
	cr_buf_free_secret(&jpeg);
	if (err == CR_OK)
		return true;
	if (err == CR_ERR_NOTFOUND) {
		if (to_counter(c, &res->app, CR_COUNTER_NO_FACE) == CR_OK)
			flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
		else
			flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
	} else if (err == CR_ERR_INVALID) {
		flow_audit_alone(c, "face_unusable", res->app.id, "DSI could not use the photo");
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_FACE_UNUSABLE, 0);
	} else {
		cr_error("identity", "application %lld: DSI face comparison failed: %s", (long long)res->app.id,
		    cr_err_str(err));
		flow_audit_alone(c, "dsi_unavailable", res->app.id, "face comparison");
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_DSI_DOWN, 0);
	}
	return false;
}

void
cr_flow_face_check(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_result *res)
{
	struct cr_photo p;
	struct cr_dsi_face f;
	struct cr_buf raw;
	int left = 0, used = 0;
	bool passed;
	enum cr_err err;

	if (!flow_load_at(c, app_id, CR_APP_IDENTITY, CR_APP_CONFIRM, res) || c->actor == NULL)
		return;
	if ((err = cr_db_photo_current(c->db, app_id, &p)) != CR_OK) {
		flow_result(res, err == CR_ERR_NOTFOUND ? CR_FLOW_REFUSED : CR_FLOW_UNAVAILABLE,
		    err == CR_ERR_NOTFOUND ? CR_WHY_PHOTO_MISSING : CR_WHY_NONE, 0);
		return;
	}
	if (tries(c, &res->app, &left, &used) != CR_OK) {
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return;
	}
	if (left <= 0) {
		/* Used up before this application (the holder's limit): the counter, without asking DSI. */
		err = to_counter(c, &res->app, CR_COUNTER_FACE_TRIES);
		if (err != CR_OK)
			flow_lost_or_failed(c, err, res);
		else
			flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
		return;
	}
	cr_buf_init(&raw, CR_DSI_ANSWER_MAX);
	if (!compare(c, res, &p, &f, &raw)) {
		cr_buf_free(&raw);
		return;
	}
	passed = cr_face_passes(f.score, c->env->face_threshold);
	err = record_face(c, &res->app, &p, &f, &raw, passed, !passed && left <= 1);
	cr_buf_free(&raw);
	if (err != CR_OK) {
		flow_lost_or_failed(c, err, res);
		return;
	}
	cr_info("identity", "application %lld: face score %.4f (threshold %.2f): %s", (long long)app_id, f.score,
	    c->env->face_threshold, passed ? "passed" : "failed");
	if (passed || res->app.state == CR_APP_COUNTER)
		flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
	else
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_FACE_LOW, left - 1);
}

/* ---- retention ---- */

enum cr_err
cr_flow_evidence_purge(const struct cr_flow_ctx *c, long *purged)
{
	char (*files)[96] = calloc(256, sizeof(*files));
	time_t before = c->now - (time_t)c->env->evidence_retention_days * 86400;
	size_t nfiles = 0;
	long checks = 0;
	char detail[96];
	enum cr_err err;

	*purged = 0;
	if (files == NULL)
		return CR_ERR_NOMEM;
	do {
		if ((err = cr_db_begin(c->db)) == CR_OK)
			err = cr_db_evidence_purge(c->db, before, c->now, files, 256, &nfiles, &checks);
		if (err == CR_OK && nfiles + (size_t)checks == 0) {
			cr_db_rollback(c->db);
			break;
		}
		snprintf(detail, sizeof(detail), "%zu photos, %ld DSI answers, retention %d days", nfiles, checks,
		    c->env->evidence_retention_days);
		if (err == CR_OK)
			err = flow_audit(c, "evidence_purged", "evidence", detail);
		/* The files go before the commit: a failed commit leaves rows that the next run purges again,
		   never a photo that the database says is gone. */
		for (size_t i = 0; err == CR_OK && i < nfiles; i++)
			photo_unlink(c, files[i]);
		if ((err = flow_commit(c, err)) != CR_OK)
			break;
		*purged += (long)nfiles + checks;
		cr_info("identity", "evidence purged: %s", detail);
	} while (nfiles == 256);
	free(files);
	return err;
}
