/*
 * libFuzzer target for pki/cms_verify: cr_pki_cms_verify over the input as the
 * CMS of a signHash answer, against a fixed expectation and a fixed trust
 * file (the GovID-like test CA below, written to a temporary file at start).
 * The seeds in fuzz/corpus/cms/ were made by fuzz/gen_cms_seeds.c with that
 * CA at FUZZ_NOW, so they reach every check: valid (with and without the CA
 * in the CMS), embedded content, another person.
 *
 * Checks beyond the sanitizers: the call succeeds (or TOOBIG past the cap);
 * passed iff why is "" iff every check is ok; a failed report names a check;
 * the report always encodes as JSON; the OpenSSL error queue is left empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "pki/pki.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1796281708 /* when the seeds were signed */

/* Public certificate only; its key signed the seeds' certificates once and was thrown away. */
static const char builtin_ca[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIByzCCAXGgAwIBAgIQAPx+RrqL9ns+evLQWrfcUTAKBggqhkjOPQQDAjA1MQsw\n"
    "CQYDVQQGEwJNTzEOMAwGA1UECgwFR292SUQxFjAUBgNVBAMMDUdvdklEIFRlc3Qg\n"
    "Q0EwHhcNMjYxMjAyMDcwODI4WhcNMzYxMTMwMDcwODI4WjA1MQswCQYDVQQGEwJN\n"
    "TzEOMAwGA1UECgwFR292SUQxFjAUBgNVBAMMDUdvdklEIFRlc3QgQ0EwWTATBgcq\n"
    "hkjOPQIBBggqhkjOPQMBBwNCAAReXDfBsSjb5EEGIiZIvdwVAsSTcPLPv5i8104F\n"
    "C94ry/XQqEpbdd1Uxzdr25Y5atrZ/XoI+yP8xl13gzu2zw9Co2MwYTAPBgNVHRMB\n"
    "Af8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQUV0vtwjL+JgVFNys7\n"
    "C7YrOgzoShAwHwYDVR0jBBgwFoAUV0vtwjL+JgVFNys7C7YrOgzoShAwCgYIKoZI\n"
    "zj0EAwIDSAAwRQIhAONNhwhKbWdEGcHsYFv+1736xg5G+WOPYvVFayb2oPo9AiAm\n"
    "S0HfKfjfHTIzlQD4n6JInf9vFlTjwyan8Y3QflT83w==\n"
    "-----END CERTIFICATE-----\n";

static const unsigned char digest[32] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
    0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe,
    0xbf};

static char trust_file[] = "/tmp/fuzz_cms_ca.XXXXXX";

static void
remove_trust_file(void)
{
	unlink(trust_file);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd = mkstemp(trust_file);

	(void)argc;
	(void)argv;
	if (fd < 0 || write(fd, builtin_ca, sizeof(builtin_ca) - 1) != (ssize_t)(sizeof(builtin_ca) - 1) ||
	    close(fd) != 0) {
		perror("fuzz_cms: the trust file");
		abort();
	}
	atexit(remove_trust_file);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cr_pki_sig_expect e = {
		.trust_file = trust_file,
		.digest = digest,
		.resident_number = "1234567(8)",
		.now = FUZZ_NOW,
		.max_age = 300,
		.leeway = 60,
	};
	struct cr_pki_sig_report r;
	struct cr_buf json;
	bool all = true;
	enum cr_err err;

	/* A non-NULL pointer even for the empty input. */
	err = cr_pki_cms_verify(size ? data : (const uint8_t *)"", size, &e, &r);
	if (err != CR_OK && !(err == CR_ERR_TOOBIG && size > CR_PKI_CMS_MAX))
		abort();
	for (size_t i = 0; i < CR_PKI_SIG_CHECKS; i++) {
		if (r.checks[i].name == NULL)
			abort();
		all = all && r.checks[i].ok;
	}
	if (r.passed != all || r.passed != (r.why[0] == '\0') || memchr(r.why, 0, sizeof(r.why)) == NULL ||
	    memchr(r.signer_subject, 0, sizeof(r.signer_subject)) == NULL ||
	    memchr(r.signer_serial_hex, 0, sizeof(r.signer_serial_hex)) == NULL)
		abort();
	cr_buf_init(&json, 16384);
	if (cr_pki_sig_report_json(&r, &json) != CR_OK)
		abort();
	cr_buf_free(&json);
	if (ERR_peek_error() != 0)
		abort();
	return 0;
}
