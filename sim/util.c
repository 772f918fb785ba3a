/*
 * Small helpers of govsim: random values, comparison, escaping. Files, SHA-256
 * and base64url come from src/util (util/file.h, util/crypto.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "govsim.h"
#include "util/log.h"

enum cr_err
gs_random_token(char **out)
{
	if ((*out = malloc(CR_TOKEN_LEN)) == NULL)
		return CR_ERR_NOMEM;
	cr_random_token(*out);
	return CR_OK;
}

int
gs_secret_equal(const char *a, const char *b)
{
	uint8_t ha[32], hb[32];

	/* Hashing first makes the comparison independent of both lengths. */
	cr_sha256(a, strlen(a), ha);
	cr_sha256(b, strlen(b), hb);
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

enum cr_err
gs_read_secret_line(const char *path, const char *what, size_t max, char **out)
{
	struct stat st;
	size_t n = 0;
	enum cr_err err;

	*out = NULL;
	if ((err = cr_file_read(path, 4096, 0, out, &n)) != CR_OK) {
		cr_error(GS_LOG, "%s: cannot read the %s: %s", path, what, cr_err_str(err));
		return err;
	}
	while (n > 0 && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
		(*out)[--n] = '\0';
	if (n == 0 || n > max || gs_has_ctl(*out) || strlen(*out) != n) {
		cr_error(GS_LOG, "%s: the %s must be one line of 1..%zu bytes", path, what, max);
		sodium_memzero(*out, n);
		free(*out);
		*out = NULL;
		return CR_ERR_CONFIG;
	}
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		cr_warn(GS_LOG, "%s: readable by others; chmod 600 is advised", path);
	return CR_OK;
}

enum cr_err
gs_load_json(const char *path, size_t cap, json_t **out)
{
	char *text = NULL;
	size_t len = 0;
	json_error_t jerr;
	enum cr_err err;

	*out = NULL;
	if ((err = cr_file_read(path, cap, 0, &text, &len)) != CR_OK) {
		cr_error(GS_LOG, "%s: cannot read: %s", path, cr_err_str(err));
		return err;
	}
	if ((*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		cr_error(GS_LOG, "%s:%d: %s", path, jerr.line, jerr.text);
		err = CR_ERR_CONFIG;
	}
	free(text);
	return err;
}
