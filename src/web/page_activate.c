/*
 * Step 4 「激活證書」 pages (SPEC R9; seed steps 20-22): 「激活」 and its form
 * (雲簽用户名稱, 雲簽簽名密碼, 證書撤銷短語), 「激活證書」 and 「成功激活」; the
 * holder's certificates issued here with their downloads and revocation; and
 * the CA's publications (CRLs, CA certificates) under /pki/.
 *
 * Translators only: session, CSRF, the declared fields (app, cert, password,
 * passphrase, again; cert, passphrase, reason on revocation), one flow call
 * (src/flow/flow_activate.c), a page or a redirect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/passphrase.h"
#include "util/file.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "web.h"

#define CERT_DER_MAX (16u * 1024u)
#define PUBLISHED_MAX (64u * 1024u * 1024u)
#define ISSUED_SHOWN 32

/* The certificate id of the query or form; 0 (found by nobody) when malformed. */
static int64_t
cert_param(struct cr_req *req, bool from_form)
{
	const char *s = from_form ? cr_form_get(&req->form, "cert") : req->query(req, "cert");
	int64_t id;

	return cr_id_parse(s, &id) ? id : 0;
}

/* The message key of a refusal on these pages ("activate_password_wrong"). */
static json_t *
refusal_message(struct cr_req *req, const char *prefix, const struct cr_flow_result *res, time_t until)
{
	char key[64], day[32], text[600];
	json_t *m;

	if (res->why == CR_WHY_PASSPHRASE_BAD) {
		snprintf(key, sizeof(key), "passphrase_%s", cr_passphrase_verdict_name((enum cr_passphrase_verdict)res->n));
		return cr_wiz_message(req, key, 0, false);
	}
	snprintf(key, sizeof(key), "%s_%s", prefix, cr_flow_why_name(res->why));
	m = cr_wiz_message(req, key, res->n, false);
	if (until != 0 && m != NULL) {
		/* 「…直至 {until}」: the lock's end in Macau time. */
		const char *t = json_string_value(json_object_get(m, "text")), *at = t ? strstr(t, "{until}") : NULL;

		if (at != NULL) {
			cr_macau_datetime(until, day);
			snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - t), t, day, at + 7);
			json_object_set_new(m, "text", json_string(text));
		}
	}
	return m;
}

/* The form of seed step 21, with a message when something was refused. */
static void
render_form(struct cr_req *req, struct cr_resp *resp, int64_t app_id, const struct cr_flow_activate_form *f,
    unsigned status, json_t *msg, enum cr_flow_why why)
{
	json_t *ctx = cr_wiz_ctx(req, "step4", app_id, 4, msg), *certs;

	if (ctx == NULL) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	certs = cr_wiz_certs_json(req, &f->cert, 1);
	json_object_set_new(ctx, "cert", json_incref(json_array_get(certs, 0)));
	json_decref(certs);
	json_object_set_new(ctx, "cert_id", json_integer(f->cert.c.id));
	json_object_set_new(ctx, "account", json_string(f->account));
	json_object_set_new(ctx, "locked", json_boolean(f->locked_until > req->now));
	json_object_set_new(ctx, "tries_left", json_integer(f->tries_left));
	/* The field a refusal is about: marked invalid and described by the message. */
	json_object_set_new(ctx, "bad_password", json_boolean(why == CR_WHY_PASSWORD_WRONG));
	json_object_set_new(ctx, "bad_passphrase", json_boolean(why == CR_WHY_PASSPHRASE_BAD));
	cr_render(req, resp, status, "activate", ctx);
}

/* A refusal that is not about the form: the step 4 page says it (ID changed, window closed, ...). */
static void
answer_on_step4(struct cr_req *req, struct cr_resp *resp, const struct cr_flow_result *res)
{
	char url[128];

	if (cr_wiz_answered(req, resp, res))
		return;
	if (res->outcome == CR_FLOW_UNAVAILABLE && res->why == CR_WHY_NONE) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	/* The page after a redirect shows the reason: only known keys are ever shown (wizard.c). */
	snprintf(url, sizeof(url), "/ecmp/certrenewal/confirm?app=%lld&msg=activate_%s", (long long)res->app.id,
	    cr_flow_why_name(res->why));
	cr_resp_redirect(resp, url);
}

/* Whether a refusal belongs on the form (the holder can correct it there). */
static bool
form_refusal(const struct cr_flow_result *res)
{
	switch (res->why) {
	case CR_WHY_PASSWORD_WRONG:
	case CR_WHY_ACCOUNT_LOCKED:
	case CR_WHY_PASSPHRASE_BAD:
	case CR_WHY_BUSY:
	case CR_WHY_ISSUE_DOWN:
		return true;
	default:
		return false;
	}
}

/* 「待線上激活之證書 >」 on the pending page: the application whose certificates wait for 「激活」. */
void
cr_page_activate_list(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_ctx c;
	int64_t app_id = 0;
	char url[96];
	enum cr_err err;

	if (!cr_require_session(req, resp))
		return;
	cr_req_flow(req, &c);
	if ((err = cr_flow_activation_app(&c, &app_id)) == CR_ERR_NOTFOUND) {
		cr_resp_redirect(resp, "/ecmp/certrenewal");
		return;
	}
	if (err != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	snprintf(url, sizeof(url), "/ecmp/certrenewal/confirm?app=%lld", (long long)app_id);
	cr_resp_redirect(resp, url);
}

/* 「激活」: the form, after the DSI re-read. */
void
cr_page_activate_open(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_activate_form f;
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	int64_t app_id;

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	app_id = cr_wiz_app_param(req, true);
	cr_flow_activate_open(&c, app_id, cert_param(req, true), &f, &res);
	if (res.outcome == CR_FLOW_DONE)
		render_form(req, resp, app_id, &f, 200, NULL, CR_WHY_NONE);
	else if (res.outcome == CR_FLOW_REFUSED && res.why == CR_WHY_ACCOUNT_LOCKED)
		render_form(req, resp, app_id, &f, 403, refusal_message(req, "activate", &res, f.locked_until), res.why);
	else
		answer_on_step4(req, resp, &res);
}

/* 「激活證書」. */
void
cr_page_activate(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_activate_form f = {0};
	struct cr_flow_activated out;
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	int64_t app_id, cert_id;
	char url[128];

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	app_id = cr_wiz_app_param(req, true);
	cert_id = cert_param(req, true);
	cr_flow_activate(&c, app_id, cert_id, cr_form_get(&req->form, "password"), cr_form_get(&req->form, "passphrase"),
	    cr_form_get(&req->form, "again"), &out, &res);
	if (res.outcome == CR_FLOW_DONE) {
		snprintf(url, sizeof(url), "/ecmp/certrenewal/confirm?app=%lld&msg=activated", (long long)res.app.id);
		cr_resp_redirect(resp, url);
		return;
	}
	if (!form_refusal(&res)) {
		answer_on_step4(req, resp, &res);
		return;
	}
	/* The form again, with the reason: the account and the tries as they are now. */
	{
		struct cr_flow_result again;

		cr_flow_activate_form_get(&c, app_id, cert_id, &f, &again);
		if (again.outcome != CR_FLOW_DONE && again.outcome != CR_FLOW_REFUSED) {
			cr_render_error(req, resp, 500, "err_internal", NULL);
			return;
		}
	}
	render_form(req, resp, app_id, &f,
	    res.why == CR_WHY_ACCOUNT_LOCKED ? 403 : res.outcome == CR_FLOW_UNAVAILABLE ? 503 : 400,
	    refusal_message(req, "activate", &res, out.locked_until != 0 ? out.locked_until : f.locked_until), res.why);
}

/* ---- the holder's certificates issued here ---- */

static void
render_certificates(struct cr_req *req, struct cr_resp *resp, unsigned status, json_t *msg)
{
	struct cr_cert_view *v = calloc(ISSUED_SHOWN, sizeof(*v));
	struct cr_flow_ctx c;
	size_t n = 0;
	json_t *ctx, *list;

	if (v == NULL) {
		json_decref(msg);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	cr_req_flow(req, &c);
	if (cr_flow_issued_certs(&c, v, ISSUED_SHOWN, &n) != CR_OK) {
		free(v);
		json_decref(msg);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	list = cr_wiz_certs_json(req, v, n);
	for (size_t i = 0; i < n; i++)
		json_object_set_new(json_array_get(list, i), "revocable", json_boolean(strcmp(v[i].c.status, "revoked") != 0));
	free(v);
	if ((ctx = cr_page_ctx(req, "certs_title")) == NULL) {
		json_decref(list);
		json_decref(msg);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	json_object_set_new(ctx, "issued", list);
	json_object_set_new(ctx, "has_issued", json_boolean(n > 0));
	if (msg != NULL)
		json_object_set_new(ctx, "message", msg);
	else if (req->query(req, "msg") != NULL && strcmp(req->query(req, "msg"), "revoked") == 0)
		json_object_set_new(ctx, "message", cr_wiz_message(req, "revoke_done", 0, true));
	cr_render(req, resp, status, "certificates", ctx);
}

void
cr_page_certificates(struct cr_req *req, struct cr_resp *resp)
{
	if (!cr_require_session(req, resp))
		return;
	render_certificates(req, resp, 200, NULL);
}

/* A certificate of the holder as PEM, for the signing service's client or the holder's records. */
void
cr_page_certificate_pem(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_ctx c;
	struct cr_buf der;
	enum cr_err err;
	char line[80];

	if (!cr_require_session(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_buf_init(&der, CERT_DER_MAX);
	if ((err = cr_flow_certificate_get(&c, cert_param(req, false), &der)) == CR_OK && der.len == 0)
		err = CR_ERR_NOTFOUND; /* a row without its DER (an old import): nothing to give */
	if (err != CR_OK) {
		cr_buf_free(&der);
		cr_render_error(req, resp, err == CR_ERR_NOTFOUND ? 404 : 500,
		    err == CR_ERR_NOTFOUND ? "err_not_found" : "err_internal", NULL);
		return;
	}
	/* PEM (RFC 7468): base64 in lines of 64. */
	{
		size_t b64len = sodium_base64_ENCODED_LEN(der.len, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = malloc(b64len);

		if (b64 == NULL) {
			cr_buf_free(&der);
			cr_render_error(req, resp, 500, "err_internal", NULL);
			return;
		}
		sodium_bin2base64(b64, b64len, (const unsigned char *)der.data, der.len, sodium_base64_VARIANT_ORIGINAL);
		cr_buf_printf(&resp->body, "-----BEGIN CERTIFICATE-----\n");
		for (size_t off = 0, len = strlen(b64); off < len; off += 64) {
			snprintf(line, sizeof(line), "%.64s\n", b64 + off);
			cr_buf_printf(&resp->body, "%s", line);
		}
		cr_buf_printf(&resp->body, "-----END CERTIFICATE-----\n");
		free(b64);
	}
	cr_buf_free(&der);
	resp->status = 200;
	resp->content_type = "application/x-pem-file";
	resp->disposition = "attachment; filename=\"certificate.pem\"";
	resp->cache_control = "no-store, private";
}

void
cr_page_revoke(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	const char *reason;

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	reason = cr_form_get(&req->form, "reason");
	cr_flow_revoke(&c, cert_param(req, true), cr_form_get(&req->form, "passphrase"),
	    reason != NULL && strcmp(reason, "key_compromise") == 0, &res);
	if (res.outcome == CR_FLOW_DONE) {
		cr_resp_redirect(resp, "/ecmp/certrenewal/certificates?msg=revoked");
		return;
	}
	if (res.outcome == CR_FLOW_REFUSED && res.why == CR_WHY_NOT_FOUND) {
		cr_render_error(req, resp, 404, "err_not_found", NULL);
		return;
	}
	if (res.outcome != CR_FLOW_REFUSED) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	render_certificates(req, resp, res.why == CR_WHY_REVOKE_LOCKED ? 403 : 400,
	    refusal_message(req, "revoke", &res, 0));
}

/* ---- the CA's publications: /pki/<type>.crl and /pki/<type>-ca.crt ---- */

void
cr_page_pki_file(struct cr_req *req, struct cr_resp *resp)
{
	static const char *const names[] = {"qualified.crl", "encryption.crl", "cloudsign.crl", "qualified-ca.crt",
	    "encryption-ca.crt", "cloudsign-ca.crt"};
	const char *name = req->path + strlen("/pki/");
	char path[CR_CFG_STR + 64], *data = NULL;
	size_t len = 0;
	bool known = false;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		known = known || strcmp(name, names[i]) == 0;
	snprintf(path, sizeof(path), "%s/%s", req->app->cfg->pki_crl_dir, name);
	if (!known || cr_file_read(path, PUBLISHED_MAX, CR_FILE_NOFOLLOW, &data, &len) != CR_OK) {
		cr_render_error(req, resp, 404, "err_not_found", NULL);
		return;
	}
	cr_buf_free(&resp->body);
	cr_buf_init(&resp->body, len + 1);
	cr_buf_add(&resp->body, data, len);
	free(data);
	resp->status = 200;
	resp->content_type = strstr(name, ".crl") != NULL ? "application/pkix-crl" : "application/pkix-cert";
	/* Relying parties fetch these often; the CRL says itself until when it stands. */
	resp->cache_control = "public, max-age=300";
}
