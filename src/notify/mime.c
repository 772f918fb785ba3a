/*
 * Building system mail: RFC 5322 / MIME messages from a rendered text (and
 * HTML) part (cr_mail_build). See mime.h for the contracts and
 * docs/internals/mail.md for the choices (always base64 bodies, whole-subject
 * encoded-words, refusal instead of cleaning of header inputs).
 *
 * Trust: nothing in struct cr_mail beyond it being C strings. No I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mime.h"
#include "util/crypto.h"

#define HDR_LINE 78      /* RFC 5322 2.1.1: lines SHOULD be at most 78 characters */
#define EW_HEAD "=?UTF-8?B?"
#define EW_OVERHEAD 12   /* strlen(EW_HEAD) + strlen("?=") */
#define EW_MAX_BYTES 45  /* 60 base64 characters: an encoded-word of 72 <= 75 (RFC 2047 2) */
#define B64_CHUNK 57     /* bytes per 76-character base64 line (RFC 2045 6.8) */

/* ------------------------------------------------------------ checks */

/* Length of the valid UTF-8 sequence at p (n >= 1 bytes left); 0 when invalid
   (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

static bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

/* Header text: valid UTF-8 without control characters (CR and LF above all:
   they would start a header of the caller's choosing). */
static bool
header_text_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return utf8_valid(s, strlen(s));
}

static bool
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A DNS host name: labels of [A-Za-z0-9-], 1-63 long, no '-' at either end. */
static bool
domain_ok(const char *d, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if ((label == 0 && c == '-') || ++label > 63)
			return false;
	}
	return label > 0 && d[n - 1] != '-';
}

/* A plausible addr-spec: dot-atom local part, one '@', a host name. No quoted
   local parts, domain literals or non-ASCII: none of our users need them and
   each is a way to smuggle characters into a header or an SMTP command. */
static bool
addr_ok(const char *a, size_t n)
{
	const char *at = memchr(a, '@', n);
	size_t ll;

	/* 254: the longest address that fits an SMTP path (RFC 5321 4.5.3.1.3). */
	if (n > 254 || at == NULL || memchr(at + 1, '@', n - (size_t)(at + 1 - a)) != NULL)
		return false;
	ll = (size_t)(at - a);
	if (ll == 0 || ll > 64 || a[0] == '.' || a[ll - 1] == '.')
		return false;
	for (size_t i = 0; i < ll; i++) {
		if (a[i] == '.' ? a[i + 1] == '.' : !is_atext((unsigned char)a[i]))
			return false;
	}
	return domain_ok(at + 1, n - ll - 1);
}

/* ------------------------------------------------------------ building */

/* Writes header fields, folding before a word that would pass HDR_LINE. */
struct hw {
	struct cr_buf *b;
	size_t col;
	enum cr_err err;
};

static void
hw_add(struct hw *w, const char *s, size_t n)
{
	if (w->err == CR_OK)
		w->err = cr_buf_add(w->b, s, n);
	w->col += n;
}

static void
hw_fold(struct hw *w)
{
	hw_add(w, "\r\n", 2);
	w->col = 0;
}

static void
hw_start(struct hw *w, const char *name)
{
	hw_add(w, name, strlen(name));
	hw_add(w, ":", 1);
}

static void
hw_end(struct hw *w)
{
	hw_fold(w);
}

/* Appends " word" (n bytes, no spaces). A word longer than a line stays whole
   on its own line (RFC 5322 allows up to 998; it happens only for msg-ids). */
static void
hw_word(struct hw *w, const char *s, size_t n)
{
	if (w->col > 0 && w->col + 1 + n > HDR_LINE)
		hw_fold(w);
	hw_add(w, " ", 1);
	hw_add(w, s, n);
}

/* Appends UTF-8 text s (valid, n bytes) as RFC 2047 B encoded-words, each
   holding whole characters and sized to what is left of the line. Adjacent
   encoded-words are separated by folding white space, which decoders drop. */
static void
hw_encoded(struct hw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n && w->err == CR_OK) {
		char word[EW_OVERHEAD + sodium_base64_ENCODED_LEN(EW_MAX_BYTES, sodium_base64_VARIANT_ORIGINAL)];
		size_t room = 0, max, take = 0, k;

		if (w->col + 1 + EW_OVERHEAD < HDR_LINE)
			room = HDR_LINE - w->col - 1 - EW_OVERHEAD;
		max = room / 4 * 3;
		if (max > EW_MAX_BYTES)
			max = EW_MAX_BYTES;
		while (i + take < n && (k = utf8_seq(p + i + take, n - i - take)) != 0 && take + k <= max)
			take += k;
		if (take == 0) {
			if (w->col == 0)  /* cannot happen: a fresh line holds 45 bytes */
				abort();
			hw_fold(w);
			continue;
		}
		memcpy(word, EW_HEAD, strlen(EW_HEAD));
		sodium_bin2base64(word + strlen(EW_HEAD), sizeof(word) - strlen(EW_HEAD), p + i, take,
		    sodium_base64_VARIANT_ORIGINAL);
		k = strlen(word);
		memcpy(word + k, "?=", 2);
		hw_add(w, " ", 1);
		hw_add(w, word, k + 2);
		i += take;
	}
}

/* Splits s at single spaces into words; false when s has leading, trailing or
   doubled spaces (folding would not give them back) or is empty. */
static bool
plain_words_ok(const char *s, bool (*char_ok)(unsigned char))
{
	size_t n = strlen(s);

	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || strstr(s, "  ") != NULL || strstr(s, "=?") != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && !char_ok((unsigned char)s[i]))
			return false;
	return true;
}

static bool
printable_ascii(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static void
hw_words(struct hw *w, const char *s)
{
	while (*s != '\0') {
		size_t n = strcspn(s, " ");

		hw_word(w, s, n);
		s += n;
		if (*s == ' ')
			s++;
	}
}

/* Text in a header: as is when it is plain ASCII words, else encoded-words. */
static void
hw_text(struct hw *w, const char *s, bool (*char_ok)(unsigned char))
{
	if (plain_words_ok(s, char_ok))
		hw_words(w, s);
	else
		hw_encoded(w, s, strlen(s));
}

/* Splits "Display Name <addr>" or "addr"; name gets the trimmed display name
   (may be empty). Both point into from. */
static bool
split_from(const char *from, const char **name, size_t *nlen, const char **addr, size_t *alen)
{
	const char *lt = strrchr(from, '<');
	size_t n = strlen(from);

	if (lt == NULL) {
		*name = from;
		*nlen = 0;
		*addr = from;
		*alen = n;
		return true;
	}
	if (n < 2 || from[n - 1] != '>' || lt > from + n - 2)
		return false;
	*addr = lt + 1;
	*alen = (size_t)(from + n - 1 - *addr);
	*name = from;
	*nlen = (size_t)(lt - from);
	while (*nlen > 0 && (*name)[0] == ' ') {
		(*name)++;
		(*nlen)--;
	}
	while (*nlen > 0 && (*name)[*nlen - 1] == ' ')
		(*nlen)--;
	return true;
}

/* Appends s with CRLF line ends (\n, \r\n and a lone \r each become CRLF) as
   base64 in lines of 76 characters. An empty s gives one empty line. */
static enum cr_err
add_body_b64(struct cr_buf *b, const char *s)
{
	unsigned char chunk[B64_CHUNK];
	char line[sodium_base64_ENCODED_LEN(B64_CHUNK, sodium_base64_VARIANT_ORIGINAL) + 2];
	size_t n = 0, k;
	enum cr_err err = CR_OK;
	bool any = false;

	for (const char *p = s;; p++) {
		unsigned char c[2];
		size_t cn = 0;

		if (*p == '\n' || *p == '\r') {
			c[cn++] = '\r';
			c[cn++] = '\n';
			if (p[0] == '\r' && p[1] == '\n')
				p++;
		} else if (*p != '\0') {
			c[cn++] = (unsigned char)*p;
		}
		for (size_t i = 0; i < cn; i++) {
			chunk[n++] = c[i];
			if (n == B64_CHUNK) {
				sodium_bin2base64(line, sizeof(line), chunk, n, sodium_base64_VARIANT_ORIGINAL);
				k = strlen(line);
				memcpy(line + k, "\r\n", 2);
				if ((err = cr_buf_add(b, line, k + 2)) != CR_OK)
					return err;
				n = 0;
				any = true;
			}
		}
		if (*p == '\0')
			break;
	}
	if (n > 0 || !any) {
		sodium_bin2base64(line, sizeof(line), chunk, n, sodium_base64_VARIANT_ORIGINAL);
		k = strlen(line);
		memcpy(line + k, "\r\n", 2);
		err = cr_buf_add(b, line, k + 2);
	}
	return err;
}

static enum cr_err
add_part(struct cr_buf *b, const char *subtype, const char *body)
{
	enum cr_err err;

	if ((err = cr_buf_printf(b, "Content-Type: text/%s; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", subtype)) != CR_OK)
		return err;
	return add_body_b64(b, body);
}

enum cr_err
cr_mail_date(time_t t, char *out, size_t outlen)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
	    "Oct", "Nov", "Dec"};
	struct tm tm;
	int n;

	/* English names whatever the locale; UTC, so "+0000" (RFC 5322 3.3). */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < 0 || tm.tm_year > 9999 - 1900 || tm.tm_wday < 0 ||
	    tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return CR_ERR_INVALID;
	n = snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n < 0 || (size_t)n >= outlen ? CR_ERR_TOOBIG : CR_OK;
}

static enum cr_err
add_date(struct cr_buf *b, time_t t)
{
	char date[CR_MAIL_DATE_SIZE];
	enum cr_err err;

	if ((err = cr_mail_date(t, date, sizeof(date))) != CR_OK)
		return err;
	return cr_buf_printf(b, "Date: %s\r\n", date);
}

bool
cr_mail_addr_ok(const char *addr)
{
	return addr != NULL && header_text_ok(addr) && addr_ok(addr, strlen(addr));
}

enum cr_err
cr_mail_build(const struct cr_mail *m, struct cr_buf *out, char *message_id, size_t idlen)
{
	char rnd[CR_B64URL_SIZE(18)], boundary[8 + CR_B64URL_SIZE(18)], id[300];
	unsigned char raw[18];
	const char *name, *addr;
	size_t nlen, alen;
	struct cr_buf b;
	struct hw w;
	enum cr_err err;

	cr_buf_init(&b, out->cap);
	if (m->from == NULL || m->to == NULL || m->subject == NULL || m->text == NULL || m->domain == NULL) {
		err = CR_ERR_INVALID;
		goto out;
	}
	err = CR_ERR_INVALID;
	if (!header_text_ok(m->from) || !header_text_ok(m->to) || !header_text_ok(m->subject) ||
	    !header_text_ok(m->domain) || (m->reply_to != NULL && !header_text_ok(m->reply_to)))
		goto out;
	if (!split_from(m->from, &name, &nlen, &addr, &alen) || !addr_ok(addr, alen) ||
	    !addr_ok(m->to, strlen(m->to)) || (m->reply_to != NULL && !addr_ok(m->reply_to, strlen(m->reply_to))) ||
	    !domain_ok(m->domain, strlen(m->domain)))
		goto out;
	if (!utf8_valid(m->text, strlen(m->text)) || (m->html != NULL && !utf8_valid(m->html, strlen(m->html))))
		goto out;

	if (m->message_id != NULL) {
		size_t il = strlen(m->message_id);

		if (il < 5 || il >= sizeof(id) || m->message_id[0] != '<' || m->message_id[il - 1] != '>' ||
		    !header_text_ok(m->message_id) || strchr(m->message_id, ' ') != NULL)
			goto out;
		memcpy(id, m->message_id, il + 1);
	} else {
		cr_random(raw, sizeof(raw));
		cr_b64url_encode(raw, sizeof(raw), rnd, sizeof(rnd));
		snprintf(id, sizeof(id), "<%s@%s>", rnd, m->domain);
	}
	if (message_id != NULL) {
		if (strlen(id) >= idlen) {
			err = CR_ERR_TOOBIG;
			goto out;
		}
		memcpy(message_id, id, strlen(id) + 1);
	}

	if ((err = add_date(&b, m->date)) != CR_OK)
		goto out;
	w = (struct hw){.b = &b};
	hw_start(&w, "Message-ID");
	hw_word(&w, id, strlen(id));
	hw_end(&w);

	hw_start(&w, "From");
	if (nlen > 0) {
		char dn[1024];

		if (nlen >= sizeof(dn)) {
			err = CR_ERR_INVALID;
			goto out;
		}
		memcpy(dn, name, nlen);
		dn[nlen] = '\0';
		/* A phrase may hold atext words only; anything else (specials, UTF-8) is encoded. */
		hw_text(&w, dn, is_atext);
	}
	{
		char a[260];

		snprintf(a, sizeof(a), nlen > 0 ? "<%.*s>" : "%.*s", (int)alen, addr);
		hw_word(&w, a, strlen(a));
	}
	hw_end(&w);
	if (m->reply_to != NULL) {
		hw_start(&w, "Reply-To");
		hw_word(&w, m->reply_to, strlen(m->reply_to));
		hw_end(&w);
	}
	hw_start(&w, "To");
	hw_word(&w, m->to, strlen(m->to));
	hw_end(&w);
	hw_start(&w, "Subject");
	if (m->subject[0] != '\0')
		hw_text(&w, m->subject, printable_ascii);
	hw_end(&w);
	hw_start(&w, "MIME-Version");
	hw_word(&w, "1.0", 3);
	hw_end(&w);
	/* RFC 3834: keeps auto-responders from answering our notices. */
	hw_start(&w, "Auto-Submitted");
	hw_word(&w, "auto-generated", 14);
	hw_end(&w);
	if ((err = w.err) != CR_OK)
		goto out;

	if (m->html == NULL) {
		if ((err = add_part(&b, "plain", m->text)) != CR_OK)
			goto out;
	} else {
		/* "=_" never occurs in base64, so the boundary cannot occur in the parts. */
		cr_random(raw, sizeof(raw));
		cr_b64url_encode(raw, sizeof(raw), rnd, sizeof(rnd));
		snprintf(boundary, sizeof(boundary), "=_cr_%s", rnd);
		if ((err = cr_buf_printf(&b, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n"
		    "--%s\r\n", boundary, boundary)) != CR_OK ||
		    (err = add_part(&b, "plain", m->text)) != CR_OK ||
		    (err = cr_buf_printf(&b, "--%s\r\n", boundary)) != CR_OK ||
		    (err = add_part(&b, "html", m->html)) != CR_OK ||
		    (err = cr_buf_printf(&b, "--%s--\r\n", boundary)) != CR_OK)
			goto out;
	}
	err = cr_buf_add(out, b.data, b.len);
out:
	cr_buf_free(&b);
	return err;
}

