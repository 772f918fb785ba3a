/*
 * Unit tests of the CSV reader (src/util/csv.c) and of the serial-number
 * normaliser the importers use with it (cr_pki_serial_normalise, pki/x509_read.c).
 *
 * Each case parses a literal buffer and compares the records seen by the
 * callback, flattened as "LINE|field|field...\n", with the expected text; error
 * cases also check the returned error, the line and the reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pki/pki.h"
#include "util/csv.h"

struct seen {
	char text[4096];
	size_t len;
	size_t records;
	size_t stop_after; /* 0: never */
};

static enum cr_err
collect(const struct cr_csv_record *rec, void *arg)
{
	struct seen *s = arg;
	int w;

	assert_true(rec->nfields >= 1 && rec->nfields <= CR_CSV_MAX_FIELDS);
	w = snprintf(s->text + s->len, sizeof(s->text) - s->len, "%zu", rec->line);
	s->len += (size_t)w;
	for (size_t i = 0; i < rec->nfields; i++) {
		assert_int_equal(strlen(rec->field[i]), rec->len[i]);
		w = snprintf(s->text + s->len, sizeof(s->text) - s->len, "|%s", rec->field[i]);
		s->len += (size_t)w;
	}
	w = snprintf(s->text + s->len, sizeof(s->text) - s->len, "\n");
	s->len += (size_t)w;
	assert_true(s->len < sizeof(s->text));
	s->records++;
	if (s->stop_after != 0 && s->records == s->stop_after)
		return CR_ERR_CONFLICT;
	return CR_OK;
}

/* Parses a literal (without its terminating NUL) and expects success with these records. */
static void
ok_case(const char *in, size_t len, const char *want)
{
	struct seen s = {0};
	struct cr_csv_error e;

	assert_int_equal(cr_csv_parse(in, len, collect, &s, &e), CR_OK);
	assert_int_equal(e.line, 0);
	assert_string_equal(s.text, want);
}
#define OK(lit, want) ok_case(lit, sizeof(lit) - 1, want)

/* Expects err at line with a reason containing why; records before it are in want. */
static void
bad_case(const char *in, size_t len, enum cr_err err, size_t line, const char *why, const char *want)
{
	struct seen s = {0};
	struct cr_csv_error e;

	assert_int_equal(cr_csv_parse(in, len, collect, &s, &e), err);
	assert_int_equal(e.line, line);
	if (strstr(e.reason, why) == NULL)
		fail_msg("reason '%s' lacks '%s'", e.reason, why);
	assert_string_equal(s.text, want);
}
#define BAD(lit, err, line, why, want) bad_case(lit, sizeof(lit) - 1, err, line, why, want)

static void
test_plain(void **state)
{
	(void)state;
	OK("a,b,c\n1,2,3\n", "1|a|b|c\n2|1|2|3\n");
	OK("a,b,c", "1|a|b|c\n");                       /* no final line end */
	OK("a,b\r\n1,2\r\n", "1|a|b\n2|1|2\n");         /* CRLF */
	OK("a,b\r\n1,2\n3,4", "1|a|b\n2|1|2\n3|3|4\n"); /* mixed */
	OK("", "");
	OK("single", "1|single\n");
	OK(" spaced , kept ", "1| spaced | kept \n");    /* the reader does not trim */
}

static void
test_empty_fields_and_lines(void **state)
{
	(void)state;
	OK(",\n", "1||\n");
	OK("a,,c,\n", "1|a||c|\n");
	OK("a,b,", "1|a|b|\n");
	OK("\n\na\n\r\n\nb\n\n", "3|a\n6|b\n"); /* empty lines skipped, still counted */
	OK("\"\"\n", "1|\n");
	OK("\"\",\"\"", "1||\n");
}

static void
test_quoted(void **state)
{
	(void)state;
	OK("\"a,b\",c\n", "1|a,b|c\n");
	OK("\"say \"\"hi\"\"\",x\n", "1|say \"hi\"|x\n");
	OK("\"\"\"\"\n", "1|\"\n");
	OK("\"two\nlines\",x\nnext,y\n", "1|two\nlines|x\n3|next|y\n");
	OK("\"crlf\r\ninside\"\r\nz\r\n", "1|crlf\r\ninside\n3|z\n");
	OK("\"ends at eof\"", "1|ends at eof\n");
	OK("a,\"\"\r\n", "1|a|\n");
}

static void
test_bom_and_utf8(void **state)
{
	(void)state;
	OK("\xef\xbb\xbfserial,name\n1,\xe9\x99\xb3\xe5\xa4\xa7\xe6\x96\x87\n",
	    "1|serial|name\n2|1|\xe9\x99\xb3\xe5\xa4\xa7\xe6\x96\x87\n");
	OK("\xef\xbb\xbf", "");
	OK("\xef\xbb\xbf\"q\"", "1|q\n");
	OK("\xf0\x9f\x98\x80,\xc3\xa9", "1|\xf0\x9f\x98\x80|\xc3\xa9\n");
	/* A BOM later in the file is text (U+FEFF, valid UTF-8). */
	OK("a\n\xef\xbb\xbf" "b\n", "1|a\n2|\xef\xbb\xbf" "b\n");
	BAD("ok\n\xff\n", CR_ERR_INVALID, 2, "not UTF-8", "1|ok\n");
	BAD("\xc0\xaf", CR_ERR_INVALID, 1, "not UTF-8", "");          /* overlong '/' */
	BAD("\xed\xa0\x80", CR_ERR_INVALID, 1, "not UTF-8", "");      /* surrogate */
	BAD("\xf4\x90\x80\x80", CR_ERR_INVALID, 1, "not UTF-8", "");  /* > U+10FFFF */
	BAD("a,\xe9\x99", CR_ERR_INVALID, 1, "not UTF-8", "");        /* truncated */
	BAD("x\n\"\n\xe9\"", CR_ERR_INVALID, 2, "not UTF-8", "1|x\n"); /* field starts on line 2 */
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	BAD("a,b\nc\"d,e\n", CR_ERR_INVALID, 2, "quote inside an unquoted field", "1|a|b\n");
	BAD("\"a\"b,c\n", CR_ERR_INVALID, 1, "text after a closing quote", "");
	BAD("ok\n\"open,\nstill\nopen", CR_ERR_INVALID, 2, "unterminated quoted field", "1|ok\n");
	BAD("a\rb\n", CR_ERR_INVALID, 1, "bare CR", "");
	BAD("a\n\r", CR_ERR_INVALID, 2, "bare CR", "1|a\n");
	BAD("a,b\r", CR_ERR_INVALID, 1, "bare CR", "");
	BAD("a\0b\n", CR_ERR_INVALID, 1, "NUL byte", "");
	BAD("\"a\0\"\n", CR_ERR_INVALID, 1, "NUL byte", "");
}

static enum cr_err
count(const struct cr_csv_record *rec, void *arg)
{
	size_t *n = arg;

	assert_int_equal(strlen(rec->field[0]), rec->len[0]);
	(*n)++;
	return CR_OK;
}

static void
test_caps(void **state)
{
	char *buf;
	size_t n, records;
	struct seen s = {0};
	struct cr_csv_error e;

	(void)state;
	/* 64 fields pass, 65 do not. */
	buf = calloc(1, 4096);
	assert_non_null(buf);
	memset(buf, ',', 64);
	assert_int_equal(cr_csv_parse(buf, 63, collect, &s, &e), CR_OK);
	assert_int_equal(s.records, 1);
	memcpy(buf + 64, "\nnext\n", 6);
	records = 0;
	assert_int_equal(cr_csv_parse(buf, 70, count, &records, &e), CR_ERR_TOOBIG);
	assert_int_equal(e.line, 1);
	assert_non_null(strstr(e.reason, "more than 64 fields"));
	assert_int_equal(records, 0);
	free(buf);

	/* A record of exactly 8192 bytes passes; 8193 bytes (plain or quoted) do not. */
	n = 2 + CR_CSV_MAX_RECORD + 2;
	buf = malloc(n + 8);
	assert_non_null(buf);
	memcpy(buf, "h\n", 2);
	memset(buf + 2, 'x', CR_CSV_MAX_RECORD);
	memcpy(buf + 2 + CR_CSV_MAX_RECORD, "\r\n", 2);
	records = 0;
	assert_int_equal(cr_csv_parse(buf, n, count, &records, &e), CR_OK);
	assert_int_equal(records, 2);
	buf[2 + CR_CSV_MAX_RECORD] = 'x';
	buf[2 + CR_CSV_MAX_RECORD + 1] = '\n';
	records = 0;
	assert_int_equal(cr_csv_parse(buf, n, count, &records, &e), CR_ERR_TOOBIG);
	assert_int_equal(e.line, 2);
	assert_non_null(strstr(e.reason, "longer than 8192"));
	assert_int_equal(records, 1);
	/* quoted: "xxxx...x" of 8192 bytes with its quotes passes, one more byte does not */
	buf[2] = '"';
	buf[2 + CR_CSV_MAX_RECORD - 1] = '"';
	buf[2 + CR_CSV_MAX_RECORD] = '\n';
	records = 0;
	assert_int_equal(cr_csv_parse(buf, 3 + CR_CSV_MAX_RECORD, count, &records, &e), CR_OK);
	assert_int_equal(records, 2);
	buf[2 + CR_CSV_MAX_RECORD - 1] = 'x';
	buf[2 + CR_CSV_MAX_RECORD] = '"';
	buf[2 + CR_CSV_MAX_RECORD + 1] = '\n';
	assert_int_equal(cr_csv_parse(buf, 4 + CR_CSV_MAX_RECORD, count, &records, &e), CR_ERR_TOOBIG);
	assert_int_equal(e.line, 2);
	/* a quoted field spanning lines counts against the same cap */
	buf[100] = '\n';
	assert_int_equal(cr_csv_parse(buf, 4 + CR_CSV_MAX_RECORD, count, &records, &e), CR_ERR_TOOBIG);
	assert_int_equal(e.line, 2);
	free(buf);

	/* 1,000,000 lines pass (with or without a final line end), 1,000,001 do not. */
	n = 2 * (size_t)CR_CSV_MAX_LINES + 2;
	buf = malloc(n);
	assert_non_null(buf);
	for (size_t i = 0; i < n; i += 2)
		memcpy(buf + i, "a\n", 2);
	records = 0;
	assert_int_equal(cr_csv_parse(buf, n - 2, count, &records, &e), CR_OK);
	assert_int_equal(records, CR_CSV_MAX_LINES);
	records = 0;
	assert_int_equal(cr_csv_parse(buf, n - 3, count, &records, &e), CR_OK);
	assert_int_equal(records, CR_CSV_MAX_LINES);
	records = 0;
	assert_int_equal(cr_csv_parse(buf, n - 1, count, &records, &e), CR_ERR_TOOBIG);
	assert_int_equal(e.line, CR_CSV_MAX_LINES + 1);
	assert_non_null(strstr(e.reason, "more than 1000000 lines"));
	assert_int_equal(records, CR_CSV_MAX_LINES);
	/* empty lines count too */
	memset(buf, '\n', n);
	assert_int_equal(cr_csv_parse(buf, n - 2, count, &records, &e), CR_ERR_TOOBIG);
	free(buf);
}

static void
test_callback_stops(void **state)
{
	struct seen s = {.stop_after = 2};
	struct cr_csv_error e;

	(void)state;
	assert_int_equal(cr_csv_parse("a\nb\nc\n", 6, collect, &s, &e), CR_ERR_CONFLICT);
	assert_int_equal(e.line, 0); /* not the parser's error */
	assert_int_equal(s.records, 2);
	/* NULL buffer and NULL error are allowed */
	assert_int_equal(cr_csv_parse(NULL, 5, collect, &s, NULL), CR_OK);
	assert_int_equal(cr_csv_parse("\"", 1, collect, &s, NULL), CR_ERR_INVALID);
}

/* Fields point into one scratch area; a record's fields must not overlap or run into each other. */
static enum cr_err
no_overlap(const struct cr_csv_record *rec, void *arg)
{
	(void)arg;
	for (size_t i = 1; i < rec->nfields; i++)
		assert_true(rec->field[i] > rec->field[i - 1] + rec->len[i - 1]);
	return CR_OK;
}

static void
test_fields_distinct(void **state)
{
	static const char in[] = "\"a\"\"b\",,\"c\nd\",e\r\n";

	(void)state;
	assert_int_equal(cr_csv_parse(in, sizeof(in) - 1, no_overlap, NULL, NULL), CR_OK);
}

static void
test_serial_normalise(void **state)
{
	char out[80], tiny[5];

	(void)state;
	assert_true(cr_pki_serial_normalise("0A:1B:2c", out, sizeof(out)));
	assert_string_equal(out, "0a1b2c");
	assert_true(cr_pki_serial_normalise("a1b2c", out, sizeof(out)));
	assert_string_equal(out, "0a1b2c"); /* odd length: a zero goes in front, as BN_bn2hex writes it */
	assert_true(cr_pki_serial_normalise("00:00:ff", out, sizeof(out)));
	assert_string_equal(out, "ff"); /* leading zero octets dropped */
	assert_true(cr_pki_serial_normalise("0x7F 00", out, sizeof(out)));
	assert_string_equal(out, "7f00");
	assert_true(cr_pki_serial_normalise("  DE AD BE EF ", out, sizeof(out)));
	assert_string_equal(out, "deadbeef");
	assert_true(cr_pki_serial_normalise("000", out, sizeof(out)));
	assert_string_equal(out, "0");
	assert_false(cr_pki_serial_normalise("", out, sizeof(out)));
	assert_false(cr_pki_serial_normalise(" : ", out, sizeof(out)));
	assert_false(cr_pki_serial_normalise("12-34", out, sizeof(out)));
	assert_false(cr_pki_serial_normalise("g1", out, sizeof(out)));
	assert_false(cr_pki_serial_normalise("0x", out, sizeof(out)));
	assert_true(cr_pki_serial_normalise("abcd", tiny, sizeof(tiny)));
	assert_string_equal(tiny, "abcd");
	assert_false(cr_pki_serial_normalise("abcde", tiny, sizeof(tiny))); /* "0abcde" does not fit */
	assert_false(cr_pki_serial_normalise(NULL, out, sizeof(out)));
}

/* Bytes that are neither PEM nor DER are refused with a reason; nothing is returned. */
static void
test_certs_read_garbage(void **state)
{
	struct cr_pki_cert_info *c = (void *)1;
	size_t n = 7;
	char why[128];

	(void)state;
	assert_int_equal(cr_pki_certs_read((const unsigned char *)"hello", 5, &c, &n, why, sizeof(why)),
	    CR_ERR_INVALID);
	assert_null(c);
	assert_int_equal(n, 0);
	assert_true(why[0] != '\0');
	assert_int_equal(cr_pki_certs_read((const unsigned char *)"\x30\x03\x02\x01\x01", 5, &c, &n, why,
	                     sizeof(why)),
	    CR_ERR_INVALID);
	assert_int_equal(cr_pki_certs_read((const unsigned char *)"-----BEGIN CERTIFICATE-----\nAAAA\n"
	                                                          "-----END CERTIFICATE-----\n",
	                     66, &c, &n, why, sizeof(why)),
	    CR_ERR_INVALID);
	assert_int_equal(cr_pki_certs_read((const unsigned char *)"", 0, &c, &n, why, sizeof(why)), CR_ERR_INVALID);
	cr_pki_certs_free(NULL, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_empty_fields_and_lines),
	    cmocka_unit_test(test_quoted),
	    cmocka_unit_test(test_bom_and_utf8),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_callback_stops),
	    cmocka_unit_test(test_fields_distinct),
	    cmocka_unit_test(test_serial_normalise),
	    cmocka_unit_test(test_certs_read_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
