/*
 * Internals shared by the endpoint files: oidc.c (routing, discovery, JWKS),
 * authorize.c (/authorize, /login) and token.c (/token, /userinfo).
 */
#ifndef GOVSIM_OIDC_H
#define GOVSIM_OIDC_H

#include "govsim.h"

/* Length caps of request parameters (bytes). */
#define MAX_CLIENT_ID    128
#define MAX_SECRET       512
#define MAX_URI          1024
#define MAX_STATE        512
#define MAX_NONCE        512
#define MAX_SCOPE        512
#define MAX_ACR          256
#define MAX_PROMPT       64
#define MAX_SHORT        32   /* response_type, code_challenge_method, grant_type */
#define MAX_RANDOM       128  /* our own random values (43 characters) */
#define MAX_SUB          256
#define MAX_BINDING      256  /* binding_message bytes (at most 64 characters) */
#define MAX_BINDING_CHARS 64

/* An /authorize request waiting for the user to pick an account. */
struct gs_pending {
	char *client_id;
	char *redirect_uri;
	char *state;
	char *nonce;
	char *code_challenge;
	int very_high;
};

/* An authorization code. Kept, marked used, after its first redemption so
 * that a replay is recognised and the token it bought revoked. */
struct gs_code {
	char *client_id;
	char *redirect_uri;
	char *nonce;
	char *code_challenge;
	char *sub;
	int very_high;
	time_t auth_time;
	int used;
	int has_token;
	uint8_t token_id[32];  /* SHA-256 of the access token it bought */
};

/* An access token, for /userinfo and (very-high only) the e-signature. */
struct gs_token {
	char *sub;
	int very_high;   /* bought by a very-high e-ID code: authorises one signHash */
	int sign_used;   /* its one signHash has been made */
};

/* A validated very-high authorization request (docs/internals/eid.md); all borrowed. */
struct gs_eid_request {
	const char *client_id;
	const char *redirect_uri;
	const char *state;
	const char *nonce;
	const char *code_challenge;
	const char *login_hint;       /* a known account with a resident number */
	const char *binding_message;  /* 1..64 characters */
};

void gs_pending_free(void *p);
void gs_code_free(void *p);
void gs_token_free(void *p);

/*
 * Builds base + '?' or '&' + name=value pairs (a NULL-terminated list of
 * pairs; a pair with a NULL value is skipped), percent-encoding the values.
 * *out owned by the caller.
 */
enum cr_err gs_build_url(const char *base, const char *const *pairs, char **out);
/* 1 if content type is application/x-www-form-urlencoded (parameters allowed). */
int gs_is_form(const char *ctype);
/* 1 if s is all base64url characters (A-Z a-z 0-9 - _). */
int gs_is_b64url(const char *s);

/* Sends the browser back to redirect_uri with error, error_description and state (any may be NULL
 * but error). */
enum MHD_Result gs_error_redirect(struct gs_req *r, const char *redirect_uri, const char *state,
    const char *error, const char *desc);
/*
 * Turns a consumed request into a stored authorization code for sub, authenticated at auth_time.
 * Moves p's client_id, nonce and code_challenge into the code (p keeps redirect_uri and state, and
 * is still the caller's to free). *code (for the redirect) owned by the caller.
 */
enum cr_err gs_code_issue(struct gs *gs, struct gs_pending *p, const char *sub, time_t auth_time,
    char **code);
/*
 * Starts a very-high e-ID for q (eid.c): stores it and answers with the QR code page. CR_OK when
 * answered (*ret the result); CR_ERR_TOOBIG when too many e-IDs are pending (nothing answered).
 */
enum cr_err gs_eid_begin(struct gs_req *r, const struct gs_eid_request *q, enum MHD_Result *ret);

enum MHD_Result gs_authorize(struct gs_req *r);
enum MHD_Result gs_login(struct gs_req *r);
enum MHD_Result gs_token(struct gs_req *r);
enum MHD_Result gs_userinfo(struct gs_req *r);

#endif
