/*
 * CRLs of the issuing CAs; see pki.h and docs/internals/issuance.md.
 * A full (not delta) v2 CRL per certificate type, signed by that type's CA with SHA-256:
 * crlNumber, AKI keyid, and per entry the serial, revocationDate and, unless unspecified
 * (RFC 5280 5.3.1: absent rather than 0), the reasonCode.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki_int.h"

/* CRLReason values a full CRL may carry: 0..10 without 7 (unused) and 8 (removeFromCRL, delta only). */
static bool
reason_ok(int r)
{
	return r >= 0 && r <= 10 && r != 7 && r != 8;
}

static enum cr_err
add_entry(X509_CRL *crl, const struct cr_pki_revoked *e)
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *reason = NULL;
	char norm[80];
	enum cr_err err;

	if (!reason_ok(e->reason))
		return CR_ERR_INVALID;
	if ((err = pki_serial_parse(e->serial_hex, &serial, norm, sizeof(norm))) != CR_OK)
		return err;
	err = CR_ERR_CRYPTO;
	if ((rev = X509_REVOKED_new()) == NULL || !X509_REVOKED_set_serialNumber(rev, serial) ||
	    (when = ASN1_TIME_set(NULL, e->revoked_at)) == NULL || !X509_REVOKED_set_revocationDate(rev, when))
		goto out;
	if (e->reason != 0 && ((reason = ASN1_ENUMERATED_new()) == NULL || !ASN1_ENUMERATED_set(reason, e->reason) ||
	                          X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0) != 1))
		goto out;
	if (!X509_CRL_add0_revoked(crl, rev))
		goto out;
	rev = NULL; /* the CRL's now */
	err = CR_OK;
out:
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(when);
	ASN1_ENUMERATED_free(reason);
	return err;
}

/* crlNumber and the AKI (the CA's SKI, which cr_pki_open made sure exists). */
static bool
add_crl_exts(X509_CRL *crl, X509 *ca, long number)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	bool ok = n != NULL && aki != NULL && ski != NULL && ASN1_INTEGER_set(n, number) &&
	    (aki->keyid = ASN1_OCTET_STRING_dup(ski)) != NULL &&
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0) == 1 &&
	    X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, aki, 0, 0) == 1;

	ASN1_INTEGER_free(n);
	AUTHORITY_KEYID_free(aki);
	return ok;
}

enum cr_err
cr_pki_crl_build(const struct cr_pki *p, enum cr_cert_type t, const struct cr_pki_revoked *r, size_t n,
    long crl_number, time_t this_update, time_t next_update, struct cr_buf *out)
{
	const struct pki_ca *ca;
	X509_CRL *crl = NULL;
	ASN1_TIME *tu = NULL, *nu = NULL;
	unsigned char *der = NULL;
	int len;
	enum cr_err err = CR_ERR_INVALID;

	if (p == NULL || !pki_type_ok(t) || (n > 0 && r == NULL) || crl_number < 0 || next_update <= this_update)
		return CR_ERR_INVALID;
	ca = &p->ca[t];
	if ((crl = X509_CRL_new()) == NULL)
		return CR_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if ((err = add_entry(crl, &r[i])) != CR_OK)
			goto out;
	err = CR_ERR_CRYPTO;
	if (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
	    (tu = ASN1_TIME_set(NULL, this_update)) == NULL || (nu = ASN1_TIME_set(NULL, next_update)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, tu) || !X509_CRL_set1_nextUpdate(crl, nu) ||
	    !add_crl_exts(crl, ca->cert, crl_number) || !X509_CRL_sort(crl) ||
	    X509_CRL_sign(crl, ca->key, EVP_sha256()) <= 0 || (len = i2d_X509_CRL(crl, &der)) <= 0)
		goto out;
	err = cr_buf_add(out, der, (size_t)len);
out:
	if (err == CR_ERR_CRYPTO)
		pki_ossl_err("CRL");
	ERR_clear_error();
	OPENSSL_free(der);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	X509_CRL_free(crl);
	return err;
}
