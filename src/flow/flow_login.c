/*
 * GovID (公務通) login, sessions and logout (SPEC R3.2): the OpenID Connect
 * authorization code flow with PKCE (S256), state and nonce.
 *
 * The login is bound to the browser by a pre-login secret (the caller keeps it
 * in a cookie). The database keeps only hashes of the state and of that secret;
 * the PKCE verifier is derived from the secret (HMAC), so it is never stored. A
 * callback therefore succeeds only in the browser that started the login, once.
 * Sessions: 256 random bits in the caller's cookie, SHA-256 of it in the
 * database, so a copy of the database hands out no live session.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "flow_int.h"
#include "util/log.h"

#define MAX_PARAM 2048
/* Sessions are touched at most this often, so reading pages does not write each time. */
#define TOUCH_EVERY 60

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

/* 32 bytes from their base64url text (43 characters); false for anything else. */
static bool
decode32(const char *s, unsigned char out[32])
{
	size_t n = 0;

	return s != NULL && strlen(s) == 43 && cr_b64url_decode(s, 43, out, 32, &n) == CR_OK && n == 32;
}

void
cr_flow_login_begin(const struct cr_flow_ctx *c, struct cr_flow_login_start *out, struct cr_flow_result *res)
{
	unsigned char browser[32], state_raw[32], state_hash[CR_SHA256_LEN];
	char state[CR_B64URL_SIZE(32)], verifier[CR_B64URL_SIZE(32)], challenge[CR_B64URL_SIZE(32)];
	struct cr_login_flow flow = {0};
	struct cr_govid_authreq ar;
	enum cr_err err;

	memset(res, 0, sizeof(*res));
	/* Every anonymous login writes a row: an address may start only so many (the rows expire with
	   the flows, so the limit is a sliding window of CR_LOGIN_FLOW_TTL). */
	if (c->env->login_max_per_address > 0 && c->ip != NULL && c->ip[0] != '\0') {
		long recent = 0;

		if ((err = cr_db_login_flows_recent(c->db, c->ip, c->now - CR_LOGIN_FLOW_TTL, &recent)) != CR_OK) {
			flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
			return;
		}
		if (recent >= c->env->login_max_per_address) {
			cr_warn("login", "%s started %ld logins in %d s: refused", c->ip, recent, CR_LOGIN_FLOW_TTL);
			flow_result(res, CR_FLOW_REFUSED, CR_WHY_LOGIN_RATE, CR_LOGIN_FLOW_TTL);
			return;
		}
	}
	cr_random(browser, sizeof(browser));
	cr_random(state_raw, sizeof(state_raw));
	cr_b64url_encode(browser, sizeof(browser), out->browser_secret, sizeof(out->browser_secret));
	cr_b64url_encode(state_raw, sizeof(state_raw), state, sizeof(state));
	cr_sha256(state, strlen(state), state_hash);
	cr_sha256(browser, sizeof(browser), flow.browser_hash);
	cr_random_token(flow.nonce);
	flow.created_at = c->now;
	snprintf(flow.ip, sizeof(flow.ip), "%s", c->ip != NULL ? c->ip : "");
	derive_verifier(browser, verifier);
	challenge_of(verifier, challenge);
	ar = (struct cr_govid_authreq){.state = state, .nonce = flow.nonce, .code_challenge = challenge};
	if ((err = cr_govid_authorize_url(c->env->govid, &ar, out->authorize_url)) != CR_OK) {
		cr_warn("login", "cannot reach GovID: %s", cr_err_str(err));
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_LOGIN_PROVIDER, 0);
	} else if ((err = cr_db_login_flow_create(c->db, state_hash, &flow)) != CR_OK) {
		cr_error("login", "storing a login flow: %s", cr_err_str(err));
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
	} else
		flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
	if (res->outcome != CR_FLOW_DONE)
		sodium_memzero(out->browser_secret, sizeof(out->browser_secret));
	sodium_memzero(browser, sizeof(browser));
	sodium_memzero(verifier, sizeof(verifier));
}

static bool
param_ok(const char *s)
{
	return s != NULL && *s != '\0' && strlen(s) <= MAX_PARAM;
}

/* A refused callback: logged, nobody logged in. */
static void
refuse(const struct cr_flow_ctx *c, struct cr_flow_result *res, enum cr_flow_outcome o, enum cr_flow_why why,
    const char *log)
{
	cr_warn("login", "callback refused from %s: %s", c->ip, log);
	flow_result(res, o, why, 0);
}

/* Creates a session for person with its login audit row, in one transaction. */
static enum cr_err
session_start(const struct cr_flow_ctx *c, const struct cr_person *person, struct cr_flow_session *out)
{
	unsigned char sid[32], hash[CR_SHA256_LEN];
	struct cr_flow_ctx as = *c;
	enum cr_err err;

	as.actor = person;
	cr_random(sid, sizeof(sid));
	cr_sha256(sid, sizeof(sid), hash);
	if ((err = cr_db_begin(c->db)) != CR_OK)
		goto out;
	if ((err = cr_db_session_create(c->db, hash, person->id, c->now, c->ip)) != CR_OK ||
	    (err = flow_audit(&as, "login", "session", "govid")) != CR_OK || (err = cr_db_commit(c->db)) != CR_OK) {
		cr_db_rollback(c->db);
		goto out;
	}
	cr_b64url_encode(sid, sizeof(sid), out->cookie, sizeof(out->cookie));
	out->person_id = person->id;
out:
	sodium_memzero(sid, sizeof(sid));
	return err;
}

void
cr_flow_login_finish(const struct cr_flow_ctx *c, const char *state, const char *code, const char *browser_secret,
    bool provider_error, struct cr_flow_session *out, struct cr_flow_result *res)
{
	unsigned char state_hash[CR_SHA256_LEN], browser[32], bhash[CR_SHA256_LEN];
	char verifier[CR_B64URL_SIZE(32)];
	struct cr_login_flow flow;
	struct cr_idtoken_claims claims;
	struct cr_person person;
	const char *why = "";
	enum cr_err err;

	memset(res, 0, sizeof(*res));
	memset(out, 0, sizeof(*out));
	if (!param_ok(state)) {
		refuse(c, res, CR_FLOW_REFUSED, CR_WHY_LOGIN_STATE, "no state");
		return;
	}
	cr_sha256(state, strlen(state), state_hash);
	if (!decode32(browser_secret, browser)) {
		refuse(c, res, CR_FLOW_REFUSED, CR_WHY_LOGIN_STATE, "no pre-login cookie");
		return;
	}
	cr_sha256(browser, sizeof(browser), bhash);
	/* Taking the flow deletes it: a replayed callback finds nothing. Only the browser that started it
	   can take it, so a stranger with the URL changes nothing. */
	if (cr_db_login_flow_take(c->db, state_hash, bhash, &flow) != CR_OK) {
		sodium_memzero(browser, sizeof(browser));
		refuse(c, res, CR_FLOW_REFUSED, CR_WHY_LOGIN_STATE, "unknown, used or another browser's state");
		return;
	}
	if (c->now - flow.created_at > CR_LOGIN_FLOW_TTL) {
		sodium_memzero(browser, sizeof(browser));
		refuse(c, res, CR_FLOW_REFUSED, CR_WHY_LOGIN_STATE, "login flow expired");
		return;
	}
	if (provider_error || !param_ok(code)) {
		sodium_memzero(browser, sizeof(browser));
		refuse(c, res, CR_FLOW_REFUSED, CR_WHY_LOGIN_PROVIDER, provider_error ? "provider returned an error" : "no code");
		return;
	}
	derive_verifier(browser, verifier);
	sodium_memzero(browser, sizeof(browser));
	err = cr_govid_exchange_code(c->env->govid, code, verifier, flow.nonce, c->now, &claims, &why);
	sodium_memzero(verifier, sizeof(verifier));
	if (err != CR_OK) {
		refuse(c, res, err == CR_ERR_REMOTE ? CR_FLOW_UNAVAILABLE : CR_FLOW_REFUSED, CR_WHY_LOGIN_PROVIDER, why);
		return;
	}
	if ((err = cr_db_person_by_sub(c->db, claims.sub, &person)) != CR_OK) {
		if (err == CR_ERR_NOTFOUND)
			refuse(c, res, CR_FLOW_REFUSED, CR_WHY_UNKNOWN_USER, "GovID subject not registered");
		else
			refuse(c, res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, "store failed");
		return;
	}
	if (session_start(c, &person, out) != CR_OK) {
		cr_error("login", "person %lld: starting a session failed", (long long)person.id);
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return;
	}
	cr_info("login", "person %lld logged in from %s", (long long)person.id, c->ip);
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

enum cr_err
cr_flow_session_resume(const struct cr_flow_ctx *c, const char *cookie, struct cr_person *person,
    unsigned char sid_hash[CR_HASH_LEN])
{
	unsigned char sid[32];
	struct cr_session s;
	enum cr_err err;

	if (!decode32(cookie, sid))
		return CR_ERR_NOTFOUND;
	cr_sha256(sid, sizeof(sid), sid_hash);
	sodium_memzero(sid, sizeof(sid));
	if ((err = cr_db_session_get(c->db, sid_hash, &s)) != CR_OK)
		return err;
	if (c->now - s.last_seen > (time_t)c->env->session_idle_minutes * 60 ||
	    c->now - s.created_at > (time_t)c->env->session_absolute_minutes * 60) {
		cr_db_session_delete(c->db, sid_hash);
		return CR_ERR_NOTFOUND;
	}
	if ((err = cr_db_person_by_id(c->db, s.person_id, person)) != CR_OK)
		return err;
	if (c->now - s.last_seen >= TOUCH_EVERY)
		cr_db_session_touch(c->db, sid_hash, c->now);
	return CR_OK;
}

void
cr_flow_logout(const struct cr_flow_ctx *c, const unsigned char sid_hash[CR_HASH_LEN], struct cr_flow_result *res)
{
	enum cr_err err;

	memset(res, 0, sizeof(*res));
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_session_delete(c->db, sid_hash)) == CR_OK &&
	    (err = flow_audit(c, "logout", "session", "")) == CR_OK)
		err = cr_db_commit(c->db);
	if (err != CR_OK) {
		cr_db_rollback(c->db);
		cr_error("login", "logout of person %lld: %s", (long long)flow_actor_id(c), cr_err_str(err));
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return;
	}
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}
