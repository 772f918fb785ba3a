/*
 * Fixtures for the e-signature tests: a GovID-like test CA, e-ID signing
 * certificates (docs/internals/esign.md) and detached CMS SignedData made as
 * GovID's signHash makes them (CAdES-B-B over a given SHA-256), with EC P-256
 * keys for speed. Every function aborts on failure: these are fixtures.
 */
#ifndef CR_TESTS_CMSFX_H
#define CR_TESTS_CMSFX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* A fresh P-256 key. */
EVP_PKEY *cmsfx_key(void);
/* A CA certificate named "C=MO, O=GovID, CN=<cn>" valid from a day ago for ten years: self-signed when
   issuer is NULL, else issued by issuer/issuer_key (an intermediate). */
X509 *cmsfx_ca(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key);
/* An e-ID signing certificate "C=MO, O=GovID, CN=<name>, serialNumber=IDCMO-<resident>", keyUsage critical
   digitalSignature + nonRepudiation, valid [not_before, not_after]. */
X509 *cmsfx_signer(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *name, const char *resident,
    time_t not_before, time_t not_after);

struct cmsfx_sign {
	X509 *signer;
	EVP_PKEY *key;
	X509 *const *certs; size_t n_certs; /* carried in the CMS besides the signer (see no_signer_cert) */
	const unsigned char *digest;        /* 32 bytes */
	time_t signing_time;
	bool embed;                         /* eContent present (not detached) */
	bool no_signer_cert;                /* the signer certificate not in the CMS */
};
/* The DER of the SignedData; *len its length; free with OPENSSL_free. */
unsigned char *cmsfx_cms(const struct cmsfx_sign *s, size_t *len);

/* x as DER (OPENSSL_free) / as a PEM file at path. */
unsigned char *cmsfx_der(X509 *x, size_t *len);
void cmsfx_write_pem(const char *path, X509 *const *certs, size_t n);

#endif
