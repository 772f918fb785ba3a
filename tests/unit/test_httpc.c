/*
 * Unit tests of the HTTP helper (src/adapters/httpc.c) against the httpstub peer: a failed request
 * (an answer over the cap, one too slow) hands back no body, so no caller can leak or misuse what
 * arrived before the failure. Under ASan (make asan) LeakSanitizer would also report the old leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/httpc.h"
#include "support/httpstub.h"

#define BIG (64 * 1024)

static int
setup(void **state)
{
	struct httpstub *s;

	if (cr_httpc_global_init() != CR_OK || (s = httpstub_start()) == NULL)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	httpstub_stop(*state);
	return 0;
}

static void
url_of(struct httpstub *s, char *url, size_t n)
{
	snprintf(url, n, "%s/dsi/v1/residents/A123456789", httpstub_url(s));
}

/* A big answer: its first chunks arrive, then the cap stops it. */
static void
set_big(struct httpstub *s)
{
	char *body = malloc(BIG);

	assert_non_null(body);
	memset(body, 'a', BIG);
	httpstub_set(s, HTTPSTUB_RESIDENT, 200, "application/json", body, BIG, 0);
	free(body);
}

static void
test_get_over_cap_returns_no_body(void **state)
{
	struct httpstub *s = *state;
	struct cr_http_resp r;
	char url[256];

	set_big(s);
	url_of(s, url, sizeof(url));
	assert_int_equal(cr_http_get(url, NULL, 20000, 5000, &r), CR_ERR_TOOBIG);
	assert_null(r.body.data);
	assert_int_equal(r.body.len, 0);
	cr_buf_free(&r.body); /* still safe */
}

static void
test_post_form_over_cap_returns_no_body(void **state)
{
	struct httpstub *s = *state;
	struct cr_http_resp r;
	char url[256];

	{
		char *body = malloc(BIG);

		assert_non_null(body);
		memset(body, 'b', BIG);
		httpstub_set(s, HTTPSTUB_CSC_LIST, 200, "application/json", body, BIG, 0);
		free(body);
	}
	snprintf(url, sizeof(url), "%s/csc/v2/credentials/list", httpstub_url(s));
	assert_int_equal(cr_http_post_form(url, "a=b", "client", "secret", 20000, 5000, &r), CR_ERR_TOOBIG);
	assert_null(r.body.data);
	assert_int_equal(r.body.len, 0);
}

static void
test_request_over_cap_returns_no_body(void **state)
{
	struct httpstub *s = *state;
	struct cr_http_opts o = {.timeout_ms = 5000, .connect_timeout_ms = 2000, .cap = 20000, .what = "test"};
	struct cr_http_resp r;
	char url[256];

	set_big(s);
	url_of(s, url, sizeof(url));
	assert_int_equal(cr_http_request("GET", url, &o, NULL, NULL, 0, &r), CR_ERR_TOOBIG);
	assert_null(r.body.data);
}

/* Too slow: a timeout, no body. */
static void
test_get_timeout_returns_no_body(void **state)
{
	struct httpstub *s = *state;
	struct cr_http_resp r;
	char url[256];

	httpstub_set(s, HTTPSTUB_RESIDENT, 200, "application/json", "{}", -1, 3000);
	url_of(s, url, sizeof(url));
	assert_int_equal(cr_http_get(url, NULL, 20000, 300, &r), CR_ERR_REMOTE);
	assert_null(r.body.data);
	assert_int_equal(r.status, 0);
}

/* A good answer still comes back whole. */
static void
test_get_ok(void **state)
{
	struct httpstub *s = *state;
	struct cr_http_resp r;
	char url[256];

	httpstub_set(s, HTTPSTUB_RESIDENT, 200, "application/json", "{\"ok\":true}", -1, 0);
	url_of(s, url, sizeof(url));
	assert_int_equal(cr_http_get(url, NULL, 20000, 5000, &r), CR_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(cr_buf_str(&r.body), "{\"ok\":true}");
	assert_string_equal(r.content_type, "application/json");
	cr_buf_free(&r.body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_over_cap_returns_no_body),
		cmocka_unit_test(test_post_form_over_cap_returns_no_body),
		cmocka_unit_test(test_request_over_cap_returns_no_body),
		cmocka_unit_test(test_get_timeout_returns_no_body),
		cmocka_unit_test(test_get_ok),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
