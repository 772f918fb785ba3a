/*
 * Reading existing certificates for the operator import (see pki.h): PEM or
 * DER in, the few facts the inventory needs out (serial, validity, e-mail
 * addresses, the DER itself). The bytes are untrusted; nothing here opens a key.
 *
 * DER is tried first when the bytes start with a SEQUENCE and must be consumed
 * exactly; otherwise the bytes are read as PEM, skipping blocks that are not
 * certificates (a key or a CSR next to the certificate is common).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"

#define MAX_SERIAL_OCTETS 32

static void
say(char *why, size_t whylen, const char *s)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", s);
}

bool
cr_pki_serial_normalise(const char *in, char *out, size_t outlen)
{
	size_t n = 0, i = 0;
	bool any = false;

	if (in == NULL || out == NULL || outlen < 2)
		return false;
	while (in[i] == ' ')
		i++;
	if (in[i] == '0' && (in[i + 1] == 'x' || in[i + 1] == 'X'))
		i += 2;
	for (; in[i] != '\0'; i++) {
		char c = in[i];

		if (c == ':' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c + 32);
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		any = true;
		if (n == 0 && c == '0')
			continue; /* leading zero digit */
		if (n + 1 >= outlen)
			return false;
		out[n++] = c;
	}
	if (!any)
		return false;
	if (n == 0)
		out[n++] = '0';
	else if (n % 2 == 1) { /* whole octets, as BN_bn2hex writes them */
		if (n + 2 > outlen)
			return false;
		memmove(out + 1, out, n);
		out[0] = '0';
		n++;
	}
	out[n] = '\0';
	return true;
}

static bool
tm_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

/* Adds an address of n bytes if it is printable ASCII and fits; others are not addresses we can compare. */
static void
add_email(struct cr_pki_cert_info *ci, const unsigned char *s, int n)
{
	if (ci->n_emails >= CR_PKI_MAX_EMAILS || n <= 0 || (size_t)n >= sizeof(ci->emails[0]))
		return;
	for (int i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return;
	memcpy(ci->emails[ci->n_emails], s, (size_t)n);
	ci->emails[ci->n_emails][n] = '\0';
	ci->n_emails++;
}

static enum cr_err
describe(X509 *x, struct cr_pki_cert_info *ci, char *why, size_t whylen)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	const X509_NAME *subj = X509_get_subject_name(x);
	GENERAL_NAMES *gens = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	unsigned char *der = NULL;
	int crit = -1, len, idx = -1;
	enum cr_err err = CR_ERR_INVALID;

	memset(ci, 0, sizeof(*ci));
	if (sn == NULL || ASN1_STRING_length(sn) <= 0 || ASN1_STRING_length(sn) > MAX_SERIAL_OCTETS) {
		say(why, whylen, "serial number missing or longer than 32 octets");
		goto out;
	}
	if ((bn = ASN1_INTEGER_to_BN(sn, NULL)) == NULL || (hex = BN_bn2hex(bn)) == NULL ||
	    strlen(hex) >= sizeof(ci->serial_hex)) {
		say(why, whylen, "unreadable serial number");
		goto out;
	}
	for (size_t i = 0; hex[i] != '\0'; i++)
		ci->serial_hex[i] = (char)((hex[i] >= 'A' && hex[i] <= 'F') ? hex[i] + 32 : hex[i]);
	ci->dates_ok = tm_time(X509_get0_notBefore(x), &ci->not_before) &&
	    tm_time(X509_get0_notAfter(x), &ci->not_after);

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL && crit != -1) {
		say(why, whylen, crit == -2 ? "two subjectAltName extensions" : "unreadable subjectAltName");
		goto out;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_EMAIL)
			add_email(ci, ASN1_STRING_get0_data(g->d.rfc822Name), ASN1_STRING_length(g->d.rfc822Name));
	}
	while ((idx = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, idx)) >= 0) {
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
		add_email(ci, ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
	}

	if ((len = i2d_X509(x, &der)) <= 0) {
		say(why, whylen, "cannot encode the certificate");
		goto out;
	}
	ci->der = der;
	ci->der_len = (size_t)len;
	der = NULL;
	err = CR_OK;
out:
	OPENSSL_free(der);
	OPENSSL_free(hex);
	BN_free(bn);
	GENERAL_NAMES_free(gens);
	return err;
}

/* Parses exactly len bytes of DER; NULL when they are not one certificate. */
static X509 *
der_cert(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);

	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

struct list {
	struct cr_pki_cert_info *v;
	size_t n, alloc;
};

static enum cr_err
push(struct list *l, X509 *x, char *why, size_t whylen)
{
	enum cr_err err;

	if (l->n == CR_PKI_MAX_PER_FILE) {
		say(why, whylen, "more than 1000 certificates in one file");
		return CR_ERR_TOOBIG;
	}
	if (l->n == l->alloc) {
		size_t na = l->alloc ? l->alloc * 2 : 4;
		struct cr_pki_cert_info *nv = realloc(l->v, na * sizeof(*nv));
		if (nv == NULL)
			return CR_ERR_NOMEM;
		l->v = nv;
		l->alloc = na;
	}
	if ((err = describe(x, &l->v[l->n], why, whylen)) != CR_OK)
		return err;
	l->n++;
	return CR_OK;
}

static enum cr_err
read_pem(const unsigned char *buf, size_t len, struct list *l, char *why, size_t whylen)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	enum cr_err err = CR_OK;

	if (bio == NULL)
		return CR_ERR_NOMEM;
	while (err == CR_OK) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;
		unsigned long e;

		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
				say(why, whylen, "a PEM block does not decode");
				err = CR_ERR_INVALID;
			}
			break;
		}
		if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0) {
			X509 *x = der_cert(data, dlen);
			if (x == NULL) {
				say(why, whylen, "a CERTIFICATE block is not an X.509 certificate");
				err = CR_ERR_INVALID;
			} else {
				err = push(l, x, why, whylen);
				X509_free(x);
			}
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
	}
	BIO_free(bio);
	if (err == CR_OK && l->n == 0) {
		say(why, whylen, "neither DER nor PEM with a CERTIFICATE block");
		err = CR_ERR_INVALID;
	}
	return err;
}

enum cr_err
cr_pki_certs_read(const unsigned char *buf, size_t len, struct cr_pki_cert_info **out, size_t *n, char *why,
    size_t whylen)
{
	struct list l = {0};
	X509 *x = NULL;
	enum cr_err err;

	*out = NULL;
	*n = 0;
	say(why, whylen, "");
	if (buf == NULL || len == 0 || len > INT_MAX) {
		say(why, whylen, len == 0 ? "empty file" : "file too large");
		return len == 0 ? CR_ERR_INVALID : CR_ERR_TOOBIG;
	}
	if (buf[0] == 0x30 && (x = der_cert(buf, (long)len)) != NULL) {
		err = push(&l, x, why, whylen);
		X509_free(x);
	} else
		err = read_pem(buf, len, &l, why, whylen);
	ERR_clear_error();
	if (err != CR_OK) {
		cr_pki_certs_free(l.v, l.n);
		return err;
	}
	*out = l.v;
	*n = l.n;
	return CR_OK;
}

void
cr_pki_certs_free(struct cr_pki_cert_info *certs, size_t n)
{
	if (certs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		OPENSSL_free(certs[i].der);
	free(certs);
}
