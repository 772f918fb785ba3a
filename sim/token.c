/*
 * The back-channel half: POST /token redeems an authorization code for an
 * ES256 ID token and an access token (RFC 6749 4.1.3, RFC 7636 4.6, OIDC Core
 * 3.1.3); GET/POST /userinfo answers for a live access token.
 *
 * A code is single-use. The first redemption attempt by the right client uses
 * it up, whatever its outcome; a second attempt is refused and also revokes
 * the access token the first one bought (RFC 6749 4.1.2).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "oidc.h"
#include "util/log.h"

#define BASIC_MAX 2048  /* base64 credentials of an Authorization header */

/* Decodes "Basic base64(urlenc(id):urlenc(secret))" (RFC 6749 2.3.1). */
static enum cr_err
decode_basic(const char *b64, char **id, char **secret)
{
	size_t len = strlen(b64), bin_len = 0;
	char bin[BASIC_MAX];
	const char *colon;
	enum cr_err err = CR_ERR_INVALID;

	*id = *secret = NULL;
	if (len > BASIC_MAX ||
	    sodium_base642bin((unsigned char *)bin, sizeof(bin), b64, len, NULL, &bin_len,
	        NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		goto out;
	if ((colon = memchr(bin, ':', bin_len)) == NULL)
		goto out;
	if ((err = cr_form_decode(bin, (size_t)(colon - bin), id)) != CR_OK ||
	    (err = cr_form_decode(colon + 1, bin_len - (size_t)(colon - bin) - 1, secret)) != CR_OK)
		goto out;
out:
	sodium_memzero(bin, sizeof(bin));
	if (err != CR_OK) {
		free(*id);
		free(*secret);
		*id = *secret = NULL;
	}
	return err;
}

/*
 * Client authentication by client_secret_basic or client_secret_post, never
 * both (RFC 6749 2.3). CR_OK when authenticated; CR_ERR_INVALID for a
 * malformed request (400 invalid_request); CR_ERR_DENIED otherwise (401).
 */
static enum cr_err
authenticate(struct gs_req *r, const struct cr_form *f)
{
	const char *auth = gs_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *body_id = NULL, *body_secret = NULL;
	char *id = NULL, *secret = NULL;
	enum cr_err err = CR_ERR_DENIED;

	if (gs_form_get(f, "client_id", MAX_CLIENT_ID, &body_id) == CR_ERR_CONFLICT ||
	    gs_form_get(f, "client_secret", MAX_SECRET, &body_secret) == CR_ERR_CONFLICT)
		return CR_ERR_INVALID;
	if (auth != NULL && strncasecmp(auth, "Basic ", 6) == 0) {
		if (body_secret != NULL)
			return CR_ERR_INVALID;
		if (decode_basic(auth + 6 + strspn(auth + 6, " "), &id, &secret) != CR_OK)
			goto out;
		/* client_id may be repeated in the body, but must then agree. */
		if (body_id != NULL && strcmp(body_id, id) != 0)
			goto out;
	} else if (auth != NULL || body_id == NULL || body_secret == NULL) {
		goto out;
	} else if ((id = strdup(body_id)) == NULL || (secret = strdup(body_secret)) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	/* Evaluate both, so the time taken does not tell which one was wrong. */
	if ((strcmp(id, r->gs->client_id) == 0) & gs_secret_equal(secret, r->gs->client_secret))
		err = CR_OK;
out:
	free(id);
	if (secret != NULL) {
		sodium_memzero(secret, strlen(secret));
		free(secret);
	}
	return err;
}

/* The redemption request's parameters, borrowed from the form. */
struct redeem {
	const char *code;
	const char *redirect_uri;
	const char *verifier;
};

/* RFC 7636 4.1: 43..128 characters of [A-Z a-z 0-9 - . _ ~]. */
static int
verifier_ok(const char *v)
{
	size_t n = strlen(v);

	if (n < 43 || n > 128)
		return 0;
	/* The base64url alphabet plus '.' and '~'. */
	return strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~") == n;
}

static int
pkce_ok(const char *verifier, const char *challenge)
{
	uint8_t h[CR_SHA256_LEN];
	char b64[CR_B64URL_SIZE(CR_SHA256_LEN)];

	cr_sha256(verifier, strlen(verifier), h);
	cr_b64url_encode(h, sizeof(h), b64, sizeof(b64));
	return gs_secret_equal(b64, challenge);
}

/* Another account's resident number than p's (for the eid_other_resident failure). */
static const char *
other_resident(const struct gs *gs, const struct gs_person *p)
{
	for (size_t i = 0; i < gs->people.n; i++) {
		const char *n = gs->people.v[i].id_number;

		if (n != NULL && (p->id_number == NULL || strcmp(n, p->id_number) != 0))
			return n;
	}
	return "9999999(9)";
}

/*
 * The claims of a very-high login beyond those of every login: amr ["face"] and resident_number,
 * and the armed eid_* failures (docs/internals/eid.md), each for one very-high ID token.
 */
static enum cr_err
very_high_claims(struct gs *gs, const struct gs_person *p, json_t *claims, time_t now)
{
	const char *resident = p->id_number;
	int ok;

	if (gs_fault_take(&gs->faults, "eid_acr_substantial"))
		ok = json_object_set_new(claims, "acr", json_string(GS_ACR_SUBSTANTIAL)) == 0;
	else
		ok = 1;
	if (ok && gs_fault_take(&gs->faults, "eid_stale_auth_time"))
		ok = json_object_set_new(claims, "auth_time", json_integer((json_int_t)(now - 3600))) == 0;
	if (gs_fault_take(&gs->faults, "eid_other_resident"))
		resident = other_resident(gs, p);
	if (ok && resident != NULL)
		ok = json_object_set_new(claims, "resident_number", json_string(resident)) == 0;
	if (ok)
		ok = json_object_set_new(claims, "amr", json_pack("[s]", "face")) == 0;
	return ok ? CR_OK : CR_ERR_NOMEM;
}

/* The signed ID token for code c and person p; *out owned by the caller. */
static enum cr_err
id_token(struct gs *gs, const struct gs_code *c, const struct gs_person *p,
    time_t now, char **out)
{
	json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s}",
	    "iss", gs->issuer, "sub", p->sub, "aud", c->client_id,
	    "exp", (json_int_t)(now + GS_TOKEN_TTL), "iat", (json_int_t)now,
	    "auth_time", (json_int_t)c->auth_time, "nonce", c->nonce,
	    "acr", c->very_high ? GS_ACR_VERY_HIGH : GS_ACR_SUBSTANTIAL,
	    "name", p->name, "email", p->email);
	char *payload = NULL;
	enum cr_err err = CR_ERR_NOMEM;

	if (claims != NULL && (!c->very_high || very_high_claims(gs, p, claims, now) == CR_OK))
		payload = json_dumps(claims, JSON_COMPACT);
	json_decref(claims);
	if (payload != NULL)
		err = gs_key_sign(gs->key, payload, strlen(payload), out);
	free(payload);
	return err;
}

/* A new access token for sub, remembered for GS_TOKEN_TTL; a very-high one also authorises one
 * signHash (csc.c). Lock held. */
static enum cr_err
access_token(struct gs *gs, const char *sub, int very_high, time_t now, char **out, uint8_t id[32])
{
	struct gs_token *t = calloc(1, sizeof(*t));
	enum cr_err err = CR_ERR_NOMEM;

	*out = NULL;
	if (t == NULL || (t->sub = strdup(sub)) == NULL)
		goto out;
	t->very_high = very_high;
	if ((err = gs_random_token(out)) != CR_OK)
		goto out;
	cr_sha256(*out, strlen(*out), id);
	if ((err = gs_table_put(gs->tokens, id, now + GS_TOKEN_TTL, t)) == CR_OK)
		t = NULL;
out:
	if (err != CR_OK) {
		free(*out);
		*out = NULL;
	}
	gs_token_free(t);
	return err;
}

/* The success response (RFC 6749 5.1); consumes nothing. */
static json_t *
token_response(const char *access, const char *idt)
{
	return json_pack("{s:s, s:s, s:i, s:s, s:s}", "access_token", access,
	    "token_type", "Bearer", "expires_in", GS_TOKEN_TTL, "id_token", idt,
	    "scope", "openid profile email");
}

/*
 * Redeems the code, lock held. On success *resp is the JSON to send;
 * otherwise *error and *desc say why and *status is the HTTP status.
 */
static void
redeem_locked(struct gs *gs, const struct redeem *q, json_t **resp, unsigned *status,
    const char **error, const char **desc)
{
	uint8_t id[32];
	time_t now = gs_now();
	struct gs_code *c;
	const struct gs_person *p;
	char *idt = NULL, *access = NULL;

	*resp = NULL;
	*status = MHD_HTTP_BAD_REQUEST;
	*error = "invalid_grant";
	cr_sha256(q->code, strlen(q->code), id);
	if ((c = gs_table_get(gs->codes, id, now)) == NULL) {
		*desc = "unknown or expired code";
		return;
	}
	if (c->used) {
		cr_warn(GS_LOG, "authorization code replayed: code and its token revoked");
		if (c->has_token)
			gs_table_remove(gs->tokens, c->token_id);
		gs_table_remove(gs->codes, id);
		*desc = "code already used";
		return;
	}
	c->used = 1;
	*desc = "code was issued to another client or redirect_uri";
	if (strcmp(c->client_id, gs->client_id) != 0 || strcmp(c->redirect_uri, q->redirect_uri) != 0)
		return;
	*desc = "PKCE verification failed";
	if (!pkce_ok(q->verifier, c->code_challenge))
		return;
	*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	*error = "server_error";
	*desc = "cannot issue tokens";
	if ((p = gs_people_find(&gs->people, c->sub)) == NULL ||
	    id_token(gs, c, p, now, &idt) != CR_OK ||
	    access_token(gs, p->sub, c->very_high, now, &access, c->token_id) != CR_OK)
		goto out;
	c->has_token = 1;
	if ((*resp = token_response(access, idt)) != NULL)
		*status = MHD_HTTP_OK;
out:
	free(idt);
	if (access != NULL) {
		sodium_memzero(access, strlen(access));
		free(access);
	}
}

/* Reads grant_type, code, redirect_uri, code_verifier; NULL or why not. */
static const char *
read_redeem(const struct cr_form *f, struct redeem *q, const char **error)
{
	const char *grant;

	*error = "invalid_request";
	if (gs_form_get(f, "grant_type", MAX_SHORT, &grant) != CR_OK)
		return "grant_type missing";
	if (strcmp(grant, "authorization_code") != 0) {
		*error = "unsupported_grant_type";
		return "only authorization_code is supported";
	}
	if (gs_form_get(f, "code", MAX_RANDOM, &q->code) != CR_OK)
		return "code missing or invalid";
	if (gs_form_get(f, "redirect_uri", MAX_URI, &q->redirect_uri) != CR_OK)
		return "redirect_uri missing or invalid";
	if (gs_form_get(f, "code_verifier", 128, &q->verifier) != CR_OK || !verifier_ok(q->verifier))
		return "code_verifier missing or invalid";
	return NULL;
}

static enum MHD_Result
token_with_form(struct gs_req *r, const struct cr_form *f)
{
	static const char *const no_cache[] = { "Pragma", "no-cache", NULL };
	struct redeem q = { 0 };
	const char *error, *desc;
	unsigned status;
	json_t *resp;
	enum cr_err err;

	if ((err = authenticate(r, f)) == CR_ERR_INVALID)
		return gs_reply_oauth_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "use exactly one client authentication method");
	if (err != CR_OK)
		return gs_reply_oauth_error(r, MHD_HTTP_UNAUTHORIZED, "invalid_client",
		    "client authentication failed");
	if ((desc = read_redeem(f, &q, &error)) != NULL)
		return gs_reply_oauth_error(r, MHD_HTTP_BAD_REQUEST, error, desc);
	pthread_mutex_lock(&r->gs->lock);
	redeem_locked(r->gs, &q, &resp, &status, &error, &desc);
	pthread_mutex_unlock(&r->gs->lock);
	if (resp == NULL)
		return gs_reply_oauth_error(r, status, error, desc);
	return gs_reply_json(r, MHD_HTTP_OK, resp, no_cache);
}

enum MHD_Result
gs_token(struct gs_req *r)
{
	struct cr_form f;
	enum MHD_Result ret;

	if (!gs_is_form(gs_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return gs_reply_oauth_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "application/x-www-form-urlencoded expected");
	if (cr_form_parse_rules(cr_buf_str(&r->body), r->body.len, &gs_form_rules, &f) != CR_OK)
		return gs_reply_oauth_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "malformed form body");
	ret = token_with_form(r, &f);
	cr_form_free(&f);
	return ret;
}

/* RFC 6750 3: a 401 with the reason in WWW-Authenticate. */
static enum MHD_Result
bearer_refused(struct gs_req *r, int had_token)
{
	const char *const h[] = {
		"WWW-Authenticate",
		had_token ? "Bearer realm=\"govsim\", error=\"invalid_token\"" : "Bearer realm=\"govsim\"",
		NULL,
	};
	struct cr_buf b;

	cr_buf_init(&b, 64);
	if (cr_buf_adds(&b, had_token ? "{\"error\":\"invalid_token\"}" : "{\"error\":\"invalid_request\"}")
	    != CR_OK)
		return MHD_NO;
	return gs_reply(r, MHD_HTTP_UNAUTHORIZED, "application/json", &b, h);
}

enum MHD_Result
gs_userinfo(struct gs_req *r)
{
	const char *auth = gs_header(r, MHD_HTTP_HEADER_AUTHORIZATION), *tok;
	const struct gs_person *p = NULL;
	struct gs_token *t;
	uint8_t id[32];

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return bearer_refused(r, 0);
	tok = auth + 7 + strspn(auth + 7, " ");
	if (*tok == '\0' || strlen(tok) > MAX_RANDOM || !gs_is_b64url(tok))
		return bearer_refused(r, 1);
	cr_sha256(tok, strlen(tok), id);
	pthread_mutex_lock(&r->gs->lock);
	/* People are read-only, so the pointer stays good after unlocking. */
	if ((t = gs_table_get(r->gs->tokens, id, gs_now())) != NULL)
		p = gs_people_find(&r->gs->people, t->sub);
	pthread_mutex_unlock(&r->gs->lock);
	if (p == NULL)
		return bearer_refused(r, 1);
	return gs_reply_json(r, MHD_HTTP_OK,
	    json_pack("{s:s, s:s, s:s}", "sub", p->sub, "name", p->name, "email", p->email), NULL);
}
