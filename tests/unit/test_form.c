/* Unit tests of the form-body parser (src/util/form.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/form.h"

/* Parses a C string (without its NUL). */
static enum cr_err
parse(const char *s, struct cr_form *f)
{
	return cr_form_parse(s, strlen(s), f);
}

/* Whether s is refused with err, leaving an empty form. */
static void
refused(const char *s, enum cr_err err)
{
	struct cr_form f;

	assert_int_equal(parse(s, &f), err);
	assert_int_equal(f.n, 0);
	cr_form_free(&f);
}

static void
test_simple(void **state)
{
	struct cr_form f;

	(void)state;
	assert_int_equal(parse("a=1&bb=two&c=3", &f), CR_OK);
	assert_int_equal(f.n, 3);
	assert_string_equal(cr_form_get(&f, "a"), "1");
	assert_string_equal(cr_form_get(&f, "bb"), "two");
	assert_string_equal(cr_form_get(&f, "c"), "3");
	/* Fields keep their order. */
	assert_string_equal(f.f[0].name, "a");
	assert_string_equal(f.f[2].name, "c");
	cr_form_free(&f);
	assert_int_equal(f.n, 0);
	cr_form_free(&f); /* twice is harmless */
}

static void
test_empty_body(void **state)
{
	struct cr_form f;

	(void)state;
	assert_int_equal(cr_form_parse("", 0, &f), CR_OK);
	assert_int_equal(f.n, 0);
	assert_null(cr_form_get(&f, "a"));
	cr_form_free(&f);
	assert_int_equal(parse("&&&", &f), CR_OK);
	assert_int_equal(f.n, 0);
	cr_form_free(&f);
}

static void
test_plus_is_space(void **state)
{
	struct cr_form f;

	(void)state;
	assert_int_equal(parse("q=hello+world+&x+y=%2B", &f), CR_OK);
	assert_string_equal(cr_form_get(&f, "q"), "hello world ");
	assert_string_equal(cr_form_get(&f, "x y"), "+"); /* %2B is a literal plus */
	cr_form_free(&f);
}

static void
test_percent_decoding(void **state)
{
	struct cr_form f;

	(void)state;
	assert_int_equal(parse("u=%41%42%43&l=%6a%6B%6c&m=a%26b%3Dc&p=100%25&n=%2a", &f), CR_OK);
	assert_string_equal(cr_form_get(&f, "u"), "ABC");
	assert_string_equal(cr_form_get(&f, "l"), "jkl"); /* lower, upper and mixed hex */
	assert_string_equal(cr_form_get(&f, "m"), "a&b=c"); /* escaped separators are data */
	assert_string_equal(cr_form_get(&f, "p"), "100%");
	assert_string_equal(cr_form_get(&f, "n"), "*");
	cr_form_free(&f);
	/* Names are decoded too. */
	assert_int_equal(parse("%61%5B%5D=v", &f), CR_OK);
	assert_string_equal(cr_form_get(&f, "a[]"), "v");
	cr_form_free(&f);
}

static void
test_empty_values(void **state)
{
	struct cr_form f;

	(void)state;
	assert_int_equal(parse("a=&b&c=x=y&d", &f), CR_OK);
	assert_int_equal(f.n, 4);
	assert_string_equal(cr_form_get(&f, "a"), "");
	assert_string_equal(cr_form_get(&f, "b"), ""); /* no '=' at all */
	assert_string_equal(cr_form_get(&f, "c"), "x=y"); /* split at the first '=' */
	assert_string_equal(cr_form_get(&f, "d"), "");
	assert_non_null(cr_form_get(&f, "b"));
	cr_form_free(&f);
}

static void
test_empty_pairs_skipped(void **state)
{
	struct cr_form f;

	(void)state;
	assert_int_equal(parse("&a=1&&b=2&", &f), CR_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(cr_form_get(&f, "a"), "1");
	assert_string_equal(cr_form_get(&f, "b"), "2");
	cr_form_free(&f);
}

static void
test_utf8_passes(void **state)
{
	struct cr_form f;

	(void)state;
	assert_int_equal(parse("name=陳大文&enc=%E9%99%B3&名=v", &f), CR_OK);
	assert_string_equal(cr_form_get(&f, "name"), "陳大文");
	assert_string_equal(cr_form_get(&f, "enc"), "陳");
	assert_string_equal(cr_form_get(&f, "名"), "v");
	cr_form_free(&f);
	/* Bytes are not validated as UTF-8 here: a stray high byte passes (validators decide). */
	assert_int_equal(parse("b=%FF", &f), CR_OK);
	assert_string_equal(cr_form_get(&f, "b"), "\xff");
	cr_form_free(&f);
}

static void
test_bad_escapes(void **state)
{
	(void)state;
	refused("a=%", CR_ERR_INVALID);
	refused("a=%4", CR_ERR_INVALID);
	refused("a=%G1", CR_ERR_INVALID);
	refused("a=%1G", CR_ERR_INVALID);
	refused("a=%%41", CR_ERR_INVALID);
	refused("a=%4&b=1", CR_ERR_INVALID); /* the '&' is not a hex digit */
	refused("a=x%", CR_ERR_INVALID);
	refused("%=1", CR_ERR_INVALID);
	refused("a%4=1", CR_ERR_INVALID);
	refused("ok=1&a=%zz", CR_ERR_INVALID); /* a good field before does not save it */
}

static void
test_nul_refused(void **state)
{
	struct cr_form f;
	static const char raw[] = {'a', '=', 'x', '\0', 'y'};

	(void)state;
	refused("a=%00", CR_ERR_INVALID);
	refused("a=x%00y", CR_ERR_INVALID);
	refused("%00=1", CR_ERR_INVALID);
	assert_int_equal(cr_form_parse(raw, sizeof(raw), &f), CR_ERR_INVALID);
	assert_int_equal(f.n, 0);
}

static void
test_not_nul_terminated(void **state)
{
	struct cr_form f;
	const char buf[] = "a=12345&b=6";

	(void)state;
	/* Only len bytes are read. */
	assert_int_equal(cr_form_parse(buf, 4, &f), CR_OK);
	assert_int_equal(f.n, 1);
	assert_string_equal(cr_form_get(&f, "a"), "12");
	cr_form_free(&f);
	/* An escape cut off by len is incomplete. */
	assert_int_equal(cr_form_parse("a=%41", 4, &f), CR_ERR_INVALID);
}

static void
test_duplicates_refused(void **state)
{
	(void)state;
	refused("a=1&a=2", CR_ERR_INVALID);
	refused("a=1&b=2&a=1", CR_ERR_INVALID);
	refused("a&a", CR_ERR_INVALID);
	refused("a=1&%61=2", CR_ERR_INVALID); /* the same name after decoding */
	refused("a+b=1&a%20b=2", CR_ERR_INVALID);
}

static void
test_empty_name_refused(void **state)
{
	(void)state;
	refused("=1", CR_ERR_INVALID);
	refused("a=1&=2", CR_ERR_INVALID);
	refused("=", CR_ERR_INVALID);
}

/* Writes "%41" n times then "=v" into buf. */
static void
escaped_name(char *buf, size_t cap, int n)
{
	size_t o = 0;

	for (int i = 0; i < n && o + 3 < cap; i++, o += 3)
		memcpy(buf + o, "%41", 3);
	snprintf(buf + o, cap - o, "=v");
}

static void
test_name_length(void **state)
{
	struct cr_form f;
	char buf[3 * CR_FORM_MAX_NAME + 16], name[CR_FORM_MAX_NAME + 2];

	(void)state;
	memset(name, 'n', CR_FORM_MAX_NAME);
	name[CR_FORM_MAX_NAME] = '\0';
	snprintf(buf, sizeof(buf), "%s=v", name);
	assert_int_equal(parse(buf, &f), CR_OK);
	assert_string_equal(cr_form_get(&f, name), "v");
	cr_form_free(&f);

	name[CR_FORM_MAX_NAME] = 'n';
	name[CR_FORM_MAX_NAME + 1] = '\0';
	snprintf(buf, sizeof(buf), "%s=v", name);
	refused(buf, CR_ERR_INVALID);
	snprintf(buf, sizeof(buf), "%s", name); /* without '=' too */
	refused(buf, CR_ERR_INVALID);

	/* 64 escaped bytes decode to a name of exactly the cap. */
	escaped_name(buf, sizeof(buf), CR_FORM_MAX_NAME);
	assert_int_equal(parse(buf, &f), CR_OK);
	assert_int_equal(f.n, 1);
	assert_int_equal(strlen(f.f[0].name), CR_FORM_MAX_NAME);
	cr_form_free(&f);
	/* 65 escaped bytes do not fit. */
	escaped_name(buf, sizeof(buf), CR_FORM_MAX_NAME + 1);
	refused(buf, CR_ERR_INVALID);
}

static void
test_long_value_accepted(void **state)
{
	struct cr_form f;
	static char buf[70000];

	(void)state;
	memcpy(buf, "v=", 2);
	memset(buf + 2, 'x', sizeof(buf) - 3);
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(parse(buf, &f), CR_OK);
	assert_int_equal(strlen(cr_form_get(&f, "v")), sizeof(buf) - 3);
	cr_form_free(&f);
}

/* Writes "f0=0&f1=1&...&f<n-1>=<n-1>" (plus extra) into buf. */
static void
many_fields(char *buf, size_t cap, int n, const char *extra)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%sf%d=%d", i ? "&" : "", i, i);
	snprintf(buf + o, cap - o, "%s", extra);
}

static void
test_field_cap(void **state)
{
	struct cr_form f;
	static char buf[CR_FORM_MAX_FIELDS * 16];
	char last[16];

	(void)state;
	many_fields(buf, sizeof(buf), CR_FORM_MAX_FIELDS, "&&");
	assert_int_equal(parse(buf, &f), CR_OK);
	assert_int_equal(f.n, CR_FORM_MAX_FIELDS);
	snprintf(last, sizeof(last), "f%d", CR_FORM_MAX_FIELDS - 1);
	assert_non_null(cr_form_get(&f, last));
	cr_form_free(&f);

	many_fields(buf, sizeof(buf), CR_FORM_MAX_FIELDS + 1, "");
	refused(buf, CR_ERR_TOOBIG);
	many_fields(buf, sizeof(buf), CR_FORM_MAX_FIELDS, "&x"); /* a field without '=' counts too */
	refused(buf, CR_ERR_TOOBIG);
}

static void
test_get_missing(void **state)
{
	struct cr_form f;

	(void)state;
	assert_int_equal(parse("a=1&ab=2", &f), CR_OK);
	assert_null(cr_form_get(&f, "b"));
	assert_null(cr_form_get(&f, "A")); /* case-sensitive */
	assert_null(cr_form_get(&f, "a "));
	assert_null(cr_form_get(&f, ""));
	assert_string_equal(cr_form_get(&f, "ab"), "2");
	cr_form_free(&f);
	assert_null(cr_form_get(&f, "a")); /* after free */
}

/* govsim's rules: repeats and any name kept for the reader, a smaller field cap. */
static const struct cr_form_rules lax = {4, true, true};

static void
test_rules_keep_duplicates(void **state)
{
	struct cr_form f;

	(void)state;
	assert_int_equal(cr_form_parse_rules("a=1&a=2&=x", 10, &lax, &f), CR_OK);
	assert_int_equal(f.n, 3);
	assert_string_equal(cr_form_get(&f, "a"), "1");
	assert_string_equal(f.f[1].value, "2");
	assert_string_equal(f.f[2].name, "");
	cr_form_free(&f);
	assert_int_equal(cr_form_parse_rules("a=1&b=2&c=3&d=4&e=5", 19, &lax, &f), CR_ERR_TOOBIG);
	assert_int_equal(f.n, 0);
	assert_int_equal(cr_form_parse_rules("a=%zz", 5, &lax, &f), CR_ERR_INVALID);
	assert_int_equal(f.n, 0);
}

static void
test_add(void **state)
{
	struct cr_form f = {0};
	const struct cr_form_rules strict = {CR_FORM_MAX_FIELDS, false, false};

	(void)state;
	assert_int_equal(cr_form_add(&f, &strict, "a", 1, "x y", 3), CR_OK);
	assert_int_equal(cr_form_add(&f, &strict, "", 0, "", 0), CR_OK); /* "&&": skipped */
	assert_int_equal(f.n, 1);
	assert_int_equal(cr_form_add(&f, &strict, "a", 1, "2", 1), CR_ERR_INVALID);
	assert_int_equal(cr_form_add(&f, &strict, "b", 1, "\0", 1), CR_ERR_INVALID);
	assert_int_equal(cr_form_add(&f, &lax, "a", 1, "2", 1), CR_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(cr_form_get(&f, "a"), "x y");
	cr_form_free(&f);
}

static void
test_decode(void **state)
{
	char *s = NULL;

	(void)state;
	assert_int_equal(cr_form_decode("a+b%41%2f", 9, &s), CR_OK);
	assert_string_equal(s, "a bA/");
	free(s);
	assert_int_equal(cr_form_decode("%4", 2, &s), CR_ERR_INVALID);
	assert_null(s);
	assert_int_equal(cr_form_decode("a%00", 4, &s), CR_ERR_INVALID);
	assert_int_equal(cr_form_decode("%g0", 3, &s), CR_ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_plus_is_space),
		cmocka_unit_test(test_percent_decoding),
		cmocka_unit_test(test_empty_values),
		cmocka_unit_test(test_empty_pairs_skipped),
		cmocka_unit_test(test_utf8_passes),
		cmocka_unit_test(test_bad_escapes),
		cmocka_unit_test(test_nul_refused),
		cmocka_unit_test(test_not_nul_terminated),
		cmocka_unit_test(test_duplicates_refused),
		cmocka_unit_test(test_empty_name_refused),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_long_value_accepted),
		cmocka_unit_test(test_field_cap),
		cmocka_unit_test(test_get_missing),
		cmocka_unit_test(test_rules_keep_duplicates),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
