/*
 * Step 3 「確認續期」 and step 4 「激活證書」 pages (SPEC R7, R8; seed steps 15-19):
 * the summary with the 職務/職級/職位 choice, the declaration and
 * 「進行電子身份識別並簽署申請文件」, GovID's e-ID answer, the success dialog
 * 「簽署申請文件成功」, 「確認提交證書續期申請」, and the signed document's
 * downloads.
 *
 * Translators only: session, CSRF, the declared fields (app, csrf, agree,
 * position; state, code, error on the e-ID callback), one flow call
 * (src/flow/flow_confirm.c), a page or a redirect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/declaration.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "web.h"

#define PDF_MAX (4u * 1024u * 1024u)
#define CMS_MAX (64u * 1024u)

static json_t *
declaration_json(void)
{
	json_t *points = json_array();

	for (size_t i = 0; i < CR_DECLARATION_POINTS; i++)
		json_array_append_new(points, json_string(cr_declaration_points[i]));
	return json_pack("{s:s, s:s, s:o}", "title", cr_declaration_title, "lead", cr_declaration_lead, "points", points);
}

static json_t *
positions_json(const struct cr_flow_confirm *v)
{
	json_t *a = json_array();

	for (size_t i = 0; i < v->n_positions; i++)
		json_array_append_new(a, json_pack("{s:s, s:b}", "title", v->positions[i], "selected",
		    strcmp(v->positions[i], v->position) == 0));
	return a;
}

static json_t *
emails_json(const struct cr_flow_confirm *v)
{
	json_t *a = json_array();

	for (size_t i = 0; i < v->n_emails; i++)
		json_array_append_new(a, json_string(v->emails[i].email));
	return a;
}

/* Step 4: cloudsign certificates wait for online activation (「激活」, or 「成功激活」 with the new
   certificate), the others for the registry (R8). */
static json_t *
online_json(struct cr_req *req, const struct cr_flow_activation *act)
{
	json_t *a = json_array();

	for (size_t i = 0; i < act->n; i++) {
		const struct cr_flow_activation_cert *ac = &act->certs[i];
		json_t *certs, *o;
		char from[16], until[16];

		if (ac->cert.c.type != CR_CERT_CLOUDSIGN)
			continue;
		certs = cr_wiz_certs_json(req, &ac->cert, 1);
		o = json_incref(json_array_get(certs, 0));
		json_decref(certs);
		json_object_set_new(o, "activatable", json_boolean(ac->activatable));
		json_object_set_new(o, "renewed", json_boolean(ac->renewed));
		json_object_set_new(o, "reverify", json_boolean(strcmp(ac->renewal_state, "pending_verification") == 0));
		json_object_set_new(o, "closed", json_boolean(!ac->activatable && !ac->renewed &&
		                                  strcmp(ac->renewal_state, "pending_activation") == 0));
		if (ac->renewed) {
			cr_macau_date(ac->new_cert.c.not_before, from);
			cr_macau_date(ac->new_cert.c.not_after, until);
			json_object_set_new(o, "new_serial", json_string(ac->new_cert.c.serial_hex));
			json_object_set_new(o, "new_from", json_string(from));
			json_object_set_new(o, "new_until", json_string(until));
		}
		json_array_append_new(a, o);
	}
	return a;
}

static void
submitted_groups(json_t *ctx, struct cr_req *req, const struct cr_flow_confirm *v, int64_t app_id)
{
	struct cr_flow_activation *act = calloc(1, sizeof(*act));
	struct cr_cert_view *offline = calloc(CR_FLOW_MAX_CERTS, sizeof(*offline));
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	size_t n_on = 0, n_off = 0;
	char until[32];

	if (act == NULL || offline == NULL) {
		free(act);
		free(offline);
		return;
	}
	cr_req_flow(req, &c);
	cr_flow_activation_view(&c, app_id, act, &res);
	for (size_t i = 0; i < v->n_certs; i++) {
		if (v->certs[i].c.type == CR_CERT_CLOUDSIGN)
			n_on++;
		else
			offline[n_off++] = v->certs[i];
	}
	json_object_set_new(ctx, "online_certs", online_json(req, act));
	{
		bool any = false;

		for (size_t i = 0; i < act->n; i++)
			any = any || act->certs[i].activatable;
		json_object_set_new(ctx, "any_activatable", json_boolean(any));
	}
	json_object_set_new(ctx, "offline_certs", cr_wiz_certs_json(req, offline, n_off));
	json_object_set_new(ctx, "has_online", json_boolean(n_on > 0));
	json_object_set_new(ctx, "has_offline", json_boolean(n_off > 0));
	if (res.outcome == CR_FLOW_DONE && act->open_until > 0) {
		cr_macau_datetime(act->open_until, until);
		json_object_set_new(ctx, "open_until", json_string(until));
	}
	free(act);
	free(offline);
}

static void
summary_ctx(json_t *ctx, struct cr_req *req, const struct cr_flow_confirm *v, const struct cr_application *app)
{
	char day[32];

	json_object_set_new(ctx, "app_number", json_string(v->app_number));
	json_object_set_new(ctx, "certs", cr_wiz_certs_json(req, v->certs, v->n_certs));
	json_object_set_new(ctx, "emails", emails_json(v));
	json_object_set_new(ctx, "id_ok", json_boolean(v->checked && strcmp(v->check.outcome, "match") == 0));
	json_object_set_new(ctx, "applicant", json_string(req->person.name));
	json_object_set_new(ctx, "applicant_zh", json_string(req->person.name_zh));
	json_object_set_new(ctx, "org", json_string(req->person.org_name));
	json_object_set_new(ctx, "unit", json_string(req->person.department[0] ? req->person.department : "n/a"));
	json_object_set_new(ctx, "email", json_string(req->person.email));
	json_object_set_new(ctx, "positions", positions_json(v));
	json_object_set_new(ctx, "position", json_string(v->position));
	json_object_set_new(ctx, "declaration", declaration_json());
	if (v->is_signed) {
		cr_macau_datetime(v->signature.at, day);
		json_object_set_new(ctx, "signed", json_true());
		json_object_set_new(ctx, "signed_at", json_string(day));
		json_object_set_new(ctx, "signer", json_string(v->signature.signer_subject));
		json_object_set_new(ctx, "document_sha256", json_string(v->document.sha256));
	}
	if (app->state == CR_APP_SUBMITTED) {
		cr_macau_datetime(v->confirm.submitted_at, day);
		json_object_set_new(ctx, "submitted", json_true());
		json_object_set_new(ctx, "submitted_at", json_string(day));
		submitted_groups(ctx, req, v, app->id);
	} else
		json_object_set_new(ctx, "open", json_true());
}

static void
render_confirm(struct cr_req *req, struct cr_resp *resp, int64_t app_id, unsigned status, json_t *msg)
{
	struct cr_flow_confirm *v = calloc(1, sizeof(*v));
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	const char *m = req->query(req, "msg");
	json_t *ctx;

	if (v == NULL) {
		json_decref(msg);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	cr_req_flow(req, &c);
	cr_flow_confirm_view(&c, app_id, v, &res);
	if (cr_wiz_answered(req, resp, &res)) {
		json_decref(msg);
		free(v);
		return;
	}
	ctx = cr_wiz_ctx(req, "confirm_title", res.app.id, cr_app_step(res.app.state), msg);
	if (ctx == NULL) {
		free(v);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	summary_ctx(ctx, req, v, &res.app);
	/* The dialog of seed step 18, once, right after GovID's answer was signed. */
	if (msg == NULL && m != NULL && strcmp(m, "signed") == 0 && v->is_signed && res.app.state == CR_APP_CONFIRM)
		json_object_set_new(ctx, "dialog", json_true());
	free(v);
	cr_render(req, resp, status, "confirm", ctx);
}

void
cr_page_confirm(struct cr_req *req, struct cr_resp *resp)
{
	if (!cr_require_session(req, resp))
		return;
	render_confirm(req, resp, cr_wiz_app_param(req, false), 200, NULL);
}

/* The refusals of step 3 the page names; UNAVAILABLE ones say to try again later. */
static void
answer_refusal(struct cr_req *req, struct cr_resp *resp, int64_t app_id, const struct cr_flow_result *res)
{
	char key[48];
	unsigned status = res->outcome == CR_FLOW_UNAVAILABLE ? 503 : 400;

	snprintf(key, sizeof(key), "confirm_%s", cr_flow_why_name(res->why));
	if (res->outcome == CR_FLOW_UNAVAILABLE && res->why == CR_WHY_NONE) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	if (app_id == 0) {
		cr_render_error(req, resp, status, key, NULL);
		return;
	}
	render_confirm(req, resp, app_id, status, cr_wiz_message(req, key, res->n, false));
}

void
cr_page_declare(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	struct cr_buf url;
	int64_t app_id;
	const char *agree;

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	app_id = cr_wiz_app_param(req, true);
	agree = cr_form_get(&req->form, "agree");
	cr_buf_init(&url, sizeof(resp->location) - 1);
	cr_flow_declare(&c, app_id, agree != NULL && strcmp(agree, "1") == 0, cr_form_get(&req->form, "position"), &url,
	    &res);
	if (res.outcome == CR_FLOW_DONE)
		cr_resp_redirect(resp, cr_buf_str(&url));
	else if (res.outcome == CR_FLOW_REFUSED && (res.why == CR_WHY_NOT_FOUND || res.why == CR_WHY_WRONG_STEP))
		cr_wiz_answered(req, resp, &res);
	else if (res.outcome == CR_FLOW_CONFLICT)
		cr_wiz_answered(req, resp, &res);
	else
		answer_refusal(req, resp, app_id, &res);
	cr_buf_free(&url);
}

/* GovID's e-ID answer comes back here (a top-level GET, so the Lax session cookie is sent). */
void
cr_page_eid_callback(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;

	if (!cr_require_session(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_flow_eid_finish(&c, req->query(req, "state"), req->query(req, "code"), req->query(req, "error") != NULL, &res);
	if (res.outcome == CR_FLOW_DONE) {
		cr_wiz_redirect_to_step(resp, &res.app, "signed");
		return;
	}
	if (res.outcome == CR_FLOW_REFUSED && res.why == CR_WHY_WRONG_STEP) {
		cr_wiz_answered(req, resp, &res);
		return;
	}
	answer_refusal(req, resp, res.app.id, &res);
}

void
cr_page_submit(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	int64_t app_id;

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	app_id = cr_wiz_app_param(req, true);
	cr_flow_submit(&c, app_id, &res);
	if (cr_wiz_answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_REFUSED) {
		answer_refusal(req, resp, app_id, &res);
		return;
	}
	cr_wiz_redirect_to_step(resp, &res.app, "submitted");
}

/* The signed application: the PDF and its detached CMS signature, for their holder. */
static void
download(struct cr_req *req, struct cr_resp *resp, bool cms)
{
	struct cr_flow_ctx c;
	enum cr_err err;

	if (!cr_require_session(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_buf_free(&resp->body);
	cr_buf_init(&resp->body, cms ? CMS_MAX : PDF_MAX);
	err = cms ? cr_flow_signature_get(&c, cr_wiz_app_param(req, false), &resp->body)
	          : cr_flow_document_get(&c, cr_wiz_app_param(req, false), &resp->body);
	if (err != CR_OK) {
		cr_buf_free(&resp->body);
		cr_buf_init(&resp->body, 4u * 1024u * 1024u);
		cr_render_error(req, resp, err == CR_ERR_NOTFOUND ? 404 : 500,
		    err == CR_ERR_NOTFOUND ? "err_not_found" : "err_internal", NULL);
		return;
	}
	resp->status = 200;
	resp->content_type = cms ? "application/pkcs7-signature" : "application/pdf";
	resp->disposition = cms ? "attachment; filename=\"app.p7s\"" : "inline; filename=\"app.pdf\"";
	resp->cache_control = "no-store, private";
}

void
cr_page_document(struct cr_req *req, struct cr_resp *resp)
{
	download(req, resp, false);
}

void
cr_page_signature(struct cr_req *req, struct cr_resp *resp)
{
	download(req, resp, true);
}
