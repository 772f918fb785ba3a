/*
 * Internals of the pki module shared by ca.c, crl.c and vault.c (curl's *_int.h).
 * Nothing outside src/pki includes this: the CA keys stay behind pki.h.
 */
#ifndef CR_PKI_INT_H
#define CR_PKI_INT_H

#include <openssl/asn1.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki.h"
#include "util/seal.h"

#define PKI_OID_MAX 128
#define PKI_URL_MAX 512

/* One issuing CA and the profile of what it issues; strings copied from the config. */
struct pki_ca {
	X509 *cert;
	EVP_PKEY *key;
	int validity_days;
	time_t not_after;             /* the CA certificate's own: issued certificates end no later */
	char policy_oid[PKI_OID_MAX]; /* "" none */
	char crl_url[PKI_URL_MAX];    /* "" none */
	char aia_url[PKI_URL_MAX];    /* "" none */
	/* The extensions every certificate of this CA carries, built once by cr_pki_open and copied into
	   each (X509_add_ext duplicates; only read after). The SAN and SKI, between ext_eku and ext_aki
	   in the certificate, are made per certificate. NULL where the profile has none. */
	X509_EXTENSION *ext_bc, *ext_ku[2], *ext_eku; /* ext_ku: [0] for an EC subject key, [1] for RSA */
	X509_EXTENSION *ext_aki, *ext_policy, *ext_crl, *ext_aia;
};

struct cr_pki {
	struct pki_ca ca[CR_CERT_TYPE_COUNT];
	X509 *root;
	/* Made once by cr_pki_open for cr_pki_issue, only read after (OpenSSL takes them as const): the
	   P-256 group that checks a request's point is on the curve, SHA-1 for the SKI. */
	EC_GROUP *p256;
	EVP_MD *sha1;
	struct cr_seal_key vault_key;
	enum cr_pki_key_alg key_alg;
	unsigned long long kdf_ops; /* resolved: never 0 */
	size_t kdf_mem;
};

/* Logs the first queued OpenSSL error (or "failed") under what, and clears the queue. */
void pki_ossl_err(const char *what);
/* Parses a serial of 1..32 hex digits, not zero, into *out (ASN1_INTEGER_free); norm gets the
   normalised form (cr_pki_serial_normalise). CR_ERR_INVALID otherwise, CR_ERR_NOMEM. */
enum cr_err pki_serial_parse(const char *hex, ASN1_INTEGER **out, char *norm, size_t normlen);
/* Argon2id parameters inside the bounds the vault accepts (pki.h: cr_pki_vault_unlock). */
bool pki_kdf_ok(unsigned long long ops, size_t mem);
/* Whether t names a certificate type. */
bool pki_type_ok(enum cr_cert_type t);

#endif
