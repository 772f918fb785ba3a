/* Client of GovID's signing service; see csc.h and docs/internals/esign.md. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "csc.h"
#include "httpc.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/log.h"

#define DIGEST_LEN 32
#define OID_SHA256 "2.16.840.1.101.3.4.2.1"
#define OID_ECDSA_SHA256 "1.2.840.10045.4.3.2"

struct cr_csc {
	char base_url[1024];
	char ca_file[1024];
	long connect_timeout_ms, timeout_ms;
};

enum cr_err
cr_csc_new(const struct cr_csc_config *cfg, struct cr_csc **out)
{
	struct cr_csc *c;

	*out = NULL;
	if (cfg == NULL || cfg->base_url == NULL || cfg->base_url[0] == '\0' ||
	    strlen(cfg->base_url) >= sizeof(c->base_url)) {
		cr_error("csc", "signing.base_url is missing or too long");
		return CR_ERR_CONFIG;
	}
	if (cfg->ca_file != NULL && strlen(cfg->ca_file) >= sizeof(c->ca_file)) {
		cr_error("csc", "signing.ca_file is too long");
		return CR_ERR_CONFIG;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CR_ERR_NOMEM;
	snprintf(c->base_url, sizeof(c->base_url), "%s", cfg->base_url);
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", cfg->ca_file ? cfg->ca_file : "");
	c->connect_timeout_ms = cfg->connect_timeout_ms;
	c->timeout_ms = cfg->timeout_ms;
	*out = c;
	return CR_OK;
}

void
cr_csc_free(struct cr_csc *c)
{
	free(c);
}

void
cr_csc_signature_free(struct cr_csc_signature *s)
{
	if (s == NULL)
		return;
	free(s->cms);
	for (size_t i = 0; i < CR_CSC_MAX_CHAIN; i++)
		free(s->chain[i]);
	memset(s, 0, sizeof(*s));
}

static void
say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static bool
is_json(const char *content_type)
{
	size_t n = strlen("application/json");

	return strncasecmp(content_type, "application/json", n) == 0 &&
	    (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

/* A header value: not empty, no control characters (no header splitting), bounded. */
static bool
token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 4000)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x21 || t[i] == 0x7f)
			return false;
	return true;
}

/*
 * POSTs body (consumed) as JSON to {base}/csc/v2/{path}. On CR_OK *answer is the JSON object of a
 * 200 answer (json_decref it). reason gets what went wrong.
 */
static enum cr_err
call(const struct cr_csc *c, const char *token, const char *path, json_t *body, json_t **answer, char *reason,
    size_t rlen)
{
	struct cr_http_opts o = {
		.timeout_ms = c->timeout_ms,
		.connect_timeout_ms = c->connect_timeout_ms,
		.cap = CR_CSC_ANSWER_MAX,
		.bearer = token,
		.ca_file = c->ca_file,
		.what = path,
	};
	struct cr_http_resp r;
	struct cr_buf url;
	json_error_t jerr;
	char *text = NULL;
	enum cr_err err;

	*answer = NULL;
	cr_buf_init(&url, 2048);
	if (body == NULL || (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	if ((err = cr_buf_printf(&url, "%s/csc/v2/%s", c->base_url, path)) != CR_OK)
		goto out;
	err = cr_http_request("POST", cr_buf_str(&url), &o, "application/json", text, strlen(text), &r);
	if (err == CR_ERR_TOOBIG) {
		say(reason, rlen, "%s: garbage: an answer larger than %u bytes", path, CR_CSC_ANSWER_MAX);
		err = CR_ERR_REMOTE;
		goto out;
	}
	if (err != CR_OK) {
		if (err != CR_ERR_NOMEM) {
			say(reason, rlen, "%s: the signing service is unreachable or too slow", path);
			err = CR_ERR_REMOTE;
		}
		goto out;
	}
	if (r.status == 401 || r.status == 403) {
		say(reason, rlen, "%s: the access token was refused (HTTP %ld)", path, r.status);
		err = CR_ERR_DENIED;
	} else if (r.status != 200) {
		say(reason, rlen, "%s: HTTP %ld", path, r.status);
		err = CR_ERR_REMOTE;
	} else if (!is_json(r.content_type)) {
		say(reason, rlen, "%s: garbage: Content-Type is not JSON", path);
		err = CR_ERR_REMOTE;
	} else if ((*answer = json_loadb(r.body.data ? r.body.data : "", r.body.len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL || !json_is_object(*answer)) {
		json_decref(*answer);
		*answer = NULL;
		say(reason, rlen, "%s: garbage: the answer is not a JSON object", path);
		err = CR_ERR_REMOTE;
	}
	cr_buf_free(&r.body);
out:
	json_decref(body);
	free(text);
	cr_buf_free(&url);
	return err;
}

/* Only A-Z a-z 0-9 + / with at most two trailing '=' (cr_b64_chars_ok says why it is checked). */
static bool
b64_alphabet(const char *s, size_t n)
{
	size_t pad = 0;

	while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
		pad++;
	return cr_b64_chars_ok(s, n - pad, false);
}

/* Decodes the standard base64 string v (padded or not) into a fresh buffer; false for anything else
   (not a string, empty, other characters, embedded NUL). */
static bool
b64_member(json_t *v, unsigned char **out, size_t *outlen)
{
	const char *s = json_string_value(v), *end = NULL;
	size_t n = s ? json_string_length(v) : 0, cap, len = 0;
	unsigned char *buf;

	*out = NULL;
	*outlen = 0;
	if (s == NULL || n == 0 || strlen(s) != n || !b64_alphabet(s, n))
		return false;
	cap = n / 4 * 3 + 3;
	if ((buf = malloc(cap)) == NULL)
		return false;
	if ((sodium_base642bin(buf, cap, s, n, NULL, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	        end != s + n) &&
	    (sodium_base642bin(buf, cap, s, n, NULL, &len, &end, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
	        end != s + n)) {
		free(buf);
		return false;
	}
	if (len == 0) {
		free(buf);
		return false;
	}
	*out = buf;
	*outlen = len;
	return true;
}

/* A credential ID: a string of 1..sizeof(out)-1 printable ASCII characters. */
static bool
credential_id(json_t *v, char *out, size_t outlen)
{
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0;

	if (s == NULL || n == 0 || n >= outlen || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	memcpy(out, s, n + 1);
	return true;
}

static enum cr_err
read_list(json_t *ans, struct cr_csc_signature *out, char *reason, size_t rlen)
{
	json_t *ids = json_object_get(ans, "credentialIDs");
	enum cr_err err = CR_OK;

	if (!json_is_array(ids)) {
		say(reason, rlen, "credentials/list: garbage: no credentialIDs array");
		err = CR_ERR_REMOTE;
	} else if (json_array_size(ids) == 0) {
		say(reason, rlen, "credentials/list: the holder has no signing credential");
		err = CR_ERR_DENIED;
	} else if (!credential_id(json_array_get(ids, 0), out->credential_id, sizeof(out->credential_id))) {
		say(reason, rlen, "credentials/list: garbage: the first credential ID is not a short string");
		err = CR_ERR_REMOTE;
	}
	return err;
}

static enum cr_err
list(const struct cr_csc *c, const char *token, struct cr_csc_signature *out, char *reason, size_t rlen)
{
	json_t *ans = NULL;
	enum cr_err err;

	if ((err = call(c, token, "credentials/list", json_pack("{s:i}", "maxResults", 10), &ans, reason, rlen)) !=
	    CR_OK)
		return err;
	err = read_list(ans, out, reason, rlen);
	json_decref(ans);
	return err;
}

static enum cr_err
read_info(json_t *ans, struct cr_csc_signature *out, char *reason, size_t rlen)
{
	json_t *cert, *certs;
	const char *status;
	enum cr_err err = CR_ERR_REMOTE;

	cert = json_object_get(ans, "cert");
	certs = json_object_get(cert, "certificates");
	if (!json_is_object(cert) || (status = json_string_value(json_object_get(cert, "status"))) == NULL ||
	    !json_is_array(certs)) {
		say(reason, rlen, "credentials/info: garbage: no cert.status or cert.certificates");
		goto out;
	}
	if (strcmp(status, "valid") != 0) {
		say(reason, rlen, "credentials/info: the credential's certificate is not valid");
		err = CR_ERR_DENIED;
		goto out;
	}
	if (json_array_size(certs) == 0 || json_array_size(certs) > CR_CSC_MAX_CHAIN) {
		say(reason, rlen, "credentials/info: garbage: %zu certificates (1 to %d expected)", json_array_size(certs),
		    CR_CSC_MAX_CHAIN);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(certs); i++) {
		if (!b64_member(json_array_get(certs, i), &out->chain[i], &out->chain_len[i])) {
			say(reason, rlen, "credentials/info: garbage: certificate %zu is not base64", i);
			goto out;
		}
		out->n_chain = i + 1;
	}
	err = CR_OK;
out:
	return err;
}

static enum cr_err
info(const struct cr_csc *c, const char *token, struct cr_csc_signature *out, char *reason, size_t rlen)
{
	json_t *ans = NULL;
	enum cr_err err;

	if ((err = call(c, token, "credentials/info",
	         json_pack("{s:s, s:s}", "credentialID", out->credential_id, "certificates", "chain"), &ans, reason,
	         rlen)) != CR_OK)
		return err;
	err = read_info(ans, out, reason, rlen);
	json_decref(ans);
	return err;
}

static enum cr_err
read_sign(json_t *ans, struct cr_csc_signature *out, char *reason, size_t rlen)
{
	json_t *sigs = json_object_get(ans, "signatures");

	if (!json_is_array(sigs) || json_array_size(sigs) != 1) {
		say(reason, rlen, "signatures/signHash: garbage: not exactly one signature");
		return CR_ERR_REMOTE;
	}
	if (!b64_member(json_array_get(sigs, 0), &out->cms, &out->cms_len)) {
		say(reason, rlen, "signatures/signHash: garbage: the signature is not base64");
		return CR_ERR_REMOTE;
	}
	return CR_OK;
}

static enum cr_err
sign(const struct cr_csc *c, const char *token, const unsigned char digest[DIGEST_LEN], struct cr_csc_signature *out,
    char *reason, size_t rlen)
{
	char hash[sodium_base64_ENCODED_LEN(DIGEST_LEN, sodium_base64_VARIANT_ORIGINAL)];
	json_t *ans = NULL;
	enum cr_err err;

	sodium_bin2base64(hash, sizeof(hash), digest, DIGEST_LEN, sodium_base64_VARIANT_ORIGINAL);
	if ((err = call(c, token, "signatures/signHash",
	         json_pack("{s:s, s:[s], s:s, s:s}", "credentialID", out->credential_id, "hashes", hash,
	             "hashAlgorithmOID", OID_SHA256, "signAlgo", OID_ECDSA_SHA256),
	         &ans, reason, rlen)) != CR_OK)
		return err;
	err = read_sign(ans, out, reason, rlen);
	json_decref(ans);
	return err;
}

enum cr_err
cr_csc_answer_read(enum cr_csc_call which, const void *body, size_t len, struct cr_csc_signature *out, char *why,
    size_t whylen)
{
	json_error_t jerr;
	json_t *ans;
	enum cr_err err;

	if (len > CR_CSC_ANSWER_MAX)
		return CR_ERR_REMOTE;
	if ((ans = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL || !json_is_object(ans)) {
		json_decref(ans);
		say(why, whylen, "garbage: the answer is not a JSON object");
		return CR_ERR_REMOTE;
	}
	switch (which) {
	case CR_CSC_LIST: err = read_list(ans, out, why, whylen); break;
	case CR_CSC_INFO: err = read_info(ans, out, why, whylen); break;
	case CR_CSC_SIGN: err = read_sign(ans, out, why, whylen); break;
	default: err = CR_ERR_INVALID; break;
	}
	json_decref(ans);
	return err;
}

enum cr_err
cr_csc_sign_hash(const struct cr_csc *c, const char *access_token, const unsigned char digest[32],
    struct cr_csc_signature *out, char *why, size_t whylen)
{
	char reason[200] = "";
	enum cr_err err;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || access_token == NULL || digest == NULL || out == NULL) {
		say(reason, sizeof(reason), "missing argument");
		err = CR_ERR_INVALID;
	} else if (!token_ok(access_token)) {
		say(reason, sizeof(reason), "the access token is empty or has control characters");
		err = CR_ERR_INVALID;
	} else if ((err = list(c, access_token, out, reason, sizeof(reason))) == CR_OK &&
	    (err = info(c, access_token, out, reason, sizeof(reason))) == CR_OK)
		err = sign(c, access_token, digest, out, reason, sizeof(reason));
	if (err != CR_OK) {
		if (err == CR_ERR_NOMEM)
			say(reason, sizeof(reason), "out of memory");
		cr_warn("csc", "%s (%s)", reason, cr_err_str(err));
		cr_csc_signature_free(out);
	}
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", reason);
	return err;
}
