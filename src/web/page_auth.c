/*
 * Landing page and the GovID (公務通) login: OpenID Connect authorization code
 * flow with PKCE (S256), state and nonce (SPEC R3.2).
 *
 * The flow is bound to the browser by a pre-login cookie holding 256 random
 * bits. The database keeps only hashes of the state and of that cookie; the
 * PKCE verifier is derived from the cookie (HMAC), so it is never stored. A
 * callback therefore succeeds only in the browser that started the login, once.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "util/crypto.h"
#include "util/log.h"
#include "web.h"

#define LOGIN_FLOW_TTL 600
#define MAX_PARAM 2048

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

static void
derive_verifier(const unsigned char browser[32], char out[CR_B64URL_SIZE(32)])
{
	static const char label[] = "certrenew pkce verifier v1";
	unsigned char mac[CR_SHA256_LEN];

	cr_hmac_sha256(browser, label, sizeof(label) - 1, mac);
	cr_b64url_encode(mac, sizeof(mac), out, CR_B64URL_SIZE(32));
	sodium_memzero(mac, sizeof(mac));
}

static void
challenge_of(const char *verifier, char out[CR_B64URL_SIZE(32)])
{
	unsigned char md[CR_SHA256_LEN];

	cr_sha256(verifier, strlen(verifier), md);
	cr_b64url_encode(md, sizeof(md), out, CR_B64URL_SIZE(32));
}

void
cr_page_login(struct cr_req *req, struct cr_resp *resp)
{
	unsigned char browser[32], state_raw[32];
	char browser_b64[CR_B64URL_SIZE(32)], state[CR_B64URL_SIZE(32)], verifier[CR_B64URL_SIZE(32)],
	    challenge[CR_B64URL_SIZE(32)];
	unsigned char state_hash[CR_SHA256_LEN];
	struct cr_login_flow flow = {0};
	struct cr_govid_authreq ar;
	struct cr_buf url;
	enum cr_err err;

	if (cr_session_load(req)) {
		cr_resp_redirect(resp, "/home");
		return;
	}
	cr_buf_init(&url, sizeof(resp->location) - 1);
	cr_random(browser, sizeof(browser));
	cr_random(state_raw, sizeof(state_raw));
	cr_b64url_encode(browser, sizeof(browser), browser_b64, sizeof(browser_b64));
	cr_b64url_encode(state_raw, sizeof(state_raw), state, sizeof(state));
	cr_sha256(state, strlen(state), state_hash);
	cr_sha256(browser, sizeof(browser), flow.browser_hash);
	cr_random_token(flow.nonce);
	flow.created_at = req->now;
	derive_verifier(browser, verifier);
	challenge_of(verifier, challenge);

	ar = (struct cr_govid_authreq){state, flow.nonce, challenge, NULL, NULL};
	if ((err = cr_govid_authorize_url(req->app->govid, &ar, &url)) != CR_OK) {
		cr_warn("login", "cannot reach GovID: %s", cr_err_str(err));
		cr_render_error(req, resp, 503, "err_govid_down", NULL);
		goto out;
	}
	if ((err = cr_db_login_flow_create(cr_req_db(req), state_hash, &flow)) != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		goto out;
	}
	/* Path=/auth: the browser returns it only to the callback. */
	cr_resp_cookie(req->app, resp, CR_LOGIN_COOKIE, browser_b64, "/auth", LOGIN_FLOW_TTL);
	cr_resp_redirect(resp, cr_buf_str(&url));
out:
	cr_buf_free(&url);
	sodium_memzero(browser, sizeof(browser));
	sodium_memzero(browser_b64, sizeof(browser_b64));
	sodium_memzero(verifier, sizeof(verifier));
}

/* The pre-login cookie's 32 bytes; false when absent or malformed. */
static bool
login_cookie(struct cr_req *req, unsigned char out[32])
{
	const char *c = req->cookie(req, CR_LOGIN_COOKIE);
	size_t n = 0;

	return c != NULL && strlen(c) == 43 && cr_b64url_decode(c, 43, out, 32, &n) == CR_OK && n == 32;
}

static bool
param_ok(const char *s)
{
	return s != NULL && *s != '\0' && strlen(s) <= MAX_PARAM;
}

/* Refuses a callback: logged, the pre-login cookie dropped, nobody logged in. */
static void
refuse(struct cr_req *req, struct cr_resp *resp, unsigned status, const char *why, const char *msg_key)
{
	cr_warn("login", "callback refused from %s: %s", req->ip, why);
	cr_render_error(req, resp, status, msg_key, "hint_login_again");
	cr_resp_cookie(req->app, resp, CR_LOGIN_COOKIE, "", "/auth", -1);
}

void
cr_page_callback(struct cr_req *req, struct cr_resp *resp)
{
	const char *state = req->query(req, "state"), *code = req->query(req, "code");
	const char *perror = req->query(req, "error"), *why = "";
	unsigned char state_hash[CR_SHA256_LEN], browser[32], bhash[CR_SHA256_LEN];
	char verifier[CR_B64URL_SIZE(32)];
	struct cr_login_flow flow;
	struct cr_idtoken_claims claims;
	struct cr_person person;
	enum cr_err err;

	if (!param_ok(state)) {
		refuse(req, resp, 400, "no state", "err_login_state");
		return;
	}
	cr_sha256(state, strlen(state), state_hash);
	/* Taking the flow deletes it: a replayed callback finds nothing. */
	if (cr_db_login_flow_take(cr_req_db(req), state_hash, &flow) != CR_OK) {
		refuse(req, resp, 400, "unknown or used state", "err_login_state");
		return;
	}
	if (req->now - flow.created_at > LOGIN_FLOW_TTL) {
		refuse(req, resp, 400, "login flow expired", "err_login_state");
		return;
	}
	if (!login_cookie(req, browser)) {
		refuse(req, resp, 400, "no pre-login cookie", "err_login_state");
		return;
	}
	cr_sha256(browser, sizeof(browser), bhash);
	if (sodium_memcmp(bhash, flow.browser_hash, sizeof(bhash)) != 0) {
		sodium_memzero(browser, sizeof(browser));
		refuse(req, resp, 400, "pre-login cookie does not match the state", "err_login_state");
		return;
	}
	if (perror != NULL) {
		sodium_memzero(browser, sizeof(browser));
		refuse(req, resp, 400, "provider returned an error", "err_login_provider");
		return;
	}
	if (!param_ok(code)) {
		sodium_memzero(browser, sizeof(browser));
		refuse(req, resp, 400, "no code", "err_login_provider");
		return;
	}
	derive_verifier(browser, verifier);
	sodium_memzero(browser, sizeof(browser));
	err = cr_govid_exchange_code(req->app->govid, code, verifier, flow.nonce, req->now, &claims, &why);
	sodium_memzero(verifier, sizeof(verifier));
	if (err == CR_ERR_REMOTE) {
		refuse(req, resp, 502, why, "err_govid_down");
		return;
	}
	if (err != CR_OK) {
		refuse(req, resp, 400, why, "err_login_provider");
		return;
	}
	if ((err = cr_db_person_by_sub(cr_req_db(req), claims.sub, &person)) != CR_OK) {
		cr_warn("login", "GovID subject not registered (from %s)", req->ip);
		cr_render_error(req, resp, 403, "err_login_unknown_user", NULL);
		cr_resp_cookie(req->app, resp, CR_LOGIN_COOKIE, "", "/auth", -1);
		return;
	}
	if (cr_session_start(req, resp, &person, "govid") != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	cr_info("login", "person %lld logged in from %s", (long long)person.id, req->ip);
	cr_resp_cookie(req->app, resp, CR_LOGIN_COOKIE, "", "/auth", -1);
	cr_resp_redirect(resp, "/home");
}

void
cr_page_logout(struct cr_req *req, struct cr_resp *resp)
{
	if (!cr_require_session(req, resp))
		return;
	if (!cr_csrf_ok(req)) {
		cr_warn("logout", "refused without a valid CSRF token for person %lld from %s",
		    (long long)req->person.id, req->ip);
		cr_render_error(req, resp, 403, "err_csrf", NULL);
		return;
	}
	if (cr_session_end(req, resp) != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	cr_resp_redirect(resp, "/");
}
