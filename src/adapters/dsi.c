/* DSI client; see dsi.h and docs/internals/dsi.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "dsi.h"
#include "httpc.h"
#include "util/file.h"
#include "util/log.h"
#include "util/text.h"

#define FACE_BODY_MAX (16u * 1024u * 1024u)

struct cr_dsi {
	char base_url[1024];
	char client_cert[1024], client_key[1024], ca_file[1024];
	char api_key[512];
	long connect_timeout_ms, timeout_ms;
};

static void
copy_opt(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

enum cr_err
cr_dsi_new(const struct cr_dsi_config *cfg, struct cr_dsi **out)
{
	struct cr_dsi *d;
	bool have_key = cfg->api_key_file != NULL && cfg->api_key_file[0] != '\0';
	bool have_cert = cfg->client_cert != NULL && cfg->client_cert[0] != '\0';

	*out = NULL;
	if (!have_key && !have_cert) {
		cr_error("dsi", "DSI needs dsi.api_key_file or dsi.client_cert and dsi.client_key");
		return CR_ERR_CONFIG;
	}
	if (have_cert && (cfg->client_key == NULL || cfg->client_key[0] == '\0')) {
		cr_error("dsi", "dsi.client_cert is set without dsi.client_key");
		return CR_ERR_CONFIG;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return CR_ERR_NOMEM;
	copy_opt(d->base_url, sizeof(d->base_url), cfg->base_url);
	copy_opt(d->client_cert, sizeof(d->client_cert), cfg->client_cert);
	copy_opt(d->client_key, sizeof(d->client_key), cfg->client_key);
	copy_opt(d->ca_file, sizeof(d->ca_file), cfg->ca_file);
	d->connect_timeout_ms = cfg->connect_timeout_ms;
	d->timeout_ms = cfg->timeout_ms;
	if (have_key && cr_file_read_secret(cfg->api_key_file, d->api_key, sizeof(d->api_key)) != CR_OK) {
		cr_error("dsi", "dsi.api_key_file refused (see above)");
		cr_dsi_free(d);
		return CR_ERR_CONFIG;
	}
	*out = d;
	return CR_OK;
}

void
cr_dsi_free(struct cr_dsi *d)
{
	if (d == NULL)
		return;
	sodium_memzero(d, sizeof(*d));
	free(d);
}

static struct cr_http_opts
opts(const struct cr_dsi *d, size_t cap, const char *what)
{
	return (struct cr_http_opts){
		.timeout_ms = d->timeout_ms,
		.connect_timeout_ms = d->connect_timeout_ms,
		.cap = cap,
		.bearer = d->api_key,
		.client_cert = d->client_cert,
		.client_key = d->client_key,
		.ca_file = d->ca_file,
		.what = what,
	};
}

/* ---- parsing ---- */

/* A required string member: present, a string, 1..max-1 bytes (or empty when allowed), no controls. */
static bool
get_text(json_t *o, const char *key, bool may_be_empty, char *out, size_t max)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0;

	if (s == NULL || n >= max || strlen(s) != n || (n == 0 && !may_be_empty))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	memcpy(out, s, n + 1);
	return true;
}

static bool
is_txid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < CR_DSI_TXID && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). Kept as evidence of when DSI answered,
   so it must be a time and not any text. */
static bool
is_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t i = 0;
	char date[11];

	if (strlen(s) < 20)
		return false;
	for (; i < 19; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : (s[i] != shape[i] && !(i == 10 && s[i] == 't')))
			return false;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (!cr_date_valid(date) || (s[11] - '0') * 10 + (s[12] - '0') > 23 || (s[14] - '0') * 10 + (s[15] - '0') > 59 ||
	    (s[17] - '0') * 10 + (s[18] - '0') > 60)
		return false;
	if (s[i] == '.') {
		size_t n = strspn(s + i + 1, "0123456789");

		if (n == 0)
			return false;
		i += 1 + n;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0')
		return true;
	return (s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 && strspn(s + i + 1, "0123456789") == 2 &&
	    s[i + 3] == ':' && strspn(s + i + 4, "0123456789") == 2;
}

static bool
is_status(const char *s)
{
	static const char *const known[] = {"valid", "expired", "revoked", "lost", "cancelled"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(s, known[i]) == 0)
			return true;
	return false;
}

static json_t *
load_object(const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *root;

	if (len == 0 || len > CR_DSI_ANSWER_MAX)
		return NULL;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root != NULL && !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

enum cr_err
cr_dsi_parse_resident(const char *buf, size_t len, struct cr_dsi_resident *out)
{
	json_t *root = load_object(buf, len), *r;
	struct cr_id_card *c = &out->card;
	bool ok;

	memset(out, 0, sizeof(*out));
	if (root == NULL)
		return CR_ERR_INVALID;
	r = json_object_get(root, "resident");
	ok = get_text(root, "transaction_id", false, out->transaction_id, sizeof(out->transaction_id)) &&
	    is_txid(out->transaction_id) && get_text(root, "queried_at", false, out->queried_at, sizeof(out->queried_at)) &&
	    is_timestamp(out->queried_at) &&
	    json_is_object(r) && get_text(r, "id_number", false, c->id_number, sizeof(c->id_number)) &&
	    get_text(r, "surname", false, c->surname, sizeof(c->surname)) &&
	    get_text(r, "given_names", true, c->given_names, sizeof(c->given_names)) &&
	    get_text(r, "name_zh", true, c->name_zh, sizeof(c->name_zh)) &&
	    get_text(r, "card_number", false, c->card_number, sizeof(c->card_number)) &&
	    get_text(r, "card_issued_on", false, c->issued_on, sizeof(c->issued_on)) && cr_date_valid(c->issued_on) &&
	    get_text(r, "card_expires_on", false, c->expires_on, sizeof(c->expires_on)) && cr_date_valid(c->expires_on) &&
	    get_text(r, "card_status", false, c->status, sizeof(c->status)) && is_status(c->status);
	json_decref(root);
	if (!ok) {
		memset(out, 0, sizeof(*out));
		return CR_ERR_INVALID;
	}
	return CR_OK;
}

enum cr_err
cr_dsi_parse_face(const char *buf, size_t len, struct cr_dsi_face *out)
{
	json_t *root = load_object(buf, len), *score;
	bool ok;

	memset(out, 0, sizeof(*out));
	if (root == NULL)
		return CR_ERR_INVALID;
	score = json_object_get(root, "score");
	ok = get_text(root, "transaction_id", false, out->transaction_id, sizeof(out->transaction_id)) &&
	    is_txid(out->transaction_id) && json_is_number(score) &&
	    get_text(root, "algorithm", false, out->algorithm, sizeof(out->algorithm)) &&
	    get_text(root, "algorithm_version", false, out->algorithm_version, sizeof(out->algorithm_version));
	if (ok) {
		out->score = json_number_value(score);
		ok = isfinite(out->score) && out->score >= 0.0 && out->score <= 1.0;
	}
	json_decref(root);
	if (!ok) {
		memset(out, 0, sizeof(*out));
		return CR_ERR_INVALID;
	}
	return CR_OK;
}

/* ---- requests ---- */

/* The status and body of an answer as one verdict; the body is copied to raw when it parses. */
static bool
is_json(const char *content_type)
{
	size_t n = strlen("application/json");

	return strncasecmp(content_type, "application/json", n) == 0 &&
	    (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

static enum cr_err
judge(const char *what, struct cr_http_resp *r, struct cr_buf *raw)
{
	if (r->status == 404)
		return CR_ERR_NOTFOUND;
	if (r->status == 400)
		return CR_ERR_INVALID;
	if (r->status != 200) {
		cr_warn("dsi", "%s: DSI answered HTTP %ld", what, r->status);
		return CR_ERR_REMOTE;
	}
	/* A 200 from something that is not DSI's API (a proxy's page, a captive portal) is a failure. */
	if (!is_json(r->content_type)) {
		cr_warn("dsi", "%s: DSI answered 200 with Content-Type \"%.60s\", not JSON", what, r->content_type);
		return CR_ERR_REMOTE;
	}
	if (raw != NULL && cr_buf_add(raw, r->body.data, r->body.len) != CR_OK)
		return CR_ERR_NOMEM;
	return CR_OK;
}

enum cr_err
cr_dsi_resident_get(const struct cr_dsi *d, const char *id_number, struct cr_dsi_resident *out, struct cr_buf *raw)
{
	struct cr_http_opts o = opts(d, CR_DSI_ANSWER_MAX, "DSI resident lookup");
	struct cr_http_resp r;
	struct cr_buf url;
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	cr_buf_init(&url, 2048);
	if ((err = cr_buf_printf(&url, "%s/dsi/v1/residents/", d->base_url)) != CR_OK ||
	    (err = cr_url_encode(&url, id_number)) != CR_OK) {
		cr_buf_free(&url);
		return err;
	}
	err = cr_http_request("GET", cr_buf_str(&url), &o, NULL, NULL, 0, &r);
	cr_buf_free(&url);
	if (err != CR_OK)
		return err == CR_ERR_NOMEM ? err : CR_ERR_REMOTE;
	if ((err = judge("resident lookup", &r, NULL)) == CR_OK) {
		if (cr_dsi_parse_resident(r.body.data, r.body.len, out) != CR_OK) {
			cr_warn("dsi", "resident lookup: the answer is not DSI's resident JSON (%zu bytes)", r.body.len);
			err = CR_ERR_REMOTE;
		} else if (raw != NULL)
			err = cr_buf_add(raw, r.body.data, r.body.len);
	} else if (err == CR_ERR_INVALID)
		err = CR_ERR_REMOTE;
	cr_buf_free_secret(&r.body);
	return err;
}

/* {"id_number": "...", "image": "<base64>"} */
static enum cr_err
face_body(const char *id_number, const void *jpeg, size_t len, struct cr_buf *out)
{
	size_t b64len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	json_t *s = json_string(id_number);
	char *id = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL, *b64;
	enum cr_err err;

	json_decref(s); /* json_dumps does not consume it */
	if (id == NULL)
		return CR_ERR_INVALID;
	if ((b64 = malloc(b64len)) == NULL) {
		free(id);
		return CR_ERR_NOMEM;
	}
	sodium_bin2base64(b64, b64len, jpeg, len, sodium_base64_VARIANT_ORIGINAL);
	if ((err = cr_buf_printf(out, "{\"id_number\":%s,\"image\":\"", id)) == CR_OK &&
	    (err = cr_buf_add(out, b64, b64len - 1)) == CR_OK)
		err = cr_buf_adds(out, "\"}");
	free(b64);
	free(id);
	return err;
}

enum cr_err
cr_dsi_face_compare(const struct cr_dsi *d, const char *id_number, const void *jpeg, size_t len,
    struct cr_dsi_face *out, struct cr_buf *raw)
{
	struct cr_http_opts o = opts(d, CR_DSI_ANSWER_MAX, "DSI face comparison");
	struct cr_http_resp r;
	struct cr_buf url, body;
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	cr_buf_init(&url, 2048);
	cr_buf_init(&body, FACE_BODY_MAX);
	if ((err = cr_buf_printf(&url, "%s/dsi/v1/face/compare", d->base_url)) != CR_OK ||
	    (err = face_body(id_number, jpeg, len, &body)) != CR_OK)
		goto out;
	if ((err = cr_http_request("POST", cr_buf_str(&url), &o, "application/json", body.data, body.len, &r)) != CR_OK) {
		err = err == CR_ERR_NOMEM ? err : CR_ERR_REMOTE;
		goto out;
	}
	if ((err = judge("face comparison", &r, NULL)) == CR_OK) {
		if (cr_dsi_parse_face(r.body.data, r.body.len, out) != CR_OK) {
			cr_warn("dsi", "face comparison: the answer is not DSI's face JSON (%zu bytes)", r.body.len);
			err = CR_ERR_REMOTE;
		} else if (raw != NULL)
			err = cr_buf_add(raw, r.body.data, r.body.len);
	}
	cr_buf_free(&r.body);
out:
	cr_buf_free(&url);
	cr_buf_free_secret(&body);
	return err;
}
