/*
 * libFuzzer target for the public key of an issuance request (src/pki/ca.c, cr_pki_issue): the
 * SubjectPublicKeyInfo that step 4's vault makes and that the registry's PKCS#10 requests will carry
 * (untrusted bytes at the counter).
 *
 * DEV CAs are made once in a temporary directory. Checks the promises of pki.h: CR_OK or
 * CR_ERR_INVALID only, and on CR_OK a certificate that parses and carries exactly the key bytes
 * given, whose key OpenSSL itself accepts.
 *
 * Build: see scripts/fuzz.sh. Seeds: fuzz/corpus/spki/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "pki/pki.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cr_pki *pki;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const stem[CR_CERT_TYPE_COUNT] = {"qualified-ca", "encryption-ca", "cloudsign-ca"};
	static char dir[] = "/tmp/fuzz-spki-XXXXXX";
	static char cert[CR_CERT_TYPE_COUNT][64], key[CR_CERT_TYPE_COUNT][64], root[64], vault[64];
	struct cr_pki_config cfg = {.root_cert_file = root, .vault_key_file = vault, .key_alg = CR_PKI_KEY_EC_P256};

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL || cr_pki_dev_init(dir) != CR_OK)
		abort();
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		snprintf(cert[t], sizeof(cert[t]), "%s/%s.pem", dir, stem[t]);
		snprintf(key[t], sizeof(key[t]), "%s/%s.key", dir, stem[t]);
		cfg.types[t] = (struct cr_pki_profile){cert[t], key[t], 730, "2.999.1.3", "", ""};
	}
	snprintf(root, sizeof(root), "%s/root-ca.pem", dir);
	snprintf(vault, sizeof(vault), "%s/vault.key", dir);
	if (cr_pki_open(&cfg, &pki) != CR_OK)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_pki_request r = {.type = (size > 0 ? data[0] : 0) % CR_CERT_TYPE_COUNT,
	    .subject = {"xxxx xexx WONG", "wong.demo@ctt.gov.mo", "CTT", "", "Tecnico superior"},
	    .public_key_der = size > 0 ? data + 1 : data, .public_key_len = size > 0 ? size - 1 : 0,
	    .serial_hex = "0123456789abcdef0123456789abcdef", .not_before = 1750000000};
	struct cr_pki_issued out;
	enum cr_err err = cr_pki_issue(pki, &r, &out);

	if (err != CR_OK && err != CR_ERR_INVALID)
		abort();
	if (err == CR_OK) {
		const unsigned char *p = out.der;
		X509 *x = d2i_X509(NULL, &p, (long)out.der_len);
		unsigned char *spki = NULL;
		int n;

		if (x == NULL || p != out.der + out.der_len || X509_get0_pubkey(x) == NULL)
			abort();
		n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
		if (n < 0 || (size_t)n != r.public_key_len || memcmp(spki, r.public_key_der, (size_t)n) != 0)
			abort();
		OPENSSL_free(spki);
		X509_free(x);
		cr_pki_issued_free(&out);
	}
	return 0;
}
