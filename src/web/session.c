/*
 * The session as HTTP sees it: the cookie that names it and the CSRF token
 * derived from it. Which sessions are valid (timeouts, the person behind them)
 * is the flow layer's (cr_flow_session_resume); this file only reads and writes
 * cookies. The CSRF token is HMAC(session id, label), so it needs no storage
 * and dies with the session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/crypto.h"
#include "util/log.h"
#include "web.h"

static void
derive_csrf(const char *cookie, char out[CR_B64URL_SIZE(32)])
{
	unsigned char sid[32], mac[CR_SHA256_LEN];
	static const char label[] = "certrenew csrf v1";
	size_t n = 0;

	/* The cookie was decoded once already by the flow layer: this cannot fail. */
	if (cr_b64url_decode(cookie, strlen(cookie), sid, sizeof(sid), &n) != CR_OK || n != sizeof(sid))
		abort();
	cr_hmac_sha256(sid, label, sizeof(label) - 1, mac);
	cr_b64url_encode(mac, sizeof(mac), out, CR_B64URL_SIZE(32));
	sodium_memzero(sid, sizeof(sid));
}

bool
cr_session_load(struct cr_req *req)
{
	const char *cookie = req->cookie(req, CR_SESSION_COOKIE);
	struct cr_flow_ctx c;
	enum cr_err err;

	req->authed = false;
	if (cookie == NULL)
		return false;
	cr_req_flow(req, &c);
	if ((err = cr_flow_session_resume(&c, cookie, &req->person, req->sid_hash)) != CR_OK) {
		req->store_failed = err != CR_ERR_NOTFOUND;
		return false;
	}
	derive_csrf(cookie, req->csrf);
	req->authed = true;
	return true;
}

bool
cr_require_session(struct cr_req *req, struct cr_resp *resp)
{
	if (cr_session_load(req))
		return true;
	/* A database outage must not look like a logout: the session is kept for when it is back. */
	if (req->store_failed)
		cr_render_error(req, resp, 503, "err_unavailable", NULL);
	else
		cr_resp_redirect(resp, "/");
	return false;
}

void
cr_session_cookie(struct cr_req *req, struct cr_resp *resp, const char *value, long max_age)
{
	cr_resp_cookie(req->app, resp, CR_SESSION_COOKIE, value, "/", max_age);
}

bool
cr_csrf_ok(struct cr_req *req)
{
	const char *sent = cr_form_get(&req->form, "csrf");

	return req->authed && sent != NULL && cr_str_eq_ct(sent, req->csrf);
}
