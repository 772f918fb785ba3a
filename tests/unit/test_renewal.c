/* Unit tests of the renewal state machine and window (src/core/renewal.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/renewal.h"

static void
test_type_names_roundtrip(void **state)
{
	enum cr_cert_type t;

	(void)state;
	for (int i = 0; i < CR_CERT_TYPE_COUNT; i++) {
		assert_true(cr_cert_type_parse(cr_cert_type_name((enum cr_cert_type)i), &t));
		assert_int_equal(t, i);
	}
	assert_false(cr_cert_type_parse("root", &t));
	assert_false(cr_cert_type_parse(NULL, &t));
	assert_string_equal(cr_cert_type_label_zh(CR_CERT_QUALIFIED), "政府機關合格證書");
	assert_string_equal(cr_cert_type_label_zh(CR_CERT_ENCRYPTION), "政府機關加密證書");
	assert_string_equal(cr_cert_type_label_zh(CR_CERT_CLOUDSIGN), "政府“雲簽”帳戶");
}

static void
test_state_names_roundtrip(void **state)
{
	enum cr_renewal_state s;

	(void)state;
	for (int i = 0; i < CR_RS_COUNT; i++) {
		assert_true(cr_renewal_state_parse(cr_renewal_state_name((enum cr_renewal_state)i), &s));
		assert_int_equal(s, i);
	}
	assert_false(cr_renewal_state_parse("activated!", &s));
}

static void
test_groups(void **state)
{
	(void)state;
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		assert_int_equal(cr_renewal_group((enum cr_cert_type)t, CR_RS_PENDING_VERIFICATION), CR_GROUP_VERIFY);
		assert_int_equal(cr_renewal_group((enum cr_cert_type)t, CR_RS_VERIFYING), CR_GROUP_VERIFY);
		assert_int_equal(cr_renewal_group((enum cr_cert_type)t, CR_RS_RENEWED), CR_GROUP_NONE);
		assert_int_equal(cr_renewal_group((enum cr_cert_type)t, CR_RS_CANCELLED), CR_GROUP_NONE);
	}
	assert_int_equal(cr_renewal_group(CR_CERT_CLOUDSIGN, CR_RS_PENDING_ACTIVATION), CR_GROUP_ACTIVATE);
	assert_int_equal(cr_renewal_group(CR_CERT_QUALIFIED, CR_RS_PENDING_OFFLINE), CR_GROUP_OFFLINE);
	assert_int_equal(cr_renewal_group(CR_CERT_ENCRYPTION, CR_RS_PENDING_OFFLINE), CR_GROUP_OFFLINE);
	/* Impossible combinations are never shown rather than shown in the wrong group. */
	assert_int_equal(cr_renewal_group(CR_CERT_QUALIFIED, CR_RS_PENDING_ACTIVATION), CR_GROUP_NONE);
	assert_int_equal(cr_renewal_group(CR_CERT_CLOUDSIGN, CR_RS_PENDING_OFFLINE), CR_GROUP_NONE);
}

static void
test_submit_target(void **state)
{
	(void)state;
	assert_int_equal(cr_renewal_after_submit(CR_CERT_CLOUDSIGN), CR_RS_PENDING_ACTIVATION);
	assert_int_equal(cr_renewal_after_submit(CR_CERT_QUALIFIED), CR_RS_PENDING_OFFLINE);
	assert_int_equal(cr_renewal_after_submit(CR_CERT_ENCRYPTION), CR_RS_PENDING_OFFLINE);
}

static void
test_legal_moves(void **state)
{
	(void)state;
	assert_true(cr_renewal_can_move(CR_CERT_QUALIFIED, CR_RS_PENDING_VERIFICATION, CR_RS_VERIFYING));
	assert_true(cr_renewal_can_move(CR_CERT_CLOUDSIGN, CR_RS_VERIFYING, CR_RS_PENDING_ACTIVATION));
	assert_true(cr_renewal_can_move(CR_CERT_ENCRYPTION, CR_RS_VERIFYING, CR_RS_PENDING_OFFLINE));
	assert_true(cr_renewal_can_move(CR_CERT_CLOUDSIGN, CR_RS_PENDING_ACTIVATION, CR_RS_RENEWED));
	assert_true(cr_renewal_can_move(CR_CERT_CLOUDSIGN, CR_RS_PENDING_ACTIVATION, CR_RS_PENDING_VERIFICATION));
	assert_true(cr_renewal_can_move(CR_CERT_QUALIFIED, CR_RS_PENDING_OFFLINE, CR_RS_RENEWED));
}

static void
test_illegal_moves(void **state)
{
	(void)state;
	/* Skipping identity verification. */
	assert_false(cr_renewal_can_move(CR_CERT_CLOUDSIGN, CR_RS_PENDING_VERIFICATION, CR_RS_PENDING_ACTIVATION));
	assert_false(cr_renewal_can_move(CR_CERT_CLOUDSIGN, CR_RS_PENDING_VERIFICATION, CR_RS_RENEWED));
	assert_false(cr_renewal_can_move(CR_CERT_QUALIFIED, CR_RS_VERIFYING, CR_RS_RENEWED));
	/* Wrong path for the type. */
	assert_false(cr_renewal_can_move(CR_CERT_QUALIFIED, CR_RS_VERIFYING, CR_RS_PENDING_ACTIVATION));
	assert_false(cr_renewal_can_move(CR_CERT_CLOUDSIGN, CR_RS_VERIFYING, CR_RS_PENDING_OFFLINE));
	/* Terminal states stay terminal. */
	for (int to = 0; to < CR_RS_COUNT; to++) {
		assert_false(cr_renewal_can_move(CR_CERT_CLOUDSIGN, CR_RS_RENEWED, (enum cr_renewal_state)to));
		assert_false(cr_renewal_can_move(CR_CERT_QUALIFIED, CR_RS_CANCELLED, (enum cr_renewal_state)to));
	}
	/* No self-loops, no out-of-range values. */
	assert_false(cr_renewal_can_move(CR_CERT_QUALIFIED, CR_RS_VERIFYING, CR_RS_VERIFYING));
	assert_false(cr_renewal_can_move((enum cr_cert_type)7, CR_RS_PENDING_VERIFICATION, CR_RS_VERIFYING));
	assert_false(cr_renewal_can_move(CR_CERT_QUALIFIED, (enum cr_renewal_state)42, CR_RS_VERIFYING));
}

static void
test_window(void **state)
{
	const time_t now = 1800000000;

	(void)state;
	assert_true(cr_renewal_in_window(now + 10 * 86400, now, 30));
	assert_true(cr_renewal_in_window(now + 30 * 86400, now, 30));
	assert_false(cr_renewal_in_window(now + 30 * 86400 + 1, now, 30));
	assert_false(cr_renewal_in_window(now, now, 30));
	assert_false(cr_renewal_in_window(now - 1, now, 30));
	assert_false(cr_renewal_in_window(now + 86400, now, -1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names_roundtrip),
		cmocka_unit_test(test_state_names_roundtrip),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_submit_target),
		cmocka_unit_test(test_legal_moves),
		cmocka_unit_test(test_illegal_moves),
		cmocka_unit_test(test_window),
	};
	return cmocka_run_group_tests_name("core/renewal", tests, NULL, NULL);
}
