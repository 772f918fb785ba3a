/*
 * SMTP delivery with libcurl; see mail.h (struct cr_smtp) and docs/internals/mail.md.
 *
 * One easy handle per session: libcurl keeps the connection open after a
 * message (it sends QUIT only when the handle is cleaned up), so a batch of
 * sends costs one TCP/TLS handshake and one AUTH. The verdict on a failure
 * comes from the last SMTP command we sent and the server's reply code, both
 * seen through curl's debug callback: 5xx to MAIL, RCPT or DATA is a permanent
 * refusal of this message; everything else is worth trying again later.
 *
 * Trust: the server's replies are only copied, cleaned and capped, into the
 * error text. The password is held in one copy, wiped on free (libcurl keeps
 * its own copy, which it frees without wiping).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include "mail.h"
#include "util/log.h"

struct cr_smtp {
	CURL *h;
	char *url;            /* with the HELO domain as its path */
	char *username;
	char *password;
	char *mail_from;      /* "<addr>" */
	long timeout_ms;
	bool open;            /* the last send succeeded, so curl kept its connection */
	bool quitting;        /* QUIT sent: its "221 Bye" must not hide the reply that mattered */
	char last_cmd[12];    /* verb of the last command sent: "MAIL", "RCPT", "DATA"... */
	char last_reply[128]; /* last reply line received, printable ASCII only */
};

struct reader {
	const char *p;
	size_t len, off;
};

static size_t
on_read(char *buf, size_t size, size_t nitems, void *cls)
{
	struct reader *r = cls;
	size_t n = size * nitems;

	if (n > r->len - r->off)
		n = r->len - r->off;
	memcpy(buf, r->p + r->off, n);
	r->off += n;
	return n;
}

/*
 * Sees the protocol as curl logs it. Only the verb of a command is kept, and
 * only when it is one we know: AUTH LOGIN sends the credentials as lines of
 * their own, which must never be stored. Message data (CURLINFO_DATA_OUT) is
 * ignored.
 */
static int
on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *cls)
{
	static const char *const verbs[] = {"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "RSET",
	    "NOOP"};
	struct cr_smtp *s = cls;

	(void)h;
	if (s->quitting)
		return 0;
	if (type == CURLINFO_HEADER_OUT && size >= 4 && strncasecmp(data, "QUIT", 4) == 0) {
		s->quitting = true;  /* curl closing after an error, or cleaning up */
	} else if (type == CURLINFO_HEADER_OUT) {
		for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
			size_t n = strlen(verbs[i]);

			if (size >= n && strncasecmp(data, verbs[i], n) == 0 &&
			    (size == n || data[n] == ' ' || data[n] == '\r' || data[n] == '\n')) {
				memcpy(s->last_cmd, verbs[i], n + 1);
				break;
			}
		}
	} else if (type == CURLINFO_HEADER_IN) {
		size_t j = 0;

		for (size_t i = 0; i < size && j + 1 < sizeof(s->last_reply); i++) {
			unsigned char c = (unsigned char)data[i];

			if (c == '\r' || c == '\n')
				break;
			s->last_reply[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
		s->last_reply[j] = '\0';
	}
	return 0;
}

/* An address for an SMTP command: printable ASCII without spaces or angle
   brackets (which would end the path) and one '@'. notify/mime.c checks the headers
   more strictly; this check is what keeps a command line a command line. */
static bool
smtp_addr_ok(const char *a)
{
	size_t n = strlen(a), ats = 0;

	if (n == 0 || n > 254)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\')
			return false;
		ats += c == '@';
	}
	return ats == 1 && a[0] != '@' && a[n - 1] != '@';
}

static bool
helo_ok(const char *d)
{
	size_t n = strlen(d);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') || (d[i] >= '0' && d[i] <= '9') ||
		    d[i] == '.' || d[i] == '-'))
			return false;
	return true;
}

void
cr_smtp_free(struct cr_smtp *s)
{
	if (s == NULL)
		return;
	if (s->h != NULL)
		curl_easy_cleanup(s->h);  /* QUIT on an open connection, bounded by the timeouts */
	if (s->password != NULL) {
		sodium_memzero(s->password, strlen(s->password));
		free(s->password);
	}
	free(s->username);
	free(s->url);
	free(s->mail_from);
	free(s);
}

enum cr_err
cr_smtp_new(const struct cr_smtp_config *cfg, struct cr_smtp **out)
{
	struct cr_smtp *s = NULL;
	const char *rest;
	bool smtps;
	size_t n;
	long resp_s;
	enum cr_err err = CR_ERR_CONFIG;

	*out = NULL;
	if (cfg->url == NULL || cfg->envelope_from == NULL)
		return CR_ERR_CONFIG;
	smtps = strncmp(cfg->url, "smtps://", 8) == 0;
	if (!smtps && strncmp(cfg->url, "smtp://", 7) != 0)
		return CR_ERR_CONFIG;
	rest = cfg->url + (smtps ? 8 : 7);
	n = strcspn(rest, "/");
	/* host[:port] only, optionally with a trailing '/': the path is ours (HELO domain). */
	if (n == 0 || (rest[n] == '/' && rest[n + 1] != '\0'))
		return CR_ERR_CONFIG;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)rest[i] <= 0x20 || (unsigned char)rest[i] >= 0x7f || rest[i] == '@')
			return CR_ERR_CONFIG;
	if (!smtp_addr_ok(cfg->envelope_from) || (cfg->helo_domain != NULL && !helo_ok(cfg->helo_domain)))
		return CR_ERR_CONFIG;
	if (cfg->username != NULL && !smtps && !cfg->require_starttls) {
		cr_error("smtp", "refusing AUTH over %.*s without STARTTLS (set smtp.starttls)", (int)n, rest);
		return CR_ERR_CONFIG;
	}

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CR_ERR_NOMEM;
	err = CR_ERR_NOMEM;
	n = strlen(cfg->url) + 2 + (cfg->helo_domain != NULL ? strlen(cfg->helo_domain) : 0);
	if ((s->url = malloc(n)) == NULL)
		goto fail;
	snprintf(s->url, n, "%.*s/%s", (int)(rest - cfg->url) + (int)strcspn(rest, "/"), cfg->url,
	    cfg->helo_domain != NULL ? cfg->helo_domain : "");
	n = strlen(cfg->envelope_from) + 3;
	if ((s->mail_from = malloc(n)) == NULL)
		goto fail;
	snprintf(s->mail_from, n, "<%s>", cfg->envelope_from);
	if (cfg->username != NULL && ((s->username = strdup(cfg->username)) == NULL ||
	    (s->password = strdup(cfg->password != NULL ? cfg->password : "")) == NULL))
		goto fail;
	s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
	if ((s->h = curl_easy_init()) == NULL)
		goto fail;

	err = CR_ERR_CONFIG;
	resp_s = (s->timeout_ms + 999) / 1000;
	if (curl_easy_setopt(s->h, CURLOPT_URL, s->url) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, s->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms) != CURLE_OK ||
	    /* Also bounds the QUIT curl_easy_cleanup sends (default: 2 minutes). */
	    curl_easy_setopt(s->h, CURLOPT_SERVER_RESPONSE_TIMEOUT, resp_s) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_USE_SSL,
	        (long)(cfg->require_starttls || smtps ? CURLUSESSL_ALL : CURLUSESSL_NONE)) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_MAIL_FROM, s->mail_from) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_READFUNCTION, on_read) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_VERBOSE, 1L) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_DEBUGFUNCTION, on_debug) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_DEBUGDATA, s) != CURLE_OK)
		goto fail;
	if (s->username != NULL && (curl_easy_setopt(s->h, CURLOPT_USERNAME, s->username) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_PASSWORD, s->password) != CURLE_OK))
		goto fail;
	*out = s;
	return CR_OK;
fail:
	cr_smtp_free(s);
	return err;
}

/* One SMTP transaction; rc gets curl's result. */
static CURLcode
transact(struct cr_smtp *s, struct curl_slist *rcpts, const char *msg, size_t len, char *cerr)
{
	struct reader r = {.p = msg, .len = len};

	s->last_cmd[0] = '\0';
	s->last_reply[0] = '\0';
	s->quitting = false;
	cerr[0] = '\0';
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(s->h, CURLOPT_READDATA, &r);
	curl_easy_setopt(s->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	return curl_easy_perform(s->h);
}

enum cr_err
cr_smtp_send(struct cr_smtp *s, const char *rcpt, const char *msg, size_t len, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE], addr[260];
	struct curl_slist *rcpts = NULL;
	long code = 0;
	bool was_open = s->open;
	enum cr_err rc;
	CURLcode cc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (rcpt == NULL || !smtp_addr_ok(rcpt) || msg == NULL) {
		if (err != NULL)
			snprintf(err, errlen, "bad recipient address");
		return CR_ERR_INVALID;
	}
	snprintf(addr, sizeof(addr), "<%s>", rcpt);
	if ((rcpts = curl_slist_append(NULL, addr)) == NULL)
		return CR_ERR_NOMEM;
	cc = transact(s, rcpts, msg, len, cerr);
	/*
	 * A kept connection the server dropped while we were idle fails before
	 * any reply. Nothing was handed over (no DATA sent), so one more go on a
	 * fresh connection cannot duplicate the message. (curl closes the
	 * connection after any failure, so this happens at most once.)
	 */
	if (cc != CURLE_OK && was_open && s->last_reply[0] == '\0' && strcmp(s->last_cmd, "DATA") != 0) {
		cr_info("smtp", "connection to %s was closed; reconnecting", s->url);
		cc = transact(s, rcpts, msg, len, cerr);
	}
	curl_slist_free_all(rcpts);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, NULL);
	curl_easy_setopt(s->h, CURLOPT_READDATA, NULL);
	s->open = cc == CURLE_OK;
	if (cc == CURLE_OK)
		return CR_OK;

	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 500 && code < 600 &&
	    (strcmp(s->last_cmd, "MAIL") == 0 || strcmp(s->last_cmd, "RCPT") == 0 || strcmp(s->last_cmd, "DATA") == 0))
		rc = CR_ERR_DENIED;
	else
		rc = CR_ERR_REMOTE;
	if (err != NULL)
		snprintf(err, errlen, "%s%s%s%s%s", cerr[0] != '\0' ? cerr : curl_easy_strerror(cc),
		    s->last_cmd[0] != '\0' ? " after " : "", s->last_cmd, s->last_reply[0] != '\0' ? ": " : "",
		    s->last_reply);
	if (cc == CURLE_LOGIN_DENIED || cc == CURLE_USE_SSL_FAILED || cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CONNECT_ERROR)
		cr_error("smtp", "%s: %s (check the smtp settings)", s->url, curl_easy_strerror(cc));
	return rc;
}
