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
		cr_wiz_redirect_to_step(resp, &app, NULL);
		return;
	}
	if ((certs = calloc(CR_FLOW_MAX_CERTS, sizeof(*certs))) == NULL || cr_flow_verifiable(&c, certs, &n, digest) != CR_OK) {
		free(certs);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	ctx = cr_wiz_ctx(req, "verify_title", 0, 1, NULL);
	if (ctx != NULL) {
		json_object_set_new(ctx, "certs", cr_wiz_certs_json(req, certs, n));
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

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_flow_start(&c, cr_form_get(&req->form, "set"), &res);
	if (res.outcome == CR_FLOW_REFUSED && res.why == CR_WHY_SET_CHANGED) {
		cr_resp_redirect(resp, "/ecmp/certrenewal/verify?msg=set_changed");
		return;
	}
	if (!cr_wiz_answered(req, resp, &res))
		cr_wiz_redirect_to_step(resp, &res.app, NULL);
}

/* ---- consent (R5.2) ---- */

static void
render_consent(struct cr_req *req, struct cr_resp *resp, int64_t app_id, unsigned status, json_t *msg)
{
	cr_render(req, resp, status, "consent", cr_wiz_ctx(req, "verify_title", app_id, 1, msg));
}

void
cr_page_consent(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_application app;
	struct cr_flow_ctx c;

	if (!cr_require_session(req, resp) || !cr_wiz_load_app(req, resp, &c, &app))
		return;
	if (app.state != CR_APP_CONSENT) {
		cr_wiz_redirect_to_step(resp, &app, NULL);
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

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_flow_consent(&c, cr_wiz_app_param(req, true), agree != NULL && strcmp(agree, "1") == 0, &res);
	if (cr_wiz_answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_REFUSED) {
		render_consent(req, resp, res.app.id, 400, cr_wiz_message(req, "consent_required", 0, false));
		return;
	}
	cr_wiz_redirect_to_step(resp, &res.app, NULL);
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
	cr_flow_emails(&c, cr_wiz_app_param(req, false), e, &n, &res);
	if (cr_wiz_answered(req, resp, &res))
		return;
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, json_pack("{s:i, s:s, s:b}", "i", e[i].index, "email", e[i].email, "verified",
		    e[i].verified));
		all = all && e[i].verified;
	}
	if ((certs = calloc(CR_FLOW_MAX_CERTS, sizeof(*certs))) != NULL && cr_flow_app_certs(&c, res.app.id, certs, &nc) != CR_OK)
		nc = 0;
	ctx = cr_wiz_ctx(req, "verify_title", res.app.id, 1, NULL);
	if (ctx != NULL) {
		json_object_set_new(ctx, "emails", list);
		json_object_set_new(ctx, "all_verified", json_boolean(all && n > 0));
		json_object_set_new(ctx, "certs", cr_wiz_certs_json(req, certs, certs ? nc : 0));
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
	if (cr_wiz_answered(req, resp, &res)) {
		json_decref(msg);
		return;
	}
	if (msg == NULL && e.remaining > 0)
		msg = json_null();
	ctx = cr_wiz_ctx(req, "email_title", app_id, 1, msg);
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
	render_email(req, resp, &c, cr_wiz_app_param(req, false), cr_wiz_index_param(req, false), 200, NULL);
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

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	app_id = cr_wiz_app_param(req, true);
	i = cr_wiz_index_param(req, true);
	cr_flow_code_send(&c, app_id, i, &res);
	if (cr_wiz_answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_DONE)
		redirect_email(resp, app_id, i, "code_sent");
	else if (res.why == CR_WHY_ALREADY_VERIFIED)
		redirect_email(resp, app_id, i, "email_verified");
	else
		render_email(req, resp, &c, app_id, i, 429, cr_wiz_message(req, cr_flow_why_name(res.why), res.n, false));
}

void
cr_page_email_check(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	char url[160];
	int64_t app_id;
	int i;

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	app_id = cr_wiz_app_param(req, true);
	i = cr_wiz_index_param(req, true);
	cr_flow_code_check(&c, app_id, i, cr_form_get(&req->form, "code"), &res);
	if (res.outcome == CR_FLOW_CONFLICT) {
		cr_render_error(req, resp, 409, "code_used", NULL);
		return;
	}
	if (cr_wiz_answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_REFUSED) {
		render_email(req, resp, &c, app_id, i, 400, cr_wiz_message(req, cr_flow_why_name(res.why), res.n, false));
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

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_flow_emails_done(&c, cr_wiz_app_param(req, true), &res);
	if (cr_wiz_answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_REFUSED && res.why == CR_WHY_CERT_INVALID) {
		cr_render_error(req, resp, 409, "cert_invalid", "counter_hint");
		return;
	}
	if (res.outcome == CR_FLOW_REFUSED) {
		snprintf(url, sizeof(url), "/ecmp/certrenewal/emails?app=%lld&msg=emails_pending", (long long)res.app.id);
		cr_resp_redirect(resp, url);
		return;
	}
	cr_wiz_redirect_to_step(resp, &res.app, NULL);
}
