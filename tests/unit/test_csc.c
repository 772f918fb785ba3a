/*
 * Unit tests of the GovID signing client (src/adapters/csc.c, docs/internals/esign.md)
 * driven over real HTTP against the stand-in of support/httpstub.h: the three
 * calls with the bearer and their bodies, then each way the service can fail
 * (refused token, 5xx, garbage, bad base64, no credential, unreachable, too
 * slow, too large). The signature the stand-in hands out in the pass case is
 * a real one (support/cmsfx.h) and verifies with cr_pki_cms_verify.
 */
#include <fcntl.h>
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
#include <sodium.h>

#include "adapters/csc.h"
#include "adapters/httpc.h"
#include "pki/pki.h"
#include "support/cmsfx.h"
#include "support/httpstub.h"

#define TOKEN "at-3f9c2a7b.secret-token_XYZ"
#define CRED "eid-sign-govid-1000001"
#define JSON "application/json"

struct w {
	struct httpstub *stub;
	struct cr_csc *csc;
	unsigned char digest[32];
};

static char *
b64(const void *p, size_t n)
{
	size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(len);

	assert_non_null(s);
	sodium_bin2base64(s, len, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static struct cr_csc *
csc_at(const char *url, long timeout_ms)
{
	struct cr_csc_config cfg = {.base_url = url, .connect_timeout_ms = 1000, .timeout_ms = timeout_ms};
	struct cr_csc *c;

	assert_int_equal(cr_csc_new(&cfg, &c), CR_OK);
	return c;
}

/* The three routes answering as GovID does, with a chain of two made-up certificates and a CMS of
   cms (or made-up bytes when NULL). */
static void
answer_well(struct w *w, const unsigned char *cms, size_t cms_len, const unsigned char *const *chain,
    const size_t *chain_len, size_t n_chain)
{
	static const unsigned char fake_cms[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	json_t *certs = json_array(), *o;
	char *s, *sig;

	httpstub_set(w->stub, HTTPSTUB_CSC_LIST, 200, JSON, "{\"credentialIDs\":[\"" CRED "\",\"eid-other\"]}", -1, 0);
	if (chain == NULL) {
		json_array_append_new(certs, json_string("MIIBAQ=="));
		json_array_append_new(certs, json_string("MIIBAg=="));
	} else
		for (size_t i = 0; i < n_chain; i++) {
			s = b64(chain[i], chain_len[i]);
			json_array_append_new(certs, json_string(s));
			free(s);
		}
	o = json_pack("{s:{s:s, s:[s], s:i}, s:{s:s, s:o, s:s}, s:s, s:s, s:i}", "key", "status", "enabled", "algo",
	    "1.2.840.10045.4.3.2", "len", 256, "cert", "status", "valid", "certificates", certs, "serialNumber", "0a1b",
	    "authMode", "oauth2code", "SCAL", "2", "multisign", 1);
	s = json_dumps(o, JSON_COMPACT);
	httpstub_set(w->stub, HTTPSTUB_CSC_INFO, 200, JSON, s, -1, 0);
	free(s);
	json_decref(o);
	sig = cms ? b64(cms, cms_len) : b64(fake_cms, sizeof(fake_cms));
	o = json_pack("{s:[s]}", "signatures", sig);
	s = json_dumps(o, JSON_COMPACT);
	httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 200, "application/json; charset=utf-8", s, -1, 0);
	free(s);
	free(sig);
	json_decref(o);
}

static int
setup(void **state)
{
	struct w *w = calloc(1, sizeof(*w));

	if (w == NULL || cr_httpc_global_init() != CR_OK || (w->stub = httpstub_start()) == NULL)
		return -1;
	w->csc = csc_at(httpstub_url(w->stub), 2000);
	for (int i = 0; i < 32; i++)
		w->digest[i] = (unsigned char)(0xa0 + i);
	answer_well(w, NULL, 0, NULL, NULL, 0);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct w *w = *state;

	cr_csc_free(w->csc);
	httpstub_stop(w->stub);
	free(w);
	return 0;
}

/* Signs w->digest; asserts that a failure leaves out empty and names a reason. */
static enum cr_err
sign(struct w *w, const char *token, struct cr_csc_signature *out, char *why, size_t whylen)
{
	static const struct cr_csc_signature empty;
	enum cr_err err = cr_csc_sign_hash(w->csc, token, w->digest, out, why, whylen);

	if (err != CR_OK) {
		assert_memory_equal(out, &empty, sizeof(empty));
		assert_true(why[0] != '\0');
	} else
		assert_string_equal(why, "");
	return err;
}

static enum cr_err
sign_simple(struct w *w, char *why, size_t whylen)
{
	struct cr_csc_signature sig;
	enum cr_err err = sign(w, TOKEN, &sig, why, whylen);

	cr_csc_signature_free(&sig);
	return err;
}

/* ---- the pass path ---- */

static void
test_pass(void **state)
{
	struct w *w = *state;
	struct cr_csc_signature sig;
	struct httpstub_seen seen;
	json_t *body;
	json_error_t jerr;
	char why[200], *hash;

	assert_int_equal(sign(w, TOKEN, &sig, why, sizeof(why)), CR_OK);
	assert_string_equal(sig.credential_id, CRED);
	assert_int_equal(sig.cms_len, 5);
	assert_memory_equal(sig.cms, "\x30\x03\x02\x01\x01", 5);
	assert_int_equal(sig.n_chain, 2);
	assert_int_equal(sig.chain_len[0], 4);
	assert_memory_equal(sig.chain[0], "\x30\x82\x01\x01", 4);
	assert_memory_equal(sig.chain[1], "\x30\x82\x01\x02", 4);
	cr_csc_signature_free(&sig);
	assert_null(sig.cms);
	cr_csc_signature_free(&sig); /* twice is harmless */
	cr_csc_signature_free(NULL);

	httpstub_seen(w->stub, &seen);
	for (int r = HTTPSTUB_CSC_LIST; r <= HTTPSTUB_CSC_SIGN; r++) {
		assert_int_equal(seen.requests[r], 1);
		assert_string_equal(seen.last[r].authorization, "Bearer " TOKEN);
	}
	assert_string_equal(seen.method, "POST");
	assert_string_equal(seen.path, "/csc/v2/signatures/signHash");
	assert_string_equal(seen.content_type, "application/json");

	body = json_loads(seen.last[HTTPSTUB_CSC_LIST].body, 0, &jerr);
	assert_non_null(body);
	assert_int_equal(json_integer_value(json_object_get(body, "maxResults")), 10);
	json_decref(body);

	body = json_loads(seen.last[HTTPSTUB_CSC_INFO].body, 0, &jerr);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "credentialID")), CRED);
	assert_string_equal(json_string_value(json_object_get(body, "certificates")), "chain");
	json_decref(body);

	body = json_loads(seen.last[HTTPSTUB_CSC_SIGN].body, 0, &jerr);
	assert_non_null(body);
	hash = b64(w->digest, 32);
	assert_string_equal(json_string_value(json_object_get(body, "credentialID")), CRED);
	assert_int_equal(json_array_size(json_object_get(body, "hashes")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(body, "hashes"), 0)), hash);
	assert_string_equal(json_string_value(json_object_get(body, "hashAlgorithmOID")), "2.16.840.1.101.3.4.2.1");
	assert_string_equal(json_string_value(json_object_get(body, "signAlgo")), "1.2.840.10045.4.3.2");
	free(hash);
	json_decref(body);
}

/* A real signature through the client, verified with the chain credentials/info gave. */
static void
test_pass_verifies(void **state)
{
	struct w *w = *state;
	time_t now = time(NULL);
	EVP_PKEY *ca_key = cmsfx_key(), *key = cmsfx_key();
	X509 *ca = cmsfx_ca("GovID Test CA", ca_key, NULL, NULL);
	X509 *signer = cmsfx_signer(ca, ca_key, key, "CHAN Tai Man", "1234567(8)", now - 86400, now + 86400);
	struct cmsfx_sign s = {.signer = signer, .key = key, .digest = w->digest, .signing_time = now,
	    .no_signer_cert = true};
	unsigned char *cms, *chain[2];
	size_t cms_len, chain_len[2];
	char dir[] = "/tmp/test_csc.XXXXXX", trust[64], why[200];
	struct cr_csc_signature sig;
	struct cr_pki_sig_report r;

	assert_non_null(mkdtemp(dir));
	snprintf(trust, sizeof(trust), "%s/ca.pem", dir);
	cmsfx_write_pem(trust, &ca, 1);
	cms = cmsfx_cms(&s, &cms_len);
	chain[0] = cmsfx_der(signer, &chain_len[0]);
	chain[1] = cmsfx_der(ca, &chain_len[1]);
	answer_well(w, cms, cms_len, (const unsigned char *const *)chain, chain_len, 2);

	assert_int_equal(sign(w, TOKEN, &sig, why, sizeof(why)), CR_OK);
	struct cr_pki_sig_expect e = {
		.trust_file = trust,
		.digest = w->digest,
		.resident_number = "1234567(8)",
		.extra_der = (const unsigned char *const *)sig.chain,
		.extra_len = sig.chain_len,
		.n_extra = sig.n_chain,
		.now = now,
		.max_age = 300,
		.leeway = 60,
	};
	assert_int_equal(cr_pki_cms_verify(sig.cms, sig.cms_len, &e, &r), CR_OK);
	assert_string_equal(r.why, "");
	assert_true(r.passed);

	cr_csc_signature_free(&sig);
	OPENSSL_free(cms);
	OPENSSL_free(chain[0]);
	OPENSSL_free(chain[1]);
	X509_free(signer);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	unlink(trust);
	rmdir(dir);
}

/* ---- the service refusing or failing ---- */

static void
test_denied(void **state)
{
	struct w *w = *state;
	char why[200];

	httpstub_set(w->stub, HTTPSTUB_CSC_LIST, 401, JSON, "{\"error\":\"invalid_token\"}", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_DENIED);
	httpstub_set(w->stub, HTTPSTUB_CSC_LIST, 403, JSON, "{\"error\":\"forbidden\"}", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_DENIED);
	/* The token spent (single use) by the time of signHash. */
	answer_well(w, NULL, 0, NULL, NULL, 0);
	httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 401, JSON, "{\"error\":\"invalid_token\"}", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_DENIED);
	assert_non_null(strstr(why, "signHash"));
}

static void
test_server_error(void **state)
{
	struct w *w = *state;
	char why[200];

	httpstub_set(w->stub, HTTPSTUB_CSC_LIST, 500, "text/plain", "oops\n", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_REMOTE);
	answer_well(w, NULL, 0, NULL, NULL, 0);
	httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 503, JSON, "{\"error\":\"temporarily_unavailable\"}", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_REMOTE);
	assert_non_null(strstr(why, "503"));
	answer_well(w, NULL, 0, NULL, NULL, 0);
	httpstub_set(w->stub, HTTPSTUB_CSC_INFO, 400, JSON, "{\"error\":\"invalid_request\"}", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_REMOTE);
}

static void
test_garbage_json(void **state)
{
	struct w *w = *state;
	char why[200];
	static const char *const lists[] = {"{not json", "[]", "\"x\"", "{}", "{\"credentialIDs\":\"" CRED "\"}",
	    "{\"credentialIDs\":[1]}", "{\"credentialIDs\":[\"\"]}", "{\"credentialIDs\":[\"a\\u0000b\"]}",
	    "{\"credentialIDs\":[\"a\\nb\"]}", "{\"credentialIDs\":[\"a\"],\"credentialIDs\":[\"b\"]}", ""};
	static const char *const infos[] = {"{}", "{\"cert\":[]}", "{\"cert\":{\"status\":\"valid\"}}",
	    "{\"cert\":{\"status\":1,\"certificates\":[\"MIIB\"]}}",
	    "{\"cert\":{\"status\":\"valid\",\"certificates\":\"MIIB\"}}",
	    "{\"cert\":{\"status\":\"valid\",\"certificates\":[]}}",
	    "{\"cert\":{\"status\":\"valid\",\"certificates\":[\"MIIB\",2]}}",
	    "{\"cert\":{\"status\":\"valid\",\"certificates\":[\"A\",\"A\",\"A\",\"A\",\"A\"]}}",
	    "{\"cert\":{\"status\":\"valid\",\"certificates\":[\"MIIB\",\"MIIB\",\"MIIB\",\"MIIB\",\"MIIB\"]}}"};
	static const char *const signs[] = {"{}", "{\"signatures\":[]}", "{\"signatures\":\"MIIB\"}",
	    "{\"signatures\":[\"MIIB\",\"MIIB\"]}", "{\"signatures\":[null]}", "{\"signatures\":[\"\"]}", "null"};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		httpstub_set(w->stub, HTTPSTUB_CSC_LIST, 200, JSON, lists[i], -1, 0);
		if (sign_simple(w, why, sizeof(why)) != CR_ERR_REMOTE || strstr(why, "garbage") == NULL)
			fail_msg("credentials/list answering %s: \"%s\"", lists[i], why);
	}
	answer_well(w, NULL, 0, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++) {
		httpstub_set(w->stub, HTTPSTUB_CSC_INFO, 200, JSON, infos[i], -1, 0);
		if (sign_simple(w, why, sizeof(why)) != CR_ERR_REMOTE || strstr(why, "garbage") == NULL)
			fail_msg("credentials/info answering %s: \"%s\"", infos[i], why);
	}
	answer_well(w, NULL, 0, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(signs) / sizeof(signs[0]); i++) {
		httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 200, JSON, signs[i], -1, 0);
		if (sign_simple(w, why, sizeof(why)) != CR_ERR_REMOTE || strstr(why, "garbage") == NULL)
			fail_msg("signHash answering %s: \"%s\"", signs[i], why);
	}
	/* JSON under another Content-Type is something else answering (a proxy's page). */
	answer_well(w, NULL, 0, NULL, NULL, 0);
	httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 200, "text/html", "{\"signatures\":[\"MIIB\"]}", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_REMOTE);
	assert_non_null(strstr(why, "garbage"));
}

static void
test_not_base64(void **state)
{
	struct w *w = *state;
	char why[200];
	static const char *const bad[] = {"!!!!", "MIIB!", "MII=B", "MI IB", "MIIB\\nMIIB", "M", "====", "MIIB===",
	    "MIIB-_", "\\u00e9\\u00e9\\u00e9\\u00e9"};
	char body[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		answer_well(w, NULL, 0, NULL, NULL, 0);
		snprintf(body, sizeof(body), "{\"signatures\":[\"%s\"]}", bad[i]);
		httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 200, JSON, body, -1, 0);
		if (sign_simple(w, why, sizeof(why)) != CR_ERR_REMOTE || strstr(why, "base64") == NULL)
			fail_msg("signature %s: \"%s\"", bad[i], why);
		snprintf(body, sizeof(body), "{\"cert\":{\"status\":\"valid\",\"certificates\":[\"MIIB\",\"%s\"]}}",
		    bad[i]);
		httpstub_set(w->stub, HTTPSTUB_CSC_INFO, 200, JSON, body, -1, 0);
		if (sign_simple(w, why, sizeof(why)) != CR_ERR_REMOTE || strstr(why, "base64") == NULL)
			fail_msg("certificate %s: \"%s\"", bad[i], why);
	}
	/* Unpadded base64 is still base64. */
	answer_well(w, NULL, 0, NULL, NULL, 0);
	httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 200, JSON, "{\"signatures\":[\"MAMCAQE\"]}", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_OK);
}

static void
test_no_credential(void **state)
{
	struct w *w = *state;
	struct httpstub_seen seen;
	char why[200];

	httpstub_set(w->stub, HTTPSTUB_CSC_LIST, 200, JSON, "{\"credentialIDs\":[]}", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_DENIED);
	httpstub_seen(w->stub, &seen);
	assert_int_equal(seen.requests[HTTPSTUB_CSC_INFO], 0);
	assert_int_equal(seen.requests[HTTPSTUB_CSC_SIGN], 0);
	/* A credential whose certificate is not valid is not one to sign with. */
	answer_well(w, NULL, 0, NULL, NULL, 0);
	httpstub_set(w->stub, HTTPSTUB_CSC_INFO, 200, JSON,
	    "{\"cert\":{\"status\":\"expired\",\"certificates\":[\"MIIB\"]}}", -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_DENIED);
	httpstub_seen(w->stub, &seen);
	assert_int_equal(seen.requests[HTTPSTUB_CSC_SIGN], 0);
}

static void
test_unreachable(void **state)
{
	struct w *w = *state;
	struct httpstub *gone = httpstub_start();
	struct cr_csc *c;
	struct cr_csc_signature sig;
	char url[64], why[200];

	assert_non_null(gone);
	snprintf(url, sizeof(url), "%s", httpstub_url(gone));
	httpstub_stop(gone); /* the port is closed now */
	c = csc_at(url, 2000);
	assert_int_equal(cr_csc_sign_hash(c, TOKEN, w->digest, &sig, why, sizeof(why)), CR_ERR_REMOTE);
	assert_null(sig.cms);
	assert_non_null(strstr(why, "unreachable"));
	cr_csc_free(c);
}

static void
test_too_slow(void **state)
{
	struct w *w = *state;
	struct cr_csc *c = csc_at(httpstub_url(w->stub), 300), *saved = w->csc;
	char why[200];

	httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 200, JSON, "{\"signatures\":[\"MIIB\"]}", -1, 3000);
	w->csc = c;
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_REMOTE);
	w->csc = saved;
	cr_csc_free(c);
}

static void
test_oversized(void **state)
{
	struct w *w = *state;
	size_t n = CR_CSC_ANSWER_MAX, k = n - strlen("{\"signatures\":[ \"\"]}");
	char *body = malloc(n + 2), why[200];

	/* Exactly at the cap: taken (k base64 characters, k a multiple of 4). */
	assert_non_null(body);
	assert_int_equal(k % 4, 0);
	memcpy(body, "{\"signatures\":[ \"", 17);
	memset(body + 17, 'A', k);
	memcpy(body + 17 + k, "\"]}", 4);
	assert_int_equal(strlen(body), n);
	httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 200, JSON, body, (long)n, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_OK);
	/* One byte more (a space): refused before parsing. */
	memcpy(body, "{\"signatures\":[  \"", 18);
	memset(body + 18, 'A', k);
	memcpy(body + 18 + k, "\"]}", 4);
	httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 200, JSON, body, (long)n + 1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_REMOTE);
	assert_non_null(strstr(why, "garbage"));
	/* Far more. */
	answer_well(w, NULL, 0, NULL, NULL, 0);
	free(body);
	body = calloc(1, 4 * n);
	assert_non_null(body);
	memset(body, ' ', 4 * n - 1);
	httpstub_set(w->stub, HTTPSTUB_CSC_INFO, 200, JSON, body, -1, 0);
	assert_int_equal(sign_simple(w, why, sizeof(why)), CR_ERR_REMOTE);
	assert_non_null(strstr(why, "larger"));
	free(body);
}

/* ---- the caller's mistakes, and the token kept out of the logs ---- */

static void
test_bad_arguments(void **state)
{
	struct w *w = *state;
	struct cr_csc_config cfg = {.base_url = ""};
	struct cr_csc *c;
	struct httpstub_seen before, after;
	char why[200];
	struct cr_csc_signature sig;

	assert_int_equal(cr_csc_new(&cfg, &c), CR_ERR_CONFIG);
	assert_null(c);
	cr_csc_free(NULL);
	httpstub_seen(w->stub, &before);
	assert_int_equal(sign(w, "", &sig, why, sizeof(why)), CR_ERR_INVALID);
	assert_int_equal(sign(w, "tok\r\nX-Injected: 1", &sig, why, sizeof(why)), CR_ERR_INVALID);
	assert_int_equal(cr_csc_sign_hash(w->csc, NULL, w->digest, &sig, why, sizeof(why)), CR_ERR_INVALID);
	assert_int_equal(cr_csc_sign_hash(w->csc, TOKEN, w->digest, NULL, NULL, 0), CR_ERR_INVALID);
	httpstub_seen(w->stub, &after);
	assert_int_equal(after.requests[HTTPSTUB_CSC_LIST], before.requests[HTTPSTUB_CSC_LIST]);
}

static void
test_token_not_logged(void **state)
{
	struct w *w = *state;
	char path[] = "/tmp/test_csc_log.XXXXXX", why[200], text[65536];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	assert_true(dup2(fd, 2) >= 0);
	httpstub_set(w->stub, HTTPSTUB_CSC_LIST, 401, JSON, "{\"error\":\"invalid_token\"}", -1, 0);
	(void)sign_simple(w, why, sizeof(why));
	assert_null(strstr(why, TOKEN));
	answer_well(w, NULL, 0, NULL, NULL, 0);
	httpstub_set(w->stub, HTTPSTUB_CSC_SIGN, 200, JSON, "{\"signatures\":[\"" TOKEN "\"]}", -1, 0);
	(void)sign_simple(w, why, sizeof(why));
	assert_null(strstr(why, TOKEN));
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	assert_true(lseek(fd, 0, SEEK_SET) == 0);
	n = read(fd, text, sizeof(text) - 1);
	assert_true(n > 0); /* the failures were logged */
	text[n] = '\0';
	assert_null(strstr(text, "secret-token"));
	close(fd);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_base64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_credential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_slow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_not_logged, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
