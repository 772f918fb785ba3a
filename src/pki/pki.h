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

#endif
