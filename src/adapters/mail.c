/*
 * Mail composition (cr_mail_build), a small decoder for what it builds
 * (cr_mail_decode) and the DEV .eml writer. See mail.h for the contracts and
 * docs/internals/mail.md for the choices (always base64 bodies, whole-subject
 * encoded-words, refusal instead of cleaning of header inputs).
 *
 * Trust: build trusts nothing in struct cr_mail beyond it being C strings;
 * decode treats the message as hostile (it is fuzzed) and does no I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "mail.h"
#include "util/crypto.h"

#define HDR_LINE 78      /* RFC 5322 2.1.1: lines SHOULD be at most 78 characters */
#define EW_HEAD "=?UTF-8?B?"
#define EW_OVERHEAD 12   /* strlen(EW_HEAD) + strlen("?=") */
#define EW_MAX_BYTES 45  /* 60 base64 characters: an encoded-word of 72 <= 75 (RFC 2047 2) */
#define B64_CHUNK 57     /* bytes per 76-character base64 line (RFC 2045 6.8) */

#define HDR_VALUE_MAX (16u * 1024u) /* longest unfolded header value decode looks at */
#define MAX_FIELDS 512              /* header fields per message or part */
#define MAX_PARTS 64                /* parts of a multipart body */

/* ------------------------------------------------------------ shared checks */

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

static enum cr_err
add_date(struct cr_buf *b, time_t t)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
	    "Oct", "Nov", "Dec"};
	struct tm tm;

	/* English names whatever the locale; UTC, so "+0000" (RFC 5322 3.3). */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < 0 || tm.tm_year > 9999 - 1900 || tm.tm_wday < 0 ||
	    tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return CR_ERR_INVALID;
	return cr_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
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

/* ------------------------------------------------------------ decoding */

struct span {
	const char *p;  /* NULL: absent */
	size_t n;
};

/* The next line of [*pos, end) without its line end (CRLF or LF); false at the end. */
static bool
next_line(const char *end, const char **pos, struct span *line)
{
	const char *p = *pos, *nl;

	if (p >= end)
		return false;
	line->p = p;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
		line->n = (size_t)(end - p);
		*pos = end;
	} else {
		line->n = (size_t)(nl - p);
		if (line->n > 0 && nl[-1] == '\r')
			line->n--;
		*pos = nl + 1;
	}
	return true;
}

struct head {
	struct span subject, ctype, cte;  /* raw values, possibly folded */
	struct span body;
};

/* Splits a header section from its body and finds the fields decode needs. */
static enum cr_err
parse_head(const char *msg, size_t len, struct head *h)
{
	const char *pos = msg, *end = msg + len;
	struct span line, *cur = NULL;
	size_t fields = 0;

	memset(h, 0, sizeof(*h));
	while (next_line(end, &pos, &line)) {
		const char *colon;

		if (line.n == 0) {
			h->body.p = pos;
			h->body.n = (size_t)(end - pos);
			return CR_OK;
		}
		if (line.p[0] == ' ' || line.p[0] == '\t') {
			if (fields == 0)
				return CR_ERR_INVALID;
			if (cur != NULL)
				cur->n = (size_t)(line.p + line.n - cur->p);
			continue;
		}
		if ((colon = memchr(line.p, ':', line.n)) == NULL || colon == line.p || ++fields > MAX_FIELDS)
			return CR_ERR_INVALID;
		for (const char *c = line.p; c < colon; c++)
			if (*c <= ' ' || *c > '~')
				return CR_ERR_INVALID;
		cur = NULL;
#define FIELD(s, f) ((size_t)(colon - line.p) == sizeof(s) - 1 && strncasecmp(line.p, s, sizeof(s) - 1) == 0 ? (f) : NULL)
		if (cur == NULL)
			cur = FIELD("subject", &h->subject);
		if (cur == NULL)
			cur = FIELD("content-type", &h->ctype);
		if (cur == NULL)
			cur = FIELD("content-transfer-encoding", &h->cte);
#undef FIELD
		if (cur != NULL) {
			if (cur->p != NULL)
				return CR_ERR_INVALID;  /* twice: which one would a reader show? */
			cur->p = colon + 1;
			cur->n = (size_t)(line.p + line.n - cur->p);
		}
	}
	h->body.p = end;  /* headers only */
	h->body.n = 0;
	return CR_OK;
}

/* Unfolds a header value into out (line ends removed, outer white space
   trimmed); control characters other than HTAB are refused. */
static enum cr_err
unfold(struct span v, struct cr_buf *out)
{
	size_t i = 0, n = v.n;
	enum cr_err err = CR_OK;

	cr_buf_reset(out);
	while (n > 0 && (v.p[n - 1] == ' ' || v.p[n - 1] == '\t'))
		n--;
	while (i < n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == '\r' || v.p[i] == '\n'))
		i++;
	for (; i < n && err == CR_OK; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c == '\n' || (c == '\r' && i + 1 < n && v.p[i + 1] == '\n'))
			continue;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return CR_ERR_INVALID;
		err = cr_buf_add(out, &v.p[i], 1);
	}
	return err == CR_ERR_TOOBIG ? CR_ERR_INVALID : err;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Appends the bytes of base64 s (white space ignored, '=' padding only at the end). */
static enum cr_err
b64_decode(const char *s, size_t n, struct cr_buf *out)
{
	unsigned char chunk[512];
	size_t cn = 0;
	uint32_t acc = 0;
	int bits = 0, v;
	bool pad = false;
	enum cr_err err;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad = true;
			continue;
		}
		if (pad || (v = b64val(c)) < 0)
			return CR_ERR_INVALID;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			chunk[cn++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
			if (cn == sizeof(chunk)) {
				if ((err = cr_buf_add(out, chunk, cn)) != CR_OK)
					return err;
				cn = 0;
			}
		}
	}
	if (bits >= 6)  /* one character alone in its group carries no byte */
		return CR_ERR_INVALID;
	return cr_buf_add(out, chunk, cn);
}

/* Appends the bytes of quoted-printable s (RFC 2045 6.7); in_header: RFC 2047 Q
   ('_' is a space, no soft line breaks). */
static enum cr_err
qp_decode(const char *s, size_t n, bool in_header, struct cr_buf *out)
{
	enum cr_err err = CR_OK;

	for (size_t i = 0; i < n && err == CR_OK; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '=') {
			if (!in_header && i + 1 < n && s[i + 1] == '\n') {
				i += 1;
				continue;
			}
			if (!in_header && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
				i += 2;
				continue;
			}
			if (!in_header && i + 1 == n)
				break;
			if (i + 2 >= n || hexval((unsigned char)s[i + 1]) < 0 || hexval((unsigned char)s[i + 2]) < 0)
				return CR_ERR_INVALID;
			c = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
			i += 2;
		} else if (in_header && c == '_') {
			c = ' ';
		}
		err = cr_buf_add(out, &c, 1);
	}
	return err;
}

static bool
charset_ok(const char *cs, size_t n)
{
	return n == 0 || (n == 5 && strncasecmp(cs, "utf-8", 5) == 0) || (n == 4 && strncasecmp(cs, "utf8", 4) == 0) ||
	    (n == 8 && strncasecmp(cs, "us-ascii", 8) == 0);
}

/* An RFC 2047 encoded-word split into its pieces. */
struct ew {
	const char *charset, *text;
	size_t charset_len, text_len;
	char enc;
};

/* Whether the white-space-free token t is an encoded-word "=?charset?enc?text?=". */
static bool
ew_parse(const char *t, size_t n, struct ew *ew)
{
	const char *cs = t + 2, *q, *star, *end = t + n - 2;

	if (n < 8 || t[0] != '=' || t[1] != '?' || t[n - 2] != '?' || t[n - 1] != '=')
		return false;
	if ((q = memchr(cs, '?', (size_t)(end - cs))) == NULL || q == cs || end - q < 3 || q[2] != '?')
		return false;
	ew->enc = q[1];
	ew->text = q + 3;
	ew->text_len = (size_t)(end - ew->text);
	if (memchr(ew->text, '?', ew->text_len) != NULL)
		return false;
	ew->charset = cs;
	ew->charset_len = (size_t)(q - cs);
	if ((star = memchr(cs, '*', ew->charset_len)) != NULL)  /* RFC 2231 language suffix */
		ew->charset_len = (size_t)(star - cs);
	return true;
}

/* Appends the decoded bytes of an encoded-word; CR_ERR_INVALID for a charset
   other than UTF-8 (or US-ASCII) or a bad encoding. */
static enum cr_err
ew_decode(const struct ew *ew, struct cr_buf *out)
{
	if (ew->charset_len == 0 || !charset_ok(ew->charset, ew->charset_len))
		return CR_ERR_INVALID;
	if (ew->enc == 'B' || ew->enc == 'b')
		return b64_decode(ew->text, ew->text_len, out);
	if (ew->enc == 'Q' || ew->enc == 'q')
		return qp_decode(ew->text, ew->text_len, true, out);
	return CR_ERR_INVALID;
}

/* Decodes an unfolded Subject: encoded-words decoded, white space between two
   of them dropped (RFC 2047 6.2), other text kept. The result must be UTF-8
   without control characters. */
static enum cr_err
decode_subject(const char *v, size_t n, struct cr_buf *out)
{
	size_t i = 0, start = out->len;
	bool prev_ew = false;
	enum cr_err err = CR_OK;

	while (i < n && err == CR_OK) {
		size_t ws = i, tok;
		struct ew ew;
		bool is_ew;

		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n)
			break;
		for (tok = i; i < n && v[i] != ' ' && v[i] != '\t'; i++)
			;
		is_ew = ew_parse(v + tok, i - tok, &ew);
		if (!(is_ew && prev_ew) && tok > ws)
			err = cr_buf_add(out, v + ws, tok - ws);
		if (err == CR_OK)
			err = is_ew ? ew_decode(&ew, out) : cr_buf_add(out, v + tok, i - tok);
		prev_ew = is_ew;
	}
	if (err != CR_OK)
		return err;
	for (size_t k = start; k < out->len; k++) {
		unsigned char c = (unsigned char)out->data[k];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return CR_ERR_INVALID;
	}
	return utf8_valid(out->data != NULL ? out->data + start : "", out->len - start) ? CR_OK : CR_ERR_INVALID;
}

struct ctype {
	char type[64];      /* lower case, "text/plain" when absent */
	char charset[32];   /* as given, "" when absent */
	char boundary[72];  /* "" when absent */
};

/* Parses an unfolded Content-Type: type/subtype then ;name=value parameters
   (token or quoted-string). Comments are not supported. */
static enum cr_err
parse_ctype(const char *v, size_t n, struct ctype *ct)
{
	size_t i = 0, j;

	memset(ct, 0, sizeof(*ct));
	for (j = 0; j < n && v[j] != ';' && v[j] != ' ' && v[j] != '\t'; j++)
		;
	if (j == 0 || j >= sizeof(ct->type))
		return CR_ERR_INVALID;
	for (size_t k = 0; k < j; k++)
		ct->type[k] = (char)((v[k] >= 'A' && v[k] <= 'Z') ? v[k] - 'A' + 'a' : v[k]);
	i = j;
	for (;;) {
		char val[128];
		size_t nstart, nlen, vlen = 0;

		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n)
			return CR_OK;
		if (v[i++] != ';')
			return CR_ERR_INVALID;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n)
			return CR_OK;
		for (nstart = i; i < n && v[i] != '=' && v[i] != ' ' && v[i] != '\t' && v[i] != ';'; i++)
			;
		nlen = i - nstart;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (nlen == 0 || i == n || v[i++] != '=')
			return CR_ERR_INVALID;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i < n && v[i] == '"') {
			for (i++; i < n && v[i] != '"'; i++) {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				if (vlen + 1 >= sizeof(val))
					return CR_ERR_INVALID;
				val[vlen++] = v[i];
			}
			if (i == n)
				return CR_ERR_INVALID;
			i++;
		} else {
			for (; i < n && v[i] != ';' && v[i] != ' ' && v[i] != '\t'; i++) {
				if (vlen + 1 >= sizeof(val))
					return CR_ERR_INVALID;
				val[vlen++] = v[i];
			}
		}
		val[vlen] = '\0';
		if (nlen == 7 && strncasecmp(v + nstart, "charset", 7) == 0) {
			if (vlen >= sizeof(ct->charset))
				return CR_ERR_INVALID;
			memcpy(ct->charset, val, vlen + 1);
		} else if (nlen == 8 && strncasecmp(v + nstart, "boundary", 8) == 0) {
			/* RFC 2046 5.1.1: 1 to 70 characters. */
			if (vlen == 0 || vlen > 70)
				return CR_ERR_INVALID;
			memcpy(ct->boundary, val, vlen + 1);
		}
	}
}

/* The Content-Type of a header section (text/plain when absent). tmp is scratch. */
static enum cr_err
head_ctype(const struct head *h, struct cr_buf *tmp, struct ctype *ct)
{
	enum cr_err err;

	if (h->ctype.p == NULL) {
		memset(ct, 0, sizeof(*ct));
		memcpy(ct->type, "text/plain", sizeof("text/plain"));
		return CR_OK;
	}
	if ((err = unfold(h->ctype, tmp)) != CR_OK)
		return err;
	return parse_ctype(cr_buf_str(tmp), tmp->len, ct);
}

/* Decodes the body of a text part into out (UTF-8, CRLF made LF). */
static enum cr_err
decode_text(const struct head *h, const struct ctype *ct, struct cr_buf *tmp, struct cr_buf *out)
{
	struct cr_buf raw;
	const char *cte = "7bit";
	char ctebuf[32];
	enum cr_err err;
	size_t i;

	if (!charset_ok(ct->charset, strlen(ct->charset)))
		return CR_ERR_INVALID;
	if (h->cte.p != NULL) {
		if ((err = unfold(h->cte, tmp)) != CR_OK)
			return err;
		if (tmp->len >= sizeof(ctebuf))
			return CR_ERR_INVALID;
		memcpy(ctebuf, cr_buf_str(tmp), tmp->len + 1);
		cte = ctebuf;
	}
	cr_buf_init(&raw, h->body.n + 1);
	if (strcasecmp(cte, "base64") == 0)
		err = b64_decode(h->body.p, h->body.n, &raw);
	else if (strcasecmp(cte, "quoted-printable") == 0)
		err = qp_decode(h->body.p, h->body.n, false, &raw);
	else if (strcasecmp(cte, "7bit") == 0 || strcasecmp(cte, "8bit") == 0 || strcasecmp(cte, "binary") == 0)
		err = cr_buf_add(&raw, h->body.p, h->body.n);
	else
		err = CR_ERR_INVALID;
	if (err == CR_OK && (memchr(cr_buf_str(&raw), '\0', raw.len) != NULL || !utf8_valid(cr_buf_str(&raw), raw.len)))
		err = CR_ERR_INVALID;
	for (i = 0; err == CR_OK && i < raw.len;) {
		const char *cr = memchr(raw.data + i, '\r', raw.len - i);
		size_t run = cr != NULL ? (size_t)(cr - (raw.data + i)) : raw.len - i;

		if ((err = cr_buf_add(out, raw.data + i, run)) != CR_OK)
			break;
		i += run;
		if (i < raw.len) {  /* at a CR: CRLF becomes LF, a lone CR stays */
			if (i + 1 < raw.len && raw.data[i + 1] == '\n')
				i++;
			else if ((err = cr_buf_add(out, "\r", 1)) != CR_OK)
				break;
			else
				i++;
		}
	}
	cr_buf_free(&raw);
	return err;
}

/* Finds the parts of a multipart body and decodes the first text/plain into
   text and the first text/html into html (when not NULL). */
static enum cr_err
decode_multipart(struct span body, const char *boundary, struct cr_buf *tmp, struct cr_buf *text,
    struct cr_buf *html, bool *got_text)
{
	const char *pos = body.p, *end = body.p + body.n, *part = NULL, *prev_end = NULL;
	size_t bl = strlen(boundary), nparts = 0;
	bool got_html = false;
	struct span line;
	enum cr_err err;

	while (next_line(end, &pos, &line)) {
		bool delim = line.n >= 2 + bl && line.p[0] == '-' && line.p[1] == '-' &&
		    memcmp(line.p + 2, boundary, bl) == 0;
		bool close = false;

		if (delim) {
			const char *r = line.p + 2 + bl;
			size_t rn = line.n - 2 - bl;

			if (rn >= 2 && r[0] == '-' && r[1] == '-') {
				close = true;
				r += 2;
				rn -= 2;
			}
			while (rn > 0 && (r[0] == ' ' || r[0] == '\t')) {  /* transport padding */
				r++;
				rn--;
			}
			delim = rn == 0;
		}
		if (!delim) {
			prev_end = line.p + line.n;
			continue;
		}
		if (part != NULL) {
			/* The line end before a delimiter belongs to the delimiter. */
			const char *pe = prev_end != NULL ? prev_end : part;
			struct head ph;
			struct ctype ct;

			if ((err = parse_head(part, (size_t)(pe - part), &ph)) != CR_OK ||
			    (err = head_ctype(&ph, tmp, &ct)) != CR_OK)
				return err;
			if (strcmp(ct.type, "text/plain") == 0 && !*got_text) {
				if ((err = decode_text(&ph, &ct, tmp, text)) != CR_OK)
					return err;
				*got_text = true;
			} else if (strcmp(ct.type, "text/html") == 0 && html != NULL && !got_html) {
				if ((err = decode_text(&ph, &ct, tmp, html)) != CR_OK)
					return err;
				got_html = true;
			}
		}
		if (close)
			return CR_OK;
		if (++nparts > MAX_PARTS)
			return CR_ERR_INVALID;
		part = pos;
		prev_end = NULL;
	}
	return CR_ERR_INVALID;  /* no close delimiter: truncated */
}

enum cr_err
cr_mail_decode(const char *msg, size_t len, struct cr_buf *subject, struct cr_buf *text, struct cr_buf *html)
{
	struct cr_buf tmp;
	struct head h;
	struct ctype ct;
	bool got_text = false;
	enum cr_err err;

	cr_buf_reset(subject);
	cr_buf_reset(text);
	if (html != NULL)
		cr_buf_reset(html);
	if (msg == NULL)
		return CR_ERR_INVALID;
	if (len > CR_MAIL_DECODE_MAX)
		return CR_ERR_TOOBIG;
	cr_buf_init(&tmp, HDR_VALUE_MAX);
	if ((err = parse_head(msg, len, &h)) != CR_OK)
		goto out;
	/* Every message we build has a Subject; without one this is something else. */
	if (h.subject.p == NULL) {
		err = CR_ERR_INVALID;
		goto out;
	}
	if ((err = unfold(h.subject, &tmp)) != CR_OK ||
	    (err = decode_subject(cr_buf_str(&tmp), tmp.len, subject)) != CR_OK)
		goto out;
	if ((err = head_ctype(&h, &tmp, &ct)) != CR_OK)
		goto out;
	if (strncmp(ct.type, "multipart/", 10) == 0) {
		err = ct.boundary[0] == '\0' ? CR_ERR_INVALID :
		    decode_multipart(h.body, ct.boundary, &tmp, text, html, &got_text);
	} else if (strcmp(ct.type, "text/plain") == 0) {
		err = decode_text(&h, &ct, &tmp, text);
		got_text = err == CR_OK;
	} else {
		err = CR_ERR_INVALID;
	}
	if (err == CR_OK && !got_text)
		err = CR_ERR_INVALID;
out:
	cr_buf_free(&tmp);
	if (err != CR_OK) {
		cr_buf_reset(subject);
		cr_buf_reset(text);
		if (html != NULL)
			cr_buf_reset(html);
	}
	return err;
}

/* ------------------------------------------------------------ .eml files */

/* mkdir -p with mode for each directory created. */
static enum cr_err
mkdirs(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);
	struct stat st;

	if (n == 0 || n >= sizeof(path))
		return CR_ERR_INVALID;
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, mode) != 0 && errno != EEXIST)
			return CR_ERR_IO;
		if (i < n)
			path[i] = '/';
	}
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? CR_OK : CR_ERR_IO;
}

static bool
eml_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 128 || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		    c == '_' || c == '-'))
			return false;
	}
	return true;
}

enum cr_err
cr_mail_write_eml(const char *dir, const char *name, const char *msg, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	enum cr_err err = CR_ERR_IO;
	int fd = -1, dfd = -1;
	size_t off = 0;

	if (dir == NULL || name == NULL || (msg == NULL && len > 0) || !eml_name_ok(name))
		return CR_ERR_INVALID;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.eml", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.eml.XXXXXX", dir, name) >= sizeof(tmp))
		return CR_ERR_INVALID;
	if ((err = mkdirs(dir, 0750)) != CR_OK)
		return err;
	err = CR_ERR_IO;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return CR_ERR_IO;
	if (fchmod(fd, 0640) != 0)
		goto out;
	while (off < len) {
		ssize_t w = write(fd, msg + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	tmp[0] = '\0';  /* renamed: nothing to remove */
	/* The rename is durable once the directory is synced. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	err = CR_OK;
out:
	if (fd >= 0)
		close(fd);
	if (err != CR_OK && tmp[0] != '\0')
		unlink(tmp);
	return err;
}
