/* The client address behind a reverse proxy; see forwarded.h. */
#include <arpa/inet.h>
#include <string.h>

#include "forwarded.h"

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* buf[*b..*e) without the blanks around it. */
static void
trim(const char *buf, size_t *b, size_t *e)
{
	while (*b < *e && blank(buf[*b]))
		(*b)++;
	while (*e > *b && blank(buf[*e - 1]))
		(*e)--;
}

/* Copies buf[b..e) into tok (NUL-terminated) when it fits and holds no NUL. */
static bool
token(const char *buf, size_t b, size_t e, char *tok, size_t toklen)
{
	if (e - b == 0 || e - b >= toklen || memchr(buf + b, '\0', e - b) != NULL)
		return false;
	memcpy(tok, buf + b, e - b);
	tok[e - b] = '\0';
	return true;
}

enum cr_err
cr_proxy_list_parse(const char *buf, size_t len, struct cr_proxy_list *out)
{
	size_t b = 0, e = len;

	memset(out, 0, sizeof(*out));
	trim(buf, &b, &e);
	if (b == e)
		return CR_OK;
	for (size_t start = 0; start <= len;) {
		const char *comma = memchr(buf + start, ',', len - start);
		size_t end = comma ? (size_t)(comma - buf) : len;
		char tok[CR_FWD_ADDR_LEN];

		b = start;
		e = end;
		trim(buf, &b, &e);
		if (out->n == CR_FWD_MAX_PROXIES) {
			memset(out, 0, sizeof(*out));
			return CR_ERR_TOOBIG;
		}
		if (!token(buf, b, e, tok, sizeof(tok)) || inet_pton(AF_INET, tok, &out->a[out->n]) != 1) {
			memset(out, 0, sizeof(*out));
			return CR_ERR_INVALID;
		}
		out->n++;
		if (comma == NULL)
			break;
		start = end + 1;
	}
	return CR_OK;
}

bool
cr_proxy_list_has(const struct cr_proxy_list *l, const char *ip)
{
	struct in_addr a;

	if (l == NULL || ip == NULL || inet_pton(AF_INET, ip, &a) != 1)
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (l->a[i].s_addr == a.s_addr)
			return true;
	return false;
}

/* Parses one hop; writes its canonical text into out. */
static bool
hop_addr(const char *buf, size_t b, size_t e, char *out, size_t outlen, bool *trusted,
    const struct cr_proxy_list *list)
{
	char tok[CR_FWD_ADDR_LEN];
	unsigned char bin[sizeof(struct in6_addr)];
	int af = AF_INET;

	if (!token(buf, b, e, tok, sizeof(tok)))
		return false;
	if (inet_pton(AF_INET, tok, bin) != 1) {
		af = AF_INET6;
		if (inet_pton(AF_INET6, tok, bin) != 1)
			return false;
	}
	if (inet_ntop(af, bin, out, (socklen_t)outlen) == NULL)
		return false;
	*trusted = false;
	if (af == AF_INET && list != NULL)
		for (size_t i = 0; i < list->n; i++)
			if (memcmp(&list->a[i], bin, sizeof(struct in_addr)) == 0)
				*trusted = true;
	return true;
}

enum cr_err
cr_forwarded_client(const char *buf, size_t len, const struct cr_proxy_list *trusted, char *out, size_t outlen)
{
	size_t end = len, hops = 0;

	if (outlen > 0)
		out[0] = '\0';
	if (outlen < CR_FWD_ADDR_LEN || buf == NULL)
		return CR_ERR_INVALID;
	if (len > CR_FWD_MAX_HEADER)
		return CR_ERR_TOOBIG;
	/* Walk the hops from the right: end is one past the current hop. */
	for (;;) {
		size_t start = end, b, e;
		bool is_trusted;

		while (start > 0 && buf[start - 1] != ',')
			start--;
		if (++hops > CR_FWD_MAX_HOPS) {
			out[0] = '\0';
			return CR_ERR_TOOBIG;
		}
		b = start;
		e = end;
		trim(buf, &b, &e);
		if (!hop_addr(buf, b, e, out, outlen, &is_trusted, trusted)) {
			out[0] = '\0';
			return CR_ERR_INVALID;
		}
		/* Not a proxy of ours, or the leftmost hop: the client. */
		if (!is_trusted || start == 0)
			return CR_OK;
		end = start - 1;
	}
}
