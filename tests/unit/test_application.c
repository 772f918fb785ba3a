/* Unit tests of the application states and the email-code policy (src/core/application.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/application.h"

static const struct cr_code_policy P = CR_CODE_POLICY_DEFAULT;
static const time_t T0 = 1800000000;

static void
test_state_names(void **state)
{
	enum cr_app_state s;

	(void)state;
	for (int i = 0; i < CR_APP_STATE_COUNT; i++) {
		assert_true(cr_app_state_parse(cr_app_state_name((enum cr_app_state)i), &s));
		assert_int_equal(s, i);
	}
	assert_false(cr_app_state_parse("signed", &s));
}

static void
test_steps(void **state)
{
	(void)state;
	assert_int_equal(cr_app_step(CR_APP_CONSENT), 1);
	assert_int_equal(cr_app_step(CR_APP_EMAILS), 1);
	assert_int_equal(cr_app_step(CR_APP_IDENTITY), 2);
	assert_int_equal(cr_app_step(CR_APP_CONFIRM), 3);
	assert_int_equal(cr_app_step(CR_APP_SUBMITTED), 4);
	assert_int_equal(cr_app_step(CR_APP_CANCELLED), 0);
	assert_int_equal(cr_app_step(CR_APP_COUNTER), 2);
}

static void
test_moves(void **state)
{
	(void)state;
	assert_true(cr_app_can_move(CR_APP_CONSENT, CR_APP_EMAILS));
	assert_true(cr_app_can_move(CR_APP_EMAILS, CR_APP_IDENTITY));
	assert_true(cr_app_can_move(CR_APP_CONFIRM, CR_APP_SUBMITTED));
	assert_true(cr_app_can_move(CR_APP_EMAILS, CR_APP_CANCELLED));
	/* No skipping the consent or the email step. */
	assert_false(cr_app_can_move(CR_APP_CONSENT, CR_APP_IDENTITY));
	assert_false(cr_app_can_move(CR_APP_CONSENT, CR_APP_SUBMITTED));
	/* No going back, nothing after the end. */
	assert_false(cr_app_can_move(CR_APP_IDENTITY, CR_APP_EMAILS));
	assert_false(cr_app_can_move(CR_APP_SUBMITTED, CR_APP_CANCELLED));
	assert_false(cr_app_can_move(CR_APP_CANCELLED, CR_APP_CONSENT));
	assert_false(cr_app_can_move((enum cr_app_state)9, CR_APP_EMAILS));
	/* Step 2 may stop the online path; nothing online moves it on from there. */
	assert_true(cr_app_can_move(CR_APP_EMAILS, CR_APP_COUNTER));
	assert_true(cr_app_can_move(CR_APP_IDENTITY, CR_APP_COUNTER));
	assert_false(cr_app_can_move(CR_APP_CONSENT, CR_APP_COUNTER));
	assert_false(cr_app_can_move(CR_APP_CONFIRM, CR_APP_COUNTER));
	assert_false(cr_app_can_move(CR_APP_COUNTER, CR_APP_CONFIRM));
	assert_false(cr_app_can_move(CR_APP_COUNTER, CR_APP_IDENTITY));
	assert_true(cr_app_can_move(CR_APP_COUNTER, CR_APP_CANCELLED));
	assert_true(cr_app_is_open(CR_APP_COUNTER));
}

static void
test_well_formed(void **state)
{
	(void)state;
	assert_true(cr_code_well_formed("348976"));
	assert_true(cr_code_well_formed("000000"));
	assert_false(cr_code_well_formed("34897"));
	assert_false(cr_code_well_formed("3489761"));
	assert_false(cr_code_well_formed("34a976"));
	assert_false(cr_code_well_formed(" 48976"));
	assert_false(cr_code_well_formed(""));
	assert_false(cr_code_well_formed(NULL));
}

static void
test_judge_ok_and_wrong(void **state)
{
	struct cr_code_state s = {true, T0 + 300, 0, false};
	int left;

	(void)state;
	assert_int_equal(cr_code_judge(&P, &s, true, true, T0 + 10, &left), CR_CODE_OK);
	assert_int_equal(cr_code_judge(&P, &s, true, false, T0 + 10, &left), CR_CODE_WRONG);
	assert_int_equal(left, 4);
	s.attempts = 3;
	assert_int_equal(cr_code_judge(&P, &s, true, false, T0 + 10, &left), CR_CODE_WRONG);
	assert_int_equal(left, 1);
	/* The fifth wrong try kills the code. */
	s.attempts = 4;
	assert_int_equal(cr_code_judge(&P, &s, true, false, T0 + 10, &left), CR_CODE_DEAD);
	assert_int_equal(left, 0);
	/* A dead code refuses even the right digits. */
	s.attempts = 5;
	assert_int_equal(cr_code_judge(&P, &s, true, true, T0 + 10, &left), CR_CODE_DEAD);
}

static void
test_judge_expiry_used_none_malformed(void **state)
{
	struct cr_code_state s = {true, T0 + 300, 0, false}, none = {false, 0, 0, false};
	int left;

	(void)state;
	assert_int_equal(cr_code_judge(&P, &s, true, true, T0 + 299, &left), CR_CODE_OK);
	assert_int_equal(cr_code_judge(&P, &s, true, true, T0 + 300, &left), CR_CODE_EXPIRED);
	assert_int_equal(cr_code_judge(&P, &none, true, true, T0, &left), CR_CODE_NONE);
	s.used = true;
	assert_int_equal(cr_code_judge(&P, &s, true, true, T0 + 10, &left), CR_CODE_USED);
	s.used = false;
	assert_int_equal(cr_code_judge(&P, &s, false, false, T0 + 10, &left), CR_CODE_MALFORMED);
	assert_int_equal(left, 5);
}

static void
test_may_send(void **state)
{
	int wait;

	(void)state;
	assert_int_equal(cr_code_may_send(&P, 0, 0, T0, &wait), CR_SEND_OK);
	assert_int_equal(cr_code_may_send(&P, T0 - 10, 1, T0, &wait), CR_SEND_TOO_SOON);
	assert_int_equal(wait, 50);
	assert_int_equal(cr_code_may_send(&P, T0 - 60, 1, T0, &wait), CR_SEND_OK);
	assert_int_equal(cr_code_may_send(&P, T0 - 61, 4, T0, &wait), CR_SEND_OK);
	assert_int_equal(cr_code_may_send(&P, T0 - 61, 5, T0, &wait), CR_SEND_HOURLY_CAP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_moves),
		cmocka_unit_test(test_well_formed),
		cmocka_unit_test(test_judge_ok_and_wrong),
		cmocka_unit_test(test_judge_expiry_used_none_malformed),
		cmocka_unit_test(test_may_send),
	};
	return cmocka_run_group_tests_name("core/application", tests, NULL, NULL);
}
