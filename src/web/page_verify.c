/*
 * Identity verification pages, step 1 「驗證帳戶」 (SPEC R5; seed steps 6-11):
 * the due certificates, 「開始鑑別」, the personal-data consent, and the
 * verification of every email address with six-digit codes.
 *
 * Each handler translates HTTP: session, CSRF, the declared form fields, one
 * call into the flow layer (src/flow/flow_verify.c, where the rules are), and a
 * page or a redirect from its result. The application id comes from the URL or
 * form and the flow loads it through the session's holder; an id that is not
 * theirs is "not found". The application's state decides which page is shown, so
 * a holder who leaves and comes back lands on the same step (R11.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ids.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "web.h"

/* ---- small helpers ---- */

/* The application id of the query or form; 0 (found by nobody) when malformed. */
static int64_t
app_param(struct cr_req *req, bool from_form)
{
	const char *s = from_form ? cr_form_get(&req->form, "app") : req->query(req, "app");
	int64_t id;

	return cr_id_parse(s, &id) ? id : 0;
}

/* The address index of the query or form; -1 (found by nobody) when malformed. */
static int
index_param(struct cr_req *req, bool from_form)
{
	const char *s = from_form ? cr_form_get(&req->form, "i") : req->query(req, "i");
	int i;

	return cr_index_parse(s, CR_FLOW_MAX_EMAILS, &i) ? i : -1;
}

static void
step_url(const struct cr_application *app, char *out, size_t outlen)
{
	static const char *const paths[CR_APP_STATE_COUNT] = {
		[CR_APP_CONSENT] = "consent", [CR_APP_EMAILS] = "emails", [CR_APP_IDENTITY] = "identity",
		[CR_APP_CONFIRM] = "identity", [CR_APP_SUBMITTED] = "identity", [CR_APP_CANCELLED] = "verify",
		[CR_APP_COUNTER] = "identity",
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

/*
 * The answer to a result every page answers the same way: not the holder's → 404; the application
 * at another step, or a race lost to another tab → its current step; the store failing → 500.
 * False for what the caller answers itself (DONE, and the refusals it names).
 */
static bool
answered(struct cr_req *req, struct cr_resp *resp, const struct cr_flow_result *res)
{
	switch (res->outcome) {
	case CR_FLOW_DONE:
		return false;
	case CR_FLOW_REFUSED:
		if (res->why == CR_WHY_NOT_FOUND) {
			cr_render_error(req, resp, 404, "err_app_not_found", NULL);
			return true;
		}
		if (res->why == CR_WHY_WRONG_STEP) {
			redirect_to_step(resp, &res->app, NULL);
			return true;
		}
		return false;
	case CR_FLOW_CONFLICT:
		redirect_to_step(resp, &res->app, NULL);
		return true;
	case CR_FLOW_UNAVAILABLE:
		break;
	}
	cr_render_error(req, resp, 500, "err_internal", NULL);
	return true;
}

/* An application for a GET page: the holder's, else 404 (or 500). */
static bool
load_app(struct cr_req *req, struct cr_resp *resp, struct cr_flow_ctx *c, struct cr_application *app)
{
	enum cr_err err;

	cr_req_flow(req, c);
	if ((err = cr_flow_app_get(c, app_param(req, false), app)) == CR_OK)
		return true;
	if (err == CR_ERR_NOTFOUND)
		cr_render_error(req, resp, 404, "err_app_not_found", NULL);
	else
		cr_render_error(req, resp, 500, "err_internal", NULL);
	return false;
}

/* ---- 「待身份鑑別之證書」 and 「開始鑑別」 ---- */

void
cr_page_verify_list(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_cert_view *certs = NULL;
	struct cr_application app;
	struct cr_flow_ctx c;
	char digest[CR_FLOW_SET_DIGEST_LEN];
	size_t n = 0;
	json_t *ctx;

	if (!cr_require_session(req, resp))
		return;
	cr_req_flow(req, &c);
	if (cr_flow_app_current(&c, &app) == CR_OK) {
		redirect_to_step(resp, &app, NULL);
		return;
	}
	if ((certs = calloc(CR_FLOW_MAX_CERTS, sizeof(*certs))) == NULL || cr_flow_verifiable(&c, certs, &n, digest) != CR_OK) {
		free(certs);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
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
	struct cr_flow_result res;
	struct cr_flow_ctx c;

	if (!cr_require_session(req, resp) || !check_csrf(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_flow_start(&c, cr_form_get(&req->form, "set"), &res);
	if (res.outcome == CR_FLOW_REFUSED && res.why == CR_WHY_SET_CHANGED) {
		cr_resp_redirect(resp, "/ecmp/certrenewal/verify?msg=set_changed");
		return;
	}
	if (!answered(req, resp, &res))
		redirect_to_step(resp, &res.app, NULL);
}

/* ---- consent (R5.2) ---- */

static void
render_consent(struct cr_req *req, struct cr_resp *resp, int64_t app_id, unsigned status, json_t *msg)
{
	cr_render(req, resp, status, "consent", wizard_ctx(req, "verify_title", app_id, 1, msg));
}

void
cr_page_consent(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;
	struct cr_flow_ctx c;

	if (!cr_require_session(req, resp) || !load_app(req, resp, &c, &app))
		return;
	if (app.state != CR_APP_CONSENT) {
		redirect_to_step(resp, &app, NULL);
		return;
	}
	render_consent(req, resp, app.id, 200, NULL);
}

void
cr_page_consent_post(struct cr_req *req, struct cr_resp *resp)
{
	const char *agree = cr_form_get(&req->form, "agree");
	struct cr_flow_result res;
	struct cr_flow_ctx c;

	if (!cr_require_session(req, resp) || !check_csrf(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_flow_consent(&c, app_param(req, true), agree != NULL && strcmp(agree, "1") == 0, &res);
	if (answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_REFUSED) {
		render_consent(req, resp, res.app.id, 400, message(req, "consent_required", 0, false));
		return;
	}
	redirect_to_step(resp, &res.app, NULL);
}

/* ---- email addresses (R5.3) ---- */

void
cr_page_emails(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_email e[CR_FLOW_MAX_EMAILS];
	struct cr_cert_view *certs;
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	size_t n = 0, nc = 0;
	bool all = true;
	json_t *ctx, *list;

	if (!cr_require_session(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_flow_emails(&c, app_param(req, false), e, &n, &res);
	if (answered(req, resp, &res))
		return;
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, json_pack("{s:i, s:s, s:b}", "i", e[i].index, "email", e[i].email, "verified",
		    e[i].verified));
		all = all && e[i].verified;
	}
	if ((certs = calloc(CR_FLOW_MAX_CERTS, sizeof(*certs))) != NULL && cr_flow_app_certs(&c, res.app.id, certs, &nc) != CR_OK)
		nc = 0;
	ctx = wizard_ctx(req, "verify_title", res.app.id, 1, NULL);
	if (ctx != NULL) {
		json_object_set_new(ctx, "emails", list);
		json_object_set_new(ctx, "all_verified", json_boolean(all && n > 0));
		json_object_set_new(ctx, "certs", certs_json(req, certs, certs ? nc : 0));
	} else
		json_decref(list);
	free(certs);
	cr_render(req, resp, 200, "emails", ctx);
}

/* The page of one address; when msg is NULL and a code is live, the page itself says one was sent. */
static void
render_email(struct cr_req *req, struct cr_resp *resp, const struct cr_flow_ctx *c, int64_t app_id, int index,
    unsigned status, json_t *msg)
{
	struct cr_flow_email e;
	struct cr_flow_result res;
	json_t *ctx;

	cr_flow_email(c, app_id, index, &e, &res);
	if (answered(req, resp, &res)) {
		json_decref(msg);
		return;
	}
	if (msg == NULL && e.remaining > 0)
		msg = json_null();
	ctx = wizard_ctx(req, "email_title", app_id, 1, msg);
	if (ctx != NULL) {
		json_object_set_new(ctx, "i", json_integer(index));
		json_object_set_new(ctx, "email", json_string(e.email));
		json_object_set_new(ctx, "verified", json_boolean(e.verified));
		json_object_set_new(ctx, "remaining", json_integer(e.remaining));
		json_object_set_new(ctx, "resend_wait", json_integer(e.resend_wait));
	}
	cr_render(req, resp, status, "email", ctx);
}

void
cr_page_email(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_ctx c;

	if (!cr_require_session(req, resp))
		return;
	cr_req_flow(req, &c);
	render_email(req, resp, &c, app_param(req, false), index_param(req, false), 200, NULL);
}

static void
redirect_email(struct cr_resp *resp, int64_t app_id, int i, const char *msg)
{
	char url[160];

	snprintf(url, sizeof(url), "/ecmp/certrenewal/email?app=%lld&i=%d&msg=%s", (long long)app_id, i, msg);
	cr_resp_redirect(resp, url);
}

void
cr_page_email_send(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	int64_t app_id;
	int i;

	if (!cr_require_session(req, resp) || !check_csrf(req, resp))
		return;
	cr_req_flow(req, &c);
	app_id = app_param(req, true);
	i = index_param(req, true);
	cr_flow_code_send(&c, app_id, i, &res);
	if (answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_DONE)
		redirect_email(resp, app_id, i, "code_sent");
	else if (res.why == CR_WHY_ALREADY_VERIFIED)
		redirect_email(resp, app_id, i, "email_verified");
	else
		render_email(req, resp, &c, app_id, i, 429, message(req, cr_flow_why_name(res.why), res.n, false));
}

void
cr_page_email_check(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	char url[160];
	int64_t app_id;
	int i;

	if (!cr_require_session(req, resp) || !check_csrf(req, resp))
		return;
	cr_req_flow(req, &c);
	app_id = app_param(req, true);
	i = index_param(req, true);
	cr_flow_code_check(&c, app_id, i, cr_form_get(&req->form, "code"), &res);
	if (res.outcome == CR_FLOW_CONFLICT) {
		cr_render_error(req, resp, 409, "code_used", NULL);
		return;
	}
	if (answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_REFUSED) {
		render_email(req, resp, &c, app_id, i, 400, message(req, cr_flow_why_name(res.why), res.n, false));
		return;
	}
	snprintf(url, sizeof(url), "/ecmp/certrenewal/emails?app=%lld&msg=email_verified", (long long)app_id);
	cr_resp_redirect(resp, url);
}

void
cr_page_emails_next(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	char url[160];

	if (!cr_require_session(req, resp) || !check_csrf(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_flow_emails_done(&c, app_param(req, true), &res);
	if (answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_REFUSED) {
		snprintf(url, sizeof(url), "/ecmp/certrenewal/emails?app=%lld&msg=emails_pending", (long long)res.app.id);
		cr_resp_redirect(resp, url);
		return;
	}
	redirect_to_step(resp, &res.app, NULL);
}

/* ---- step 2 「驗證身份」 ---- */

void
cr_page_identity(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;
	struct cr_flow_ctx c;

	if (!cr_require_session(req, resp) || !load_app(req, resp, &c, &app))
		return;
	if (cr_app_step(app.state) < 2) {
		redirect_to_step(resp, &app, NULL);
		return;
	}
	cr_render(req, resp, 200, "identity", wizard_ctx(req, "identity_title", app.id, cr_app_step(app.state), NULL));
}
