/* libsodium wrappers; see crypto.h. */
#include <string.h>

#include <sodium.h>

#include "crypto.h"

enum cr_err
cr_crypto_init(void)
{
	return sodium_init() < 0 ? CR_ERR_CRYPTO : CR_OK;
}

void
cr_random(void *buf, size_t n)
{
	randombytes_buf(buf, n);
}

void
cr_sha256(const void *p, size_t n, unsigned char out[CR_SHA256_LEN])
{
	crypto_hash_sha256(out, p, n);
}

void
cr_hmac_sha256(const unsigned char key[32], const void *msg, size_t n, unsigned char out[CR_SHA256_LEN])
{
	crypto_auth_hmacsha256(out, msg, n, key);
}

void
cr_b64url_encode(const void *p, size_t n, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool
cr_b64_chars_ok(const char *s, size_t n, bool urlsafe)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == (urlsafe ? '-' : '+') || c == (urlsafe ? '_' : '/')))
			return false;
	}
	return true;
}

enum cr_err
cr_b64url_decode(const char *s, size_t slen, unsigned char *out, size_t outlen, size_t *n)
{
	const char *end = NULL;

	if (!cr_b64_chars_ok(s, slen, true) || sodium_base642bin(out, outlen, s, slen, NULL, n, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + slen)
		return CR_ERR_INVALID;
	return CR_OK;
}

bool
cr_str_eq_ct(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL)
		return false;
	la = strlen(a);
	lb = strlen(b);
	return la == lb && sodium_memcmp(a, b, la) == 0;
}

void
cr_random_token(char out[CR_TOKEN_LEN])
{
	unsigned char r[32];

	randombytes_buf(r, sizeof(r));
	cr_b64url_encode(r, sizeof(r), out, CR_TOKEN_LEN);
	sodium_memzero(r, sizeof(r));
}
