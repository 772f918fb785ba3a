/*
 * Sessions: a 256-bit random id in an HttpOnly cookie; the database keeps only
 * its SHA-256, so a copy of the database does not hand out live sessions. The
 * CSRF token is derived from the id (HMAC), so it needs no storage and dies
 * with the session. Idle and absolute timeouts come from the config.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "util/crypto.h"
#include "util/log.h"
#include "web.h"

/* Sessions are touched at most this often, so reading pages does not write each time. */
#define TOUCH_EVERY 60

static void
derive_csrf(const unsigned char sid[32], char out[CR_B64URL_SIZE(32)])
{
	unsigned char mac[CR_SHA256_LEN];
	static const char label[] = "certrenew csrf v1";

	cr_hmac_sha256(sid, label, sizeof(label) - 1, mac);
	cr_b64url_encode(mac, sizeof(mac), out, CR_B64URL_SIZE(32));
}

static bool
cookie_sid(struct cr_req *req, unsigned char sid[32])
{
	const char *c = req->cookie(req, CR_SESSION_COOKIE);
	size_t n = 0;

	if (c == NULL || strlen(c) != 43)
		return false;
	return cr_b64url_decode(c, 43, sid, 32, &n) == CR_OK && n == 32;
}

bool
cr_session_load(struct cr_req *req)
{
	unsigned char sid[32];
	struct cr_session s;
	struct cr_db *db;
	const struct cr_config *cfg = req->app->cfg;
	enum cr_err err;

	req->authed = false;
	if (!cookie_sid(req, sid))
		return false;
	cr_sha256(sid, sizeof(sid), req->sid_hash);
	db = cr_req_db(req);
	if ((err = cr_db_session_get(db, req->sid_hash, &s)) != CR_OK) {
		req->store_failed = err != CR_ERR_NOTFOUND;
		goto out;
	}
	if (req->now - s.last_seen > (time_t)cfg->session_idle_minutes * 60 ||
	    req->now - s.created_at > (time_t)cfg->session_absolute_minutes * 60) {
		cr_db_session_delete(db, req->sid_hash);
		goto out;
	}
	if ((err = cr_db_person_by_id(db, s.person_id, &req->person)) != CR_OK) {
		req->store_failed = err != CR_ERR_NOTFOUND;
		goto out;
	}
	if (req->now - s.last_seen >= TOUCH_EVERY)
		cr_db_session_touch(db, req->sid_hash, req->now);
	derive_csrf(sid, req->csrf);
	req->authed = true;
out:
	sodium_memzero(sid, sizeof(sid));
	return req->authed;
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

enum cr_err
cr_session_start(struct cr_req *req, struct cr_resp *resp, const struct cr_person *person, const char *how)
{
	unsigned char sid[32], hash[CR_SHA256_LEN];
	char cookie[CR_B64URL_SIZE(32)], actor[48];
	struct cr_db *db = cr_req_db(req);
	struct cr_audit a;
	enum cr_err err;

	cr_random(sid, sizeof(sid));
	cr_sha256(sid, sizeof(sid), hash);
	snprintf(actor, sizeof(actor), "person:%lld", (long long)person->id);
	a = (struct cr_audit){actor, "login", "session", req->ip, how};
	if ((err = cr_db_begin(db)) != CR_OK)
		goto out;
	if ((err = cr_db_session_create(db, hash, person->id, req->now, req->ip)) != CR_OK ||
	    (err = cr_db_audit(db, req->now, &a)) != CR_OK) {
		cr_db_rollback(db);
		goto out;
	}
	if ((err = cr_db_commit(db)) != CR_OK)
		goto out;
	cr_b64url_encode(sid, sizeof(sid), cookie, sizeof(cookie));
	cr_resp_cookie(req->app, resp, CR_SESSION_COOKIE, cookie, "/", (long)req->app->cfg->session_absolute_minutes * 60);
	sodium_memzero(cookie, sizeof(cookie));
out:
	sodium_memzero(sid, sizeof(sid));
	return err;
}

enum cr_err
cr_session_end(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_db *db = cr_req_db(req);
	char actor[48];
	struct cr_audit a;
	enum cr_err err;

	snprintf(actor, sizeof(actor), "person:%lld", (long long)req->person.id);
	a = (struct cr_audit){actor, "logout", "session", req->ip, ""};
	if ((err = cr_db_begin(db)) != CR_OK)
		return err;
	if ((err = cr_db_session_delete(db, req->sid_hash)) != CR_OK || (err = cr_db_audit(db, req->now, &a)) != CR_OK) {
		cr_db_rollback(db);
		return err;
	}
	if ((err = cr_db_commit(db)) != CR_OK)
		return err;
	cr_resp_cookie(req->app, resp, CR_SESSION_COOKIE, "", "/", -1);
	req->authed = false;
	return CR_OK;
}

bool
cr_csrf_ok(struct cr_req *req)
{
	const char *sent = cr_form_get(&req->form, "csrf");

	return req->authed && sent != NULL && cr_str_eq_ct(sent, req->csrf);
}
