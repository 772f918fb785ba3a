/*
 * Routing and the static endpoints of the simulated GovID provider
 * (/healthz, discovery, JWKS), plus the entry types shared by the flow
 * endpoints in authorize.c and token.c.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "oidc.h"

static void
free_str(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

void
gs_pending_free(void *v)
{
	struct gs_pending *p = v;

	if (p == NULL)
		return;
	free_str(p->client_id);
	free_str(p->redirect_uri);
	free_str(p->state);
	free_str(p->nonce);
	free_str(p->code_challenge);
	free(p);
}

void
gs_code_free(void *v)
{
	struct gs_code *c = v;

	if (c == NULL)
		return;
	free_str(c->client_id);
	free_str(c->redirect_uri);
	free_str(c->nonce);
	free_str(c->code_challenge);
	free_str(c->sub);
	free(c);
}

void
gs_token_free(void *v)
{
	struct gs_token *t = v;

	if (t == NULL)
		return;
	free_str(t->sub);
	free(t);
}

enum cr_err
gs_oidc_init(struct gs *gs)
{
	gs->pending = gs_table_new(GS_TABLE_MAX, gs_pending_free);
	gs->codes = gs_table_new(GS_TABLE_MAX, gs_code_free);
	gs->tokens = gs_table_new(GS_TABLE_MAX, gs_token_free);
	if (gs->pending == NULL || gs->codes == NULL || gs->tokens == NULL) {
		gs_oidc_fini(gs);
		return CR_ERR_NOMEM;
	}
	return CR_OK;
}

void
gs_oidc_fini(struct gs *gs)
{
	gs_table_free(gs->pending);
	gs_table_free(gs->codes);
	gs_table_free(gs->tokens);
	gs->pending = gs->codes = gs->tokens = NULL;
}

enum cr_err
gs_build_url(const char *base, const char *const *pairs, char **out)
{
	struct cr_buf b;
	size_t bl = strlen(base);
	/* Keep a query the registered URI already has (RFC 6749 3.1.2). */
	const char *sep = strchr(base, '?') == NULL ? "?" :
	    (base[bl - 1] == '?' || base[bl - 1] == '&') ? "" : "&";
	enum cr_err err;

	cr_buf_init(&b, 16384);
	err = cr_buf_adds(&b, base);
	for (size_t i = 0; err == CR_OK && pairs[i] != NULL; i += 2) {
		if (pairs[i + 1] == NULL)
			continue;
		err = cr_buf_printf(&b, "%s%s=", sep, pairs[i]);
		if (err == CR_OK)
			err = gs_url_append(&b, pairs[i + 1]);
		sep = "&";
	}
	if (err != CR_OK) {
		cr_buf_free_secret(&b);
		return err;
	}
	*out = cr_buf_take(&b);
	return CR_OK;
}

int
gs_is_form(const char *ctype)
{
	static const char want[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(want) - 1;

	return ctype != NULL && strncasecmp(ctype, want, n) == 0 &&
	    (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

int
gs_is_b64url(const char *s)
{
	for (; *s != '\0'; s++) {
		char c = *s;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static enum MHD_Result
healthz(struct gs_req *r)
{
	return gs_reply_text(r, MHD_HTTP_OK, "ok");
}

/* The start page: govsim has no login of its own; it is reached from the portal's 「以公務通帳戶登入」. */
static enum MHD_Result
index_page(struct gs_req *r)
{
	static const char page[] =
	    "<!doctype html><html lang=\"zh-Hant\"><head><meta charset=\"utf-8\"><title>公務通 (govsim)</title></head>"
	    "<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto;line-height:1.6\">"
	    "<h1>公務通 GovID 模擬服務 (govsim)</h1>"
	    "<p>開發及測試用的模擬服務，並非真正的公務通。請由 certrenew 入口網站點選「以公務通帳戶登入」開始登入。</p>"
	    "<p>DEV/test simulator of the government's GovID OpenID provider. Start the login from the portal.</p>"
	    "<p><a href=\"/.well-known/openid-configuration\">OpenID configuration</a></p></body></html>";
	struct cr_buf b;

	cr_buf_init(&b, sizeof(page));
	if (cr_buf_add(&b, page, sizeof(page) - 1) != CR_OK)
		return MHD_NO;
	return gs_reply(r, MHD_HTTP_OK, "text/html; charset=utf-8", &b, NULL);
}

/* "{issuer}{path}" as a new JSON string. */
static json_t *
endpoint(const struct gs *gs, const char *path)
{
	struct cr_buf b;
	json_t *j = NULL;

	cr_buf_init(&b, 4096);
	if (cr_buf_printf(&b, "%s%s", gs->issuer, path) == CR_OK)
		j = json_string(cr_buf_str(&b));
	cr_buf_free(&b);
	return j;
}

static enum MHD_Result
discovery(struct gs_req *r)
{
	const struct gs *gs = r->gs;
	/* One line of format per line of arguments below. */
	json_t *d = json_pack("{"
	    "s:s, s:o, s:o, s:o, s:o,"
	    "s:[s], s:[s], s:[s], s:[s], s:[s], s:[s],"
	    "s:[s,s], s:[s,s,s],"
	    "s:[s,s,s,s,s,s,s,s,s,s,s,s],"
	    "s:[s,s], s:b}",
	    "issuer", gs->issuer,
	    "authorization_endpoint", endpoint(gs, "/authorize"),
	    "token_endpoint", endpoint(gs, "/token"),
	    "jwks_uri", endpoint(gs, "/jwks"),
	    "userinfo_endpoint", endpoint(gs, "/userinfo"),
	    "response_types_supported", "code",
	    "response_modes_supported", "query",
	    "grant_types_supported", "authorization_code",
	    "subject_types_supported", "public",
	    "id_token_signing_alg_values_supported", "ES256",
	    "code_challenge_methods_supported", "S256",
	    "token_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post",
	    "scopes_supported", "openid", "profile", "email",
	    "claims_supported", "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr",
	    "name", "email", "amr", "resident_number",
	    "acr_values_supported", GS_ACR_SUBSTANTIAL, GS_ACR_VERY_HIGH,
	    "claims_parameter_supported", 0);

	return gs_reply_json(r, MHD_HTTP_OK, d, NULL);
}

static enum MHD_Result
jwks(struct gs_req *r)
{
	struct cr_buf b;
	const char *doc = gs_key_jwks(r->gs->key);

	cr_buf_init(&b, strlen(doc));
	if (cr_buf_adds(&b, doc) != CR_OK)
		return MHD_NO;
	return gs_reply(r, MHD_HTTP_OK, "application/json", &b, NULL);
}

struct route {
	const char *path;
	const char *methods[2];  /* unused slots NULL */
	const char *allow;       /* the Allow header of a 405 */
	enum MHD_Result (*fn)(struct gs_req *);
};

static const struct route routes[] = {
	{ "/", { "GET", "HEAD" }, "GET, HEAD", index_page },
	{ "/healthz", { "GET", "HEAD" }, "GET, HEAD", healthz },
	{ "/.well-known/openid-configuration", { "GET", "HEAD" }, "GET, HEAD", discovery },
	{ "/jwks", { "GET", "HEAD" }, "GET, HEAD", jwks },
	{ "/authorize", { "GET", NULL }, "GET", gs_authorize },
	{ "/login", { "POST", NULL }, "POST", gs_login },
	{ "/token", { "POST", NULL }, "POST", gs_token },
	{ "/userinfo", { "GET", "POST" }, "GET, POST", gs_userinfo },
};

enum MHD_Result
gs_route(struct gs_req *r)
{
	if (gs_dsi_path(r->path))
		return gs_dsi_route(r);
	if (gs_eid_path(r->path))
		return gs_eid_route(r);
	if (gs_csc_path(r->path))
		return gs_csc_route(r);
	if (r->path != NULL && strcmp(r->path, "/sim/faults") == 0 && r->gs->faults.enabled)
		return gs_faults_route(r);
	for (size_t i = 0; r->path != NULL && i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];
		const char *const h[] = { "Allow", rt->allow, NULL };

		if (strcmp(r->path, rt->path) != 0)
			continue;
		for (size_t m = 0; m < 2; m++)
			if (rt->methods[m] != NULL && strcmp(r->method, rt->methods[m]) == 0)
				return rt->fn(r);
		return gs_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL, h);
	}
	return gs_reply_text(r, MHD_HTTP_NOT_FOUND, "not found\n");
}
