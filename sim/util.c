/*
 * Small helpers of govsim: files, hashes, random values, escaping.
 * libsodium supplies the CSPRNG, SHA-256, base64 and the constant-time compare.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "govsim.h"

enum cr_err
gs_read_file(const char *path, size_t cap, char **out, size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;
	enum cr_err err = CR_ERR_IO;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return CR_ERR_IO;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		goto out;
	if ((size_t)st.st_size > cap) {
		err = CR_ERR_TOOBIG;
		goto out;
	}
	/* Read up to cap + 1 bytes so a file that grew since fstat is caught. */
	if ((p = malloc(cap + 2)) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	while (got <= cap) {
		n = read(fd, p + got, cap + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto out;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > cap) {
		err = CR_ERR_TOOBIG;
		goto out;
	}
	p[got] = '\0';
	*out = p;
	p = NULL;
	if (len != NULL)
		*len = got;
	err = CR_OK;
out:
	free(p);
	close(fd);
	return err;
}

void
gs_sha256(const void *p, size_t n, uint8_t out[32])
{
	crypto_hash_sha256(out, p, n);
}

enum cr_err
gs_b64url(const uint8_t *p, size_t n, char **out)
{
	size_t sz = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	if ((*out = malloc(sz)) == NULL)
		return CR_ERR_NOMEM;
	sodium_bin2base64(*out, sz, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return CR_OK;
}

enum cr_err
gs_random_token(char **out)
{
	uint8_t raw[32];
	enum cr_err err;

	randombytes_buf(raw, sizeof(raw));
	err = gs_b64url(raw, sizeof(raw), out);
	sodium_memzero(raw, sizeof(raw));
	return err;
}

int
gs_secret_equal(const char *a, const char *b)
{
	uint8_t ha[32], hb[32];

	/* Hashing first makes the comparison independent of both lengths. */
	gs_sha256(a, strlen(a), ha);
	gs_sha256(b, strlen(b), hb);
	return crypto_verify_32(ha, hb) == 0;
}

enum cr_err
gs_url_append(struct cr_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	enum cr_err err = CR_OK;
	char esc[3];

	for (; *s != '\0' && err == CR_OK; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
			err = cr_buf_add(b, s, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		err = cr_buf_add(b, esc, 3);
	}
	return err;
}

enum cr_err
gs_html_append(struct cr_buf *b, const char *s)
{
	enum cr_err err = CR_OK;
	const char *run = s;

	/* Copy runs of harmless bytes at once; escape the five specials. */
	for (; *s != '\0' && err == CR_OK; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		if ((err = cr_buf_add(b, run, (size_t)(s - run))) == CR_OK)
			err = cr_buf_adds(b, rep);
		run = s + 1;
	}
	if (err == CR_OK)
		err = cr_buf_add(b, run, (size_t)(s - run));
	return err;
}

int
gs_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 1;
	return 0;
}

int
gs_has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == wl && n > 0 && memcmp(p, word, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

time_t
gs_now(void)
{
	return time(NULL);
}
