/*
 * Unit tests of cr_pki_cms_verify (src/pki/cms_verify.c, docs/internals/esign.md):
 * GovID-like signatures made here (support/cmsfx.h) that pass, and one for each
 * way a signature must fail, each asserting the name of the check that failed;
 * prefixes of a valid signature and garbage never crash and fail "der".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "pki/pki.h"
#include "support/cmsfx.h"

#define RESIDENT "1234567(8)"
#define MAX_AGE 300
#define LEEWAY 60

struct fx {
	char dir[64], trust[96];
	EVP_PKEY *ca_key, *other_ca_key, *root_key, *inter_key, *key, *other_key;
	X509 *ca, *other_ca, *root, *inter;
	X509 *signer;        /* RESIDENT, by ca */
	X509 *other_person;  /* another resident number, by ca */
	X509 *untrusted;     /* RESIDENT, by other_ca (same name as ca, another key) */
	X509 *expired;       /* RESIDENT, by ca, ended a year ago */
	X509 *via_inter;     /* RESIDENT, by inter (by root) */
	unsigned char digest[32];
	time_t now;
};

static struct fx F;

static int
setup(void **state)
{
	time_t now = time(NULL);
	X509 *trusted[2];

	(void)state;
	memset(&F, 0, sizeof(F));
	F.now = now;
	snprintf(F.dir, sizeof(F.dir), "/tmp/test_cms.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	snprintf(F.trust, sizeof(F.trust), "%s/govid-ca.pem", F.dir);
	F.ca_key = cmsfx_key();
	F.other_ca_key = cmsfx_key();
	F.root_key = cmsfx_key();
	F.inter_key = cmsfx_key();
	F.key = cmsfx_key();
	F.other_key = cmsfx_key();
	F.ca = cmsfx_ca("GovID Test CA", F.ca_key, NULL, NULL);
	F.other_ca = cmsfx_ca("GovID Test CA", F.other_ca_key, NULL, NULL);
	F.root = cmsfx_ca("GovID Root CA", F.root_key, NULL, NULL);
	F.inter = cmsfx_ca("GovID Signing CA", F.inter_key, F.root, F.root_key);
	F.signer = cmsfx_signer(F.ca, F.ca_key, F.key, "CHAN Tai Man", RESIDENT, now - 86400, now + 2 * 365 * 86400L);
	F.other_person = cmsfx_signer(F.ca, F.ca_key, F.other_key, "WONG Siu Ming", "7654321(0)", now - 86400,
	    now + 2 * 365 * 86400L);
	F.untrusted = cmsfx_signer(F.other_ca, F.other_ca_key, F.key, "CHAN Tai Man", RESIDENT, now - 86400,
	    now + 2 * 365 * 86400L);
	F.expired = cmsfx_signer(F.ca, F.ca_key, F.key, "CHAN Tai Man", RESIDENT, now - 3 * 365 * 86400L,
	    now - 365 * 86400L);
	F.via_inter = cmsfx_signer(F.inter, F.inter_key, F.key, "CHAN Tai Man", RESIDENT, now - 86400,
	    now + 2 * 365 * 86400L);
	trusted[0] = F.ca;
	trusted[1] = F.root;
	cmsfx_write_pem(F.trust, trusted, 2);
	for (int i = 0; i < 32; i++)
		F.digest[i] = (unsigned char)(0xa0 + i);
	return 0;
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	unlink(F.trust);
	snprintf(path, sizeof(path), "%s", F.dir);
	rmdir(path);
	X509 *certs[] = {F.ca, F.other_ca, F.root, F.inter, F.signer, F.other_person, F.untrusted, F.expired,
	    F.via_inter};
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	EVP_PKEY *keys[] = {F.ca_key, F.other_ca_key, F.root_key, F.inter_key, F.key, F.other_key};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	return 0;
}

static struct cr_pki_sig_expect
expect(void)
{
	return (struct cr_pki_sig_expect){
		.trust_file = F.trust,
		.digest = F.digest,
		.resident_number = RESIDENT,
		.now = F.now,
		.max_age = MAX_AGE,
		.leeway = LEEWAY,
	};
}

/* A signature as GovID makes it: signer + CA in the CMS, over F.digest, signed now. */
static struct cmsfx_sign
govid(X509 *signer, EVP_PKEY *key)
{
	static X509 *ca[1];

	ca[0] = F.ca;
	return (struct cmsfx_sign){
		.signer = signer,
		.key = key,
		.certs = ca,
		.n_certs = 1,
		.digest = F.digest,
		.signing_time = F.now - 5,
	};
}

/* Verifies s under e; returns why ("" when passed), asserting the call itself succeeded. */
static const char *
verdict(const struct cmsfx_sign *s, const struct cr_pki_sig_expect *e, struct cr_pki_sig_report *r)
{
	unsigned char *der;
	size_t len;

	der = cmsfx_cms(s, &len);
	assert_int_equal(cr_pki_cms_verify(der, len, e, r), CR_OK);
	OPENSSL_free(der);
	assert_int_equal(ERR_peek_error(), 0);
	assert_true(r->passed == (r->why[0] == '\0'));
	return r->why;
}

static bool
check(const struct cr_pki_sig_report *r, const char *name)
{
	for (size_t i = 0; i < CR_PKI_SIG_CHECKS; i++)
		if (strcmp(r->checks[i].name, name) == 0)
			return r->checks[i].ok;
	fail_msg("no check %s", name);
	return false;
}

/* ---- passing ---- */

static void
test_pass(void **state)
{
	struct cmsfx_sign s = govid(F.signer, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;
	static const char *const names[] = {"der", "detached", "one_signer", "content_type", "message_digest",
	    "signature", "chain", "not_expired", "signer_identity", "signing_time"};

	(void)state;
	assert_string_equal(verdict(&s, &e, &r), "");
	assert_true(r.passed);
	for (size_t i = 0; i < CR_PKI_SIG_CHECKS; i++) {
		assert_string_equal(r.checks[i].name, names[i]);
		assert_true(r.checks[i].ok);
	}
	assert_non_null(strstr(r.signer_subject, "serialNumber=IDCMO-" RESIDENT));
	assert_non_null(strstr(r.signer_subject, "CN=CHAN Tai Man"));
	assert_true(strlen(r.signer_serial_hex) >= 2);
	assert_int_equal(r.signing_time, F.now - 5);
	assert_true(r.cert_not_after > F.now);

	/* At the edges of the window. */
	s.signing_time = F.now - MAX_AGE - LEEWAY;
	assert_string_equal(verdict(&s, &e, &r), "");
	s.signing_time = F.now + LEEWAY;
	assert_string_equal(verdict(&s, &e, &r), "");
}

static void
test_pass_with_extras(void **state)
{
	struct cmsfx_sign s = govid(F.via_inter, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;
	size_t inter_len, signer_len;
	unsigned char *inter = cmsfx_der(F.inter, &inter_len), *signer = cmsfx_der(F.via_inter, &signer_len);
	const unsigned char *ders[2] = {signer, inter};
	size_t lens[2] = {signer_len, inter_len};

	(void)state;
	s.n_certs = 0;
	/* The intermediate is in neither the CMS nor the extras: no chain. */
	assert_string_equal(verdict(&s, &e, &r), "chain");
	/* From credentials/info it is. */
	e.extra_der = ders + 1;
	e.extra_len = lens + 1;
	e.n_extra = 1;
	assert_string_equal(verdict(&s, &e, &r), "");
	/* The signer certificate only in the extras. */
	s.no_signer_cert = true;
	e.extra_der = ders;
	e.extra_len = lens;
	e.n_extra = 2;
	assert_string_equal(verdict(&s, &e, &r), "");
	/* Without it there is no key to verify with. */
	e.extra_der = ders + 1;
	e.extra_len = lens + 1;
	e.n_extra = 1;
	assert_string_equal(verdict(&s, &e, &r), "signature");
	assert_string_equal(r.signer_subject, "");
	/* An extra that is not a certificate is refused. */
	s.no_signer_cert = false;
	lens[1] = inter_len - 1;
	assert_string_equal(verdict(&s, &e, &r), "chain");
	OPENSSL_free(inter);
	OPENSSL_free(signer);
}

/* ---- failing, one check at a time ---- */

static void
test_wrong_digest(void **state)
{
	struct cmsfx_sign s = govid(F.signer, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;
	unsigned char other[32];

	(void)state;
	memcpy(other, F.digest, 32);
	other[31] ^= 1;
	e.digest = other;
	assert_string_equal(verdict(&s, &e, &r), "message_digest");
	/* The other checks still ran and passed: the record shows exactly what was wrong. */
	assert_true(check(&r, "signature"));
	assert_true(check(&r, "chain"));
	assert_true(check(&r, "signer_identity"));
	assert_false(check(&r, "message_digest"));
}

static void
test_wrong_signer(void **state)
{
	struct cmsfx_sign s = govid(F.other_person, F.other_key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;

	(void)state;
	assert_string_equal(verdict(&s, &e, &r), "signer_identity");
	assert_non_null(strstr(r.signer_subject, "IDCMO-7654321(0)"));
	/* A prefix or an extension of the number is not the number. */
	s = govid(F.signer, F.key);
	e.resident_number = "1234567";
	assert_string_equal(verdict(&s, &e, &r), "signer_identity");
	e.resident_number = RESIDENT "0";
	assert_string_equal(verdict(&s, &e, &r), "signer_identity");
}

static void
test_untrusted_ca(void **state)
{
	static X509 *other[1];
	struct cmsfx_sign s = govid(F.untrusted, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;

	(void)state;
	assert_string_equal(verdict(&s, &e, &r), "chain");
	/* Carrying the other CA in the CMS changes nothing: certificates there are not trusted. */
	other[0] = F.other_ca;
	s.certs = other;
	assert_string_equal(verdict(&s, &e, &r), "chain");
	assert_true(check(&r, "signature"));
}

static void
test_expired_cert(void **state)
{
	struct cmsfx_sign s = govid(F.expired, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;

	(void)state;
	assert_string_equal(verdict(&s, &e, &r), "not_expired");
	assert_true(check(&r, "chain"));
	assert_true(r.cert_not_after < F.now);
	/* Signed while valid, verified after: still expired now. */
	s.signing_time = F.now - 2 * 365 * 86400L;
	e.max_age = 3 * 365 * 86400L;
	assert_string_equal(verdict(&s, &e, &r), "not_expired");
}

static void
test_stale_signing_time(void **state)
{
	struct cmsfx_sign s = govid(F.signer, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;

	(void)state;
	s.signing_time = F.now - MAX_AGE - LEEWAY - 1;
	assert_string_equal(verdict(&s, &e, &r), "signing_time");
	s.signing_time = F.now - 3600;
	assert_string_equal(verdict(&s, &e, &r), "signing_time");
	s.signing_time = F.now + LEEWAY + 1; /* from the future */
	assert_string_equal(verdict(&s, &e, &r), "signing_time");
}

static void
test_bad_signature(void **state)
{
	struct cmsfx_sign s = govid(F.signer, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;
	unsigned char *der;
	size_t len;

	(void)state;
	/* The signature value is the last octets of the encoding. */
	der = cmsfx_cms(&s, &len);
	der[len - 1] ^= 0x01;
	assert_int_equal(cr_pki_cms_verify(der, len, &e, &r), CR_OK);
	assert_string_equal(r.why, "signature");
	OPENSSL_free(der);
	/* A signed attribute changed after signing: the signingTime's seconds digit (the last UTCTime:
	   the certificates' come first). */
	der = cmsfx_cms(&s, &len);
	for (size_t i = len - 15; i > 0; i--)
		if (der[i] == 0x17 && der[i + 1] == 13 && der[i + 14] == 'Z') {
			der[i + 13] = der[i + 13] == '0' ? '1' : '0';
			break;
		}
	assert_int_equal(cr_pki_cms_verify(der, len, &e, &r), CR_OK);
	assert_string_equal(r.why, "signature");
	assert_true(check(&r, "signing_time"));
	OPENSSL_free(der);
}

static void
test_embedded_content(void **state)
{
	struct cmsfx_sign s = govid(F.signer, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;

	(void)state;
	s.embed = true;
	assert_string_equal(verdict(&s, &e, &r), "detached");
}

/* ---- malformed input ---- */

static void
test_truncated(void **state)
{
	struct cmsfx_sign s = govid(F.signer, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;
	unsigned char *der, *copy;
	size_t len;

	(void)state;
	der = cmsfx_cms(&s, &len);
	for (size_t n = 0; n < len; n += (n < 64 || n > len - 64) ? 1 : 7) {
		/* A copy of exactly n bytes, so that ASan sees any read past the end. */
		copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, der, n);
		assert_int_equal(cr_pki_cms_verify(copy, n, &e, &r), CR_OK);
		if (strcmp(r.why, "der") != 0)
			fail_msg("a prefix of %zu of %zu bytes: why \"%s\"", n, len, r.why);
		free(copy);
		assert_int_equal(ERR_peek_error(), 0);
	}
	/* Trailing bytes are refused too. */
	copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, der, len);
	copy[len] = 0;
	assert_int_equal(cr_pki_cms_verify(copy, len + 1, &e, &r), CR_OK);
	assert_string_equal(r.why, "der");
	free(copy);
	OPENSSL_free(der);
}

static void
test_garbage(void **state)
{
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;
	unsigned char buf[4096];
	static const char *const texts[] = {"not DER at all", "{\"signatures\":[]}", "\x30\x80", "\x30\x03\x02\x01\x01",
	    "MIIB"};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(cr_pki_cms_verify((const unsigned char *)texts[i], strlen(texts[i]), &e, &r), CR_OK);
		assert_string_equal(r.why, "der");
		assert_false(r.passed);
	}
	srand(7);
	for (int round = 0; round < 200; round++) {
		size_t n = (size_t)(rand() % (int)sizeof(buf)) + 1;

		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)rand();
		if (round % 2 == 0)
			buf[0] = 0x30;
		assert_int_equal(cr_pki_cms_verify(buf, n, &e, &r), CR_OK);
		assert_string_equal(r.why, "der");
	}
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_too_big(void **state)
{
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;
	unsigned char *big = calloc(1, CR_PKI_CMS_MAX + 1);

	(void)state;
	assert_non_null(big);
	big[0] = 0x30;
	assert_int_equal(cr_pki_cms_verify(big, CR_PKI_CMS_MAX + 1, &e, &r), CR_ERR_TOOBIG);
	assert_false(r.passed);
	assert_string_equal(r.why, "der");
	/* At the cap it is only malformed. */
	assert_int_equal(cr_pki_cms_verify(big, CR_PKI_CMS_MAX, &e, &r), CR_OK);
	assert_string_equal(r.why, "der");
	free(big);
}

/* ---- the call's own errors ---- */

static void
test_bad_arguments(void **state)
{
	struct cmsfx_sign s = govid(F.signer, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;
	unsigned char *der;
	size_t len;

	(void)state;
	der = cmsfx_cms(&s, &len);
	assert_int_equal(cr_pki_cms_verify(NULL, len, &e, &r), CR_ERR_INVALID);
	assert_int_equal(cr_pki_cms_verify(der, len, NULL, &r), CR_ERR_INVALID);
	assert_int_equal(cr_pki_cms_verify(der, len, &e, NULL), CR_ERR_INVALID);
	e.digest = NULL;
	assert_int_equal(cr_pki_cms_verify(der, len, &e, &r), CR_ERR_INVALID);
	e = expect();
	e.resident_number = "";
	assert_int_equal(cr_pki_cms_verify(der, len, &e, &r), CR_ERR_INVALID);
	e = expect();
	e.n_extra = 1;
	assert_int_equal(cr_pki_cms_verify(der, len, &e, &r), CR_ERR_INVALID);
	e = expect();
	e.trust_file = "/nonexistent/govid-ca.pem";
	assert_int_equal(cr_pki_cms_verify(der, len, &e, &r), CR_ERR_CONFIG);
	e.trust_file = "/dev/null";
	assert_int_equal(cr_pki_cms_verify(der, len, &e, &r), CR_ERR_CONFIG);
	assert_false(r.passed);
	assert_int_equal(ERR_peek_error(), 0);
	OPENSSL_free(der);
}

static void
test_report_json(void **state)
{
	struct cmsfx_sign s = govid(F.signer, F.key);
	struct cr_pki_sig_expect e = expect();
	struct cr_pki_sig_report r;
	struct cr_buf b;
	json_t *o, *checks;
	json_error_t jerr;

	(void)state;
	e.resident_number = "0000000(0)";
	assert_string_equal(verdict(&s, &e, &r), "signer_identity");
	cr_buf_init(&b, 8192);
	assert_int_equal(cr_pki_sig_report_json(&r, &b), CR_OK);
	assert_null(strchr(cr_buf_str(&b), '\n'));
	o = json_loadb(b.data, b.len, 0, &jerr);
	assert_non_null(o);
	assert_true(json_is_false(json_object_get(o, "passed")));
	assert_string_equal(json_string_value(json_object_get(o, "why")), "signer_identity");
	assert_string_equal(json_string_value(json_object_get(o, "signer_subject")), r.signer_subject);
	assert_int_equal(json_integer_value(json_object_get(o, "signing_time")), F.now - 5);
	checks = json_object_get(o, "checks");
	assert_int_equal(json_object_size(checks), CR_PKI_SIG_CHECKS);
	assert_true(json_is_true(json_object_get(checks, "signature")));
	assert_true(json_is_false(json_object_get(checks, "signer_identity")));
	json_decref(o);
	cr_buf_free(&b);

	/* A report of garbage: no signer, times null. */
	assert_int_equal(cr_pki_cms_verify((const unsigned char *)"x", 1, &e, &r), CR_OK);
	cr_buf_init(&b, 8192);
	assert_int_equal(cr_pki_sig_report_json(&r, &b), CR_OK);
	assert_non_null(strstr(cr_buf_str(&b), "\"signing_time\":null"));
	cr_buf_free(&b);
	cr_buf_init(&b, 10);
	assert_int_equal(cr_pki_sig_report_json(&r, &b), CR_ERR_TOOBIG);
	cr_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_pass_with_extras),
		cmocka_unit_test(test_wrong_digest),
		cmocka_unit_test(test_wrong_signer),
		cmocka_unit_test(test_untrusted_ca),
		cmocka_unit_test(test_expired_cert),
		cmocka_unit_test(test_stale_signing_time),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_embedded_content),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_report_json),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
