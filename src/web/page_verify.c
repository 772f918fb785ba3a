/*
 * Identity verification, step 1 「驗證帳戶」 (SPEC R5; seed steps 6-11):
 * the due certificates, 「開始鑑別」, the personal-data consent, and the
 * verification of every email address with six-digit codes.
 *
 * Every page takes the application id from the URL or form and loads it
 * through the session's holder; an id that is not theirs is "not found".
 * The application's state decides which page is shown, so a holder who
 * leaves and comes back lands on the same step (R11.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/crypto.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "web.h"

#define MAX_CERTS 64
#define MAX_EMAILS 16
#define CONSENT_VERSION "pdp-2025-1"

static const struct cr_code_policy policy = CR_CODE_POLICY_DEFAULT;

static const char SUBJECT_CODE[] = "eSignTrust 電子證書服務（政府機關） - 驗證電郵地址";

/* ---- small helpers ---- */

/* Strict positive decimal id; false for anything else. */
static bool
parse_id(const char *s, int64_t *out)
{
	int64_t v = 0;

	if (s == NULL || *s < '1' || *s > '9' || strlen(s) > 15)
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

/* The application named by `app` (query or form), loaded through the session's holder. */
static bool
load_app(struct cr_req *req, struct cr_resp *resp, bool from_form, struct cr_application *app)
{
	const char *s = from_form ? cr_form_get(&req->form, "app") : req->query(req, "app");
	int64_t id;

	if (!parse_id(s, &id) || cr_db_app_get(cr_req_db(req), id, req->person.id, app) != CR_OK) {
		cr_warn("verify", "person %lld asked for application '%.20s' that is not theirs or does not exist",
		    (long long)req->person.id, s ? s : "");
		cr_render_error(req, resp, 404, "err_app_not_found", NULL);
		return false;
	}
	return true;
}

static void
step_url(const struct cr_application *app, char *out, size_t outlen)
{
	static const char *const paths[CR_APP_STATE_COUNT] = {
		[CR_APP_CONSENT] = "consent", [CR_APP_EMAILS] = "emails", [CR_APP_IDENTITY] = "identity",
		[CR_APP_CONFIRM] = "identity", [CR_APP_SUBMITTED] = "identity", [CR_APP_CANCELLED] = "verify",
	};

	if (app->state == CR_APP_CANCELLED)
		snprintf(out, outlen, "/ecmp/certrenewal/verify");
	else
		snprintf(out, outlen, "/ecmp/certrenewal/%s?app=%lld", paths[app->state], (long long)app->id);
}

static void
redirect_to_step(struct cr_resp *resp, const struct cr_application *app, const char *msg)
{
	char url[160];

	step_url(app, url, sizeof(url));
	if (msg != NULL) {
		size_t n = strlen(url);
		snprintf(url + n, sizeof(url) - n, "%cmsg=%s", strchr(url, '?') ? '&' : '?', msg);
	}
	cr_resp_redirect(resp, url);
}

/* POSTs need the CSRF token; the answer to a forged one changes nothing. */
static bool
check_csrf(struct cr_req *req, struct cr_resp *resp)
{
	if (cr_csrf_ok(req))
		return true;
	cr_warn("verify", "%s refused without a valid CSRF token (person %lld, %s)", req->path,
	    (long long)req->person.id, req->ip);
	cr_render_error(req, resp, 403, "err_csrf", NULL);
	return false;
}

static bool
audit(struct cr_req *req, const char *action, int64_t app_id, const char *detail)
{
	char actor[48], object[48];

	snprintf(actor, sizeof(actor), "person:%lld", (long long)req->person.id);
	snprintf(object, sizeof(object), "application:%lld", (long long)app_id);
	return cr_db_audit(cr_req_db(req), req->now, &(struct cr_audit){actor, action, object, req->ip, detail}) == CR_OK;
}

/* A localised message with {n} replaced by n. */
static json_t *
message(struct cr_req *req, const char *key, int n, bool ok)
{
	const char *t = cr_text(req, key), *at = strstr(t, "{n}");
	char buf[512];

	if (at != NULL)
		snprintf(buf, sizeof(buf), "%.*s%d%s", (int)(at - t), t, n, at + 3);
	else
		snprintf(buf, sizeof(buf), "%s", t);
	return json_pack("{s:s, s:b}", "text", buf, "ok", ok);
}

/* Flash messages arrive as ?msg=KEY; only these keys are shown, never raw input. */
static json_t *
flash(struct cr_req *req)
{
	static const struct {
		const char *key;
		bool ok;
	} known[] = {
		{"code_sent", true}, {"email_verified", true}, {"consent_required", false}, {"set_changed", false},
		{"code_too_soon", false}, {"code_hourly", false}, {"emails_pending", false},
	};
	const char *m = req->query(req, "msg");

	for (size_t i = 0; m != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(m, known[i].key) == 0)
			return message(req, known[i].key, 0, known[i].ok);
	return NULL;
}

static json_t *
steps_json(struct cr_req *req, int current)
{
	static const char *const keys[] = {"step1", "step2", "step3", "step4"};
	json_t *a = json_array();

	for (int i = 0; i < 4; i++)
		json_array_append_new(a, json_pack("{s:i, s:s, s:b, s:b}", "n", i + 1, "label", cr_text(req, keys[i]),
		    "current", i + 1 == current, "done", i + 1 < current));
	return a;
}

/*
 * The common context of a wizard page: texts, the step header, the application id (0: none) and a
 * message. msg is consumed; NULL shows the ?msg= flash if there is one, json_null() shows none.
 */
static json_t *
wizard_ctx(struct cr_req *req, const char *title_key, int64_t app_id, int step, json_t *msg)
{
	json_t *ctx = cr_page_ctx(req, title_key);

	if (ctx == NULL) {
		json_decref(msg);
		return NULL;
	}
	if (app_id > 0)
		json_object_set_new(ctx, "app", json_integer(app_id));
	json_object_set_new(ctx, "steps", steps_json(req, step));
	json_object_set_new(ctx, "flash", msg ? msg : flash(req));
	return ctx;
}

static json_t *
cert_json(struct cr_req *req, const struct cr_cert_view *v)
{
	char expiry[16], status[32];
	const struct cr_cert *c = &v->c;

	cr_macau_date(c->not_after, expiry);
	/* Shown as the CA's systems show it: "Issued". */
	snprintf(status, sizeof(status), "%s", c->status);
	if (status[0] >= 'a' && status[0] <= 'z')
		status[0] = (char)(status[0] - 32);
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}",
	    "id", (json_int_t)c->id, "serial", c->serial_hex, "expiry", expiry, "status", status,
	    "type", cr_cert_type_name(c->type), "type_label", cr_type_label(req, c->type), "holder", v->holder_name,
	    "email", c->email, "org", v->org_name, "department", c->department[0] ? c->department : "n/a",
	    "qualified", c->type == CR_CERT_QUALIFIED, "position", c->position[0] ? c->position : "n/a",
	    "tx_limit", c->tx_limit[0] ? c->tx_limit : "0");
}

static json_t *
certs_json(struct cr_req *req, const struct cr_cert_view *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = cert_json(req, &v[i]);
		json_object_set_new(o, "proxy", json_string(v[i].c.proxy[0] ? v[i].c.proxy : "n/a"));
		json_array_append_new(a, o);
	}
	return a;
}

/* SHA-256 over the sorted ids of the set the page showed, so 「開始鑑別」 starts exactly that set. */
static void
set_digest(const struct cr_cert_view *v, size_t n, char out[CR_B64URL_SIZE(32)])
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
	cr_b64url_encode(md, sizeof(md), out, CR_B64URL_SIZE(32));
}

/* ---- 「待身份鑑別之證書」 and 「開始鑑別」 ---- */

void
cr_page_verify_list(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_cert_view *certs = NULL;
	struct cr_application app;
	char digest[CR_B64URL_SIZE(32)];
	size_t n = 0;
	json_t *ctx;

	if (!cr_require_session(req, resp))
		return;
	if (cr_db_app_open_for_holder(cr_req_db(req), req->person.id, &app) == CR_OK) {
		redirect_to_step(resp, &app, NULL);
		return;
	}
	if ((certs = calloc(MAX_CERTS, sizeof(*certs))) == NULL ||
	    cr_db_holder_verifiable_certs(cr_req_db(req), req->person.id, req->now, req->app->cfg->window_days, certs,
	        MAX_CERTS, &n) != CR_OK) {
		free(certs);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	set_digest(certs, n, digest);
	ctx = wizard_ctx(req, "verify_title", 0, 1, NULL);
	if (ctx != NULL) {
		json_object_set_new(ctx, "certs", certs_json(req, certs, n));
		json_object_set_new(ctx, "has_certs", json_boolean(n > 0));
		json_object_set_new(ctx, "set", json_string(digest));
	}
	free(certs);
	cr_render(req, resp, 200, "verify_list", ctx);
}

void
cr_page_verify_start(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_cert_view *certs = NULL;
	struct cr_application app;
	struct cr_db *db;
	char digest[CR_B64URL_SIZE(32)], detail[64];
	const char *shown = cr_form_get(&req->form, "set");
	int64_t ids[MAX_CERTS], app_id = 0;
	size_t n = 0;
	enum cr_err err;

	if (!cr_require_session(req, resp) || !check_csrf(req, resp))
		return;
	db = cr_req_db(req);
	if (cr_db_app_open_for_holder(db, req->person.id, &app) == CR_OK) {
		redirect_to_step(resp, &app, NULL);
		return;
	}
	if ((certs = calloc(MAX_CERTS, sizeof(*certs))) == NULL ||
	    cr_db_begin(db) != CR_OK ||
	    cr_db_holder_verifiable_certs(db, req->person.id, req->now, req->app->cfg->window_days, certs, MAX_CERTS,
	        &n) != CR_OK) {
		cr_db_rollback(db);
		free(certs);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	set_digest(certs, n, digest);
	/* The set changed since the page was shown (or the field was forged): show it again. */
	if (n == 0 || shown == NULL || !cr_str_eq_ct(shown, digest)) {
		cr_db_rollback(db);
		free(certs);
		cr_warn("verify", "person %lld: 開始鑑別 for a set that is not the current one", (long long)req->person.id);
		cr_resp_redirect(resp, "/ecmp/certrenewal/verify?msg=set_changed");
		return;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = certs[i].c.id;
	free(certs);
	snprintf(detail, sizeof(detail), "%zu certificates", n);
	err = cr_db_app_create(db, req->person.id, ids, n, req->now, &app_id);
	if (err != CR_OK || !audit(req, "verification_started", app_id, detail) || cr_db_commit(db) != CR_OK) {
		cr_db_rollback(db);
		/* Another tab won the race: follow its application. */
		if (err == CR_ERR_CONFLICT && cr_db_app_open_for_holder(db, req->person.id, &app) == CR_OK) {
			redirect_to_step(resp, &app, NULL);
			return;
		}
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	app = (struct cr_application){.id = app_id, .holder_id = req->person.id, .state = CR_APP_CONSENT};
	redirect_to_step(resp, &app, NULL);
}

/*
 * A state change that lost a race (a double-submitted form, a second tab) is not an error:
 * the holder is sent to wherever the winner left the application.
 */
static void
follow_or_fail(struct cr_req *req, struct cr_resp *resp, const struct cr_application *app, enum cr_err err)
{
	struct cr_application now;

	if (err == CR_ERR_CONFLICT && cr_db_app_get(cr_req_db(req), app->id, req->person.id, &now) == CR_OK) {
		redirect_to_step(resp, &now, NULL);
		return;
	}
	cr_render_error(req, resp, 500, "err_internal", NULL);
}

/* ---- consent (R5.2) ---- */

static void
render_consent(struct cr_req *req, struct cr_resp *resp, const struct cr_application *app, unsigned status,
    json_t *msg)
{
	cr_render(req, resp, status, "consent", wizard_ctx(req, "verify_title", app->id, 1, msg));
}

void
cr_page_consent(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;

	if (!cr_require_session(req, resp) || !load_app(req, resp, false, &app))
		return;
	if (app.state != CR_APP_CONSENT) {
		redirect_to_step(resp, &app, NULL);
		return;
	}
	render_consent(req, resp, &app, 200, NULL);
}

void
cr_page_consent_post(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;
	const char *agree = cr_form_get(&req->form, "agree");
	struct cr_db *db;
	enum cr_err err;

	if (!cr_require_session(req, resp) || !check_csrf(req, resp) || !load_app(req, resp, true, &app))
		return;
	if (app.state != CR_APP_CONSENT) {
		redirect_to_step(resp, &app, NULL);
		return;
	}
	if (agree == NULL || strcmp(agree, "1") != 0) {
		render_consent(req, resp, &app, 400, message(req, "consent_required", 0, false));
		return;
	}
	db = cr_req_db(req);
	if ((err = cr_db_begin(db)) == CR_OK && (err = cr_db_app_consent(db, app.id, CONSENT_VERSION, req->now)) == CR_OK &&
	    !audit(req, "consent", app.id, "personal data collection, version " CONSENT_VERSION))
		err = CR_ERR_IO;
	if (err == CR_OK)
		err = cr_db_commit(db);
	if (err != CR_OK) {
		cr_db_rollback(db);
		follow_or_fail(req, resp, &app, err);
		return;
	}
	app.state = CR_APP_EMAILS;
	redirect_to_step(resp, &app, NULL);
}

/* ---- email addresses (R5.3) ---- */

static bool
load_emails(struct cr_req *req, struct cr_resp *resp, const struct cr_application *app, struct cr_email_check *e,
    size_t *n)
{
	if (cr_db_app_emails(cr_req_db(req), app->id, e, MAX_EMAILS, n) != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return false;
	}
	return true;
}

/* The email step's pages need the application there; others go to its current step. */
static bool
at_email_step(struct cr_resp *resp, const struct cr_application *app)
{
	if (app->state == CR_APP_EMAILS)
		return true;
	redirect_to_step(resp, app, NULL);
	return false;
}

void
cr_page_emails(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;
	struct cr_email_check e[MAX_EMAILS];
	struct cr_cert_view *certs;
	size_t n = 0, nc = 0;
	bool all = true;
	json_t *ctx, *list;

	if (!cr_require_session(req, resp) || !load_app(req, resp, false, &app) || !at_email_step(resp, &app) ||
	    !load_emails(req, resp, &app, e, &n))
		return;
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, json_pack("{s:i, s:s, s:b}", "i", (int)i, "email", e[i].email, "verified",
		    e[i].verified));
		all = all && e[i].verified;
	}
	if ((certs = calloc(MAX_CERTS, sizeof(*certs))) != NULL)
		cr_db_app_certs(cr_req_db(req), app.id, certs, MAX_CERTS, &nc);
	ctx = wizard_ctx(req, "verify_title", app.id, 1, NULL);
	if (ctx != NULL) {
		json_object_set_new(ctx, "emails", list);
		json_object_set_new(ctx, "all_verified", json_boolean(all && n > 0));
		json_object_set_new(ctx, "certs", certs_json(req, certs ? certs : NULL, certs ? nc : 0));
	} else
		json_decref(list);
	free(certs);
	cr_render(req, resp, 200, "emails", ctx);
}

/* The address at index `i` (query or form) of the application's sorted list. */
static bool
load_email(struct cr_req *req, struct cr_resp *resp, const struct cr_application *app, bool from_form,
    struct cr_email_check *out, int *index)
{
	struct cr_email_check e[MAX_EMAILS];
	const char *s = from_form ? cr_form_get(&req->form, "i") : req->query(req, "i");
	size_t n = 0;
	int64_t i = -1;

	if (!load_emails(req, resp, app, e, &n))
		return false;
	if (s != NULL && strcmp(s, "0") == 0)
		i = 0;
	else if (!parse_id(s, &i))
		i = -1;
	if (i < 0 || (size_t)i >= n) {
		cr_warn("verify", "person %lld: no email number '%.10s' in application %lld", (long long)req->person.id,
		    s ? s : "", (long long)app->id);
		cr_render_error(req, resp, 404, "err_app_not_found", NULL);
		return false;
	}
	*out = e[i];
	*index = (int)i;
	return true;
}

static void
code_hash(struct cr_req *req, int64_t app_id, const char *email, const char *code, unsigned char out[CR_HASH_LEN])
{
	char msg[CR_TEXT + 64];
	int len = snprintf(msg, sizeof(msg), "app:%lld\nemail:%s\ncode:%s", (long long)app_id, email, code);

	cr_hmac_sha256(req->app->codes_key.k, msg, (size_t)len, out);
	sodium_memzero(msg, sizeof(msg));
}

static void
render_email(struct cr_req *req, struct cr_resp *resp, const struct cr_application *app,
    const struct cr_email_check *e, int index, unsigned status, json_t *msg)
{
	struct cr_code_row code;
	json_t *ctx;
	long remaining = 0;
	int count = 0, wait = 0;
	time_t last = 0;

	/* Say how long until 「獲取驗證碼」 works again rather than let it fail. */
	if (cr_db_code_stats(cr_req_db(req), e->email, req->now - 3600, &count, &last) == CR_OK)
		cr_code_may_send(&policy, last, count, req->now, &wait);
	if (cr_db_code_latest(cr_req_db(req), app->id, e->email, &code) == CR_OK && !code.used &&
	    code.attempts < policy.max_attempts && code.expires_at > req->now)
		remaining = (long)(code.expires_at - req->now);
	/* The page itself says a code was sent (beside the countdown), as in the seed. */
	if (msg == NULL && remaining > 0)
		msg = json_null();
	ctx = wizard_ctx(req, "email_title", app->id, 1, msg);
	if (ctx != NULL) {
		json_object_set_new(ctx, "i", json_integer(index));
		json_object_set_new(ctx, "email", json_string(e->email));
		json_object_set_new(ctx, "verified", json_boolean(e->verified));
		json_object_set_new(ctx, "remaining", json_integer(remaining));
		json_object_set_new(ctx, "resend_wait", json_integer(wait));
	}
	cr_render(req, resp, status, "email", ctx);
}

void
cr_page_email(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;
	struct cr_email_check e;
	int i;

	if (!cr_require_session(req, resp) || !load_app(req, resp, false, &app) || !at_email_step(resp, &app) ||
	    !load_email(req, resp, &app, false, &e, &i))
		return;
	render_email(req, resp, &app, &e, i, 200, NULL);
}

static void
email_url(const struct cr_application *app, int i, const char *msg, char *out, size_t outlen)
{
	snprintf(out, outlen, "/ecmp/certrenewal/email?app=%lld&i=%d%s%s", (long long)app->id, i, msg ? "&msg=" : "",
	    msg ? msg : "");
}

/*
 * Checks the resend and hourly limits and, when allowed, creates, stores (hashed) and mails a
 * new code, all inside one write transaction: parallel presses of 「獲取驗證碼」 queue on the
 * write lock, so the second sees the first one's code and is refused.
 */
static enum cr_err
send_code(struct cr_req *req, const struct cr_application *app, const struct cr_email_check *e, int index,
    enum cr_send_verdict *verdict, int *wait)
{
	struct cr_db *db = cr_req_db(req);
	unsigned char hash[CR_HASH_LEN];
	char code[8], url[CR_CFG_STR + 96];
	int64_t outbox_id;
	int count = 0;
	time_t last = 0;
	json_t *ctx = NULL;
	enum cr_err err;

	*verdict = CR_SEND_OK;
	if ((err = cr_db_begin(db)) != CR_OK)
		return err;
	if ((err = cr_db_code_stats(db, e->email, req->now - 3600, &count, &last)) != CR_OK)
		goto out;
	if ((*verdict = cr_code_may_send(&policy, last, count, req->now, wait)) != CR_SEND_OK)
		goto out;
	snprintf(code, sizeof(code), "%06u", (unsigned)randombytes_uniform(1000000));
	code_hash(req, app->id, e->email, code, hash);
	snprintf(url, sizeof(url), "%s/ecmp/certrenewal/email?app=%lld&i=%d", req->app->cfg->base_url,
	    (long long)app->id, index);
	ctx = json_pack("{s:s, s:s, s:i}", "code", code, "url", url, "minutes", policy.ttl / 60);
	sodium_memzero(code, sizeof(code));
	if (ctx == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	err = cr_db_code_add(db, app->id, e->email, hash, req->now, req->now + policy.ttl);
	if (err == CR_OK)
		err = cr_mailer_queue(&req->app->mailer, db, "code", e->email, SUBJECT_CODE, "code", ctx, req->now,
		    &outbox_id);
	if (err == CR_OK && !audit(req, "code_sent", app->id, e->email))
		err = CR_ERR_IO;
	if (err == CR_OK) {
		err = cr_db_commit(db);
		json_decref(ctx);
		return err;
	}
out:
	cr_db_rollback(db);
	json_decref(ctx);
	return err;
}

void
cr_page_email_send(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;
	struct cr_email_check e;
	enum cr_send_verdict verdict;
	int i, wait = 0;
	char url[160];

	if (!cr_require_session(req, resp) || !check_csrf(req, resp) || !load_app(req, resp, true, &app) ||
	    !at_email_step(resp, &app) || !load_email(req, resp, &app, true, &e, &i))
		return;
	if (e.verified) {
		email_url(&app, i, "email_verified", url, sizeof(url));
		cr_resp_redirect(resp, url);
		return;
	}
	if (send_code(req, &app, &e, i, &verdict, &wait) != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	switch (verdict) {
	case CR_SEND_TOO_SOON:
		cr_info("verify", "person %lld: code resend refused, %d s to wait", (long long)req->person.id, wait);
		render_email(req, resp, &app, &e, i, 429, message(req, "code_too_soon", wait, false));
		return;
	case CR_SEND_HOURLY_CAP:
		cr_warn("verify", "person %lld: hourly code cap reached for an address", (long long)req->person.id);
		render_email(req, resp, &app, &e, i, 429, message(req, "code_hourly", 0, false));
		return;
	case CR_SEND_OK:
		break;
	}
	email_url(&app, i, "code_sent", url, sizeof(url));
	cr_resp_redirect(resp, url);
}

static const char *
verdict_key(enum cr_code_verdict v)
{
	switch (v) {
	case CR_CODE_OK: return "email_verified";
	case CR_CODE_NONE: return "code_none";
	case CR_CODE_WRONG: return "code_wrong";
	case CR_CODE_EXPIRED: return "code_expired";
	case CR_CODE_USED: return "code_used";
	case CR_CODE_DEAD: return "code_dead";
	case CR_CODE_MALFORMED: return "code_malformed";
	}
	return "code_wrong";
}

void
cr_page_email_check(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;
	struct cr_email_check e;
	struct cr_code_row row;
	struct cr_code_state cs = {0};
	unsigned char hash[CR_HASH_LEN];
	const char *code = cr_form_get(&req->form, "code");
	struct cr_db *db;
	enum cr_code_verdict v;
	bool well_formed, matches = false;
	int i, left = 0;
	char url[160];

	if (!cr_require_session(req, resp) || !check_csrf(req, resp) || !load_app(req, resp, true, &app) ||
	    !at_email_step(resp, &app) || !load_email(req, resp, &app, true, &e, &i))
		return;
	db = cr_req_db(req);
	if (cr_db_begin(db) != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	if (cr_db_code_latest(db, app.id, e.email, &row) == CR_OK)
		cs = (struct cr_code_state){true, row.expires_at, row.attempts, row.used};
	well_formed = cr_code_well_formed(code);
	if (cs.exists && well_formed) {
		code_hash(req, app.id, e.email, code, hash);
		matches = sodium_memcmp(hash, row.hash, CR_HASH_LEN) == 0;
	}
	v = cr_code_judge(&policy, &cs, well_formed, matches, req->now, &left);
	if (v == CR_CODE_OK) {
		if (cr_db_code_used(db, row.id, req->now) != CR_OK ||
		    cr_db_app_email_verified(db, app.id, e.email, req->now) != CR_OK ||
		    !audit(req, "email_verified", app.id, e.email) || cr_db_commit(db) != CR_OK) {
			cr_db_rollback(db);
			cr_render_error(req, resp, 409, "code_used", NULL);
			return;
		}
		snprintf(url, sizeof(url), "/ecmp/certrenewal/emails?app=%lld&msg=email_verified", (long long)app.id);
		cr_resp_redirect(resp, url);
		return;
	}
	/* A wrong try counts even though the request fails; everything else changes nothing. */
	if ((v == CR_CODE_WRONG || v == CR_CODE_DEAD) && cs.exists && cs.attempts < policy.max_attempts) {
		if (cr_db_code_wrong(db, row.id) != CR_OK || !audit(req, "code_wrong", app.id, e.email) ||
		    cr_db_commit(db) != CR_OK) {
			cr_db_rollback(db);
			cr_render_error(req, resp, 500, "err_internal", NULL);
			return;
		}
	} else
		cr_db_rollback(db);
	cr_warn("verify", "person %lld: code refused (%s)", (long long)req->person.id, verdict_key(v));
	render_email(req, resp, &app, &e, i, 400, message(req, verdict_key(v), left, false));
}

void
cr_page_emails_next(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;
	struct cr_email_check e[MAX_EMAILS];
	size_t n = 0;
	struct cr_db *db;
	char url[160];
	enum cr_err err;

	if (!cr_require_session(req, resp) || !check_csrf(req, resp) || !load_app(req, resp, true, &app) ||
	    !at_email_step(resp, &app) || !load_emails(req, resp, &app, e, &n))
		return;
	for (size_t i = 0; i < n; i++)
		if (!e[i].verified) {
			cr_warn("verify", "person %lld: 下一步 before every address was verified", (long long)req->person.id);
			snprintf(url, sizeof(url), "/ecmp/certrenewal/emails?app=%lld&msg=emails_pending",
			    (long long)app.id);
			cr_resp_redirect(resp, url);
			return;
		}
	db = cr_req_db(req);
	if ((err = cr_db_begin(db)) == CR_OK &&
	    (err = cr_db_app_move(db, app.id, CR_APP_EMAILS, CR_APP_IDENTITY, req->now)) == CR_OK &&
	    !audit(req, "emails_verified", app.id, ""))
		err = CR_ERR_IO;
	if (err == CR_OK)
		err = cr_db_commit(db);
	if (err != CR_OK) {
		cr_db_rollback(db);
		follow_or_fail(req, resp, &app, err);
		return;
	}
	app.state = CR_APP_IDENTITY;
	redirect_to_step(resp, &app, NULL);
}

/* ---- step 2 「驗證身份」 ---- */

void
cr_page_identity(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;

	if (!cr_require_session(req, resp) || !load_app(req, resp, false, &app))
		return;
	if (cr_app_step((enum cr_app_state)app.state) < 2) {
		redirect_to_step(resp, &app, NULL);
		return;
	}
	cr_render(req, resp, 200, "identity",
	    wizard_ctx(req, "identity_title", app.id, cr_app_step(app.state), NULL));
}
