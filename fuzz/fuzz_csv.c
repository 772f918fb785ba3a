/*
 * libFuzzer target for the CSV reader (src/util/csv.c).
 *
 * Parses the input and checks what the reader promises: records arrive with
 * non-decreasing line numbers, 1..64 fields each, every field NUL-terminated at
 * its length, free of NUL bytes and valid UTF-8; a record's text is never longer
 * than the cap; every refusal names a line and a reason. The input is parsed a
 * second time with a callback that stops early, which must be passed through.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *   fuzz/fuzz_csv.c src/util/csv.c src/util/buf.c src/util/err.c \
 *   $(pkg-config --cflags --libs libsodium) -o fuzz_csv
 * Seeds: fuzz/corpus/csv/.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	size_t last_line;
	size_t records;
	size_t max_line;
};

/* An independent, plain check of RFC 3629 UTF-8 (decode and re-check ranges). */
static bool
utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t k;

		if (s[i] < 0x80) {
			i++;
			continue;
		} else if ((s[i] & 0xe0) == 0xc0) {
			cp = s[i] & 0x1f;
			k = 1;
		} else if ((s[i] & 0xf0) == 0xe0) {
			cp = s[i] & 0x0f;
			k = 2;
		} else if ((s[i] & 0xf8) == 0xf0) {
			cp = s[i] & 0x07;
			k = 3;
		} else
			return false;
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static enum cr_err
check(const struct cr_csv_record *rec, void *arg)
{
	struct state *st = arg;
	size_t total = 0;

	if (rec->line < 1 || rec->line <= st->last_line || rec->line > st->max_line)
		abort();
	if (rec->nfields < 1 || rec->nfields > CR_CSV_MAX_FIELDS)
		abort();
	for (size_t i = 0; i < rec->nfields; i++) {
		if (rec->field[i] == NULL || rec->field[i][rec->len[i]] != '\0' ||
		    memchr(rec->field[i], '\0', rec->len[i]) != NULL)
			abort();
		if (!utf8_ok((const unsigned char *)rec->field[i], rec->len[i]))
			abort();
		total += rec->len[i];
	}
	if (total > CR_CSV_MAX_RECORD)
		abort();
	st->last_line = rec->line;
	st->records++;
	return CR_OK;
}

static enum cr_err
stop_at_second(const struct cr_csv_record *rec, void *arg)
{
	size_t *n = arg;

	(void)rec;
	return ++*n == 2 ? CR_ERR_CONFLICT : CR_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = {0, 0, 1};
	struct cr_csv_error e;
	enum cr_err err;
	size_t n = 0;

	for (size_t i = 0; i < size; i++)
		st.max_line += data[i] == '\n';
	err = cr_csv_parse((const char *)data, size, check, &st, &e);
	if (err == CR_OK) {
		if (e.line != 0)
			abort();
	} else if (err == CR_ERR_INVALID || err == CR_ERR_TOOBIG) {
		if (e.line < 1 || e.line > st.max_line || e.reason[0] == '\0' || e.line < st.last_line)
			abort();
	} else
		abort();

	err = cr_csv_parse((const char *)data, size, stop_at_second, &n, NULL);
	if (n >= 2 ? err != CR_ERR_CONFLICT : (err == CR_ERR_CONFLICT))
		abort();
	if (n > st.records)
		abort();
	return 0;
}
