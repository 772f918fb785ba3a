/*
 * The GovID test CA of govsim (DEV/tests only): a self-signed EC P-256 CA kept
 * in the data directory (govid-ca.pem is the portal's signing.trust_file) and
 * the e-ID signing certificates it issues. Trusts its data directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testca.h"
#include "util/file.h"
#include "util/log.h"

#define GS_LOG "govsim"
#define PATH_MAX_LEN 4096
#define PEM_MAX (64 * 1024)
#define CA_YEARS 10

static void
ossl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	cr_error(GS_LOG, "%s: %s", what, e != 0 ? buf : "failed");
	ERR_clear_error();
}

static EVP_PKEY *
new_key(void)
{
	return EVP_EC_gen("P-256");
}

/* C=MO, O=GovID, CN=cn [, serialNumber=serial]. */
static X509_NAME *
make_name(const char *cn, const char *serial)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8, (const unsigned char *)"MO", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"GovID", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    (serial != NULL && !X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_UTF8,
	        (const unsigned char *)serial, -1, -1, 0))) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok = e != NULL && X509_add_ext(x, e, -1);

	X509_EXTENSION_free(e);
	return ok;
}

/* A 128-bit random positive serial number. */
static int
set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok;
}

/*
 * A certificate for subject/pub valid from..to, signed by issuer/issuer_key (NULL issuer:
 * self-signed, a CA). Returns NULL on failure.
 */
static X509 *
make_cert(X509_NAME *subject, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key,
    time_t from, time_t to)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	int ca = issuer == NULL;
	int ok;

	if (x == NULL)
		return NULL;
	ok = X509_set_version(x, 2) && set_serial(x) &&
	    X509_set_subject_name(x, subject) &&
	    X509_set_issuer_name(x, ca ? subject : X509_get_subject_name(issuer)) &&
	    ASN1_TIME_set(X509_getm_notBefore(x), from) != NULL &&
	    ASN1_TIME_set(X509_getm_notAfter(x), to) != NULL &&
	    X509_set_pubkey(x, pub);
	if (ok) {
		X509V3_set_ctx(&ctx, ca ? x : issuer, x, NULL, NULL, 0);
		ok = add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
		    add_ext(x, &ctx, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" :
		        "critical,digitalSignature,nonRepudiation") &&
		    add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
		    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") &&
		    X509_sign(x, ca ? pub : issuer_key, EVP_sha256()) > 0;
	}
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

enum cr_err
gs_testca_new(X509 **cert, EVP_PKEY **key)
{
	time_t now = time(NULL);
	X509_NAME *name = make_name("GovID Test CA", NULL);
	EVP_PKEY *k = new_key();
	X509 *x = NULL;

	*cert = NULL;
	*key = NULL;
	if (name != NULL && k != NULL)
		x = make_cert(name, k, NULL, NULL, now - 86400, now + (time_t)CA_YEARS * 365 * 86400);
	X509_NAME_free(name);
	if (x == NULL) {
		ossl_error("test CA");
		EVP_PKEY_free(k);
		return CR_ERR_CRYPTO;
	}
	*cert = x;
	*key = k;
	return CR_OK;
}

enum cr_err
gs_testca_issue(X509 *ca, EVP_PKEY *ca_key, const char *name, const char *id_number,
    time_t from, time_t to, X509 **cert, EVP_PKEY **key)
{
	char serial[128];
	X509_NAME *subject = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int n = snprintf(serial, sizeof(serial), "IDCMO-%s", id_number);

	*cert = NULL;
	*key = NULL;
	if (n < 0 || (size_t)n >= sizeof(serial))
		return CR_ERR_INVALID;
	if ((subject = make_name(name, serial)) != NULL && (k = new_key()) != NULL)
		x = make_cert(subject, k, ca, ca_key, from, to);
	X509_NAME_free(subject);
	if (x == NULL) {
		ossl_error("e-ID certificate");
		EVP_PKEY_free(k);
		return CR_ERR_CRYPTO;
	}
	*cert = x;
	*key = k;
	return CR_OK;
}

/* PEM of a certificate or private key in memory; *out the caller's (wipe: it may be a key). */
static enum cr_err
to_pem(X509 *x, EVP_PKEY *k, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *data;
	long n;
	enum cr_err err = CR_ERR_CRYPTO;

	*out = NULL;
	if (b == NULL)
		return CR_ERR_NOMEM;
	if ((x != NULL ? PEM_write_bio_X509(b, x) : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0,
	    NULL, NULL)) != 1)
		goto out;
	if ((n = BIO_get_mem_data(b, &data)) <= 0)
		goto out;
	err = CR_ERR_NOMEM;
	if ((*out = malloc((size_t)n)) == NULL)
		goto out;
	memcpy(*out, data, (size_t)n);
	*len = (size_t)n;
	err = CR_OK;
out:
	BIO_free(b);
	return err;
}

/* Creates the CA files: the key first (0600), then the certificate (0644). */
static enum cr_err
create(const char *cert_path, const char *key_path, X509 **cert, EVP_PKEY **key)
{
	char *pem = NULL;
	size_t len = 0;
	enum cr_err err;

	if ((err = gs_testca_new(cert, key)) != CR_OK)
		return err;
	if ((err = to_pem(NULL, *key, &pem, &len)) != CR_OK ||
	    (err = cr_file_write_secret(key_path, pem, len)) != CR_OK)
		goto out;
	OPENSSL_cleanse(pem, len);
	free(pem);
	pem = NULL;
	if ((err = to_pem(*cert, NULL, &pem, &len)) != CR_OK ||
	    (err = cr_file_write_secret(cert_path, pem, len)) != CR_OK)
		goto out;
	if (chmod(cert_path, 0644) == -1)
		cr_warn(GS_LOG, "%s: chmod 644: %s", cert_path, strerror(errno));
	cr_info(GS_LOG, "created the GovID test CA %s", cert_path);
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, len);
		free(pem);
	}
	if (err != CR_OK) {
		X509_free(*cert);
		EVP_PKEY_free(*key);
		*cert = NULL;
		*key = NULL;
	}
	return err;
}

static enum cr_err
load(const char *cert_path, const char *key_path, X509 **cert, EVP_PKEY **key)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	BIO *b = NULL;
	enum cr_err err;

	if (stat(key_path, &st) == 0 && (st.st_mode & 077) != 0) {
		cr_error(GS_LOG, "%s: readable by others; chmod 600 it", key_path);
		return CR_ERR_CONFIG;
	}
	if ((err = cr_file_read(key_path, PEM_MAX, CR_FILE_NOFOLLOW, &text, &len)) != CR_OK)
		goto out;
	err = CR_ERR_CONFIG;
	if ((b = BIO_new_mem_buf(text, (int)len)) == NULL ||
	    (*key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL)
		goto out;
	BIO_free(b);
	b = NULL;
	OPENSSL_cleanse(text, len);
	free(text);
	text = NULL;
	if ((err = cr_file_read(cert_path, PEM_MAX, 0, &text, &len)) != CR_OK)
		goto out;
	err = CR_ERR_CONFIG;
	if ((b = BIO_new_mem_buf(text, (int)len)) == NULL ||
	    (*cert = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		goto out;
	if (X509_check_private_key(*cert, *key) != 1)
		goto out;
	err = CR_OK;
out:
	BIO_free(b);
	if (text != NULL) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	if (err != CR_OK) {
		ERR_clear_error();
		X509_free(*cert);
		EVP_PKEY_free(*key);
		*cert = NULL;
		*key = NULL;
	}
	return err;
}

enum cr_err
gs_testca_open(const char *data_dir, X509 **cert, EVP_PKEY **key)
{
	char cert_path[PATH_MAX_LEN], key_path[PATH_MAX_LEN];
	int c_ok, k_ok;
	enum cr_err err;

	*cert = NULL;
	*key = NULL;
	if (snprintf(cert_path, sizeof(cert_path), "%s/%s", data_dir, GS_TESTCA_CERT) >=
	    (int)sizeof(cert_path) ||
	    snprintf(key_path, sizeof(key_path), "%s/%s", data_dir, GS_TESTCA_KEY) >=
	    (int)sizeof(key_path))
		return CR_ERR_CONFIG;
	c_ok = access(cert_path, F_OK) == 0;
	k_ok = access(key_path, F_OK) == 0;
	if (!c_ok && !k_ok)
		return create(cert_path, key_path, cert, key);
	if (c_ok != k_ok) {
		cr_error(GS_LOG, "%s: has only one of %s and %s; remove it to make a new test CA",
		    data_dir, GS_TESTCA_CERT, GS_TESTCA_KEY);
		return CR_ERR_CONFIG;
	}
	if ((err = load(cert_path, key_path, cert, key)) != CR_OK)
		cr_error(GS_LOG, "%s, %s: not a usable test CA (%s)", cert_path, key_path,
		    cr_err_str(err));
	return err;
}
