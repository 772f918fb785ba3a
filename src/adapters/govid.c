/*
 * GovID relying party; see govid.h.
 *
 * Discovery is fetched lazily (the provider may start after the portal) and
 * kept for an hour; its issuer must equal the configured one (OIDC Discovery
 * 4.3), so a swapped discovery document cannot redirect the token exchange.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "govid.h"
#include "httpc.h"
#include "util/log.h"

#define DOC_CAP (64u * 1024u)
#define DISCOVERY_TTL 3600
#define JWKS_REFETCH_MIN 30

struct cr_govid {
	char *issuer, *client_id, *client_secret, *redirect_uri, *eid_redirect_uri;
	long timeout_ms;
	pthread_mutex_t mu;
	/* Guarded by mu: */
	char *authorization_endpoint, *token_endpoint, *jwks_uri;
	time_t discovered_at;
	struct cr_jwks *jwks;
	time_t jwks_at;
	unsigned jwks_gen; /* bumps on every successful JWKS fetch */
};

enum cr_err
cr_govid_new(const struct cr_govid_config *cfg, struct cr_govid **out)
{
	struct cr_govid *g;

	*out = NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return CR_ERR_NOMEM;
	g->issuer = strdup(cfg->issuer);
	g->client_id = strdup(cfg->client_id);
	g->client_secret = strdup(cfg->client_secret);
	g->redirect_uri = strdup(cfg->redirect_uri);
	g->eid_redirect_uri = cfg->eid_redirect_uri != NULL ? strdup(cfg->eid_redirect_uri) : NULL;
	g->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
	pthread_mutex_init(&g->mu, NULL);
	if (!g->issuer || !g->client_id || !g->client_secret || !g->redirect_uri ||
	    (cfg->eid_redirect_uri != NULL && !g->eid_redirect_uri)) {
		cr_govid_free(g);
		return CR_ERR_NOMEM;
	}
	*out = g;
	return CR_OK;
}

void
cr_govid_free(struct cr_govid *g)
{
	if (g == NULL)
		return;
	if (g->client_secret != NULL) {
		sodium_memzero(g->client_secret, strlen(g->client_secret));
		free(g->client_secret);
	}
	free(g->issuer);
	free(g->client_id);
	free(g->redirect_uri);
	free(g->eid_redirect_uri);
	free(g->authorization_endpoint);
	free(g->token_endpoint);
	free(g->jwks_uri);
	cr_jwks_free(g->jwks);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

static const char *
json_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s != NULL && *s != '\0' ? s : NULL;
}

/* Fetches and checks the discovery document. Called with mu held. */
static enum cr_err
discover_locked(struct cr_govid *g, time_t now)
{
	struct cr_http_resp r;
	struct cr_buf url;
	json_t *doc = NULL;
	const char *iss, *az, *tok, *jw;
	enum cr_err err;

	if (g->token_endpoint != NULL && now - g->discovered_at < DISCOVERY_TTL)
		return CR_OK;
	cr_buf_init(&url, 2048);
	if ((err = cr_buf_printf(&url, "%s/.well-known/openid-configuration", g->issuer)) != CR_OK)
		return err;
	err = cr_http_get(cr_buf_str(&url), NULL, DOC_CAP, g->timeout_ms, &r);
	cr_buf_free(&url);
	if (err != CR_OK)
		return err == CR_ERR_TOOBIG ? CR_ERR_REMOTE : err;
	if (r.status != 200 || (doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL)) == NULL) {
		cr_warn("govid", "discovery answered HTTP %ld without a JSON document", r.status);
		err = CR_ERR_REMOTE;
		goto out;
	}
	iss = json_str(doc, "issuer");
	az = json_str(doc, "authorization_endpoint");
	tok = json_str(doc, "token_endpoint");
	jw = json_str(doc, "jwks_uri");
	if (iss == NULL || strcmp(iss, g->issuer) != 0 || !az || !tok || !jw) {
		cr_warn("govid", "discovery document has a wrong issuer or lacks endpoints");
		err = CR_ERR_REMOTE;
		goto out;
	}
	free(g->authorization_endpoint);
	free(g->token_endpoint);
	free(g->jwks_uri);
	g->authorization_endpoint = strdup(az);
	g->token_endpoint = strdup(tok);
	g->jwks_uri = strdup(jw);
	if (!g->authorization_endpoint || !g->token_endpoint || !g->jwks_uri) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	g->discovered_at = now;
	err = CR_OK;
out:
	json_decref(doc);
	cr_buf_free(&r.body);
	return err;
}

/* Fetches the JWKS. Called with mu held. */
static enum cr_err
fetch_jwks_locked(struct cr_govid *g, time_t now)
{
	struct cr_http_resp r;
	struct cr_jwks *set = NULL;
	enum cr_err err;

	if ((err = cr_http_get(g->jwks_uri, NULL, CR_JWKS_MAX_LEN, g->timeout_ms, &r)) != CR_OK)
		return err == CR_ERR_TOOBIG ? CR_ERR_REMOTE : err;
	g->jwks_at = now;
	if (r.status != 200 || cr_jwks_parse(r.body.data ? r.body.data : "", r.body.len, &set) != CR_OK) {
		cr_warn("govid", "JWKS answered HTTP %ld without a usable key set", r.status);
		cr_buf_free(&r.body);
		return CR_ERR_REMOTE;
	}
	cr_buf_free(&r.body);
	cr_jwks_free(g->jwks);
	g->jwks = set;
	g->jwks_gen++;
	return CR_OK;
}

enum cr_err
cr_govid_authorize_url(struct cr_govid *g, const struct cr_govid_authreq *req, struct cr_buf *out)
{
	enum cr_err err;
	struct {
		const char *k, *v;
	} params[] = {
		{"response_type", "code"},
		{"client_id", g->client_id},
		{"redirect_uri", req->eid ? g->eid_redirect_uri : g->redirect_uri},
		{"scope", "openid profile email"},
		{"state", req->state},
		{"nonce", req->nonce},
		{"code_challenge", req->code_challenge},
		{"code_challenge_method", "S256"},
		{"acr_values", req->acr_values},
		{"prompt", req->prompt},
		{"login_hint", req->login_hint},
		{"binding_message", req->binding_message},
	};

	if (req->eid && g->eid_redirect_uri == NULL)
		return CR_ERR_CONFIG;
	pthread_mutex_lock(&g->mu);
	err = discover_locked(g, time(NULL));
	if (err == CR_OK)
		err = cr_buf_adds(out, g->authorization_endpoint);
	pthread_mutex_unlock(&g->mu);
	if (err != CR_OK)
		return err;
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]) && err == CR_OK; i++) {
		if (params[i].v == NULL)
			continue;
		err = cr_buf_adds(out, strchr(cr_buf_str(out), '?') ? "&" : "?");
		if (err == CR_OK)
			err = cr_buf_printf(out, "%s=", params[i].k);
		if (err == CR_OK)
			err = cr_url_encode(out, params[i].v);
	}
	return err;
}

/* POSTs the code to the token endpoint; *id_token gets a malloc'd copy of the ID token. */
static enum cr_err
redeem(struct cr_govid *g, const char *token_endpoint, const char *redirect_uri, const char *code,
    const char *verifier, char **id_token, char **access_token, const char **why)
{
	struct cr_buf body;
	struct cr_http_resp r = {0};
	json_t *doc = NULL;
	const char *tok;
	enum cr_err err;

	*id_token = NULL;
	if (access_token != NULL)
		*access_token = NULL;
	cr_buf_init(&body, 8192);
	if ((err = cr_buf_adds(&body, "grant_type=authorization_code&code=")) != CR_OK ||
	    (err = cr_url_encode(&body, code)) != CR_OK || (err = cr_buf_adds(&body, "&redirect_uri=")) != CR_OK ||
	    (err = cr_url_encode(&body, redirect_uri)) != CR_OK ||
	    (err = cr_buf_adds(&body, "&code_verifier=")) != CR_OK || (err = cr_url_encode(&body, verifier)) != CR_OK) {
		*why = "request too large";
		goto out;
	}
	err = cr_http_post_form(token_endpoint, cr_buf_str(&body), g->client_id, g->client_secret, DOC_CAP,
	    g->timeout_ms, &r);
	if (err != CR_OK) {
		*why = "token endpoint unreachable";
		err = CR_ERR_REMOTE;
		goto out;
	}
	doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
	if (r.status == 400 || r.status == 401) {
		const char *e = doc ? json_str(doc, "error") : NULL;
		cr_warn("govid", "token endpoint refused the code: %s", e ? e : "(no error code)");
		*why = "provider refused the code";
		err = CR_ERR_DENIED;
		goto out;
	}
	if (r.status != 200 || doc == NULL || (tok = json_str(doc, "id_token")) == NULL) {
		cr_warn("govid", "token endpoint answered HTTP %ld without an ID token", r.status);
		*why = "token endpoint answered garbage";
		err = CR_ERR_REMOTE;
		goto out;
	}
	if ((*id_token = strdup(tok)) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	if (access_token != NULL) {
		const char *at = json_str(doc, "access_token");

		if (at == NULL || *at == '\0' || strlen(at) > 4096) {
			*why = "token endpoint answered no access token";
			err = CR_ERR_REMOTE;
		} else if ((*access_token = strdup(at)) == NULL)
			err = CR_ERR_NOMEM;
	}
out:
	if (err != CR_OK && *id_token != NULL) {
		sodium_memzero(*id_token, strlen(*id_token));
		free(*id_token);
		*id_token = NULL;
	}
	json_decref(doc);
	cr_buf_free_secret(&r.body);
	cr_buf_free_secret(&body);
	return err;
}

/* The code exchange of both logins: ex is the expectation (nonce, clock; acr and auth age for the
   e-ID); raw and access, when not NULL, receive the ID token as received and the access token. */
static enum cr_err
exchange(struct cr_govid *g, const char *redirect_uri, const char *code, const char *verifier,
    struct cr_idtoken_expect *ex, struct cr_idtoken_claims *out, char **raw, char **access, const char **why)
{
	char *token_endpoint = NULL, *id_token = NULL;
	time_t now = ex->now;
	enum cr_err err;

	*why = "";
	ex->issuer = g->issuer;
	ex->client_id = g->client_id;
	pthread_mutex_lock(&g->mu);
	err = discover_locked(g, now);
	if (err == CR_OK && (token_endpoint = strdup(g->token_endpoint)) == NULL)
		err = CR_ERR_NOMEM;
	pthread_mutex_unlock(&g->mu);
	if (err != CR_OK) {
		*why = "discovery failed";
		return err;
	}
	if ((err = redeem(g, token_endpoint, redirect_uri, code, verifier, &id_token, access, why)) != CR_OK)
		goto out;

	/* Verify under the lock: the key set may be swapped by another thread's refetch. */
	pthread_mutex_lock(&g->mu);
	if (g->jwks == NULL && (err = fetch_jwks_locked(g, now)) != CR_OK)
		*why = "JWKS unavailable";
	if (err == CR_OK) {
		err = cr_idtoken_verify(id_token, strlen(id_token), g->jwks, ex, out, why);
		if (err == CR_ERR_NOTFOUND && now - g->jwks_at >= JWKS_REFETCH_MIN &&
		    fetch_jwks_locked(g, now) == CR_OK)
			err = cr_idtoken_verify(id_token, strlen(id_token), g->jwks, ex, out, why);
		if (err != CR_OK && err != CR_ERR_REMOTE)
			err = CR_ERR_DENIED;
	}
	pthread_mutex_unlock(&g->mu);
out:
	if (err == CR_OK && raw != NULL) {
		*raw = id_token;
		id_token = NULL;
	}
	if (err != CR_OK && access != NULL && *access != NULL) {
		sodium_memzero(*access, strlen(*access));
		free(*access);
		*access = NULL;
	}
	if (id_token != NULL) {
		sodium_memzero(id_token, strlen(id_token));
		free(id_token);
	}
	free(token_endpoint);
	return err;
}

enum cr_err
cr_govid_exchange_code(struct cr_govid *g, const char *code, const char *verifier, const char *nonce, time_t now,
    struct cr_idtoken_claims *out, const char **why)
{
	struct cr_idtoken_expect ex = { .nonce = nonce, .now = now, .leeway = 60, .max_iat_age = 600 };

	return exchange(g, g->redirect_uri, code, verifier, &ex, out, NULL, NULL, why);
}

enum cr_err
cr_govid_exchange_eid(struct cr_govid *g, const char *code, const char *verifier, const char *nonce, time_t now,
    const char *acr, int max_auth_age, struct cr_idtoken_claims *out, char **id_token, char **access_token,
    const char **why)
{
	struct cr_idtoken_expect ex = {
		.nonce = nonce, .now = now, .leeway = 60, .max_iat_age = 600, .acr = acr, .max_auth_age = max_auth_age,
	};

	*id_token = *access_token = NULL;
	if (g->eid_redirect_uri == NULL) {
		*why = "no e-ID redirect URI configured";
		return CR_ERR_CONFIG;
	}
	return exchange(g, g->eid_redirect_uri, code, verifier, &ex, out, id_token, access_token, why);
}
