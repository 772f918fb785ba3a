/*
 * Flow tests of step 2 「驗證身份」 (src/flow/flow_identity.c) without HTTP pages:
 * the DSI check at 下一步, the photo upload sealed at rest, the face comparison
 * with its tries, another holder's refusals and the retention purge. Against a
 * real store (SQLite, or PostgreSQL with CR_TEST_DATABASE_URL), the real DSI
 * client talking HTTP to a DSI stand-in (support/httpstub.h) and real sealed
 * evidence files in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "adapters/httpc.h"
#include "config/config.h"
#include "flow/flow.h"
#include "support/dbfx.h"
#include "support/httpstub.h"
#include "util/crypto.h"
#include "util/file.h"
#include "util/tmpl.h"

#define API_KEY "test-dsi-key-5f2c"
#define ZH "\xe9\xbb\x83\xe5\xb0\x8f\xe8\x8f\xaf" /* 黃小華 */
/* NOW is 2025-06-15 in Macau. */
#define TODAY "2025-06-15"

struct world {
	struct fx *f;
	struct cr_config cfg;
	struct cr_tmpl_set *tmpl;
	struct cr_seal_key outbox_key, evidence_key;
	unsigned char codes_key[32];
	struct cr_mailer mailer;
	struct httpstub *stub;
	struct cr_dsi *dsi;
	char dir[64];          /* temporary: the API key file and evidence/ */
	char evidence_dir[96];
	struct cr_flow_env env;
	int64_t org;
	struct cr_person holder, other;
	int64_t cert_a, cert_b;
};

/* ---- DSI's answers ---- */

static void
resident_answer(struct world *w, const char *surname, const char *given, const char *name_zh, const char *expires,
    const char *status)
{
	char body[1024];

	snprintf(body, sizeof(body),
	    "{\"transaction_id\":\"dsi-r1\",\"queried_at\":\"2025-06-15T07:06:40Z\",\"resident\":{"
	    "\"id_number\":\"1234567(8)\",\"surname\":\"%s\",\"given_names\":\"%s\",\"name_zh\":\"%s\","
	    "\"card_number\":\"MO1234567A\",\"card_issued_on\":\"2021-03-04\",\"card_expires_on\":\"%s\","
	    "\"card_status\":\"%s\"}}",
	    surname, given, name_zh, expires, status);
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "application/json", body, -1, 0);
}

static void
matching_resident(struct world *w)
{
	resident_answer(w, "WONG", "xxxx xexx", ZH, "2031-03-04", "valid");
}

static void
face_answer(struct world *w, const char *score)
{
	char body[256];

	snprintf(body, sizeof(body),
	    "{\"transaction_id\":\"dsi-f1\",\"score\":%s,\"algorithm\":\"govsim-ncc\",\"algorithm_version\":\"1.0\"}", score);
	httpstub_set(w->stub, HTTPSTUB_FACE, 200, "application/json", body, -1, 0);
}

/* A DSI client of the stub at url with this whole-exchange timeout. */
static struct cr_dsi *
dsi_at(struct world *w, const char *url, long timeout_ms)
{
	char keyfile[128];
	struct cr_dsi_config dc = {.base_url = url, .api_key_file = keyfile, .connect_timeout_ms = 500,
	    .timeout_ms = timeout_ms};
	struct cr_dsi *d = NULL;

	snprintf(keyfile, sizeof(keyfile), "%s/dsi.key", w->dir);
	assert_int_equal(cr_dsi_new(&dc, &d), CR_OK);
	return d;
}

/* ---- the world ---- */

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct cr_person p;
	char err[256], keyfile[128];
	int64_t id;

	if (w == NULL || fx_setup((void **)&w->f) != 0)
		return -1;
	if (cr_config_load(&w->cfg, NULL, err, sizeof(err)) != CR_OK || cr_tmpl_set_new(&w->tmpl) != CR_OK ||
	    cr_tmpl_load_dir(w->tmpl, "templates", err, sizeof(err)) != CR_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	snprintf(w->dir, sizeof(w->dir), "/tmp/cr-idflow-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->evidence_dir, sizeof(w->evidence_dir), "%s/evidence", w->dir);
	assert_int_equal(mkdir(w->evidence_dir, 0700), 0);
	snprintf(keyfile, sizeof(keyfile), "%s/dsi.key", w->dir);
	assert_int_equal(cr_file_write_secret(keyfile, API_KEY "\n", strlen(API_KEY) + 1), CR_OK);
	if ((w->stub = httpstub_start()) == NULL)
		return -1;
	matching_resident(w);
	face_answer(w, "0.93");
	w->dsi = dsi_at(w, httpstub_url(w->stub), 500);

	cr_random(w->outbox_key.k, sizeof(w->outbox_key.k));
	cr_random(w->evidence_key.k, sizeof(w->evidence_key.k));
	cr_random(w->codes_key, sizeof(w->codes_key));
	w->mailer = (struct cr_mailer){&w->cfg, w->tmpl, &w->outbox_key};
	w->env = (struct cr_flow_env){.window_days = 30, .horizon_days = 60, .session_idle_minutes = 30,
	    .session_absolute_minutes = 480, .base_url = "https://portal.example.test", .codes = CR_CODE_POLICY_DEFAULT,
	    .codes_key = w->codes_key, .mailer = &w->mailer, .dsi = w->dsi, .evidence_key = &w->evidence_key,
	    .evidence_dir = w->evidence_dir, .photo = CR_IMAGE_LIMITS_DEFAULT, .face_threshold = 0.80,
	    .face_tries_per_app = 3, .face_tries_per_holder = 6, .face_tries_window_days = 30,
	    .evidence_retention_days = 2557};

	struct cr_db *db = w->f->db;
	w->org = fx_make_org(db, "CTT");
	memset(&p, 0, sizeof(p));
	snprintf(p.sub, sizeof(p.sub), "wong");
	snprintf(p.name, sizeof(p.name), "xxxx xexx WONG");
	snprintf(p.name_zh, sizeof(p.name_zh), "%s", ZH);
	snprintf(p.email, sizeof(p.email), "holder@example.test");
	snprintf(p.id_number, sizeof(p.id_number), "1234567(8)");
	p.org_id = w->org;
	assert_int_equal(cr_db_person_upsert(db, &p, &id), CR_OK);
	assert_int_equal(cr_db_person_by_id(db, id, &w->holder), CR_OK);
	assert_int_equal(cr_db_person_by_id(db, fx_make_person(db, "chan", w->org), &w->other), CR_OK);
	/* Two due certificates at one address: one code to verify. */
	w->cert_a = fx_make_cert(db, "A1", CR_CERT_QUALIFIED, NULL, NOW + 10 * DAY, w->holder.id, w->org);
	w->cert_b = fx_make_cert(db, "B2", CR_CERT_CLOUDSIGN, NULL, NOW + 10 * DAY, w->holder.id, w->org);
	assert_int_equal(cr_db_confirmation_set(db, w->cert_a, "confirmed", "coord", NOW - DAY), CR_OK);
	assert_int_equal(cr_db_confirmation_set(db, w->cert_b, "confirmed", "coord", NOW - DAY), CR_OK);
	id = fx_make_cert(db, "C3", CR_CERT_QUALIFIED, NULL, NOW + 10 * DAY, w->other.id, w->org);
	assert_int_equal(cr_db_confirmation_set(db, id, "confirmed", "coord", NOW - DAY), CR_OK);
	*state = w;
	return 0;
}

/* Removes the evidence directory's files, the key file and the directories. */
static void
remove_dir(struct world *w)
{
	DIR *d = opendir(w->evidence_dir);
	struct dirent *e;
	char p[512];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", w->evidence_dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(w->evidence_dir);
	snprintf(p, sizeof(p), "%s/dsi.key", w->dir);
	unlink(p);
	rmdir(w->dir);
}

static int
teardown(void **state)
{
	struct world *w = *state;
	void *f = w->f;

	httpstub_stop(w->stub);
	cr_dsi_free(w->dsi);
	cr_tmpl_set_free(w->tmpl);
	remove_dir(w);
	sodium_memzero(w, sizeof(*w));
	free(w);
	return fx_teardown(&f);
}

static struct cr_flow_ctx
ctx_of(struct world *w, const struct cr_person *who, time_t now)
{
	return (struct cr_flow_ctx){&w->env, w->f->db, now, who, "127.0.0.1"};
}

static void
expect(const struct cr_flow_result *r, enum cr_flow_outcome o, enum cr_flow_why why)
{
	if (r->outcome != o || r->why != why)
		fail_msg("expected outcome %d why %s, got outcome %d why %s (n %d)", o, cr_flow_why_name(why), r->outcome,
		    cr_flow_why_name(r->why), r->n);
}

static long
audits(struct world *w, const char *action)
{
	long n = -1;

	assert_int_equal(cr_db_audit_count(w->f->db, action, &n), CR_OK);
	return n;
}

static long long
count(struct world *w, const char *fmt, long long arg)
{
	char sql[512];

	snprintf(sql, sizeof(sql), fmt, arg);
	return fx_query_int(w->f, sql);
}

static void
query(struct world *w, char *out, size_t outlen, const char *fmt, long long arg)
{
	char sql[512];

	snprintf(sql, sizeof(sql), fmt, arg);
	fx_query(w->f, sql, out, outlen);
}

static void
exec_sql(struct world *w, const char *fmt, long long arg)
{
	char sql[512], msg[256];

	snprintf(sql, sizeof(sql), fmt, arg);
	if (fx_raw_exec(w->f, sql, msg, sizeof(msg)) != 0)
		fail_msg("%s: %s", sql, msg);
}

static size_t
evidence_files(struct world *w)
{
	DIR *d = opendir(w->evidence_dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool
evidence_file_exists(struct world *w, const char *file)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", w->evidence_dir, file);
	return file[0] != '\0' && access(p, F_OK) == 0;
}

/* The code in the newest mail of the outbox. */
static void
newest_code(struct world *w, char out[8])
{
	fx_newest_code(w->f->db, &w->outbox_key, out);
}

/* Starts an application at `now`, consents and verifies its address: at the email step, 下一步 next. */
static int64_t
at_emails(struct world *w, time_t now)
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, now);
	struct cr_cert_view certs[CR_FLOW_MAX_CERTS];
	char digest[CR_FLOW_SET_DIGEST_LEN], code[8];
	struct cr_flow_result r;
	size_t n = 0;
	int64_t id;

	assert_int_equal(cr_flow_verifiable(&c, certs, &n, digest), CR_OK);
	assert_int_equal(n, 2);
	cr_flow_start(&c, digest, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	id = r.app.id;
	cr_flow_consent(&c, id, true, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	cr_flow_code_send(&c, id, 0, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	newest_code(w, code);
	cr_flow_code_check(&c, id, 0, code, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	return id;
}

/* The same, then 下一步 with DSI answering a matching card: at step 2. */
static int64_t
at_identity(struct world *w, time_t now)
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, now);
	struct cr_flow_result r;
	int64_t id = at_emails(w, now);

	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_IDENTITY);
	return id;
}

static enum cr_app_state
state_of(struct world *w, int64_t app, char reason[32])
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_application a;

	assert_int_equal(cr_flow_app_get(&c, app, &a), CR_OK);
	if (reason != NULL)
		memcpy(reason, a.counter_reason, sizeof(a.counter_reason));
	return a.state;
}

/* ---- images ---- */

/* A synthetic 400x500 JPEG, a pattern shifted by seed. Caller frees. */
static unsigned char *
make_jpeg(unsigned seed, size_t *len)
{
	struct cr_image img = {400, 500, malloc(400 * 500 * 3)};
	unsigned char *out = NULL;

	assert_non_null(img.rgb);
	for (uint32_t y = 0; y < img.h; y++)
		for (uint32_t x = 0; x < img.w; x++) {
			unsigned char *p = img.rgb + (y * img.w + x) * 3;

			p[0] = (unsigned char)((x + seed * 37) & 0xff);
			p[1] = (unsigned char)((y * 2 + seed) & 0xff);
			p[2] = (unsigned char)(((x / 20 + y / 20) % 2) * 200 + seed);
		}
	assert_int_equal(cr_image_encode_jpeg(&img, 90, &out, len), CR_IMG_OK);
	free(img.rgb);
	return out;
}

static uint32_t
crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* A PNG whose header (with a correct CRC) claims w x h, and nothing after it: a decompression bomb's shape. */
static size_t
make_png_header(unsigned char out[64], uint32_t w, uint32_t h)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};

	memcpy(out, sig, 8);
	put32(out + 8, 13);
	memcpy(out + 12, "IHDR", 4);
	put32(out + 16, w);
	put32(out + 20, h);
	out[24] = 8; /* bit depth */
	out[25] = 2; /* RGB */
	out[26] = out[27] = out[28] = 0;
	put32(out + 29, crc32_of(out + 12, 17));
	memcpy(out + 33, iend, sizeof(iend));
	return 33 + sizeof(iend);
}

static void
upload(struct world *w, int64_t app, unsigned seed)
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	size_t len = 0;
	unsigned char *jpeg = make_jpeg(seed, &len);

	cr_flow_photo_upload(&c, app, jpeg, len, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	free(jpeg);
}

/* ---- the pass path ---- */

static void
test_pass_path(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	struct cr_flow_identity view;
	struct httpstub_seen seen;
	struct cr_seal_key wrong;
	struct cr_image img;
	struct cr_buf got;
	char v[256], file[128], path[256], *sealed = NULL, key_hdr[64];
	unsigned char md[32];
	size_t slen = 0;
	int64_t id = at_emails(w, NOW);

	/* 下一步: DSI is asked with the portal's key, about the holder's number. */
	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_IDENTITY);
	httpstub_seen(w->stub, &seen);
	assert_int_equal(seen.requests[HTTPSTUB_RESIDENT], 1);
	assert_string_equal(seen.method, "GET");
	assert_string_equal(seen.path, "/dsi/v1/residents/1234567(8)");
	snprintf(key_hdr, sizeof(key_hdr), "Bearer %s", API_KEY);
	assert_string_equal(seen.authorization, key_hdr);

	/* The evidence: the comparison, the answer sealed and its hash. */
	assert_int_equal(count(w, "SELECT count(*) FROM identity_checks WHERE application_id = %lld", id), 1);
	query(w, v, sizeof(v), "SELECT outcome FROM identity_checks WHERE application_id = %lld", id);
	assert_string_equal(v, "match");
	assert_int_equal(count(w, "SELECT name_ok + name_zh_ok + id_number_ok + card_valid FROM identity_checks"
	                          " WHERE application_id = %lld", id), 4);
	query(w, v, sizeof(v), "SELECT dsi_transaction_id FROM identity_checks WHERE application_id = %lld", id);
	assert_string_equal(v, "dsi-r1");
	query(w, v, sizeof(v), "SELECT card_expires_on FROM identity_checks WHERE application_id = %lld", id);
	assert_string_equal(v, "2031-03-04");
	{
		char body[1024], hex[65];

		/* The stub's answer, as resident_answer wrote it. */
		snprintf(body, sizeof(body),
		    "{\"transaction_id\":\"dsi-r1\",\"queried_at\":\"2025-06-15T07:06:40Z\",\"resident\":{"
		    "\"id_number\":\"1234567(8)\",\"surname\":\"WONG\",\"given_names\":\"xxxx xexx\",\"name_zh\":\"" ZH "\","
		    "\"card_number\":\"MO1234567A\",\"card_issued_on\":\"2021-03-04\",\"card_expires_on\":\"2031-03-04\","
		    "\"card_status\":\"valid\"}}");
		cr_sha256(body, strlen(body), md);
		sodium_bin2hex(hex, sizeof(hex), md, sizeof(md));
		query(w, v, sizeof(v), "SELECT answer_sha256 FROM identity_checks WHERE application_id = %lld", id);
		assert_string_equal(v, hex);
		assert_int_equal(count(w, "SELECT length(answer_sealed) FROM identity_checks WHERE application_id = %lld", id),
		    (long long)(strlen(body) + cr_seal_overhead()));
	}
	assert_int_equal(audits(w, "identity_matched"), 1);
	cr_flow_identity_view(&c, id, &view, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_true(view.checked);
	assert_false(view.has_photo);
	assert_int_equal(view.tries_left, 3);
	/* No photo yet: 確定使用照片 is refused without asking DSI. */
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_PHOTO_MISSING);

	/* 上傳近照: sealed at rest, not an image on disk, not openable with another key. */
	upload(w, id, 1);
	assert_int_equal(count(w, "SELECT count(*) FROM photos WHERE application_id = %lld", id), 1);
	assert_int_equal(audits(w, "photo_uploaded"), 1);
	query(w, file, sizeof(file), "SELECT file FROM photos WHERE application_id = %lld", id);
	assert_true(evidence_file_exists(w, file));
	assert_int_equal(evidence_files(w), 1);
	snprintf(path, sizeof(path), "%s/%s", w->evidence_dir, file);
	assert_int_equal(cr_file_read(path, 32u << 20, 0, &sealed, &slen), CR_OK);
	assert_true(slen > cr_seal_overhead());
	assert_int_not_equal(cr_image_sniff(sealed, slen), CR_IMG_FMT_JPEG);
	assert_int_not_equal(cr_image_decode(sealed, slen, &w->env.photo, &img, NULL), CR_IMG_OK);
	cr_random(wrong.k, sizeof(wrong.k));
	cr_buf_init(&got, 32u << 20);
	assert_int_equal(cr_unseal(&wrong, "certrenew photo v1", (unsigned char *)sealed, slen, 32u << 20, &got),
	    CR_ERR_DENIED);
	free(sealed);
	/* Its holder gets the JPEG back. */
	assert_int_equal(cr_flow_photo_get(&c, id, &got), CR_OK);
	assert_int_equal(cr_image_sniff(got.data, got.len), CR_IMG_FMT_JPEG);
	assert_int_equal(cr_image_decode(got.data, got.len, &w->env.photo, &img, NULL), CR_IMG_OK);
	assert_int_equal(img.w, 400);
	assert_int_equal(img.h, 500);
	cr_image_free(&img);
	cr_sha256(got.data, got.len, md);
	{
		char hex[65];

		sodium_bin2hex(hex, sizeof(hex), md, sizeof(md));
		query(w, v, sizeof(v), "SELECT sha256 FROM photos WHERE application_id = %lld", id);
		assert_string_equal(v, hex);
	}

	/* 確定使用照片: DSI scores 0.93 against 0.80. */
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_CONFIRM);
	assert_int_equal(state_of(w, id, NULL), CR_APP_CONFIRM);
	httpstub_seen(w->stub, &seen);
	assert_int_equal(seen.requests[HTTPSTUB_FACE], 1);
	assert_string_equal(seen.method, "POST");
	assert_string_equal(seen.content_type, "application/json");
	assert_string_equal(seen.authorization, key_hdr);
	/* {"id_number":"1234567(8)","image":"<base64 of the JPEG>"} */
	assert_int_equal(seen.body_len, strlen("{\"id_number\":\"1234567(8)\",\"image\":\"\"}") +
	                                    sodium_base64_encoded_len(got.len, sodium_base64_VARIANT_ORIGINAL) - 1);
	cr_buf_free_secret(&got);
	assert_int_equal(count(w, "SELECT count(*) FROM face_checks WHERE application_id = %lld AND passed = 1", id), 1);
	assert_int_equal(count(w, "SELECT score_ppm FROM face_checks WHERE application_id = %lld", id), 930000);
	assert_int_equal(count(w, "SELECT threshold_ppm FROM face_checks WHERE application_id = %lld", id), 800000);
	query(w, v, sizeof(v), "SELECT algorithm || ' ' || algorithm_version FROM face_checks WHERE application_id = %lld",
	    id);
	assert_string_equal(v, "govsim-ncc 1.0");
	query(w, v, sizeof(v), "SELECT dsi_transaction_id FROM face_checks WHERE application_id = %lld", id);
	assert_string_equal(v, "dsi-f1");
	assert_true(count(w, "SELECT length(answer_sealed) FROM face_checks WHERE application_id = %lld", id) >
	            (long long)cr_seal_overhead());
	assert_int_equal(audits(w, "face_passed"), 1);
	/* Step 2 is over: no more uploads or comparisons. */
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP);
	{
		size_t len = 0;
		unsigned char *jpeg = make_jpeg(2, &len);

		cr_flow_photo_upload(&c, id, jpeg, len, &r);
		expect(&r, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP);
		free(jpeg);
	}
	assert_int_equal(evidence_files(w), 1);
	{
		long rows = 0;
		int64_t bad = 0;

		assert_int_equal(cr_db_audit_verify(w->f->db, &rows, &bad), CR_OK);
	}
}

/* ---- the card does not match: the registry counter ---- */

static void
upload_refused_wrong_step(struct world *w, int64_t app)
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	size_t len = 0;
	unsigned char *jpeg = make_jpeg(3, &len);

	cr_flow_photo_upload(&c, app, jpeg, len, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP);
	cr_flow_face_check(&c, app, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP);
	free(jpeg);
	assert_int_equal(evidence_files(w), 0);
}

static void
to_counter_after_dsi(struct world *w, const char *reason, const char *outcome)
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	char v[64], why[32];
	int64_t id = at_emails(w, NOW);

	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_COUNTER);
	assert_string_equal(r.app.counter_reason, reason);
	assert_int_equal(state_of(w, id, why), CR_APP_COUNTER);
	assert_string_equal(why, reason);
	query(w, v, sizeof(v), "SELECT outcome FROM identity_checks WHERE application_id = %lld", id);
	assert_string_equal(v, outcome);
	assert_int_equal(audits(w, "identity_mismatch"), 1);
	assert_int_equal(audits(w, "identity_matched"), 0);
	/* Nothing online moves it on from the counter. */
	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP);
	upload_refused_wrong_step(w, id);
}

static void
test_name_mismatch(void **state)
{
	struct world *w = *state;

	resident_answer(w, "WONG", "xxxx", ZH, "2031-03-04", "valid");
	to_counter_after_dsi(w, CR_COUNTER_ID_MISMATCH, "mismatch");
	assert_int_equal(count(w, "SELECT name_ok FROM identity_checks WHERE holder_id = %lld", w->holder.id), 0);
	assert_int_equal(count(w, "SELECT name_zh_ok + id_number_ok + card_valid FROM identity_checks"
	                          " WHERE holder_id = %lld", w->holder.id), 3);
}

static void
test_card_expired(void **state)
{
	struct world *w = *state;

	resident_answer(w, "WONG", "xxxx xexx", ZH, "2025-06-14", "valid");
	to_counter_after_dsi(w, CR_COUNTER_CARD_INVALID, "mismatch");
	assert_int_equal(count(w, "SELECT card_valid FROM identity_checks WHERE holder_id = %lld", w->holder.id), 0);
	assert_int_equal(count(w, "SELECT name_ok FROM identity_checks WHERE holder_id = %lld", w->holder.id), 1);
}

static void
test_not_resident(void **state)
{
	struct world *w = *state;

	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 404, "application/json", "{\"error\":\"not_found\"}", -1, 0);
	to_counter_after_dsi(w, CR_COUNTER_NOT_RESIDENT, "not_found");
}

/* ---- DSI failing changes nothing ---- */

static void
expect_dsi_down(struct world *w, int64_t id, long nth)
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;

	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_UNAVAILABLE, CR_WHY_DSI_DOWN);
	assert_int_equal(state_of(w, id, NULL), CR_APP_EMAILS);
	assert_int_equal(count(w, "SELECT count(*) FROM identity_checks WHERE application_id = %lld", id), 0);
	assert_int_equal(audits(w, "dsi_unavailable"), nth);
}

static void
test_dsi_down(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	struct httpstub *gone = httpstub_start();
	struct cr_dsi *closed;
	int64_t id = at_emails(w, NOW);
	char url[64];
	time_t t0;

	/* Nobody listening: a port that was free a moment ago. */
	assert_non_null(gone);
	snprintf(url, sizeof(url), "%s", httpstub_url(gone));
	httpstub_stop(gone);
	closed = dsi_at(w, url, 500);
	w->env.dsi = closed;
	expect_dsi_down(w, id, 1);
	w->env.dsi = w->dsi;
	cr_dsi_free(closed);

	/* Answers that are not DSI's JSON. */
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "application/json", "{\"transaction_id\":\"dsi-r1\",", -1, 0);
	expect_dsi_down(w, id, 2);
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 500, "text/html",
	    "<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>", -1, 0);
	expect_dsi_down(w, id, 3);
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "text/html", "<html><body>Maintenance</body></html>", -1, 0);
	expect_dsi_down(w, id, 4);
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 401, "application/json", "{\"error\":\"unauthorized\"}", -1, 0);
	expect_dsi_down(w, id, 5);
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "application/json", "", -1, 0);
	expect_dsi_down(w, id, 6);
	/* Too slow: the 500 ms timeout ends the wait long before DSI's 2 s. */
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "application/json", "{}", -1, 2000);
	t0 = time(NULL);
	expect_dsi_down(w, id, 7);
	assert_true(time(NULL) - t0 <= 1);
	/* DSI's very JSON, but not said to be JSON (a proxy rewrote it, or it is not DSI's API). */
	{
		char body[1024];

		snprintf(body, sizeof(body),
		    "{\"transaction_id\":\"dsi-r1\",\"queried_at\":\"2025-06-15T07:06:40Z\",\"resident\":{"
		    "\"id_number\":\"1234567(8)\",\"surname\":\"WONG\",\"given_names\":\"xxxx xexx\",\"name_zh\":\"%s\","
		    "\"card_number\":\"MO1234567A\",\"card_issued_on\":\"2021-03-04\",\"card_expires_on\":\"2031-03-04\","
		    "\"card_status\":\"valid\"}}", ZH);
		httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "text/html", body, -1, 0);
		expect_dsi_down(w, id, 8);
	}

	/* A DSI without an evidence key to seal its answer with is no DSI (and no crash). */
	w->env.evidence_key = NULL;
	matching_resident(w);
	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_UNAVAILABLE, CR_WHY_DSI_DOWN);
	assert_int_equal(state_of(w, id, NULL), CR_APP_EMAILS);
	assert_int_equal(count(w, "SELECT count(*) FROM identity_checks WHERE application_id = %lld", id), 0);
	w->env.evidence_key = &w->evidence_key;

	/* DSI back: the same 下一步 now goes through. */
	matching_resident(w);
	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_IDENTITY);
	assert_int_equal(count(w, "SELECT count(*) FROM identity_checks WHERE application_id = %lld", id), 1);
}

/* ---- certificates changed since the application started ---- */

static void
test_cert_revoked(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	struct httpstub_seen seen;
	int64_t id = at_emails(w, NOW);

	exec_sql(w, "UPDATE certificates SET status = 'revoked' WHERE id = %lld", w->cert_b);
	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CERT_INVALID);
	assert_int_equal(state_of(w, id, NULL), CR_APP_EMAILS);
	assert_int_equal(count(w, "SELECT count(*) FROM identity_checks WHERE application_id = %lld", id), 0);
	httpstub_seen(w->stub, &seen);
	assert_int_equal(seen.requests[HTTPSTUB_RESIDENT], 0);
	/* Expired since (a later day) is the same refusal. */
	exec_sql(w, "UPDATE certificates SET status = 'issued' WHERE id = %lld", w->cert_b);
	c.now = NOW + 11 * DAY;
	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CERT_INVALID);
	assert_int_equal(state_of(w, id, NULL), CR_APP_EMAILS);
	assert_int_equal(audits(w, "identity_matched"), 0);
}

/* ---- photos ---- */

static void
refused_photo(struct world *w, int64_t app, const void *data, size_t len, enum cr_image_verdict v)
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;

	cr_flow_photo_upload(&c, app, data, len, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_PHOTO_BAD);
	if (r.n != (int)v)
		fail_msg("verdict %s, want %s", cr_image_verdict_name((enum cr_image_verdict)r.n), cr_image_verdict_name(v));
	assert_int_equal(count(w, "SELECT count(*) FROM photos WHERE application_id = %lld", app), 0);
	assert_int_equal(evidence_files(w), 0);
}

static void
test_photo_refusals(void **state)
{
	struct world *w = *state;
	static const char text[] = "This is not a photo, only a text file named photo.jpg\n";
	unsigned char png[64], *jpeg;
	size_t len = 0, plen = make_png_header(png, 100000, 100000);
	int64_t id = at_identity(w, NOW);

	refused_photo(w, id, text, sizeof(text) - 1, CR_IMG_NOT_IMAGE);
	refused_photo(w, id, text, 0, CR_IMG_EMPTY);
	refused_photo(w, id, png, plen, CR_IMG_TOO_MANY_PIXELS);
	jpeg = make_jpeg(1, &len);
	refused_photo(w, id, jpeg, len / 2, CR_IMG_CORRUPT);
	free(jpeg);
	assert_int_equal(audits(w, "photo_uploaded"), 0);
	assert_int_equal(state_of(w, id, NULL), CR_APP_IDENTITY);
}

static void
test_photo_replaced(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	char first[128], second[128], third[128], v[64];
	int64_t id = at_identity(w, NOW);

	upload(w, id, 1);
	query(w, first, sizeof(first), "SELECT file FROM photos WHERE application_id = %lld ORDER BY id", id);
	/* 重新上傳 before any comparison: the first photo is gone from disk, its row marked. */
	upload(w, id, 2);
	query(w, second, sizeof(second), "SELECT file FROM photos WHERE application_id = %lld ORDER BY id DESC", id);
	assert_string_not_equal(first, second);
	assert_false(evidence_file_exists(w, first));
	assert_true(evidence_file_exists(w, second));
	assert_int_equal(evidence_files(w), 1);
	query(w, v, sizeof(v), "SELECT file FROM photos WHERE application_id = %lld ORDER BY id", id);
	assert_string_equal(v, "");
	assert_int_equal(count(w, "SELECT count(*) FROM photos WHERE application_id = %lld AND purged_at IS NOT NULL"
	                          " AND replaced_at IS NOT NULL", id), 1);
	/* A photo a comparison used is evidence of that try: replaced, but kept. */
	face_answer(w, "0.3");
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_FACE_LOW);
	upload(w, id, 3);
	query(w, third, sizeof(third), "SELECT file FROM photos WHERE application_id = %lld ORDER BY id DESC", id);
	assert_true(evidence_file_exists(w, second));
	assert_true(evidence_file_exists(w, third));
	assert_int_equal(evidence_files(w), 2);
	/* The next comparison uses the newest photo. */
	face_answer(w, "0.95");
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(count(w, "SELECT count(*) FROM face_checks f JOIN photos p ON p.id = f.photo_id"
	                          " WHERE f.passed = 1 AND p.application_id = %lld AND p.replaced_at IS NULL", id), 1);
}

/* ---- face comparison tries ---- */

static void
test_face_tries(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	struct cr_flow_identity view;
	struct httpstub_seen seen;
	char why[32];
	int64_t id = at_identity(w, NOW), second;

	upload(w, id, 1);
	face_answer(w, "0.3");
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_FACE_LOW);
	assert_int_equal(r.n, 2);
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_FACE_LOW);
	assert_int_equal(r.n, 1);
	cr_flow_identity_view(&c, id, &view, &r);
	assert_int_equal(view.tries_left, 1);
	assert_int_equal(view.tries_used, 2);
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_COUNTER);
	assert_string_equal(r.app.counter_reason, CR_COUNTER_FACE_TRIES);
	assert_int_equal(state_of(w, id, why), CR_APP_COUNTER);
	assert_string_equal(why, CR_COUNTER_FACE_TRIES);
	assert_int_equal(count(w, "SELECT count(*) FROM face_checks WHERE application_id = %lld AND passed = 0", id), 3);
	assert_int_equal(count(w, "SELECT count(*) FROM face_checks WHERE application_id = %lld", id), 3);
	assert_int_equal(audits(w, "face_failed"), 3);
	assert_int_equal(audits(w, "identity_to_counter"), 1);
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP);

	/* A new application for the same holder does not reset the holder's tries (4 within 30 days). */
	exec_sql(w, "UPDATE applications SET state = 'cancelled' WHERE id = %lld", id);
	exec_sql(w, "UPDATE renewals SET state = 'pending_verification', application_id = NULL WHERE application_id = %lld",
	    id);
	w->env.face_tries_per_holder = 4;
	c.now = NOW + 120; /* past the code's resend wait */
	second = at_identity(w, c.now);
	assert_int_not_equal(second, id);
	cr_flow_identity_view(&c, second, &view, &r);
	assert_int_equal(view.tries_left, 1);
	assert_int_equal(view.tries_used, 0);
	upload(w, second, 2);
	cr_flow_face_check(&c, second, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_COUNTER);
	assert_string_equal(r.app.counter_reason, CR_COUNTER_FACE_TRIES);
	assert_int_equal(count(w, "SELECT count(*) FROM face_checks WHERE application_id = %lld", second), 1);
	httpstub_seen(w->stub, &seen);
	assert_int_equal(seen.requests[HTTPSTUB_FACE], 4);
}

static void
test_face_holder_tries_used_up(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	struct httpstub_seen seen;
	int64_t id = at_identity(w, NOW);

	/* Tries used up by earlier applications: the counter, without asking DSI. */
	w->env.face_tries_per_holder = 0;
	upload(w, id, 1);
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_COUNTER);
	assert_string_equal(r.app.counter_reason, CR_COUNTER_FACE_TRIES);
	httpstub_seen(w->stub, &seen);
	assert_int_equal(seen.requests[HTTPSTUB_FACE], 0);
}

static void
test_face_dsi_answers(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	struct cr_flow_identity view;
	char why[32];
	int64_t id = at_identity(w, NOW);

	upload(w, id, 1);
	/* DSI failing: no try counted. */
	httpstub_set(w->stub, HTTPSTUB_FACE, 502, "text/html", "<html>Bad Gateway</html>", -1, 0);
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_UNAVAILABLE, CR_WHY_DSI_DOWN);
	face_answer(w, "1.5");
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_UNAVAILABLE, CR_WHY_DSI_DOWN);
	face_answer(w, "0.9");
	httpstub_set(w->stub, HTTPSTUB_FACE, 200, "application/json",
	    "{\"transaction_id\":\"dsi-f1\",\"score\":0.9,\"algorithm\":\"a\",\"algorithm_version\":\"1\"}", -1, 2000);
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_UNAVAILABLE, CR_WHY_DSI_DOWN);
	assert_int_equal(audits(w, "dsi_unavailable"), 3);
	/* DSI cannot use the photo: refused, no try counted. */
	httpstub_set(w->stub, HTTPSTUB_FACE, 400, "application/json", "{\"error\":\"bad_image\"}", -1, 0);
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_FACE_UNUSABLE);
	cr_flow_identity_view(&c, id, &view, &r);
	assert_int_equal(view.tries_left, 3);
	assert_int_equal(count(w, "SELECT count(*) FROM face_checks WHERE application_id = %lld", id), 0);
	assert_int_equal(state_of(w, id, NULL), CR_APP_IDENTITY);
	/* DSI holds no face: the counter. */
	httpstub_set(w->stub, HTTPSTUB_FACE, 404, "application/json", "{\"error\":\"not_found\"}", -1, 0);
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(state_of(w, id, why), CR_APP_COUNTER);
	assert_string_equal(why, CR_COUNTER_NO_FACE);
}

/* ---- another holder ---- */

static void
test_other_holder(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx theirs = ctx_of(w, &w->other, NOW);
	struct cr_flow_result r;
	struct cr_flow_identity view;
	struct httpstub_seen seen;
	struct cr_buf got;
	size_t len = 0;
	unsigned char *jpeg = make_jpeg(5, &len);
	int64_t id = at_identity(w, NOW);

	upload(w, id, 1);
	cr_buf_init(&got, 32u << 20);
	assert_int_equal(cr_flow_photo_get(&theirs, id, &got), CR_ERR_NOTFOUND);
	assert_int_equal(got.len, 0);
	cr_flow_photo_upload(&theirs, id, jpeg, len, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	cr_flow_face_check(&theirs, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	cr_flow_identity_view(&theirs, id, &view, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	assert_false(view.checked);
	/* Nor with no actor at all. */
	theirs.actor = NULL;
	assert_int_equal(cr_flow_photo_get(&theirs, id, &got), CR_ERR_NOTFOUND);
	cr_flow_face_check(&theirs, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	free(jpeg);
	cr_buf_free(&got);
	assert_int_equal(count(w, "SELECT count(*) FROM photos WHERE application_id = %lld", id), 1);
	httpstub_seen(w->stub, &seen);
	assert_int_equal(seen.requests[HTTPSTUB_FACE], 0);
	assert_int_equal(state_of(w, id, NULL), CR_APP_IDENTITY);
}

/* ---- retention ---- */

static void
test_retention_purge(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW), job = {&w->env, w->f->db, NOW, NULL, NULL};
	struct cr_flow_result r;
	struct cr_buf got;
	char file[128], v[128];
	long purged = -1;
	int64_t id = at_identity(w, NOW);

	upload(w, id, 1);
	cr_flow_face_check(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	query(w, file, sizeof(file), "SELECT file FROM photos WHERE application_id = %lld", id);
	assert_true(evidence_file_exists(w, file));

	/* Within the retention period nothing goes. */
	job.now = NOW + 2557 * (time_t)DAY - 1;
	assert_int_equal(cr_flow_evidence_purge(&job, &purged), CR_OK);
	assert_int_equal(purged, 0);
	assert_true(evidence_file_exists(w, file));
	assert_int_equal(audits(w, "evidence_purged"), 0);

	job.now = NOW + 2557 * (time_t)DAY + 1;
	assert_int_equal(cr_flow_evidence_purge(&job, &purged), CR_OK);
	assert_int_equal(purged, 3); /* a photo, an identity check, a face check */
	assert_false(evidence_file_exists(w, file));
	assert_int_equal(evidence_files(w), 0);
	query(w, v, sizeof(v), "SELECT file FROM photos WHERE application_id = %lld", id);
	assert_string_equal(v, "");
	assert_int_equal(count(w, "SELECT purged_at FROM photos WHERE application_id = %lld", id),
	    (long long)job.now);
	query(w, v, sizeof(v), "SELECT answer_sealed FROM identity_checks WHERE application_id = %lld", id);
	assert_string_equal(v, "NULL");
	query(w, v, sizeof(v), "SELECT answer_sealed FROM face_checks WHERE application_id = %lld", id);
	assert_string_equal(v, "NULL");
	assert_int_equal(count(w, "SELECT length(answer_sha256) FROM identity_checks WHERE application_id = %lld", id), 64);
	assert_int_equal(count(w, "SELECT length(answer_sha256) FROM face_checks WHERE application_id = %lld", id), 64);
	assert_int_equal(count(w, "SELECT length(sha256) FROM photos WHERE application_id = %lld", id), 64);
	assert_int_equal(count(w, "SELECT passed FROM face_checks WHERE application_id = %lld", id), 1);
	assert_int_equal(audits(w, "evidence_purged"), 1);
	query(w, v, sizeof(v), "SELECT actor FROM audit_log WHERE action = 'evidence_purged' AND id > %lld", 0);
	assert_string_equal(v, "system");
	cr_buf_init(&got, 32u << 20);
	assert_int_equal(cr_flow_photo_get(&c, id, &got), CR_ERR_NOTFOUND);
	cr_buf_free(&got);

	/* A second run finds nothing more. */
	assert_int_equal(cr_flow_evidence_purge(&job, &purged), CR_OK);
	assert_int_equal(purged, 0);
	assert_int_equal(audits(w, "evidence_purged"), 1);
}

/* ---- the DSI client against the stand-in: a face comparison body of a 10 MB photo ---- */

static void
test_dsi_big_body(void **state)
{
	struct world *w = *state;
	struct cr_dsi *d = dsi_at(w, httpstub_url(w->stub), 10000);
	size_t len = 10u * 1024u * 1024u;
	unsigned char *big = malloc(len);
	struct cr_dsi_face f;
	struct httpstub_seen seen;
	struct cr_buf raw;

	assert_non_null(big);
	memset(big, 0x5a, len);
	cr_buf_init(&raw, CR_DSI_ANSWER_MAX);
	assert_int_equal(cr_dsi_face_compare(d, "1234567(8)", big, len, &f, &raw), CR_OK);
	assert_true(f.score > 0.929 && f.score < 0.931);
	httpstub_seen(w->stub, &seen);
	assert_int_equal(seen.body_len, strlen("{\"id_number\":\"1234567(8)\",\"image\":\"\"}") +
	                                    sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL) - 1);
	assert_true(raw.len > 0);
	cr_buf_free(&raw);
	free(big);
	cr_dsi_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pass_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_resident, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsi_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_revoked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_photo_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_photo_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_face_tries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_face_holder_tries_used_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_face_dsi_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsi_big_body, setup, teardown),
	};

	if (cr_crypto_init() != CR_OK || cr_httpc_global_init() != CR_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
