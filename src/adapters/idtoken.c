/*
 * ID-token verification (see idtoken.h).
 *
 * cjose does the signature arithmetic only. Everything around it is ours,
 * because cjose is permissive: cjose_jws_import accepts alg "none", HS* would
 * be verified with whatever key it is handed, an ES256 signature of any length
 * is split in two halves, and no claim is looked at. So, before cjose sees the
 * token, we check its shape (three strict base64url segments), decode and
 * parse the header ourselves (duplicate members refused), allow only ES256 and
 * RS256, refuse "crit", pick the key by kid from our JWKS, require the key
 * type to match the alg, and require the signature length the key implies.
 * The payload that cjose verified is then parsed with jansson and every claim
 * checked against the caller's expectation.
 *
 * No I/O, no global state: safe to call from several threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <sodium.h>

#include "adapters/idtoken.h"
#include "util/crypto.h"

#define KID_MAX      255           /* bytes of a kid we keep */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192          /* bounds the cost of one verification */
#define ES256_SIG    64            /* r || s, 32 bytes each */
#define TIME_MAX     253402300799  /* 9999-12-31T23:59:59Z: larger times are refused */

enum key_kind { KEY_EC, KEY_RSA };

struct jwks_key {
	char kid[KID_MAX + 1];
	enum key_kind kind;
	size_t sig_len;   /* bytes of a signature made with this key */
	cjose_jwk_t *jwk; /* owned; public parts only */
};

struct cr_jwks {
	struct jwks_key *keys;
	size_t n;
};

/* ---- strict base64url (RFC 7515: no padding, canonical trailing bits; libsodium's decoder
   refuses anything else) ---- */

/* Bytes that n valid base64url characters decode to. */
static size_t
b64u_decoded_len(size_t n)
{
	return n / 4 * 3 + (n % 4 == 2 ? 1 : n % 4 == 3 ? 2 : 0);
}

/* Decodes non-empty canonical base64url into a new buffer that the caller frees;
 * NUL-terminated for convenience. CR_ERR_INVALID for anything else. */
static enum cr_err
b64u_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char *p;
	size_t cap = b64u_decoded_len(n) + 1;

	*out = NULL;
	*outlen = 0;
	if (n == 0)
		return CR_ERR_INVALID;
	if ((p = malloc(cap)) == NULL)
		return CR_ERR_NOMEM;
	if (cr_b64url_decode(s, n, p, cap, outlen) != CR_OK) {
		free(p);
		*outlen = 0;
		return CR_ERR_INVALID;
	}
	p[*outlen] = '\0';
	*out = p;
	return CR_OK;
}

/* Whether s[0..n) is non-empty canonical unpadded base64url. */
static bool
b64u_valid(const char *s, size_t n)
{
	unsigned char *p;
	size_t len;

	if (b64u_decode(s, n, &p, &len) != CR_OK)
		return false;
	free(p);
	return true;
}

/* ---- JSON helpers ---- */

/*
 * Reads the string member key of obj. Returns 0 when absent, 1 with *s and *n
 * set (borrowed from obj) when it is a string free of NUL and control
 * characters, -1 when present but something else.
 */
static int
get_str(const json_t *obj, const char *key, const char **s, size_t *n)
{
	const json_t *v = json_object_get(obj, key);
	const char *str;
	size_t len;

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return -1;
	str = json_string_value(v);
	len = json_string_length(v);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)str[i];
		if (ch < 0x20 || ch == 0x7f)
			return -1;
	}
	*s = str;
	*n = len;
	return 1;
}

/* Whether the string s of n bytes equals the C string want. */
static bool
str_eq(const char *s, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(s, want, n) == 0;
}

/*
 * Reads the time member key of obj: an integral JSON number (integer, or real
 * with no fractional part) in 0..TIME_MAX. Returns 0 when absent, 1 with *t
 * set, -1 when present but not such a number.
 */
static int
get_time(const json_t *obj, const char *key, time_t *t)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0 || i > TIME_MAX)
			return -1;
		*t = (time_t)i;
		return 1;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		/* The range test also refuses NaN and infinities. */
		if (!(d >= 0.0 && d <= (double)TIME_MAX))
			return -1;
		if ((double)(long long)d != d)
			return -1;
		*t = (time_t)(long long)d;
		return 1;
	}
	return -1;
}

/* Copies a string of n bytes into a field of size cap, refusing what does not fit. */
static bool
copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

/* ---- JWKS ---- */

/* Whether a base64url key member (EC x/y, RSA n/e) is acceptable input for cjose. */
static bool
material_ok(enum key_kind kind, const char *member, const char *s, size_t n)
{
	size_t bytes;

	if (kind == KEY_EC && strcmp(member, "crv") == 0)
		return true; /* already checked to be "P-256" */
	if (!b64u_valid(s, n))
		return false;
	bytes = b64u_decoded_len(n);
	if (kind == KEY_EC)
		return bytes == 32; /* RFC 7518 6.2.1.2: full-length coordinates */
	if (strcmp(member, "n") == 0)
		return bytes <= RSA_MAX_BITS / 8;
	return bytes <= 8; /* e */
}

/*
 * Imports one JWK object when usable (see cr_jwks_parse). Returns CR_OK with
 * *ok false for a skipped key, CR_ERR_NOMEM on allocation failure.
 */
static enum cr_err
import_key(json_t *k, struct cr_jwks *set, bool *ok)
{
	static const char *const ec_members[] = {"kty", "crv", "x", "y", NULL};
	static const char *const rsa_members[] = {"kty", "n", "e", NULL};
	const char *const *members;
	const char *kid, *kty, *use, *alg, *crv;
	size_t kidn, ktyn, usen, algn, crvn;
	struct jwks_key *slot;
	json_t *pub = NULL;
	cjose_jwk_t *jwk = NULL;
	cjose_err cerr;
	enum key_kind kind;
	enum cr_err err = CR_OK;
	size_t bits, sig_len;

	*ok = false;
	if (!json_is_object(k))
		goto out;
	if (get_str(k, "kid", &kid, &kidn) != 1 || kidn == 0 || kidn > KID_MAX)
		goto out;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->keys[i].kid, kid) == 0)
			goto out; /* first one wins; kids are not reused by rotation */
	switch (get_str(k, "use", &use, &usen)) {
	case 0:
		break;
	case 1:
		if (str_eq(use, usen, "sig"))
			break;
		/* FALLTHROUGH */
	default:
		goto out;
	}
	if (get_str(k, "kty", &kty, &ktyn) != 1)
		goto out;
	if (str_eq(kty, ktyn, "EC")) {
		if (get_str(k, "crv", &crv, &crvn) != 1 || !str_eq(crv, crvn, "P-256"))
			goto out;
		kind = KEY_EC;
		members = ec_members;
	} else if (str_eq(kty, ktyn, "RSA")) {
		kind = KEY_RSA;
		members = rsa_members;
	} else
		goto out;
	switch (get_str(k, "alg", &alg, &algn)) {
	case 0:
		break;
	case 1:
		if (kind == KEY_EC && str_eq(alg, algn, "ES256"))
			break;
		if (kind == KEY_RSA && str_eq(alg, algn, "RS256"))
			break;
		/* FALLTHROUGH */
	default:
		goto out;
	}

	/* Import from the public members only, so no private key is ever held.
	 * Key material must be strict base64url of a sane length: cjose's decoder
	 * abort()s on some malformed input (a '=' inside the value, for one). */
	if ((pub = json_object()) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; members[i] != NULL; i++) {
		json_t *v = json_object_get(k, members[i]);
		const char *m;
		size_t mn;

		if (get_str(k, members[i], &m, &mn) != 1)
			goto out;
		if (i > 0 && !material_ok(kind, members[i], m, mn))
			goto out;
		if (json_object_set(pub, members[i], v) != 0) {
			err = CR_ERR_NOMEM;
			goto out;
		}
	}
	memset(&cerr, 0, sizeof(cerr));
	if ((jwk = cjose_jwk_import_json(pub, &cerr)) == NULL) {
		if (cerr.code == CJOSE_ERR_NO_MEMORY)
			err = CR_ERR_NOMEM;
		goto out;
	}
	if (kind == KEY_EC) {
		if (cjose_jwk_get_kty(jwk, &cerr) != CJOSE_JWK_KTY_EC ||
		    cjose_jwk_EC_get_curve(jwk, &cerr) != CJOSE_JWK_EC_P_256)
			goto out;
		sig_len = ES256_SIG;
	} else {
		if (cjose_jwk_get_kty(jwk, &cerr) != CJOSE_JWK_KTY_RSA)
			goto out;
		bits = cjose_jwk_get_keysize(jwk, &cerr);
		if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
			goto out;
		sig_len = (bits + 7) / 8;
	}

	slot = &set->keys[set->n++];
	memcpy(slot->kid, kid, kidn);
	slot->kid[kidn] = '\0';
	slot->kind = kind;
	slot->sig_len = sig_len;
	slot->jwk = jwk;
	jwk = NULL;
	*ok = true;
out:
	cjose_jwk_release(jwk);
	json_decref(pub);
	return err;
}

enum cr_err
cr_jwks_parse(const char *json, size_t len, struct cr_jwks **out)
{
	struct cr_jwks *set = NULL;
	json_t *doc = NULL, *keys, *k;
	enum cr_err err = CR_ERR_INVALID;
	size_t i;
	bool ok;

	if (out == NULL)
		return CR_ERR_INVALID;
	*out = NULL;
	if (json == NULL || len == 0)
		goto out;
	if (len > CR_JWKS_MAX_LEN) {
		err = CR_ERR_TOOBIG;
		goto out;
	}
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL || !json_is_object(doc))
		goto out;
	keys = json_object_get(doc, "keys");
	if (keys == NULL || !json_is_array(keys) || json_array_size(keys) == 0)
		goto out;

	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (set->keys = calloc(json_array_size(keys), sizeof(*set->keys))) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(keys, i, k) {
		if ((err = import_key(k, set, &ok)) != CR_OK)
			goto out;
	}
	if (set->n == 0) {
		err = CR_ERR_INVALID;
		goto out;
	}
	*out = set;
	set = NULL;
	err = CR_OK;
out:
	cr_jwks_free(set);
	json_decref(doc);
	return err;
}

void
cr_jwks_free(struct cr_jwks *jwks)
{
	if (jwks == NULL)
		return;
	if (jwks->keys != NULL)
		for (size_t i = 0; i < jwks->n; i++)
			cjose_jwk_release(jwks->keys[i].jwk);
	free(jwks->keys);
	free(jwks);
}

size_t
cr_jwks_count(const struct cr_jwks *jwks)
{
	return jwks == NULL ? 0 : jwks->n;
}

static const struct jwks_key *
find_key(const struct cr_jwks *jwks, const char *kid, size_t kidn)
{
	for (size_t i = 0; i < jwks->n; i++)
		if (str_eq(kid, kidn, jwks->keys[i].kid))
			return &jwks->keys[i];
	return NULL;
}

bool
cr_jwks_has_kid(const struct cr_jwks *jwks, const char *kid)
{
	if (jwks == NULL || kid == NULL)
		return false;
	return find_key(jwks, kid, strlen(kid)) != NULL;
}

/* ---- claims ---- */

static bool
expect_ok(const struct cr_idtoken_expect *e)
{
	return e->issuer != NULL && e->issuer[0] != '\0' &&
	    e->client_id != NULL && e->client_id[0] != '\0' &&
	    e->nonce != NULL && e->nonce[0] != '\0' &&
	    e->leeway >= 0 && e->max_iat_age > 0;
}

/* Checks aud and azp against the client id. */
static enum cr_err
check_audience(const json_t *cl, const char *client_id, const char **why)
{
	const json_t *aud = json_object_get(cl, "aud"), *v;
	const char *s;
	size_t n, i, count = 0;
	bool found = false;

	if (aud == NULL) {
		*why = "missing aud";
		return CR_ERR_INVALID;
	}
	if (json_is_string(aud)) {
		count = 1;
		found = str_eq(json_string_value(aud), json_string_length(aud), client_id);
	} else if (json_is_array(aud)) {
		json_array_foreach(aud, i, v) {
			if (!json_is_string(v)) {
				*why = "malformed aud";
				return CR_ERR_INVALID;
			}
			count++;
			if (str_eq(json_string_value(v), json_string_length(v), client_id))
				found = true;
		}
	} else {
		*why = "malformed aud";
		return CR_ERR_INVALID;
	}
	if (!found) {
		*why = "wrong audience";
		return CR_ERR_DENIED;
	}
	switch (get_str(cl, "azp", &s, &n)) {
	case 0:
		if (count > 1) {
			*why = "azp missing with several audiences";
			return CR_ERR_DENIED;
		}
		break;
	case 1:
		if (!str_eq(s, n, client_id)) {
			*why = "wrong azp";
			return CR_ERR_DENIED;
		}
		break;
	default:
		*why = "malformed azp";
		return CR_ERR_INVALID;
	}
	return CR_OK;
}

/* Checks exp, iat, nbf and auth_time against the injected clock. */
static enum cr_err
check_times(const json_t *cl, const struct cr_idtoken_expect *e,
    struct cr_idtoken_claims *c, const char **why)
{
	time_t nbf, auth_time = 0;
	int r;

	if ((r = get_time(cl, "exp", &c->exp)) != 1) {
		*why = r == 0 ? "missing exp" : "malformed exp";
		return CR_ERR_INVALID;
	}
	if ((r = get_time(cl, "iat", &c->iat)) != 1) {
		*why = r == 0 ? "missing iat" : "malformed iat";
		return CR_ERR_INVALID;
	}
	/* Claims are at most TIME_MAX and leeway/ages are ints, so the sums below
	 * cannot overflow; the caller's clock stays on its own side. */
	if (c->exp + e->leeway <= e->now) {
		*why = "expired";
		return CR_ERR_DENIED;
	}
	if (c->iat - e->leeway > e->now) {
		*why = "issued in the future";
		return CR_ERR_DENIED;
	}
	if (c->iat + e->max_iat_age < e->now) {
		*why = "issued too long ago";
		return CR_ERR_DENIED;
	}
	if ((r = get_time(cl, "nbf", &nbf)) < 0) {
		*why = "malformed nbf";
		return CR_ERR_INVALID;
	}
	if (r == 1 && nbf - e->leeway > e->now) {
		*why = "not yet valid";
		return CR_ERR_DENIED;
	}
	if ((r = get_time(cl, "auth_time", &auth_time)) < 0) {
		*why = "malformed auth_time";
		return CR_ERR_INVALID;
	}
	if (e->max_auth_age > 0) {
		if (r == 0) {
			*why = "auth_time missing";
			return CR_ERR_DENIED;
		}
		if (auth_time - e->leeway > e->now) {
			*why = "auth_time in the future";
			return CR_ERR_DENIED;
		}
		if (auth_time + e->max_auth_age < e->now) {
			*why = "authentication too old";
			return CR_ERR_DENIED;
		}
	}
	c->auth_time = r == 1 ? auth_time : 0;
	return CR_OK;
}

/* Reads an optional string claim into a field; refuses what does not fit. */
static enum cr_err
copy_claim(const json_t *cl, const char *key, char *dst, size_t cap,
    const char *bad, const char **why)
{
	const char *s;
	size_t n;

	switch (get_str(cl, key, &s, &n)) {
	case 0:
		dst[0] = '\0';
		return CR_OK;
	case 1:
		if (copy_field(dst, cap, s, n))
			return CR_OK;
		/* FALLTHROUGH */
	default:
		*why = bad;
		return CR_ERR_INVALID;
	}
}

static enum cr_err
check_claims(const json_t *cl, const struct cr_idtoken_expect *e,
    struct cr_idtoken_claims *c, const char **why)
{
	const char *s;
	size_t n;
	enum cr_err err;
	int r;

	switch (get_str(cl, "iss", &s, &n)) {
	case 1:
		if (str_eq(s, n, e->issuer))
			break;
		*why = "wrong issuer";
		return CR_ERR_DENIED;
	case 0:
		*why = "missing iss";
		return CR_ERR_INVALID;
	default:
		*why = "malformed iss";
		return CR_ERR_INVALID;
	}
	if ((err = check_audience(cl, e->client_id, why)) != CR_OK)
		return err;
	if ((err = check_times(cl, e, c, why)) != CR_OK)
		return err;

	if ((r = get_str(cl, "nonce", &s, &n)) != 1) {
		*why = r == 0 ? "missing nonce" : "malformed nonce";
		return r == 0 ? CR_ERR_DENIED : CR_ERR_INVALID;
	}
	if (n != strlen(e->nonce) || sodium_memcmp(s, e->nonce, n) != 0) {
		*why = "nonce mismatch";
		return CR_ERR_DENIED;
	}

	if ((err = copy_claim(cl, "acr", c->acr, sizeof(c->acr), "malformed or over-long acr", why)) != CR_OK)
		return err;
	/* An absent acr ("") never satisfies a required one, even a required "". */
	if (e->acr != NULL && (c->acr[0] == '\0' || strcmp(c->acr, e->acr) != 0)) {
		*why = "acr not satisfied";
		return CR_ERR_DENIED;
	}

	if ((r = get_str(cl, "sub", &s, &n)) != 1 || n == 0) {
		*why = r < 0 ? "malformed sub" : "missing sub";
		return CR_ERR_INVALID;
	}
	if (!copy_field(c->sub, sizeof(c->sub), s, n)) {
		*why = "sub too long";
		return CR_ERR_INVALID;
	}
	if ((err = copy_claim(cl, "name", c->name, sizeof(c->name), "malformed or over-long name", why)) != CR_OK)
		return err;
	if ((err = copy_claim(cl, "resident_number", c->resident_number, sizeof(c->resident_number),
	    "malformed or over-long resident_number", why)) != CR_OK)
		return err;
	if ((err = copy_claim(cl, "email", c->email, sizeof(c->email), "malformed or over-long email", why)) != CR_OK)
		return err;
	return CR_OK;
}

/* ---- token ---- */

enum cr_err
cr_idtoken_verify(const char *token, size_t len, const struct cr_jwks *jwks,
    const struct cr_idtoken_expect *expect, struct cr_idtoken_claims *out, const char **why)
{
	struct cr_idtoken_claims c;
	const struct jwks_key *key;
	const char *reason = "malformed token", *alg, *kid, *calg;
	size_t dot[2], ndots = 0, algn, kidn, sign, ptlen;
	unsigned char *hdr_raw = NULL;
	size_t hdr_len;
	uint8_t *pt = NULL;
	json_t *hdr = NULL, *claims = NULL;
	cjose_jws_t *jws = NULL;
	cjose_err cerr;
	enum cr_err err = CR_ERR_INVALID;
	enum key_kind want;

	memset(&c, 0, sizeof(c));
	memset(&cerr, 0, sizeof(cerr));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (token == NULL || jwks == NULL || expect == NULL || out == NULL || !expect_ok(expect)) {
		reason = "bad arguments";
		goto out;
	}
	if (len == 0) {
		reason = "empty token";
		goto out;
	}
	if (len > CR_IDTOKEN_MAX_LEN) {
		err = CR_ERR_TOOBIG;
		reason = "token too long";
		goto out;
	}

	/* Shape: header.payload.signature, each strict non-empty base64url. */
	for (size_t i = 0; i < len; i++) {
		if (token[i] != '.')
			continue;
		if (ndots == 2)
			goto out;
		dot[ndots++] = i;
	}
	if (ndots != 2)
		goto out;
	if (!b64u_valid(token, dot[0]) ||
	    !b64u_valid(token + dot[0] + 1, dot[1] - dot[0] - 1))
		goto out;

	/* Header, parsed by us before cjose sees anything. */
	if ((err = b64u_decode(token, dot[0], &hdr_raw, &hdr_len)) != CR_OK)
		goto out;
	err = CR_ERR_INVALID;
	hdr = json_loadb((const char *)hdr_raw, hdr_len, JSON_REJECT_DUPLICATES, NULL);
	if (hdr == NULL || !json_is_object(hdr)) {
		reason = "malformed header";
		goto out;
	}
	if (get_str(hdr, "alg", &alg, &algn) != 1) {
		reason = "malformed alg";
		goto out;
	}
	if (str_eq(alg, algn, "ES256"))
		want = KEY_EC;
	else if (str_eq(alg, algn, "RS256"))
		want = KEY_RSA;
	else {
		err = CR_ERR_DENIED;
		reason = "alg not allowed";
		goto out;
	}
	if (json_object_get(hdr, "crit") != NULL) {
		err = CR_ERR_DENIED;
		reason = "crit header not supported";
		goto out;
	}
	if (get_str(hdr, "kid", &kid, &kidn) != 1 || kidn == 0) {
		reason = "missing kid";
		goto out;
	}
	if ((key = find_key(jwks, kid, kidn)) == NULL) {
		err = CR_ERR_NOTFOUND;
		reason = "unknown kid";
		goto out;
	}
	if (key->kind != want) {
		err = CR_ERR_DENIED;
		reason = "key type does not match alg";
		goto out;
	}

	/* Signature: canonical and exactly as long as this key's signatures. */
	sign = len - dot[1] - 1;
	if (!b64u_valid(token + dot[1] + 1, sign) || b64u_decoded_len(sign) != key->sig_len) {
		err = CR_ERR_DENIED;
		reason = "bad signature";
		goto out;
	}

	if ((jws = cjose_jws_import(token, len, &cerr)) == NULL) {
		err = cerr.code == CJOSE_ERR_NO_MEMORY ? CR_ERR_NOMEM : CR_ERR_INVALID;
		goto out;
	}
	/* Belt and braces: cjose must have read the same alg as we did. */
	calg = cjose_header_get(cjose_jws_get_protected(jws), CJOSE_HDR_ALG, &cerr);
	if (calg == NULL || !str_eq(alg, algn, calg)) {
		reason = "malformed header";
		goto out;
	}
	if (!cjose_jws_verify(jws, key->jwk, &cerr)) {
		err = cerr.code == CJOSE_ERR_NO_MEMORY ? CR_ERR_NOMEM : CR_ERR_DENIED;
		reason = "bad signature";
		goto out;
	}
	if (!cjose_jws_get_plaintext(jws, &pt, &ptlen, &cerr)) {
		reason = "malformed payload";
		goto out;
	}
	claims = json_loadb((const char *)pt, ptlen, JSON_REJECT_DUPLICATES, NULL);
	if (claims == NULL || !json_is_object(claims)) {
		reason = "payload is not a JSON object";
		goto out;
	}
	if ((err = check_claims(claims, expect, &c, &reason)) != CR_OK)
		goto out;

	*out = c;
	reason = "ok";
	err = CR_OK;
out:
	json_decref(claims);
	cjose_jws_release(jws); /* also frees pt */
	json_decref(hdr);
	free(hdr_raw);
	if (why != NULL)
		*why = reason;
	return err;
}
