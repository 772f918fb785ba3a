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

/* An access token, for /userinfo. */
struct gs_token {
	char *sub;
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

enum MHD_Result gs_authorize(struct gs_req *r);
enum MHD_Result gs_login(struct gs_req *r);
enum MHD_Result gs_token(struct gs_req *r);
enum MHD_Result gs_userinfo(struct gs_req *r);

#endif
