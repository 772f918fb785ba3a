/*
 * Step 1 「驗證帳戶」 of the renewal application (SPEC R5; seed steps 6-11):
 * 「開始鑑別」 over the set of certificates the holder was shown, the personal-data
 * consent, and each email address verified with a six-digit code.
 *
 * Codes are never stored: only HMAC-SHA-256 under the codes key over
 * (application, address, code). Limits (resend wait, hourly cap, tries) are
 * checked inside the write transaction that acts on them, so parallel presses
 * queue on the write lock (SQLite) or on the address's row lock (PostgreSQL) and
 * the second one sees the first one's code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "flow_int.h"
#include "util/log.h"

static const char SUBJECT_CODE[] = "eSignTrust 電子證書服務（政府機關） - 驗證電郵地址";

/* ---- reading ---- */

enum cr_err
cr_flow_app_current(const struct cr_flow_ctx *c, struct cr_application *out)
{
	return cr_db_app_open_for_holder(c->db, flow_actor_id(c), out);
}

enum cr_err
cr_flow_app_get(const struct cr_flow_ctx *c, int64_t app_id, struct cr_application *out)
{
	enum cr_err err = app_id > 0 ? cr_db_app_get(c->db, app_id, flow_actor_id(c), out) : CR_ERR_NOTFOUND;

	if (err == CR_ERR_NOTFOUND)
		cr_warn("verify", "person %lld asked for application %lld that is not theirs or does not exist",
		    (long long)flow_actor_id(c), (long long)app_id);
	return err;
}

/* SHA-256 over the sorted ids of a set, so 「開始鑑別」 starts exactly the set the page showed. */
static void
set_digest(const struct cr_cert_view *v, size_t n, char out[CR_FLOW_SET_DIGEST_LEN])
{
	crypto_hash_sha256_state h;
	unsigned char md[32];

	crypto_hash_sha256_init(&h);
	for (size_t i = 0; i < n; i++) {
		char id[24];
		int len = snprintf(id, sizeof(id), "%lld;", (long long)v[i].c.id);
		crypto_hash_sha256_update(&h, (const unsigned char *)id, (unsigned long long)len);
	}
	crypto_hash_sha256_final(&h, md);
	cr_b64url_encode(md, sizeof(md), out, CR_FLOW_SET_DIGEST_LEN);
}

enum cr_err
cr_flow_verifiable(const struct cr_flow_ctx *c, struct cr_cert_view *out, size_t *n, char digest[CR_FLOW_SET_DIGEST_LEN])
{
	enum cr_err err = cr_db_holder_verifiable_certs(c->db, flow_actor_id(c), c->now, c->env->window_days, out,
	    CR_FLOW_MAX_CERTS, n);

	if (err == CR_OK)
		set_digest(out, *n, digest);
	return err;
}

enum cr_err
cr_flow_app_certs(const struct cr_flow_ctx *c, int64_t app_id, struct cr_cert_view *out, size_t *n)
{
	struct cr_application app;
	enum cr_err err;

	*n = 0;
	if ((err = cr_flow_app_get(c, app_id, &app)) != CR_OK)
		return err;
	return cr_db_app_certs(c->db, app.id, out, CR_FLOW_MAX_CERTS, n);
}

/* ---- 「開始鑑別」 ---- */

void
cr_flow_start(const struct cr_flow_ctx *c, const char *shown, struct cr_flow_result *res)
{
	struct cr_cert_view *certs = NULL;
	char digest[CR_FLOW_SET_DIGEST_LEN], detail[64];
	int64_t ids[CR_FLOW_MAX_CERTS], app_id = 0;
	size_t n = 0;
	enum cr_err err;

	memset(res, 0, sizeof(*res));
	if ((err = cr_flow_app_current(c, &res->app)) == CR_OK) {
		/* Already started (another tab, a resubmitted form): carry on with that one. */
		flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
		return;
	}
	memset(&res->app, 0, sizeof(res->app));
	if (err != CR_ERR_NOTFOUND || (certs = calloc(CR_FLOW_MAX_CERTS, sizeof(*certs))) == NULL ||
	    (err = cr_db_begin(c->db)) != CR_OK) {
		free(certs);
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return;
	}
	if ((err = cr_flow_verifiable(c, certs, &n, digest)) != CR_OK)
		goto fail;
	if (n == 0 || shown == NULL || !cr_str_eq_ct(shown, digest)) {
		cr_db_rollback(c->db);
		free(certs);
		/* A second tab started it while this one waited for the write lock: follow that one. */
		if (cr_flow_app_current(c, &res->app) == CR_OK) {
			flow_result(res, CR_FLOW_CONFLICT, CR_WHY_NONE, 0);
			return;
		}
		memset(&res->app, 0, sizeof(res->app));
		cr_warn("verify", "person %lld: 開始鑑別 for a set that is not the current one", (long long)flow_actor_id(c));
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_SET_CHANGED, 0);
		return;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = certs[i].c.id;
	snprintf(detail, sizeof(detail), "%zu certificates", n);
	if ((err = cr_db_app_create(c->db, flow_actor_id(c), ids, n, c->now, &app_id)) != CR_OK ||
	    (err = flow_audit_app(c, "verification_started", app_id, detail)) != CR_OK ||
	    (err = cr_db_commit(c->db)) != CR_OK)
		goto fail;
	free(certs);
	res->app = (struct cr_application){.id = app_id, .holder_id = flow_actor_id(c), .state = CR_APP_CONSENT,
	    .created_at = c->now};
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
	return;
fail:
	cr_db_rollback(c->db);
	free(certs);
	/* Another tab won the race: follow its application. */
	if (err == CR_ERR_CONFLICT && cr_flow_app_current(c, &res->app) == CR_OK) {
		flow_result(res, CR_FLOW_CONFLICT, CR_WHY_NONE, 0);
		return;
	}
	memset(&res->app, 0, sizeof(res->app));
	cr_error("verify", "person %lld: starting an application: %s", (long long)flow_actor_id(c), cr_err_str(err));
	flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
}

/* ---- consent (R5.2) ---- */

void
cr_flow_consent(const struct cr_flow_ctx *c, int64_t app_id, bool agreed, struct cr_flow_result *res)
{
	enum cr_err err;

	if (!flow_load_at(c, app_id, CR_APP_CONSENT, CR_APP_EMAILS, res))
		return;
	if (!agreed) {
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_CONSENT_REQUIRED, 0);
		return;
	}
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_app_consent(c->db, app_id, CR_CONSENT_VERSION, c->now)) == CR_OK)
		err = flow_audit_app(c, "consent", app_id, "personal data collection, version " CR_CONSENT_VERSION);
	if ((err = flow_commit(c, err)) != CR_OK) {
		flow_lost_or_failed(c, err, res);
		return;
	}
	res->app.state = CR_APP_EMAILS;
	res->app.consent_at = c->now;
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

/* ---- email addresses (R5.3, R5.4) ---- */

/* The application's addresses, at the email step. */
static bool
load_emails(const struct cr_flow_ctx *c, int64_t app_id, struct cr_email_check *e, size_t *n,
    struct cr_flow_result *res)
{
	if (!flow_load_at(c, app_id, CR_APP_EMAILS, CR_APP_IDENTITY, res))
		return false;
	if (cr_db_app_emails(c->db, app_id, e, CR_FLOW_MAX_EMAILS, n) != CR_OK) {
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return false;
	}
	return true;
}

/* The address at index i of the application's sorted list. */
static bool
load_email(const struct cr_flow_ctx *c, int64_t app_id, int i, struct cr_email_check *out, struct cr_flow_result *res)
{
	struct cr_email_check e[CR_FLOW_MAX_EMAILS];
	size_t n = 0;

	if (!load_emails(c, app_id, e, &n, res))
		return false;
	if (i < 0 || (size_t)i >= n) {
		cr_warn("verify", "person %lld: no email number %d in application %lld", (long long)flow_actor_id(c), i,
		    (long long)app_id);
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND, 0);
		return false;
	}
	*out = e[i];
	return true;
}

void
cr_flow_emails(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_email *out, size_t *n,
    struct cr_flow_result *res)
{
	struct cr_email_check e[CR_FLOW_MAX_EMAILS];

	*n = 0;
	if (!load_emails(c, app_id, e, n, res))
		return;
	for (size_t i = 0; i < *n; i++) {
		out[i] = (struct cr_flow_email){.index = (int)i, .verified = e[i].verified};
		memcpy(out[i].email, e[i].email, sizeof(out[i].email));
	}
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

void
cr_flow_email(const struct cr_flow_ctx *c, int64_t app_id, int index, struct cr_flow_email *out,
    struct cr_flow_result *res)
{
	const struct cr_code_policy *p = &c->env->codes;
	struct cr_email_check e;
	struct cr_code_row code;
	int count = 0;
	time_t last = 0;

	if (!load_email(c, app_id, index, &e, res))
		return;
	*out = (struct cr_flow_email){.index = index, .verified = e.verified};
	memcpy(out->email, e.email, sizeof(out->email));
	/* How long until 「獲取驗證碼」 works again, so the page says it rather than let it fail. */
	if (cr_db_code_stats(c->db, e.email, c->now - 3600, &count, &last) == CR_OK)
		cr_code_may_send(p, last, count, c->now, &out->resend_wait);
	if (cr_db_code_latest(c->db, app_id, e.email, &code) == CR_OK && !code.used && code.attempts < p->max_attempts &&
	    code.expires_at > c->now)
		out->remaining = (long)(code.expires_at - c->now);
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

static void
code_hash(const struct cr_flow_ctx *c, int64_t app_id, const char *email, const char *code,
    unsigned char out[CR_HASH_LEN])
{
	char msg[CR_TEXT + 64];
	int len = snprintf(msg, sizeof(msg), "app:%lld\nemail:%s\ncode:%s", (long long)app_id, email, code);

	cr_hmac_sha256(c->env->codes_key, msg, (size_t)len, out);
	sodium_memzero(msg, sizeof(msg));
}

/* Creates, stores (hashed) and queues a new code for the address. In the caller's transaction. */
static enum cr_err
queue_code(const struct cr_flow_ctx *c, int64_t app_id, int index, const char *email)
{
	unsigned char hash[CR_HASH_LEN];
	char code[8], url[1200];
	int64_t outbox_id;
	json_t *mail;
	enum cr_err err;

	snprintf(code, sizeof(code), "%06u", (unsigned)randombytes_uniform(1000000));
	code_hash(c, app_id, email, code, hash);
	if ((size_t)snprintf(url, sizeof(url), "%s/ecmp/certrenewal/email?app=%lld&i=%d", c->env->base_url,
	        (long long)app_id, index) >= sizeof(url))
		return CR_ERR_TOOBIG;
	mail = json_pack("{s:s, s:s, s:i}", "code", code, "url", url, "minutes", c->env->codes.ttl / 60);
	sodium_memzero(code, sizeof(code));
	if (mail == NULL)
		return CR_ERR_NOMEM;
	err = cr_db_code_add(c->db, app_id, email, hash, c->now, c->now + c->env->codes.ttl);
	if (err == CR_OK)
		err = cr_mailer_queue(c->env->mailer, c->db, "code", email, SUBJECT_CODE, "code", mail, c->now, &outbox_id);
	if (err == CR_OK)
		err = flow_audit_app(c, "code_sent", app_id, email);
	json_decref(mail);
	return err;
}

void
cr_flow_code_send(const struct cr_flow_ctx *c, int64_t app_id, int index, struct cr_flow_result *res)
{
	struct cr_email_check e;
	enum cr_send_verdict verdict;
	int count = 0, wait = 0;
	time_t last = 0;
	enum cr_err err;

	if (!load_email(c, app_id, index, &e, res))
		return;
	if (e.verified) {
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_ALREADY_VERIFIED, 0);
		return;
	}
	if ((err = cr_db_begin(c->db)) != CR_OK)
		goto fail;
	if ((err = cr_db_code_stats(c->db, e.email, c->now - 3600, &count, &last)) != CR_OK)
		goto fail;
	verdict = cr_code_may_send(&c->env->codes, last, count, c->now, &wait);
	if (verdict != CR_SEND_OK) {
		cr_db_rollback(c->db);
		if (verdict == CR_SEND_TOO_SOON)
			cr_info("verify", "person %lld: code resend refused, %d s to wait", (long long)flow_actor_id(c), wait);
		else
			cr_warn("verify", "person %lld: hourly code cap reached for an address", (long long)flow_actor_id(c));
		flow_result(res, CR_FLOW_REFUSED, verdict == CR_SEND_TOO_SOON ? CR_WHY_CODE_TOO_SOON : CR_WHY_CODE_HOURLY,
		    wait);
		return;
	}
	if ((err = queue_code(c, app_id, index, e.email)) != CR_OK || (err = cr_db_commit(c->db)) != CR_OK)
		goto fail;
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
	return;
fail:
	cr_db_rollback(c->db);
	cr_error("verify", "application %lld: sending a code: %s", (long long)app_id, cr_err_str(err));
	flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
}

static enum cr_flow_why
why_of(enum cr_code_verdict v)
{
	switch (v) {
	case CR_CODE_OK: return CR_WHY_NONE;
	case CR_CODE_NONE: return CR_WHY_CODE_NONE;
	case CR_CODE_WRONG: return CR_WHY_CODE_WRONG;
	case CR_CODE_EXPIRED: return CR_WHY_CODE_EXPIRED;
	case CR_CODE_USED: return CR_WHY_CODE_USED;
	case CR_CODE_DEAD: return CR_WHY_CODE_DEAD;
	case CR_CODE_MALFORMED: return CR_WHY_CODE_MALFORMED;
	}
	return CR_WHY_CODE_WRONG;
}

void
cr_flow_code_check(const struct cr_flow_ctx *c, int64_t app_id, int index, const char *code,
    struct cr_flow_result *res)
{
	const struct cr_code_policy *p = &c->env->codes;
	struct cr_email_check e;
	struct cr_code_row row;
	struct cr_code_state cs = {0};
	unsigned char hash[CR_HASH_LEN];
	enum cr_code_verdict v;
	bool well_formed, matches = false;
	int left = 0;

	if (!load_email(c, app_id, index, &e, res))
		return;
	if (cr_db_begin(c->db) != CR_OK) {
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return;
	}
	if (cr_db_code_latest(c->db, app_id, e.email, &row) == CR_OK)
		cs = (struct cr_code_state){true, row.expires_at, row.attempts, row.used};
	well_formed = cr_code_well_formed(code);
	if (cs.exists && well_formed) {
		code_hash(c, app_id, e.email, code, hash);
		matches = sodium_memcmp(hash, row.hash, CR_HASH_LEN) == 0;
	}
	v = cr_code_judge(p, &cs, well_formed, matches, c->now, &left);
	if (v == CR_CODE_OK) {
		if (cr_db_code_used(c->db, row.id, c->now) != CR_OK ||
		    cr_db_app_email_verified(c->db, app_id, e.email, c->now) != CR_OK ||
		    flow_audit_app(c, "email_verified", app_id, e.email) != CR_OK || cr_db_commit(c->db) != CR_OK) {
			/* Another request used the same code first. */
			cr_db_rollback(c->db);
			flow_result(res, CR_FLOW_CONFLICT, CR_WHY_CODE_USED, 0);
			return;
		}
		flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
		return;
	}
	/* A wrong try counts although the request is refused; everything else changes nothing. */
	if ((v == CR_CODE_WRONG || v == CR_CODE_DEAD) && cs.exists && cs.attempts < p->max_attempts) {
		if (cr_db_code_wrong(c->db, row.id) != CR_OK || flow_audit_app(c, "code_wrong", app_id, e.email) != CR_OK ||
		    cr_db_commit(c->db) != CR_OK) {
			cr_db_rollback(c->db);
			flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
			return;
		}
	} else
		cr_db_rollback(c->db);
	cr_warn("verify", "person %lld: code refused (%s)", (long long)flow_actor_id(c), cr_flow_why_name(why_of(v)));
	flow_result(res, CR_FLOW_REFUSED, why_of(v), left);
}

void
cr_flow_emails_done(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_result *res)
{
	struct cr_email_check e[CR_FLOW_MAX_EMAILS];
	size_t n = 0;

	if (!load_emails(c, app_id, e, &n, res))
		return;
	for (size_t i = 0; i < n; i++)
		if (!e[i].verified) {
			cr_warn("verify", "person %lld: 下一步 before every address was verified", (long long)flow_actor_id(c));
			flow_result(res, CR_FLOW_REFUSED, CR_WHY_EMAILS_PENDING, 0);
			return;
		}
	/* The step is finished only when DSI has answered: DSI down leaves it here to try again. */
	flow_identity_check(c, res);
}
