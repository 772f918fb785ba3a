/*
 * GovID (公務通) OpenID Connect relying party: discovery, the authorization
 * request (code flow with PKCE S256, state, nonce) and the code exchange with
 * ID-token verification against the provider's JWKS.
 *
 * The handle caches the discovery document and the JWKS; it is shared by all
 * portal threads (a mutex guards the cache). The JWKS is fetched again when a
 * token names an unknown kid (key rotation), at most once per 30 seconds.
 */
#ifndef CR_ADAPTERS_GOVID_H
#define CR_ADAPTERS_GOVID_H

#include <stdbool.h>
#include <time.h>

#include "adapters/idtoken.h"
#include "util/buf.h"
#include "util/err.h"

struct cr_govid_config {
	const char *issuer;        /* e.g. http://127.0.0.1:8081 (no trailing slash) */
	const char *client_id;
	const char *client_secret; /* copied; wiped on free */
	const char *redirect_uri;  /* the portal's /auth/callback */
	const char *eid_redirect_uri; /* the portal's e-ID callback; NULL: no e-ID */
	long timeout_ms;           /* per HTTP call */
};

struct cr_govid;

enum cr_err cr_govid_new(const struct cr_govid_config *cfg, struct cr_govid **out);
void cr_govid_free(struct cr_govid *g); /* NULL is a no-op */

/* One authorization request; all strings borrowed for the call. */
struct cr_govid_authreq {
	const char *state;
	const char *nonce;
	const char *code_challenge; /* BASE64URL(SHA256(verifier)) */
	const char *acr_values;     /* NULL for a plain login */
	const char *prompt;         /* NULL or "login" */
	const char *login_hint;     /* NULL, or the expected subject (e-ID) */
	const char *binding_message; /* NULL, or what the phone shows is being approved (e-ID) */
	bool eid;                   /* the e-ID's request: back to the e-ID redirect URI */
};

/* Appends the provider's authorization URL for req to out (fetching discovery if needed). */
enum cr_err cr_govid_authorize_url(struct cr_govid *g, const struct cr_govid_authreq *req, struct cr_buf *out);

/*
 * Exchanges an authorization code at the token endpoint and verifies the ID
 * token (issuer, audience, nonce, times, signature). On failure *why says why,
 * for logs (a static string).
 * CR_ERR_REMOTE: provider unreachable or answering garbage; CR_ERR_DENIED:
 * provider refused the code (e.g. replayed) or the token failed verification.
 */
enum cr_err cr_govid_exchange_code(struct cr_govid *g, const char *code, const char *verifier, const char *nonce,
    time_t now, struct cr_idtoken_claims *out, const char **why);

/*
 * The very-high e-ID's exchange (docs/internals/eid.md): as cr_govid_exchange_code, and the token
 * must carry acr (exactly) and an auth_time at most max_auth_age seconds old. On CR_OK *id_token is
 * the ID token as received (evidence) and *access_token the bearer for the e-signature; the caller
 * wipes and frees both. Both NULL on failure.
 */
enum cr_err cr_govid_exchange_eid(struct cr_govid *g, const char *code, const char *verifier, const char *nonce,
    time_t now, const char *acr, int max_auth_age, struct cr_idtoken_claims *out, char **id_token,
    char **access_token, const char **why);

#endif
