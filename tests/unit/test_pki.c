/*
 * Unit tests of the issuing CAs, issuance, CRLs and the signing-account vault (src/pki/ca.c,
 * crl.c, vault.c; docs/internals/issuance.md). The DEV CAs are made by cr_pki_dev_init in a
 * temporary directory; every certificate and CRL is parsed back with OpenSSL and checked field by
 * field, then verified as a relying party would (X509_verify_cert, strict, with and without CRLs).
 * The vault is opened once by re-deriving its key here from the documented scheme, so the scheme in
 * pki.h is what the code does. CR_PKI_TEST_DUMP=dir writes a cloudsign certificate, its chain and a
 * CRL there for the openssl command line (docs/internals/issuance.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "pki/pki.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/seal.h"

#define CN_ZH "黃小明"
#define ORG_ZH "澳門特別行政區政府"
#define UNIT_ZH "行政公職局"
#define TITLE_ZH "高級技術員"
#define EMAIL "wong.siuming@example.gov.mo"

static const char *const stem[CR_CERT_TYPE_COUNT] = {"qualified-ca", "encryption-ca", "cloudsign-ca"};
static const char *const oid[CR_CERT_TYPE_COUNT] = {"2.999.1.1", "2.999.1.2", "2.999.1.3"};
static const int days[CR_CERT_TYPE_COUNT] = {1095, 1095, 730};

struct paths {
	char cert[CR_CERT_TYPE_COUNT][128], key[CR_CERT_TYPE_COUNT][128];
	char crl[CR_CERT_TYPE_COUNT][96], aia[CR_CERT_TYPE_COUNT][96];
	char root[128], vault[128];
};

static struct {
	char dir[64];
	struct paths paths;
	struct cr_pki_config cfg;
	struct cr_pki *p;
	X509 *ca[CR_CERT_TYPE_COUNT], *root;
	time_t now;
} F;

static void
sh(const char *fmt, const char *arg)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), fmt, arg);
	assert_int_equal(system(cmd), 0);
}

static X509 *
pem_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static void
make_config(const char *dir, struct paths *pa, struct cr_pki_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		snprintf(pa->cert[t], sizeof(pa->cert[t]), "%s/%s.pem", dir, stem[t]);
		snprintf(pa->key[t], sizeof(pa->key[t]), "%s/%s.key", dir, stem[t]);
		snprintf(pa->crl[t], sizeof(pa->crl[t]), "http://crl.example.test/%s.crl", stem[t]);
		snprintf(pa->aia[t], sizeof(pa->aia[t]), "http://aia.example.test/%s.cer", stem[t]);
		cfg->types[t] = (struct cr_pki_profile){pa->cert[t], pa->key[t], days[t], oid[t], pa->crl[t], pa->aia[t]};
	}
	snprintf(pa->root, sizeof(pa->root), "%s/root-ca.pem", dir);
	snprintf(pa->vault, sizeof(pa->vault), "%s/vault.key", dir);
	cfg->root_cert_file = pa->root;
	cfg->vault_key_file = pa->vault;
	cfg->key_alg = CR_PKI_KEY_EC_P256;
	cfg->kdf_ops = crypto_pwhash_OPSLIMIT_MIN; /* small, for speed */
	cfg->kdf_mem = 8u * 1024 * 1024;
}

static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	if (cr_crypto_init() != CR_OK)
		return -1;
	F.now = time(NULL);
	snprintf(F.dir, sizeof(F.dir), "/tmp/test_pki.XXXXXX");
	if (mkdtemp(F.dir) == NULL || cr_pki_dev_init(F.dir) != CR_OK)
		return -1;
	make_config(F.dir, &F.paths, &F.cfg);
	if (cr_pki_open(&F.cfg, &F.p) != CR_OK)
		return -1;
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++)
		F.ca[t] = pem_cert(F.paths.cert[t]);
	F.root = pem_cert(F.paths.root);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	cr_pki_close(F.p);
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++)
		X509_free(F.ca[t]);
	X509_free(F.root);
	sh("rm -rf '%s'", F.dir);
	return 0;
}

/* ---- helpers ---- */

static unsigned char *
spki(EVP_PKEY *k, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);

	assert_true(n > 0);
	*len = (size_t)n;
	return der;
}

static struct cr_pki_request
request(enum cr_cert_type t, const unsigned char *der, size_t len, const char *serial)
{
	return (struct cr_pki_request){t, {CN_ZH, EMAIL, ORG_ZH, UNIT_ZH, TITLE_ZH}, der, len, serial, F.now - 60, 0};
}

/* The certificate's SubjectPublicKeyInfo is the request's, byte for byte. */
static void
assert_spki_is(X509 *x, const unsigned char *der, size_t len)
{
	unsigned char *got = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &got);

	assert_int_equal(n, (int)len);
	assert_memory_equal(got, der, len);
	OPENSSL_free(got);
}

/* The SKI is SHA-1 of the subjectPublicKey BIT STRING's contents (RFC 5280 4.2.1.2, method 1), as
   `subjectKeyIdentifier = hash` makes it; computed here apart from the code under test. */
static void
assert_ski_is_sha1_of_key(X509 *x)
{
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
	unsigned char md[SHA_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	int i = X509_get_ext_by_NID(x, NID_subject_key_identifier, -1);

	assert_true(i >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, i)), 0);
	assert_non_null(bits);
	assert_non_null(ski);
	assert_true(EVP_Digest(ASN1_STRING_get0_data(bits), (size_t)ASN1_STRING_length(bits), md, &mdlen, EVP_sha1(),
	    NULL));
	assert_int_equal(mdlen, SHA_DIGEST_LENGTH);
	assert_int_equal(ASN1_STRING_length(ski), SHA_DIGEST_LENGTH);
	assert_memory_equal(ASN1_STRING_get0_data(ski), md, SHA_DIGEST_LENGTH);
}

/* Issues a certificate of type t for key (a fresh P-256 when NULL); *serial gets its serial. */
static X509 *
issue(enum cr_cert_type t, EVP_PKEY *key, char serial[CR_PKI_SERIAL_HEX])
{
	EVP_PKEY *k = key ? key : EVP_EC_gen("P-256");
	size_t len;
	unsigned char *der = spki(k, &len);
	struct cr_pki_request r;
	struct cr_pki_issued is;
	const unsigned char *q;
	X509 *x;

	cr_pki_serial_new(serial);
	r = request(t, der, len, serial);
	assert_int_equal(cr_pki_issue(F.p, &r, &is), CR_OK);
	assert_string_equal(is.serial_hex, serial);
	assert_int_equal(is.not_before, r.not_before);
	assert_int_equal(is.not_after, r.not_before + (time_t)days[t] * 86400);
	q = is.der;
	x = d2i_X509(NULL, &q, (long)is.der_len);
	assert_non_null(x);
	assert_ptr_equal(q, is.der + is.der_len);
	assert_spki_is(x, der, len);
	cr_pki_issued_free(&is);
	OPENSSL_free(der);
	if (key == NULL)
		EVP_PKEY_free(k);
	return x;
}

static void
assert_name(X509_NAME *n, int nid, const char *want)
{
	int i = X509_NAME_get_index_by_NID(n, nid, -1);
	const ASN1_STRING *s;

	assert_true(i >= 0);
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	if (nid != NID_countryName)
		assert_int_equal(ASN1_STRING_type(s), V_ASN1_UTF8STRING);
	assert_int_equal((size_t)ASN1_STRING_length(s), strlen(want));
	assert_memory_equal(ASN1_STRING_get0_data(s), want, strlen(want));
	assert_int_equal(X509_NAME_get_index_by_NID(n, nid, i), -1);
}

static void
assert_uri(const GENERAL_NAME *g, const char *want)
{
	assert_int_equal(g->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), want);
}

static bool
ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i)) == 1;
}

static bool
has_eku(X509 *x, const char *dotted)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	char buf[64];
	bool found = false;

	assert_non_null(eku);
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		OBJ_obj2txt(buf, sizeof(buf), sk_ASN1_OBJECT_value(eku, i), 1);
		found |= strcmp(buf, dotted) == 0;
	}
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return found;
}

/* X509_verify_cert of leaf against the root, the type's CA untrusted, strict; crl when not NULL. */
static int
verify(X509 *leaf, enum cr_cert_type t, X509_CRL *crl)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int err;

	assert_true(st && ctx && untrusted);
	assert_true(X509_STORE_add_cert(st, F.root));
	assert_true(sk_X509_push(untrusted, F.ca[t]));
	if (crl != NULL)
		assert_true(X509_STORE_add_crl(st, crl));
	assert_true(X509_STORE_CTX_init(ctx, st, leaf, untrusted));
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT | (crl ? X509_V_FLAG_CRL_CHECK : 0));
	X509_STORE_CTX_set_time(ctx, 0, F.now);
	err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(st);
	return err;
}

static void
serial_of(X509 *x, char *out, size_t n)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *h = BN_bn2hex(bn);

	assert_non_null(h);
	assert_true(cr_pki_serial_normalise(h, out, n));
	OPENSSL_free(h);
	BN_free(bn);
}

static void
dump_pem(const char *name, X509 *const *certs, size_t n)
{
	const char *dir = getenv("CR_PKI_TEST_DUMP");
	char path[512];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	for (size_t i = 0; i < n; i++)
		PEM_write_X509(f, certs[i]);
	fclose(f);
}

/* ---- DEV CAs ---- */

#define N_DEV_FILES 9
static const char *const dev_files[N_DEV_FILES] = {"root-ca.pem", "root-ca.key", "qualified-ca.pem",
    "qualified-ca.key", "encryption-ca.pem", "encryption-ca.key", "cloudsign-ca.pem", "cloudsign-ca.key",
    "vault.key"};

struct snap {
	struct stat st;
	char data[4096];
	ssize_t len;
};

static void
snapshot(const char *dir, struct snap s[N_DEV_FILES])
{
	char path[256];

	for (int i = 0; i < N_DEV_FILES; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, dev_files[i]);
		assert_int_equal(stat(path, &s[i].st), 0);
		assert_true((fd = open(path, O_RDONLY)) >= 0);
		s[i].len = read(fd, s[i].data, sizeof(s[i].data));
		close(fd);
		assert_true(s[i].len > 0);
	}
}

static bool
same(const struct snap *a, const struct snap *b)
{
	return a->len == b->len && memcmp(a->data, b->data, (size_t)a->len) == 0 &&
	    a->st.st_mtim.tv_sec == b->st.st_mtim.tv_sec && a->st.st_mtim.tv_nsec == b->st.st_mtim.tv_nsec &&
	    a->st.st_ino == b->st.st_ino;
}

static void
test_dev_init_idempotent(void **state)
{
	char dir[64] = "/tmp/test_pki_init.XXXXXX", path[256];
	struct snap a[N_DEV_FILES], b[N_DEV_FILES];
	X509 *root, *enc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cr_pki_dev_init(dir), CR_OK);
	snapshot(dir, a);
	for (int i = 0; i < N_DEV_FILES; i++)
		if (strstr(dev_files[i], ".key") != NULL)
			assert_int_equal(a[i].st.st_mode & 0777, 0600);
	assert_int_equal(cr_pki_dev_init(dir), CR_OK);
	snapshot(dir, b);
	for (int i = 0; i < N_DEV_FILES; i++)
		assert_true(same(&a[i], &b[i]));

	/* A missing type CA is made again under the same root; nothing else is touched. */
	snprintf(path, sizeof(path), "%s/encryption-ca.pem", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/encryption-ca.key", dir);
	unlink(path);
	assert_int_equal(cr_pki_dev_init(dir), CR_OK);
	snapshot(dir, b);
	for (int i = 0; i < N_DEV_FILES; i++)
		if (strncmp(dev_files[i], "encryption", 10) != 0)
			assert_true(same(&a[i], &b[i]));
		else
			assert_false(same(&a[i], &b[i]));
	snprintf(path, sizeof(path), "%s/root-ca.pem", dir);
	root = pem_cert(path);
	snprintf(path, sizeof(path), "%s/encryption-ca.pem", dir);
	enc = pem_cert(path);
	assert_int_equal(X509_check_issued(root, enc), X509_V_OK);
	assert_int_equal(X509_verify(enc, X509_get0_pubkey(root)), 1);
	X509_free(root);
	X509_free(enc);

	/* A certificate without its key (or the reverse) is refused, never replaced. */
	snapshot(dir, a);
	snprintf(path, sizeof(path), "%s/cloudsign-ca.key", dir);
	unlink(path);
	assert_int_equal(cr_pki_dev_init(dir), CR_ERR_CONFIG);
	assert_int_equal(access(path, F_OK), -1);
	{
		struct stat st;
		snprintf(path, sizeof(path), "%s/cloudsign-ca.pem", dir);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mtim.tv_nsec, a[6].st.st_mtim.tv_nsec);
	}
	/* A root gone while issuing CAs remain would orphan them: refused. */
	snprintf(path, sizeof(path), "%s/cloudsign-ca.pem", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/root-ca.pem", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/root-ca.key", dir);
	unlink(path);
	assert_int_equal(cr_pki_dev_init(dir), CR_ERR_CONFIG);
	assert_int_equal(access(path, F_OK), -1);
	sh("rm -rf '%s'", dir);
}

/* ---- issuance ---- */

static void
check_issued(enum cr_cert_type t, X509 *x, const char *serial, EVP_PKEY *key)
{
	char got[80];
	X509_NAME *n = X509_get_subject_name(x);
	GENERAL_NAMES *san;
	CERTIFICATEPOLICIES *pol;
	STACK_OF(DIST_POINT) *dps;
	AUTHORITY_INFO_ACCESS *aia;
	int d, s;
	uint32_t ku, xku;

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	serial_of(x, got, sizeof(got));
	assert_string_equal(got, serial);
	/* Subject: C=MO, O, OU, title, CN in UTF8String; issuer the type's CA. */
	assert_name(n, NID_countryName, "MO");
	assert_name(n, NID_organizationName, ORG_ZH);
	assert_name(n, NID_organizationalUnitName, UNIT_ZH);
	assert_name(n, NID_title, TITLE_ZH);
	assert_name(n, NID_commonName, CN_ZH);
	assert_int_equal(X509_NAME_entry_count(n), 5);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(F.ca[t])), 0);
	/* SAN: exactly the e-mail. */
	assert_non_null(san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL));
	assert_int_equal(sk_GENERAL_NAME_num(san), 1);
	assert_int_equal(sk_GENERAL_NAME_value(san, 0)->type, GEN_EMAIL);
	assert_string_equal((const char *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(san, 0)->d.rfc822Name), EMAIL);
	GENERAL_NAMES_free(san);
	/* Validity: the profile's days. */
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), F.now - 60), 0);
	assert_true(ASN1_TIME_diff(&d, &s, X509_get0_notBefore(x), X509_get0_notAfter(x)));
	assert_int_equal(d, days[t]);
	assert_int_equal(s, 0);
	/* basicConstraints critical CA:FALSE. */
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(ext_critical(x, NID_basic_constraints));
	/* keyUsage (critical) and extendedKeyUsage per type. */
	assert_true(ext_critical(x, NID_key_usage));
	assert_false(ext_critical(x, NID_ext_key_usage));
	ku = X509_get_key_usage(x);
	xku = X509_get_extended_key_usage(x);
	if (t == CR_CERT_ENCRYPTION) {
		uint32_t want = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? KU_KEY_ENCIPHERMENT : KU_KEY_AGREEMENT;
		assert_int_equal(ku, want);
		assert_int_equal(xku, XKU_SMIME);
	} else {
		assert_int_equal(ku, KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
		if (t == CR_CERT_QUALIFIED) {
			assert_int_equal(xku, XKU_SMIME | XKU_SSL_CLIENT);
			assert_false(has_eku(x, "1.3.6.1.5.5.7.3.36"));
		} else {
			assert_true(has_eku(x, "1.3.6.1.5.5.7.3.36")); /* documentSigning */
			assert_true(has_eku(x, "1.3.6.1.5.5.7.3.4"));
			assert_false(has_eku(x, "1.3.6.1.5.5.7.3.2"));
		}
	}
	/* certificatePolicies: the one policy OID. */
	assert_non_null(pol = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL));
	assert_int_equal(sk_POLICYINFO_num(pol), 1);
	OBJ_obj2txt(got, sizeof(got), sk_POLICYINFO_value(pol, 0)->policyid, 1);
	assert_string_equal(got, oid[t]);
	CERTIFICATEPOLICIES_free(pol);
	/* CRL DP and AIA caIssuers. */
	assert_non_null(dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL));
	assert_int_equal(sk_DIST_POINT_num(dps), 1);
	assert_int_equal(sk_DIST_POINT_value(dps, 0)->distpoint->type, 0);
	assert_uri(sk_GENERAL_NAME_value(sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname, 0), F.paths.crl[t]);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	assert_non_null(aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL));
	assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 1);
	assert_int_equal(OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia, 0)->method), NID_ad_ca_issuers);
	assert_uri(sk_ACCESS_DESCRIPTION_value(aia, 0)->location, F.paths.aia[t]);
	AUTHORITY_INFO_ACCESS_free(aia);
	/* SKI = SHA-1 of the key's BIT STRING; AKI keyid = the CA's SKI. */
	assert_ski_is_sha1_of_key(x);
	assert_non_null(X509_get0_authority_key_id(x));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(F.ca[t])), 0);
	/* Signed by the CA (SHA-256), chains to the root. */
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(F.ca[t])), 1);
	assert_int_equal(verify(x, t, NULL), X509_V_OK);
	/* The certificate holds the requested key. */
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);
}

static void
test_issue_each_type(void **state)
{
	(void)state;
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		EVP_PKEY *k = EVP_EC_gen("P-256");
		char serial[CR_PKI_SERIAL_HEX];
		X509 *x = issue((enum cr_cert_type)t, k, serial);

		check_issued((enum cr_cert_type)t, x, serial, k);
		if (t == CR_CERT_CLOUDSIGN) {
			X509 *chain[] = {F.ca[t], F.root};
			dump_pem("cloudsign.pem", &x, 1);
			dump_pem("chain.pem", chain, 2);
		}
		X509_free(x);
		EVP_PKEY_free(k);
	}
}

static void
test_issue_rsa_encryption(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(3072);
	char serial[CR_PKI_SERIAL_HEX];
	X509 *x;

	(void)state;
	assert_non_null(k);
	x = issue(CR_CERT_ENCRYPTION, k, serial);
	check_issued(CR_CERT_ENCRYPTION, x, serial, k);
	assert_int_equal(X509_get_key_usage(x), KU_KEY_ENCIPHERMENT);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
refused(struct cr_pki_request r)
{
	struct cr_pki_issued is;

	assert_int_equal(cr_pki_issue(F.p, &r, &is), CR_ERR_INVALID);
	assert_null(is.der);
}

static void
test_issue_bad_requests(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	size_t len;
	unsigned char *der = spki(k, &len), garbage[91];
	struct cr_pki_request r;
	char cn65[66];

	(void)state;
	memset(garbage, 0x30, sizeof(garbage));
	refused(request(CR_CERT_QUALIFIED, der, len, "xyz"));
	refused(request(CR_CERT_QUALIFIED, der, len, "-1f"));
	refused(request(CR_CERT_QUALIFIED, der, len, "0a:bc"));
	refused(request(CR_CERT_QUALIFIED, der, len, ""));
	refused(request(CR_CERT_QUALIFIED, der, len, NULL));
	refused(request(CR_CERT_QUALIFIED, der, len, "0"));
	refused(request(CR_CERT_QUALIFIED, der, len, "0000"));
	refused(request(CR_CERT_QUALIFIED, der, len, "123456789012345678901234567890123")); /* 33 */
	refused(request(CR_CERT_QUALIFIED, garbage, sizeof(garbage), "01"));
	refused(request(CR_CERT_QUALIFIED, der, len - 1, "01"));
	refused(request(CR_CERT_QUALIFIED, NULL, 0, "01"));
	r = request(CR_CERT_QUALIFIED, der, len, "01");
	r.subject.common_name = "";
	refused(r);
	r = request(CR_CERT_QUALIFIED, der, len, "01");
	r.subject.email = "";
	refused(r);
	r.subject.email = "no-at-sign";
	refused(r);
	r = request(CR_CERT_QUALIFIED, der, len, "01");
	memset(cn65, 'a', 65);
	cn65[65] = '\0';
	r.subject.common_name = cn65; /* ub-common-name is 64 */
	refused(r);
	r = request(CR_CERT_QUALIFIED, der, len, "01");
	r.subject.common_name = "\xff\xfe";
	refused(r);
	r = request((enum cr_cert_type)CR_CERT_TYPE_COUNT, der, len, "01");
	refused(r);
	/* 32 digits with the top bit set is still a valid positive serial. */
	{
		struct cr_pki_issued is;
		r = request(CR_CERT_QUALIFIED, der, len, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF");
		assert_int_equal(cr_pki_issue(F.p, &r, &is), CR_OK);
		assert_string_equal(is.serial_hex, "ffffffffffffffffffffffffffffffff");
		cr_pki_issued_free(&is);
	}
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* ---- request keys: the forms pki.h accepts and refuses ---- */

static unsigned char *
dup_bytes(const unsigned char *b, size_t n, size_t room)
{
	unsigned char *c = calloc(1, n + room);

	assert_non_null(c);
	memcpy(c, b, n);
	return c;
}

/* k's SubjectPublicKeyInfo with the point written in form and the curve as encoding
   (OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_*, OSSL_PKEY_EC_ENCODING_*; NULL: as k has them). */
static unsigned char *
ec_spki(EVP_PKEY *k, const char *form, const char *encoding, size_t *len)
{
	if (form != NULL)
		assert_int_equal(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, form), 1);
	if (encoding != NULL)
		assert_int_equal(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_ENCODING, encoding), 1);
	return spki(k, len);
}

/* The common case, which ca.c checks without OpenSSL's decoders: every way the 91 bytes of an EC P-256
   SubjectPublicKeyInfo can be wrong is refused. */
static void
test_request_key_p256(void **state)
{
	EVP_PKEY *k = NULL;
	size_t len, n;
	unsigned char *der = NULL, *bad;
	char serial[CR_PKI_SERIAL_HEX];
	X509 *x;

	(void)state;
	/* A key whose y is even, so that the BIT STRING below can claim an unused bit and still be DER. */
	do {
		EVP_PKEY_free(k);
		OPENSSL_free(der);
		assert_non_null(k = EVP_EC_gen("P-256"));
		der = ec_spki(k, NULL, NULL, &len);
		assert_int_equal(len, 91);
	} while (der[90] & 1);
	x = issue(CR_CERT_CLOUDSIGN, k, serial);
	check_issued(CR_CERT_CLOUDSIGN, x, serial, k);
	X509_free(x);

	bad = dup_bytes(der, len, 8);
	bad[90] ^= 1; /* y + 1: off the curve */
	refused(request(CR_CERT_QUALIFIED, bad, len, "01"));
	memcpy(bad, der, len);
	memset(bad + 27, 0xff, 32); /* x >= p */
	refused(request(CR_CERT_QUALIFIED, bad, len, "01"));
	memcpy(bad, der, len);
	memset(bad + 27, 0, 64); /* (0, 0) */
	refused(request(CR_CERT_QUALIFIED, bad, len, "01"));
	memcpy(bad, der, len);
	bad[26] = 0x06; /* hybrid form (y even), the same coordinates */
	refused(request(CR_CERT_QUALIFIED, bad, len, "01"));
	bad[26] = 0x00;
	refused(request(CR_CERT_QUALIFIED, bad, len, "01"));
	memcpy(bad, der, len);
	bad[12] ^= 0x01; /* id-ecPublicKey -> another OID */
	refused(request(CR_CERT_QUALIFIED, bad, len, "01"));
	memcpy(bad, der, len);
	bad[22] = 0x08; /* prime256v1 -> 1.2.840.10045.3.1.8, no curve */
	refused(request(CR_CERT_QUALIFIED, bad, len, "01"));
	memcpy(bad, der, len);
	bad[25] = 0x01; /* one unused bit: DER, but not a key a certificate may carry as such */
	refused(request(CR_CERT_QUALIFIED, bad, len, "01"));
	/* Trailing bytes: after the SEQUENCE, and inside it. */
	memcpy(bad, der, len);
	bad[len] = 0x00;
	refused(request(CR_CERT_QUALIFIED, bad, len + 1, "01"));
	bad[1] = 0x5b;
	bad[len] = 0x05;
	bad[len + 1] = 0x00;
	refused(request(CR_CERT_QUALIFIED, bad, len + 2, "01"));
	/* The same SEQUENCE with its length in long form: BER, not DER. */
	bad[0] = 0x30;
	bad[1] = 0x81;
	bad[2] = 0x59;
	memcpy(bad + 3, der + 2, len - 2);
	refused(request(CR_CERT_QUALIFIED, bad, len + 1, "01"));
	refused(request(CR_CERT_QUALIFIED, der, 26, "01"));
	refused(request(CR_CERT_QUALIFIED, der, len - 1, "01"));
	free(bad);
	OPENSSL_free(der);

	/* The point compressed: refused (pki.h). */
	der = ec_spki(k, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED, NULL, &n);
	assert_int_equal(n, 59);
	refused(request(CR_CERT_QUALIFIED, der, n, "01"));
	OPENSSL_free(der);
	/* The curve as explicit parameters instead of its name: refused. */
	der = ec_spki(k, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED, OSSL_PKEY_EC_ENCODING_EXPLICIT, &n);
	assert_true(n > 91);
	refused(request(CR_CERT_QUALIFIED, der, n, "01"));
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* The keys that take OpenSSL's generic decoding: P-384 and RSA, issued with the SKI of their own bits;
   the same refusals as for P-256. */
static void
test_request_key_p384_rsa(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-384"), *rsa = EVP_RSA_gen(2048), *small = EVP_RSA_gen(1024);
	size_t len, n;
	unsigned char *der, *bad;
	char serial[CR_PKI_SERIAL_HEX];
	X509 *x;

	(void)state;
	assert_true(k && rsa && small);
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		x = issue((enum cr_cert_type)t, k, serial);
		check_issued((enum cr_cert_type)t, x, serial, k);
		X509_free(x);
	}
	x = issue(CR_CERT_QUALIFIED, rsa, serial);
	check_issued(CR_CERT_QUALIFIED, x, serial, rsa);
	X509_free(x);

	der = ec_spki(k, NULL, NULL, &len);
	assert_int_equal(len, 120);
	bad = dup_bytes(der, len, 8);
	bad[len - 1] ^= 1; /* off the curve */
	refused(request(CR_CERT_QUALIFIED, bad, len, "01"));
	memcpy(bad, der, len);
	bad[len] = 0x00; /* a trailing byte */
	refused(request(CR_CERT_QUALIFIED, bad, len + 1, "01"));
	bad[0] = 0x30; /* long-form length */
	bad[1] = 0x81;
	bad[2] = 0x76;
	memcpy(bad + 3, der + 2, len - 2);
	refused(request(CR_CERT_QUALIFIED, bad, len + 1, "01"));
	free(bad);
	OPENSSL_free(der);
	der = ec_spki(k, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED, NULL, &n);
	assert_int_equal(n, 72);
	refused(request(CR_CERT_QUALIFIED, der, n, "01"));
	OPENSSL_free(der);

	/* RSA: 1024 bits refused; rsaEncryption without its NULL parameters refused. */
	der = spki(small, &n);
	refused(request(CR_CERT_QUALIFIED, der, n, "01"));
	OPENSSL_free(der);
	der = spki(rsa, &len);
	assert_int_equal(len, 294);
	assert_int_equal(der[4], 0x30);
	assert_int_equal(der[5], 0x0d);
	bad = dup_bytes(der, len, 0);
	bad[3] = 0x20; /* 0x122 - 2 */
	bad[5] = 0x0b;
	memmove(bad + 17, der + 19, len - 19);
	refused(request(CR_CERT_QUALIFIED, bad, len - 2, "01"));
	free(bad);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(small);
}

/* cr_pki is shared by the portal's threads: issuance from several at once (the P-256 group, SHA-1
   and the profile's extensions are only read) gives certificates that each verify. */
#define N_THREADS 4
#define PER_THREAD 25

struct issuer_job {
	unsigned char *der[PER_THREAD];
	size_t len[PER_THREAD];
	int ok;
};

static void *
issuer_thread(void *arg)
{
	struct issuer_job *j = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		char serial[CR_PKI_SERIAL_HEX];
		struct cr_pki_request r;
		struct cr_pki_issued is;

		cr_pki_serial_new(serial);
		r = request((enum cr_cert_type)(i % CR_CERT_TYPE_COUNT), j->der[i], j->len[i], serial);
		if (cr_pki_issue(F.p, &r, &is) == CR_OK) {
			const unsigned char *q = is.der;
			X509 *x = d2i_X509(NULL, &q, (long)is.der_len);

			j->ok += x != NULL && verify(x, r.type, NULL) == X509_V_OK;
			X509_free(x);
		}
		cr_pki_issued_free(&is);
	}
	return NULL;
}

static void
test_issue_threads(void **state)
{
	struct issuer_job jobs[N_THREADS];
	pthread_t th[N_THREADS];

	(void)state;
	memset(jobs, 0, sizeof(jobs));
	for (int t = 0; t < N_THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++) {
			EVP_PKEY *k = EVP_EC_gen("P-256");

			assert_non_null(k);
			jobs[t].der[i] = spki(k, &jobs[t].len[i]);
			EVP_PKEY_free(k);
		}
	for (int t = 0; t < N_THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, issuer_thread, &jobs[t]), 0);
	for (int t = 0; t < N_THREADS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(jobs[t].ok, PER_THREAD);
		for (int i = 0; i < PER_THREAD; i++)
			OPENSSL_free(jobs[t].der[i]);
	}
}

static void
test_issue_demo_and_chain(void **state)
{
	struct cr_pki_issued is;
	struct cr_pki_subject s = {CN_ZH, EMAIL, ORG_ZH, "", ""};
	struct cr_buf b;
	const unsigned char *q;
	time_t nb = F.now - 1000L * 86400, na = F.now + 30L * 86400;
	X509 *x, *c1, *c2;
	BIO *bio;
	char serial[80];

	(void)state;
	assert_int_equal(cr_pki_issue_demo(F.p, &s, CR_CERT_ENCRYPTION, nb, na, &is), CR_OK);
	assert_int_equal(is.not_before, nb);
	assert_int_equal(is.not_after, na);
	q = is.der;
	assert_non_null(x = d2i_X509(NULL, &q, (long)is.der_len));
	serial_of(x, serial, sizeof(serial));
	assert_string_equal(serial, is.serial_hex);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), na), 0);
	assert_int_equal(X509_get_key_usage(x), KU_KEY_AGREEMENT);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 3); /* C, O, CN: empty OU/title left out */
	assert_int_equal(verify(x, CR_CERT_ENCRYPTION, NULL), X509_V_OK);
	/* A P-256 key of its own, uncompressed, its SKI as for a request. */
	{
		char group[64];
		EVP_PKEY *pk = X509_get0_pubkey(x);

		assert_non_null(pk);
		assert_int_equal(EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL), 1);
		assert_string_equal(group, "prime256v1");
		assert_int_equal(ASN1_STRING_length(X509_get0_pubkey_bitstr(x)), 65);
		assert_int_equal(ASN1_STRING_get0_data(X509_get0_pubkey_bitstr(x))[0], 0x04);
		assert_ski_is_sha1_of_key(x);
	}
	X509_free(x);
	cr_pki_issued_free(&is);
	cr_pki_issued_free(&is); /* twice is harmless */

	cr_buf_init(&b, 64 * 1024);
	assert_int_equal(cr_pki_chain_pem(F.p, CR_CERT_CLOUDSIGN, &b), CR_OK);
	bio = BIO_new_mem_buf(b.data, (int)b.len);
	c1 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	c2 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_true(c1 && c2);
	assert_int_equal(X509_cmp(c1, F.ca[CR_CERT_CLOUDSIGN]), 0);
	assert_int_equal(X509_cmp(c2, F.root), 0);
	assert_null(PEM_read_bio_X509(bio, NULL, NULL, NULL));
	ERR_clear_error();
	X509_free(c1);
	X509_free(c2);
	BIO_free(bio);
	cr_buf_free(&b);
}

static int
cmp_serial(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_serials(void **state)
{
	enum { N = 10000 };
	char(*s)[CR_PKI_SERIAL_HEX] = calloc(N, CR_PKI_SERIAL_HEX), norm[80];

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < N; i++) {
		size_t n;

		cr_pki_serial_new(s[i]);
		n = strlen(s[i]);
		assert_true(n >= 2 && n <= 32 && n % 2 == 0);
		assert_true(strspn(s[i], "0123456789abcdef") == n);
		assert_true(cr_pki_serial_normalise(s[i], norm, sizeof(norm)));
		assert_string_equal(norm, s[i]);
		assert_false(s[i][0] == '0' && s[i][1] == '0');
		if (n == 32)
			assert_true(s[i][0] < '8'); /* top bit clear */
	}
	qsort(s, N, CR_PKI_SERIAL_HEX, cmp_serial);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(s[i - 1], s[i]);
	free(s);
}

/* ---- cr_pki_open refusing bad configuration ---- */

/* Runs cr_pki_open on cfg with stderr captured; asserts CR_ERR_CONFIG and that the log names file. */
static void
open_refused(const struct cr_pki_config *cfg, const char *file)
{
	char log[96], text[4096] = "";
	struct cr_pki *p = (struct cr_pki *)1;
	int fd, saved;
	ssize_t n;

	snprintf(log, sizeof(log), "%s/open.log", F.dir);
	assert_true((fd = open(log, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	saved = dup(2);
	dup2(fd, 2);
	assert_int_equal(cr_pki_open(cfg, &p), CR_ERR_CONFIG);
	dup2(saved, 2);
	close(saved);
	assert_null(p);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strstr(text, file));
}

static void
test_open_refuses(void **state)
{
	struct cr_pki_config cfg = F.cfg;
	char other[64] = "/tmp/test_pki_other.XXXXXX", ee_cert[128], ee_key[128], serial[CR_PKI_SERIAL_HEX];
	struct paths op;
	struct cr_pki_config ocfg;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *ee;
	FILE *f;

	(void)state;
	/* A key that is not the certificate's. */
	cfg.types[CR_CERT_QUALIFIED].ca_key_file = F.paths.key[CR_CERT_ENCRYPTION];
	open_refused(&cfg, F.paths.key[CR_CERT_ENCRYPTION]);
	/* A missing file. */
	cfg = F.cfg;
	cfg.types[CR_CERT_CLOUDSIGN].ca_cert_file = "/nonexistent/cloudsign-ca.pem";
	open_refused(&cfg, "/nonexistent/cloudsign-ca.pem");
	cfg = F.cfg;
	cfg.vault_key_file = "/nonexistent/vault.key";
	open_refused(&cfg, "/nonexistent/vault.key");
	/* A certificate that is not a CA, with its own key. */
	ee = issue(CR_CERT_QUALIFIED, k, serial);
	snprintf(ee_cert, sizeof(ee_cert), "%s/ee.pem", F.dir);
	snprintf(ee_key, sizeof(ee_key), "%s/ee.key", F.dir);
	assert_non_null(f = fopen(ee_cert, "w"));
	PEM_write_X509(f, ee);
	fclose(f);
	assert_non_null(f = fopen(ee_key, "w"));
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	/* A key others may read is refused before anything else is looked at. */
	assert_int_equal(chmod(ee_key, 0640), 0);
	cfg = F.cfg;
	cfg.types[CR_CERT_ENCRYPTION].ca_cert_file = ee_cert;
	cfg.types[CR_CERT_ENCRYPTION].ca_key_file = ee_key;
	open_refused(&cfg, ee_key);
	assert_int_equal(chmod(ee_key, 0600), 0);
	open_refused(&cfg, ee_cert);
	/* A CA under another root. */
	assert_non_null(mkdtemp(other));
	assert_int_equal(cr_pki_dev_init(other), CR_OK);
	make_config(other, &op, &ocfg);
	cfg = F.cfg;
	cfg.types[CR_CERT_QUALIFIED] = ocfg.types[CR_CERT_QUALIFIED];
	open_refused(&cfg, op.cert[CR_CERT_QUALIFIED]);
	/* Profile values out of range. */
	cfg = F.cfg;
	cfg.types[CR_CERT_CLOUDSIGN].validity_days = 0;
	open_refused(&cfg, F.paths.cert[CR_CERT_CLOUDSIGN]);
	cfg = F.cfg;
	cfg.types[CR_CERT_CLOUDSIGN].crl_url = "http://x.test/a.crl,DNS:evil";
	open_refused(&cfg, F.paths.cert[CR_CERT_CLOUDSIGN]);
	cfg = F.cfg;
	cfg.types[CR_CERT_CLOUDSIGN].policy_oid = "not.an.oid";
	open_refused(&cfg, F.paths.cert[CR_CERT_CLOUDSIGN]);
	/* Argon2id parameters out of bounds. */
	cfg = F.cfg;
	cfg.kdf_ops = 11;
	{
		struct cr_pki *p = NULL;
		assert_int_equal(cr_pki_open(&cfg, &p), CR_ERR_CONFIG);
		assert_null(p);
	}
	sh("rm -rf '%s'", other);
	X509_free(ee);
	EVP_PKEY_free(k);
}

/* ---- CRLs ---- */

static X509_CRL *
build_crl(enum cr_cert_type t, const struct cr_pki_revoked *r, size_t n, long number)
{
	struct cr_buf b;
	const unsigned char *q;
	X509_CRL *crl;

	cr_buf_init(&b, 1024 * 1024);
	assert_int_equal(cr_pki_crl_build(F.p, t, r, n, number, F.now - 60, F.now + 7 * 86400L, &b), CR_OK);
	q = (const unsigned char *)b.data;
	assert_non_null(crl = d2i_X509_CRL(NULL, &q, (long)b.len));
	assert_ptr_equal(q, (const unsigned char *)b.data + b.len);
	if (getenv("CR_PKI_TEST_DUMP") != NULL && t == CR_CERT_CLOUDSIGN) {
		char path[512];
		FILE *f;
		snprintf(path, sizeof(path), "%s/crl.der", getenv("CR_PKI_TEST_DUMP"));
		assert_non_null(f = fopen(path, "w"));
		fwrite(b.data, 1, b.len, f);
		fclose(f);
	}
	cr_buf_free(&b);
	return crl;
}

static int
entry_reason(X509_REVOKED *rev)
{
	int crit = 0;
	ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
	long v;

	if (e == NULL)
		return -1;
	v = ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return (int)v;
}

static void
test_crl(void **state)
{
	char s1[CR_PKI_SERIAL_HEX], s2[CR_PKI_SERIAL_HEX], s3[CR_PKI_SERIAL_HEX], got[80];
	X509 *x1 = issue(CR_CERT_CLOUDSIGN, NULL, s1), *x2 = issue(CR_CERT_CLOUDSIGN, NULL, s2),
	     *x3 = issue(CR_CERT_CLOUDSIGN, NULL, s3);
	struct cr_pki_revoked r[2] = {{s1, F.now - 3600, 1}, {s2, F.now - 7200, 4}};
	X509_CRL *crl = build_crl(CR_CERT_CLOUDSIGN, r, 2, 42);
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
	ASN1_INTEGER *num;
	AUTHORITY_KEYID *aki;

	(void)state;
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(F.ca[CR_CERT_CLOUDSIGN])), 0);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_lastUpdate(crl), F.now - 60), 0);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), F.now + 7 * 86400L), 0);
	assert_int_equal(sk_X509_REVOKED_num(revs), 2);
	for (int i = 0; i < 2; i++) {
		X509_REVOKED *rev = sk_X509_REVOKED_value(revs, i);
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(rev), NULL);
		char *h = BN_bn2hex(bn);
		int j;

		assert_true(cr_pki_serial_normalise(h, got, sizeof(got)));
		j = strcmp(got, s1) == 0 ? 0 : 1;
		assert_string_equal(got, r[j].serial_hex);
		assert_int_equal(ASN1_TIME_cmp_time_t(X509_REVOKED_get0_revocationDate(rev), r[j].revoked_at), 0);
		assert_int_equal(entry_reason(rev), r[j].reason);
		OPENSSL_free(h);
		BN_free(bn);
	}
	assert_non_null(num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL));
	assert_int_equal(ASN1_INTEGER_get(num), 42);
	ASN1_INTEGER_free(num);
	assert_non_null(aki = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL));
	assert_int_equal(ASN1_OCTET_STRING_cmp(aki->keyid, X509_get0_subject_key_id(F.ca[CR_CERT_CLOUDSIGN])), 0);
	AUTHORITY_KEYID_free(aki);
	assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(F.ca[CR_CERT_CLOUDSIGN])), 1);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(F.ca[CR_CERT_QUALIFIED])), 0);
	ERR_clear_error();
	/* As a relying party: the revoked are rejected, the other accepted. */
	assert_int_equal(verify(x1, CR_CERT_CLOUDSIGN, crl), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify(x2, CR_CERT_CLOUDSIGN, crl), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify(x3, CR_CERT_CLOUDSIGN, crl), X509_V_OK);
	dump_pem("revoked.pem", &x1, 1);
	dump_pem("valid.pem", &x3, 1);
	X509_CRL_free(crl);

	/* Unspecified (0) is left out, as RFC 5280 asks; an empty CRL is a CRL. */
	{
		struct cr_pki_revoked r0 = {s3, F.now - 60, 0};
		crl = build_crl(CR_CERT_QUALIFIED, &r0, 1, 1);
		assert_int_equal(entry_reason(sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), 0)), -1);
		X509_CRL_free(crl);
		crl = build_crl(CR_CERT_QUALIFIED, NULL, 0, 2);
		assert_null(X509_CRL_get_REVOKED(crl)); /* revokedCertificates absent, as RFC 5280 wants when empty */
		X509_CRL_free(crl);
	}
	/* Refused: reasons 7 and 8, a bad serial, a backwards window, a negative number. */
	{
		struct cr_buf b;
		struct cr_pki_revoked bad[] = {{s1, F.now, 7}, {s1, F.now, 8}, {s1, F.now, 11}, {"zz", F.now, 1}, {"00", F.now, 1}};
		cr_buf_init(&b, 1024 * 1024);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(cr_pki_crl_build(F.p, CR_CERT_CLOUDSIGN, &bad[i], 1, 1, F.now, F.now + 60, &b),
			    CR_ERR_INVALID);
		assert_int_equal(cr_pki_crl_build(F.p, CR_CERT_CLOUDSIGN, r, 2, 1, F.now, F.now, &b), CR_ERR_INVALID);
		assert_int_equal(cr_pki_crl_build(F.p, CR_CERT_CLOUDSIGN, r, 2, -1, F.now, F.now + 60, &b), CR_ERR_INVALID);
		assert_int_equal(b.len, 0);
		cr_buf_free(&b);
	}
	X509_free(x1);
	X509_free(x2);
	X509_free(x3);
}

/* ---- the vault ---- */

#define ACCOUNT "cs-0001"
#define PASSWORD "correct horse battery staple"

static void
test_vault_roundtrip(void **state)
{
	struct cr_vault_kdf kdf;
	struct cr_vault_sealed key, key2;
	struct cr_vault_unlock *u = NULL, *u2 = NULL;

	(void)state;
	assert_int_equal(cr_pki_vault_create(F.p, ACCOUNT, PASSWORD, &kdf, &key), CR_OK);
	assert_int_equal(kdf.ops, crypto_pwhash_OPSLIMIT_MIN);
	assert_int_equal(kdf.mem, 8u * 1024 * 1024);
	assert_true(key.sealed_len > 24 + 16 && key.public_len > 0);
	assert_int_equal(cr_pki_vault_unlock(F.p, ACCOUNT, PASSWORD, &kdf, &key, &u), CR_OK);
	assert_non_null(u);
	/* A new key: another public key, the same password opens it. */
	assert_int_equal(cr_pki_vault_new_key(F.p, u, &key2), CR_OK);
	assert_false(key2.public_len == key.public_len && memcmp(key2.public_der, key.public_der, key.public_len) == 0);
	assert_int_equal(cr_pki_vault_unlock(F.p, ACCOUNT, PASSWORD, &kdf, &key2, &u2), CR_OK);
	cr_pki_vault_unlock_free(u2);
	assert_int_equal(cr_pki_vault_unlock(F.p, ACCOUNT, "wrong", &kdf, &key2, &u2), CR_ERR_DENIED);
	assert_null(u2);
	cr_pki_vault_unlock_free(u);
	cr_pki_vault_unlock_free(NULL);
	{
		/* A salt of its own per account. */
		struct cr_vault_kdf kdf2;
		assert_int_equal(cr_pki_vault_create(F.p, ACCOUNT, PASSWORD, &kdf2, &key2), CR_OK);
		assert_memory_not_equal(kdf.salt, kdf2.salt, sizeof(kdf.salt));
	}
}

static void
denied(const char *account, const char *password, const struct cr_vault_kdf *kdf, const struct cr_vault_sealed *key,
    enum cr_err want)
{
	struct cr_vault_unlock *u = (struct cr_vault_unlock *)1;

	assert_int_equal(cr_pki_vault_unlock(F.p, account, password, kdf, key, &u), want);
	assert_null(u);
}

static void
test_vault_refusals(void **state)
{
	struct cr_vault_kdf kdf, k2;
	struct cr_vault_sealed key, k, other;
	size_t pos[] = {0, 23, 24, 40, 0};

	(void)state;
	assert_int_equal(cr_pki_vault_create(F.p, ACCOUNT, PASSWORD, &kdf, &key), CR_OK);
	assert_int_equal(cr_pki_vault_create(F.p, "cs-0002", PASSWORD, &k2, &other), CR_OK);
	denied(ACCOUNT, "correct horse battery stapl", &kdf, &key, CR_ERR_DENIED);
	denied(ACCOUNT, "", &kdf, &key, CR_ERR_DENIED);
	denied("cs-0002", PASSWORD, &kdf, &key, CR_ERR_DENIED);
	/* another account's blob under this account's kdf (same password) */
	denied(ACCOUNT, PASSWORD, &k2, &other, CR_ERR_DENIED);
	/* a flipped byte anywhere: nonce, ciphertext, tag */
	pos[4] = key.sealed_len - 1;
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		k = key;
		k.sealed[pos[i]] ^= 0x01;
		denied(ACCOUNT, PASSWORD, &kdf, &k, CR_ERR_DENIED);
	}
	/* another salt */
	k2 = kdf;
	k2.salt[0] ^= 1;
	denied(ACCOUNT, PASSWORD, &k2, &key, CR_ERR_DENIED);
	/* a changed or swapped public key */
	k = key;
	k.public_der[k.public_len - 1] ^= 0x01;
	denied(ACCOUNT, PASSWORD, &kdf, &k, CR_ERR_DENIED);
	k = key;
	memcpy(k.public_der, other.public_der, other.public_len);
	k.public_len = other.public_len;
	denied(ACCOUNT, PASSWORD, &kdf, &k, CR_ERR_DENIED);
	/* truncated */
	k = key;
	k.sealed_len--;
	denied(ACCOUNT, PASSWORD, &kdf, &k, CR_ERR_DENIED);
	k.sealed_len = 40;
	denied(ACCOUNT, PASSWORD, &kdf, &k, CR_ERR_INVALID);
	k.sealed_len = 0;
	denied(ACCOUNT, PASSWORD, &kdf, &k, CR_ERR_INVALID);
	k = key;
	k.sealed_len = CR_VAULT_MAX_SEALED + 1;
	denied(ACCOUNT, PASSWORD, &kdf, &k, CR_ERR_INVALID);
	k = key;
	k.public_len = 0;
	denied(ACCOUNT, PASSWORD, &kdf, &k, CR_ERR_INVALID);
	k.public_len = CR_VAULT_MAX_PUBLIC + 1;
	denied(ACCOUNT, PASSWORD, &kdf, &k, CR_ERR_INVALID);
	/* absurd kdf values, refused before any work */
	{
		struct cr_vault_kdf bad[] = {kdf, kdf, kdf, kdf};
		bad[0].ops = 0;
		bad[1].ops = 11;
		bad[2].mem = 1024;
		bad[3].mem = (size_t)2 * 1024 * 1024 * 1024;
		for (size_t i = 0; i < 4; i++)
			denied(ACCOUNT, PASSWORD, &bad[i], &key, CR_ERR_INVALID);
	}
	denied("", PASSWORD, &kdf, &key, CR_ERR_INVALID);
	denied(ACCOUNT, NULL, &kdf, &key, CR_ERR_INVALID);
	assert_int_equal(cr_pki_vault_create(F.p, ACCOUNT, "", &k2, &k), CR_ERR_INVALID);
	assert_int_equal(cr_pki_vault_create(F.p, "", PASSWORD, &k2, &k), CR_ERR_INVALID);
}

/* K and AD as pki.h documents them, computed here without vault.c. */
static void
scheme_key(const char *account, const char *password, const struct cr_vault_kdf *kdf, unsigned char k[32])
{
	struct cr_seal_key server;
	unsigned char pw[32], *msg;
	size_t alen = strlen(account);

	assert_int_equal(cr_seal_key_load(F.paths.vault, &server), CR_OK);
	assert_int_equal(crypto_pwhash(pw, 32, password, strlen(password), kdf->salt, kdf->ops, kdf->mem,
	                     crypto_pwhash_ALG_ARGON2ID13), 0);
	msg = malloc(32 + alen);
	memcpy(msg, pw, 32);
	memcpy(msg + 32, account, alen);
	crypto_generichash(k, 32, msg, 32 + alen, server.k, 32);
	free(msg);
}

static size_t
scheme_ad(const char *account, const unsigned char *pub, size_t publen, unsigned char *ad)
{
	static const char label[] = "certrenew vault key v1";
	size_t alen = strlen(account), n = 0;

	memcpy(ad, label, sizeof(label)); /* with the 0x00 */
	n += sizeof(label);
	memcpy(ad + n, account, alen);
	n += alen;
	ad[n++] = 0;
	cr_sha256(pub, publen, ad + n);
	return n + 32;
}

static void
test_vault_scheme(void **state)
{
	struct cr_vault_kdf kdf;
	struct cr_vault_sealed key, forged;
	unsigned char k[32], ad[512], plain[CR_VAULT_MAX_SEALED], *der = NULL;
	unsigned long long mlen = 0, clen = 0;
	size_t adlen;
	const unsigned char *q;
	EVP_PKEY *pk, *stranger = EVP_EC_gen("P-256");
	PKCS8_PRIV_KEY_INFO *p8;
	int n;

	(void)state;
	assert_int_equal(cr_pki_vault_create(F.p, ACCOUNT, PASSWORD, &kdf, &key), CR_OK);
	scheme_key(ACCOUNT, PASSWORD, &kdf, k);
	adlen = scheme_ad(ACCOUNT, key.public_der, key.public_len, ad);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, key.sealed + 24,
	                     key.sealed_len - 24, ad, adlen, key.sealed, k), 0);
	/* The plaintext is the PKCS#8 of the private half of public_der. */
	q = plain;
	assert_non_null(p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)mlen));
	assert_non_null(pk = EVP_PKCS82PKEY(p8));
	n = i2d_PUBKEY(pk, &der);
	assert_int_equal((size_t)n, key.public_len);
	assert_memory_equal(der, key.public_der, key.public_len);
	OPENSSL_free(der);
	der = NULL;
	EVP_PKEY_free(pk);
	PKCS8_PRIV_KEY_INFO_free(p8);

	/* A blob that authenticates but holds another key than public_der: refused all the same. */
	forged = key;
	assert_non_null(p8 = EVP_PKEY2PKCS8(stranger));
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	randombytes_buf(forged.sealed, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(forged.sealed + 24, &clen, der, (size_t)n, ad, adlen, NULL,
	    forged.sealed, k);
	forged.sealed_len = 24 + (size_t)clen;
	denied(ACCOUNT, PASSWORD, &kdf, &forged, CR_ERR_DENIED);
	OPENSSL_clear_free(der, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(stranger);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(plain, sizeof(plain));
}

static void
test_vault_rsa(void **state)
{
	struct cr_pki_config cfg = F.cfg;
	struct cr_pki *p = NULL;
	struct cr_vault_kdf kdf;
	struct cr_vault_sealed key;
	struct cr_vault_unlock *u = NULL;
	const unsigned char *q;
	EVP_PKEY *pub;

	(void)state;
	cfg.key_alg = CR_PKI_KEY_RSA_3072;
	assert_int_equal(cr_pki_open(&cfg, &p), CR_OK);
	assert_int_equal(cr_pki_vault_create(p, ACCOUNT, PASSWORD, &kdf, &key), CR_OK);
	q = key.public_der;
	assert_non_null(pub = d2i_PUBKEY(NULL, &q, (long)key.public_len));
	assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(pub), 3072);
	EVP_PKEY_free(pub);
	assert_int_equal(cr_pki_vault_unlock(p, ACCOUNT, PASSWORD, &kdf, &key, &u), CR_OK);
	cr_pki_vault_unlock_free(u);
	cr_pki_close(p);
}

static void
test_vault_other_server_key(void **state)
{
	char other[64] = "/tmp/test_pki_srv.XXXXXX";
	struct paths op;
	struct cr_pki_config cfg;
	struct cr_pki *p = NULL;
	struct cr_vault_kdf kdf;
	struct cr_vault_sealed key;

	(void)state;
	assert_non_null(mkdtemp(other));
	assert_int_equal(cr_pki_dev_init(other), CR_OK);
	make_config(other, &op, &cfg);
	assert_int_equal(cr_pki_open(&cfg, &p), CR_OK);
	assert_int_equal(cr_pki_vault_create(F.p, ACCOUNT, PASSWORD, &kdf, &key), CR_OK);
	{
		struct cr_vault_unlock *u = NULL;
		assert_int_equal(cr_pki_vault_unlock(p, ACCOUNT, PASSWORD, &kdf, &key, &u), CR_ERR_DENIED);
		assert_null(u);
	}
	cr_pki_close(p);
	cr_pki_close(NULL);
	sh("rm -rf '%s'", other);
}

static void
test_passphrase(void **state)
{
	char h[CR_PASSPHRASE_HASH_LEN], h2[CR_PASSPHRASE_HASH_LEN];
	const char *pass = "revoke-me-please-42";

	(void)state;
	assert_int_equal(cr_pki_passphrase_hash(F.p, pass, h), CR_OK);
	assert_true(strncmp(h, "$argon2id$", 10) == 0);
	assert_null(strstr(h, pass));
	assert_null(strstr(h, "revoke"));
	assert_true(cr_pki_passphrase_check(h, pass));
	assert_false(cr_pki_passphrase_check(h, "revoke-me-please-43"));
	assert_false(cr_pki_passphrase_check(h, ""));
	assert_false(cr_pki_passphrase_check("", pass));
	assert_false(cr_pki_passphrase_check(NULL, pass));
	assert_int_equal(cr_pki_passphrase_hash(F.p, pass, h2), CR_OK);
	assert_string_not_equal(h, h2); /* salted */
	assert_int_equal(cr_pki_passphrase_hash(F.p, "", h2), CR_ERR_INVALID);
	/* A string from a tampered database row with an absurd cost is refused before Argon2id runs:
	   this test would hang (or take gigabytes) otherwise. */
	assert_false(cr_pki_passphrase_check("$argon2id$v=19$m=4194304,t=4294967295,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
	                                     "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	    pass));
	assert_false(cr_pki_passphrase_check("$argon2id$v=19$m=65536,t=2,p=4$c2FsdHNhbHRzYWx0c2FsdA$"
	                                     "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	    pass));
	assert_false(cr_pki_passphrase_check("$argon2i$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
	                                     "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	    pass));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_init_idempotent),
		cmocka_unit_test(test_issue_each_type),
		cmocka_unit_test(test_issue_rsa_encryption),
		cmocka_unit_test(test_issue_bad_requests),
		cmocka_unit_test(test_request_key_p256),
		cmocka_unit_test(test_request_key_p384_rsa),
		cmocka_unit_test(test_issue_threads),
		cmocka_unit_test(test_issue_demo_and_chain),
		cmocka_unit_test(test_serials),
		cmocka_unit_test(test_open_refuses),
		cmocka_unit_test(test_crl),
		cmocka_unit_test(test_vault_roundtrip),
		cmocka_unit_test(test_vault_refusals),
		cmocka_unit_test(test_vault_scheme),
		cmocka_unit_test(test_vault_rsa),
		cmocka_unit_test(test_vault_other_server_key),
		cmocka_unit_test(test_passphrase),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
