/*
 * OpenID Connect ID-token verification for the GovID relying party.
 *
 * Pure functions, no I/O: the JWKS document and the token arrive as bytes
 * fetched elsewhere (adapters/govid). Both are untrusted; each parser has a
 * size cap and is a fuzz target (fuzz/fuzz_idtoken.c).
 *
 * What is trusted: the caller's expectation (issuer, client id, nonce, clock).
 * What is not: everything in the JWKS and the token, including the token's
 * header. Only ES256 (P-256) and RS256 (>= 2048 bits) are accepted; the key is
 * chosen by kid from the JWKS, never from the token (jku/jwk/x5u are ignored).
 */
#ifndef CR_ADAPTERS_IDTOKEN_H
#define CR_ADAPTERS_IDTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/err.h"

#define CR_JWKS_MAX_LEN    (64u * 1024u) /* bytes of a JWKS document */
#define CR_IDTOKEN_MAX_LEN (16u * 1024u) /* bytes of a compact ID token */

struct cr_jwks; /* opaque: a parsed JSON Web Key Set */

/*
 * Parses a JWKS document of len bytes (need not be NUL-terminated; capped at
 * CR_JWKS_MAX_LEN). Keys are imported one by one with cjose_jwk_import_json,
 * from their public members only (private members are never imported).
 * A key is skipped when it has no kid (or a kid over 255 bytes, or a kid seen
 * before), when its kty is not EC on P-256 or RSA of 2048..8192 bits, when its
 * "use" is present and not "sig", when its "alg" is present and is neither
 * ES256 nor RS256, or when its key members (x, y, n, e) are not unpadded
 * base64url of a sane length (cjose would abort() on some of those).
 * On success *out owns a new set; free it with cr_jwks_free. On failure *out is
 * NULL and the result is CR_ERR_TOOBIG (over the cap), CR_ERR_INVALID (not a
 * JWKS, or no usable key) or CR_ERR_NOMEM.
 */
enum cr_err cr_jwks_parse(const char *json, size_t len, struct cr_jwks **out);

/* Frees a set from cr_jwks_parse. NULL is a no-op. */
void cr_jwks_free(struct cr_jwks *jwks);

/* Number of usable keys kept in the set (0 for NULL). */
size_t cr_jwks_count(const struct cr_jwks *jwks);

/* Whether the set holds a usable key with this kid (false for NULL). */
bool cr_jwks_has_kid(const struct cr_jwks *jwks, const char *kid);

/* What the relying party expects of the token; all pointers borrowed for the call. */
struct cr_idtoken_expect {
	const char *issuer;     /* exact match of iss (required) */
	const char *client_id;  /* must be in aud (string or array); if aud has several values,
	                           azp must equal client_id; azp, when present, must always equal it */
	const char *nonce;      /* exact match, compared in constant time (required, non-empty) */
	time_t now;             /* injected clock */
	int leeway;             /* seconds of clock skew allowed on exp/iat/nbf/auth_time (e.g. 60), >= 0 */
	int max_iat_age;        /* reject iat older than now - max_iat_age (e.g. 600), > 0 */
	const char *acr;        /* if not NULL: acr must equal this */
	int max_auth_age;       /* if > 0: auth_time required and now - auth_time <= max_auth_age */
};

/* Claims of a verified token, copied out (never truncated). */
struct cr_idtoken_claims {
	char sub[256], name[256], email[256], acr[64]; /* "" when name/email/acr are absent */
	char resident_number[64];                      /* very-high e-ID only; "" when absent */
	time_t iat, exp, auth_time;                    /* auth_time 0 when absent */
};

/*
 * Verifies a compact-serialised ID token of len bytes (need not be
 * NUL-terminated; capped at CR_IDTOKEN_MAX_LEN) against jwks and expect.
 *
 * Order: shape (three base64url segments), header (alg in {ES256, RS256};
 * "none", HS*, anything else and any "crit" are refused before any
 * verification call), kid present and found in jwks, key type matching alg,
 * signature length and signature (cjose_jws_verify), then the claims: iss,
 * aud/azp, exp (> now - leeway), iat (<= now + leeway and >= now - max_iat_age),
 * nbf if present (<= now + leeway), nonce, acr and auth_time when asked, sub
 * non-empty and <= 255 bytes. Times must be integral JSON numbers (a real such
 * as 1.7e9 is accepted, 1.5 is not). String claims must hold no control
 * characters; those that do not fit their field are refused, not truncated.
 *
 * On success returns CR_OK, fills *out, and sets *why to "ok". On failure
 * *out is zeroed, *why (when why is not NULL) is set to a static English reason
 * for logs ("bad signature", "alg not allowed", "unknown kid", ...), and the
 * result is:
 *   CR_ERR_NOTFOUND  the kid is not in jwks: the caller may refetch the JWKS once;
 *   CR_ERR_DENIED    well-formed but refused (signature, alg, claims, times, nonce);
 *   CR_ERR_INVALID   malformed token or payload, or bad arguments;
 *   CR_ERR_TOOBIG    token over CR_IDTOKEN_MAX_LEN;
 *   CR_ERR_NOMEM     allocation failed.
 */
enum cr_err cr_idtoken_verify(const char *token, size_t len, const struct cr_jwks *jwks,
    const struct cr_idtoken_expect *expect, struct cr_idtoken_claims *out, const char **why);

#endif
