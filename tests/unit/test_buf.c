/*
 * Unit tests of the capped buffer (src/util/buf.c): growth never leaves an unwiped copy behind.
 *
 * This binary is linked with -Wl,--wrap=free (see the Makefile), so every free() in it and in
 * libcertrenew.a goes through __wrap_free below, which looks at a watched block before handing it
 * to the real free: whether the old block of a grown buffer was freed at all (realloc frees it out of
 * sight) and whether it was wiped first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"

void __real_free(void *p);
void __wrap_free(void *p);

static void *watched;     /* the block to look at when it is freed */
static size_t watched_len;
static bool watched_freed, watched_zero;

void
__wrap_free(void *p)
{
	if (p != NULL && p == watched) {
		const unsigned char *c = p;
		bool zero = true;

		for (size_t i = 0; i < watched_len; i++)
			zero = zero && c[i] == 0;
		watched_freed = true;
		watched_zero = zero;
		watched = NULL;
	}
	__real_free(p);
}

static void
watch(void *p, size_t len)
{
	watched = p;
	watched_len = len;
	watched_freed = watched_zero = false;
}

/* A buffer filled with a secret, then grown: its old block is wiped before it is freed. */
static void
test_growth_wipes_old_block(void **state)
{
	static const char secret[] = "correct horse battery staple";
	struct cr_buf b;
	char big[1000];

	(void)state;
	cr_buf_init(&b, 1 << 20);
	assert_int_equal(cr_buf_adds(&b, secret), CR_OK);
	assert_non_null(b.data);
	watch(b.data, b.alloc);
	memset(big, 'x', sizeof(big));
	assert_int_equal(cr_buf_add(&b, big, sizeof(big)), CR_OK);
	assert_true(watched_freed);
	assert_true(watched_zero);
	/* The contents moved intact. */
	assert_int_equal(b.len, strlen(secret) + sizeof(big));
	assert_memory_equal(b.data, secret, strlen(secret));
	assert_memory_equal(b.data + strlen(secret), big, sizeof(big));
	assert_int_equal(b.data[b.len], '\0');
	cr_buf_free_secret(&b);
}

/* Growth through printf (the other path into reserve) wipes as well. */
static void
test_printf_growth_wipes_old_block(void **state)
{
	struct cr_buf b;

	(void)state;
	cr_buf_init(&b, 1 << 20);
	assert_int_equal(cr_buf_printf(&b, "Authorization: Bearer %s", "s3cr3t"), CR_OK);
	watch(b.data, b.alloc);
	assert_int_equal(cr_buf_printf(&b, "%0500d", 7), CR_OK);
	assert_true(watched_freed);
	assert_true(watched_zero);
	assert_int_equal(strncmp(cr_buf_str(&b), "Authorization: Bearer s3cr3t000", 31), 0);
	assert_int_equal(b.len, 28 + 500);
	cr_buf_free_secret(&b);
}

/* Many doublings keep the contents and the cap. */
static void
test_growth_keeps_contents_and_cap(void **state)
{
	struct cr_buf b;

	(void)state;
	cr_buf_init(&b, 10000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(cr_buf_printf(&b, "%d,", i % 10), CR_OK);
	assert_int_equal(b.len, 2000);
	for (size_t i = 0; i < b.len; i += 2)
		assert_int_equal(b.data[i], '0' + (int)(i / 2 % 10));
	assert_int_equal(cr_buf_add(&b, "", 8001), CR_ERR_TOOBIG);
	assert_int_equal(b.len, 2000);
	cr_buf_free_secret(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_wipes_old_block),
		cmocka_unit_test(test_printf_growth_wipes_old_block),
		cmocka_unit_test(test_growth_keeps_contents_and_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
