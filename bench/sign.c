/*
 * Step 3 benchmark (bench/README.md): what one 「進行電子身份識別並簽署申請文件」 costs the portal's CPU
 * outside the network: rendering the application document (cairo + pango, CJK fonts embedded) and
 * validating GovID's signature over it (cr_pki_cms_verify: the ten checks), side by side with the
 * baselines in the same run: OpenSSL's own CMS_verify of the same detached signature against the same
 * CA (what `openssl cms -verify` does, without our checks of signer, digest and time) and one bare
 * ECDSA P-256 verification (what any signature check must at least do). Prints ms per operation.
 *
 * usage: build/bench/sign [N]   (make bench-sign)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/pem.h>

#include "doc/pdf.h"
#include "pki/pki.h"
#include "support/cmsfx.h"
#include "util/crypto.h"

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void
render(struct cr_doc *d, struct cr_buf *pdf)
{
	static const struct cr_doc_cert certs[] = {
		{"政府機關合格證書", "4a1b2c3d4e5f60718293a4b5c6d7e8f9", "2026-12-20"},
		{"政府機關加密證書", "5cbc7253db7ca06999db5d19d042ec97", "2026-12-20"},
		{"政府“雲簽”帳戶", "ec91f08ec9e56b96fcfbf05abb70eedd", "2026-12-20"},
	};
	static const char *const emails[] = {"wong.demo@ctt.gov.mo"};
	struct cr_doc_application a = {.app_number = "R2026-000001", .applicant_name = "xxxx xexx WONG",
	    .applicant_name_zh = "黃小華", .resident_number = "1234567(8)",
	    .org = "Direccao dos Servicos de Correios e Telecomunicacoes", .unit = "n/a", .title = "Tecnico superior",
	    .email = "wong.demo@ctt.gov.mo", .emails = emails, .n_emails = 1, .certs = certs, .n_certs = 3,
	    .identity_summary = "身份證明文件資料核對相符", .date = "2026-12-03", .nonce = "bench-nonce-0123456789"};

	cr_buf_reset(pdf);
	if (cr_doc_render_application(d, &a, pdf) != CR_OK) {
		fprintf(stderr, "bench: render failed\n");
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	char *end = NULL;
	long n = argc > 1 ? strtol(argv[1], &end, 10) : 20;
	char dir[] = "/tmp/cr-bench-sign-XXXXXX", trust[64];
	time_t now = time(NULL);
	unsigned char md[32], *cms, sig[128];
	size_t cms_len, sig_len = sizeof(sig);
	struct cr_doc *doc;
	struct cr_buf pdf;
	double t0, t_render, t_ours, t_openssl, t_ecdsa;

	if (n < 1 || n > 100000 || (argc > 1 && *end != '\0') || mkdtemp(dir) == NULL || cr_crypto_init() != CR_OK || cr_doc_new(&doc) != CR_OK)
		return 2;
	cr_buf_init(&pdf, 8u << 20);
	render(doc, &pdf); /* warm the font caches */
	t0 = now_ms();
	for (long i = 0; i < n; i++)
		render(doc, &pdf);
	t_render = (now_ms() - t0) / n;
	cr_sha256(pdf.data, pdf.len, md);

	EVP_PKEY *ca_key = cmsfx_key(), *key = cmsfx_key();
	X509 *ca = cmsfx_ca("GovID Bench CA", ca_key, NULL, NULL);
	X509 *signer = cmsfx_signer(ca, ca_key, key, "xxxx xexx WONG", "1234567(8)", now - 86400, now + 365 * 86400);
	struct cmsfx_sign s = {.signer = signer, .key = key, .digest = md, .signing_time = now};
	snprintf(trust, sizeof(trust), "%s/ca.pem", dir);
	cmsfx_write_pem(trust, &ca, 1);
	cms = cmsfx_cms(&s, &cms_len);

	struct cr_pki_sig_expect e = {.trust_file = trust, .digest = md, .resident_number = "1234567(8)", .now = now,
	    .max_age = 600, .leeway = 120};
	struct cr_pki_sig_report r;
	t0 = now_ms();
	for (long i = 0; i < n; i++)
		if (cr_pki_cms_verify(cms, cms_len, &e, &r) != CR_OK || !r.passed) {
			fprintf(stderr, "bench: our validation failed: %s\n", r.why);
			return 1;
		}
	t_ours = (now_ms() - t0) / n;

	/* Baseline: OpenSSL's CMS_verify over the same PDF and CA (store loaded each time, as we do). */
	t0 = now_ms();
	for (long i = 0; i < n; i++) {
		const unsigned char *p = cms;
		CMS_ContentInfo *ci = d2i_CMS_ContentInfo(NULL, &p, (long)cms_len);
		X509_STORE *st = X509_STORE_new();
		BIO *content = BIO_new_mem_buf(pdf.data, (int)pdf.len);
		X509_VERIFY_PARAM *vp;

		X509_STORE_load_file(st, trust);
		vp = X509_STORE_get0_param(st);
		X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_ANY);
		if (ci == NULL || CMS_verify(ci, NULL, st, content, NULL, CMS_BINARY) != 1) {
			fprintf(stderr, "bench: CMS_verify failed\n");
			return 1;
		}
		BIO_free(content);
		X509_STORE_free(st);
		CMS_ContentInfo_free(ci);
	}
	t_openssl = (now_ms() - t0) / n;

	/* Floor: one bare ECDSA P-256 verification of a SHA-256. */
	{
		EVP_PKEY_CTX *sc = EVP_PKEY_CTX_new(key, NULL);

		EVP_PKEY_sign_init(sc);
		EVP_PKEY_sign(sc, sig, &sig_len, md, sizeof(md));
		EVP_PKEY_CTX_free(sc);
		t0 = now_ms();
		for (long i = 0; i < n * 10; i++) {
			EVP_PKEY_CTX *vc = EVP_PKEY_CTX_new(key, NULL);

			EVP_PKEY_verify_init(vc);
			if (EVP_PKEY_verify(vc, sig, sig_len, md, sizeof(md)) != 1)
				return 1;
			EVP_PKEY_CTX_free(vc);
		}
		t_ecdsa = (now_ms() - t0) / (n * 10);
	}

	printf("application document (PDF, %zu bytes): %.2f ms per render\n", pdf.len, t_render);
	printf("signature validation, cr_pki_cms_verify (10 checks): %.3f ms\n", t_ours);
	printf("baseline CMS_verify (OpenSSL, content hashed): %.3f ms\n", t_openssl);
	printf("floor, one ECDSA P-256 verify: %.3f ms\n", t_ecdsa);
	printf("ratio ours / CMS_verify: %.2f\n", t_ours / t_openssl);

	OPENSSL_free(cms);
	X509_free(signer);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	unlink(trust);
	rmdir(dir);
	cr_buf_free(&pdf);
	cr_doc_free(doc);
	return 0;
}
