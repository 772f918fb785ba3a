/*
 * Step 4 benchmark (bench/README.md, "Issuance (step 4)"): what issuing one certificate costs the
 * portal's CPU. The DEV CAs are made by cr_pki_dev_init in a temporary directory and opened with
 * cr_pki_open as the portal opens them; N EC P-256 public keys (SubjectPublicKeyInfo DER) and N
 * serials are made first (the key generation is the holder's, not the CA's: timed apart and reported
 * separately); then N cr_pki_issue calls of the cloudsign type are timed, side by side in the same run
 * with the floor of what any issuance must do: one ECDSA P-256 signature with SHA-256 (the DEV CAs'
 * key kind) of a 300-byte message, N times, with a fresh key. Last, the last certificate issued is
 * written out with cr_pki_chain_pem's chain and checked with `openssl verify -x509_strict`.
 *
 * usage: build/bench/issue [N]   (N 1..1000000, default 10000; make bench-issue; bench/issue.sh)
 * Exit 0 when every issuance succeeded and the sample verifies, 1 when not, 2 when the setup failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pki/pki.h"
#include "util/buf.h"
#include "util/crypto.h"

#define MAX_N 1000000L
#define MSG_LEN 300
#define PATH_LEN 160

#define CN_ZH "黃小明"
#define ORG_ZH "澳門特別行政區政府"
#define UNIT_ZH "行政公職局"
#define TITLE_ZH "高級技術員"
#define EMAIL "wong.siuming@example.gov.mo"

/* The DEV CA file stems (cr_pki_dev_init), indexed by enum cr_cert_type, and each type's profile as
   the unit tests configure it; cloudsign: 730 days, policy 2.999.1.3. */
static const char *const stem[CR_CERT_TYPE_COUNT] = {"qualified-ca", "encryption-ca", "cloudsign-ca"};
static const char *const type_name[CR_CERT_TYPE_COUNT] = {"qualified", "encryption", "cloudsign"};
static const char *const oid[CR_CERT_TYPE_COUNT] = {"2.999.1.1", "2.999.1.2", "2.999.1.3"};
static const int days[CR_CERT_TYPE_COUNT] = {1095, 1095, 730};

/* Every file this program or cr_pki_dev_init writes in the work dir, removed at the end. */
static const char *const work_files[] = {"root-ca.pem", "root-ca.key", "qualified-ca.pem", "qualified-ca.key",
    "encryption-ca.pem", "encryption-ca.key", "cloudsign-ca.pem", "cloudsign-ca.key", "vault.key", "cert.pem",
    "chain.pem", "verify.out"};

struct paths {
	char cert[CR_CERT_TYPE_COUNT][PATH_LEN], key[CR_CERT_TYPE_COUNT][PATH_LEN];
	char crl[CR_CERT_TYPE_COUNT][PATH_LEN], aia[CR_CERT_TYPE_COUNT][PATH_LEN];
	char root[PATH_LEN], vault[PATH_LEN];
};

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void
make_config(const char *dir, struct paths *pa, struct cr_pki_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		snprintf(pa->cert[t], sizeof(pa->cert[t]), "%s/%s.pem", dir, stem[t]);
		snprintf(pa->key[t], sizeof(pa->key[t]), "%s/%s.key", dir, stem[t]);
		snprintf(pa->crl[t], sizeof(pa->crl[t]), "http://127.0.0.1/pki/%s.crl", type_name[t]);
		snprintf(pa->aia[t], sizeof(pa->aia[t]), "http://127.0.0.1/pki/%s.cer", type_name[t]);
		cfg->types[t] = (struct cr_pki_profile){pa->cert[t], pa->key[t], days[t], oid[t], pa->crl[t], pa->aia[t]};
	}
	snprintf(pa->root, sizeof(pa->root), "%s/root-ca.pem", dir);
	snprintf(pa->vault, sizeof(pa->vault), "%s/vault.key", dir);
	cfg->root_cert_file = pa->root;
	cfg->vault_key_file = pa->vault;
	cfg->key_alg = CR_PKI_KEY_EC_P256;
}

/* Writes the DER certificate as PEM to path. */
static bool
write_cert_pem(const char *path, const unsigned char *der, size_t len)
{
	const unsigned char *q = der;
	X509 *x = d2i_X509(NULL, &q, (long)len);
	FILE *f = NULL;
	bool ok = false;

	if (x == NULL || q != der + len || (f = fopen(path, "we")) == NULL)
		goto out;
	ok = PEM_write_X509(f, x) == 1;
out:
	if (f != NULL && fclose(f) != 0)
		ok = false;
	X509_free(x);
	return ok;
}

static bool
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "we");
	bool ok;

	if (f == NULL)
		return false;
	ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok;
}

/* The sample check: `openssl verify -x509_strict` of the certificate against the root, with the chain
   cr_pki_chain_pem gives as the untrusted intermediates. Prints openssl's answer. */
static bool
verify_sample(const struct cr_pki *p, const char *dir, const char *root, const struct cr_pki_issued *c)
{
	char cert[PATH_LEN], chain[PATH_LEN], out[PATH_LEN], cmd[4 * PATH_LEN + 128], line[512];
	struct cr_buf pem;
	FILE *f;
	int rc;
	bool ok = false;

	cr_buf_init(&pem, 64u * 1024);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(chain, sizeof(chain), "%s/chain.pem", dir);
	snprintf(out, sizeof(out), "%s/verify.out", dir);
	if (!write_cert_pem(cert, c->der, c->der_len) || cr_pki_chain_pem(p, CR_CERT_CLOUDSIGN, &pem) != CR_OK ||
	    !write_file(chain, pem.data, pem.len)) {
		fprintf(stderr, "bench: cannot write the sample certificate or its chain\n");
		goto out;
	}
	/* The paths are mkdtemp's: [A-Za-z0-9/._-] only, nothing the shell would read. */
	snprintf(cmd, sizeof(cmd), "openssl verify -x509_strict -CAfile '%s' -untrusted '%s' '%s' >'%s' 2>&1", root,
	    chain, cert, out);
	rc = system(cmd);
	if ((f = fopen(out, "re")) != NULL) {
		for (int i = 0; i < 20 && fgets(line, sizeof(line), f) != NULL; i++)
			printf("  openssl verify: %s", line);
		fclose(f);
	}
	ok = rc == 0;
	printf("sample check (openssl verify -x509_strict, last certificate, serial %s): %s\n", c->serial_hex,
	    ok ? "OK" : "FAILED");
out:
	cr_buf_free(&pem);
	return ok;
}

/* The floor: n ECDSA P-256 signatures (SHA-256) of a MSG_LEN-byte message with a fresh key, each with
   its own EVP_MD_CTX as X509_sign makes one. Returns the total in ms, or a negative value on failure. */
static double
raw_sign(long n)
{
	unsigned char msg[MSG_LEN], sig[80];
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	double t0, t = -1;

	if (key == NULL)
		return -1;
	cr_random(msg, sizeof(msg));
	t0 = now_ms();
	for (long i = 0; i < n; i++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		size_t sig_len = sizeof(sig);
		int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		    EVP_DigestSign(ctx, sig, &sig_len, msg, sizeof(msg)) == 1;

		EVP_MD_CTX_free(ctx);
		if (!ok)
			goto out;
	}
	t = now_ms() - t0;
out:
	EVP_PKEY_free(key);
	return t;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/cr-bench-issue-XXXXXX", path[PATH_LEN];
	char *end = NULL;
	long n = argc > 1 ? strtol(argv[1], &end, 10) : 10000, made = 0;
	struct paths pa;
	struct cr_pki_config cfg;
	struct cr_pki *p = NULL;
	unsigned char **keys = NULL;
	int *key_len = NULL;
	char (*serials)[CR_PKI_SERIAL_HEX] = NULL;
	struct cr_pki_issued last = {0};
	double t0, t_keygen, t_serial, t_issue, t_raw;
	bool have_dir = false;
	int rc = 2;

	if (argc > 2 || n < 1 || n > MAX_N || (argc > 1 && (*argv[1] == '\0' || *end != '\0'))) {
		fprintf(stderr, "usage: %s [N]   (1..%ld, default 10000)\n", argv[0], MAX_N);
		return 2;
	}
	if (cr_crypto_init() != CR_OK || mkdtemp(dir) == NULL) {
		fprintf(stderr, "bench: cannot make the work dir\n");
		return 2;
	}
	have_dir = true;
	make_config(dir, &pa, &cfg);
	if (cr_pki_dev_init(dir) != CR_OK || cr_pki_open(&cfg, &p) != CR_OK) {
		fprintf(stderr, "bench: DEV CAs could not be made or opened in %s\n", dir);
		goto out;
	}
	if ((keys = calloc((size_t)n, sizeof(*keys))) == NULL || (key_len = calloc((size_t)n, sizeof(*key_len))) == NULL ||
	    (serials = calloc((size_t)n, sizeof(*serials))) == NULL)
		goto out;

	/* (a) The holders' keys and the serials, apart from the timing of issuance. */
	t0 = now_ms();
	for (made = 0; made < n; made++) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

		key_len[made] = k != NULL ? i2d_PUBKEY(k, &keys[made]) : -1;
		EVP_PKEY_free(k);
		if (key_len[made] <= 0) {
			fprintf(stderr, "bench: key generation failed\n");
			goto out;
		}
	}
	t_keygen = now_ms() - t0;
	t0 = now_ms();
	for (long i = 0; i < n; i++)
		cr_pki_serial_new(serials[i]);
	t_serial = now_ms() - t0;

	/* (b) N issuances, each certificate freed as the portal frees it once stored, but the last. */
	rc = 1;
	time_t not_before = time(NULL);
	t0 = now_ms();
	for (long i = 0; i < n; i++) {
		struct cr_pki_request r = {.type = CR_CERT_CLOUDSIGN,
		    .subject = {CN_ZH, EMAIL, ORG_ZH, UNIT_ZH, TITLE_ZH},
		    .public_key_der = keys[i], .public_key_len = (size_t)key_len[i],
		    .serial_hex = serials[i], .not_before = not_before};
		struct cr_pki_issued c;

		if (cr_pki_issue(p, &r, &c) != CR_OK) {
			fprintf(stderr, "bench: cr_pki_issue failed at %ld\n", i);
			goto out;
		}
		cr_pki_issued_free(&last);
		last = c;
	}
	t_issue = now_ms() - t0;

	/* (c) The floor, in the same run. */
	if ((t_raw = raw_sign(n)) < 0) {
		fprintf(stderr, "bench: raw ECDSA signing failed\n");
		goto out;
	}

	double issue_rate = n / (t_issue / 1e3), raw_rate = n / (t_raw / 1e3);
	printf("N = %ld, cloudsign certificates (EC P-256 CA, SHA-256), %zu bytes DER each\n", n, last.der_len);
	printf("key generation (holder's, not timed as issuance): %.0f keys/s, %.3f ms/key\n", n / (t_keygen / 1e3),
	    t_keygen / n);
	printf("serials (cr_pki_serial_new): %.2f us/serial\n", t_serial * 1e3 / n);
	printf("issue cr_pki_issue: %.0f certs/s, %.3f ms/cert\n", issue_rate, t_issue / n);
	printf("raw ECDSA P-256 sign (EVP_DigestSign, SHA-256, %d bytes): %.0f signs/s, %.3f ms/sign\n", MSG_LEN,
	    raw_rate, t_raw / n);
	printf("ratio issue/raw: %.3f\n", issue_rate / raw_rate);

	/* (d) The sample. */
	rc = verify_sample(p, dir, pa.root, &last) ? 0 : 1;
out:
	cr_pki_issued_free(&last);
	if (keys != NULL)
		for (long i = 0; i < made && i < n; i++)
			OPENSSL_free(keys[i]);
	free(keys);
	free(key_len);
	free(serials);
	cr_pki_close(p);
	if (have_dir) {
		for (size_t i = 0; i < sizeof(work_files) / sizeof(work_files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, work_files[i]);
			unlink(path);
		}
		if (rmdir(dir) != 0)
			fprintf(stderr, "bench: %s left behind\n", dir);
	}
	return rc;
}
