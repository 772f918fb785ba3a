/*
 * The simulated Identification Services Bureau (身份證明局, DSI), as
 * docs/internals/dsi.md defines it: a resident's current ID-card data, and how
 * similar a photo is to the face DSI holds (dsi_face.c).
 *
 * What it trusts: the API key file, the people file (the registry: each person
 * with a dsi object) and the faces directory, all read once at start-up and
 * checked strictly, so that a typo fails there and not in a test. Everything
 * arriving over HTTP is untrusted: the bearer key is compared in constant
 * time, before the body is read; the body is capped (GS_DSI_BODY_MAX), parsed
 * by jansson, base64-decoded by libsodium and decoded by media/image.c within
 * its default limits.
 *
 * The registry is read-only once the server runs: no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sodium.h>

#include "oidc.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timefmt.h"

#define DSI_PREFIX       "/dsi/"
#define RESIDENTS_PREFIX "/dsi/v1/residents/"
#define COMPARE_PATH     "/dsi/v1/face/compare"
#define FIELD_MAX        256               /* the contract's string cap, in bytes */
#define PEOPLE_FILE_MAX  (1024 * 1024)
#define FACE_FILE_MAX    (10u * 1024u * 1024u)
#define DAYS_MAX         36500             /* card dates within a century of today */

static const char *const statuses[] = { "valid", "expired", "revoked", "lost", "cancelled" };
static const char *const dsi_members[] = {
	"surname", "given_names", "name_zh", "card_number", "card_issued_days_ago",
	"card_expires_in_days", "card_status", "face",
};

/* ---- the registry ---- */

static void
resident_free(struct gs_resident *r)
{
	free(r->id_number);
	free(r->surname);
	free(r->given_names);
	free(r->name_zh);
	free(r->card_number);
	free(r->card_status);
	gs_face_free(r->face);
}

void
gs_dsi_free(struct gs_dsi *d)
{
	for (size_t i = 0; i < d->n; i++)
		resident_free(&d->v[i]);
	free(d->v);
	if (d->api_key != NULL) {
		sodium_memzero(d->api_key, strlen(d->api_key));
		free(d->api_key);
	}
	memset(d, 0, sizeof(*d));
}

/* A string as the contract allows it: at most FIELD_MAX bytes of UTF-8, no control characters. */
static int
text_ok(const char *s, int may_be_empty)
{
	size_t n = strlen(s);

	return (may_be_empty || n > 0) && n <= FIELD_MAX && cr_utf8_valid(s, n) && !gs_has_ctl(s);
}

static enum cr_err
get_text(json_t *o, const char *key, size_t i, int may_be_empty, char **out)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || !text_ok(s, may_be_empty) ||
	    json_string_length(json_object_get(o, key)) != strlen(s)) {
		cr_error(GS_LOG, "people[%zu].dsi.%s: want a string of %s..%d bytes, UTF-8, no control characters",
		    i, key, may_be_empty ? "0" : "1", FIELD_MAX);
		return CR_ERR_CONFIG;
	}
	return (*out = strdup(s)) == NULL ? CR_ERR_NOMEM : CR_OK;
}

static enum cr_err
get_days(json_t *o, const char *key, size_t i, json_int_t lo, json_int_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > DAYS_MAX) {
		cr_error(GS_LOG, "people[%zu].dsi.%s: want an integer in %lld..%d", i, key, (long long)lo,
		    DAYS_MAX);
		return CR_ERR_CONFIG;
	}
	*out = json_integer_value(v);
	return CR_OK;
}

/* A plain file name under the faces directory: no path, no hidden file. */
static int
face_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255 || s[0] == '.')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static enum cr_err
load_face(const char *dir, const char *name, size_t i, struct gs_face **out)
{
	struct cr_buf path;
	char *data = NULL;
	size_t len = 0;
	enum cr_image_verdict v;
	enum cr_err err;

	if (!face_name_ok(name)) {
		cr_error(GS_LOG, "people[%zu].dsi.face: want a file name under the faces directory", i);
		return CR_ERR_CONFIG;
	}
	cr_buf_init(&path, 4096);
	if ((err = cr_buf_printf(&path, "%s/%s", dir, name)) != CR_OK)
		goto out;
	if ((err = cr_file_read(cr_buf_str(&path), FACE_FILE_MAX, 0, &data, &len)) != CR_OK) {
		cr_error(GS_LOG, "people[%zu].dsi.face: %s: cannot read: %s", i, cr_buf_str(&path),
		    cr_err_str(err));
		err = CR_ERR_CONFIG;
		goto out;
	}
	if ((v = gs_face_from_bytes(data, len, out)) != CR_IMG_OK) {
		cr_error(GS_LOG, "people[%zu].dsi.face: %s: not a usable image: %s", i, cr_buf_str(&path),
		    cr_image_verdict_name(v));
		err = v == CR_IMG_INTERNAL ? CR_ERR_NOMEM : CR_ERR_CONFIG;
	}
out:
	free(data);
	cr_buf_free(&path);
	return err;
}

static enum cr_err
load_resident(json_t *person, json_t *o, size_t i, const char *faces_dir, time_t now,
    struct gs_resident *r)
{
	const char *key, *status;
	json_t *v, *face = json_object_get(o, "face");
	json_int_t issued_ago, expires_in;
	int known;
	enum cr_err err;

	if (!json_is_object(o)) {
		cr_error(GS_LOG, "people[%zu].dsi: not an object", i);
		return CR_ERR_CONFIG;
	}
	json_object_foreach(o, key, v) {
		known = 0;
		for (size_t k = 0; k < sizeof(dsi_members) / sizeof(dsi_members[0]); k++)
			known |= strcmp(key, dsi_members[k]) == 0;
		if (!known) {
			cr_error(GS_LOG, "people[%zu].dsi.%.64s: unknown member", i, key);
			return CR_ERR_CONFIG;
		}
	}
	{
		const char *id = json_string_value(json_object_get(person, "id_number"));

		if (id == NULL || !text_ok(id, 0)) {
			cr_error(GS_LOG, "people[%zu].id_number: a DSI resident needs one (1..%d bytes)", i,
			    FIELD_MAX);
			return CR_ERR_CONFIG;
		}
		if ((r->id_number = strdup(id)) == NULL)
			return CR_ERR_NOMEM;
	}
	if ((err = get_text(o, "surname", i, 0, &r->surname)) != CR_OK ||
	    (err = get_text(o, "given_names", i, 0, &r->given_names)) != CR_OK ||
	    (err = get_text(o, "name_zh", i, 1, &r->name_zh)) != CR_OK ||
	    (err = get_text(o, "card_number", i, 0, &r->card_number)) != CR_OK ||
	    (err = get_text(o, "card_status", i, 0, &r->card_status)) != CR_OK ||
	    (err = get_days(o, "card_issued_days_ago", i, 0, &issued_ago)) != CR_OK ||
	    (err = get_days(o, "card_expires_in_days", i, -DAYS_MAX, &expires_in)) != CR_OK)
		return err;
	status = r->card_status;
	known = 0;
	for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++)
		known |= strcmp(status, statuses[k]) == 0;
	if (!known) {
		cr_error(GS_LOG, "people[%zu].dsi.card_status: want valid, expired, revoked, lost or cancelled", i);
		return CR_ERR_CONFIG;
	}
	if (-issued_ago >= expires_in) {
		cr_error(GS_LOG, "people[%zu].dsi: the card expires before it is issued", i);
		return CR_ERR_CONFIG;
	}
	if (strcmp(status, "valid") == 0 && expires_in < 0) {
		cr_error(GS_LOG, "people[%zu].dsi: a valid card cannot have expired (card_expires_in_days < 0)", i);
		return CR_ERR_CONFIG;
	}
	if (strcmp(status, "expired") == 0 && expires_in >= 0) {
		cr_error(GS_LOG, "people[%zu].dsi: an expired card needs card_expires_in_days < 0", i);
		return CR_ERR_CONFIG;
	}
	cr_macau_date(now - (time_t)issued_ago * 86400, r->card_issued_on);
	cr_macau_date(now + (time_t)expires_in * 86400, r->card_expires_on);
	if (face == NULL || json_is_null(face))
		return CR_OK;
	if (!json_is_string(face)) {
		cr_error(GS_LOG, "people[%zu].dsi.face: want a file name or null", i);
		return CR_ERR_CONFIG;
	}
	return load_face(faces_dir, json_string_value(face), i, &r->face);
}

static const struct gs_resident *
find_resident(const struct gs_dsi *d, const char *id)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].id_number, id) == 0)
			return &d->v[i];
	return NULL;
}

static enum cr_err
load_registry(const char *path, const char *faces_dir, struct gs_dsi *d)
{
	size_t i;
	json_t *root = NULL, *people, *p;
	time_t now = gs_now();
	enum cr_err err;

	if ((err = gs_load_json(path, PEOPLE_FILE_MAX, &root)) != CR_OK)
		goto out;
	people = json_object_get(root, "people");
	/* gs_people_load has checked that people is a bounded array of objects. */
	if ((d->v = calloc(json_array_size(people) + 1, sizeof(*d->v))) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(people, i, p) {
		json_t *o = json_object_get(p, "dsi");
		struct gs_resident *r = &d->v[d->n];

		if (o == NULL)
			continue;
		d->n++;  /* first, so that gs_dsi_free releases a half-filled entry */
		if ((err = load_resident(p, o, i, faces_dir, now, r)) != CR_OK)
			goto out;
		if (find_resident(&(struct gs_dsi){ NULL, d->n - 1, d->v }, r->id_number) != NULL) {
			cr_error(GS_LOG, "people[%zu].id_number: a second DSI resident with that number", i);
			err = CR_ERR_CONFIG;
			goto out;
		}
	}
out:
	json_decref(root);
	return err;
}

/* Reads the API key: one line of a text file. */
static enum cr_err
read_key(const char *path, struct gs_dsi *d)
{
	return gs_read_secret_line(path, "DSI API key", MAX_SECRET, &d->api_key);
}

enum cr_err
gs_dsi_load(const char *key_file, const char *people_file, const char *faces_dir, struct gs_dsi *d)
{
	enum cr_err err;
	size_t faces = 0;

	memset(d, 0, sizeof(*d));
	if ((err = read_key(key_file, d)) != CR_OK ||
	    (err = load_registry(people_file, faces_dir, d)) != CR_OK) {
		gs_dsi_free(d);
		return err;
	}
	for (size_t i = 0; i < d->n; i++)
		faces += d->v[i].face != NULL;
	cr_info(GS_LOG, "DSI on: %zu residents, %zu registered faces (from %s)", d->n, faces, faces_dir);
	return CR_OK;
}

/* ---- the endpoints ---- */

int
gs_dsi_path(const char *path)
{
	return path != NULL && strncmp(path, DSI_PREFIX, sizeof(DSI_PREFIX) - 1) == 0;
}

size_t
gs_body_cap(const struct gs *gs, const char *method, const char *path)
{
	if (gs->dsi.api_key != NULL && path != NULL && strcmp(method, "POST") == 0 &&
	    strcmp(path, COMPARE_PATH) == 0)
		return GS_DSI_BODY_MAX;
	return GS_BODY_MAX;
}

static enum MHD_Result
dsi_error(struct gs_req *r, unsigned status, const char *error)
{
	return gs_reply_json(r, status, json_pack("{s:s}", "error", error), NULL);
}

/* 1 if the request carries "Authorization: Bearer <the key>". */
static int
authorized(struct gs_req *r)
{
	const char *h = gs_header(r, MHD_HTTP_HEADER_AUTHORIZATION);

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	return gs_secret_equal(h, r->gs->dsi.api_key);
}

int
gs_dsi_early_reject(struct gs_req *r, enum MHD_Result *ret)
{
	if (!gs_dsi_path(r->path))
		return 0;
	/* A resident number is personal data: keep it out of the request log. */
	if (strncmp(r->path, RESIDENTS_PREFIX, sizeof(RESIDENTS_PREFIX) - 1) == 0)
		r->url = RESIDENTS_PREFIX "{id}";
	if (r->gs->dsi.api_key == NULL)
		*ret = dsi_error(r, MHD_HTTP_NOT_FOUND, "not_found");
	else if (!authorized(r))
		*ret = dsi_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized");
	else
		return 0;
	return 1;
}

/* "dsi-" and 128 random bits in hex (36 characters). */
static void
transaction_id(char out[40])
{
	unsigned char rnd[16];

	randombytes_buf(rnd, sizeof(rnd));
	memcpy(out, "dsi-", 4);
	sodium_bin2hex(out + 4, 40 - 4, rnd, sizeof(rnd));
}

static void
now_rfc3339(char out[32])
{
	time_t t = gs_now();
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static enum MHD_Result
resident(struct gs_req *r)
{
	char tx[40], at[32];
	const struct gs_resident *p;
	/* libmicrohttpd has percent-decoded the path already (1234567%288%29 is 1234567(8) here);
	 * decoding it again would make %2528 a '(' too. */
	const char *id = r->path + sizeof(RESIDENTS_PREFIX) - 1;

	const char *surname, *expires, *status, *card;

	if (strlen(id) > FIELD_MAX || (p = find_resident(&r->gs->dsi, id)) == NULL)
		return dsi_error(r, MHD_HTTP_NOT_FOUND, "not_found");
	/* Armed by the portal's tests: the card as DSI would answer after a change (R9.2), or DSI down. */
	if (gs_fault_take(&r->gs->faults, "dsi_down"))
		return dsi_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable");
	surname = gs_fault_take(&r->gs->faults, "dsi_name_changed") ? "CHANGED" : p->surname;
	status = gs_fault_take(&r->gs->faults, "dsi_card_lost") ? "lost" : p->card_status;
	if (gs_fault_take(&r->gs->faults, "dsi_card_renewed")) {
		expires = "2099-12-31";
		card = "RENEWED-CARD";
	} else {
		expires = p->card_expires_on;
		card = p->card_number;
	}
	transaction_id(tx);
	now_rfc3339(at);
	return gs_reply_json(r, MHD_HTTP_OK, json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
	    "transaction_id", tx,
	    "queried_at", at,
	    "resident",
	    "id_number", p->id_number,
	    "surname", surname,
	    "given_names", p->given_names,
	    "name_zh", p->name_zh,
	    "card_number", card,
	    "card_issued_on", p->card_issued_on,
	    "card_expires_on", expires,
	    "card_status", status), NULL);
}

static int
is_json(const char *ctype)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	return ctype != NULL && strncasecmp(ctype, want, n) == 0 &&
	    (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static enum MHD_Result
face_compare(struct gs_req *r)
{
	json_t *req = NULL;
	json_error_t jerr;
	const char *id, *b64;
	const struct gs_resident *p;
	unsigned char *img = NULL;
	size_t b64_len, img_len = 0;
	struct gs_face *probe = NULL;
	enum cr_image_verdict v;
	enum MHD_Result ret;
	char tx[40];
	double score;

	if (!is_json(gs_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)) ||
	    (req = json_loadb(cr_buf_str(&r->body), r->body.len, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(req) ||
	    (id = json_string_value(json_object_get(req, "id_number"))) == NULL ||
	    (b64 = json_string_value(json_object_get(req, "image"))) == NULL) {
		ret = dsi_error(r, MHD_HTTP_BAD_REQUEST, "bad_request");
		goto out;
	}
	if ((p = find_resident(&r->gs->dsi, id)) == NULL || p->face == NULL) {
		ret = dsi_error(r, MHD_HTTP_NOT_FOUND, "not_found");
		goto out;
	}
	b64_len = json_string_length(json_object_get(req, "image"));
	/* Standard base64; line breaks (MIME style) are tolerated. */
	if ((img = malloc(b64_len / 4 * 3 + 3)) == NULL) {
		ret = gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
		goto out;
	}
	if (sodium_base642bin(img, b64_len / 4 * 3 + 3, b64, b64_len, "\r\n", &img_len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0) {
		ret = dsi_error(r, MHD_HTTP_BAD_REQUEST, "bad_image");
		goto out;
	}
	/* The JSON is no longer needed: free it before the decode takes its memory. */
	json_decref(req);
	req = NULL;
	if ((v = gs_face_from_bytes(img, img_len, &probe)) != CR_IMG_OK) {
		if (v == CR_IMG_INTERNAL)
			ret = gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
		else
			ret = dsi_error(r, MHD_HTTP_BAD_REQUEST, "bad_image");
		goto out;
	}
	score = gs_face_score(p->face, probe);
	transaction_id(tx);
	/* Four decimals, as the contract's example. */
	ret = gs_reply_json(r, MHD_HTTP_OK, json_pack("{s:s, s:f, s:s, s:s}",
	    "transaction_id", tx,
	    "score", (double)(long)(score * 10000 + 0.5) / 10000,
	    "algorithm", "govsim-ncc",
	    "algorithm_version", "1.0"), NULL);
out:
	gs_face_free(probe);
	free(img);
	json_decref(req);
	return ret;
}

enum MHD_Result
gs_dsi_route(struct gs_req *r)
{
	enum MHD_Result ret;

	if (gs_dsi_early_reject(r, &ret))
		return ret;
	if (strncmp(r->path, RESIDENTS_PREFIX, sizeof(RESIDENTS_PREFIX) - 1) == 0 &&
	    r->path[sizeof(RESIDENTS_PREFIX) - 1] != '\0' &&
	    strchr(r->path + sizeof(RESIDENTS_PREFIX) - 1, '/') == NULL) {
		if (strcmp(r->method, "GET") != 0)
			return gs_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL,
			    (const char *const[]){ "Allow", "GET", NULL });
		return resident(r);
	}
	if (strcmp(r->path, COMPARE_PATH) == 0) {
		if (strcmp(r->method, "POST") != 0)
			return gs_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL,
			    (const char *const[]){ "Allow", "POST", NULL });
		return face_compare(r);
	}
	return dsi_error(r, MHD_HTTP_NOT_FOUND, "not_found");
}
