/*
 * Unit tests of step 2's pure rules (src/core/identity.c): how a Latin name is
 * folded, whether DSI's card matches the registration data, and the face
 * comparison's tries and threshold. No store, no network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/identity.h"

#define TODAY "2025-06-15"

/* ---- cr_name_fold ---- */

static void
assert_folds(const char *in, const char *want)
{
	char out[CR_ID_TEXT * 2];

	if (!cr_name_fold(in, out, sizeof(out)))
		fail_msg("cr_name_fold(\"%s\") failed", in);
	if (strcmp(out, want) != 0)
		fail_msg("cr_name_fold(\"%s\") = \"%s\", want \"%s\"", in, out, want);
}

static void
test_fold_case_spacing_punctuation(void **state)
{
	(void)state;
	assert_folds("CHAN Tai Man", "chan tai man");
	assert_folds("  chan   tai\tman  ", "chan tai man");
	assert_folds("CHAN, Tai-Man", "chan tai man");
	assert_folds("Chan.Tai.Man.", "chan tai man");
	assert_folds("CHAN\xc2\xa0Tai\xe3\x80\x80Man", "chan tai man"); /* NBSP, ideographic space */
	assert_folds("", "");
	assert_folds(" , - . ", "");
	/* What is not punctuation stays: an apostrophe is part of the name. */
	assert_folds("O'Neil", "o'neil");
	assert_folds("D\xe2\x80\x99S\xc3\xa1", "d\xe2\x80\x99sa");
}

static void
test_fold_diacritics(void **state)
{
	(void)state;
	/* Precomposed (NFC) and decomposed (NFD, combining accents) fold alike. */
	assert_folds("Jo\xc3\xa3o Concei\xc3\xa7\xc3\xa3o", "joao conceicao");
	assert_folds("JO\xc3\x83O CONCEI\xc3\x87\xc3\x83O", "joao conceicao");
	assert_folds("Joa\xcc\x83o Conceic\xcc\xa7" "a\xcc\x83o", "joao conceicao");
	assert_folds("Jos\xc3\xa9 \xc3\x81lvares G\xc3\xb3is", "jose alvares gois");
	assert_folds("\xc5\x81ukasz \xc5\xbb" "ebrowski", "lukasz zebrowski"); /* Latin Extended-A */
	assert_folds("M\xc3\xbcller Stra\xc3\x9f" "e", "muller strase");
	/* Another script is kept as it is. */
	assert_folds("\xe9\xbb\x83 Wong", "\xe9\xbb\x83 wong");
}

static void
test_fold_refuses(void **state)
{
	char out[8];

	(void)state;
	assert_false(cr_name_fold("Jo\xc3", out, sizeof(out)));        /* truncated sequence */
	assert_false(cr_name_fold("\xc0\xaf", out, sizeof(out)));      /* overlong */
	assert_false(cr_name_fold("\xed\xa0\x80", out, sizeof(out)));  /* surrogate */
	assert_false(cr_name_fold("\xff", out, sizeof(out)));
	assert_false(cr_name_fold("abc", out, 0));
	/* The terminator must fit. */
	assert_false(cr_name_fold("abc", out, 3));
	assert_true(cr_name_fold("abc", out, 4));
	assert_string_equal(out, "abc");
	assert_false(cr_name_fold("\xe9\xbb\x83\xe9\xbb\x83", out, 6));
	assert_true(cr_name_fold("\xe9\xbb\x83\xe9\xbb\x83", out, 7));
}

/* ---- cr_identity_compare ---- */

static struct cr_id_registration
reg_of(const char *name, const char *name_zh, const char *id)
{
	struct cr_id_registration r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.name_zh, sizeof(r.name_zh), "%s", name_zh);
	snprintf(r.id_number, sizeof(r.id_number), "%s", id);
	return r;
}

/* A valid card of WONG xxxx xexx, 黃小華, 1234567(8), issued 2021-03-04, expiring 2031-03-04. */
static struct cr_id_card
card_of(const char *surname, const char *given, const char *name_zh)
{
	struct cr_id_card c;

	memset(&c, 0, sizeof(c));
	snprintf(c.id_number, sizeof(c.id_number), "1234567(8)");
	snprintf(c.surname, sizeof(c.surname), "%s", surname);
	snprintf(c.given_names, sizeof(c.given_names), "%s", given);
	snprintf(c.name_zh, sizeof(c.name_zh), "%s", name_zh);
	snprintf(c.card_number, sizeof(c.card_number), "MO1234567A");
	snprintf(c.issued_on, sizeof(c.issued_on), "2021-03-04");
	snprintf(c.expires_on, sizeof(c.expires_on), "2031-03-04");
	snprintf(c.status, sizeof(c.status), "valid");
	return c;
}

#define ZH "\xe9\xbb\x83\xe5\xb0\x8f\xe8\x8f\xaf" /* 黃小華 */

static struct cr_id_match
compare(const char *name, const char *name_zh, const struct cr_id_card *c, bool want)
{
	struct cr_id_registration r = reg_of(name, name_zh, "1234567(8)");
	struct cr_id_match m;

	memset(&m, 0xff, sizeof(m));
	if (cr_identity_compare(&r, c, TODAY, &m) != want)
		fail_msg("\"%s\" / \"%s\" vs card \"%s\" \"%s\" \"%s\": want %s (name %d, zh %d, id %d, card %d)", name,
		    name_zh, c->surname, c->given_names, c->name_zh, want ? "match" : "mismatch", m.name, m.name_zh,
		    m.id_number, m.card_valid);
	return m;
}

static void
test_compare_name_order(void **state)
{
	struct cr_id_card c = card_of("WONG", "xxxx xexx", ZH), chan = card_of("CHAN", "Tai Man", ZH);
	struct cr_id_match m;

	(void)state;
	m = compare("xxxx xexx WONG", ZH, &c, true);
	assert_true(m.name && m.name_zh && m.id_number && m.card_valid);
	compare("WONG xxxx xexx", ZH, &c, true);
	compare("wong, XXXX XEXX", ZH, &c, true);
	compare("  xxxx   xexx  wong ", ZH, &c, true);
	compare("CHAN Tai Man", ZH, &chan, true);
	compare("Tai Man CHAN", ZH, &chan, true);
	compare("CHAN Tai-Man", ZH, &chan, true);
	compare("Chan, Tai-man", ZH, &chan, true);
	/* Only whole orders are forgiven: the given names keep their order. */
	compare("CHAN Man Tai", ZH, &chan, false);
	compare("Tai CHAN Man", ZH, &chan, false);
	/* A surname alone (DSI gives no given names). */
	c = card_of("WONG", "", ZH);
	compare("WONG", ZH, &c, true);
	compare("xxxx WONG", ZH, &c, false);
}

static void
test_compare_portuguese(void **state)
{
	struct cr_id_card accented = card_of("Concei\xc3\xa7\xc3\xa3o", "Jo\xc3\xa3o", ""),
	                  plain = card_of("CONCEICAO", "JOAO", ""),
	                  decomposed = card_of("Conceic\xcc\xa7" "a\xcc\x83o", "Joa\xcc\x83o", "");

	(void)state;
	compare("Joao Conceicao", "", &accented, true);
	compare("Jo\xc3\xa3o Concei\xc3\xa7\xc3\xa3o", "", &plain, true);
	compare("Joao Conceicao", "", &decomposed, true);
	compare("Jo\xc3\xa3o Concei\xc3\xa7\xc3\xa3o", "", &decomposed, true);
	compare("Joa\xcc\x83o Conceic\xcc\xa7" "a\xcc\x83o", "", &plain, true);
	compare("CONCEICAO Joao", "", &accented, true);
	/* A diacritic is forgiven, another letter is not. */
	compare("Joao Conceisao", "", &accented, false);
}

static void
test_compare_name_differs(void **state)
{
	struct cr_id_card c = card_of("WONG", "xxxx xexx", ZH);
	struct cr_id_match m;

	(void)state;
	m = compare("xxxx xexx yyyy WONG", ZH, &c, false); /* an extra given name */
	assert_false(m.name);
	assert_true(m.name_zh && m.id_number && m.card_valid);
	m = compare("xxxx WONG", ZH, &c, false); /* a missing given name */
	assert_false(m.name);
	m = compare("xxxx xexx WANG", ZH, &c, false); /* another surname */
	assert_false(m.name);
	m = compare("xxxx xexx", ZH, &c, false); /* no surname */
	assert_false(m.name);
	m = compare("xxxxxexx WONG", ZH, &c, false); /* words run together */
	assert_false(m.name);
	m = compare("", ZH, &c, false);
	assert_false(m.name);
	/* An empty card surname never matches, even an empty registration. */
	c = card_of("", "", ZH);
	compare("", ZH, &c, false);
}

static void
test_compare_chinese_name(void **state)
{
	struct cr_id_card c = card_of("WONG", "xxxx xexx", ZH), none = card_of("WONG", "xxxx xexx", "");
	struct cr_id_match m;

	(void)state;
	m = compare("xxxx xexx WONG", "\xe9\xbb\x83\xe5\xb0\x8f\xe6\x98\x8e", &c, false); /* 黃小明 */
	assert_true(m.name);
	assert_false(m.name_zh);
	compare("xxxx xexx WONG", "\xe9\xbb\x83 \xe5\xb0\x8f\xe8\x8f\xaf", &c, true);         /* spaces ignored */
	compare("xxxx xexx WONG", "\xe9\xbb\x83\xe3\x80\x80\xe5\xb0\x8f\xe8\x8f\xaf", &c, true);
	compare("xxxx xexx WONG", "\xe9\xbb\x83\xe5\xb0\x8f", &c, false);
	/* Both without a Chinese name: the same. One without: not. */
	m = compare("xxxx xexx WONG", "", &none, true);
	assert_true(m.name_zh);
	m = compare("xxxx xexx WONG", ZH, &none, false);
	assert_false(m.name_zh);
	m = compare("xxxx xexx WONG", "", &c, false);
	assert_false(m.name_zh);
}

static void
test_compare_id_number(void **state)
{
	struct cr_id_card c = card_of("WONG", "xxxx xexx", ZH);
	struct cr_id_registration r;
	struct cr_id_match m;

	(void)state;
	snprintf(c.id_number, sizeof(c.id_number), "12345678");
	r = reg_of("xxxx xexx WONG", ZH, "1234567(8)");
	assert_true(cr_identity_compare(&r, &c, TODAY, &m));
	r = reg_of("xxxx xexx WONG", ZH, "1234567 (8)");
	assert_true(cr_identity_compare(&r, &c, TODAY, &m));
	r = reg_of("xxxx xexx WONG", ZH, "1234567(9)");
	assert_false(cr_identity_compare(&r, &c, TODAY, &m));
	assert_false(m.id_number);
	assert_true(m.name && m.name_zh && m.card_valid);
	r = reg_of("xxxx xexx WONG", ZH, "7654321(8)");
	assert_false(cr_identity_compare(&r, &c, TODAY, &m));
	r = reg_of("xxxx xexx WONG", ZH, "123456789");
	assert_false(cr_identity_compare(&r, &c, TODAY, &m));
	/* Empty on both sides is no match. */
	r = reg_of("xxxx xexx WONG", ZH, "");
	c.id_number[0] = '\0';
	assert_false(cr_identity_compare(&r, &c, TODAY, &m));
	assert_false(m.id_number);
	r = reg_of("xxxx xexx WONG", ZH, "()");
	assert_false(cr_identity_compare(&r, &c, TODAY, &m));
}

/* The card's validity on TODAY with these dates and status. */
static bool
card_valid(const char *issued, const char *expires, const char *status)
{
	struct cr_id_card c = card_of("WONG", "xxxx xexx", ZH);
	struct cr_id_registration r = reg_of("xxxx xexx WONG", ZH, "1234567(8)");
	struct cr_id_match m;
	bool all;

	snprintf(c.issued_on, sizeof(c.issued_on), "%s", issued);
	snprintf(c.expires_on, sizeof(c.expires_on), "%s", expires);
	snprintf(c.status, sizeof(c.status), "%s", status);
	all = cr_identity_compare(&r, &c, TODAY, &m);
	assert_true(m.name && m.name_zh && m.id_number);
	assert_int_equal(all, m.card_valid);
	return m.card_valid;
}

static void
test_compare_card_dates(void **state)
{
	(void)state;
	assert_true(card_valid("2021-03-04", "2031-03-04", "valid"));
	assert_true(card_valid("2021-03-04", "2025-06-15", "valid"));  /* expires today: still valid */
	assert_false(card_valid("2021-03-04", "2025-06-14", "valid")); /* expired yesterday */
	assert_true(card_valid("2025-06-15", "2035-06-15", "valid"));  /* issued today */
	assert_false(card_valid("2025-06-16", "2035-06-16", "valid")); /* issued tomorrow */
	assert_false(card_valid("2021-03-04", "2031-03-04", "lost"));
	assert_false(card_valid("2021-03-04", "2031-03-04", "expired"));
	assert_false(card_valid("2021-03-04", "2031-03-04", "revoked"));
	assert_false(card_valid("2021-03-04", "2031-03-04", "cancelled"));
	assert_false(card_valid("2021-03-04", "2031-03-04", "VALID"));
	assert_false(card_valid("2021-03-04", "2031-03-04", ""));
}

static void
test_compare_malformed_dates(void **state)
{
	struct cr_id_card c = card_of("WONG", "xxxx xexx", ZH);
	struct cr_id_registration r = reg_of("xxxx xexx WONG", ZH, "1234567(8)");
	struct cr_id_match m;
	static const char *const bad[] = {"", "2031-3-04", "2031/03/04", "20310304", "2031-03-4 ",
	    "x031-03-04", "2031-13-04", "2031-00-04", "2031-03-00", "2031-03-32", "9999-99-99",
	    "2031-02-29", "2031-04-31", "2100-02-29"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (card_valid("2021-03-04", bad[i], "valid"))
			fail_msg("expiry \"%s\" accepted", bad[i]);
		if (card_valid(bad[i], "2031-03-04", "valid"))
			fail_msg("issue date \"%s\" accepted", bad[i]);
	}
	/* The calendar's own days are dates. */
	assert_true(card_valid("2024-02-29", "2031-12-31", "valid"));
	assert_true(card_valid("2000-02-29", "2031-01-31", "valid"));
	/* And a malformed today (a caller's bug) validates nothing. */
	assert_false(cr_identity_compare(&r, &c, "2025-6-15", &m));
	assert_false(m.card_valid);
	assert_false(cr_identity_compare(&r, &c, "", &m));
}

static void
test_compare_invalid_utf8(void **state)
{
	struct cr_id_card c = card_of("WONG", "xxxx xexx", ZH);
	struct cr_id_match m;

	(void)state;
	m = compare("xxxx xexx WONG\xff", ZH, &c, false);
	assert_false(m.name);
	c = card_of("WONG\xc3", "xxxx xexx", ZH);
	m = compare("xxxx xexx WONG", ZH, &c, false);
	assert_false(m.name);
	c = card_of("WONG", "xxxx \xc0\xaf", ZH);
	compare("xxxx \xc0\xaf WONG", ZH, &c, false);
	/* Invalid bytes are no name, even the same bytes on both sides. */
	c = card_of("WONG", "xxxx xexx", "\xe9\xbb");
	m = compare("xxxx xexx WONG", "\xe9\xbb", &c, false);
	assert_false(m.name_zh);
}

/* ---- face comparison ---- */

static void
test_face_tries_left(void **state)
{
	(void)state;
	assert_int_equal(cr_face_tries_left(3, 0, 6, 0), 3);
	assert_int_equal(cr_face_tries_left(3, 1, 6, 1), 2);
	assert_int_equal(cr_face_tries_left(3, 3, 6, 3), 0);
	/* The holder's limit counts other applications' tries too. */
	assert_int_equal(cr_face_tries_left(3, 0, 4, 3), 1);
	assert_int_equal(cr_face_tries_left(3, 0, 6, 6), 0);
	assert_true(cr_face_tries_left(3, 0, 6, 7) <= 0);
	assert_true(cr_face_tries_left(3, 4, 6, 4) <= 0);
	assert_int_equal(cr_face_tries_left(0, 0, 6, 0), 0);
}

static void
test_face_passes(void **state)
{
	(void)state;
	assert_true(cr_face_passes(0.93, 0.80));
	assert_true(cr_face_passes(0.80, 0.80)); /* exactly the threshold passes */
	assert_false(cr_face_passes(nextafter(0.80, 0.0), 0.80));
	assert_false(cr_face_passes(0.30, 0.80));
	assert_true(cr_face_passes(1.0, 0.80));
	assert_true(cr_face_passes(0.0, 0.0));
	assert_false(cr_face_passes(NAN, 0.80));
	assert_false(cr_face_passes(NAN, 0.0));
	assert_false(cr_face_passes(INFINITY, 0.80));
	assert_false(cr_face_passes(-INFINITY, 0.0));
	assert_false(cr_face_passes(1.0000001, 0.80));
	assert_false(cr_face_passes(1.5, 0.80));
	assert_false(cr_face_passes(-0.01, 0.0));
	assert_false(cr_face_passes(-0.5, -1.0));
	/* A threshold that is not a number passes nothing. */
	assert_false(cr_face_passes(0.93, NAN));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_case_spacing_punctuation),
		cmocka_unit_test(test_fold_diacritics),
		cmocka_unit_test(test_fold_refuses),
		cmocka_unit_test(test_compare_name_order),
		cmocka_unit_test(test_compare_portuguese),
		cmocka_unit_test(test_compare_name_differs),
		cmocka_unit_test(test_compare_chinese_name),
		cmocka_unit_test(test_compare_id_number),
		cmocka_unit_test(test_compare_card_dates),
		cmocka_unit_test(test_compare_malformed_dates),
		cmocka_unit_test(test_compare_invalid_utf8),
		cmocka_unit_test(test_face_tries_left),
		cmocka_unit_test(test_face_passes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
