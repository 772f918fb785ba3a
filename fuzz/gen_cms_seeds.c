/*
 * Makes the seeds of fuzz_cms (not a fuzz target; run by hand when the seeds must change):
 *   cc -std=c17 -D_GNU_SOURCE -Isrc -Itests/unit fuzz/gen_cms_seeds.c tests/unit/support/cmsfx.c \
 *       -lcrypto -o /tmp/gen_cms_seeds && /tmp/gen_cms_seeds fuzz/corpus/cms
 * It prints the CA's PEM and the time to paste into fuzz/fuzz_cms.c (builtin_ca, FUZZ_NOW). The
 * digest is bytes 0xa0..0xbf, the resident number "1234567(8)". The keys are thrown away.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "support/cmsfx.h"

static void
put(const char *dir, const char *name, const struct cmsfx_sign *s)
{
	char path[512];
	size_t len;
	unsigned char *der = cmsfx_cms(s, &len);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(der, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	OPENSSL_free(der);
}

int
main(int argc, char **argv)
{
	time_t now = time(NULL);
	unsigned char digest[32];
	EVP_PKEY *ca_key = cmsfx_key(), *key = cmsfx_key(), *other_key = cmsfx_key();
	X509 *ca = cmsfx_ca("GovID Test CA", ca_key, NULL, NULL);
	X509 *signer = cmsfx_signer(ca, ca_key, key, "CHAN Tai Man", "1234567(8)", now - 86400, now + 2 * 365 * 86400L);
	X509 *other = cmsfx_signer(ca, ca_key, other_key, "WONG Siu Ming", "7654321(0)", now - 86400,
	    now + 2 * 365 * 86400L);
	X509 *certs[1] = {ca};
	struct cmsfx_sign s = {.signer = signer, .key = key, .certs = certs, .n_certs = 1, .digest = digest,
	    .signing_time = now};

	if (argc != 2) {
		fprintf(stderr, "usage: gen_cms_seeds DIR\n");
		return 2;
	}
	for (int i = 0; i < 32; i++)
		digest[i] = (unsigned char)(0xa0 + i);
	put(argv[1], "valid-with-ca.der", &s);
	s.n_certs = 0;
	put(argv[1], "valid.der", &s);
	s.embed = true;
	put(argv[1], "embedded.der", &s);
	s.embed = false;
	s.signer = other;
	s.key = other_key;
	put(argv[1], "other-person.der", &s);
	printf("#define FUZZ_NOW %lld\n", (long long)now);
	PEM_write_X509(stdout, ca);
	return 0;
}
