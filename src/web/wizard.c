/*
 * What every page of the renewal wizard shares: reading the step's ids from
 * the query or form, the step header and flash message, the certificate cards,
 * redirects to the step an application is at, and the answer to the flow
 * results every page answers the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ids.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "web.h"


/* The application id of the query or form; 0 (found by nobody) when malformed. */
int64_t
cr_wiz_app_param(struct cr_req *req, bool from_form)
{
	const char *s = from_form ? cr_form_get(&req->form, "app") : req->query(req, "app");
	int64_t id;

	return cr_id_parse(s, &id) ? id : 0;
}

/* The address index of the query or form; -1 (found by nobody) when malformed. */
int
cr_wiz_index_param(struct cr_req *req, bool from_form)
{
	const char *s = from_form ? cr_form_get(&req->form, "i") : req->query(req, "i");
	int i;

	return cr_index_parse(s, CR_FLOW_MAX_EMAILS, &i) ? i : -1;
}

void
cr_wiz_step_url(const struct cr_application *app, char *out, size_t outlen)
{
	static const char *const paths[CR_APP_STATE_COUNT] = {
		[CR_APP_CONSENT] = "consent", [CR_APP_EMAILS] = "emails", [CR_APP_IDENTITY] = "identity",
		[CR_APP_CONFIRM] = "confirm", [CR_APP_SUBMITTED] = "confirm", [CR_APP_CANCELLED] = "verify",
		[CR_APP_COUNTER] = "identity",
	};

	if (app->state == CR_APP_CANCELLED)
		snprintf(out, outlen, "/ecmp/certrenewal/verify");
	else
		snprintf(out, outlen, "/ecmp/certrenewal/%s?app=%lld", paths[app->state], (long long)app->id);
}

void
cr_wiz_redirect_to_step(struct cr_resp *resp, const struct cr_application *app, const char *msg)
{
	char url[160];

	cr_wiz_step_url(app, url, sizeof(url));
	if (msg != NULL) {
		size_t n = strlen(url);
		snprintf(url + n, sizeof(url) - n, "%cmsg=%s", strchr(url, '?') ? '&' : '?', msg);
	}
	cr_resp_redirect(resp, url);
}

/* POSTs need the CSRF token; the answer to a forged one changes nothing. */
bool
cr_wiz_csrf_ok(struct cr_req *req, struct cr_resp *resp)
{
	if (cr_csrf_ok(req))
		return true;
	cr_warn("verify", "%s refused without a valid CSRF token (person %lld, %s)", req->path,
	    (long long)req->person.id, req->ip);
	cr_render_error(req, resp, 403, "err_csrf", NULL);
	return false;
}

/* A localised message with {n} replaced by n. */
json_t *
cr_wiz_message(struct cr_req *req, const char *key, int n, bool ok)
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
		{"photo_uploaded", true}, {"photo_missing", false},
		{"activated", true}, {"activate_id_changed", false}, {"activate_activation_closed", false},
		{"activate_not_activatable", false}, {"activate_cert_invalid", false}, {"activate_no_account", false},
		{"activate_issue_down", false}, {"activate_busy", false},
	};
	const char *m = req->query(req, "msg");

	for (size_t i = 0; m != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(m, known[i].key) == 0)
			return cr_wiz_message(req, known[i].key, 0, known[i].ok);
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
json_t *
cr_wiz_ctx(struct cr_req *req, const char *title_key, int64_t app_id, int step, json_t *msg)
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

json_t *
cr_wiz_certs_json(struct cr_req *req, const struct cr_cert_view *v, size_t n)
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
bool
cr_wiz_answered(struct cr_req *req, struct cr_resp *resp, const struct cr_flow_result *res)
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
			cr_wiz_redirect_to_step(resp, &res->app, NULL);
			return true;
		}
		return false;
	case CR_FLOW_CONFLICT:
		cr_wiz_redirect_to_step(resp, &res->app, NULL);
		return true;
	case CR_FLOW_UNAVAILABLE:
		if (res->why == CR_WHY_DSI_DOWN) {
			cr_render_error(req, resp, 503, "dsi_down", "dsi_down_hint");
			return true;
		}
		break;
	}
	cr_render_error(req, resp, 500, "err_internal", NULL);
	return true;
}

/* An application for a GET page: the holder's, else 404 (or 500). */
bool
cr_wiz_load_app(struct cr_req *req, struct cr_resp *resp, struct cr_flow_ctx *c, struct cr_application *app)
{
	enum cr_err err;

	cr_req_flow(req, c);
	if ((err = cr_flow_app_get(c, cr_wiz_app_param(req, false), app)) == CR_OK)
		return true;
	if (err == CR_ERR_NOTFOUND)
		cr_render_error(req, resp, 404, "err_app_not_found", NULL);
	else
		cr_render_error(req, resp, 500, "err_internal", NULL);
	return false;
}

