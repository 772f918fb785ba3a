/*
 * libFuzzer target for the mail decoder (src/adapters/mail.c, cr_mail_decode).
 *
 * Two modes, chosen by the first byte:
 * - anything but NUL: the whole input is a message, decoded with small output
 *   caps, once with an HTML buffer and once without. Must not crash, leak or
 *   read out of bounds; a success must give UTF-8 without NUL.
 * - NUL: a round trip. The rest is split at the next NUL into a subject and a
 *   text (the text doubling as the HTML part when the byte after the NUL is
 *   odd); whenever cr_mail_build accepts them, cr_mail_decode must give back
 *   exactly the subject and the text with its line ends made \n.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *   fuzz/fuzz_mail_decode.c src/adapters/mail.c src/util/buf.c src/util/err.c src/util/crypto.c \
 *   $(pkg-config --cflags --libs libsodium) -o fuzz_mail_decode
 * (or `make fuzz`). Seeds: fuzz/corpus/mail_decode/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "adapters/mail.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const struct cr_buf *b)
{
	if (memchr(cr_buf_str(b), '\0', b->len) != NULL)
		abort();
}

static void
decode_mode(const char *msg, size_t len)
{
	struct cr_buf s, t, h;
	enum cr_err err;

	cr_buf_init(&s, 4096);
	cr_buf_init(&t, 256 * 1024);
	cr_buf_init(&h, 256 * 1024);
	err = cr_mail_decode(msg, len, &s, &t, &h);
	if (err == CR_OK) {
		check_text(&s);
		check_text(&t);
		check_text(&h);
	} else if (s.len != 0 || t.len != 0 || h.len != 0) {
		abort();  /* a failure leaves the outputs empty */
	}
	(void)cr_mail_decode(msg, len, &s, &t, NULL);
	cr_buf_free(&s);
	cr_buf_free(&t);
	cr_buf_free(&h);
}

/* text with \r\n and lone \r made \n, as the decoder gives it back. */
static char *
canon(const char *text)
{
	size_t n = strlen(text), o = 0;
	char *out = malloc(n + 1);

	if (out == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '\r') {
			out[o++] = '\n';
			if (text[i + 1] == '\n')
				i++;
		} else {
			out[o++] = text[i];
		}
	}
	out[o] = '\0';
	return out;
}

static void
roundtrip_mode(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	char *subject, *text, *want;
	struct cr_buf msg, s, t, h;
	struct cr_mail m;
	bool with_html;

	if (nul == NULL)
		return;
	subject = strndup((const char *)data, (size_t)(nul - data));
	with_html = (size_t)(nul - data) + 1 < size && (nul[1] & 1);
	text = strndup((const char *)nul + 1, size - (size_t)(nul - data) - 1);
	if (subject == NULL || text == NULL)
		abort();
	m = (struct cr_mail){.from = "eSignTrust 電子認證服務 <noreply@esigntrust.com>", .to = "a@b.cd",
	    .subject = subject, .text = text, .html = with_html ? text : NULL, .domain = "esigntrust.com",
	    .date = 1795478400};
	cr_buf_init(&msg, 1024 * 1024);
	cr_buf_init(&s, 64 * 1024);
	cr_buf_init(&t, 1024 * 1024);
	cr_buf_init(&h, 1024 * 1024);
	if (cr_mail_build(&m, &msg, NULL, 0) == CR_OK) {
		want = canon(text);
		if (cr_mail_decode(msg.data, msg.len, &s, &t, &h) != CR_OK || strcmp(cr_buf_str(&s), subject) != 0 ||
		    strcmp(cr_buf_str(&t), want) != 0 || strcmp(cr_buf_str(&h), with_html ? want : "") != 0)
			abort();
		free(want);
	}
	cr_buf_free(&msg);
	cr_buf_free(&s);
	cr_buf_free(&t);
	cr_buf_free(&h);
	free(subject);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;

	if (!init) {
		if (sodium_init() < 0)
			abort();
		init = true;
	}
	if (size > 0 && data[0] == '\0')
		roundtrip_mode(data + 1, size - 1);
	else
		decode_mode((const char *)data, size);
	return 0;
}
