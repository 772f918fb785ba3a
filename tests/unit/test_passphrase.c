/* Unit tests of the 證書撤銷短語 rule (src/core/passphrase.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/passphrase.h"

/* The DEV demo holder's own words (demo/people.json): name, address, signing account. */
static const char *const own[] = {"xxxx xexx WONG", "wong.demo@ctt.gov.mo", "wong.ctt", NULL};

static enum cr_passphrase_verdict
judge(const char *p)
{
	return cr_passphrase_judge(p, p, "Demo-Sign-2026", own, NULL);
}

static void
test_strong_passes(void **state)
{
	double bits = 0;

	(void)state;
	assert_int_equal(cr_passphrase_judge("Revoke-Cloud-7f3-kestrel", "Revoke-Cloud-7f3-kestrel", "Demo-Sign-2026", own,
	                     &bits),
	    CR_PASS_OK);
	assert_true(bits >= CR_PASSPHRASE_MIN_BITS);
	assert_int_equal(judge("correct-horse-battery-staple"), CR_PASS_OK);
	/* Traditional Chinese counts in code points, not bytes */
	assert_int_equal(judge("雲簽撤銷短語測試用的"), CR_PASS_OK);
	assert_int_equal(judge("Ka9#mPq2vL"), CR_PASS_OK);
}

static void
test_each_refusal(void **state)
{
	char huge[CR_PASSPHRASE_MAX_BYTES + 2];

	(void)state;
	assert_int_equal(judge(""), CR_PASS_EMPTY);
	assert_int_equal(cr_passphrase_judge(NULL, NULL, NULL, NULL, NULL), CR_PASS_EMPTY);
	assert_int_equal(judge("Ab3#xY9!"), CR_PASS_TOO_SHORT);
	assert_int_equal(judge("雲簽撤銷短語"), CR_PASS_TOO_SHORT); /* 18 bytes, 6 characters */
	memset(huge, 'k', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_int_equal(judge(huge), CR_PASS_TOO_LONG);
	assert_int_equal(judge("abcdefghij" "\xff"), CR_PASS_NOT_UTF8);
	assert_int_equal(judge("abc\xc0\xaf" "defghij"), CR_PASS_NOT_UTF8); /* overlong '/' */
	assert_int_equal(judge("abcde\nfghijk"), CR_PASS_NOT_UTF8);
	assert_int_equal(judge("abcdefghij" "\xed\xa0\x80"), CR_PASS_NOT_UTF8); /* a surrogate */
	assert_int_equal(cr_passphrase_judge("Revoke-Cloud-7f3-kestrel", "Revoke-Cloud-7f3-kestreI", NULL, own, NULL),
	    CR_PASS_MISMATCH);
	assert_int_equal(cr_passphrase_judge("Revoke-Cloud-7f3-kestrel", NULL, NULL, own, NULL), CR_PASS_MISMATCH);
	assert_int_equal(cr_passphrase_judge("Demo-Sign-2026-x", "Demo-Sign-2026-x", "Demo-Sign-2026-x", own, NULL),
	    CR_PASS_IS_PASSWORD);
}

static void
test_guessable_is_weak(void **state)
{
	(void)state;
	assert_int_equal(judge("password123456"), CR_PASS_WEAK);
	assert_int_equal(judge("aaaaaaaaaaaa"), CR_PASS_WEAK);
	assert_int_equal(judge("1234567890"), CR_PASS_WEAK);
	assert_int_equal(judge("Password2026!"), CR_PASS_WEAK);
	/* the holder's own name and account make up no strength */
	assert_int_equal(judge("WongCloudsign2026"), CR_PASS_WEAK);
	{
		double with_own = 0, without = 0;

		cr_passphrase_judge("WongCloudsign2026", "WongCloudsign2026", NULL, own, &with_own);
		cr_passphrase_judge("WongCloudsign2026", "WongCloudsign2026", NULL, NULL, &without);
		assert_true(with_own < without);
	}
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(cr_passphrase_verdict_name(CR_PASS_OK), "ok");
	assert_string_equal(cr_passphrase_verdict_name(CR_PASS_WEAK), "weak");
	assert_string_equal(cr_passphrase_verdict_name(CR_PASS_IS_PASSWORD), "is_password");
	assert_string_equal(cr_passphrase_verdict_name((enum cr_passphrase_verdict)99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strong_passes),
		cmocka_unit_test(test_each_refusal),
		cmocka_unit_test(test_guessable_is_weak),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
