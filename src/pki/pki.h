/*
 * PKI (OpenSSL 3): the certification authorities and certificate issuance.
 * The only module that opens CA private keys; callers hand in a request and
 * get a certificate back, so this can later run as a separate signer process.
 *
 * DEV mode has its own CA pair (root + issuing CA) created by `certrenew init`
 * under var/pki/; production points at the CA's real key material.
 */
#ifndef CR_PKI_H
#define CR_PKI_H

#include <stddef.h>
#include <time.h>

#include "core/renewal.h"
#include "util/err.h"

struct cr_pki_ca;

/* Creates dir/{root-ca,issuing-ca}.{pem,key} when missing (keys mode 0600). Idempotent. */
enum cr_err cr_pki_dev_init(const char *dir);
/* Loads the issuing CA of dir. */
enum cr_err cr_pki_ca_load(const char *dir, struct cr_pki_ca **out);
void cr_pki_ca_free(struct cr_pki_ca *ca); /* NULL is a no-op */

struct cr_pki_subject {
	const char *common_name;  /* holder name */
	const char *email;
	const char *organisation; /* 機構名稱 */
	const char *unit;         /* 部門/分部, may be "" */
	const char *title;        /* 職務/職級/職位, may be "" */
};

struct cr_pki_issued {
	char serial_hex[80];      /* lower-case hex, no separators */
	unsigned char *der;       /* owned; free with cr_pki_issued_free */
	size_t der_len;
	time_t not_before, not_after;
};

/* Issues a certificate of type t for s with a fresh key pair held nowhere (DEV demo inventory). */
enum cr_err cr_pki_issue_demo(const struct cr_pki_ca *ca, const struct cr_pki_subject *s, enum cr_cert_type t,
    time_t not_before, time_t not_after, struct cr_pki_issued *out);
void cr_pki_issued_free(struct cr_pki_issued *c);

/* ---- reading existing certificates (operator import; x509_read.c) ----
   Input is untrusted; nothing here touches a key. (bool comes from core/renewal.h.) */

#define CR_PKI_MAX_EMAILS 8     /* addresses kept per certificate */
#define CR_PKI_MAX_PER_FILE 1000 /* certificates read from one PEM file */

struct cr_pki_cert_info {
	char serial_hex[80];      /* lower-case hex as cr_pki_serial_normalise gives it */
	bool dates_ok;            /* both dates readable (ASN1_TIME_to_tm) */
	time_t not_before, not_after;
	size_t n_emails;          /* rfc822Name SANs, then subject emailAddress, at most CR_PKI_MAX_EMAILS */
	char emails[CR_PKI_MAX_EMAILS][256];
	unsigned char *der;       /* owned: the certificate as encoded */
	size_t der_len;
};

/* Reads every certificate of a file's contents: PEM (CERTIFICATE blocks; other blocks are skipped)
   or a single DER certificate. On CR_OK *out holds *n >= 1 entries, to free with cr_pki_certs_free.
   CR_ERR_INVALID when the bytes are neither, a CERTIFICATE block does not parse or a serial is
   longer than 32 octets; CR_ERR_TOOBIG past CR_PKI_MAX_PER_FILE; a short reason in why either way. */
enum cr_err cr_pki_certs_read(const unsigned char *buf, size_t len, struct cr_pki_cert_info **out, size_t *n,
    char *why, size_t whylen);
void cr_pki_certs_free(struct cr_pki_cert_info *certs, size_t n); /* NULL is a no-op */

/* Normalises a serial number written in hex: case-insensitive, ':' and ' ' separators and a leading
   "0x" allowed. out gets lower-case hex without separators or leading zero octets, as certificates'
   serials are stored ("0" for zero). false when in is empty, not hex, or does not fit outlen. Pure. */
bool cr_pki_serial_normalise(const char *in, char *out, size_t outlen);

#endif
