/* libcurl client; see httpc.h. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "httpc.h"
#include "util/log.h"

enum cr_err
cr_httpc_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? CR_OK : CR_ERR_IO;
}

static size_t
on_data(char *p, size_t size, size_t n, void *cls)
{
	struct cr_buf *b = cls;

	/* Returning less than given makes curl abort with CURLE_WRITE_ERROR. */
	if (cr_buf_add(b, p, size * n) != CR_OK)
		return 0;
	return size * n;
}

enum cr_err
cr_url_encode(struct cr_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	enum cr_err err = CR_OK;

	for (; *s != '\0' && err == CR_OK; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~')
			err = cr_buf_add(out, s, 1);
		else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			err = cr_buf_add(out, e, 3);
		}
	}
	return err;
}

static enum cr_err
perform(CURL *h, const char *url, const char *shown, size_t cap, long timeout_ms, long connect_ms,
    struct cr_http_resp *out)
{
	CURLcode rc;
	enum cr_err err;

	out->status = 0;
	out->content_type[0] = '\0';
	cr_buf_init(&out->body, cap);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "certrenew/1");
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (rc == CURLE_WRITE_ERROR && out->body.len + CURL_MAX_WRITE_SIZE > cap) {
			cr_warn("httpc", "answer from %s larger than %zu bytes", shown, cap);
			err = CR_ERR_TOOBIG;
		} else {
			cr_warn("httpc", "%s: %s", shown, curl_easy_strerror(rc));
			err = CR_ERR_REMOTE;
		}
		/* What arrived before the cap or the timeout is dropped here, so no caller can leak it;
		   wiped, as it may be (part of) a token answer. */
		cr_buf_free_secret(&out->body);
		return err;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	{
		char *ct = NULL;

		out->content_type[0] = '\0';
		if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
			snprintf(out->content_type, sizeof(out->content_type), "%s", ct);
	}
	return CR_OK;
}

enum cr_err
cr_http_get(const char *url, const char *bearer, size_t cap, long timeout_ms, struct cr_http_resp *out)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct cr_buf auth;
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	cr_buf_init(&out->body, cap);
	cr_buf_init(&auth, 8192);
	if (h == NULL)
		return CR_ERR_NOMEM;
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (bearer != NULL) {
		if (cr_buf_printf(&auth, "Authorization: Bearer %s", bearer) != CR_OK) {
			err = CR_ERR_TOOBIG;
			goto out;
		}
		hdrs = curl_slist_append(hdrs, cr_buf_str(&auth));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	err = perform(h, url, url, cap, timeout_ms, timeout_ms < 3000 ? timeout_ms : 3000L, out);
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	cr_buf_free_secret(&auth);
	return err;
}

enum cr_err
cr_http_post_form(const char *url, const char *body, const char *basic_user, const char *basic_pass, size_t cap,
    long timeout_ms, struct cr_http_resp *out)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct cr_buf cred, auth;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	cr_buf_init(&out->body, cap);
	cr_buf_init(&cred, 4096);
	cr_buf_init(&auth, 8192);
	if (h == NULL)
		return CR_ERR_NOMEM;
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
	if (basic_user != NULL) {
		char b64[4096];

		if ((err = cr_url_encode(&cred, basic_user)) != CR_OK || (err = cr_buf_adds(&cred, ":")) != CR_OK ||
		    (err = cr_url_encode(&cred, basic_pass ? basic_pass : "")) != CR_OK)
			goto out;
		if (sodium_base64_encoded_len(cred.len, sodium_base64_VARIANT_ORIGINAL) > sizeof(b64)) {
			err = CR_ERR_TOOBIG;
			goto out;
		}
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred.data, cred.len,
		    sodium_base64_VARIANT_ORIGINAL);
		err = cr_buf_printf(&auth, "Authorization: Basic %s", b64);
		sodium_memzero(b64, sizeof(b64));
		if (err != CR_OK)
			goto out;
		hdrs = curl_slist_append(hdrs, cr_buf_str(&auth));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	err = perform(h, url, url, cap, timeout_ms, timeout_ms < 3000 ? timeout_ms : 3000L, out);
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	cr_buf_free_secret(&cred);
	cr_buf_free_secret(&auth);
	return err;
}

/* Adds an "Name: value" header line built in a wiped buffer (the value may be a secret). */
static struct curl_slist *
add_header(struct curl_slist *h, const char *name, const char *value, bool *ok)
{
	struct cr_buf line;
	struct curl_slist *next;

	cr_buf_init(&line, 8192);
	if (cr_buf_printf(&line, "%s: %s", name, value) != CR_OK) {
		*ok = false;
		cr_buf_free_secret(&line);
		return h;
	}
	if ((next = curl_slist_append(h, cr_buf_str(&line))) == NULL)
		*ok = false;
	cr_buf_free_secret(&line);
	return next ? next : h;
}

enum cr_err
cr_http_request(const char *method, const char *url, const struct cr_http_opts *o, const char *content_type,
    const void *body, size_t len, struct cr_http_resp *out)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	bool ok = true;
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	cr_buf_init(&out->body, o->cap);
	if (h == NULL)
		return CR_ERR_NOMEM;
	hdrs = add_header(hdrs, "Accept", "application/json", &ok);
	if (content_type != NULL)
		hdrs = add_header(hdrs, "Content-Type", content_type, &ok);
	if (o->bearer != NULL && o->bearer[0] != '\0') {
		struct cr_buf v;

		cr_buf_init(&v, 4096);
		ok = ok && cr_buf_printf(&v, "Bearer %s", o->bearer) == CR_OK;
		if (ok)
			hdrs = add_header(hdrs, "Authorization", cr_buf_str(&v), &ok);
		cr_buf_free_secret(&v);
	}
	/* curl would add "Expect: 100-continue" to big bodies and wait for it. */
	hdrs = add_header(hdrs, "Expect", "", &ok);
	if (!ok) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (o->client_cert != NULL && o->client_cert[0] != '\0') {
		curl_easy_setopt(h, CURLOPT_SSLCERT, o->client_cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, o->client_key);
	}
	if (o->ca_file != NULL && o->ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	err = perform(h, url, o->what ? o->what : url, o->cap, o->timeout_ms, o->connect_timeout_ms, out);
out:
	if (err != CR_OK)
		cr_buf_free_secret(&out->body);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return err;
}
