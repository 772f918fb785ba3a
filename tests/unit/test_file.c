/*
 * Unit tests of the whole-file helpers (src/util/file.c) for secrets: cr_file_read_secret refuses a
 * file that group or others may read or write, and one too long for its buffer (never truncating it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/file.h"
#include "util/seal.h"

struct dir {
	char path[64];
	char file[96];
};

static int
setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/cr-test-file-XXXXXX");
	if (mkdtemp(d->path) == NULL) {
		free(d);
		return -1;
	}
	snprintf(d->file, sizeof(d->file), "%s/secret", d->path);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->file);
	rmdir(d->path);
	free(d);
	return 0;
}

/* Writes text to the test's file with mode (whatever the umask). */
static void
put(const struct dir *d, const char *text, mode_t mode)
{
	FILE *f;

	unlink(d->file);
	assert_non_null(f = fopen(d->file, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(d->file, mode), 0);
}

static void
test_secret_private_modes_read(void **state)
{
	struct dir *d = *state;
	char out[64];

	put(d, "s3cr3t\n", 0600);
	assert_int_equal(cr_file_read_secret(d->file, out, sizeof(out)), CR_OK);
	assert_string_equal(out, "s3cr3t");
	put(d, "s3cr3t\r\n", 0400);
	assert_int_equal(cr_file_read_secret(d->file, out, sizeof(out)), CR_OK);
	assert_string_equal(out, "s3cr3t");
}

/* Any permission bit for group or others refuses the file. */
static void
test_secret_shared_modes_refused(void **state)
{
	static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601, 0660, 0666};
	struct dir *d = *state;
	char out[64];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		put(d, "s3cr3t\n", modes[i]);
		snprintf(out, sizeof(out), "junk");
		assert_int_equal(cr_file_read_secret(d->file, out, sizeof(out)), CR_ERR_DENIED);
		assert_string_equal(out, "");
	}
	/* The sealing keys go through the same reader. */
	{
		struct cr_seal_key k;

		unlink(d->file);
		assert_int_equal(cr_seal_key_create(d->file), CR_OK);
		assert_int_equal(cr_seal_key_load(d->file, &k), CR_OK);
		assert_int_equal(chmod(d->file, 0640), 0);
		assert_int_equal(cr_seal_key_load(d->file, &k), CR_ERR_CONFIG);
	}
}

/* A created secret file is 0600. */
static void
test_write_secret_is_private(void **state)
{
	struct dir *d = *state;
	struct stat st;
	mode_t old = umask(0);

	unlink(d->file);
	assert_int_equal(cr_file_write_secret(d->file, "abc", 3), CR_OK);
	umask(old);
	assert_int_equal(stat(d->file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Too long for the buffer: refused, never truncated. */
static void
test_secret_too_long_refused(void **state)
{
	struct dir *d = *state;
	char out[8];

	put(d, "1234567\n", 0600); /* 7 bytes + NUL fit */
	assert_int_equal(cr_file_read_secret(d->file, out, sizeof(out)), CR_OK);
	assert_string_equal(out, "1234567");
	put(d, "12345678", 0600);
	assert_int_equal(cr_file_read_secret(d->file, out, sizeof(out)), CR_ERR_TOOBIG);
	assert_string_equal(out, "");
	put(d, "123456789012345678901234567890\n", 0600);
	assert_int_equal(cr_file_read_secret(d->file, out, sizeof(out)), CR_ERR_TOOBIG);
	assert_string_equal(out, "");
	put(d, "\n", 0600);
	assert_int_equal(cr_file_read_secret(d->file, out, sizeof(out)), CR_ERR_INVALID);
}

/* cr_file_read refuses a shared file only when asked to. */
static void
test_read_private_flag(void **state)
{
	struct dir *d = *state;
	char *p = NULL;
	size_t n = 0;

	put(d, "public", 0644);
	assert_int_equal(cr_file_read(d->file, 100, 0, &p, &n), CR_OK);
	assert_int_equal(n, 6);
	free(p);
	assert_int_equal(cr_file_read(d->file, 100, CR_FILE_PRIVATE, &p, &n), CR_ERR_DENIED);
	assert_null(p);
	assert_int_equal(chmod(d->file, 0600), 0);
	assert_int_equal(cr_file_read(d->file, 100, CR_FILE_PRIVATE, &p, &n), CR_OK);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_secret_private_modes_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_shared_modes_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_secret_is_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_too_long_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_private_flag, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
