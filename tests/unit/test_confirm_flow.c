/*
 * Flow tests of step 3 「確認續期」 (src/flow/flow_confirm.c) without HTTP, on
 * SQLite and (through tests/lib/postgres.mjs) PostgreSQL: the summary, every
 * refusal of the declaration, of GovID's e-ID answer before and at the code
 * exchange, and of submission, each leaving the application, its documents,
 * e-ID requests and signatures as they were. A real document renderer, real
 * sealed evidence, and GovID and the signing service at a closed loopback port
 * (unreachable). The pass path through GovID and its signing service is
 * tests/integration/confirm.test.mjs, against govsim.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "adapters/csc.h"
#include "doc/pdf.h"
#include "flow/flow.h"
#include "support/dbfx.h"

#define CLOSED "http://127.0.0.1:9"
#define PURPOSE_DOCUMENT "certrenew application document v1"
#define PURPOSE_VERIFIER "certrenew eid verifier v1"

struct world {
	struct fx *f;
	struct cr_seal_key key;
	struct cr_doc *doc;
	struct cr_csc *csc;
	struct cr_govid *govid;
	struct cr_flow_env env;
	struct cr_person holder, other;
	int64_t org, app;
};

static void
move(struct cr_db *db, int64_t app, enum cr_app_state from, enum cr_app_state to)
{
	assert_int_equal(cr_db_app_move(db, app, from, to, NOW - 3600), CR_OK);
}

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct cr_person p = {0};
	struct cr_govid_config gc = {.issuer = CLOSED, .client_id = "certrenew", .client_secret = "s",
	    .redirect_uri = "https://portal.test/auth/callback",
	    .eid_redirect_uri = "https://portal.test/ecmp/certrenewal/eid/callback", .timeout_ms = 1000};
	struct cr_csc_config sc = {.base_url = CLOSED, .connect_timeout_ms = 500, .timeout_ms = 1000};
	struct cr_id_check k = {0};
	int64_t certs[2], id;
	bool added;

	if (w == NULL || fx_setup((void **)&w->f) != 0 || cr_doc_new(&w->doc) != CR_OK || cr_csc_new(&sc, &w->csc) != CR_OK ||
	    cr_govid_new(&gc, &w->govid) != CR_OK)
		return -1;
	cr_random(w->key.k, sizeof(w->key.k));
	w->env = (struct cr_flow_env){.window_days = 30, .horizon_days = 60, .evidence_key = &w->key,
	    .govid = w->govid, .doc = w->doc, .csc = w->csc, .signing_trust_file = "/nonexistent/govid-ca.pem",
	    .evidence_retention_days = 2557};
	struct cr_db *db = w->f->db;
	w->org = fx_make_org(db, "CTT");
	snprintf(p.sub, sizeof(p.sub), "wong");
	snprintf(p.name, sizeof(p.name), "xxxx xexx WONG");
	snprintf(p.name_zh, sizeof(p.name_zh), "黃小華");
	snprintf(p.email, sizeof(p.email), "holder@example.test");
	snprintf(p.id_number, sizeof(p.id_number), "1234567(8)");
	snprintf(p.position, sizeof(p.position), "Tecnico superior");
	p.org_id = w->org;
	assert_int_equal(cr_db_person_upsert(db, &p, &id), CR_OK);
	assert_int_equal(cr_db_person_by_id(db, id, &w->holder), CR_OK);
	assert_int_equal(cr_db_person_by_id(db, fx_make_person(db, "chan", w->org), &w->other), CR_OK);
	certs[0] = fx_make_cert(db, "A1", CR_CERT_QUALIFIED, NULL, NOW + 10 * DAY, w->holder.id, w->org);
	certs[1] = fx_make_cert(db, "B2", CR_CERT_CLOUDSIGN, NULL, NOW + 10 * DAY, w->holder.id, w->org);
	assert_int_equal(cr_db_begin(db), CR_OK);
	assert_int_equal(cr_db_app_create(db, w->holder.id, certs, 2, NOW - 7200, &w->app), CR_OK);
	assert_int_equal(cr_db_position_import(db, "Chefe de Divisao", NOW - DAY, &added), CR_OK);
	assert_int_equal(cr_db_commit(db), CR_OK);
	move(db, w->app, CR_APP_CONSENT, CR_APP_EMAILS);
	k = (struct cr_id_check){.application_id = w->app, .holder_id = w->holder.id, .at = NOW - 3600, .name_ok = true,
	    .name_zh_ok = true, .id_number_ok = true, .card_valid = true};
	snprintf(k.outcome, sizeof(k.outcome), "match");
	assert_int_equal(cr_db_id_check_add(db, &k, &id), CR_OK);
	move(db, w->app, CR_APP_EMAILS, CR_APP_IDENTITY);
	move(db, w->app, CR_APP_IDENTITY, CR_APP_CONFIRM);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;
	void *f = w->f;

	cr_govid_free(w->govid);
	cr_csc_free(w->csc);
	cr_doc_free(w->doc);
	sodium_memzero(w, sizeof(*w));
	free(w);
	return fx_teardown(&f);
}

static struct cr_flow_ctx
ctx_of(struct world *w, const struct cr_person *who)
{
	return (struct cr_flow_ctx){&w->env, w->f->db, NOW, who, "127.0.0.1"};
}

static void
expect(const struct cr_flow_result *r, enum cr_flow_outcome o, enum cr_flow_why why)
{
	if (r->outcome != o || r->why != why)
		fail_msg("expected outcome %d why %s, got outcome %d why %s", o, cr_flow_why_name(why), r->outcome,
		    cr_flow_why_name(r->why));
}

/* What step 3 may change, as one line to compare before and after. */
static void
snapshot(struct world *w, char out[256])
{
	char state[32];

	fx_query(w->f, "SELECT state FROM applications", state, sizeof(state));
	snprintf(out, 256, "%s docs %lld req %lld used %lld sig %lld declared %lld", state,
	    fx_query_int(w->f, "SELECT count(*) FROM app_documents"), fx_query_int(w->f, "SELECT count(*) FROM eid_requests"),
	    fx_query_int(w->f, "SELECT count(*) FROM eid_requests WHERE used_at IS NOT NULL"),
	    fx_query_int(w->f, "SELECT count(*) FROM signatures"),
	    fx_query_int(w->f, "SELECT count(*) FROM applications WHERE declared_at IS NOT NULL"));
}

static void
test_view(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder), o = ctx_of(w, &w->other);
	struct cr_flow_confirm *v = calloc(1, sizeof(*v));
	struct cr_flow_result r;
	char want[CR_APP_NUMBER_LEN];

	assert_non_null(v);
	cr_flow_confirm_view(&c, w->app, v, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(v->n_certs, 2);
	assert_true(v->checked);
	snprintf(want, sizeof(want), "R2025-%06lld", (long long)w->app);
	assert_string_equal(v->app_number, want);
	/* The current position is a choice although it was never imported, and it is preselected. */
	assert_int_equal(v->n_positions, 2);
	assert_string_equal(v->position, "Tecnico superior");
	assert_false(v->has_document);
	assert_false(v->is_signed);
	cr_flow_confirm_view(&o, w->app, v, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	free(v);
}

static void
test_declare_refusals(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder), o = ctx_of(w, &w->other);
	struct cr_flow_env no_doc;
	struct cr_flow_result r;
	struct cr_buf url;
	char before[256], after[256], longpos[300];

	memset(longpos, 'x', sizeof(longpos) - 1);
	longpos[sizeof(longpos) - 1] = '\0';
	cr_buf_init(&url, 4096);
	snapshot(w, before);
	cr_flow_declare(&c, w->app, false, "Tecnico superior", &url, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_DECLARATION_REQUIRED);
	for (const char *const *p = (const char *const[]){"Emperor", "", longpos, NULL}; *p != NULL; p++) {
		cr_flow_declare(&c, w->app, true, *p, &url, &r);
		expect(&r, CR_FLOW_REFUSED, CR_WHY_POSITION_UNKNOWN);
	}
	cr_flow_declare(&c, w->app, true, NULL, &url, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_POSITION_UNKNOWN);
	cr_flow_declare(&o, w->app, true, "Tecnico superior", &url, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	/* GovID unreachable: the document was rendered, but nothing is kept. */
	cr_flow_declare(&c, w->app, true, "Chefe de Divisao", &url, &r);
	expect(&r, CR_FLOW_UNAVAILABLE, CR_WHY_EID_DOWN);
	assert_int_equal(url.len, 0);
	no_doc = w->env;
	no_doc.doc = NULL;
	c.env = &no_doc;
	cr_flow_declare(&c, w->app, true, "Tecnico superior", &url, &r);
	expect(&r, CR_FLOW_UNAVAILABLE, CR_WHY_EID_DOWN);
	snapshot(w, after);
	assert_string_equal(before, after);
	cr_buf_free(&url);
}

/* A document and an e-ID request as cr_flow_declare makes them, added through the store. */
static int64_t
add_request(struct world *w, const char *state, time_t created, int64_t *doc_out)
{
	struct cr_db *db = w->f->db;
	static const char pdf[] = "%PDF-1.5 a stand-in document\n";
	unsigned char md[CR_SHA256_LEN], hash[CR_SHA256_LEN], *sealed = NULL, *vsealed = NULL;
	struct cr_document d = {.application_id = w->app, .holder_id = w->holder.id, .created_at = created,
	    .bytes = (long)sizeof(pdf) - 1};
	struct cr_eid_request q = {.application_id = w->app, .holder_id = w->holder.id, .created_at = created};
	int64_t doc, req;

	assert_int_equal(cr_seal(&w->key, PURPOSE_DOCUMENT, pdf, sizeof(pdf) - 1, 1u << 20, &sealed, &d.pdf_sealed_len),
	    CR_OK);
	assert_int_equal(cr_seal(&w->key, PURPOSE_VERIFIER, "verifier-verifier-verifier-verifier-verifie", 43, 64, &vsealed,
	                     &q.verifier_sealed_len),
	    CR_OK);
	d.pdf_sealed = sealed;
	q.verifier_sealed = vsealed;
	cr_sha256(pdf, sizeof(pdf) - 1, md);
	sodium_bin2hex(d.sha256, sizeof(d.sha256), md, sizeof(md));
	snprintf(d.nonce, sizeof(d.nonce), "nonce-%s", state);
	snprintf(d.declaration_version, sizeof(d.declaration_version), "decl-2026-1");
	snprintf(q.nonce, sizeof(q.nonce), "n-%s", state);
	cr_sha256(state, strlen(state), hash);
	assert_int_equal(cr_db_begin(db), CR_OK);
	assert_int_equal(cr_db_document_add(db, &d, &doc), CR_OK);
	q.document_id = doc;
	assert_int_equal(cr_db_eid_request_add(db, hash, &q, &req), CR_OK);
	assert_int_equal(cr_db_commit(db), CR_OK);
	free(sealed);
	free(vsealed);
	if (doc_out != NULL)
		*doc_out = doc;
	return req;
}

static void
test_eid_answer_refusals(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder), o = ctx_of(w, &w->other);
	struct cr_flow_result r;
	char big[5000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_flow_eid_finish(&c, NULL, "code", false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_STATE);
	cr_flow_eid_finish(&c, "", "code", false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_STATE);
	cr_flow_eid_finish(&c, big, "code", false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_STATE);
	cr_flow_eid_finish(&c, "never-issued", "code", false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_STATE);

	/* Another holder brings it: refused, and it is used up, so the holder's replay is refused too. */
	add_request(w, "s-other", NOW - 60, NULL);
	cr_flow_eid_finish(&o, "s-other", "code", false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_STATE);
	cr_flow_eid_finish(&c, "s-other", "code", false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_STATE);
	/* Expired. */
	add_request(w, "s-old", NOW - CR_EID_REQUEST_TTL - 1, NULL);
	cr_flow_eid_finish(&c, "s-old", "code", false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_EXPIRED);
	/* For a document a later declaration superseded. */
	add_request(w, "s-superseded", NOW - 60, NULL);
	add_request(w, "s-current", NOW - 30, NULL);
	cr_flow_eid_finish(&c, "s-superseded", "code", false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_STATE);
	/* The phone said 「拒絕」. */
	add_request(w, "s-refused", NOW - 30, NULL);
	cr_flow_eid_finish(&c, "s-refused", NULL, true, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_REFUSED);
	/* No code; then GovID unreachable at the exchange. */
	add_request(w, "s-nocode", NOW - 30, NULL);
	cr_flow_eid_finish(&c, "s-nocode", "", false, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_EID_STATE);
	add_request(w, "s-down", NOW - 30, NULL);
	cr_flow_eid_finish(&c, "s-down", "code", false, &r);
	expect(&r, CR_FLOW_UNAVAILABLE, CR_WHY_EID_DOWN);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM signatures"), 0);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM applications WHERE state = 'confirm'"), 1);
	/* Audited under the application: another holder's try, expired, superseded, refused, no code. */
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM audit_log WHERE action = 'eid_refused'"), 5);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM audit_log WHERE action = 'eid_unavailable'"), 1);
}

static void
add_signature(struct world *w, int64_t doc, int64_t req, bool passed)
{
	struct cr_signature s = {.application_id = w->app, .holder_id = w->holder.id, .document_id = doc,
	    .eid_request_id = req, .at = NOW, .passed = passed};
	int64_t id;

	snprintf(s.why, sizeof(s.why), "%s", passed ? "ok" : "chain");
	assert_int_equal(cr_db_begin(w->f->db), CR_OK);
	assert_int_equal(cr_db_signature_add(w->f->db, &s, &id), CR_OK);
	assert_int_equal(cr_db_commit(w->f->db), CR_OK);
}

static void
test_submit(void **state)
{
	struct world *w = *state;
	struct cr_flow_ctx c = ctx_of(w, &w->holder), o = ctx_of(w, &w->other);
	struct cr_flow_result r;
	struct cr_buf pdf;
	int64_t doc, req;

	cr_flow_submit(&c, w->app, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_SIGNED);
	req = add_request(w, "s-doc", NOW - 30, &doc);
	add_signature(w, doc, req, false);
	cr_flow_submit(&c, w->app, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_SIGNED);
	cr_flow_submit(&o, w->app, &r);
	expect(&r, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM applications WHERE state = 'confirm'"), 1);

	add_signature(w, doc, req, true);
	cr_flow_submit(&c, w->app, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(r.app.state, CR_APP_SUBMITTED);
	cr_flow_submit(&c, w->app, &r);
	expect(&r, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM audit_log WHERE action = 'submitted'"), 1);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM applications WHERE state = 'submitted' AND submitted_at > 0"), 1);
	/* Each certificate moved on by its type (R8); none is left verifying. */
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM renewals WHERE state = 'verifying'"), 0);
	assert_int_equal(fx_query_int(w->f, "SELECT count(DISTINCT state) FROM renewals"), 2);

	/* The document back for its holder only. */
	cr_buf_init(&pdf, 1u << 20);
	assert_int_equal(cr_flow_document_get(&c, w->app, &pdf), CR_OK);
	assert_memory_equal(pdf.data, "%PDF-1.5 a stand-in document\n", pdf.len);
	cr_buf_reset(&pdf);
	assert_int_equal(cr_flow_document_get(&o, w->app, &pdf), CR_ERR_NOTFOUND);
	assert_int_equal(cr_flow_signature_get(&o, w->app, &pdf), CR_ERR_NOTFOUND);
	cr_buf_free(&pdf);
	/* After submission a declaration is the wrong step. */
	{
		struct cr_buf url;

		cr_buf_init(&url, 4096);
		cr_flow_declare(&c, w->app, true, "Tecnico superior", &url, &r);
		expect(&r, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP);
		cr_buf_free(&url);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_declare_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eid_answer_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit, setup, teardown),
	};
	return cmocka_run_group_tests_name("confirm_flow", tests, NULL, NULL);
}
