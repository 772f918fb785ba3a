/* Unit tests of the shared libsodium wrappers (src/util/crypto.c): base64url, tokens, comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/crypto.h"

static enum cr_err
decode(const char *s, unsigned char *out, size_t outlen, size_t *n)
{
	return cr_b64url_decode(s, strlen(s), out, outlen, n);
}

static void
test_b64url_round_trip(void **state)
{
	unsigned char in[64], back[64];
	char enc[CR_B64URL_SIZE(64)];
	size_t n;

	(void)state;
	for (size_t len = 0; len <= sizeof(in); len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(i * 37 + len);
		cr_b64url_encode(in, len, enc, sizeof(enc));
		assert_null(strpbrk(enc, "+/="));
		assert_int_equal(decode(enc, back, sizeof(back), &n), CR_OK);
		assert_int_equal(n, len);
		assert_memory_equal(back, in, len);
	}
}

/* Cookies, ID tokens and state values come from outside: only the 64 URL-safe characters pass.
   libsodium 1.0.18 alone decodes some bytes >= 0x80 ("\xc3\xa9" x 2 gave 3 bytes). */
static void
test_b64url_rejects_outside_alphabet(void **state)
{
	static const char *bad[] = {
		"\xc3\xa9\xc3\xa9", "QUJD\xc3\xa9", "\x80\x80\x80\x80", "\xff\xff\xff\xff", "QUJ\xe4",
		"QUJD+w", "QUJD/w", "QUJDRA==", "QUJD RA", "QUJD\nRA", "QUJD.A", "A", "QUJDR",
	};
	unsigned char out[64];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 99;
		assert_int_equal(decode(bad[i], out, sizeof(out), &n), CR_ERR_INVALID);
	}
	/* an embedded NUL is outside the alphabet too */
	assert_int_equal(cr_b64url_decode("QU\0D", 4, out, sizeof(out), &n), CR_ERR_INVALID);
	assert_int_equal(decode("QUJD-w", out, sizeof(out), &n), CR_OK);
	assert_int_equal(n, 4);
	assert_int_equal(decode("", out, sizeof(out), &n), CR_OK);
	assert_int_equal(n, 0);
}

static void
test_b64url_output_bound(void **state)
{
	unsigned char out[3];
	size_t n;

	(void)state;
	assert_int_equal(decode("QUJD", out, sizeof(out), &n), CR_OK);
	assert_int_equal(decode("QUJDRA", out, sizeof(out), &n), CR_ERR_INVALID);
}

static void
test_random_token(void **state)
{
	char a[CR_TOKEN_LEN], b[CR_TOKEN_LEN];
	unsigned char raw[32];
	size_t n;

	(void)state;
	cr_random_token(a);
	cr_random_token(b);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	assert_int_equal(decode(a, raw, sizeof(raw), &n), CR_OK);
	assert_int_equal(n, 32);
}

static void
test_str_eq_ct(void **state)
{
	(void)state;
	assert_true(cr_str_eq_ct("abc", "abc"));
	assert_false(cr_str_eq_ct("abc", "abd"));
	assert_false(cr_str_eq_ct("abc", "abcd"));
	assert_false(cr_str_eq_ct(NULL, "a"));
	assert_true(cr_str_eq_ct("", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url_round_trip),
		cmocka_unit_test(test_b64url_rejects_outside_alphabet),
		cmocka_unit_test(test_b64url_output_bound),
		cmocka_unit_test(test_random_token),
		cmocka_unit_test(test_str_eq_ct),
	};

	if (cr_crypto_init() != CR_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
