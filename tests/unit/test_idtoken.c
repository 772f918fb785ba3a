/*
 * Unit tests of adapters/idtoken: JWKS parsing and ID-token verification.
 * Keys are generated here with cjose (EC P-256 and RSA-2048), the JWKS is
 * built from their public parts, and tokens are signed by a helper with a
 * chosen header, so each refusal is tested against an otherwise valid token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjose/cjose.h>
#include <jansson.h>

#include "adapters/idtoken.h"

#define NOW       ((time_t)1767225600) /* 2026-01-01T00:00:00Z */
#define ISS       "https://govid.example.mo"
#define CLIENT    "certrenew"
#define NONCE     "n-0S6_WzA2Mj"
#define ACR_HIGH  "urn:govid:loa:high"
#define ACR_VHIGH "urn:govid:loa:veryhigh"

static cjose_jwk_t *ec_key;    /* kid "ec-1", in the JWKS */
static cjose_jwk_t *rsa_key;   /* kid "rsa-1", in the JWKS */
static cjose_jwk_t *ec_other;  /* another P-256 key, not in the JWKS */
static cjose_jwk_t *hs_key;    /* an HMAC key */
static cjose_jwk_t *ec_p384;   /* unusable: wrong curve */
static cjose_jwk_t *rsa_small; /* unusable: 1024 bits */
static struct cr_jwks *jwks;

/* ---- helpers ---- */

/* The public JWK of key as a jansson object, with kid and use set when not NULL. */
static json_t *
public_jwk(const cjose_jwk_t *key, const char *kid, const char *use)
{
	cjose_err err;
	char *s = cjose_jwk_to_json(key, false, &err);
	json_t *j;

	assert_non_null(s);
	j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	if (kid != NULL)
		assert_int_equal(json_object_set_new(j, "kid", json_string(kid)), 0);
	else
		json_object_del(j, "kid");
	if (use != NULL)
		assert_int_equal(json_object_set_new(j, "use", json_string(use)), 0);
	return j;
}

/* Serialises {"keys": keys} (consumes keys); free() the result. */
static char *
jwks_doc(json_t *keys)
{
	json_t *doc = json_pack("{s:o}", "keys", keys);
	char *s;

	assert_non_null(doc);
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_non_null(s);
	return s;
}

/* Signs raw payload bytes with key under header {alg, kid}; free() the result. */
static char *
sign_raw(const cjose_jwk_t *key, const char *alg, const char *kid, const char *payload, size_t n)
{
	cjose_header_t *hdr;
	cjose_jws_t *jws;
	cjose_err err;
	const char *ser = NULL;
	char *tok;

	hdr = cjose_header_new(&err);
	assert_non_null(hdr);
	assert_true(cjose_header_set(hdr, CJOSE_HDR_ALG, alg, &err));
	if (kid != NULL)
		assert_true(cjose_header_set(hdr, CJOSE_HDR_KID, kid, &err));
	jws = cjose_jws_sign(key, hdr, (const uint8_t *)payload, n, &err);
	assert_non_null(jws);
	assert_true(cjose_jws_export(jws, &ser, &err));
	tok = strdup(ser);
	assert_non_null(tok);
	cjose_jws_release(jws);
	cjose_header_release(hdr);
	return tok;
}

/* Signs a claims object (consumed); free() the result. */
static char *
sign_claims(const cjose_jwk_t *key, const char *alg, const char *kid, json_t *claims)
{
	char *payload = json_dumps(claims, JSON_COMPACT);
	char *tok;

	assert_non_null(payload);
	json_decref(claims);
	tok = sign_raw(key, alg, kid, payload, strlen(payload));
	free(payload);
	return tok;
}

/* A claims set that passes default_expect(). */
static json_t *
good_claims(void)
{
	json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I}",
	    "iss", ISS, "aud", CLIENT, "exp", (json_int_t)(NOW + 300), "iat", (json_int_t)(NOW - 5),
	    "nonce", NONCE, "sub", "holder-0001", "name", "xxxx xexx WONG",
	    "email", "wong@example.mo", "acr", ACR_HIGH, "auth_time", (json_int_t)(NOW - 30));

	assert_non_null(c);
	return c;
}

static struct cr_idtoken_expect
default_expect(void)
{
	struct cr_idtoken_expect e = {
		.issuer = ISS, .client_id = CLIENT, .nonce = NONCE, .now = NOW,
		.leeway = 60, .max_iat_age = 600, .acr = NULL, .max_auth_age = 0,
	};
	return e;
}

static enum cr_err
verify_tok(const char *tok, const struct cr_idtoken_expect *e, struct cr_idtoken_claims *c,
    const char **why)
{
	return cr_idtoken_verify(tok, strlen(tok), jwks, e, c, why);
}

/* Signs claims (consumed) with the EC key and checks the refusal and its reason. */
static void
expect_refused_with(const cjose_jwk_t *key, const char *alg, const char *kid, json_t *claims,
    const struct cr_idtoken_expect *e, enum cr_err want, const char *want_why)
{
	struct cr_idtoken_claims c;
	const char *why = NULL;
	char *tok = sign_claims(key, alg, kid, claims);

	memset(&c, 0x55, sizeof(c));
	assert_int_equal(verify_tok(tok, e, &c, &why), want);
	assert_non_null(why);
	assert_string_equal(why, want_why);
	assert_string_equal(c.sub, ""); /* nothing leaks out of a refused token */
	assert_int_equal(c.iat, 0);
	free(tok);
}

static void
expect_refused(json_t *claims, const struct cr_idtoken_expect *e, enum cr_err want, const char *want_why)
{
	expect_refused_with(ec_key, "ES256", "ec-1", claims, e, want, want_why);
}

static void
expect_accepted(json_t *claims, const struct cr_idtoken_expect *e)
{
	struct cr_idtoken_claims c;
	const char *why = NULL;
	char *tok = sign_claims(ec_key, "ES256", "ec-1", claims);

	assert_int_equal(verify_tok(tok, e, &c, &why), CR_OK);
	assert_string_equal(why, "ok");
	free(tok);
}

/* Base64url of a string, for hand-built tokens; free() the result. */
static char *
b64u(const char *s)
{
	cjose_err err;
	char *out = NULL, *copy;
	size_t n = 0;

	assert_true(cjose_base64url_encode((const uint8_t *)s, strlen(s), &out, &n, &err));
	copy = strndup(out, n);
	assert_non_null(copy);
	cjose_get_dealloc()(out);
	return copy;
}

/* Replaces the character at i of a base64url token with another valid one. */
static void
flip_at(char *tok, size_t i)
{
	tok[i] = tok[i] == 'A' ? 'B' : 'A';
}

/* ---- fixtures ---- */

static int
group_setup(void **state)
{
	static const uint8_t e65537[] = {0x01, 0x00, 0x01};
	cjose_err err;
	json_t *keys;
	char *doc;

	(void)state;
	ec_key = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
	ec_other = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
	ec_p384 = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_384, &err);
	rsa_key = cjose_jwk_create_RSA_random(2048, e65537, sizeof(e65537), &err);
	rsa_small = cjose_jwk_create_RSA_random(1024, e65537, sizeof(e65537), &err);
	hs_key = cjose_jwk_create_oct_random(256, &err);
	if (!ec_key || !ec_other || !ec_p384 || !rsa_key || !rsa_small || !hs_key)
		return -1;

	keys = json_array();
	json_array_append_new(keys, public_jwk(ec_key, "ec-1", "sig"));
	json_array_append_new(keys, public_jwk(rsa_key, "rsa-1", NULL));
	doc = jwks_doc(keys);
	if (cr_jwks_parse(doc, strlen(doc), &jwks) != CR_OK)
		return -1;
	free(doc);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	cr_jwks_free(jwks);
	cjose_jwk_release(ec_key);
	cjose_jwk_release(ec_other);
	cjose_jwk_release(ec_p384);
	cjose_jwk_release(rsa_key);
	cjose_jwk_release(rsa_small);
	cjose_jwk_release(hs_key);
	return 0;
}

/* ---- JWKS ---- */

static void
test_jwks_valid(void **state)
{
	(void)state;
	assert_int_equal(cr_jwks_count(jwks), 2);
	assert_true(cr_jwks_has_kid(jwks, "ec-1"));
	assert_true(cr_jwks_has_kid(jwks, "rsa-1"));
	assert_false(cr_jwks_has_kid(jwks, "ec-2"));
	assert_false(cr_jwks_has_kid(jwks, "ec-"));
	assert_false(cr_jwks_has_kid(jwks, NULL));
	assert_false(cr_jwks_has_kid(NULL, "ec-1"));
	assert_int_equal(cr_jwks_count(NULL), 0);
	cr_jwks_free(NULL);
}

static void
test_jwks_unusable_skipped(void **state)
{
	struct cr_jwks *set = (struct cr_jwks *)1;
	json_t *keys = json_array(), *k;
	char *doc;

	(void)state;
	json_array_append_new(keys, public_jwk(ec_p384, "p384", "sig"));     /* wrong curve */
	json_array_append_new(keys, public_jwk(rsa_small, "rsa1024", "sig")); /* too small */
	json_array_append_new(keys, public_jwk(ec_other, NULL, "sig"));       /* no kid */
	json_array_append_new(keys, public_jwk(ec_other, "enc-1", "enc"));    /* not for signatures */
	json_array_append_new(keys, public_jwk(hs_key, "oct-1", "sig"));      /* symmetric */
	k = public_jwk(ec_other, "es384", "sig");                            /* alg for another curve */
	json_object_set_new(k, "alg", json_string("ES384"));
	json_array_append_new(keys, k);
	k = public_jwk(ec_other, NULL, "sig");                                /* kid not a string */
	json_object_set_new(k, "kid", json_integer(7));
	json_array_append_new(keys, k);
	k = public_jwk(ec_other, "broken", "sig");                           /* not a point */
	json_object_set_new(k, "x", json_string("AAAA"));
	json_array_append_new(keys, k);
	k = public_jwk(rsa_key, "padded", "sig");                            /* '=' inside n */
	json_object_set_new(k, "n", json_string("xv3Mfu-WN0cGG4gNj1xu5RB47bRc1mN0CHTAXE8MFnJdEJoj7r0iG8U2vEeSX_22YzXtu=3iVOYP0My4rgv7ORfBUIFgAzHC3E7Yeo3CO4"));
	json_array_append_new(keys, k);
	k = public_jwk(rsa_key, "padded-e", "sig");                          /* padded e */
	json_object_set_new(k, "e", json_string("AQAB===="));
	json_array_append_new(keys, k);
	k = public_jwk(ec_other, "short-x", "sig");                          /* x not full length */
	json_object_set_new(k, "x", json_string("AQAB"));
	json_array_append_new(keys, k);
	json_array_append_new(keys, json_string("not a key"));
	json_array_append_new(keys, public_jwk(ec_key, "good", "sig"));     /* the one usable key */
	json_array_append_new(keys, public_jwk(ec_other, "good", "sig"));   /* duplicate kid: first wins */
	doc = jwks_doc(keys);

	assert_int_equal(cr_jwks_parse(doc, strlen(doc), &set), CR_OK);
	assert_int_equal(cr_jwks_count(set), 1);
	assert_true(cr_jwks_has_kid(set, "good"));
	assert_false(cr_jwks_has_kid(set, "p384"));
	assert_false(cr_jwks_has_kid(set, "rsa1024"));
	assert_false(cr_jwks_has_kid(set, "enc-1"));
	assert_false(cr_jwks_has_kid(set, "oct-1"));
	assert_false(cr_jwks_has_kid(set, "es384"));
	assert_false(cr_jwks_has_kid(set, "broken"));
	assert_false(cr_jwks_has_kid(set, "padded"));
	assert_false(cr_jwks_has_kid(set, "padded-e"));
	assert_false(cr_jwks_has_kid(set, "short-x"));
	cr_jwks_free(set);
	free(doc);

	/* The same without the usable key: nothing left, refused. */
	keys = json_array();
	json_array_append_new(keys, public_jwk(ec_p384, "p384", "sig"));
	json_array_append_new(keys, public_jwk(rsa_small, "rsa1024", "sig"));
	json_array_append_new(keys, public_jwk(hs_key, "oct-1", NULL));
	doc = jwks_doc(keys);
	set = (struct cr_jwks *)1;
	assert_int_equal(cr_jwks_parse(doc, strlen(doc), &set), CR_ERR_INVALID);
	assert_null(set);
	free(doc);
}

static void
test_jwks_private_members_ignored(void **state)
{
	cjose_err err;
	struct cr_jwks *set = NULL;
	struct cr_idtoken_claims c;
	struct cr_idtoken_expect e = default_expect();
	char *priv = cjose_jwk_to_json(ec_key, true, &err), *doc, *tok;
	json_t *k;
	const char *why;

	(void)state;
	assert_non_null(priv);
	k = json_loads(priv, 0, NULL);
	free(priv);
	assert_non_null(k);
	assert_non_null(json_object_get(k, "d"));
	json_object_set_new(k, "kid", json_string("ec-1"));
	doc = jwks_doc(json_pack("[o]", k));
	assert_int_equal(cr_jwks_parse(doc, strlen(doc), &set), CR_OK);
	tok = sign_claims(ec_key, "ES256", "ec-1", good_claims());
	assert_int_equal(cr_idtoken_verify(tok, strlen(tok), set, &e, &c, &why), CR_OK);
	free(tok);
	free(doc);
	cr_jwks_free(set);
}

static void
test_jwks_not_json(void **state)
{
	static const char *const bad[] = {
		"not json", "[]", "{}", "{\"keys\":{}}", "{\"keys\":\"x\"}", "{\"keys\":[1,2]}",
		"{\"keys\":[{\"kty\":\"EC\",\"kid\":\"a\"}]}", "{\"keys\":[] ", "null", "\"keys\"",
		"{\"keys\":[],\"keys\":[]}",
	};
	struct cr_jwks *set;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set = (struct cr_jwks *)1;
		assert_int_equal(cr_jwks_parse(bad[i], strlen(bad[i]), &set), CR_ERR_INVALID);
		assert_null(set);
	}
	set = (struct cr_jwks *)1;
	assert_int_equal(cr_jwks_parse("", 0, &set), CR_ERR_INVALID);
	assert_null(set);
	assert_int_equal(cr_jwks_parse(NULL, 5, &set), CR_ERR_INVALID);
	assert_int_equal(cr_jwks_parse("{}", 2, NULL), CR_ERR_INVALID);
}

static void
test_jwks_empty_keys(void **state)
{
	const char *doc = "{\"keys\":[]}";
	struct cr_jwks *set = (struct cr_jwks *)1;

	(void)state;
	assert_int_equal(cr_jwks_parse(doc, strlen(doc), &set), CR_ERR_INVALID);
	assert_null(set);
}

static void
test_jwks_too_big(void **state)
{
	size_t n = CR_JWKS_MAX_LEN + 1;
	char *doc = malloc(n);
	struct cr_jwks *set = (struct cr_jwks *)1;

	(void)state;
	assert_non_null(doc);
	memset(doc, ' ', n);
	memcpy(doc, "{\"keys\":[]}", 11);
	assert_int_equal(cr_jwks_parse(doc, n, &set), CR_ERR_TOOBIG);
	assert_null(set);
	free(doc);
}

/* ---- valid tokens ---- */

static void
test_valid_es256(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	struct cr_idtoken_claims c;
	const char *why = NULL;
	char *tok = sign_claims(ec_key, "ES256", "ec-1", good_claims());

	(void)state;
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_OK);
	assert_string_equal(why, "ok");
	assert_string_equal(c.sub, "holder-0001");
	assert_string_equal(c.name, "xxxx xexx WONG");
	assert_string_equal(c.email, "wong@example.mo");
	assert_string_equal(c.acr, ACR_HIGH);
	assert_int_equal(c.iat, NOW - 5);
	assert_int_equal(c.exp, NOW + 300);
	assert_int_equal(c.auth_time, NOW - 30);
	/* why may be NULL. */
	assert_int_equal(cr_idtoken_verify(tok, strlen(tok), jwks, &e, &c, NULL), CR_OK);
	free(tok);
}

static void
test_valid_rs256(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	struct cr_idtoken_claims c;
	const char *why = NULL;
	json_t *cl = good_claims();
	char *tok;

	(void)state;
	json_object_del(cl, "name");
	json_object_del(cl, "email");
	json_object_del(cl, "auth_time");
	tok = sign_claims(rsa_key, "RS256", "rsa-1", cl);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_OK);
	assert_string_equal(why, "ok");
	assert_string_equal(c.sub, "holder-0001");
	assert_string_equal(c.name, "");
	assert_string_equal(c.email, "");
	assert_int_equal(c.auth_time, 0);
	free(tok);
}

static void
test_valid_edge_cases(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;
	char sub[256];

	(void)state;
	/* Integral reals are times too. */
	c = good_claims();
	json_object_set_new(c, "exp", json_real((double)(NOW + 300)));
	json_object_set_new(c, "iat", json_real((double)NOW));
	expect_accepted(c, &e);
	/* Within the leeway on every side. */
	c = good_claims();
	json_object_set_new(c, "exp", json_integer(NOW - 59));
	json_object_set_new(c, "iat", json_integer(NOW + 59));
	json_object_set_new(c, "nbf", json_integer(NOW + 59));
	expect_accepted(c, &e);
	/* A 255-byte sub fits. */
	memset(sub, 's', 255);
	sub[255] = '\0';
	c = good_claims();
	json_object_set_new(c, "sub", json_string(sub));
	expect_accepted(c, &e);
	/* aud as a one-element array needs no azp; several values with the right azp pass. */
	c = good_claims();
	json_object_set_new(c, "aud", json_pack("[s]", CLIENT));
	expect_accepted(c, &e);
	c = good_claims();
	json_object_set_new(c, "aud", json_pack("[s,s]", "other", CLIENT));
	json_object_set_new(c, "azp", json_string(CLIENT));
	expect_accepted(c, &e);
	/* The very-high step-up: acr and a fresh auth_time asked and present. */
	e.acr = ACR_VHIGH;
	e.max_auth_age = 120;
	c = good_claims();
	json_object_set_new(c, "acr", json_string(ACR_VHIGH));
	expect_accepted(c, &e);
}

/* ---- signatures and headers ---- */

static void
test_bad_signature_flipped(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	struct cr_idtoken_claims c;
	const char *why = NULL;
	char *tok;

	(void)state;
	tok = sign_claims(ec_key, "ES256", "ec-1", good_claims());
	flip_at(tok, strrchr(tok, '.') - tok + 10);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_DENIED);
	assert_string_equal(why, "bad signature");
	free(tok);

	tok = sign_claims(rsa_key, "RS256", "rsa-1", good_claims());
	flip_at(tok, strrchr(tok, '.') - tok + 100);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_DENIED);
	assert_string_equal(why, "bad signature");
	free(tok);

	/* A byte of the payload flipped breaks the signature too. */
	tok = sign_claims(ec_key, "ES256", "ec-1", good_claims());
	flip_at(tok, strchr(tok, '.') - tok + 5);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_DENIED);
	assert_string_equal(why, "bad signature");
	free(tok);
}

static void
test_bad_signature_other_key(void **state)
{
	struct cr_idtoken_expect e = default_expect();

	(void)state;
	expect_refused_with(ec_other, "ES256", "ec-1", good_claims(), &e, CR_ERR_DENIED, "bad signature");
}

static void
test_bad_signature_length(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	struct cr_idtoken_claims c;
	const char *why = NULL;
	char *tok = sign_claims(ec_key, "ES256", "ec-1", good_claims()), *longer;
	size_t n = strlen(tok);

	(void)state;
	/* 84 characters: 63 bytes. */
	tok[n - 2] = '\0';
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_DENIED);
	assert_string_equal(why, "bad signature");
	/* 88 characters: 66 bytes. */
	tok[n - 2] = 'A';
	longer = malloc(n + 3);
	assert_non_null(longer);
	snprintf(longer, n + 3, "%sAA", tok);
	assert_int_equal(verify_tok(longer, &e, &c, &why), CR_ERR_DENIED);
	assert_string_equal(why, "bad signature");
	free(longer);
	free(tok);
}

static void
test_alg_none(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	struct cr_idtoken_claims c;
	const char *why = NULL;
	json_t *cl = good_claims();
	char *payload = json_dumps(cl, JSON_COMPACT);
	char *h = b64u("{\"alg\":\"none\",\"kid\":\"ec-1\"}"), *p = b64u(payload);
	char tok[4096];

	(void)state;
	snprintf(tok, sizeof(tok), "%s.%s.", h, p);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_DENIED);
	assert_string_equal(why, "alg not allowed");
	assert_string_equal(c.sub, "");
	/* With a signature segment that is not empty, and with "None". */
	snprintf(tok, sizeof(tok), "%s.%s.AAAA", h, p);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_DENIED);
	assert_string_equal(why, "alg not allowed");
	free(h);
	h = b64u("{\"alg\":\"None\",\"kid\":\"ec-1\"}");
	snprintf(tok, sizeof(tok), "%s.%s.", h, p);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_DENIED);
	free(h);
	/* No alg at all, or a duplicated one. */
	h = b64u("{\"kid\":\"ec-1\"}");
	snprintf(tok, sizeof(tok), "%s.%s.AAAA", h, p);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_INVALID);
	free(h);
	h = b64u("{\"alg\":\"ES256\",\"alg\":\"none\",\"kid\":\"ec-1\"}");
	snprintf(tok, sizeof(tok), "%s.%s.AAAA", h, p);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_INVALID);
	free(h);
	free(p);
	free(payload);
	json_decref(cl);
}

static void
test_alg_hs256(void **state)
{
	struct cr_idtoken_expect e = default_expect();

	(void)state;
	expect_refused_with(hs_key, "HS256", "ec-1", good_claims(), &e, CR_ERR_DENIED, "alg not allowed");
	expect_refused_with(hs_key, "HS256", "rsa-1", good_claims(), &e, CR_ERR_DENIED, "alg not allowed");
	/* Other asymmetric algs are refused as well. */
	expect_refused_with(rsa_key, "PS256", "rsa-1", good_claims(), &e, CR_ERR_DENIED, "alg not allowed");
	expect_refused_with(rsa_key, "RS512", "rsa-1", good_claims(), &e, CR_ERR_DENIED, "alg not allowed");
}

static void
test_key_type_mismatch(void **state)
{
	struct cr_idtoken_expect e = default_expect();

	(void)state;
	expect_refused_with(rsa_key, "RS256", "ec-1", good_claims(), &e, CR_ERR_DENIED,
	    "key type does not match alg");
	expect_refused_with(ec_key, "ES256", "rsa-1", good_claims(), &e, CR_ERR_DENIED,
	    "key type does not match alg");
}

static void
test_unknown_kid(void **state)
{
	struct cr_idtoken_expect e = default_expect();

	(void)state;
	expect_refused_with(ec_other, "ES256", "ec-2", good_claims(), &e, CR_ERR_NOTFOUND, "unknown kid");
	expect_refused_with(ec_key, "ES256", NULL, good_claims(), &e, CR_ERR_INVALID, "missing kid");
}

static void
test_crit_refused(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	struct cr_idtoken_claims c;
	const char *why = NULL;
	char *h = b64u("{\"alg\":\"ES256\",\"kid\":\"ec-1\",\"crit\":[\"exp\"],\"exp\":1}");
	char *p = b64u("{}"), tok[512];

	(void)state;
	snprintf(tok, sizeof(tok), "%s.%s.%086d", h, p, 0);
	assert_int_equal(verify_tok(tok, &e, &c, &why), CR_ERR_DENIED);
	assert_string_equal(why, "crit header not supported");
	free(h);
	free(p);
}

/* ---- claims ---- */

static void
test_wrong_iss(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	c = good_claims();
	json_object_set_new(c, "iss", json_string(ISS "/evil"));
	expect_refused(c, &e, CR_ERR_DENIED, "wrong issuer");
	c = good_claims();
	json_object_set_new(c, "iss", json_string("https://govid.example.m"));
	expect_refused(c, &e, CR_ERR_DENIED, "wrong issuer");
	c = good_claims();
	json_object_del(c, "iss");
	expect_refused(c, &e, CR_ERR_INVALID, "missing iss");
	c = good_claims();
	json_object_set_new(c, "iss", json_pack("[s]", ISS));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed iss");
}

static void
test_wrong_aud(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	c = good_claims();
	json_object_set_new(c, "aud", json_string("other-client"));
	expect_refused(c, &e, CR_ERR_DENIED, "wrong audience");
	c = good_claims();
	json_object_set_new(c, "aud", json_string(CLIENT "x"));
	expect_refused(c, &e, CR_ERR_DENIED, "wrong audience");
	c = good_claims();
	json_object_set_new(c, "aud", json_array());
	expect_refused(c, &e, CR_ERR_DENIED, "wrong audience");
	c = good_claims();
	json_object_set_new(c, "aud", json_pack("[s,i]", CLIENT, 3));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed aud");
	c = good_claims();
	json_object_del(c, "aud");
	expect_refused(c, &e, CR_ERR_INVALID, "missing aud");
	/* azp, when present, must be this client even with a single audience. */
	c = good_claims();
	json_object_set_new(c, "azp", json_string("other-client"));
	expect_refused(c, &e, CR_ERR_DENIED, "wrong azp");
}

static void
test_aud_array_without_azp(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	c = good_claims();
	json_object_set_new(c, "aud", json_pack("[s,s]", CLIENT, "other-client"));
	expect_refused(c, &e, CR_ERR_DENIED, "azp missing with several audiences");
	c = good_claims();
	json_object_set_new(c, "aud", json_pack("[s,s]", CLIENT, "other-client"));
	json_object_set_new(c, "azp", json_string("other-client"));
	expect_refused(c, &e, CR_ERR_DENIED, "wrong azp");
}

static void
test_expired(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	c = good_claims();
	json_object_set_new(c, "exp", json_integer(NOW - 60)); /* exactly at the leeway */
	expect_refused(c, &e, CR_ERR_DENIED, "expired");
	c = good_claims();
	json_object_set_new(c, "exp", json_integer(NOW - 3600));
	expect_refused(c, &e, CR_ERR_DENIED, "expired");
	c = good_claims();
	json_object_del(c, "exp");
	expect_refused(c, &e, CR_ERR_INVALID, "missing exp");
	c = good_claims();
	json_object_set_new(c, "exp", json_string("1767225900"));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed exp");
	c = good_claims();
	json_object_set_new(c, "exp", json_real((double)NOW + 300.5));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed exp");
	c = good_claims();
	json_object_set_new(c, "exp", json_real(1e300));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed exp");
	c = good_claims();
	json_object_set_new(c, "exp", json_integer(-1));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed exp");
	c = good_claims();
	json_object_set_new(c, "exp", json_true());
	expect_refused(c, &e, CR_ERR_INVALID, "malformed exp");
}

static void
test_iat_future(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	c = good_claims();
	json_object_set_new(c, "iat", json_integer(NOW + 61));
	expect_refused(c, &e, CR_ERR_DENIED, "issued in the future");
	c = good_claims();
	json_object_set_new(c, "nbf", json_integer(NOW + 120));
	expect_refused(c, &e, CR_ERR_DENIED, "not yet valid");
}

static void
test_iat_too_old(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	c = good_claims();
	json_object_set_new(c, "iat", json_integer(NOW - 601));
	expect_refused(c, &e, CR_ERR_DENIED, "issued too long ago");
	c = good_claims();
	json_object_del(c, "iat");
	expect_refused(c, &e, CR_ERR_INVALID, "missing iat");
	c = good_claims();
	json_object_set_new(c, "iat", json_real((double)NOW - 0.25));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed iat");
}

static void
test_nonce_mismatch(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	c = good_claims();
	json_object_set_new(c, "nonce", json_string(NONCE "x"));
	expect_refused(c, &e, CR_ERR_DENIED, "nonce mismatch");
	c = good_claims();
	json_object_set_new(c, "nonce", json_string("n-0S6_WzA2Mk"));
	expect_refused(c, &e, CR_ERR_DENIED, "nonce mismatch");
	c = good_claims();
	json_object_set_new(c, "nonce", json_string(""));
	expect_refused(c, &e, CR_ERR_DENIED, "nonce mismatch");
	c = good_claims();
	json_object_del(c, "nonce");
	expect_refused(c, &e, CR_ERR_DENIED, "missing nonce");
}

static void
test_missing_sub(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	c = good_claims();
	json_object_del(c, "sub");
	expect_refused(c, &e, CR_ERR_INVALID, "missing sub");
	c = good_claims();
	json_object_set_new(c, "sub", json_string(""));
	expect_refused(c, &e, CR_ERR_INVALID, "missing sub");
	c = good_claims();
	json_object_set_new(c, "sub", json_integer(42));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed sub");
	c = good_claims();
	json_object_set_new(c, "sub", json_string("holder\n0001"));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed sub");
}

static void
test_long_sub(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	char big[300];
	json_t *c;

	(void)state;
	memset(big, 's', 256);
	big[256] = '\0';
	c = good_claims();
	json_object_set_new(c, "sub", json_string(big));
	expect_refused(c, &e, CR_ERR_INVALID, "sub too long");
	/* Other string claims are refused rather than truncated too. */
	c = good_claims();
	json_object_set_new(c, "name", json_string(big));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed or over-long name");
	c = good_claims();
	json_object_set_new(c, "email", json_string(big));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed or over-long email");
	big[64] = '\0';
	c = good_claims();
	json_object_set_new(c, "acr", json_string(big));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed or over-long acr");
}

static void
test_acr_lower(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	e.acr = ACR_VHIGH;
	expect_refused(good_claims(), &e, CR_ERR_DENIED, "acr not satisfied"); /* acr is ACR_HIGH */
	c = good_claims();
	json_object_del(c, "acr");
	expect_refused(c, &e, CR_ERR_DENIED, "acr not satisfied");
	c = good_claims();
	json_object_set_new(c, "acr", json_string(ACR_VHIGH "x"));
	expect_refused(c, &e, CR_ERR_DENIED, "acr not satisfied");
}

static void
test_auth_time_too_old(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	json_t *c;

	(void)state;
	e.max_auth_age = 120;
	c = good_claims();
	json_object_set_new(c, "auth_time", json_integer(NOW - 121));
	expect_refused(c, &e, CR_ERR_DENIED, "authentication too old");
	c = good_claims();
	json_object_del(c, "auth_time");
	expect_refused(c, &e, CR_ERR_DENIED, "auth_time missing");
	c = good_claims();
	json_object_set_new(c, "auth_time", json_integer(NOW + 3600));
	expect_refused(c, &e, CR_ERR_DENIED, "auth_time in the future");
	c = good_claims();
	json_object_set_new(c, "auth_time", json_string("yesterday"));
	expect_refused(c, &e, CR_ERR_INVALID, "malformed auth_time");
}

/* ---- garbage ---- */

static void
expect_garbage(const char *tok, size_t n, enum cr_err want)
{
	struct cr_idtoken_expect e = default_expect();
	struct cr_idtoken_claims c;
	const char *why = NULL;

	assert_int_equal(cr_idtoken_verify(tok, n, jwks, &e, &c, &why), want);
	assert_non_null(why);
	assert_string_equal(c.sub, "");
}

static void
test_garbage(void **state)
{
	struct cr_idtoken_expect e = default_expect();
	struct cr_idtoken_claims c;
	const char *why = NULL;
	char *good = sign_claims(ec_key, "ES256", "ec-1", good_claims()), *tok, *big;
	size_t n = strlen(good);

	(void)state;
	expect_garbage("", 0, CR_ERR_INVALID);
	expect_garbage("abcdef", 6, CR_ERR_INVALID);                 /* no dots */
	expect_garbage("..", 2, CR_ERR_INVALID);                     /* empty segments */
	expect_garbage("a.b.c.d", 7, CR_ERR_INVALID);                /* 3 dots */
	expect_garbage("!!!!.####.$$$$", 14, CR_ERR_INVALID);        /* bad base64 */
	expect_garbage("eyJ=.eyJ=.AAAA", 14, CR_ERR_INVALID);        /* padding */
	expect_garbage("e.e.e", 5, CR_ERR_INVALID);                  /* impossible length */
	expect_garbage("eyJhbGciOiJFUzI1NiJ9.e30.AAAA\n", 30, CR_ERR_INVALID); /* trailing newline */

	/* The good token with a fourth segment, a NUL inside, a stray character. */
	tok = malloc(n + 8);
	assert_non_null(tok);
	snprintf(tok, n + 8, "%s.AAAA", good);
	expect_garbage(tok, strlen(tok), CR_ERR_INVALID);
	memcpy(tok, good, n + 1);
	tok[10] = '\0';
	expect_garbage(tok, n, CR_ERR_INVALID);
	memcpy(tok, good, n + 1);
	tok[10] = '+';
	expect_garbage(tok, n, CR_ERR_INVALID);
	free(tok);
	/* A prefix of the good token (length given, not NUL-terminated) is not accepted. */
	expect_garbage(good, n - 1, CR_ERR_DENIED);
	assert_int_equal(cr_idtoken_verify(good, n, jwks, &e, &c, &why), CR_OK);

	/* Header that is not JSON, or JSON but not an object. */
	tok = b64u("not json");
	big = malloc(strlen(tok) + 128);
	assert_non_null(big);
	snprintf(big, strlen(tok) + 128, "%s.e30.AAAA", tok);
	expect_garbage(big, strlen(big), CR_ERR_INVALID);
	free(tok);
	free(big);

	/* Payloads that are signed but are not a JSON object. */
	tok = sign_raw(ec_key, "ES256", "ec-1", "hello", 5);
	expect_garbage(tok, strlen(tok), CR_ERR_INVALID);
	free(tok);
	tok = sign_raw(ec_key, "ES256", "ec-1", "[1,2]", 5);
	expect_garbage(tok, strlen(tok), CR_ERR_INVALID);
	free(tok);
	tok = sign_raw(ec_key, "ES256", "ec-1", "{\"sub\":\"a\",\"sub\":\"b\"}", 21);
	expect_garbage(tok, strlen(tok), CR_ERR_INVALID);
	free(tok);

	/* Huge token. */
	big = malloc(CR_IDTOKEN_MAX_LEN + 2);
	assert_non_null(big);
	memset(big, 'A', CR_IDTOKEN_MAX_LEN + 1);
	big[100] = big[200] = '.';
	big[CR_IDTOKEN_MAX_LEN + 1] = '\0';
	expect_garbage(big, CR_IDTOKEN_MAX_LEN + 1, CR_ERR_TOOBIG);
	free(big);

	/* Bad arguments. */
	assert_int_equal(cr_idtoken_verify(NULL, 3, jwks, &e, &c, &why), CR_ERR_INVALID);
	assert_int_equal(cr_idtoken_verify(good, n, NULL, &e, &c, &why), CR_ERR_INVALID);
	assert_int_equal(cr_idtoken_verify(good, n, jwks, NULL, &c, &why), CR_ERR_INVALID);
	assert_int_equal(cr_idtoken_verify(good, n, jwks, &e, NULL, &why), CR_ERR_INVALID);
	e.nonce = NULL;
	assert_int_equal(cr_idtoken_verify(good, n, jwks, &e, &c, &why), CR_ERR_INVALID);
	assert_string_equal(why, "bad arguments");
	free(good);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwks_valid),
		cmocka_unit_test(test_jwks_unusable_skipped),
		cmocka_unit_test(test_jwks_private_members_ignored),
		cmocka_unit_test(test_jwks_not_json),
		cmocka_unit_test(test_jwks_empty_keys),
		cmocka_unit_test(test_jwks_too_big),
		cmocka_unit_test(test_valid_es256),
		cmocka_unit_test(test_valid_rs256),
		cmocka_unit_test(test_valid_edge_cases),
		cmocka_unit_test(test_bad_signature_flipped),
		cmocka_unit_test(test_bad_signature_other_key),
		cmocka_unit_test(test_bad_signature_length),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_alg_hs256),
		cmocka_unit_test(test_key_type_mismatch),
		cmocka_unit_test(test_unknown_kid),
		cmocka_unit_test(test_crit_refused),
		cmocka_unit_test(test_wrong_iss),
		cmocka_unit_test(test_wrong_aud),
		cmocka_unit_test(test_aud_array_without_azp),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_iat_future),
		cmocka_unit_test(test_iat_too_old),
		cmocka_unit_test(test_nonce_mismatch),
		cmocka_unit_test(test_missing_sub),
		cmocka_unit_test(test_long_sub),
		cmocka_unit_test(test_acr_lower),
		cmocka_unit_test(test_auth_time_too_old),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
