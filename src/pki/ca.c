/*
 * The issuing CAs and certificate issuance; see pki.h and docs/internals/issuance.md.
 * One issuing CA per certificate type, each with its profile (validity, policy, CRL DP, AIA).
 * Every certificate is built by build_cert, from a request (cr_pki_issue) or for the DEV demo
 * inventory (cr_pki_issue_demo), so the two cannot drift apart.
 *
 * Trust: the configuration and the CA files are trusted (checked once at open for mistakes);
 * a request's subject, key and serial are not, and are validated before anything is signed.
 * The e-mail goes into the SAN as a GENERAL_NAME built here, never through OpenSSL's config
 * syntax, so a comma in it cannot add names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "pki_int.h"
#include "util/file.h"
#include "util/log.h"

#define PATH_LEN 1200
#define CA_ORG "eSignTrust DEV (not for production)"
#define ROOT_DAYS (20L * 365)
#define ISSUING_DAYS (15L * 365)
#define MAX_REQUEST_KEY 4096 /* SubjectPublicKeyInfo DER: RSA-8192 fits */

/* File stems of the DEV CAs, indexed by enum cr_cert_type. */
static const char *const dev_stem[CR_CERT_TYPE_COUNT] = {"qualified-ca", "encryption-ca", "cloudsign-ca"};
static const char *const dev_cn[CR_CERT_TYPE_COUNT] = {
	"eSignTrust DEV Qualified Issuing CA",
	"eSignTrust DEV Encryption Issuing CA",
	"eSignTrust DEV Cloud Signing Issuing CA",
};

void
pki_ossl_err(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	cr_error("pki", "%s: %s", what, e ? buf : "failed");
	ERR_clear_error();
}

bool
pki_type_ok(enum cr_cert_type t)
{
	return (int)t >= 0 && (int)t < CR_CERT_TYPE_COUNT;
}

bool
pki_kdf_ok(unsigned long long ops, size_t mem)
{
	return ops >= crypto_pwhash_OPSLIMIT_MIN && ops <= 10 && mem >= 8u * 1024 * 1024 &&
	    mem <= 1024u * 1024 * 1024;
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

enum cr_err
pki_serial_parse(const char *hex, ASN1_INTEGER **out, char *norm, size_t normlen)
{
	BIGNUM *bn = NULL;
	size_t n = 0;
	bool nonzero = false;

	*out = NULL;
	if (hex == NULL)
		return CR_ERR_INVALID;
	for (; hex[n] != '\0'; n++) {
		if (!is_hex(hex[n]) || n >= 32)
			return CR_ERR_INVALID;
		nonzero |= hex[n] != '0';
	}
	if (n == 0 || !nonzero || !cr_pki_serial_normalise(hex, norm, normlen))
		return CR_ERR_INVALID;
	/* BN_hex2bn would also take a '-' sign: the loop above let only digits through. */
	if (BN_hex2bn(&bn, hex) != (int)n || (*out = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		BN_free(bn);
		return CR_ERR_NOMEM;
	}
	BN_free(bn);
	return CR_OK;
}

void
cr_pki_serial_new(char out[CR_PKI_SERIAL_HEX])
{
	unsigned char b[16];
	size_t i, n = 0, start = 0;
	bool zero;

	do {
		randombytes_buf(b, sizeof(b));
		b[0] &= 0x7f; /* a positive INTEGER of 16 octets at most */
		zero = true;
		for (i = 0; i < sizeof(b); i++)
			zero &= b[i] == 0;
	} while (zero);
	/* Without leading zero octets, as cr_pki_serial_normalise and x509_read.c write serials. */
	while (b[start] == 0)
		start++;
	for (i = start; i < sizeof(b); i++) {
		static const char digits[] = "0123456789abcdef";
		out[n++] = digits[b[i] >> 4];
		out[n++] = digits[b[i] & 15];
	}
	out[n] = '\0';
}

/* ---- loading ---- */

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (f == NULL) {
		cr_error("pki", "%s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		cr_error("pki", "%s: no PEM certificate", path);
	ERR_clear_error();
	return x;
}

/* A CA key in PEM, through the same private-file check as every secret (util/file.h): refused when group
   or others may read or write it. A PEM key of RSA 8192 bits is under 7 KB. */
#define CA_KEY_FILE_MAX 65536

static EVP_PKEY *
read_key(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	BIO *b;
	EVP_PKEY *k = NULL;
	enum cr_err err;

	if ((err = cr_file_read(path, CA_KEY_FILE_MAX, CR_FILE_PRIVATE, &text, &len)) != CR_OK) {
		if (err == CR_ERR_DENIED)
			cr_error("pki", "%s may be read or written by group or others; chmod 600 it", path);
		else if (err == CR_ERR_IO)
			cr_error("pki", "%s: %s", path, strerror(errno));
		else
			cr_error("pki", "%s: %s", path, cr_err_str(err));
		return NULL;
	}
	if ((b = BIO_new_mem_buf(text, (int)len)) != NULL)
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	OPENSSL_cleanse(text, len);
	free(text);
	if (k == NULL)
		cr_error("pki", "%s: no PEM private key (or one with a passphrase)", path);
	ERR_clear_error();
	return k;
}

/* ECDSA P-256 or RSA of 3072 bits and more, as pki.h allows for CA keys. */
static bool
ca_key_alg_ok(EVP_PKEY *k)
{
	char group[64];

	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		return EVP_PKEY_get_bits(k) >= 3072;
	return EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
	    EVP_PKEY_get_group_name(k, group, sizeof(group), NULL) == 1 && strcmp(group, "prime256v1") == 0;
}

/* A CA that may sign certificates: basicConstraints CA, keyUsage keyCertSign, an SKI (for the AKI
   of what it issues). */
static bool
cert_is_issuing_ca(X509 *x)
{
	return X509_check_ca(x) >= 1 && (X509_get_extension_flags(x) & EXFLAG_KUSAGE) != 0 &&
	    (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) != 0 && X509_get0_subject_key_id(x) != NULL;
}

/* Loads a CA certificate and its key, checking that they belong together and that the certificate
   may issue. CR_ERR_CONFIG, logged naming the file. */
static enum cr_err
load_ca(const char *cert_file, const char *key_file, X509 **cert, EVP_PKEY **key)
{
	*cert = NULL;
	*key = NULL;
	if ((*cert = read_cert(cert_file)) == NULL || (*key = read_key(key_file)) == NULL)
		goto bad;
	if (!cert_is_issuing_ca(*cert)) {
		cr_error("pki", "%s: not a CA certificate with keyCertSign and a subject key identifier", cert_file);
		goto bad;
	}
	if (!ca_key_alg_ok(*key)) {
		cr_error("pki", "%s: the CA key is neither ECDSA P-256 nor RSA of 3072 bits or more", key_file);
		goto bad;
	}
	if (X509_check_private_key(*cert, *key) != 1) {
		cr_error("pki", "%s: the key does not match the certificate %s", key_file, cert_file);
		goto bad;
	}
	if ((X509_get_key_usage(*cert) & KU_CRL_SIGN) == 0)
		cr_warn("pki", "%s: no cRLSign key usage; its CRLs will not verify", cert_file);
	ERR_clear_error();
	return CR_OK;
bad:
	ERR_clear_error();
	X509_free(*cert);
	EVP_PKEY_free(*key);
	*cert = NULL;
	*key = NULL;
	return CR_ERR_CONFIG;
}

/* Copies a profile string, refusing what would not fit. */
static bool
copy_str(char *dst, size_t n, const char *src)
{
	if (src == NULL)
		src = "";
	if (strlen(src) >= n)
		return false;
	memcpy(dst, src, strlen(src) + 1);
	return true;
}

/* "" or an http(s) URL of printable ASCII without spaces or commas (the X509V3 config syntax the
   extension goes through splits at commas). */
static bool
url_ok(const char *u)
{
	if (*u == '\0')
		return true;
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return false;
	for (; *u != '\0'; u++)
		if (*u <= ' ' || *u > '~' || *u == ',')
			return false;
	return true;
}

/* "" or a dotted OID OpenSSL can parse. */
static bool
oid_ok(const char *s)
{
	ASN1_OBJECT *o;

	if (*s == '\0')
		return true;
	if (strspn(s, "0123456789.") != strlen(s) || (o = OBJ_txt2obj(s, 1)) == NULL) {
		ERR_clear_error();
		return false;
	}
	ASN1_OBJECT_free(o);
	return true;
}

static bool make_profile_exts(struct pki_ca *ca, enum cr_cert_type t);
static time_t asn1_time(const ASN1_TIME *a);

static enum cr_err
open_profile(const struct cr_pki_profile *pr, enum cr_cert_type t, X509 *root, struct pki_ca *ca)
{
	enum cr_err err;

	if (pr->ca_cert_file == NULL || pr->ca_key_file == NULL) {
		cr_error("pki", "a certificate type has no CA files configured");
		return CR_ERR_CONFIG;
	}
	if ((err = load_ca(pr->ca_cert_file, pr->ca_key_file, &ca->cert, &ca->key)) != CR_OK)
		return err;
	if (X509_check_issued(root, ca->cert) != X509_V_OK || X509_verify(ca->cert, X509_get0_pubkey(root)) != 1) {
		ERR_clear_error();
		cr_error("pki", "%s: not issued by the configured root", pr->ca_cert_file);
		return CR_ERR_CONFIG;
	}
	if (pr->validity_days < 1 || pr->validity_days > 3650) {
		cr_error("pki", "%s: validity of %d days is outside 1..3650", pr->ca_cert_file, pr->validity_days);
		return CR_ERR_CONFIG;
	}
	ca->validity_days = pr->validity_days;
	if ((ca->not_after = asn1_time(X509_get0_notAfter(ca->cert))) == 0) {
		cr_error("pki", "%s: its notAfter cannot be read", pr->ca_cert_file);
		return CR_ERR_CONFIG;
	}
	if (!copy_str(ca->policy_oid, sizeof(ca->policy_oid), pr->policy_oid) || !oid_ok(ca->policy_oid) ||
	    !copy_str(ca->crl_url, sizeof(ca->crl_url), pr->crl_url) || !url_ok(ca->crl_url) ||
	    !copy_str(ca->aia_url, sizeof(ca->aia_url), pr->aia_url) || !url_ok(ca->aia_url)) {
		cr_error("pki", "%s: bad policy OID, CRL or AIA URL in its profile", pr->ca_cert_file);
		return CR_ERR_CONFIG;
	}
	if (!make_profile_exts(ca, t)) {
		pki_ossl_err("profile extensions");
		return CR_ERR_CRYPTO;
	}
	return CR_OK;
}

enum cr_err
cr_pki_open(const struct cr_pki_config *cfg, struct cr_pki **out)
{
	struct cr_pki *p;
	enum cr_err err = CR_ERR_CONFIG;

	*out = NULL;
	if (sodium_init() < 0)
		return CR_ERR_CRYPTO;
	if ((p = OPENSSL_zalloc(sizeof(*p))) == NULL)
		return CR_ERR_NOMEM;
	p->key_alg = cfg->key_alg;
	p->kdf_ops = cfg->kdf_ops ? cfg->kdf_ops : crypto_pwhash_OPSLIMIT_INTERACTIVE;
	p->kdf_mem = cfg->kdf_mem ? cfg->kdf_mem : crypto_pwhash_MEMLIMIT_INTERACTIVE;
	if (!pki_kdf_ok(p->kdf_ops, p->kdf_mem)) {
		cr_error("pki", "Argon2id ops %llu / mem %zu outside 1..10 / 8 MiB..1 GiB", p->kdf_ops, p->kdf_mem);
		goto out;
	}
	if (cfg->key_alg != CR_PKI_KEY_EC_P256 && cfg->key_alg != CR_PKI_KEY_RSA_3072) {
		cr_error("pki", "unknown signing-account key algorithm");
		goto out;
	}
	if (cfg->root_cert_file == NULL || (p->root = read_cert(cfg->root_cert_file)) == NULL)
		goto out;
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++)
		if ((err = open_profile(&cfg->types[t], (enum cr_cert_type)t, p->root, &p->ca[t])) != CR_OK)
			goto out;
	if (cfg->vault_key_file == NULL) {
		err = CR_ERR_CONFIG;
		cr_error("pki", "no vault key file configured");
		goto out;
	}
	if ((err = cr_seal_key_load(cfg->vault_key_file, &p->vault_key)) != CR_OK)
		goto out;
	err = CR_ERR_CRYPTO;
	if ((p->p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
	    (p->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)) == NULL) {
		pki_ossl_err("P-256 group or SHA-1");
		goto out;
	}
	*out = p;
	return CR_OK;
out:
	cr_pki_close(p);
	return err == CR_OK ? CR_ERR_CONFIG : err;
}

void
cr_pki_close(struct cr_pki *p)
{
	if (p == NULL)
		return;
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		struct pki_ca *ca = &p->ca[t];
		X509_EXTENSION *const ext[] = {ca->ext_bc, ca->ext_ku[0], ca->ext_ku[1], ca->ext_eku, ca->ext_aki,
		    ca->ext_policy, ca->ext_crl, ca->ext_aia};

		for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
			X509_EXTENSION_free(ext[i]);
		X509_free(ca->cert);
		EVP_PKEY_free(ca->key); /* OpenSSL wipes key material as it frees it */
	}
	X509_free(p->root);
	EC_GROUP_free(p->p256);
	EVP_MD_free(p->sha1);
	OPENSSL_clear_free(p, sizeof(*p)); /* the vault key among it */
}

/* ---- request keys ----
   A request's SubjectPublicKeyInfo goes into the certificate as it came, never through an EVP_PKEY:
   OpenSSL 3.0 sets up its decoder framework for every d2i_PUBKEY (~0.3 ms) and, in X509_set_pubkey,
   encodes a provider key and decodes it again (~0.4 ms); together ~80 % of an issuance. The common
   kind, EC P-256 with its point uncompressed, is checked here byte for byte and on the curve with a
   group made once; any other goes through d2i_X509_PUBKEY once. Either way the certificate ends up
   with exactly the request's DER (checked after it is set). */

/* DER of an EC P-256 SubjectPublicKeyInfo up to its point: SEQUENCE (89) { SEQUENCE (19) {
   id-ecPublicKey, prime256v1 }, BIT STRING (66, no unused bits) }; the 65-octet point follows. */
static const unsigned char p256_prefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
#define P256_POINT_LEN 65
#define P256_SPKI_LEN (sizeof(p256_prefix) + P256_POINT_LEN)
#define POINT_UNCOMPRESSED 0x04

/* A request's key once accepted; everything borrowed from the request's DER. */
struct req_key {
	const unsigned char *der; /* the whole SubjectPublicKeyInfo */
	size_t der_len;
	bool rsa;                 /* rsaEncryption; else id-ecPublicKey on curve */
	int curve;                /* NID_X9_62_prime256v1 or NID_secp384r1; NID_undef for RSA */
	const unsigned char *bits; /* the subjectPublicKey BIT STRING's contents (the SKI's input) */
	int bits_len;
};

/* An uncompressed P-256 point that is on the curve (EC_POINT_oct2point refuses coordinates >= p and
   points off the curve; P-256's cofactor is 1, so on the curve is in the group). */
static bool
p256_point_ok(const struct cr_pki *p, const unsigned char *pt)
{
	EC_POINT *q;
	bool ok;

	if (pt[0] != POINT_UNCOMPRESSED || (q = EC_POINT_new(p->p256)) == NULL)
		return false;
	ok = EC_POINT_oct2point(p->p256, q, pt, P256_POINT_LEN, NULL) == 1; /* NULL: a BN_CTX of its own */
	EC_POINT_free(q);
	return ok;
}

/* Any other key: d2i_X509_PUBKEY (which decodes it, with OpenSSL's checks: an EC point on its curve,
   an RSA key that parses), then what pki.h allows: rsaEncryption with NULL parameters and 2048..8192
   bits, or id-ecPublicKey on the named curve P-256 or P-384 with the point uncompressed; the whole DER
   one SubjectPublicKeyInfo, DER and not BER (encoded again, it must give the same bytes). */
static bool
generic_key(const unsigned char *der, size_t len, struct req_key *k)
{
	const unsigned char *q = der;
	X509_PUBKEY *xp = d2i_X509_PUBKEY(NULL, &q, (long)len);
	EVP_PKEY *pk;
	ASN1_OBJECT *alg;
	X509_ALGOR *algor;
	const void *pval;
	int ptype, bits, nid, n;
	unsigned char *again = NULL;
	char group[64];
	bool ok = false;

	if (xp == NULL || q != der + len || (pk = X509_PUBKEY_get0(xp)) == NULL ||
	    !X509_PUBKEY_get0_param(&alg, &k->bits, &k->bits_len, &algor, xp) || k->bits_len < 1)
		goto out;
	X509_ALGOR_get0(NULL, &ptype, &pval, algor);
	nid = OBJ_obj2nid(alg);
	if (nid == NID_rsaEncryption && EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA) {
		bits = EVP_PKEY_get_bits(pk);
		k->rsa = true;
		k->curve = NID_undef;
		ok = ptype == V_ASN1_NULL && bits >= 2048 && bits <= 8192;
	} else if (nid == NID_X9_62_id_ecPublicKey && EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC && ptype == V_ASN1_OBJECT) {
		k->curve = OBJ_obj2nid(pval);
		ok = (k->curve == NID_X9_62_prime256v1 || k->curve == NID_secp384r1) &&
		    EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) == 1 &&
		    OBJ_txt2nid(group) == k->curve && k->bits[0] == POINT_UNCOMPRESSED;
	}
	ok = ok && (n = i2d_X509_PUBKEY(xp, &again)) > 0 && (size_t)n == len && memcmp(again, der, len) == 0;
	/* DER: the BIT STRING is the last len - bits_len octets. */
	k->bits = der + len - (size_t)k->bits_len;
out:
	OPENSSL_free(again);
	X509_PUBKEY_free(xp);
	ERR_clear_error();
	return ok;
}

/* The request's SubjectPublicKeyInfo, as pki.h allows it (cr_pki_issue). */
static bool
request_key(const struct cr_pki *p, const unsigned char *der, size_t len, struct req_key *k)
{
	bool ok;

	memset(k, 0, sizeof(*k));
	k->der = der;
	k->der_len = len;
	if (der == NULL || len == 0 || len > MAX_REQUEST_KEY)
		return false;
	if (len == P256_SPKI_LEN && memcmp(der, p256_prefix, sizeof(p256_prefix)) == 0) {
		k->curve = NID_X9_62_prime256v1;
		k->bits = der + sizeof(p256_prefix);
		k->bits_len = P256_POINT_LEN;
		ok = p256_point_ok(p, k->bits);
		ERR_clear_error();
		return ok;
	}
	return generic_key(der, len, k);
}

/* Sets c's SubjectPublicKeyInfo to k's, then checks that the certificate encodes it as the request's
   DER, byte for byte (X509_PUBKEY_set0_param writes the BIT STRING with no unused bits: a request
   whose BIT STRING had some differs here). CR_ERR_INVALID when it does not. */
static enum cr_err
set_key(X509 *c, const struct req_key *k)
{
	X509_PUBKEY *xk = X509_get_X509_PUBKEY(c);
	unsigned char *bits = OPENSSL_memdup(k->bits, (size_t)k->bits_len), *enc = NULL;
	ASN1_OBJECT *alg = OBJ_nid2obj(k->rsa ? NID_rsaEncryption : NID_X9_62_id_ecPublicKey);
	int n;
	enum cr_err err;

	if (xk == NULL || bits == NULL || alg == NULL ||
	    !X509_PUBKEY_set0_param(xk, alg, k->rsa ? V_ASN1_NULL : V_ASN1_OBJECT, k->rsa ? NULL : OBJ_nid2obj(k->curve),
	        bits, k->bits_len)) {
		OPENSSL_free(bits);
		return CR_ERR_CRYPTO;
	}
	if ((n = i2d_X509_PUBKEY(xk, &enc)) <= 0)
		return CR_ERR_CRYPTO;
	err = (size_t)n == k->der_len && memcmp(enc, k->der, k->der_len) == 0 ? CR_OK : CR_ERR_INVALID;
	OPENSSL_free(enc);
	return err;
}

/* The SKI: SHA-1 of the subjectPublicKey BIT STRING's contents (RFC 5280 4.2.1.2 (1)), the value
   `subjectKeyIdentifier = hash` gives, with the digest fetched once by cr_pki_open. */
static bool
add_ski(X509 *c, const struct cr_pki *p, const struct req_key *k)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();
	bool ok;

	ok = id != NULL && EVP_Digest(k->bits, (size_t)k->bits_len, md, &n, p->sha1, NULL) == 1 &&
	    ASN1_OCTET_STRING_set(id, md, (int)n) == 1 && X509_add1_ext_i2d(c, NID_subject_key_identifier, id, 0, 0) == 1;
	ASN1_OCTET_STRING_free(id);
	return ok;
}

/* ---- building certificates ---- */

/* An extension from OpenSSL's config syntax; cert may be NULL when value does not refer to it. */
static X509_EXTENSION *
conf_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	return X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
}

static bool
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION *ex = conf_ext(cert, issuer, nid, value);
	bool ok = ex != NULL && X509_add_ext(cert, ex, -1) == 1;

	X509_EXTENSION_free(ex);
	return ok;
}

static bool
name_add(X509_NAME *n, const char *field, const char *value)
{
	if (value == NULL || *value == '\0')
		return true;
	return X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, 0) == 1;
}

/* An addr-spec as far as a certificate needs: printable ASCII, one '@' inside, at most 254. */
static bool
email_ok(const char *e)
{
	const char *at = strchr(e, '@');
	size_t n = strlen(e);

	if (n < 3 || n > 254 || at == NULL || at == e || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return false;
	for (; *e != '\0'; e++)
		if (*e <= ' ' || *e > '~')
			return false;
	return true;
}

static bool
subject_ok(const struct cr_pki_subject *s)
{
	return s != NULL && s->common_name != NULL && s->common_name[0] != '\0' && s->email != NULL &&
	    email_ok(s->email);
}

/* The SAN rfc822Name, built directly (see the top of the file). */
static bool
add_san_email(X509 *c, const char *email)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	bool ok = false;

	if (names == NULL || gn == NULL || s == NULL || !ASN1_STRING_set(s, email, (int)strlen(email)))
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_EMAIL, s);
	s = NULL;
	if (!sk_GENERAL_NAME_push(names, gn))
		goto out;
	gn = NULL;
	ok = X509_add1_ext_i2d(c, NID_subject_alt_name, names, 0, 0) == 1;
out:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return ok;
}

/* certificatePolicies with the one policy OID, built directly: OpenSSL's config syntax for it
   needs a config database. */
static X509_EXTENSION *
policy_ext(const char *oid)
{
	CERTIFICATEPOLICIES *pols = sk_POLICYINFO_new_null();
	POLICYINFO *pi = POLICYINFO_new();
	X509_EXTENSION *ex = NULL;

	if (pols == NULL || pi == NULL || (pi->policyid = OBJ_txt2obj(oid, 1)) == NULL || !sk_POLICYINFO_push(pols, pi))
		goto out;
	pi = NULL;
	ex = X509V3_EXT_i2d(NID_certificate_policies, 0, pols);
out:
	POLICYINFO_free(pi);
	CERTIFICATEPOLICIES_free(pols);
	return ex;
}

static const char *
key_usage(enum cr_cert_type t, bool rsa)
{
	if (t != CR_CERT_ENCRYPTION)
		return "critical,digitalSignature,nonRepudiation";
	return rsa ? "critical,keyEncipherment" : "critical,keyAgreement";
}

static const char *
ext_key_usage(enum cr_cert_type t)
{
	switch (t) {
	case CR_CERT_QUALIFIED:
		return "emailProtection,clientAuth";
	case CR_CERT_ENCRYPTION:
		return "emailProtection";
	case CR_CERT_CLOUDSIGN:
		break;
	}
	return "emailProtection,1.3.6.1.5.5.7.3.36"; /* id-kp-documentSigning, RFC 9336 */
}

/* The extensions of the profile that do not depend on the certificate, made once by cr_pki_open:
   OpenSSL's config syntax is parsed again on every X509V3_EXT_conf_nid (~12 % of an issuance). The
   AKI is keyid:always, the CA's SKI (load_ca made sure it has one). */
static bool
make_profile_exts(struct pki_ca *ca, enum cr_cert_type t)
{
	char v[PKI_URL_MAX + 32];

	ca->ext_bc = conf_ext(NULL, ca->cert, NID_basic_constraints, "critical,CA:FALSE");
	ca->ext_ku[0] = conf_ext(NULL, ca->cert, NID_key_usage, key_usage(t, false));
	ca->ext_ku[1] = conf_ext(NULL, ca->cert, NID_key_usage, key_usage(t, true));
	ca->ext_eku = conf_ext(NULL, ca->cert, NID_ext_key_usage, ext_key_usage(t));
	ca->ext_aki = conf_ext(NULL, ca->cert, NID_authority_key_identifier, "keyid:always");
	if (ca->ext_bc == NULL || ca->ext_ku[0] == NULL || ca->ext_ku[1] == NULL || ca->ext_eku == NULL ||
	    ca->ext_aki == NULL)
		return false;
	if (ca->policy_oid[0] != '\0' && (ca->ext_policy = policy_ext(ca->policy_oid)) == NULL)
		return false;
	snprintf(v, sizeof(v), "URI:%s", ca->crl_url);
	if (ca->crl_url[0] != '\0' && (ca->ext_crl = conf_ext(NULL, ca->cert, NID_crl_distribution_points, v)) == NULL)
		return false;
	snprintf(v, sizeof(v), "caIssuers;URI:%s", ca->aia_url);
	if (ca->aia_url[0] != '\0' && (ca->ext_aia = conf_ext(NULL, ca->cert, NID_info_access, v)) == NULL)
		return false;
	return true;
}

/* The profile's extensions, in the order `openssl x509 -text` reads best. */
static bool
add_profile_exts(X509 *c, const struct cr_pki *p, enum cr_cert_type t, const struct req_key *k, const char *email)
{
	const struct pki_ca *ca = &p->ca[t];
	X509_EXTENSION *const after[] = {ca->ext_aki, ca->ext_policy, ca->ext_crl, ca->ext_aia};

	if (X509_add_ext(c, ca->ext_bc, -1) != 1 || X509_add_ext(c, ca->ext_ku[k->rsa], -1) != 1 ||
	    X509_add_ext(c, ca->ext_eku, -1) != 1 || !add_san_email(c, email) || !add_ski(c, p, k))
		return false;
	for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++)
		if (after[i] != NULL && X509_add_ext(c, after[i], -1) != 1)
			return false;
	return true;
}

/* Subject C=MO, O, OU, title, CN; a name OpenSSL refuses (too long, not UTF-8) is the request's fault. */
static bool
set_subject(X509 *c, const struct cr_pki_subject *s)
{
	X509_NAME *n = X509_get_subject_name(c);

	return name_add(n, "C", "MO") && name_add(n, "O", s->organisation) && name_add(n, "OU", s->unit) &&
	    name_add(n, "title", s->title) && name_add(n, "CN", s->common_name);
}

/* What one certificate is made of; all borrowed. */
struct build {
	enum cr_cert_type type;
	const struct cr_pki_subject *subject;
	const struct req_key *key;
	const char *serial_hex;
	time_t not_before, not_after;
};

/* The one function that builds and signs a certificate. */
static enum cr_err
build_cert(const struct cr_pki *p, const struct build *b, struct cr_pki_issued *out)
{
	const struct pki_ca *ca = &p->ca[b->type];
	ASN1_INTEGER *serial = NULL;
	X509 *c = NULL;
	unsigned char *der = NULL;
	int len;
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	if (!subject_ok(b->subject) || b->not_after <= b->not_before)
		return CR_ERR_INVALID;
	if ((err = pki_serial_parse(b->serial_hex, &serial, out->serial_hex, sizeof(out->serial_hex))) != CR_OK)
		return err;
	err = CR_ERR_CRYPTO;
	if ((c = X509_new()) == NULL || !X509_set_version(c, X509_VERSION_3) || !X509_set_serialNumber(c, serial) ||
	    ASN1_TIME_set(X509_getm_notBefore(c), b->not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(c), b->not_after) == NULL ||
	    !X509_set_issuer_name(c, X509_get_subject_name(ca->cert)))
		goto out;
	if ((err = set_key(c, b->key)) != CR_OK)
		goto out;
	err = CR_ERR_CRYPTO;
	if (!set_subject(c, b->subject)) {
		err = CR_ERR_INVALID;
		goto out;
	}
	if (!add_profile_exts(c, p, b->type, b->key, b->subject->email) || X509_sign(c, ca->key, EVP_sha256()) <= 0 ||
	    (len = i2d_X509(c, &der)) <= 0)
		goto out;
	out->der = der;
	out->der_len = (size_t)len;
	out->not_before = b->not_before;
	out->not_after = b->not_after;
	err = CR_OK;
out:
	if (err == CR_ERR_CRYPTO)
		pki_ossl_err("issue");
	ERR_clear_error();
	if (err != CR_OK)
		memset(out, 0, sizeof(*out));
	ASN1_INTEGER_free(serial);
	X509_free(c);
	return err;
}

enum cr_err
cr_pki_issue(const struct cr_pki *p, const struct cr_pki_request *r, struct cr_pki_issued *out)
{
	struct req_key k;
	struct build b;

	memset(out, 0, sizeof(*out));
	if (p == NULL || r == NULL || !pki_type_ok(r->type))
		return CR_ERR_INVALID;
	if (!request_key(p, r->public_key_der, r->public_key_len, &k))
		return CR_ERR_INVALID;
	b = (struct build){r->type, &r->subject, &k, r->serial_hex, r->not_before,
	    r->not_after != 0 ? r->not_after : r->not_before + (time_t)p->ca[r->type].validity_days * 86400};
	/* Never beyond the issuing CA itself (RFC 5280 path validation would reject it later). */
	if (b.not_after > p->ca[r->type].not_after)
		b.not_after = p->ca[r->type].not_after;
	return build_cert(p, &b, out);
}

enum cr_err
cr_pki_issue_demo(const struct cr_pki *p, const struct cr_pki_subject *s, enum cr_cert_type t, time_t not_before,
    time_t not_after, struct cr_pki_issued *out)
{
	char serial[CR_PKI_SERIAL_HEX];
	unsigned char der[P256_SPKI_LEN];
	size_t n = 0;
	EVP_PKEY *pair;
	struct req_key k;
	struct build b = {t, s, &k, serial, not_before, not_after};
	bool ok;

	memset(out, 0, sizeof(*out));
	if (p == NULL || !pki_type_ok(t))
		return CR_ERR_INVALID;
	/* The public point, uncompressed (the key's default), after the fixed P-256 prefix: the same
	   SubjectPublicKeyInfo i2d_PUBKEY would write, without OpenSSL 3.0's encoder set-up. */
	memcpy(der, p256_prefix, sizeof(p256_prefix));
	pair = EVP_EC_gen("P-256");
	ok = pair != NULL &&
	    EVP_PKEY_get_octet_string_param(pair, OSSL_PKEY_PARAM_PUB_KEY, der + sizeof(p256_prefix), P256_POINT_LEN, &n) ==
	        1 &&
	    n == P256_POINT_LEN && request_key(p, der, sizeof(der), &k);
	EVP_PKEY_free(pair); /* the private half is held nowhere */
	if (!ok) {
		pki_ossl_err("demo key");
		return CR_ERR_CRYPTO;
	}
	cr_pki_serial_new(serial);
	return build_cert(p, &b, out);
}

void
cr_pki_issued_free(struct cr_pki_issued *c)
{
	if (c == NULL)
		return;
	OPENSSL_free(c->der);
	c->der = NULL;
	c->der_len = 0;
}

static enum cr_err
append_pem(X509 *x, struct cr_buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	enum cr_err err = CR_ERR_CRYPTO;

	if (bio != NULL && PEM_write_bio_X509(bio, x) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0)
		err = cr_buf_add(out, data, (size_t)n);
	BIO_free(bio);
	return err;
}

enum cr_err
cr_pki_chain_pem(const struct cr_pki *p, enum cr_cert_type t, struct cr_buf *out)
{
	enum cr_err err;

	if (p == NULL || !pki_type_ok(t))
		return CR_ERR_INVALID;
	if ((err = append_pem(p->ca[t].cert, out)) != CR_OK)
		return err;
	return append_pem(p->root, out);
}

enum cr_err
cr_pki_ca_cert_der(const struct cr_pki *p, enum cr_cert_type t, struct cr_buf *out)
{
	unsigned char *der = NULL;
	int n;
	enum cr_err err;

	if (p == NULL || !pki_type_ok(t))
		return CR_ERR_INVALID;
	if ((n = i2d_X509(p->ca[t].cert, &der)) <= 0) {
		pki_ossl_err("CA certificate encoding");
		return CR_ERR_NOMEM;
	}
	err = cr_buf_add(out, der, (size_t)n);
	OPENSSL_free(der);
	return err;
}

/* ---- DEV CAs ---- */

static enum cr_err
write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, key ? 0600 : 0644);
	FILE *f;
	int ok;

	if (fd < 0) {
		cr_error("pki", "%s: %s", path, strerror(errno));
		return CR_ERR_IO;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(path);
		return CR_ERR_IO;
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	if (fclose(f) != 0 || !ok) {
		cr_error("pki", "%s: cannot write", path);
		unlink(path); /* ours, just made: never a file that was there */
		return CR_ERR_IO;
	}
	return CR_OK;
}

static time_t
asn1_time(const ASN1_TIME *a)
{
	struct tm tm;

	return ASN1_TIME_to_tm(a, &tm) == 1 ? timegm(&tm) : 0;
}

/* A CA certificate for key: self-signed root when issuer is NULL, else an issuing CA (pathlen 0)
   ending no later than its issuer. */
static X509 *
ca_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *c = X509_new();
	X509 *signer;
	time_t now = time(NULL), na = now + (issuer ? ISSUING_DAYS : ROOT_DAYS) * 86400;
	char serial[CR_PKI_SERIAL_HEX];
	BIGNUM *bn = NULL;
	X509_NAME *n;
	bool ok;

	if (issuer != NULL && asn1_time(X509_get0_notAfter(issuer)) < na)
		na = asn1_time(X509_get0_notAfter(issuer));
	cr_pki_serial_new(serial);
	ok = c != NULL && X509_set_version(c, X509_VERSION_3) && BN_hex2bn(&bn, serial) > 0 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) != NULL &&
	    ASN1_TIME_set(X509_getm_notBefore(c), now - 86400) != NULL &&
	    ASN1_TIME_set(X509_getm_notAfter(c), na) != NULL && X509_set_pubkey(c, key);
	BN_free(bn);
	n = c ? X509_get_subject_name(c) : NULL;
	ok = ok && name_add(n, "C", "MO") && name_add(n, "O", CA_ORG) && name_add(n, "CN", cn) &&
	    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
	signer = issuer ? issuer : c;
	ok = ok && add_ext(c, signer, NID_basic_constraints, issuer ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE") &&
	    add_ext(c, signer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
	    add_ext(c, signer, NID_subject_key_identifier, "hash") &&
	    add_ext(c, signer, NID_authority_key_identifier, "keyid:always") &&
	    X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
	if (!ok) {
		pki_ossl_err("make CA");
		X509_free(c);
		return NULL;
	}
	return c;
}

static void
dev_path(char *out, const char *dir, const char *stem, const char *ext)
{
	snprintf(out, PATH_LEN, "%s/%s.%s", dir, stem, ext);
}

/* 0: neither file of stem exists, 2: both, 1: only one (refused: never written over). */
static int
pair_state(const char *dir, const char *stem)
{
	char p[PATH_LEN];
	int n = 0;

	dev_path(p, dir, stem, "pem");
	n += access(p, F_OK) == 0;
	dev_path(p, dir, stem, "key");
	n += access(p, F_OK) == 0;
	if (n == 1)
		cr_error("pki", "%s/%s: one of .pem and .key exists without the other; remove it or restore both", dir,
		    stem);
	return n;
}

/* Makes and writes stem's key (first, 0600) and certificate; a key written for a certificate that
   then fails to be written is removed again. */
static enum cr_err
make_ca(const char *dir, const char *stem, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, X509 **cert_out,
    EVP_PKEY **key_out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *c = NULL;
	char kpath[PATH_LEN], cpath[PATH_LEN];
	enum cr_err err = CR_ERR_CRYPTO;

	dev_path(kpath, dir, stem, "key");
	dev_path(cpath, dir, stem, "pem");
	if (key == NULL || (c = ca_cert(cn, key, issuer, issuer_key)) == NULL)
		goto out;
	if ((err = write_pem(kpath, NULL, key)) != CR_OK)
		goto out;
	if ((err = write_pem(cpath, c, NULL)) != CR_OK) {
		unlink(kpath);
		goto out;
	}
	cr_info("pki", "created DEV CA %s", cpath);
	if (cert_out != NULL) {
		*cert_out = c;
		*key_out = key;
		return CR_OK;
	}
out:
	X509_free(c);
	EVP_PKEY_free(key);
	return err;
}

static enum cr_err
dev_root(const char *dir, X509 **root, EVP_PKEY **key)
{
	char cpath[PATH_LEN], kpath[PATH_LEN];

	switch (pair_state(dir, "root-ca")) {
	case 0:
		/* A new root would orphan issuing CAs signed by the one that is gone. */
		for (int t = 0; t < CR_CERT_TYPE_COUNT; t++)
			if (pair_state(dir, dev_stem[t]) != 0) {
				cr_error("pki", "%s: %s exists but root-ca does not", dir, dev_stem[t]);
				return CR_ERR_CONFIG;
			}
		return make_ca(dir, "root-ca", "eSignTrust DEV Root CA", NULL, NULL, root, key);
	case 2:
		dev_path(cpath, dir, "root-ca", "pem");
		dev_path(kpath, dir, "root-ca", "key");
		return load_ca(cpath, kpath, root, key);
	default:
		return CR_ERR_CONFIG;
	}
}

enum cr_err
cr_pki_dev_init(const char *dir)
{
	char path[PATH_LEN];
	X509 *root = NULL;
	EVP_PKEY *root_key = NULL;
	enum cr_err err = CR_OK;
	int t, state[CR_CERT_TYPE_COUNT];

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		cr_error("pki", "%s: %s", dir, strerror(errno));
		return CR_ERR_IO;
	}
	for (t = 0; t < CR_CERT_TYPE_COUNT; t++)
		if ((state[t] = pair_state(dir, dev_stem[t])) == 1)
			return CR_ERR_CONFIG;
	if (state[0] != 2 || state[1] != 2 || state[2] != 2 || pair_state(dir, "root-ca") != 2) {
		if ((err = dev_root(dir, &root, &root_key)) != CR_OK)
			return err;
		for (t = 0; t < CR_CERT_TYPE_COUNT && err == CR_OK; t++)
			if (state[t] == 0)
				err = make_ca(dir, dev_stem[t], dev_cn[t], root, root_key, NULL, NULL);
		X509_free(root);
		EVP_PKEY_free(root_key);
		if (err != CR_OK)
			return err;
	}
	snprintf(path, sizeof(path), "%s/vault.key", dir);
	return cr_seal_key_create(path);
}
