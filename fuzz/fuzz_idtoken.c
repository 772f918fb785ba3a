/*
 * libFuzzer target for adapters/idtoken: JWKS parsing and ID-token verification.
 *
 * Input: a JWKS document, a NUL byte, then a token. Without a NUL the whole
 * input is the token. When the JWKS part does not parse, a fixed built-in set
 * (an EC P-256 key "fuzz-ec" and an RSA-2048 key "fuzz-rsa") is used instead,
 * so that the verifier is reached by most inputs. The expectation is fixed;
 * the seed corpus in fuzz/corpus/idtoken/ holds tokens valid under it, signed
 * by the built-in keys or by a key of their own JWKS part.
 *
 * Checks beyond the sanitizers: a verified token has a non-empty, in-bounds
 * sub; a refused one leaves the claims zeroed and a reason set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/idtoken.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Public keys only; the private halves were used once to sign the seeds. */
static const char builtin_jwks[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"yXdh09RVSzpAcOBqVKxVvKUKXOECbStHC3E7Yeo3CO4\",\"y\""
    ":\"AkWQtjAHPobv8iKfg-kpYcyjmzCLFgjiwwbxm5HYAHM\",\"kid\":\"fuzz-ec\",\"use\":\"sig\"},{\"kty\":\"RSA\""
    ",\"e\":\"AQAB\",\"n\":\"xv3Mfu-WN0cGG4gNj1xu5RB47bRc1mN0CHTAXE8MFnJdEJoj7r0iG8U2vEeSX_22YzXtu63"
    "iVOYP0My4rgv7ORfBUIFgAzCVnIi5qYHXfm2mePmjPSsjs35srP-Zj3fwkXOXYh2qP7olpxso7BRHTIaxwzpiUbs"
    "DN5V6M8p4cmvQ3JiQ4oS1OwVFkhcmcwHo1_By2ZMzD4Ur8XdH2tfznU9SIPBfxqb7IYxDzJzpmEsSuO6vvbWqYXW"
    "JPaLBW03ssHbd1AWuPUT0ZxESp4ptJiAhgDjKOHoMLcoRp35C6Xe-XmAeCby8NQ7s-kBtGZ_me57gY-_a13N_Aqk"
    "46uIYdQ\",\"kid\":\"fuzz-rsa\"}]}";

static struct cr_jwks *builtin;

static const struct cr_idtoken_expect expect = {
	.issuer = "https://govid.example.mo",
	.client_id = "certrenew",
	.nonce = "fuzz-nonce",
	.now = 1767225600, /* 2026-01-01T00:00:00Z */
	.leeway = 60,
	.max_iat_age = 600,
	.acr = "urn:govid:loa:high",
	.max_auth_age = 300,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cr_idtoken_claims zero;
	struct cr_idtoken_claims claims;
	struct cr_jwks *set = NULL;
	const struct cr_jwks *use;
	const uint8_t *nul = memchr(data, 0, size);
	const char *jwks_part = "", *token = (const char *)data, *why = NULL;
	size_t jwks_len = 0, token_len = size;
	enum cr_err err;

	if (builtin == NULL &&
	    cr_jwks_parse(builtin_jwks, sizeof(builtin_jwks) - 1, &builtin) != CR_OK) {
		fprintf(stderr, "fuzz_idtoken: built-in JWKS does not parse\n");
		abort();
	}
	if (nul != NULL) {
		jwks_part = (const char *)data;
		jwks_len = (size_t)(nul - data);
		token = (const char *)nul + 1;
		token_len = size - jwks_len - 1;
	}
	if (cr_jwks_parse(jwks_part, jwks_len, &set) == CR_OK) {
		if (cr_jwks_count(set) == 0)
			abort();
		(void)cr_jwks_has_kid(set, "fuzz-ec");
		use = set;
	} else {
		if (set != NULL)
			abort();
		use = builtin;
	}

	err = cr_idtoken_verify(token, token_len, use, &expect, &claims, &why);
	if (why == NULL)
		abort();
	if (err == CR_OK) {
		if (claims.sub[0] == '\0' || memchr(claims.sub, '\0', sizeof(claims.sub)) == NULL ||
		    memchr(claims.name, '\0', sizeof(claims.name)) == NULL ||
		    memchr(claims.email, '\0', sizeof(claims.email)) == NULL ||
		    memchr(claims.acr, '\0', sizeof(claims.acr)) == NULL)
			abort();
	} else if (memcmp(&claims, &zero, sizeof(claims)) != 0) {
		abort();
	}

	cr_jwks_free(set);
	return 0;
}
