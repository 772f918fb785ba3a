/*
 * Verifying GovID's e-signatures (see pki.h and docs/internals/esign.md): a
 * detached CMS SignedData, CAdES-B-B, whose content is only the SHA-256 of the
 * application PDF. So the signed attributes are verified with
 * CMS_SignerInfo_verify and messageDigest is compared with the expected hash
 * here; CMS_verify, which wants the content, is not used.
 *
 * The bytes are untrusted (they come from the signing service over the
 * network): parsed with a size cap, every attribute read as "exactly one,
 * with one value", certificates from the CMS and from credentials/info used
 * only as untrusted candidates; only the trust file is trusted. Each check's
 * result goes into the report, which becomes part of the sealed evidence.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"

#define DIGEST_LEN 32
#define MAX_SERIAL_OCTETS 32
#define ID_PREFIX "IDCMO-"

enum check {
	C_DER,
	C_DETACHED,
	C_ONE_SIGNER,
	C_CONTENT_TYPE,
	C_MESSAGE_DIGEST,
	C_SIGNATURE,
	C_CHAIN,
	C_NOT_EXPIRED,
	C_SIGNER_IDENTITY,
	C_SIGNING_TIME,
};

static const char *const check_names[CR_PKI_SIG_CHECKS] = {"der", "detached", "one_signer", "content_type",
    "message_digest", "signature", "chain", "not_expired", "signer_identity", "signing_time"};

static void
report_init(struct cr_pki_sig_report *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < CR_PKI_SIG_CHECKS; i++)
		r->checks[i].name = check_names[i];
}

/* passed and why from the checks. */
static void
report_finish(struct cr_pki_sig_report *r)
{
	r->passed = true;
	r->why[0] = '\0';
	for (size_t i = 0; i < CR_PKI_SIG_CHECKS; i++)
		if (!r->checks[i].ok) {
			r->passed = false;
			snprintf(r->why, sizeof(r->why), "%s", r->checks[i].name);
			break;
		}
}

static bool
tm_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_check(t) || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

/* Parses exactly len bytes as a CMS SignedData; NULL otherwise. */
static CMS_ContentInfo *
parse(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *ci;

	if (len == 0 || len > LONG_MAX)
		return NULL;
	ci = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (ci != NULL && (p != der + len || OBJ_obj2nid(CMS_get0_type(ci)) != NID_pkcs7_signed)) {
		CMS_ContentInfo_free(ci);
		ci = NULL;
	}
	return ci;
}

/* The value of the signed attribute nid when there is exactly one such attribute with exactly one
   value; NULL otherwise. Borrowed from si. */
static ASN1_TYPE *
one_attr(CMS_SignerInfo *si, int nid)
{
	int i = CMS_signed_get_attr_by_NID(si, nid, -1);
	X509_ATTRIBUTE *a;

	if (i < 0 || CMS_signed_get_attr_by_NID(si, nid, i) >= 0)
		return NULL;
	if ((a = CMS_signed_get_attr(si, i)) == NULL || X509_ATTRIBUTE_count(a) != 1)
		return NULL;
	return X509_ATTRIBUTE_get0_type(a, 0);
}

static bool
content_type_ok(CMS_ContentInfo *ci, CMS_SignerInfo *si)
{
	const ASN1_OBJECT *ect = CMS_get0_eContentType(ci);
	ASN1_TYPE *t = one_attr(si, NID_pkcs9_contentType);

	return ect != NULL && OBJ_obj2nid(ect) == NID_pkcs7_data && t != NULL && t->type == V_ASN1_OBJECT &&
	    OBJ_obj2nid(t->value.object) == NID_pkcs7_data;
}

static bool
message_digest_ok(CMS_SignerInfo *si, const unsigned char *digest)
{
	X509_ALGOR *dig = NULL;
	ASN1_TYPE *t = one_attr(si, NID_pkcs9_messageDigest);

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	if (dig == NULL || OBJ_obj2nid(dig->algorithm) != NID_sha256)
		return false;
	if (t == NULL || t->type != V_ASN1_OCTET_STRING || ASN1_STRING_length(t->value.octet_string) != DIGEST_LEN)
		return false;
	return CRYPTO_memcmp(ASN1_STRING_get0_data(t->value.octet_string), digest, DIGEST_LEN) == 0;
}

static bool
signing_time(CMS_SignerInfo *si, time_t *out)
{
	ASN1_TYPE *t = one_attr(si, NID_pkcs9_signingTime);

	if (t == NULL || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME))
		return false;
	return tm_time(t->value.asn1_string, out);
}

/* Parses exactly len bytes as one certificate; NULL otherwise. */
static X509 *
der_cert(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* The untrusted certificates: the CMS's, then the extras. *extras_ok is false when an extra does not
   parse (the chain check then fails: what credentials/info sent is part of what is judged). */
static STACK_OF(X509) *
candidates(CMS_ContentInfo *ci, const struct cr_pki_sig_expect *e, bool *extras_ok)
{
	STACK_OF(X509) *pool = CMS_get1_certs(ci);

	*extras_ok = true;
	if (pool == NULL && (pool = sk_X509_new_null()) == NULL)
		return NULL;
	for (size_t i = 0; i < e->n_extra; i++) {
		X509 *x = der_cert(e->extra_der[i], e->extra_len[i]);

		if (x == NULL) {
			*extras_ok = false;
			continue;
		}
		if (!sk_X509_push(pool, x)) {
			X509_free(x);
			sk_X509_pop_free(pool, X509_free);
			return NULL;
		}
	}
	return pool;
}

static X509 *
find_signer(CMS_SignerInfo *si, STACK_OF(X509) *pool)
{
	for (int i = 0; i < sk_X509_num(pool); i++)
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(pool, i)) == 0)
			return sk_X509_value(pool, i);
	return NULL;
}

/* signingCertificateV2 (required; a v1 attribute, when also present, must agree) names signer. */
static bool
ess_ok(CMS_SignerInfo *si, X509 *signer, STACK_OF(X509) *pool)
{
	ASN1_TYPE *t2 = one_attr(si, NID_id_smime_aa_signingCertificateV2);
	ASN1_TYPE *t1 = one_attr(si, NID_id_smime_aa_signingCertificate);
	ESS_SIGNING_CERT_V2 *v2 = NULL;
	ESS_SIGNING_CERT *v1 = NULL;
	STACK_OF(X509) *chain = NULL;
	const unsigned char *p;
	bool ok = false;

	if (t2 == NULL || t2->type != V_ASN1_SEQUENCE)
		goto out;
	p = ASN1_STRING_get0_data(t2->value.sequence);
	if ((v2 = d2i_ESS_SIGNING_CERT_V2(NULL, &p, ASN1_STRING_length(t2->value.sequence))) == NULL ||
	    p != ASN1_STRING_get0_data(t2->value.sequence) + ASN1_STRING_length(t2->value.sequence))
		goto out;
	if (CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificate, -1) >= 0) {
		if (t1 == NULL || t1->type != V_ASN1_SEQUENCE)
			goto out;
		p = ASN1_STRING_get0_data(t1->value.sequence);
		if ((v1 = d2i_ESS_SIGNING_CERT(NULL, &p, ASN1_STRING_length(t1->value.sequence))) == NULL ||
		    p != ASN1_STRING_get0_data(t1->value.sequence) + ASN1_STRING_length(t1->value.sequence))
			goto out;
	}
	/* The first certificate ID must be the signer's, the others anywhere in the chain. */
	if ((chain = sk_X509_new_null()) == NULL || !sk_X509_push(chain, signer))
		goto out;
	for (int i = 0; i < sk_X509_num(pool); i++)
		if (sk_X509_value(pool, i) != signer && !sk_X509_push(chain, sk_X509_value(pool, i)))
			goto out;
	ok = OSSL_ESS_check_signing_certs(v1, v2, chain, 1) > 0;
out:
	sk_X509_free(chain); /* borrowed certificates */
	ESS_SIGNING_CERT_free(v1);
	ESS_SIGNING_CERT_V2_free(v2);
	return ok;
}

/* The signer certificate's own validity is the not_expired check (at now and at the signing time);
   the chain check leaves it out so that an expired certificate is reported as such. */
static int
defer_leaf_time(int ok, X509_STORE_CTX *ctx)
{
	int e = X509_STORE_CTX_get_error(ctx);

	if (!ok && X509_STORE_CTX_get_error_depth(ctx) == 0 &&
	    (e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID))
		return 1;
	return ok;
}

static bool
chain_ok(X509_STORE *store, X509 *signer, STACK_OF(X509) *pool, time_t now)
{
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	uint32_t flags = X509_get_extension_flags(signer);
	bool ok = false;

	if ((flags & EXFLAG_CA) || !(flags & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(signer) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
		return false;
	if ((ctx = X509_STORE_CTX_new()) == NULL || !X509_STORE_CTX_init(ctx, store, signer, pool))
		goto out;
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_time(param, now);
	if (!X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY))
		goto out;
	X509_STORE_CTX_set_verify_cb(ctx, defer_leaf_time);
	ok = X509_verify_cert(ctx) == 1;
out:
	X509_STORE_CTX_free(ctx);
	return ok;
}

static bool
valid_at(time_t not_before, time_t not_after, time_t t)
{
	return not_before <= t && t <= not_after;
}

static bool
identity_ok(X509 *signer, const char *resident_number)
{
	const X509_NAME *subj = X509_get_subject_name(signer);
	int i = X509_NAME_get_index_by_NID(subj, NID_serialNumber, -1);
	const ASN1_STRING *s;
	size_t plen = strlen(ID_PREFIX), rlen = strlen(resident_number);

	if (i < 0 || X509_NAME_get_index_by_NID(subj, NID_serialNumber, i) >= 0)
		return false;
	if ((s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i))) == NULL ||
	    (size_t)ASN1_STRING_length(s) != plen + rlen)
		return false;
	return memcmp(ASN1_STRING_get0_data(s), ID_PREFIX, plen) == 0 &&
	    memcmp(ASN1_STRING_get0_data(s) + plen, resident_number, rlen) == 0;
}

/* Subject and serial of the signer into the report (both stay "" when unreadable). */
static void
describe(X509 *x, struct cr_pki_sig_report *r)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	BIO *bio = BIO_new(BIO_s_mem());
	BIGNUM *bn = NULL;
	char *hex = NULL;

	if (bio != NULL && X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		int n = BIO_read(bio, r->signer_subject, (int)sizeof(r->signer_subject) - 1);

		r->signer_subject[n > 0 ? n : 0] = '\0';
	}
	BIO_free(bio);
	if (sn != NULL && ASN1_STRING_length(sn) > 0 && ASN1_STRING_length(sn) <= MAX_SERIAL_OCTETS &&
	    (bn = ASN1_INTEGER_to_BN(sn, NULL)) != NULL && (hex = BN_bn2hex(bn)) != NULL &&
	    strlen(hex) < sizeof(r->signer_serial_hex))
		for (size_t i = 0; hex[i] != '\0'; i++)
			r->signer_serial_hex[i] = (char)((hex[i] >= 'A' && hex[i] <= 'F') ? hex[i] + 32 : hex[i]);
	OPENSSL_free(hex);
	BN_free(bn);
}

static enum cr_err
load_trust(const char *file, X509_STORE **out)
{
	X509_STORE *st = X509_STORE_new();

	*out = NULL;
	if (st == NULL)
		return CR_ERR_NOMEM;
	if (X509_STORE_load_file(st, file) != 1 || sk_X509_OBJECT_num(X509_STORE_get0_objects(st)) == 0) {
		X509_STORE_free(st);
		return CR_ERR_CONFIG;
	}
	*out = st;
	return CR_OK;
}

enum cr_err
cr_pki_cms_verify(const unsigned char *cms, size_t len, const struct cr_pki_sig_expect *e,
    struct cr_pki_sig_report *r)
{
	CMS_ContentInfo *ci = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *pool = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	CMS_SignerInfo *si;
	X509 *signer;
	time_t nb = 0, na = 0;
	bool have_time, extras_ok, dates;
	enum cr_err err = CR_OK;

	ERR_clear_error();
	if (r == NULL)
		return CR_ERR_INVALID;
	report_init(r);
	if (cms == NULL || e == NULL || e->trust_file == NULL || e->digest == NULL || e->resident_number == NULL ||
	    e->resident_number[0] == '\0' || (e->n_extra > 0 && (e->extra_der == NULL || e->extra_len == NULL)))
		return CR_ERR_INVALID;
	if (len > CR_PKI_CMS_MAX) {
		report_finish(r);
		return CR_ERR_TOOBIG;
	}
	if ((err = load_trust(e->trust_file, &store)) != CR_OK)
		goto out;

	if ((ci = parse(cms, len)) == NULL)
		goto done;
	r->checks[C_DER].ok = true;
	r->checks[C_DETACHED].ok = CMS_is_detached(ci) == 1;
	sis = CMS_get0_SignerInfos(ci);
	if (sk_CMS_SignerInfo_num(sis) != 1)
		goto done;
	r->checks[C_ONE_SIGNER].ok = true;
	si = sk_CMS_SignerInfo_value(sis, 0);
	r->checks[C_CONTENT_TYPE].ok = content_type_ok(ci, si);
	r->checks[C_MESSAGE_DIGEST].ok = message_digest_ok(si, e->digest);
	have_time = signing_time(si, &r->signing_time);
	if (!have_time)
		r->signing_time = 0;
	r->checks[C_SIGNING_TIME].ok = have_time && r->signing_time >= e->now - e->max_age - e->leeway &&
	    r->signing_time <= e->now + e->leeway;

	if ((pool = candidates(ci, e, &extras_ok)) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	if ((signer = find_signer(si, pool)) == NULL)
		goto done;
	describe(signer, r);
	CMS_SignerInfo_set1_signer_cert(si, signer);
	r->checks[C_SIGNATURE].ok = CMS_SignerInfo_verify(si) == 1 && ess_ok(si, signer, pool);
	r->checks[C_CHAIN].ok = extras_ok && chain_ok(store, signer, pool, e->now);
	dates = tm_time(X509_get0_notBefore(signer), &nb) && tm_time(X509_get0_notAfter(signer), &na);
	if (dates)
		r->cert_not_after = na;
	r->checks[C_NOT_EXPIRED].ok = dates && valid_at(nb, na, e->now) && (!have_time || valid_at(nb, na, r->signing_time));
	r->checks[C_SIGNER_IDENTITY].ok = identity_ok(signer, e->resident_number);
done:
	report_finish(r);
out:
	sk_X509_pop_free(pool, X509_free);
	CMS_ContentInfo_free(ci);
	X509_STORE_free(store);
	ERR_clear_error();
	return err;
}

enum cr_err
cr_pki_sig_report_json(const struct cr_pki_sig_report *r, struct cr_buf *out)
{
	json_t *o = NULL, *checks = NULL;
	char *s = NULL;
	enum cr_err err = CR_ERR_NOMEM;

	if (r == NULL || out == NULL)
		return CR_ERR_INVALID;
	if ((checks = json_object()) == NULL)
		goto out;
	for (size_t i = 0; i < CR_PKI_SIG_CHECKS; i++)
		if (r->checks[i].name == NULL || json_object_set_new(checks, r->checks[i].name, json_boolean(r->checks[i].ok)))
			goto out;
	o = json_pack("{s:b, s:s, s:s, s:s, s:o, s:o, s:O}", "passed", r->passed, "why", r->why, "signer_subject",
	    r->signer_subject, "signer_serial", r->signer_serial_hex, "signing_time",
	    r->signing_time ? json_integer((json_int_t)r->signing_time) : json_null(), "cert_not_after",
	    r->cert_not_after ? json_integer((json_int_t)r->cert_not_after) : json_null(), "checks", checks);
	if (o == NULL) {
		err = CR_ERR_INVALID; /* a string field that is not UTF-8 */
		goto out;
	}
	if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	err = cr_buf_adds(out, s);
out:
	free(s);
	json_decref(o);
	json_decref(checks);
	return err;
}
