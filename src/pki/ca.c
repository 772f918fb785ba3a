/*
 * DEV certification authorities and certificate issuance; see pki.h.
 * Certificates follow RFC 5280 profiles per type: signing types get
 * digitalSignature + nonRepudiation, the encryption type keyAgreement (EC keys).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "util/log.h"

struct cr_pki_ca {
	X509 *cert;
	EVP_PKEY *key;
};

static void
ossl_err(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	cr_error("pki", "%s: %s", what, e ? buf : "failed");
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok;
}

static int
name_add(X509_NAME *n, const char *field, const char *value)
{
	if (value == NULL || *value == '\0')
		return 1;
	return X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, 0);
}

/* 128-bit positive random serial (RFC 5280 allows up to 20 octets). */
static int
set_serial(X509 *cert, char *hex, size_t hexlen)
{
	BIGNUM *bn = BN_new();
	char *h = NULL;
	int ok = bn != NULL && BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL && (h = BN_bn2hex(bn)) != NULL;

	if (ok && hex != NULL) {
		size_t i;
		for (i = 0; h[i] != '\0' && i + 1 < hexlen; i++)
			hex[i] = (char)((h[i] >= 'A' && h[i] <= 'F') ? h[i] + 32 : h[i]);
		hex[i] = '\0';
	}
	OPENSSL_free(h);
	BN_free(bn);
	return ok;
}

static X509 *
new_cert(EVP_PKEY *pub, time_t nb, time_t na, char *serial_hex, size_t hexlen)
{
	X509 *c = X509_new();

	if (c == NULL || !X509_set_version(c, 2) || !set_serial(c, serial_hex, hexlen) ||
	    ASN1_TIME_set(X509_getm_notBefore(c), nb) == NULL || ASN1_TIME_set(X509_getm_notAfter(c), na) == NULL ||
	    !X509_set_pubkey(c, pub)) {
		X509_free(c);
		return NULL;
	}
	return c;
}

static enum cr_err
write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, key ? 0600 : 0644);
	FILE *f;
	int ok;

	if (fd < 0) {
		cr_error("pki", "%s: %s", path, strerror(errno));
		return CR_ERR_IO;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return CR_ERR_IO;
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
	if (fclose(f) != 0 || !ok)
		return CR_ERR_IO;
	return CR_OK;
}

static enum cr_err
make_ca(const char *dir, const char *name, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, X509 **cert_out,
    EVP_PKEY **key_out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *c = NULL;
	X509_NAME *n;
	time_t now = time(NULL);
	char path[1200];
	enum cr_err err = CR_ERR_CRYPTO;

	if (key == NULL || (c = new_cert(key, now - 86400, now + 20L * 365 * 86400, NULL, 0)) == NULL)
		goto out;
	n = X509_get_subject_name(c);
	if (!name_add(n, "C", "MO") || !name_add(n, "O", "eSignTrust DEV (not for production)") ||
	    !name_add(n, "CN", cn))
		goto out;
	if (!X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n))
		goto out;
	if (!add_ext(c, issuer ? issuer : c, NID_basic_constraints, issuer ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE") ||
	    !add_ext(c, issuer ? issuer : c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(c, issuer ? issuer : c, NID_subject_key_identifier, "hash") ||
	    !add_ext(c, issuer ? issuer : c, NID_authority_key_identifier, "keyid:always"))
		goto out;
	if (!X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()))
		goto out;
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if ((err = write_pem(path, NULL, key)) != CR_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	if ((err = write_pem(path, c, NULL)) != CR_OK)
		goto out;
	*cert_out = c;
	*key_out = key;
	return CR_OK;
out:
	if (err == CR_ERR_CRYPTO)
		ossl_err("make CA");
	X509_free(c);
	EVP_PKEY_free(key);
	return err;
}

enum cr_err
cr_pki_dev_init(const char *dir)
{
	char path[1200];
	X509 *root = NULL, *issuing = NULL;
	EVP_PKEY *root_key = NULL, *issuing_key = NULL;
	enum cr_err err;

	snprintf(path, sizeof(path), "%s/issuing-ca.pem", dir);
	if (access(path, F_OK) == 0)
		return CR_OK;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		cr_error("pki", "%s: %s", dir, strerror(errno));
		return CR_ERR_IO;
	}
	if ((err = make_ca(dir, "root-ca", "eSignTrust DEV Root CA", NULL, NULL, &root, &root_key)) == CR_OK)
		err = make_ca(dir, "issuing-ca", "eSignTrust DEV Government Issuing CA", root, root_key, &issuing,
		    &issuing_key);
	X509_free(root);
	X509_free(issuing);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(issuing_key);
	if (err == CR_OK)
		cr_info("pki", "created DEV CAs in %s", dir);
	return err;
}

enum cr_err
cr_pki_ca_load(const char *dir, struct cr_pki_ca **out)
{
	struct cr_pki_ca *ca = OPENSSL_zalloc(sizeof(*ca));
	char path[1200];
	FILE *f;

	*out = NULL;
	if (ca == NULL)
		return CR_ERR_NOMEM;
	snprintf(path, sizeof(path), "%s/issuing-ca.pem", dir);
	if ((f = fopen(path, "r")) != NULL) {
		ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/issuing-ca.key", dir);
	if ((f = fopen(path, "r")) != NULL) {
		ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (ca->cert == NULL || ca->key == NULL || X509_check_private_key(ca->cert, ca->key) != 1) {
		cr_error("pki", "cannot load the issuing CA from %s", dir);
		cr_pki_ca_free(ca);
		return CR_ERR_IO;
	}
	*out = ca;
	return CR_OK;
}

void
cr_pki_ca_free(struct cr_pki_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	OPENSSL_free(ca);
}

static const char *
key_usage(enum cr_cert_type t)
{
	return t == CR_CERT_ENCRYPTION ? "critical,keyAgreement" : "critical,digitalSignature,nonRepudiation";
}

enum cr_err
cr_pki_issue_demo(const struct cr_pki_ca *ca, const struct cr_pki_subject *s, enum cr_cert_type t, time_t nb,
    time_t na, struct cr_pki_issued *out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *c = NULL;
	X509_NAME *n;
	char san[512];
	unsigned char *der = NULL;
	int len;
	enum cr_err err = CR_ERR_CRYPTO;

	memset(out, 0, sizeof(*out));
	if (key == NULL || (c = new_cert(key, nb, na, out->serial_hex, sizeof(out->serial_hex))) == NULL)
		goto out;
	n = X509_get_subject_name(c);
	if (!name_add(n, "C", "MO") || !name_add(n, "O", s->organisation) || !name_add(n, "OU", s->unit) ||
	    !name_add(n, "title", s->title) || !name_add(n, "CN", s->common_name) ||
	    !X509_set_issuer_name(c, X509_get_subject_name(ca->cert)))
		goto out;
	snprintf(san, sizeof(san), "email:%s", s->email);
	if (!add_ext(c, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(c, ca->cert, NID_key_usage, key_usage(t)) ||
	    !add_ext(c, ca->cert, NID_ext_key_usage, "emailProtection,clientAuth") ||
	    !add_ext(c, ca->cert, NID_subject_alt_name, san) ||
	    !add_ext(c, ca->cert, NID_subject_key_identifier, "hash") ||
	    !add_ext(c, ca->cert, NID_authority_key_identifier, "keyid:always"))
		goto out;
	if (!X509_sign(c, ca->key, EVP_sha256()) || (len = i2d_X509(c, &der)) <= 0)
		goto out;
	out->der = der;
	out->der_len = (size_t)len;
	out->not_before = nb;
	out->not_after = na;
	err = CR_OK;
out:
	if (err != CR_OK)
		ossl_err("issue");
	X509_free(c);
	EVP_PKEY_free(key);
	return err;
}

void
cr_pki_issued_free(struct cr_pki_issued *c)
{
	OPENSSL_free(c->der);
	c->der = NULL;
}
