/*
 * Unit tests of the flow layer (src/flow/flow.h) without HTTP: every action of
 * step 1, the coordinator's decisions, sessions and the login callback's
 * refusals, against a real store (SQLite, or PostgreSQL with
 * CR_TEST_DATABASE_URL; tests/unit/support/dbfx.h), real templates and a real
 * sealed outbox. Codes are read back the way only a test may: by opening the
 * outbox envelope with its key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "adapters/httpc.h"
#include "config/config.h"
#include "flow/flow.h"
#include "support/dbfx.h"
#include "support/httpstub.h"
#include "util/file.h"
#include "util/crypto.h"
#include "util/tmpl.h"

struct world {
	struct fx *f;
	struct cr_config cfg;
	struct cr_tmpl_set *tmpl;
	struct cr_seal_key outbox_key, evidence_key;
	unsigned char codes_key[32];
	struct cr_mailer mailer;
	struct cr_flow_env env;
	struct httpstub *stub;  /* DSI, for 下一步 */
	struct cr_dsi *dsi;
	char dir[64];           /* its API key file */
	int64_t org, other_org;
	struct cr_person holder, other, coord;
	int64_t cert_a, cert_b; /* the holder's, two addresses */
};

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char err[256];

	if (w == NULL || fx_setup((void **)&w->f) != 0)
		return -1;
	if (cr_config_load(&w->cfg, NULL, err, sizeof(err)) != CR_OK || cr_tmpl_set_new(&w->tmpl) != CR_OK ||
	    cr_tmpl_load_dir(w->tmpl, "templates", err, sizeof(err)) != CR_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	cr_random(w->outbox_key.k, sizeof(w->outbox_key.k));
	cr_random(w->codes_key, sizeof(w->codes_key));
	cr_random(w->evidence_key.k, sizeof(w->evidence_key.k));
	w->mailer = (struct cr_mailer){&w->cfg, w->tmpl, &w->outbox_key};
	/* 下一步 ends with DSI's check: a stand-in answering the holder's card (fx_make_person's "Name wong"). */
	{
		char keyfile[128];
		struct cr_dsi_config dc = {.api_key_file = keyfile, .connect_timeout_ms = 500, .timeout_ms = 2000};

		snprintf(w->dir, sizeof(w->dir), "/tmp/cr-flow-XXXXXX");
		if (mkdtemp(w->dir) == NULL || (w->stub = httpstub_start()) == NULL)
			return -1;
		snprintf(keyfile, sizeof(keyfile), "%s/dsi.key", w->dir);
		assert_int_equal(cr_file_write_secret(keyfile, "flow-test-key", 13), CR_OK);
		dc.base_url = httpstub_url(w->stub);
		assert_int_equal(cr_dsi_new(&dc, &w->dsi), CR_OK);
		httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "application/json",
		    "{\"transaction_id\":\"dsi-1\",\"queried_at\":\"2025-06-15T07:06:40Z\",\"resident\":{"
		    "\"id_number\":\"1234567(8)\",\"surname\":\"WONG\",\"given_names\":\"Name\",\"name_zh\":\"\","
		    "\"card_number\":\"MO1\",\"card_issued_on\":\"2021-03-04\",\"card_expires_on\":\"2031-03-04\","
		    "\"card_status\":\"valid\"}}",
		    -1, 0);
	}
	w->env = (struct cr_flow_env){.window_days = 30, .horizon_days = 60, .session_idle_minutes = 30,
	    .session_absolute_minutes = 480, .base_url = "https://portal.example.test", .codes = CR_CODE_POLICY_DEFAULT,
	    .codes_key = w->codes_key, .mailer = &w->mailer, .govid = NULL, .dsi = w->dsi,
	    .evidence_key = &w->evidence_key, .evidence_dir = w->dir, .photo = CR_IMAGE_LIMITS_DEFAULT,
	    .face_threshold = 0.80, .face_tries_per_app = 3, .face_tries_per_holder = 6, .face_tries_window_days = 30,
	    .evidence_retention_days = 2557};

	struct cr_db *db = w->f->db;
	int64_t id;
	char sql[160];

	w->org = fx_make_org(db, "CTT");
	w->other_org = fx_make_org(db, "DSF");
	assert_int_equal(cr_db_person_by_id(db, fx_make_person(db, "wong", w->org), &w->holder), CR_OK);
	assert_int_equal(cr_db_person_by_id(db, fx_make_person(db, "chan", w->other_org), &w->other), CR_OK);
	id = fx_make_person(db, "lei", w->org);
	assert_int_equal(cr_db_role_add(db, id, "coordinator", w->org), CR_OK);
	assert_int_equal(cr_db_person_by_id(db, id, &w->coord), CR_OK);
	w->cert_a = fx_make_cert(db, "A1", CR_CERT_QUALIFIED, NULL, NOW + 10 * DAY, w->holder.id, w->org);
	w->cert_b = fx_make_cert(db, "B2", CR_CERT_CLOUDSIGN, NULL, NOW + 10 * DAY, w->holder.id, w->org);
	snprintf(sql, sizeof(sql), "UPDATE certificates SET email = 'second@example.test' WHERE id = %lld",
	    (long long)w->cert_b);
	assert_int_equal(fx_raw_exec(w->f, sql, NULL, 0), 0);
	assert_int_equal(cr_db_confirmation_set(db, w->cert_a, "confirmed", "coord", NOW - DAY), CR_OK);
	assert_int_equal(cr_db_confirmation_set(db, w->cert_b, "confirmed", "coord", NOW - DAY), CR_OK);
	/* The other holder has a due certificate of their own. */
	id = fx_make_cert(db, "C3", CR_CERT_QUALIFIED, NULL, NOW + 10 * DAY, w->other.id, w->other_org);
	assert_int_equal(cr_db_confirmation_set(db, id, "confirmed", "coord", NOW - DAY), CR_OK);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;
	void *f = w->f;
	char keyfile[128];

	httpstub_stop(w->stub);
	cr_dsi_free(w->dsi);
	snprintf(keyfile, sizeof(keyfile), "%s/dsi.key", w->dir);
	unlink(keyfile);
	rmdir(w->dir);
	cr_tmpl_set_free(w->tmpl);
	free(w);
	return fx_teardown(&f);
}

static struct cr_flow_ctx
ctx_of(struct world *w, const struct cr_person *who, time_t now)
{
	return (struct cr_flow_ctx){&w->env, w->f->db, now, who, "127.0.0.1"};
}

static long
audits(struct world *w, const char *action)
{
	long n = -1;

	assert_int_equal(cr_db_audit_count(w->f->db, action, &n), CR_OK);
	return n;
}

static long
outbox_rows(struct world *w)
{
	long n = -1;

	assert_int_equal(cr_db_outbox_count(w->f->db, NULL, &n), CR_OK);
	return n;
}

/* The code in the newest mail of the outbox. */
static void
newest_code(struct world *w, char out[8])
{
	fx_newest_code(w->f->db, &w->outbox_key, out);
}

/* A code that is not `code`: its last digit changed. */
static void
wrong_of(const char *code, char out[8])
{
	snprintf(out, 8, "%s", code);
	out[5] = out[5] == '9' ? '0' : (char)(out[5] + 1);
}

/* Starts an application for the holder over the current set; returns its id. */
static int64_t
start(struct world *w)
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_cert_view certs[CR_FLOW_MAX_CERTS];
	char digest[CR_FLOW_SET_DIGEST_LEN];
	struct cr_flow_result r;
	size_t n = 0;

	assert_int_equal(cr_flow_verifiable(&c, certs, &n, digest), CR_OK);
	assert_int_equal(n, 2);
	cr_flow_start(&c, digest, &r);
	assert_int_equal(r.outcome, CR_FLOW_DONE);
	assert_true(r.app.id > 0);
	assert_int_equal(r.app.state, CR_APP_CONSENT);
	return r.app.id;
}

/* Starts and consents; returns the application at the email step. */
static int64_t
at_emails(struct world *w)
{
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	int64_t app = start(w);

	cr_flow_consent(&c, app, true, &r);
	assert_int_equal(r.outcome, CR_FLOW_DONE);
	return app;
}

static void
expect(const struct cr_flow_result *r, enum cr_flow_outcome o, enum cr_flow_why why)
{
	if (r->outcome != o || r->why != why)
		fail_msg("expected outcome %d why %s, got outcome %d why %s", o, cr_flow_why_name(why), r->outcome,
		    cr_flow_why_name(r->why));
}

/* ---- the pass path ---- */

static void
test_step1_pass(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_email e[CR_FLOW_MAX_EMAILS], one;
	struct cr_flow_result r;
	struct cr_application app;
	char code[8];
	size_t n = 0;
	int64_t id = start(w);
	long rows = 0;
	int64_t bad = 0;

	cr_flow_consent(&c, id, false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CONSENT_REQUIRED);
	cr_flow_consent(&c, id, true, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_EMAILS);
	/* The state machine allows consent once. */
	cr_flow_consent(&c, id, true, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP);
	assert_int_equal(r.app.state, CR_APP_EMAILS);

	cr_flow_emails(&c, id, e, &n, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].email, "holder@example.test");
	assert_string_equal(e[1].email, "second@example.test");
	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EMAILS_PENDING);

	for (int i = 0; i < 2; i++) {
		cr_flow_code_send(&c, id, i, &r);
		expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
		cr_flow_email(&c, id, i, &one, &r);
		expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
		assert_int_equal(one.remaining, 300);
		assert_int_equal(one.resend_wait, 60);
		newest_code(w, code);
		cr_flow_code_check(&c, id, i, code, &r);
		expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
		cr_flow_code_send(&c, id, i, &r);
		expect(&r, CR_FLOW_REFUSED, CR_WHY_ALREADY_VERIFIED);
	}
	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_IDENTITY);
	cr_flow_emails_done(&c, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP);
	assert_int_equal(cr_flow_app_get(&c, id, &app), CR_OK);
	assert_int_equal(app.state, CR_APP_IDENTITY);

	assert_int_equal(audits(w, "verification_started"), 1);
	assert_int_equal(audits(w, "consent"), 1);
	assert_int_equal(audits(w, "code_sent"), 2);
	assert_int_equal(audits(w, "email_verified"), 2);
	assert_int_equal(audits(w, "identity_matched"), 1);
	assert_int_equal(outbox_rows(w), 2);
	assert_int_equal(cr_db_audit_verify(w->f->db, &rows, &bad), CR_OK);
}

/* ---- 「開始鑑別」 ---- */

static void
test_start_set_changed(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_cert_view certs[CR_FLOW_MAX_CERTS];
	char digest[CR_FLOW_SET_DIGEST_LEN];
	struct cr_flow_result r;
	struct cr_application app;
	size_t n = 0;
	int64_t id;

	assert_int_equal(cr_flow_verifiable(&c, certs, &n, digest), CR_OK);
	cr_flow_start(&c, NULL, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_SET_CHANGED);
	cr_flow_start(&c, "forged", &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_SET_CHANGED);
	/* A certificate became due since the page was shown: the old digest no longer starts anything. */
	id = fx_make_cert(w->f->db, "D4", CR_CERT_ENCRYPTION, NULL, NOW + 5 * DAY, w->holder.id, w->org);
	assert_int_equal(cr_db_confirmation_set(w->f->db, id, "confirmed", "coord", NOW), CR_OK);
	cr_flow_start(&c, digest, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_SET_CHANGED);
	assert_int_equal(cr_flow_app_current(&c, &app), CR_ERR_NOTFOUND);
	assert_int_equal(audits(w, "verification_started"), 0);

	/* With the new set it starts; a second 「開始鑑別」 carries on with the same application. */
	assert_int_equal(cr_flow_verifiable(&c, certs, &n, digest), CR_OK);
	assert_int_equal(n, 3);
	cr_flow_start(&c, digest, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	id = r.app.id;
	cr_flow_start(&c, digest, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.id, id);
	assert_int_equal(audits(w, "verification_started"), 1);
	/* Nothing is left to start while the application is open. */
	assert_int_equal(cr_flow_verifiable(&c, certs, &n, digest), CR_OK);
	assert_int_equal(n, 0);
}

/* ---- another holder's application ---- */

static void
test_other_holders_application(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx mine = ctx_of(w, &w->holder, NOW), theirs = ctx_of(w, &w->other, NOW);
	struct cr_cert_view certs[CR_FLOW_MAX_CERTS];
	struct cr_flow_email e[CR_FLOW_MAX_EMAILS];
	struct cr_flow_result r;
	struct cr_application app;
	size_t n = 0;
	int64_t id = start(w);

	assert_int_equal(cr_flow_app_get(&theirs, id, &app), CR_ERR_NOTFOUND);
	assert_int_equal(cr_flow_app_certs(&theirs, id, certs, &n), CR_ERR_NOTFOUND);
	cr_flow_consent(&theirs, id, true, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	assert_int_equal(r.app.id, 0);
	assert_int_equal(cr_flow_app_get(&mine, id, &app), CR_OK);
	assert_int_equal(app.state, CR_APP_CONSENT);

	cr_flow_consent(&mine, id, true, &r);
	cr_flow_emails(&theirs, id, e, &n, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	cr_flow_code_send(&theirs, id, 0, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	cr_flow_code_check(&theirs, id, 0, "123456", &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	cr_flow_emails_done(&theirs, id, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	/* Ids that exist for nobody. */
	cr_flow_consent(&mine, 0, true, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	cr_flow_code_send(&mine, id + 1000, 0, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	/* Address numbers outside the list. */
	cr_flow_code_send(&mine, id, 2, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	cr_flow_code_send(&mine, id, -1, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	assert_int_equal(outbox_rows(w), 0);
	assert_int_equal(audits(w, "code_sent"), 0);
}

/* ---- codes ---- */

static void
test_code_refusals(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	char first[8], code[8], wrong[8];
	int64_t id = at_emails(w);

	cr_flow_code_check(&c, id, 0, "123456", &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_NONE);
	cr_flow_code_send(&c, id, 0, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	newest_code(w, first);

	cr_flow_code_check(&c, id, 0, "12ab56", &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_MALFORMED);
	cr_flow_code_check(&c, id, 0, NULL, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_MALFORMED);
	wrong_of(first, wrong);
	cr_flow_code_check(&c, id, 0, wrong, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_WRONG);
	assert_int_equal(r.n, 4);
	assert_int_equal(audits(w, "code_wrong"), 1);

	/* Resend too early, then allowed after 60 s; only the newest code counts. */
	c.now = NOW + 30;
	cr_flow_code_send(&c, id, 0, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_TOO_SOON);
	assert_int_equal(r.n, 30);
	c.now = NOW + 61;
	cr_flow_code_send(&c, id, 0, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	newest_code(w, code);
	if (strcmp(code, first) != 0) {
		cr_flow_code_check(&c, id, 0, first, &r);
		expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_WRONG);
	}

	/* Expired five minutes after it was sent. */
	c.now = NOW + 61 + 301;
	cr_flow_code_check(&c, id, 0, code, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_EXPIRED);

	/* A fresh code, verified once; a second use is refused. */
	cr_flow_code_send(&c, id, 0, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	newest_code(w, code);
	cr_flow_code_check(&c, id, 0, code, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	cr_flow_code_check(&c, id, 0, code, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_USED);
	assert_int_equal(audits(w, "email_verified"), 1);
}

static void
test_code_too_many_tries(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	char code[8], wrong[8];
	int64_t id = at_emails(w);

	cr_flow_code_send(&c, id, 1, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	newest_code(w, code);
	wrong_of(code, wrong);
	for (int i = 0; i < 4; i++) {
		cr_flow_code_check(&c, id, 1, wrong, &r);
		expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_WRONG);
		assert_int_equal(r.n, 4 - i);
	}
	cr_flow_code_check(&c, id, 1, wrong, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_DEAD);
	/* Dead: even the right code is refused now, and the tries are not counted any further. */
	cr_flow_code_check(&c, id, 1, code, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_DEAD);
	assert_int_equal(audits(w, "code_wrong"), 5);
	assert_int_equal(audits(w, "email_verified"), 0);
}

static void
test_code_hourly_cap(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_flow_result r;
	int64_t id = at_emails(w);

	for (int i = 0; i < 5; i++) {
		c.now = NOW + i * 61;
		cr_flow_code_send(&c, id, 0, &r);
		expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	}
	c.now = NOW + 5 * 61;
	cr_flow_code_send(&c, id, 0, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_CODE_HOURLY);
	assert_int_equal(outbox_rows(w), 5);
	/* An hour after the first, one more is allowed. */
	c.now = NOW + 3601;
	cr_flow_code_send(&c, id, 0, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
}

/* ---- two requests at once ---- */

struct racer {
	struct world *w;
	struct cr_store *st;
	pthread_barrier_t *go;
	int64_t app;
	char digest[CR_FLOW_SET_DIGEST_LEN];
	bool start;
	struct cr_flow_result r;
};

static void *
race(void *arg)
{
	struct racer *x = arg;
	struct cr_db *db = cr_store_get(x->st);
	struct cr_flow_ctx c = {&x->w->env, db, NOW, &x->w->holder, "127.0.0.1"};

	pthread_barrier_wait(x->go);
	if (x->start)
		cr_flow_start(&c, x->digest, &x->r);
	else
		cr_flow_code_send(&c, x->app, 0, &x->r);
	cr_store_put(x->st, db);
	return NULL;
}

/* Runs the same action in two threads on two connections of a second pool of the same database. */
static void
run_race(struct world *w, bool start_action, int64_t app, const char *digest, struct cr_flow_result out[2])
{
	pthread_barrier_t go;
	struct racer x[2];
	pthread_t th[2];
	struct cr_store *st = NULL;

	assert_int_equal(cr_store_open(w->f->url, 2, &st), CR_OK);
	assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
	for (int i = 0; i < 2; i++) {
		x[i] = (struct racer){.w = w, .st = st, .go = &go, .app = app, .start = start_action};
		if (digest != NULL)
			snprintf(x[i].digest, sizeof(x[i].digest), "%s", digest);
		assert_int_equal(pthread_create(&th[i], NULL, race, &x[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		out[i] = x[i].r;
	}
	pthread_barrier_destroy(&go);
	cr_store_close(st);
}

static void
test_concurrent_code_send(void **state)
{
	struct world *w = *state;
	struct cr_flow_result r[2];
	int64_t id = at_emails(w);

	run_race(w, false, id, NULL, r);
	/* One winner; the other waited for its commit and saw its code. */
	assert_true((r[0].outcome == CR_FLOW_DONE) != (r[1].outcome == CR_FLOW_DONE));
	expect(r[0].outcome == CR_FLOW_DONE ? &r[1] : &r[0], CR_FLOW_REFUSED, CR_WHY_CODE_TOO_SOON);
	assert_int_equal(outbox_rows(w), 1);
	assert_int_equal(audits(w, "code_sent"), 1);
}

static void
test_concurrent_start(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder, NOW);
	struct cr_cert_view certs[CR_FLOW_MAX_CERTS];
	char digest[CR_FLOW_SET_DIGEST_LEN];
	struct cr_flow_result r[2];
	struct cr_application app;
	size_t n = 0;

	assert_int_equal(cr_flow_verifiable(&c, certs, &n, digest), CR_OK);
	run_race(w, true, 0, digest, r);
	/* One application; the loser follows it (it saw it, or lost the unique index to it). */
	for (int i = 0; i < 2; i++)
		assert_true(r[i].outcome == CR_FLOW_DONE || r[i].outcome == CR_FLOW_CONFLICT);
	assert_true(r[0].outcome == CR_FLOW_DONE || r[1].outcome == CR_FLOW_DONE);
	assert_int_equal(r[0].app.id, r[1].app.id);
	assert_int_equal(cr_flow_app_current(&c, &app), CR_OK);
	assert_int_equal(app.id, r[0].app.id);
	assert_int_equal(audits(w, "verification_started"), 1);
}

/* ---- the coordinator ---- */

static const char *
decision_of(struct world *w, int64_t cert)
{
	static struct cr_org_cert rows[CR_FLOW_DEPT_MAX_ROWS];
	static char out[16];
	struct cr_flow_ctx c = ctx_of(w, &w->coord, NOW);
	size_t n = 0;

	assert_int_equal(cr_flow_dept_list(&c, rows, &n), CR_OK);
	for (size_t i = 0; i < n; i++)
		if (rows[i].cert_id == cert) {
			snprintf(out, sizeof(out), "%s", rows[i].decision);
			return out;
		}
	fail_msg("certificate %lld not listed", (long long)cert);
	return NULL;
}

static void
test_dept_decide(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx coord = ctx_of(w, &w->coord, NOW), holder = ctx_of(w, &w->holder, NOW);
	static struct cr_org_cert rows[CR_FLOW_DEPT_MAX_ROWS];
	struct cr_flow_result r;
	int64_t fresh, foreign, ids[2];
	size_t n = 0;

	fresh = fx_make_cert(w->f->db, "E5", CR_CERT_ENCRYPTION, NULL, NOW + 40 * DAY, w->holder.id, w->org);
	foreign = fx_make_cert(w->f->db, "F6", CR_CERT_ENCRYPTION, NULL, NOW + 40 * DAY, w->other.id, w->other_org);
	assert_string_equal(decision_of(w, fresh), "");

	/* All or nothing: one id of another organisation refuses the whole post. */
	ids[0] = fresh;
	ids[1] = foreign;
	cr_flow_dept_decide(&coord, "confirmed", ids, 2, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_THEIRS);
	assert_string_equal(decision_of(w, fresh), "");
	assert_int_equal(audits(w, "confirm"), 0);

	cr_flow_dept_decide(&coord, "approved", ids, 1, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_BAD_DECISION);
	cr_flow_dept_decide(&coord, NULL, ids, 1, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_BAD_DECISION);
	cr_flow_dept_decide(&coord, "confirmed", ids, 0, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NONE_SELECTED);
	cr_flow_dept_decide(&holder, "confirmed", ids, 1, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_COORDINATOR);
	assert_int_equal(cr_flow_dept_list(&holder, rows, &n), CR_ERR_DENIED);

	cr_flow_dept_decide(&coord, "confirmed", ids, 1, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.n, 1);
	assert_string_equal(decision_of(w, fresh), "confirmed");
	cr_flow_dept_decide(&coord, "declined", ids, 1, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_string_equal(decision_of(w, fresh), "declined");
	assert_int_equal(audits(w, "confirm"), 1);
	assert_int_equal(audits(w, "decline"), 1);
}

/* ---- sessions and the login callback ---- */

static void
cookie_of(unsigned char seed, char out[CR_B64URL_SIZE(32)], unsigned char hash[CR_HASH_LEN])
{
	unsigned char sid[32];

	memset(sid, seed, sizeof(sid));
	cr_b64url_encode(sid, sizeof(sid), out, CR_B64URL_SIZE(32));
	cr_sha256(sid, sizeof(sid), hash);
}

static void
test_session_resume_and_logout(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, NULL, NOW);
	char cookie[CR_B64URL_SIZE(32)];
	unsigned char hash[CR_HASH_LEN], got[CR_HASH_LEN];
	struct cr_person p;
	struct cr_flow_result r;

	cookie_of(7, cookie, hash);
	assert_int_equal(cr_db_session_create(w->f->db, hash, w->holder.id, NOW, "127.0.0.1"), CR_OK);
	assert_int_equal(cr_flow_session_resume(&c, cookie, &p, got), CR_OK);
	assert_int_equal(p.id, w->holder.id);
	assert_memory_equal(got, hash, CR_HASH_LEN);
	assert_int_equal(cr_flow_session_resume(&c, "short", &p, got), CR_ERR_NOTFOUND);
	assert_int_equal(cr_flow_session_resume(&c, NULL, &p, got), CR_ERR_NOTFOUND);
	/* Idle past 30 minutes: gone, and gone for good. */
	c.now = NOW + 31 * 60;
	assert_int_equal(cr_flow_session_resume(&c, cookie, &p, got), CR_ERR_NOTFOUND);
	c.now = NOW;
	assert_int_equal(cr_flow_session_resume(&c, cookie, &p, got), CR_ERR_NOTFOUND);

	cookie_of(8, cookie, hash);
	assert_int_equal(cr_db_session_create(w->f->db, hash, w->holder.id, NOW, "127.0.0.1"), CR_OK);
	c.actor = &w->holder;
	cr_flow_logout(&c, hash, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(cr_flow_session_resume(&c, cookie, &p, got), CR_ERR_NOTFOUND);
	assert_int_equal(audits(w, "logout"), 1);
}

/* A login flow as cr_flow_login_begin leaves it, for state and browser secret `seed`. */
static void
login_flow(struct world *w, unsigned char seed, time_t at, char state_out[CR_B64URL_SIZE(32)],
    char browser_out[CR_B64URL_SIZE(32)])
{
	unsigned char raw[32], state_hash[CR_HASH_LEN];
	struct cr_login_flow flow = {0};

	memset(raw, seed, sizeof(raw));
	cr_b64url_encode(raw, sizeof(raw), browser_out, CR_B64URL_SIZE(32));
	cr_sha256(raw, sizeof(raw), flow.browser_hash);
	raw[0] ^= 0xff;
	cr_b64url_encode(raw, sizeof(raw), state_out, CR_B64URL_SIZE(32));
	cr_sha256(state_out, strlen(state_out), state_hash);
	snprintf(flow.nonce, sizeof(flow.nonce), "nonce-%d", seed);
	flow.created_at = at;
	assert_int_equal(cr_db_login_flow_create(w->f->db, state_hash, &flow), CR_OK);
}

static void
test_login_refusals(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, NULL, NOW);
	char st[CR_B64URL_SIZE(32)], browser[CR_B64URL_SIZE(32)], other[CR_B64URL_SIZE(32)], st2[CR_B64URL_SIZE(32)];
	struct cr_flow_session s;
	struct cr_flow_result r;

	cr_flow_login_finish(&c, NULL, "code", NULL, false, &s, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_LOGIN_STATE);
	cr_flow_login_finish(&c, "unknown-state", "code", NULL, false, &s, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_LOGIN_STATE);

	/* Another browser's secret: refused, and the flow is left to its own browser (a stranger holding
	   the callback URL cannot spoil the login); once taken, a replay finds nothing. */
	login_flow(w, 1, NOW, st, browser);
	login_flow(w, 2, NOW, st2, other);
	cr_flow_login_finish(&c, st, "code", other, false, &s, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_LOGIN_STATE);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM login_flows"), 2);
	cr_flow_login_finish(&c, st, NULL, browser, true, &s, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_LOGIN_PROVIDER);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM login_flows"), 1);
	cr_flow_login_finish(&c, st, "code", browser, false, &s, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_LOGIN_STATE);
	/* The provider's error, in the right browser. */
	cr_flow_login_finish(&c, st2, NULL, other, true, &s, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_LOGIN_PROVIDER);
	/* Older than ten minutes. */
	login_flow(w, 3, NOW - CR_LOGIN_FLOW_TTL - 1, st, browser);
	cr_flow_login_finish(&c, st, "code", browser, false, &s, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_LOGIN_STATE);
	assert_string_equal(s.cookie, "");
	assert_int_equal(audits(w, "login"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_step1_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_set_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_holders_application, setup, teardown),
		cmocka_unit_test_setup_teardown(test_code_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_code_too_many_tries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_code_hourly_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_code_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dept_decide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_resume_and_logout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_refusals, setup, teardown),
	};

	if (cr_crypto_init() != CR_OK || cr_httpc_global_init() != CR_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
