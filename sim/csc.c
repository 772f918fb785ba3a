/*
 * The e-signature service of govsim (docs/internals/esign.md), modelled on the
 * CSC API v2: POST {issuer}/csc/v2/credentials/list, credentials/info and
 * signatures/signHash, JSON in and out, authorised by the access token of a
 * very-high e-ID login (one signHash per token, as a CSC SAD would be).
 *
 * signHash answers a detached CMS SignedData, CAdES-B-B, over the SHA-256 it
 * is given (the document never reaches GovID): signed attributes contentType,
 * messageDigest (= that hash), signingTime and signingCertificateV2.
 *
 * Keys: the test CA (testca.c) and one e-ID signing key per account with a
 * resident number, made at start and kept only in memory. Everything here is
 * read-only once the server runs (the failures make their certificates per
 * request), so no lock of its own; the one-signHash mark of a token lives in
 * gs->tokens under gs->lock. What it trusts: nothing from HTTP.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "oidc.h"
#include "testca.h"
#include "util/log.h"

#define CRED_PREFIX     "eid-sign-"
#define MAX_CRED        (sizeof(CRED_PREFIX) + MAX_SUB)
#define SHA256_OID      "2.16.840.1.101.3.4.2.1"
#define ECDSA_SHA256_OID "1.2.840.10045.4.3.2"
#define P256_OID        "1.2.840.10045.3.1.7"
#define CERT_DAYS       (2 * 365)
#define DAY             86400

/* One account's e-ID signing key and certificate (NULL: no resident number). */
struct signer {
	X509 *cert;
	EVP_PKEY *key;
};

struct gs_csc {
	X509 *ca;            /* the GovID test CA (govid-ca.pem) */
	EVP_PKEY *ca_key;
	X509 *rogue_ca;      /* another CA of the same name, in memory (csc_untrusted) */
	EVP_PKEY *rogue_key;
	size_t n;
	struct signer *v;    /* parallel to gs->people.v */
};

void
gs_csc_fini(struct gs *gs)
{
	struct gs_csc *c = gs->csc;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		X509_free(c->v[i].cert);
		EVP_PKEY_free(c->v[i].key);
	}
	free(c->v);
	X509_free(c->ca);
	EVP_PKEY_free(c->ca_key);
	X509_free(c->rogue_ca);
	EVP_PKEY_free(c->rogue_key);
	free(c);
	gs->csc = NULL;
}

enum cr_err
gs_csc_init(struct gs *gs, const char *data_dir)
{
	struct gs_csc *c = calloc(1, sizeof(*c));
	time_t now = gs_now();
	enum cr_err err;

	if (c == NULL)
		return CR_ERR_NOMEM;
	gs->csc = c;
	if ((c->v = calloc(gs->people.n, sizeof(*c->v))) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	c->n = gs->people.n;
	if ((err = gs_testca_open(data_dir, &c->ca, &c->ca_key)) != CR_OK ||
	    (err = gs_testca_new(&c->rogue_ca, &c->rogue_key)) != CR_OK)
		goto out;
	for (size_t i = 0; i < gs->people.n; i++) {
		const struct gs_person *p = &gs->people.v[i];

		if (p->id_number == NULL)
			continue;
		if ((err = gs_testca_issue(c->ca, c->ca_key, p->name, p->id_number, now - DAY,
		    now - DAY + (time_t)CERT_DAYS * DAY, &c->v[i].cert, &c->v[i].key)) != CR_OK)
			goto out;
	}
	cr_info(GS_LOG, "e-signature on: test CA %s/%s", data_dir, GS_TESTCA_CERT);
out:
	if (err != CR_OK)
		gs_csc_fini(gs);
	return err;
}

int
gs_csc_path(const char *path)
{
	return path != NULL && strncmp(path, "/csc/v2/", 8) == 0;
}

/* ---- answers ---- */

static enum MHD_Result
csc_error(struct gs_req *r, unsigned status, const char *error, const char *desc)
{
	static const char *const bearer[] = {
		"WWW-Authenticate", "Bearer realm=\"govsim\", error=\"invalid_token\"", NULL,
	};

	return gs_reply_json(r, status,
	    json_pack("{s:s, s:s}", "error", error, "error_description", desc),
	    status == MHD_HTTP_UNAUTHORIZED ? bearer : NULL);
}

/* Standard base64 of n bytes as a new JSON string, or NULL. */
static json_t *
b64_json(const unsigned char *p, size_t n)
{
	size_t sz = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(sz);
	json_t *j = NULL;

	if (s != NULL) {
		sodium_bin2base64(s, sz, p, n, sodium_base64_VARIANT_ORIGINAL);
		j = json_string(s);
	}
	free(s);
	return j;
}

/* The DER of x as base64 in a new JSON string, or NULL. */
static json_t *
cert_b64(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	json_t *j = n > 0 ? b64_json(der, (size_t)n) : NULL;

	OPENSSL_free(der);
	return j;
}

/* A name in RFC 2253 form as a new JSON string, or NULL. */
static json_t *
name_json(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	json_t *j = NULL;

	if (b != NULL && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) >= 0)
		j = json_stringn(data, (size_t)n);
	BIO_free(b);
	return j;
}

/* An ASN1_TIME as YYYYMMDDHHMMSSZ in a new JSON string, or NULL. */
static json_t *
time_json(const ASN1_TIME *t)
{
	struct tm tm;
	char s[32];

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(s, sizeof(s), "%Y%m%d%H%M%SZ", &tm) == 0)
		return NULL;
	return json_string(s);
}

static json_t *
serial_json(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	json_t *j = hex != NULL ? json_string(hex) : NULL;

	OPENSSL_free(hex);
	BN_free(bn);
	return j;
}

/* ---- the token and the body ---- */

/* The caller's account, from a live very-high access token; NULL (and *why) otherwise. */
static const struct gs_person *
token_person(struct gs_req *r, uint8_t id[32], const char **why)
{
	const char *auth = gs_header(r, MHD_HTTP_HEADER_AUTHORIZATION), *tok;
	const struct gs_person *p = NULL;
	struct gs_token *t;

	*why = "a Bearer access token is required";
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	tok = auth + 7 + strspn(auth + 7, " ");
	*why = "unknown or expired access token";
	if (*tok == '\0' || strlen(tok) > MAX_RANDOM || !gs_is_b64url(tok))
		return NULL;
	cr_sha256(tok, strlen(tok), id);
	pthread_mutex_lock(&r->gs->lock);
	if ((t = gs_table_get(r->gs->tokens, id, gs_now())) != NULL) {
		if (!t->very_high)
			*why = "the access token is not of a very-high e-ID login";
		else
			p = gs_people_find(&r->gs->people, t->sub);  /* people are read-only */
	}
	pthread_mutex_unlock(&r->gs->lock);
	return p;
}

/* Marks the token's one signHash used; 0 if it was used already (or has gone). */
static int
consume(struct gs *gs, const uint8_t id[32])
{
	struct gs_token *t;
	int ok = 0;

	pthread_mutex_lock(&gs->lock);
	if ((t = gs_table_get(gs->tokens, id, gs_now())) != NULL && !t->sign_used) {
		t->sign_used = 1;
		ok = 1;
	}
	pthread_mutex_unlock(&gs->lock);
	return ok;
}

static int
sign_used(struct gs *gs, const uint8_t id[32])
{
	struct gs_token *t;
	int used;

	pthread_mutex_lock(&gs->lock);
	used = (t = gs_table_get(gs->tokens, id, gs_now())) == NULL || t->sign_used;
	pthread_mutex_unlock(&gs->lock);
	return used;
}

static int
is_json(const char *ctype)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	return ctype != NULL && strncasecmp(ctype, want, n) == 0 &&
	    (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* The signer of account p (NULL when it has no resident number). */
static const struct signer *
signer_of(const struct gs *gs, const struct gs_person *p)
{
	size_t i = (size_t)(p - gs->people.v);

	return i < gs->csc->n && gs->csc->v[i].cert != NULL ? &gs->csc->v[i] : NULL;
}

/* 1 if the body's credentialID is p's: "eid-sign-" + sub. */
static int
own_credential(const struct gs_person *p, json_t *body)
{
	const char *id = json_string_value(json_object_get(body, "credentialID"));

	return id != NULL && strncmp(id, CRED_PREFIX, sizeof(CRED_PREFIX) - 1) == 0 &&
	    strcmp(id + sizeof(CRED_PREFIX) - 1, p->sub) == 0;
}

static json_t *
credential_id(const struct gs_person *p)
{
	return json_sprintf("%s%s", CRED_PREFIX, p->sub);
}

/* ---- credentials/list, credentials/info ---- */

static enum MHD_Result
list(struct gs_req *r, const struct gs_person *p)
{
	json_t *ids = json_array();

	if (ids != NULL && signer_of(r->gs, p) != NULL)
		json_array_append_new(ids, credential_id(p));
	return gs_reply_json(r, MHD_HTTP_OK, json_pack("{s:o}", "credentialIDs", ids), NULL);
}

static enum MHD_Result
info(struct gs_req *r, const struct gs_person *p, json_t *body)
{
	const struct signer *s = signer_of(r->gs, p);
	const char *which = json_string_value(json_object_get(body, "certificates"));
	json_t *ci = json_object_get(body, "certInfo");
	json_t *cert, *certs;

	if (s == NULL || !own_credential(p, body))
		return csc_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "credentialID is not the token's user's");
	if (which == NULL)
		which = "single";
	if ((strcmp(which, "none") != 0 && strcmp(which, "single") != 0 && strcmp(which, "chain") != 0) ||
	    (ci != NULL && !json_is_boolean(ci)))
		return csc_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "certificates must be none, single or chain; certInfo a boolean");
	certs = json_array();
	if (certs != NULL && strcmp(which, "none") != 0)
		json_array_append_new(certs, cert_b64(s->cert));
	if (certs != NULL && strcmp(which, "chain") == 0)
		json_array_append_new(certs, cert_b64(r->gs->csc->ca));
	cert = json_pack("{s:s, s:o}", "status", "valid", "certificates", certs);
	if (cert != NULL && json_is_true(ci)) {
		json_object_set_new(cert, "issuerDN", name_json(X509_get_issuer_name(s->cert)));
		json_object_set_new(cert, "serialNumber", serial_json(s->cert));
		json_object_set_new(cert, "subjectDN", name_json(X509_get_subject_name(s->cert)));
		json_object_set_new(cert, "validFrom", time_json(X509_get0_notBefore(s->cert)));
		json_object_set_new(cert, "validTo", time_json(X509_get0_notAfter(s->cert)));
	}
	return gs_reply_json(r, MHD_HTTP_OK, json_pack("{s:{s:s, s:[s], s:i, s:s}, s:o, s:s, s:s, s:i}",
	    "key", "status", "enabled", "algo", ECDSA_SHA256_OID, "len", 256, "curve", P256_OID,
	    "cert", cert, "authMode", "oauth2code", "SCAL", "2", "multisign", 1), NULL);
}

/* ---- signatures/signHash ---- */

/*
 * The detached CAdES-B-B SignedData over hash by cert/key, with ca among the certificates.
 * *der (OPENSSL_free) and *len on success.
 */
static enum cr_err
sign_cms(X509 *cert, EVP_PKEY *key, X509 *ca, const unsigned char hash[32], unsigned char **der,
    int *len)
{
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL,
	    CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
	CMS_SignerInfo *si = NULL;
	enum cr_err err = CR_ERR_CRYPTO;

	*der = NULL;
	if (cms == NULL)
		goto out;
	/* CMS_CADES adds signingCertificateV2; CMS_SignerInfo_sign adds signingTime. The content is
	 * never here, so contentType and messageDigest are set by hand before signing. */
	si = CMS_add1_signer(cms, cert, key, EVP_sha256(),
	    CMS_PARTIAL | CMS_CADES | CMS_NOSMIMECAP | CMS_BINARY);
	if (si == NULL ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	        OBJ_nid2obj(NID_pkcs7_data), -1) != 1 ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
	        hash, 32) != 1 ||
	    CMS_SignerInfo_sign(si) != 1 ||
	    CMS_add1_cert(cms, ca) != 1)
		goto out;
	if ((*len = i2d_CMS_ContentInfo(cms, der)) <= 0) {
		*der = NULL;
		goto out;
	}
	err = CR_OK;
out:
	if (err != CR_OK) {
		unsigned long e = ERR_get_error();
		char buf[256];

		ERR_error_string_n(e, buf, sizeof(buf));
		cr_error(GS_LOG, "signHash: CMS: %s", e != 0 ? buf : "failed");
		ERR_clear_error();
	}
	CMS_ContentInfo_free(cms);
	return err;
}

/* Reads the one 32-byte hash of a signHash body; NULL or why not. */
static const char *
read_hash(json_t *body, unsigned char hash[32])
{
	json_t *hashes = json_object_get(body, "hashes");
	const char *h, *alg = json_string_value(json_object_get(body, "hashAlgorithmOID"));
	const char *sig = json_string_value(json_object_get(body, "signAlgo"));
	size_t n = 0;

	if (!json_is_array(hashes) || json_array_size(hashes) != 1 ||
	    (h = json_string_value(json_array_get(hashes, 0))) == NULL)
		return "hashes must hold exactly one hash";
	if (alg == NULL || strcmp(alg, SHA256_OID) != 0)
		return "hashAlgorithmOID must be " SHA256_OID " (SHA-256)";
	if (sig == NULL || strcmp(sig, ECDSA_SHA256_OID) != 0)
		return "signAlgo must be " ECDSA_SHA256_OID " (ECDSA with SHA-256)";
	if (strlen(h) > 64 || sodium_base642bin(hash, 32, h, strlen(h), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n != 32)
		return "the hash is not the base64 of 32 bytes";
	return NULL;
}

/* Another account's signer than p's (another resident number), or NULL. */
static const struct signer *
other_signer(const struct gs *gs, const struct gs_person *p)
{
	for (size_t i = 0; i < gs->people.n; i++) {
		const struct gs_person *q = &gs->people.v[i];

		if (q->id_number != NULL && strcmp(q->id_number, p->id_number) != 0 &&
		    gs->csc->v[i].cert != NULL)
			return &gs->csc->v[i];
	}
	return NULL;
}

/* The one signature answer of base64 der[0..len). */
static enum MHD_Result
signatures(struct gs_req *r, const unsigned char *der, size_t len)
{
	return gs_reply_json(r, MHD_HTTP_OK,
	    json_pack("{s:[o]}", "signatures", b64_json(der, len)), NULL);
}

static enum MHD_Result
sign_hash(struct gs_req *r, const struct gs_person *p, const uint8_t token_id[32], json_t *body)
{
	static const unsigned char garbage[] = "govsim csc_garbage: not DER";
	struct gs *gs = r->gs;
	const struct signer *s = signer_of(gs, p), *other;
	X509 *cert, *ca, *made = NULL;          /* made, made_key: this request's own (freed here) */
	EVP_PKEY *key, *made_key = NULL;
	unsigned char hash[32], *der = NULL;
	const char *why;
	int len = 0, truncate = 0;
	enum MHD_Result ret;

	if (s == NULL || !own_credential(p, body))
		return csc_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "credentialID is not the token's user's");
	if ((why = read_hash(body, hash)) != NULL)
		return csc_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request", why);
	/* Unavailable: nothing signed, the token stays good for a retry. */
	if (gs_fault_take(&gs->faults, "csc_down"))
		return csc_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
		    "the e-signature service is unavailable");
	if (!consume(gs, token_id))
		return csc_error(r, MHD_HTTP_UNAUTHORIZED, "invalid_token",
		    "the access token has already authorised a signHash");
	if (gs_fault_take(&gs->faults, "csc_garbage"))
		return signatures(r, garbage, sizeof(garbage) - 1);
	cert = s->cert;
	key = s->key;
	ca = gs->csc->ca;
	if (gs_fault_take(&gs->faults, "csc_truncated")) {
		truncate = 1;
	} else if (gs_fault_take(&gs->faults, "csc_wrong_digest")) {
		SHA256(hash, sizeof(hash), hash);
	} else if (gs_fault_take(&gs->faults, "csc_untrusted")) {
		ca = gs->csc->rogue_ca;
		if (gs_testca_issue(ca, gs->csc->rogue_key, p->name, p->id_number, gs_now() - DAY,
		    gs_now() - DAY + (time_t)CERT_DAYS * DAY, &made, &made_key) != CR_OK)
			goto fail;
		cert = made;
		key = made_key;
	} else if (gs_fault_take(&gs->faults, "csc_other_person") &&
	    (other = other_signer(gs, p)) != NULL) {
		cert = other->cert;
		key = other->key;
	} else if (gs_fault_take(&gs->faults, "csc_expired")) {
		if (gs_testca_issue(ca, gs->csc->ca_key, p->name, p->id_number,
		    gs_now() - (time_t)(CERT_DAYS + 1) * DAY, gs_now() - DAY, &made, &made_key) != CR_OK)
			goto fail;
		cert = made;
		key = made_key;
	}
	if (sign_cms(cert, key, ca, hash, &der, &len) != CR_OK)
		goto fail;
	cr_info(GS_LOG, "signHash for %s", p->sub);
	ret = signatures(r, der, truncate ? (size_t)len / 2 : (size_t)len);
	goto out;
fail:
	ret = csc_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error", "cannot sign");
out:
	OPENSSL_free(der);
	X509_free(made);
	EVP_PKEY_free(made_key);
	return ret;
}

/* ---- routing ---- */

enum MHD_Result
gs_csc_route(struct gs_req *r)
{
	const char *const allow[] = { "Allow", "POST", NULL };
	const struct gs_person *p;
	const char *why;
	uint8_t token_id[32];
	json_t *body;
	enum MHD_Result ret;
	int op;

	if (strcmp(r->path, "/csc/v2/credentials/list") == 0)
		op = 0;
	else if (strcmp(r->path, "/csc/v2/credentials/info") == 0)
		op = 1;
	else if (strcmp(r->path, "/csc/v2/signatures/signHash") == 0)
		op = 2;
	else
		return gs_reply_text(r, MHD_HTTP_NOT_FOUND, "not found\n");
	if (strcmp(r->method, "POST") != 0)
		return gs_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL, allow);
	if ((p = token_person(r, token_id, &why)) == NULL)
		return csc_error(r, MHD_HTTP_UNAUTHORIZED, "invalid_token", why);
	if (op == 2 && sign_used(r->gs, token_id))
		return csc_error(r, MHD_HTTP_UNAUTHORIZED, "invalid_token",
		    "the access token has already authorised a signHash");
	if (!is_json(gs_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return csc_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "Content-Type application/json expected");
	body = json_loadb(cr_buf_str(&r->body), r->body.len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(body)) {
		json_decref(body);
		return csc_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request", "a JSON object expected");
	}
	ret = op == 0 ? list(r, p) : op == 1 ? info(r, p, body) : sign_hash(r, p, token_id, body);
	json_decref(body);
	return ret;
}
