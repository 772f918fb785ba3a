/*
 * libFuzzer target for the message builder (src/notify/mime.c, cr_mail_build).
 *
 * The input is split at NUL bytes into a subject, a text and a From display
 * name (missing pieces are empty); the byte after the first NUL, when odd,
 * makes the text the HTML part too. Whenever cr_mail_build accepts them, the
 * message must keep the builder's promises: 7-bit, every line ending in CRLF
 * with no bare CR or LF, header lines of at most 78 characters (a single word
 * longer than that alone on its line, which only the Message-ID may be),
 * base64 body lines of at most 76, exactly one Subject and one From. A refusal
 * leaves the output empty. Reading the message back is the tests' job
 * (tests/lib/readmail.py, Python's email package).
 *
 * Build: see scripts/fuzz.sh. Seeds: fuzz/corpus/mime/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "notify/mime.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated piece of [*p, end), malloc'd. */
static char *
piece(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nul = memchr(*p, '\0', (size_t)(end - *p));
	size_t n = nul != NULL ? (size_t)(nul - *p) : (size_t)(end - *p);
	char *s = strndup((const char *)*p, n);

	if (s == NULL)
		abort();
	*p = nul != NULL ? nul + 1 : end;
	return s;
}

static size_t
count(const char *hay, size_t n, const char *needle)
{
	size_t c = 0, k = strlen(needle);

	for (const char *p = hay; (p = memmem(p, n - (size_t)(p - hay), needle, k)) != NULL; p += k)
		c++;
	return c;
}

static void
check(const struct cr_buf *b)
{
	const char *m = b->data, *end = m + b->len, *hend = memmem(m, b->len, "\r\n\r\n", 4);
	bool in_head = true;

	if (hend == NULL || strncmp(m, "Date: ", 6) != 0)
		abort();
	for (const char *line = m; line < end;) {
		const char *cr = memchr(line, '\r', (size_t)(end - line));
		size_t n;

		if (cr == NULL || cr + 1 >= end || cr[1] != '\n' || memchr(line, '\n', (size_t)(cr - line)) != NULL)
			abort();
		n = (size_t)(cr - line);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)line[i] >= 0x80 || line[i] == '\0')
				abort();
		if (in_head ? n > 78 && memchr(line + 1, ' ', n - 1) != NULL : n > 76)
			abort();
		if (line == hend + 2)
			in_head = false;
		line = cr + 2;
	}
	if (count(m, (size_t)(hend + 2 - m), "\r\nSubject:") != 1 || count(m, (size_t)(hend + 2 - m), "\r\nFrom:") != 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	const uint8_t *p = data, *end = data + size;
	char *subject, *text, *name, from[1100];
	struct cr_mail m;
	struct cr_buf b;
	bool with_html;

	if (!init) {
		if (sodium_init() < 0)
			abort();
		init = true;
	}
	subject = piece(&p, end);
	with_html = p < end && (*p & 1);
	text = piece(&p, end);
	name = piece(&p, end);
	snprintf(from, sizeof(from), "%.1000s <noreply@esigntrust.com>", name);
	m = (struct cr_mail){.from = from, .reply_to = "help@esigntrust.com", .to = "a@b.cd", .subject = subject,
	    .text = text, .html = with_html ? text : NULL, .domain = "esigntrust.com", .date = 1795478400};
	cr_buf_init(&b, 1024 * 1024);
	if (cr_mail_build(&m, &b, NULL, 0) == CR_OK)
		check(&b);
	else if (b.len != 0)
		abort();
	cr_buf_free(&b);
	free(subject);
	free(text);
	free(name);
	return 0;
}
