/*
 * Unit tests of DSI's answer parsers (src/adapters/dsi.c, docs/internals/dsi.md):
 * cr_dsi_parse_resident and cr_dsi_parse_face on good answers and on every kind
 * of bad one. Anything off is CR_ERR_INVALID with the output zeroed, never a
 * partial answer. The adapter's requests are driven against a DSI stand-in by
 * test_identity_flow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "adapters/dsi.h"

/* ---- answers ---- */

static json_t *
good_resident(void)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}", "transaction_id", "dsi-5f2c.A_9",
	    "queried_at", "2026-12-02T15:04:05Z", "resident", "id_number", "1234567(8)", "surname", "WONG", "given_names",
	    "xxxx xexx", "name_zh", "\xe9\xbb\x83\xe5\xb0\x8f\xe8\x8f\xaf", "card_number", "MO1234567A", "card_issued_on",
	    "2021-03-04", "card_expires_on", "2031-03-04", "card_status", "valid");
}

static json_t *
good_face(void)
{
	return json_pack("{s:s, s:f, s:s, s:s}", "transaction_id", "dsi-77", "score", 0.9731, "algorithm", "govsim-ncc",
	    "algorithm_version", "1.0");
}

static const char *const RESIDENT_MEMBERS[] = {"id_number", "surname", "given_names", "name_zh", "card_number",
    "card_issued_on", "card_expires_on", "card_status"};
#define N_RESIDENT_MEMBERS (sizeof(RESIDENT_MEMBERS) / sizeof(RESIDENT_MEMBERS[0]))

static bool
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* Parses the JSON text s as a resident answer; the output is zero whenever it is refused. */
static enum cr_err
resident_text(const char *s, size_t len, struct cr_dsi_resident *out)
{
	enum cr_err err;

	memset(out, 0xa5, sizeof(*out));
	err = cr_dsi_parse_resident(s, len, out);
	if (err != CR_OK && !all_zero(out, sizeof(*out)))
		fail_msg("a refused resident answer left data behind");
	return err;
}

static enum cr_err
resident_json(json_t *o)
{
	struct cr_dsi_resident r;
	char *s = json_dumps(o, JSON_COMPACT);
	enum cr_err err;

	assert_non_null(s);
	err = resident_text(s, strlen(s), &r);
	free(s);
	json_decref(o);
	return err;
}

/* The good resident answer with resident.key set to v (NULL: removed); consumes v. */
static enum cr_err
resident_with(const char *key, json_t *v)
{
	json_t *o = good_resident(), *r = json_object_get(o, "resident");

	if (v == NULL)
		assert_int_equal(json_object_del(r, key), 0);
	else
		assert_int_equal(json_object_set_new(r, key, v), 0);
	return resident_json(o);
}

/* The same for a top-level member. */
static enum cr_err
resident_top_with(const char *key, json_t *v)
{
	json_t *o = good_resident();

	if (v == NULL)
		assert_int_equal(json_object_del(o, key), 0);
	else
		assert_int_equal(json_object_set_new(o, key, v), 0);
	return resident_json(o);
}

static enum cr_err
face_text(const char *s, size_t len, struct cr_dsi_face *out)
{
	enum cr_err err;

	memset(out, 0xa5, sizeof(*out));
	err = cr_dsi_parse_face(s, len, out);
	if (err != CR_OK && !all_zero(out, sizeof(*out)))
		fail_msg("a refused face answer left data behind");
	return err;
}

static enum cr_err
face_json(json_t *o, struct cr_dsi_face *out)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	enum cr_err err;

	assert_non_null(s);
	err = face_text(s, strlen(s), out);
	free(s);
	json_decref(o);
	return err;
}

static enum cr_err
face_with(const char *key, json_t *v)
{
	struct cr_dsi_face f;
	json_t *o = good_face();

	if (v == NULL)
		assert_int_equal(json_object_del(o, key), 0);
	else
		assert_int_equal(json_object_set_new(o, key, v), 0);
	return face_json(o, &f);
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- resident ---- */

static void
test_resident_good(void **state)
{
	struct cr_dsi_resident r;
	json_t *o = good_resident();
	char *s = json_dumps(o, JSON_INDENT(2));

	(void)state;
	assert_int_equal(resident_text(s, strlen(s), &r), CR_OK);
	assert_string_equal(r.transaction_id, "dsi-5f2c.A_9");
	assert_string_equal(r.queried_at, "2026-12-02T15:04:05Z");
	assert_string_equal(r.card.id_number, "1234567(8)");
	assert_string_equal(r.card.surname, "WONG");
	assert_string_equal(r.card.given_names, "xxxx xexx");
	assert_string_equal(r.card.name_zh, "\xe9\xbb\x83\xe5\xb0\x8f\xe8\x8f\xaf");
	assert_string_equal(r.card.card_number, "MO1234567A");
	assert_string_equal(r.card.issued_on, "2021-03-04");
	assert_string_equal(r.card.expires_on, "2031-03-04");
	assert_string_equal(r.card.status, "valid");
	free(s);
	json_decref(o);

	/* Every status DSI names; no Chinese name, no given names; members DSI adds are ignored. */
	static const char *const statuses[] = {"valid", "expired", "revoked", "lost", "cancelled"};
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		assert_int_equal(resident_with("card_status", json_string(statuses[i])), CR_OK);
	assert_int_equal(resident_with("name_zh", json_string("")), CR_OK);
	assert_int_equal(resident_with("given_names", json_string("")), CR_OK);
	assert_int_equal(resident_with("photo_on_file", json_true()), CR_OK);
	assert_int_equal(resident_top_with("api_version", json_integer(2)), CR_OK);
	assert_int_equal(resident_top_with("queried_at", json_string("2026-12-02T15:04:05.123+08:00")), CR_OK);
}

static void
test_resident_missing_member(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_RESIDENT_MEMBERS; i++)
		if (resident_with(RESIDENT_MEMBERS[i], NULL) != CR_ERR_INVALID)
			fail_msg("resident.%s missing: accepted", RESIDENT_MEMBERS[i]);
	assert_int_equal(resident_top_with("transaction_id", NULL), CR_ERR_INVALID);
	assert_int_equal(resident_top_with("queried_at", NULL), CR_ERR_INVALID);
	assert_int_equal(resident_top_with("resident", NULL), CR_ERR_INVALID);
}

static void
test_resident_wrong_type(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_RESIDENT_MEMBERS; i++) {
		const char *k = RESIDENT_MEMBERS[i];

		if (resident_with(k, json_integer(12345678)) != CR_ERR_INVALID ||
		    resident_with(k, json_null()) != CR_ERR_INVALID || resident_with(k, json_true()) != CR_ERR_INVALID ||
		    resident_with(k, json_pack("[s]", "WONG")) != CR_ERR_INVALID ||
		    resident_with(k, json_pack("{s:s}", "v", "WONG")) != CR_ERR_INVALID)
			fail_msg("resident.%s of another type: accepted", k);
	}
	assert_int_equal(resident_top_with("transaction_id", json_integer(7)), CR_ERR_INVALID);
	assert_int_equal(resident_top_with("queried_at", json_real(1.5e9)), CR_ERR_INVALID);
	assert_int_equal(resident_top_with("resident", json_string("WONG")), CR_ERR_INVALID);
	assert_int_equal(resident_top_with("resident", json_pack("[{s:s}]", "surname", "WONG")), CR_ERR_INVALID);
	assert_int_equal(resident_top_with("resident", json_null()), CR_ERR_INVALID);
}

static void
test_resident_empty_required(void **state)
{
	static const char *const required[] = {"id_number", "surname", "card_number", "card_issued_on",
	    "card_expires_on", "card_status"};

	(void)state;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (resident_with(required[i], json_string("")) != CR_ERR_INVALID)
			fail_msg("resident.%s empty: accepted", required[i]);
	assert_int_equal(resident_top_with("transaction_id", json_string("")), CR_ERR_INVALID);
	assert_int_equal(resident_top_with("queried_at", json_string("")), CR_ERR_INVALID);
}

static void
test_resident_too_long(void **state)
{
	char *s256 = repeat('W', 256), *s257 = repeat('W', 257);
	char zh256[257], zh258[259];

	(void)state;
	/* Strings are at most 256 bytes. */
	assert_int_equal(resident_with("surname", json_string(s256)), CR_OK);
	assert_int_equal(resident_with("surname", json_string(s257)), CR_ERR_INVALID);
	assert_int_equal(resident_with("given_names", json_string(s256)), CR_OK);
	assert_int_equal(resident_with("given_names", json_string(s257)), CR_ERR_INVALID);
	/* Bytes, not characters: 85 Chinese characters are 255 bytes, 86 are 258. */
	for (int i = 0; i < 86; i++)
		memcpy(zh258 + 3 * i, "\xe9\xbb\x83", 3);
	zh258[258] = '\0';
	memcpy(zh256, zh258, 255);
	zh256[255] = '\0';
	assert_int_equal(resident_with("name_zh", json_string(zh256)), CR_OK);
	assert_int_equal(resident_with("name_zh", json_string(zh258)), CR_ERR_INVALID);
	/* Shorter fields have their own bounds. */
	s257[31] = '\0';
	assert_int_equal(resident_with("id_number", json_string(s257)), CR_OK);
	s257[31] = 'W';
	s257[32] = '\0';
	assert_int_equal(resident_with("id_number", json_string(s257)), CR_ERR_INVALID);
	s257[32] = 'W';
	s257[64] = '\0';
	assert_int_equal(resident_with("card_number", json_string(s257)), CR_ERR_INVALID);
	assert_int_equal(resident_with("card_status", json_string("valid                ")), CR_ERR_INVALID);
	free(s256);
	free(s257);
}

static void
test_resident_control_chars(void **state)
{
	static const char *const bad[] = {"WO\nNG", "WONG\r", "\tWONG", "WO\x01NG", "WONG\x1f", "WO\x7fNG"};
	static const char nul[] = "{\"transaction_id\":\"dsi-1\",\"queried_at\":\"2026-12-02T15:04:05Z\","
	                          "\"resident\":{\"id_number\":\"1234567(8)\",\"surname\":\"WO\\u0000NG\","
	                          "\"given_names\":\"xxxx\",\"name_zh\":\"\",\"card_number\":\"MO1\","
	                          "\"card_issued_on\":\"2021-03-04\",\"card_expires_on\":\"2031-03-04\","
	                          "\"card_status\":\"valid\"}}";
	struct cr_dsi_resident r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (resident_with("surname", json_string(bad[i])) != CR_ERR_INVALID)
			fail_msg("surname with a control character (#%zu): accepted", i);
		if (resident_with("name_zh", json_string(bad[i])) != CR_ERR_INVALID)
			fail_msg("name_zh with a control character (#%zu): accepted", i);
	}
	assert_int_equal(resident_top_with("queried_at", json_string("2026-12-02T15:04:05Z\n")), CR_ERR_INVALID);
	/* An escaped NUL would cut the string short. */
	assert_int_equal(resident_text(nul, sizeof(nul) - 1, &r), CR_ERR_INVALID);
	assert_int_equal(resident_with("surname", json_stringn("WO\0NG", 5)), CR_ERR_INVALID);
}

static void
test_resident_bad_date(void **state)
{
	static const char *const bad[] = {"2031-13-04", "2031-00-04", "2031-03-00", "2031-03-32", "2031-3-04",
	    "2031-03-4", "31-03-04", "2031/03/04", "20310304", "2031-03-04T00:00:00Z", "2031-03-0x", " 2031-03-04",
	    "+031-03-04", "2031-+3-04", "2031--3-04", "tomorrow", "2031-02-30", "2031-04-31", "2100-02-29"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (resident_with("card_expires_on", json_string(bad[i])) != CR_ERR_INVALID)
			fail_msg("card_expires_on \"%s\": accepted", bad[i]);
		if (resident_with("card_issued_on", json_string(bad[i])) != CR_ERR_INVALID)
			fail_msg("card_issued_on \"%s\": accepted", bad[i]);
	}
	/* queried_at is RFC 3339. */
	static const char *const bad_times[] = {"yesterday", "2026-12-02", "2026-12-02 15:04:05", "2026-12-02T15:04:05",
	    "2026-12-02T15:04Z", "2026-13-02T15:04:05Z", "2026-12-02T25:04:05Z", "2026-12-02T15:04:05+8",
	    "2026-12-02T15:04:05.Z", "1764687845"};
	for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++)
		if (resident_top_with("queried_at", json_string(bad_times[i])) != CR_ERR_INVALID)
			fail_msg("queried_at \"%s\": accepted", bad_times[i]);
}

static void
test_resident_unknown_status(void **state)
{
	static const char *const bad[] = {"VALID", "Valid", "suspended", "valid ", "ok", "expired\x01"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (resident_with("card_status", json_string(bad[i])) != CR_ERR_INVALID)
			fail_msg("card_status \"%s\": accepted", bad[i]);
}

static void
test_resident_duplicate_keys(void **state)
{
	static const char top[] = "{\"transaction_id\":\"dsi-1\",\"transaction_id\":\"dsi-2\","
	                          "\"queried_at\":\"2026-12-02T15:04:05Z\",\"resident\":{\"id_number\":\"1234567(8)\","
	                          "\"surname\":\"WONG\",\"given_names\":\"x\",\"name_zh\":\"\",\"card_number\":\"MO1\","
	                          "\"card_issued_on\":\"2021-03-04\",\"card_expires_on\":\"2031-03-04\","
	                          "\"card_status\":\"valid\"}}";
	static const char inner[] = "{\"transaction_id\":\"dsi-1\",\"queried_at\":\"2026-12-02T15:04:05Z\","
	                            "\"resident\":{\"id_number\":\"1234567(8)\",\"surname\":\"WONG\",\"surname\":\"CHAN\","
	                            "\"given_names\":\"x\",\"name_zh\":\"\",\"card_number\":\"MO1\","
	                            "\"card_issued_on\":\"2021-03-04\",\"card_expires_on\":\"2031-03-04\","
	                            "\"card_status\":\"valid\",\"card_status\":\"lost\"}}";
	struct cr_dsi_resident r;

	(void)state;
	assert_int_equal(resident_text(top, sizeof(top) - 1, &r), CR_ERR_INVALID);
	assert_int_equal(resident_text(inner, sizeof(inner) - 1, &r), CR_ERR_INVALID);
}

static void
test_resident_not_object(void **state)
{
	static const char *const bad[] = {"[]", "[{\"transaction_id\":\"dsi-1\"}]", "\"dsi\"", "42", "null", "true",
	    "{}", "{\"error\":\"not_found\"}", "{\"transaction_id\":\"dsi-1\"", "{'transaction_id':'dsi-1'}",
	    "<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>",
	    "<html><head><title>Maintenance</title></head></html>", "\xef\xbb\xbf{}", " ", "\n"};
	struct cr_dsi_resident r;
	json_t *o = good_resident();
	char *s = json_dumps(o, JSON_COMPACT), *t;
	size_t n = strlen(s);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (resident_text(bad[i], strlen(bad[i]), &r) != CR_ERR_INVALID)
			fail_msg("\"%s\": accepted", bad[i]);
	/* An empty body. */
	assert_int_equal(resident_text("", 0, &r), CR_ERR_INVALID);
	assert_int_equal(resident_text(s, 0, &r), CR_ERR_INVALID);
	/* Only len bytes count: a cut answer, and trailing garbage after the object. */
	assert_int_equal(resident_text(s, n - 1, &r), CR_ERR_INVALID);
	assert_int_equal(resident_text(s, n, &r), CR_OK);
	t = malloc(n + 8);
	assert_non_null(t);
	memcpy(t, s, n);
	memcpy(t + n, "{}", 3);
	assert_int_equal(resident_text(t, n + 2, &r), CR_ERR_INVALID);
	memcpy(t + n, "\n", 2);
	assert_int_equal(resident_text(t, n + 1, &r), CR_OK);
	/* Invalid UTF-8 inside a string. */
	assert_int_equal(resident_text(s, n, &r), CR_OK);
	memcpy(t, s, n + 1);
	t[strstr(t, "WONG") - t + 1] = (char)0xc3;
	assert_int_equal(resident_text(t, n, &r), CR_ERR_INVALID);
	free(t);
	free(s);
	json_decref(o);
}

static void
test_resident_bad_txid(void **state)
{
	static const char *const bad[] = {"dsi 1", "dsi/1", "dsi%20", "dsi:1", "dsi+1", "\xc3\xa9", "dsi\"1", "../x",
	    "dsi;1", "dsi,1"};
	char *t64 = repeat('a', 64), *t65 = repeat('a', 65);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (resident_top_with("transaction_id", json_string(bad[i])) != CR_ERR_INVALID)
			fail_msg("transaction_id \"%s\": accepted", bad[i]);
	assert_int_equal(resident_top_with("transaction_id", json_string(t64)), CR_OK);
	assert_int_equal(resident_top_with("transaction_id", json_string(t65)), CR_ERR_INVALID);
	free(t64);
	free(t65);
}

static void
test_resident_size_cap(void **state)
{
	struct cr_dsi_resident r;
	json_t *o = good_resident();
	char *s = json_dumps(o, JSON_COMPACT), *big = malloc(CR_DSI_ANSWER_MAX + 2);
	size_t n = strlen(s);

	(void)state;
	assert_non_null(big);
	/* Padded with whitespace to exactly 64 KiB it is still the answer; one byte more is not. */
	memset(big, ' ', CR_DSI_ANSWER_MAX + 1);
	memcpy(big, s, n);
	assert_int_equal(resident_text(big, CR_DSI_ANSWER_MAX, &r), CR_OK);
	assert_int_equal(resident_text(big, CR_DSI_ANSWER_MAX + 1, &r), CR_ERR_INVALID);
	free(big);
	free(s);
	json_decref(o);
}

/* ---- face ---- */

static void
test_face_good(void **state)
{
	struct cr_dsi_face f;
	static const char *const edge[] = {"{\"transaction_id\":\"t\",\"score\":0,\"algorithm\":\"a\",\"algorithm_version\":\"1\"}",
	    "{\"transaction_id\":\"t\",\"score\":1,\"algorithm\":\"a\",\"algorithm_version\":\"1\"}",
	    "{\"transaction_id\":\"t\",\"score\":1.0,\"algorithm\":\"a\",\"algorithm_version\":\"1\"}",
	    "{\"transaction_id\":\"t\",\"score\":0.0,\"algorithm\":\"a\",\"algorithm_version\":\"1\"}",
	    "{\"transaction_id\":\"t\",\"score\":9.731e-1,\"algorithm\":\"a\",\"algorithm_version\":\"1\",\"extra\":[1]}"};

	(void)state;
	assert_int_equal(face_json(good_face(), &f), CR_OK);
	assert_string_equal(f.transaction_id, "dsi-77");
	assert_true(f.score > 0.97309 && f.score < 0.97311);
	assert_string_equal(f.algorithm, "govsim-ncc");
	assert_string_equal(f.algorithm_version, "1.0");
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		if (face_text(edge[i], strlen(edge[i]), &f) != CR_OK)
			fail_msg("%s: refused", edge[i]);
	assert_true(f.score > 0.97309 && f.score < 0.97311);
}

static void
test_face_bad_score(void **state)
{
	static const char *const bad[] = {"1.0000001", "1.5", "2", "-0.01", "-1", "1e999", "-1e999", "NaN", "nan",
	    "Infinity", "-Infinity", "\"0.93\"", "null", "true", "[0.93]", "{\"v\":0.93}", "0x1", ".93", "093", "0.93.1"};
	struct cr_dsi_face f;
	char s[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s, sizeof(s),
		    "{\"transaction_id\":\"dsi-1\",\"score\":%s,\"algorithm\":\"a\",\"algorithm_version\":\"1\"}", bad[i]);
		if (face_text(s, strlen(s), &f) != CR_ERR_INVALID)
			fail_msg("score %s: accepted (%f)", bad[i], f.score);
	}
	assert_int_equal(face_with("score", NULL), CR_ERR_INVALID);
}

static void
test_face_bad_members(void **state)
{
	static const char *const keys[] = {"transaction_id", "algorithm", "algorithm_version"};
	static const char dup[] =
	    "{\"transaction_id\":\"dsi-1\",\"score\":0.3,\"score\":0.99,\"algorithm\":\"a\",\"algorithm_version\":\"1\"}";
	char *a64 = repeat('a', 64), *v32 = repeat('1', 32), *a63 = repeat('a', 63);
	struct cr_dsi_face f;

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (face_with(keys[i], NULL) != CR_ERR_INVALID || face_with(keys[i], json_string("")) != CR_ERR_INVALID ||
		    face_with(keys[i], json_integer(1)) != CR_ERR_INVALID || face_with(keys[i], json_null()) != CR_ERR_INVALID ||
		    face_with(keys[i], json_string("a\nb")) != CR_ERR_INVALID)
			fail_msg("face %s bad: accepted", keys[i]);
	}
	assert_int_equal(face_with("transaction_id", json_string("dsi 1")), CR_ERR_INVALID);
	assert_int_equal(face_with("transaction_id", json_string("dsi/../1")), CR_ERR_INVALID);
	assert_int_equal(face_with("algorithm", json_string(a63)), CR_OK);
	assert_int_equal(face_with("algorithm", json_string(a64)), CR_ERR_INVALID);
	assert_int_equal(face_with("algorithm_version", json_string(v32)), CR_ERR_INVALID);
	/* A second score must not override the first, nor the first the second. */
	assert_int_equal(face_text(dup, sizeof(dup) - 1, &f), CR_ERR_INVALID);
	free(a64);
	free(v32);
	free(a63);
}

static void
test_face_not_object(void **state)
{
	static const char *const bad[] = {"[0.93]", "0.93", "\"ok\"", "null", "{}", "{\"error\":\"bad_image\"}",
	    "<html><body>502 Bad Gateway</body></html>", "{\"transaction_id\":\"dsi-1\",\"score\":0.9"};
	struct cr_dsi_face f;
	json_t *o = good_face();
	char *s = json_dumps(o, JSON_COMPACT), *big = malloc(CR_DSI_ANSWER_MAX + 2);
	size_t n = strlen(s);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (face_text(bad[i], strlen(bad[i]), &f) != CR_ERR_INVALID)
			fail_msg("\"%s\": accepted", bad[i]);
	assert_int_equal(face_text("", 0, &f), CR_ERR_INVALID);
	assert_non_null(big);
	memset(big, '\n', CR_DSI_ANSWER_MAX + 1);
	memcpy(big, s, n);
	assert_int_equal(face_text(big, CR_DSI_ANSWER_MAX, &f), CR_OK);
	assert_int_equal(face_text(big, CR_DSI_ANSWER_MAX + 1, &f), CR_ERR_INVALID);
	free(big);
	free(s);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resident_good),
		cmocka_unit_test(test_resident_missing_member),
		cmocka_unit_test(test_resident_wrong_type),
		cmocka_unit_test(test_resident_empty_required),
		cmocka_unit_test(test_resident_too_long),
		cmocka_unit_test(test_resident_control_chars),
		cmocka_unit_test(test_resident_bad_date),
		cmocka_unit_test(test_resident_unknown_status),
		cmocka_unit_test(test_resident_duplicate_keys),
		cmocka_unit_test(test_resident_not_object),
		cmocka_unit_test(test_resident_bad_txid),
		cmocka_unit_test(test_resident_size_cap),
		cmocka_unit_test(test_face_good),
		cmocka_unit_test(test_face_bad_score),
		cmocka_unit_test(test_face_bad_members),
		cmocka_unit_test(test_face_not_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
