/* Identity-proofing rules; see identity.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "identity.h"
#include "util/text.h"

/* The ASCII letter a Latin-1 Supplement or Latin Extended-A letter folds to, or 0. */
static char
fold_latin(unsigned cp)
{
	static const char l1[] = /* U+00C0 .. U+00FF */
	    "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyts" "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyty";
	static const char exa[] = /* U+0100 .. U+017F */
	    "aaaaaaccccccccdd" "ddeeeeeeeeeegggg" "gggghhhhiiiiiiii" "iijjjjkkklllllll"
	    "lllnnnnnnnnnoooo" "oooorrrrrrssssss" "ssttttttuuuuuuuu" "uuuuwwyyyzzzzzzs";

	if (cp >= 0xC0 && cp <= 0xFF)
		return l1[cp - 0xC0];
	if (cp >= 0x100 && cp <= 0x17F)
		return exa[cp - 0x100];
	return 0;
}

/* Decodes one UTF-8 character of valid text at s; *len gets its length. */
static unsigned
utf8_next(const unsigned char *s, size_t *len)
{
	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if (s[0] < 0xE0) {
		*len = 2;
		return ((unsigned)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if (s[0] < 0xF0) {
		*len = 3;
		return ((unsigned)(s[0] & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
	}
	*len = 4;
	return ((unsigned)(s[0] & 0x07) << 18) | ((unsigned)(s[1] & 0x3F) << 12) | ((unsigned)(s[2] & 0x3F) << 6) |
	    (s[3] & 0x3F);
}

bool
cr_name_fold(const char *s, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), j = 0;
	bool space = true; /* drops leading spaces and collapses runs */

	if (outlen == 0 || !cr_utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n;) {
		size_t len;
		unsigned cp = utf8_next(p + i, &len);
		char c = 0;

		i += len;
		if (cp >= 0x300 && cp <= 0x36F)
			continue; /* a combining accent of a decomposed letter */
		if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
			c = (char)cp;
		else if (cp >= 'A' && cp <= 'Z')
			c = (char)(cp - 'A' + 'a');
		else if (cp == ' ' || cp == ',' || cp == '-' || cp == '.' || cp == '\t' || cp == 0xA0 || cp == 0x3000)
			c = ' ';
		else if ((c = fold_latin(cp)) == 0) {
			/* Anything else (another script, an apostrophe) is kept as it is. */
			if (j + len >= outlen)
				return false;
			memcpy(out + j, p + i - len, len);
			j += len;
			space = false;
			continue;
		}
		if (c == ' ') {
			if (space)
				continue;
			space = true;
		} else
			space = false;
		if (j + 1 >= outlen)
			return false;
		out[j++] = c;
	}
	while (j > 0 && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
	return true;
}

/* Chinese names: only spaces (ASCII or ideographic) are ignored. */
static void
strip_spaces(const char *s, char *out, size_t outlen)
{
	size_t j = 0;

	for (size_t i = 0; s[i] != '\0' && j + 1 < outlen; i++) {
		if (s[i] == ' ')
			continue;
		if ((unsigned char)s[i] == 0xE3 && (unsigned char)s[i + 1] == 0x80 && (unsigned char)s[i + 2] == 0x80) {
			i += 2;
			continue;
		}
		out[j++] = s[i];
	}
	out[j] = '\0';
}

static bool
names_match(const struct cr_id_registration *reg, const struct cr_id_card *card)
{
	char r[2 * CR_ID_TEXT], sur[CR_ID_TEXT], giv[CR_ID_TEXT], a[2 * CR_ID_TEXT + 2], b[2 * CR_ID_TEXT + 2];

	if (!cr_name_fold(reg->name, r, sizeof(r)) || !cr_name_fold(card->surname, sur, sizeof(sur)) ||
	    !cr_name_fold(card->given_names, giv, sizeof(giv)) || r[0] == '\0' || sur[0] == '\0')
		return false;
	/* "given surname" (as registered here) or "surname given" (as Chinese names are written). */
	snprintf(a, sizeof(a), "%s%s%s", giv, giv[0] ? " " : "", sur);
	snprintf(b, sizeof(b), "%s%s%s", sur, giv[0] ? " " : "", giv);
	return strcmp(r, a) == 0 || strcmp(r, b) == 0;
}

static bool
names_zh_match(const struct cr_id_registration *reg, const struct cr_id_card *card)
{
	char a[CR_ID_TEXT], b[CR_ID_TEXT];

	/* Bytes that are not text are no name, even the same bytes on both sides. */
	if (!cr_utf8_valid(reg->name_zh, strlen(reg->name_zh)) || !cr_utf8_valid(card->name_zh, strlen(card->name_zh)))
		return false;
	strip_spaces(reg->name_zh, a, sizeof(a));
	strip_spaces(card->name_zh, b, sizeof(b));
	return strcmp(a, b) == 0;
}

/* A resident number without spaces and brackets, upper-case: 1234567(8) = 12345678. */
static void
fold_id(const char *s, char *out, size_t outlen)
{
	size_t j = 0;

	for (size_t i = 0; s[i] != '\0' && j + 1 < outlen; i++) {
		char c = s[i];
		if (c == ' ' || c == '(' || c == ')' || c == '-' || c == '/')
			continue;
		out[j++] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
	}
	out[j] = '\0';
}

bool
cr_date_valid(const char *s)
{
	static const char shape[] = "dddd-dd-dd";
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (strlen(s) != 10)
		return false;
	for (int i = 0; i < 10; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != '-')
			return false;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	return m != 2 || d < 29 || (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}

bool
cr_identity_compare(const struct cr_id_registration *reg, const struct cr_id_card *card, const char *today,
    struct cr_id_match *out)
{
	char a[32], b[32];

	fold_id(reg->id_number, a, sizeof(a));
	fold_id(card->id_number, b, sizeof(b));
	out->id_number = a[0] != '\0' && strcmp(a, b) == 0;
	out->name = names_match(reg, card);
	out->name_zh = names_zh_match(reg, card);
	/* ISO dates compare as strings. */
	out->card_valid = strcmp(card->status, "valid") == 0 && cr_date_valid(card->issued_on) && cr_date_valid(card->expires_on) &&
	    cr_date_valid(today) && strcmp(card->issued_on, today) <= 0 && strcmp(card->expires_on, today) >= 0;
	return out->id_number && out->name && out->name_zh && out->card_valid;
}

int
cr_face_tries_left(int per_app, int app_used, int per_holder, int holder_used)
{
	int a = per_app - app_used, h = per_holder - holder_used;

	return a < h ? a : h;
}

bool
cr_face_passes(double score, double threshold)
{
	return isfinite(score) && score >= 0.0 && score <= 1.0 && score >= threshold;
}
