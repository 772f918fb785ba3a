/*
 * govsim's GovID test CA (testca.c) and the e-ID signing certificates it issues, for the
 * e-signature service (csc.c; docs/internals/esign.md). Only csc.c uses it.
 */
#ifndef GOVSIM_TESTCA_H
#define GOVSIM_TESTCA_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/err.h"

#define GS_TESTCA_CERT "govid-ca.pem"
#define GS_TESTCA_KEY  "govid-ca.key"

/*
 * Loads DIR/govid-ca.pem and DIR/govid-ca.key (the key 0600; refused when readable by others),
 * creating both on first start: a self-signed EC P-256 CA (CA:TRUE, keyCertSign + cRLSign,
 * 10 years). *cert and *key are the caller's (X509_free, EVP_PKEY_free).
 */
enum cr_err gs_testca_open(const char *data_dir, X509 **cert, EVP_PKEY **key);
/* A new CA like that one, with the same name, only in memory (the csc_untrusted failure). */
enum cr_err gs_testca_new(X509 **cert, EVP_PKEY **key);
/*
 * A new P-256 key and its e-ID signing certificate, issued by ca/ca_key, valid from..to:
 * C=MO, O=GovID, CN=name, serialNumber=IDCMO-id_number; keyUsage critical digitalSignature +
 * nonRepudiation, basicConstraints critical CA:FALSE, SKI, AKI. Caller frees both.
 */
enum cr_err gs_testca_issue(X509 *ca, EVP_PKEY *ca_key, const char *name, const char *id_number,
    time_t from, time_t to, X509 **cert, EVP_PKEY **key);

#endif
