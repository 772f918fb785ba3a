/*
 * Page rendering: the common context every template sees (texts of the
 * request's language, DEV flag, year, the user and CSRF token), redirects,
 * cookies and error pages.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/lang.h"
#include "util/log.h"
#include "web.h"

void
cr_resp_redirect(struct cr_resp *resp, const char *location)
{
	resp->status = 302;
	snprintf(resp->location, sizeof(resp->location), "%s", location);
}

void
cr_resp_cookie(struct cr_app *app, struct cr_resp *resp, const char *name, const char *value, const char *path,
    long max_age)
{
	if (resp->ncookies == CR_RESP_MAX_COOKIES) {
		cr_error("http", "too many cookies in one response");
		return;
	}
	snprintf(resp->cookies[resp->ncookies++], sizeof(resp->cookies[0]),
	    "%s=%s; Path=%s; Max-Age=%ld; HttpOnly; SameSite=Lax%s", name, max_age < 0 ? "" : value, path,
	    max_age < 0 ? 0L : max_age, app->cfg->cookie_secure ? "; Secure" : "");
}

static json_t *
texts(struct cr_req *req)
{
	json_t *t = json_object_get(req->app->locales, req->lang);

	return t != NULL ? t : json_object_get(req->app->locales, cr_langs[0].code);
}

const char *
cr_text(struct cr_req *req, const char *key)
{
	const char *s = json_string_value(json_object_get(texts(req), key));

	return s != NULL ? s : "";
}

const char *
cr_type_label(struct cr_req *req, enum cr_cert_type t)
{
	char key[32];
	const char *label;

	snprintf(key, sizeof(key), "type_%s", cr_cert_type_name(t));
	label = cr_text(req, key);
	return *label ? label : cr_cert_type_label_zh(t);
}

json_t *
cr_page_ctx(struct cr_req *req, const char *title_key)
{
	struct tm tm;
	char css[96];
	json_t *ctx, *langs;
	json_error_t jerr;

	gmtime_r(&req->now, &tm);
	snprintf(css, sizeof(css), "/static/style.css?v=%s", req->app->css_version);
	langs = json_array();
	for (size_t i = 0; i < cr_lang_count; i++) {
		struct cr_buf url;

		/* The switch keeps the page's own arguments (app=, i=): only the language changes. */
		cr_buf_init(&url, 2048);
		if (req->self_url == NULL || req->self_url(req, "lang", cr_langs[i].code, &url) != CR_OK) {
			cr_buf_reset(&url);
			cr_buf_printf(&url, "/?lang=%s", cr_langs[i].code);
		}
		json_array_append_new(langs, json_pack("{s:s, s:s, s:b, s:s}", "code", cr_langs[i].code, "label",
		    cr_langs[i].label, "current", strcmp(cr_langs[i].code, req->lang) == 0, "url", cr_buf_str(&url)));
		cr_buf_free(&url);
	}
	/* Only text the portal made goes in: the request's path is the visitor's, and it need not be
	   UTF-8, which jansson refuses. */
	ctx = json_pack_ex(&jerr, 0, "{s:O, s:s, s:b, s:i, s:s, s:s, s:o}",
	    "t", texts(req),
	    "lang", req->lang,
	    "dev", req->app->cfg->dev,
	    "year", tm.tm_year + 1900,
	    "css", css,
	    "title", cr_text(req, title_key),
	    "langs", langs);
	if (ctx == NULL) {
		cr_error("render", "page context: %s",
		    json_error_code(&jerr) == json_error_out_of_memory ? "out of memory" : jerr.text);
		return NULL;
	}
	if (req->authed) {
		json_object_set_new(ctx, "user", json_pack("{s:s, s:s, s:b, s:b}",
		    "name", req->person.name, "org", req->person.org_name,
		    "coordinator", req->person.is_coordinator, "officer", req->person.is_officer));
		json_object_set_new(ctx, "csrf", json_string(req->csrf));
	}
	return ctx;
}

void
cr_render(struct cr_req *req, struct cr_resp *resp, unsigned status, const char *name, json_t *ctx)
{
	enum cr_err err;

	cr_buf_reset(&resp->body);
	resp->static_body = NULL;
	resp->content_type = "text/html; charset=utf-8";
	if (ctx == NULL) {
		/* Whoever could not build it said why (cr_page_ctx logs jansson's reason): a context
		   fails for text that is not UTF-8 as well as for memory. */
		cr_error("render", "template %s: no context to render", name);
		err = CR_ERR_INVALID;
	} else {
		err = cr_tmpl_render(req->app->tmpl, name, ctx, &resp->body);
		json_decref(ctx);
		if (err != CR_OK)
			cr_error("render", "template %s: %s", name, cr_err_str(err));
	}
	if (err != CR_OK) {
		cr_buf_reset(&resp->body);
		cr_buf_adds(&resp->body, "<!doctype html><meta charset=utf-8><title>500</title><p>Internal error</p>");
		resp->status = 500;
		return;
	}
	resp->status = status;
}

void
cr_render_error(struct cr_req *req, struct cr_resp *resp, unsigned status, const char *msg_key, const char *hint_key)
{
	json_t *ctx = cr_page_ctx(req, "error_title");

	if (ctx != NULL) {
		json_object_set_new(ctx, "status", json_integer(status));
		json_object_set_new(ctx, "message", json_string(cr_text(req, msg_key)));
		if (hint_key != NULL)
			json_object_set_new(ctx, "hint", json_string(cr_text(req, hint_key)));
	}
	resp->location[0] = '\0';
	cr_render(req, resp, status, "error", ctx);
}
