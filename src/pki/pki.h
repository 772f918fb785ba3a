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
#include "util/buf.h"
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

/* ---- e-signature verification (cms_verify.c; docs/internals/esign.md) ----
   GovID's signHash answer: a detached CMS SignedData, CAdES-B-B, over the SHA-256 of a document.
   The bytes are untrusted; nothing here touches a key of ours. */

#define CR_PKI_CMS_MAX (64u * 1024u) /* a signature's DER, at most */

/* What the signature must be. Everything is borrowed for the duration of the call. */
struct cr_pki_sig_expect {
	const char *trust_file;          /* PEM file of the GovID CA(s) */
	const unsigned char *digest;     /* SHA-256 of the document, 32 bytes */
	const char *resident_number;     /* signer's serialNumber must be "IDCMO-" + this (not empty) */
	const unsigned char *const *extra_der; const size_t *extra_len; size_t n_extra; /* intermediate certs
	                                    (from CSC credentials/info), untrusted, may be 0 */
	time_t now; long max_age; long leeway; /* signingTime within [now-max_age-leeway, now+leeway] */
};

/* The checks, in this order: "der" (a CMS SignedData, exactly len bytes, at most CR_PKI_CMS_MAX),
   "detached" (no eContent), "one_signer", "content_type" (eContentType and the contentType signed
   attribute are id-data), "message_digest" (digest algorithm SHA-256, the messageDigest signed attribute
   equals expect->digest), "signature" (the signer certificate is in the CMS or the extras, the signature
   over the signed attributes verifies with its key, signingCertificateV2 names it), "chain" (chains to
   the trust file at now, X509_V_FLAG_X509_STRICT; not a CA; keyUsage digitalSignature or nonRepudiation),
   "not_expired" (the signer certificate is valid now and at the signing time), "signer_identity" (one
   subject serialNumber, equal to "IDCMO-" + resident_number), "signing_time" (one signingTime, within
   the window). Every check whose inputs exist is run, so the report shows each one's result; a check
   that cannot be run (no signer, say) is false. */
#define CR_PKI_SIG_CHECKS 10
struct cr_pki_sig_report {
	bool passed; char why[128];      /* first failed check's name, "" when passed */
	char signer_subject[256];        /* one-line RFC 2253, "" when no signer certificate was found */
	char signer_serial_hex[80]; time_t signing_time; time_t cert_not_after; /* 0 when unknown */
	struct { const char *name; bool ok; } checks[CR_PKI_SIG_CHECKS]; /* names are static strings */
};

/* Verifies the DER CMS cms of len bytes against e; r is filled whenever r is not NULL.
   CR_OK whether or not the signature passes (r->passed and r->why say); CR_ERR_INVALID for NULL
   arguments or an empty resident number; CR_ERR_TOOBIG when len > CR_PKI_CMS_MAX (r->why "der");
   CR_ERR_CONFIG when the trust file cannot be read or holds no certificate; CR_ERR_NOMEM. */
enum cr_err cr_pki_cms_verify(const unsigned char *cms, size_t len, const struct cr_pki_sig_expect *e,
    struct cr_pki_sig_report *r);
/* Appends r as compact JSON to out, for the sealed evidence:
   {"passed":…,"why":…,"signer_subject":…,"signer_serial":…,"signing_time":…,"cert_not_after":…,
    "checks":{"der":true,…}} (times in Unix seconds, null when unknown). CR_ERR_TOOBIG past out's cap. */
enum cr_err cr_pki_sig_report_json(const struct cr_pki_sig_report *r, struct cr_buf *out);

#endif
