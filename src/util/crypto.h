/*
 * Small wrappers over libsodium used across layers: random tokens, SHA-256,
 * HMAC, base64url, constant-time comparison.
 */
#ifndef CR_UTIL_CRYPTO_H
#define CR_UTIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define CR_SHA256_LEN 32
/* base64url without padding of n bytes, plus NUL. */
#define CR_B64URL_SIZE(n) (((n) * 4 + 2) / 3 + 1)

/* Initialises libsodium; call once from main before threads start. */
enum cr_err cr_crypto_init(void);
void cr_random(void *buf, size_t n);
void cr_sha256(const void *p, size_t n, unsigned char out[CR_SHA256_LEN]);
/* HMAC-SHA-256 with a 32-byte key. */
void cr_hmac_sha256(const unsigned char key[32], const void *msg, size_t n, unsigned char out[CR_SHA256_LEN]);
/* Encodes n bytes; out must hold CR_B64URL_SIZE(n) bytes. */
void cr_b64url_encode(const void *p, size_t n, char *out, size_t outlen);
/* Whether s[0..n) holds only base64 characters (RFC 4648: urlsafe "-_", else "+/"; no padding).
   libsodium 1.0.18's decoder alone takes some bytes >= 0x80 for base64 characters, and what is
   decoded comes from outside (cookies, ID tokens, state, a signing service's answers). */
bool cr_b64_chars_ok(const char *s, size_t n, bool urlsafe);
/* Decodes into out (outlen bytes); *n gets the length. CR_ERR_INVALID on bad input (checked with
   cr_b64_chars_ok first). */
enum cr_err cr_b64url_decode(const char *s, size_t slen, unsigned char *out, size_t outlen, size_t *n);
/* Constant-time equality of two strings (lengths compared first; they are not secret). */
bool cr_str_eq_ct(const char *a, const char *b);
/* A fresh random token: 32 random bytes, base64url (43 chars + NUL). */
#define CR_TOKEN_LEN 44
void cr_random_token(char out[CR_TOKEN_LEN]);

#endif
