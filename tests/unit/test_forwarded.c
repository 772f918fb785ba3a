/* Unit tests of the client address behind a reverse proxy (src/util/forwarded.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/forwarded.h"

static struct cr_proxy_list
list(const char *s)
{
	struct cr_proxy_list l;

	assert_int_equal(cr_proxy_list_parse(s, strlen(s), &l), CR_OK);
	return l;
}

/* The client named by header h when the proxies in t are trusted; "" and the error otherwise. */
static enum cr_err
client(const char *t, const char *h, char out[CR_FWD_ADDR_LEN])
{
	struct cr_proxy_list l = list(t);

	return cr_forwarded_client(h, strlen(h), &l, out, CR_FWD_ADDR_LEN);
}

static void
test_list_parse(void **state)
{
	struct cr_proxy_list l;
	char many[512] = "";

	(void)state;
	l = list("");
	assert_int_equal(l.n, 0);
	l = list("   ");
	assert_int_equal(l.n, 0);
	l = list("127.0.0.1");
	assert_int_equal(l.n, 1);
	l = list(" 10.0.0.1 ,10.0.0.2,\t192.168.1.9 ");
	assert_int_equal(l.n, 3);
	assert_true(cr_proxy_list_has(&l, "10.0.0.2"));
	assert_true(cr_proxy_list_has(&l, "192.168.1.9"));
	assert_false(cr_proxy_list_has(&l, "10.0.0.3"));
	assert_false(cr_proxy_list_has(&l, "garbage"));
	assert_false(cr_proxy_list_has(&l, NULL));
	assert_false(cr_proxy_list_has(NULL, "10.0.0.1"));

	static const char *const bad[] = {",", "10.0.0.1,", ",10.0.0.1", "10.0.0.1,,10.0.0.2", "localhost",
	    "10.0.0.0/8", "::1", "10.0.0.256", "10.0.0.1 10.0.0.2", "010.0.0.1", "1.2.3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cr_proxy_list_parse(bad[i], strlen(bad[i]), &l), CR_ERR_INVALID);
		assert_int_equal(l.n, 0);
	}
	/* A NUL inside the text is not an address. */
	assert_int_equal(cr_proxy_list_parse("10.0.0.1\0", 9, &l), CR_ERR_INVALID);
	for (int i = 0; i < CR_FWD_MAX_PROXIES; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.0.%d", i ? "," : "", i + 1);
	assert_int_equal(cr_proxy_list_parse(many, strlen(many), &l), CR_OK);
	assert_int_equal(l.n, CR_FWD_MAX_PROXIES);
	snprintf(many + strlen(many), sizeof(many) - strlen(many), ",10.0.1.1");
	assert_int_equal(cr_proxy_list_parse(many, strlen(many), &l), CR_ERR_TOOBIG);
	assert_int_equal(l.n, 0);
}

static void
test_client_picks_last_untrusted_hop(void **state)
{
	char out[CR_FWD_ADDR_LEN];

	(void)state;
	/* One hop: what the proxy saw. */
	assert_int_equal(client("127.0.0.1", "203.0.113.7", out), CR_OK);
	assert_string_equal(out, "203.0.113.7");
	/* A forged hop on the left is skipped: the proxy appended the real one. */
	assert_int_equal(client("127.0.0.1", "1.2.3.4, 203.0.113.7", out), CR_OK);
	assert_string_equal(out, "203.0.113.7");
	/* Garbage on the left is never looked at. */
	assert_int_equal(client("127.0.0.1", "<script>, not-an-ip,203.0.113.7", out), CR_OK);
	assert_string_equal(out, "203.0.113.7");
	/* Two proxies of ours in a chain: the hop before them. */
	assert_int_equal(client("10.0.0.1, 10.0.0.2", "9.9.9.9, 198.51.100.2, 10.0.0.1", out), CR_OK);
	assert_string_equal(out, "198.51.100.2");
	/* Every hop trusted: the leftmost. */
	assert_int_equal(client("127.0.0.1", "127.0.0.1", out), CR_OK);
	assert_string_equal(out, "127.0.0.1");
	assert_int_equal(client("10.0.0.1,10.0.0.2", "10.0.0.2 , 10.0.0.1", out), CR_OK);
	assert_string_equal(out, "10.0.0.2");
	/* Blanks and tabs around hops. */
	assert_int_equal(client("127.0.0.1", " \t192.0.2.1\t ", out), CR_OK);
	assert_string_equal(out, "192.0.2.1");
	/* IPv6 clients, written canonically. */
	assert_int_equal(client("127.0.0.1", "2001:DB8:0:0::1", out), CR_OK);
	assert_string_equal(out, "2001:db8::1");
	/* With no proxy trusted the rightmost hop is the answer (the caller only asks for trusted peers). */
	assert_int_equal(client("", "1.2.3.4, 5.6.7.8", out), CR_OK);
	assert_string_equal(out, "5.6.7.8");
}

static void
test_client_refuses_garbage(void **state)
{
	static const char *const bad[] = {"", " ", ",", "203.0.113.7,", "203.0.113.7, ", "unknown",
	    "203.0.113.7:443", "[2001:db8::1]", "203.0.113.7 198.51.100.1", "1.2.3.4, 300.1.1.1",
	    "1.2.3.4,,127.0.0.1", "\"1.2.3.4\"", "_hidden", "0x7f.1.1.1"};
	char out[CR_FWD_ADDR_LEN];
	char big[CR_FWD_MAX_HEADER + 16];
	struct cr_proxy_list l = list("127.0.0.1");

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(client("127.0.0.1", bad[i], out), CR_ERR_INVALID);
		assert_string_equal(out, "");
	}
	/* A NUL inside a hop. */
	assert_int_equal(cr_forwarded_client("1.2.3.4\0", 8, &l, out, sizeof(out)), CR_ERR_INVALID);
	/* Over the length cap. */
	memset(big, ' ', sizeof(big));
	memcpy(big + sizeof(big) - 8, "1.2.3.4", 7);
	assert_int_equal(cr_forwarded_client(big, sizeof(big) - 1, &l, out, sizeof(out)), CR_ERR_TOOBIG);
	/* Over the hop cap, when the walk gets that far (all trusted). */
	big[0] = '\0';
	for (int i = 0; i <= CR_FWD_MAX_HOPS; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s127.0.0.1", i ? "," : "");
	assert_int_equal(cr_forwarded_client(big, strlen(big), &l, out, sizeof(out)), CR_ERR_TOOBIG);
	/* A hop too long to be an address. */
	assert_int_equal(client("127.0.0.1", "1111:2222:3333:4444:5555:6666:7777:8888:9999:0000:1", out), CR_ERR_INVALID);
	/* Too small an output buffer. */
	assert_int_equal(cr_forwarded_client("1.2.3.4", 7, &l, out, 8), CR_ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_parse),
		cmocka_unit_test(test_client_picks_last_untrusted_hop),
		cmocka_unit_test(test_client_refuses_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
