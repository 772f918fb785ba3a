/*
 * Landing page and the GovID (公務通) login pages (SPEC R3.2). The login itself
 * (state, nonce, PKCE, the code exchange, the session) is the flow layer's
 * (src/flow/flow_login.c); these handlers carry its browser secret in the
 * pre-login cookie and its session in the session cookie.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "util/log.h"
#include "web.h"

void
cr_page_healthz(struct cr_req *req, struct cr_resp *resp)
{
	(void)req;
	resp->status = 200;
	resp->content_type = "text/plain; charset=utf-8";
	cr_buf_adds(&resp->body, "ok\n");
}

void
cr_page_landing(struct cr_req *req, struct cr_resp *resp)
{
	if (cr_session_load(req)) {
		cr_resp_redirect(resp, "/home");
		return;
	}
	cr_render(req, resp, 200, "landing", cr_page_ctx(req, "landing_title"));
}

void
cr_page_login(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_login_start start;
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	struct cr_buf url;

	if (cr_session_load(req)) {
		cr_resp_redirect(resp, "/home");
		return;
	}
	cr_buf_init(&url, sizeof(resp->location) - 1);
	start.authorize_url = &url;
	cr_req_flow(req, &c);
	cr_flow_login_begin(&c, &start, &res);
	if (res.outcome != CR_FLOW_DONE) {
		if (res.why == CR_WHY_LOGIN_RATE)
			cr_render_error(req, resp, 429, "err_login_rate", NULL);
		else if (res.why == CR_WHY_LOGIN_PROVIDER)
			cr_render_error(req, resp, 503, "err_govid_down", NULL);
		else
			cr_render_error(req, resp, 500, "err_internal", NULL);
	} else {
		/* Path=/auth: the browser returns it only to the callback. */
		cr_resp_cookie(req->app, resp, CR_LOGIN_COOKIE, start.browser_secret, "/auth", CR_LOGIN_FLOW_TTL);
		cr_resp_redirect(resp, cr_buf_str(&url));
	}
	cr_buf_free(&url);
	sodium_memzero(start.browser_secret, sizeof(start.browser_secret));
}

/* The page of a refused callback: status and message by reason. */
static void
render_refusal(struct cr_req *req, struct cr_resp *resp, const struct cr_flow_result *res)
{
	if (res->why == CR_WHY_UNKNOWN_USER)
		cr_render_error(req, resp, 403, "err_login_unknown_user", NULL);
	else if (res->outcome == CR_FLOW_UNAVAILABLE && res->why == CR_WHY_LOGIN_PROVIDER)
		cr_render_error(req, resp, 502, "err_govid_down", "hint_login_again");
	else if (res->outcome == CR_FLOW_UNAVAILABLE)
		cr_render_error(req, resp, 500, "err_internal", NULL);
	else
		cr_render_error(req, resp, 400, res->why == CR_WHY_LOGIN_STATE ? "err_login_state" : "err_login_provider",
		    "hint_login_again");
}

void
cr_page_callback(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_session session;
	struct cr_flow_result res;
	struct cr_flow_ctx c;

	cr_req_flow(req, &c);
	cr_flow_login_finish(&c, req->query(req, "state"), req->query(req, "code"), req->cookie(req, CR_LOGIN_COOKIE),
	    req->query(req, "error") != NULL, &session, &res);
	/* The pre-login cookie is spent whatever happened. */
	cr_resp_cookie(req->app, resp, CR_LOGIN_COOKIE, "", "/auth", -1);
	if (res.outcome != CR_FLOW_DONE) {
		render_refusal(req, resp, &res);
		return;
	}
	cr_session_cookie(req, resp, session.cookie, (long)req->app->cfg->session_absolute_minutes * 60);
	sodium_memzero(session.cookie, sizeof(session.cookie));
	cr_resp_redirect(resp, "/home");
}

void
cr_page_logout(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;

	if (!cr_require_session(req, resp))
		return;
	if (!cr_csrf_ok(req)) {
		cr_warn("logout", "refused without a valid CSRF token for person %lld from %s",
		    (long long)req->person.id, req->ip);
		cr_render_error(req, resp, 403, "err_csrf", NULL);
		return;
	}
	cr_req_flow(req, &c);
	cr_flow_logout(&c, req->sid_hash, &res);
	if (res.outcome != CR_FLOW_DONE) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	req->authed = false;
	cr_session_cookie(req, resp, "", -1);
	cr_resp_redirect(resp, "/");
}
