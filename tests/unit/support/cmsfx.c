/* E-signature fixtures of the unit tests; see cmsfx.h. */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cmsfx.h"

static void
need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "cmsfx: %s failed\n", what);
		ERR_print_errors_fp(stderr);
		abort();
	}
}

EVP_PKEY *
cmsfx_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	need(k != NULL, "EVP_EC_gen");
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	need(ext != NULL && X509_add_ext(x, ext, -1), "an extension");
	X509_EXTENSION_free(ext);
}

static X509 *
base(const char *cn, const char *resident, EVP_PKEY *key, time_t nb, time_t na)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	BIGNUM *bn = BN_new();
	char serial[128];

	need(x && n && bn, "X509_new");
	need(X509_set_version(x, X509_VERSION_3), "version");
	need(BN_rand(bn, 120, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL, "serial");
	need(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"MO", -1, -1, 0) &&
	    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"GovID", -1, -1, 0) &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0), "name");
	if (resident != NULL) {
		snprintf(serial, sizeof(serial), "IDCMO-%s", resident);
		need(X509_NAME_add_entry_by_NID(n, NID_serialNumber, MBSTRING_ASC, (const unsigned char *)serial, -1, -1,
		    0), "serialNumber");
	}
	need(X509_set_subject_name(x, n), "subject");
	need(X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &nb) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &na) != NULL, "validity");
	need(X509_set_pubkey(x, key), "pubkey");
	X509_NAME_free(n);
	BN_free(bn);
	return x;
}

X509 *
cmsfx_ca(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
	time_t now = time(NULL);
	X509 *x = base(cn, NULL, key, now - 86400, now + 10L * 365 * 86400);

	need(X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x)), "issuer");
	add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid:always");
	need(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
	return x;
}

X509 *
cmsfx_signer(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *name, const char *resident, time_t not_before,
    time_t not_after)
{
	X509 *x = base(name, resident, key, not_before, not_after);

	need(X509_set_issuer_name(x, X509_get_subject_name(ca)), "issuer");
	add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE");
	add_ext(x, ca, NID_key_usage, "critical,digitalSignature,nonRepudiation");
	add_ext(x, ca, NID_subject_key_identifier, "hash");
	add_ext(x, ca, NID_authority_key_identifier, "keyid:always");
	need(X509_sign(x, ca_key, EVP_sha256()) > 0, "X509_sign");
	return x;
}

unsigned char *
cmsfx_cms(const struct cmsfx_sign *s, size_t *len)
{
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
	CMS_SignerInfo *si;
	ASN1_TIME *t = ASN1_TIME_set(NULL, s->signing_time);
	unsigned char *der = NULL;
	int n;

	need(cms != NULL && t != NULL, "CMS_sign");
	si = CMS_add1_signer(cms, s->signer, s->key, EVP_sha256(),
	    CMS_PARTIAL | CMS_BINARY | CMS_CADES | CMS_NOSMIMECAP | (s->no_signer_cert ? CMS_NOCERTS : 0));
	need(si != NULL, "CMS_add1_signer");
	for (size_t i = 0; i < s->n_certs; i++)
		need(CMS_add1_cert(cms, s->certs[i]), "CMS_add1_cert");
	need(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1) &&
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, s->digest, 32) &&
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t, -1), "signed attributes");
	need(CMS_SignerInfo_sign(si), "CMS_SignerInfo_sign");
	if (s->embed) {
		ASN1_OCTET_STRING **content;

		need(CMS_set_detached(cms, 0) && (content = CMS_get0_content(cms)) != NULL && *content != NULL &&
		    ASN1_OCTET_STRING_set(*content, s->digest, 32), "embedding the content");
	}
	need((n = i2d_CMS_ContentInfo(cms, &der)) > 0, "i2d_CMS_ContentInfo");
	*len = (size_t)n;
	ASN1_TIME_free(t);
	CMS_ContentInfo_free(cms);
	return der;
}

unsigned char *
cmsfx_der(X509 *x, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	need(n > 0, "i2d_X509");
	*len = (size_t)n;
	return der;
}

void
cmsfx_write_pem(const char *path, X509 *const *certs, size_t n)
{
	FILE *f = fopen(path, "w");

	need(f != NULL, "fopen");
	for (size_t i = 0; i < n; i++)
		need(PEM_write_X509(f, certs[i]), "PEM_write_X509");
	need(fclose(f) == 0, "fclose");
}
