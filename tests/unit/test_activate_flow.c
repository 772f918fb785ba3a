/*
 * Flow tests of step 4 「激活證書」 (src/flow/flow_activate.c) without HTTP, on SQLite and (through
 * tests/lib/postgres.mjs) PostgreSQL: the pass path with real DEV CAs and a real vault (the new key
 * sealed under the same password, the certificate stored, the old one superseded, the mail queued),
 * each refusal with what it must leave unchanged, the DSI re-read against a stand-in (match, changed,
 * down), revocation and the CRLs. The same over HTTP against govsim, with openssl checking the
 * certificates and crashes at each step, is tests/integration/activate.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sodium.h>

#include "config/config.h"
#include "flow/flow.h"
#include "pki/pki.h"
#include "support/dbfx.h"
#include "support/httpstub.h"
#include "util/file.h"
#include "util/tmpl.h"

#define PASSWORD "Demo-Sign-2026"
#define PASSPHRASE "kestrel lantern harbour 7f3"
#define CARD_VALID                                                                                                     \
	"{\"transaction_id\":\"dsi-2\",\"queried_at\":\"2025-06-15T07:06:40Z\",\"resident\":{"                             \
	"\"id_number\":\"1234567(8)\",\"surname\":\"WONG\",\"given_names\":\"Name\",\"name_zh\":\"\","                     \
	"\"card_number\":\"MO1\",\"card_issued_on\":\"2021-03-04\",\"card_expires_on\":\"2031-03-04\","                   \
	"\"card_status\":\"valid\"}}"
#define CARD_LOST                                                                                                      \
	"{\"transaction_id\":\"dsi-3\",\"queried_at\":\"2025-06-15T07:06:40Z\",\"resident\":{"                             \
	"\"id_number\":\"1234567(8)\",\"surname\":\"WONG\",\"given_names\":\"Name\",\"name_zh\":\"\","                     \
	"\"card_number\":\"MO1\",\"card_issued_on\":\"2021-03-04\",\"card_expires_on\":\"2031-03-04\","                   \
	"\"card_status\":\"lost\"}}"

static const char *const stem[CR_CERT_TYPE_COUNT] = {"qualified-ca", "encryption-ca", "cloudsign-ca"};

struct world {
	struct fx *f;
	struct cr_config cfg;
	struct cr_tmpl_set *tmpl;
	struct cr_seal_key outbox_key, evidence_key;
	struct cr_mailer mailer;
	struct httpstub *stub;
	struct cr_dsi *dsi;
	struct cr_pki *pki;
	struct cr_flow_env env;
	char dir[64], crl_dir[96];
	char cert_path[CR_CERT_TYPE_COUNT][128], key_path[CR_CERT_TYPE_COUNT][128], root[128], vault[128];
	struct cr_person holder, other;
	int64_t org, app, cloud, qualified;
};

static void
open_pki(struct world *w)
{
	struct cr_pki_config pc = {.root_cert_file = w->root, .vault_key_file = w->vault, .key_alg = CR_PKI_KEY_EC_P256,
	    .kdf_ops = crypto_pwhash_OPSLIMIT_MIN, .kdf_mem = 8u * 1024 * 1024};

	assert_int_equal(cr_pki_dev_init(w->dir), CR_OK);
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		snprintf(w->cert_path[t], sizeof(w->cert_path[t]), "%s/%s.pem", w->dir, stem[t]);
		snprintf(w->key_path[t], sizeof(w->key_path[t]), "%s/%s.key", w->dir, stem[t]);
		pc.types[t] = (struct cr_pki_profile){w->cert_path[t], w->key_path[t], 730, "2.999.1.3", "", ""};
	}
	snprintf(w->root, sizeof(w->root), "%s/root-ca.pem", w->dir);
	snprintf(w->vault, sizeof(w->vault), "%s/vault.key", w->dir);
	assert_int_equal(cr_pki_open(&pc, &w->pki), CR_OK);
}

/* The holder's signing account in the vault, its key bound to the cloudsign certificate. */
static void
make_account(struct world *w)
{
	struct cr_db *db = w->f->db;
	struct cr_signing_account a = {.holder_id = w->holder.id};
	struct cr_vault_kdf kdf;
	struct cr_vault_sealed *s = calloc(1, sizeof(*s));
	struct cr_vault_row *k = calloc(1, sizeof(*k));
	int64_t key;

	assert_non_null(s);
	assert_non_null(k);
	assert_int_equal(cr_pki_vault_create(w->pki, "wong.ctt", PASSWORD, &kdf, s), CR_OK);
	snprintf(a.name, sizeof(a.name), "wong.ctt");
	memcpy(a.kdf_salt, kdf.salt, sizeof(a.kdf_salt));
	a.kdf_ops = (int64_t)kdf.ops;
	a.kdf_mem = (int64_t)kdf.mem;
	assert_int_equal(cr_db_account_create(db, &a, NOW - 400 * DAY, &k->account_id), CR_OK);
	memcpy(k->sealed, s->sealed, s->sealed_len);
	k->sealed_len = s->sealed_len;
	memcpy(k->public_der, s->public_der, s->public_len);
	k->public_len = s->public_len;
	assert_int_equal(cr_db_vault_key_add(db, k, NOW - 400 * DAY, &key), CR_OK);
	assert_int_equal(cr_db_vault_key_bind(db, key, w->cloud), CR_OK);
	free(s);
	free(k);
}

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char err[256], keyfile[128], sql[200];
	struct cr_dsi_config dc = {.api_key_file = keyfile, .connect_timeout_ms = 500, .timeout_ms = 2000};
	struct cr_id_check k = {0};
	int64_t certs[2], id;

	if (w == NULL || fx_setup((void **)&w->f) != 0)
		return -1;
	if (cr_config_load(&w->cfg, NULL, err, sizeof(err)) != CR_OK || cr_tmpl_set_new(&w->tmpl) != CR_OK ||
	    cr_tmpl_load_dir(w->tmpl, "templates", err, sizeof(err)) != CR_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	cr_random(w->outbox_key.k, sizeof(w->outbox_key.k));
	cr_random(w->evidence_key.k, sizeof(w->evidence_key.k));
	w->mailer = (struct cr_mailer){&w->cfg, w->tmpl, &w->outbox_key};
	snprintf(w->dir, sizeof(w->dir), "/tmp/cr-activate-XXXXXX");
	if (mkdtemp(w->dir) == NULL || (w->stub = httpstub_start()) == NULL)
		return -1;
	snprintf(w->crl_dir, sizeof(w->crl_dir), "%s/publish", w->dir);
	assert_int_equal(mkdir(w->crl_dir, 0755), 0);
	snprintf(keyfile, sizeof(keyfile), "%s/dsi.key", w->dir);
	assert_int_equal(cr_file_write_secret(keyfile, "flow-test-key", 13), CR_OK);
	dc.base_url = httpstub_url(w->stub);
	assert_int_equal(cr_dsi_new(&dc, &w->dsi), CR_OK);
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "application/json", CARD_VALID, -1, 0);
	open_pki(w);
	w->env = (struct cr_flow_env){.window_days = 30, .horizon_days = 60, .base_url = "https://portal.example.test",
	    .mailer = &w->mailer, .dsi = w->dsi, .evidence_key = &w->evidence_key, .evidence_dir = w->dir,
	    .evidence_retention_days = 2557, .pki = w->pki, .activation_window_days = 30, .activation_max_wrong = 5,
	    .activation_lock_minutes = 30, .activation_claim_seconds = 60, .activation_recheck_minutes = 10,
	    .crl_dir = w->crl_dir, .crl_hours = 24};

	struct cr_db *db = w->f->db;
	w->org = fx_make_org(db, "CTT");
	assert_int_equal(cr_db_person_by_id(db, fx_make_person(db, "wong", w->org), &w->holder), CR_OK);
	assert_int_equal(cr_db_person_by_id(db, fx_make_person(db, "chan", w->org), &w->other), CR_OK);
	w->qualified = certs[0] = fx_make_cert(db, "A1", CR_CERT_QUALIFIED, NULL, NOW + 10 * DAY, w->holder.id, w->org);
	w->cloud = certs[1] = fx_make_cert(db, "B2", CR_CERT_CLOUDSIGN, NULL, NOW + 10 * DAY, w->holder.id, w->org);
	snprintf(sql, sizeof(sql), "UPDATE certificates SET signing_account = 'wong.ctt' WHERE id = %lld", (long long)w->cloud);
	assert_int_equal(fx_raw_exec(w->f, sql, err, sizeof(err)), 0);
	make_account(w);
	assert_int_equal(cr_db_begin(db), CR_OK);
	assert_int_equal(cr_db_app_create(db, w->holder.id, certs, 2, NOW - 7200, &w->app), CR_OK);
	assert_int_equal(cr_db_commit(db), CR_OK);
	assert_int_equal(cr_db_app_move(db, w->app, CR_APP_CONSENT, CR_APP_EMAILS, NOW - 7000), CR_OK);
	k = (struct cr_id_check){.application_id = w->app, .holder_id = w->holder.id, .at = NOW - 6000, .name_ok = true,
	    .name_zh_ok = true, .id_number_ok = true, .card_valid = true};
	snprintf(k.outcome, sizeof(k.outcome), "match");
	snprintf(k.card_expires_on, sizeof(k.card_expires_on), "2031-03-04");
	assert_int_equal(cr_db_id_check_add(db, &k, &id), CR_OK);
	assert_int_equal(cr_db_app_move(db, w->app, CR_APP_EMAILS, CR_APP_IDENTITY, NOW - 5000), CR_OK);
	assert_int_equal(cr_db_app_move(db, w->app, CR_APP_IDENTITY, CR_APP_CONFIRM, NOW - 4000), CR_OK);
	assert_int_equal(cr_db_app_submit(db, w->app, NOW - 3600), CR_OK);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;
	void *f = w->f;
	char cmd[128];

	cr_pki_close(w->pki);
	cr_dsi_free(w->dsi);
	httpstub_stop(w->stub);
	cr_tmpl_set_free(w->tmpl);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "teardown: cannot remove %s\n", w->dir);
	sodium_memzero(w, sizeof(*w));
	free(w);
	return fx_teardown(&f);
}

static struct cr_flow_ctx
ctx_at(struct world *w, const struct cr_person *who, time_t now)
{
	return (struct cr_flow_ctx){&w->env, w->f->db, now, who, "127.0.0.1"};
}

static void
expect(const struct cr_flow_result *r, enum cr_flow_outcome o, enum cr_flow_why why)
{
	if (r->outcome != o || r->why != why)
		fail_msg("expected outcome %d why %s, got outcome %d why %s", o, cr_flow_why_name(why), r->outcome,
		    cr_flow_why_name(r->why));
}

/* What an activation may change, as one line to compare before and after. */
static void
snapshot(struct world *w, char out[256])
{
	char state[32];

	fx_query(w->f, "SELECT state FROM renewals WHERE cert_id = (SELECT max(id) FROM certificates WHERE type = 'cloudsign')",
	    state, sizeof(state));
	snprintf(out, 256, "%s certs %lld iss %lld keys %lld mail %lld", state,
	    fx_query_int(w->f, "SELECT count(*) FROM certificates"), fx_query_int(w->f, "SELECT count(*) FROM issuances"),
	    fx_query_int(w->f, "SELECT count(*) FROM vault_keys"), fx_query_int(w->f, "SELECT count(*) FROM outbox"));
}

static void
activate(struct world *w, const struct cr_person *who, int64_t cert, const char *password, const char *pp,
    const char *again, struct cr_flow_activated *out, struct cr_flow_result *res)
{
	struct cr_flow_ctx c = ctx_at(w, who, NOW);

	cr_flow_activate(&c, w->app, cert, password, pp, again, out, res);
}

static void
test_pass_path(void **state)
{
	struct world *w = *state;
	struct cr_flow_activation *v = calloc(1, sizeof(*v));
	struct cr_flow_activated out, again;
	struct cr_flow_result res;
	struct cr_flow_ctx c = ctx_at(w, &w->holder, NOW);
	char status[32];

	assert_non_null(v);
	cr_flow_activation_view(&c, w->app, v, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(v->n, 2);
	for (size_t i = 0; i < v->n; i++)
		assert_int_equal(v->certs[i].activatable, v->certs[i].cert.c.id == w->cloud);
	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	assert_true(out.new_cert_id > 0);
	assert_int_equal(strlen(out.serial_hex) >= 30, 1);
	assert_int_equal(out.not_after - out.not_before, 730 * DAY);
	fx_query(w->f, "SELECT status FROM certificates WHERE serial_hex = 'B2'", status, sizeof(status));
	assert_string_equal(status, "superseded");
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM certificates WHERE issued_here = 1"), 1);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM vault_keys WHERE cert_id IS NOT NULL"), 2);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM outbox WHERE kind = 'activated'"), 1);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM signing_accounts WHERE busy_until = 0"), 1);
	/* Again: the same certificate, nothing new. */
	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &again, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(again.new_cert_id, out.new_cert_id);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM certificates WHERE issued_here = 1"), 1);
	cr_flow_activation_view(&c, w->app, v, &res);
	for (size_t i = 0; i < v->n; i++)
		if (v->certs[i].cert.c.id == w->cloud) {
			assert_true(v->certs[i].renewed);
			assert_false(v->certs[i].activatable);
			assert_string_equal(v->certs[i].new_cert.c.serial_hex, out.serial_hex);
		}
	free(v);
}

/* Each refusal, and that it changed nothing that matters. */
static void
test_refusals(void **state)
{
	struct world *w = *state;
	struct cr_flow_activated out;
	struct cr_flow_result res;
	char before[256], after[256];

	snapshot(w, before);
	activate(w, &w->other, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	activate(w, &w->holder, w->qualified, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_NOT_ACTIVATABLE);
	activate(w, &w->holder, 999999, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	activate(w, &w->holder, w->cloud, PASSWORD, "short", "short", &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_PASSPHRASE_BAD);
	activate(w, &w->holder, w->cloud, PASSWORD, PASSWORD, PASSWORD, &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_PASSPHRASE_BAD);
	activate(w, &w->holder, w->cloud, NULL, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_PASSWORD_WRONG);
	snapshot(w, after);
	assert_string_equal(before, after);
	assert_int_equal(fx_query_int(w->f, "SELECT wrong_tries FROM signing_accounts"), 0);
	/* A wrong password is counted; the fifth locks until now + 30 minutes; locked, even the right one fails. */
	for (int i = 1; i <= 4; i++) {
		activate(w, &w->holder, w->cloud, "wrong password", PASSPHRASE, PASSPHRASE, &out, &res);
		expect(&res, CR_FLOW_REFUSED, CR_WHY_PASSWORD_WRONG);
		assert_int_equal(res.n, 5 - i);
	}
	activate(w, &w->holder, w->cloud, "wrong password", PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_ACCOUNT_LOCKED);
	assert_int_equal(out.locked_until, NOW + 30 * 60);
	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_ACCOUNT_LOCKED);
	assert_int_equal(out.locked_until, NOW + 30 * 60);
	snapshot(w, after);
	assert_string_equal(before, after);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM audit_log WHERE action = 'activation_password_wrong'"), 5);
}

/* Another activation holds the account: BUSY at once, nothing done. */
static void
test_busy(void **state)
{
	struct world *w = *state;
	struct cr_flow_activated out;
	struct cr_flow_result res;
	char err[128];

	assert_int_equal(fx_raw_exec(w->f, "UPDATE signing_accounts SET busy_until = 1750000030", err, sizeof(err)), 0);
	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_BUSY);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM issuances"), 0);
}

/* The window after submission has passed: the certificate goes back to verification. */
static void
test_window_closed(void **state)
{
	struct world *w = *state;
	struct cr_flow_activate_form f;
	struct cr_flow_result res;
	struct cr_flow_ctx c = ctx_at(w, &w->holder, NOW + 31 * DAY);
	char st[32], err[128];

	assert_int_equal(fx_raw_exec(w->f, "UPDATE certificates SET not_after = 1760000000", err, sizeof(err)), 0);
	cr_flow_activate_open(&c, w->app, w->cloud, &f, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_ACTIVATION_CLOSED);
	fx_query(w->f, "SELECT state FROM renewals WHERE cert_id = (SELECT id FROM certificates WHERE serial_hex = 'B2')", st,
	    sizeof(st));
	assert_string_equal(st, "pending_verification");
}

/* 「激活」: DSI read again (evidence kept); a lost card sends the certificate back with the mail;
   DSI down changes nothing. */
static void
test_dsi_reread(void **state)
{
	struct world *w = *state;
	struct cr_flow_activate_form f;
	struct cr_flow_result res;
	struct cr_flow_ctx c = ctx_at(w, &w->holder, NOW);
	char before[256], after[256], st[32];

	snapshot(w, before);
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 503, "application/json", "{\"error\":\"unavailable\"}", -1, 0);
	cr_flow_activate_open(&c, w->app, w->cloud, &f, &res);
	expect(&res, CR_FLOW_UNAVAILABLE, CR_WHY_DSI_DOWN);
	snapshot(w, after);
	assert_string_equal(before, after);
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "application/json", CARD_VALID, -1, 0);
	cr_flow_activate_open(&c, w->app, w->cloud, &f, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	assert_string_equal(f.account, "wong.ctt");
	assert_int_equal(f.tries_left, 5);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM identity_checks"), 2);
	/* Within the recheck period DSI is not asked again. */
	httpstub_set(w->stub, HTTPSTUB_RESIDENT, 200, "application/json", CARD_LOST, -1, 0);
	c.now = NOW + 60;
	cr_flow_activate_open(&c, w->app, w->cloud, &f, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM identity_checks"), 2);
	c.now = NOW + 11 * 60;
	cr_flow_activate_open(&c, w->app, w->cloud, &f, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_ID_CHANGED);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM identity_checks WHERE outcome = 'mismatch'"), 1);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM outbox WHERE kind = 'reverify'"), 1);
	fx_query(w->f, "SELECT state FROM renewals WHERE cert_id = (SELECT id FROM certificates WHERE serial_hex = 'B2')", st,
	    sizeof(st));
	assert_string_equal(st, "pending_verification");
	fx_query(w->f, "SELECT state FROM renewals WHERE cert_id = (SELECT id FROM certificates WHERE serial_hex = 'A1')", st,
	    sizeof(st));
	assert_string_equal(st, "pending_offline");
}

/* Revocation of a certificate issued here, then the CRL lists it; one not issued here cannot be. */
static void
test_revoke_and_crl(void **state)
{
	struct world *w = *state;
	struct cr_flow_activated out;
	struct cr_flow_result res;
	struct cr_flow_ctx c = ctx_at(w, &w->holder, NOW);
	struct cr_flow_ctx o = ctx_at(w, &w->other, NOW);
	long entries = -1;
	char *crl = NULL, path[160];
	size_t len = 0;

	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	cr_flow_revoke(&c, w->qualified, PASSPHRASE, false, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_NOT_REVOCABLE);
	cr_flow_revoke(&o, out.new_cert_id, PASSPHRASE, false, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_NOT_FOUND);
	cr_flow_revoke(&c, out.new_cert_id, "not the passphrase", false, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_REVOKE_WRONG);
	assert_int_equal(res.n, 4);
	cr_flow_revoke(&c, out.new_cert_id, PASSPHRASE, true, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	cr_flow_revoke(&c, out.new_cert_id, PASSPHRASE, true, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_ALREADY_REVOKED);
	assert_int_equal(cr_flow_crl_publish(&c, &entries), CR_OK);
	assert_int_equal(entries, 1);
	snprintf(path, sizeof(path), "%s/cloudsign.crl", w->crl_dir);
	assert_int_equal(cr_file_read(path, 1u << 20, 0, &crl, &len), CR_OK);
	assert_true(len > 100);
	free(crl);
	snprintf(path, sizeof(path), "%s/cloudsign-ca.crt", w->crl_dir);
	assert_int_equal(cr_file_read(path, 1u << 20, 0, &crl, &len), CR_OK);
	free(crl);
	/* The revocation published its type's CRL at once; then all three. */
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM audit_log WHERE action = 'crl_published'"), 4);
	assert_int_equal(fx_query_int(w->f, "SELECT last_number FROM crl_numbers WHERE type = 'cloudsign'"), 2);
	/* The revoked certificate's key is gone from the vault with the revocation. */
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM vault_keys WHERE destroyed_at IS NOT NULL"), 1);
}

/* Wrong revocation passphrases are counted before Argon2id runs; the fifth locks, and while locked
   even the right one is refused without being checked. */
static void
test_revoke_lock(void **state)
{
	struct world *w = *state;
	struct cr_flow_activated out;
	struct cr_flow_result res;
	struct cr_flow_ctx c = ctx_at(w, &w->holder, NOW);

	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	for (int i = 1; i <= 4; i++) {
		cr_flow_revoke(&c, out.new_cert_id, "not the passphrase", false, &res);
		expect(&res, CR_FLOW_REFUSED, CR_WHY_REVOKE_WRONG);
		assert_int_equal(res.n, 5 - i);
	}
	cr_flow_revoke(&c, out.new_cert_id, "not the passphrase", false, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_REVOKE_LOCKED);
	cr_flow_revoke(&c, out.new_cert_id, PASSPHRASE, false, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_REVOKE_LOCKED);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL"), 0);
	c.now = NOW + 31 * 60;
	cr_flow_revoke(&c, out.new_cert_id, PASSPHRASE, false, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
}

/* An application whose certificate was sent back and verified again in a newer one activates
   nothing: the renewal belongs to the newer application. */
static void
test_stale_application(void **state)
{
	struct world *w = *state;
	struct cr_flow_activated out;
	struct cr_flow_result res;
	char err[160], sql[200];

	/* The renewal now belongs to another (newer) application, as after a re-verification. */
	snprintf(sql, sizeof(sql), "UPDATE renewals SET application_id = %lld WHERE cert_id = %lld", (long long)w->app + 1000,
	    (long long)w->cloud);
	assert_int_equal(fx_raw_exec(w->f, sql, err, sizeof(err)), 0);
	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_REFUSED, CR_WHY_NOT_ACTIVATABLE);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM issuances"), 0);
	/* Nor does its closed window move the newer application's certificate. */
	{
		struct cr_flow_activate_form f;
		struct cr_flow_ctx late = ctx_at(w, &w->holder, NOW + 31 * DAY);

		assert_int_equal(fx_raw_exec(w->f, "UPDATE certificates SET not_after = 1760000000", err, sizeof(err)), 0);
		cr_flow_activate_open(&late, w->app, w->cloud, &f, &res);
		expect(&res, CR_FLOW_REFUSED, CR_WHY_NOT_ACTIVATABLE);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM renewals WHERE cert_id = %lld AND state = 'pending_activation'",
		    (long long)w->cloud);
		assert_int_equal(fx_query_int(w->f, sql), 1);
	}
}

/* A reservation left behind (a crash between reserve and issue) is swept by the jobs worker once two
   claims old; then an activation issues normally. */
static void
test_sweep_reservation(void **state)
{
	struct world *w = *state;
	struct cr_vault_row *k = calloc(1, sizeof(*k));
	struct cr_issuance i = {.renewed_cert_id = w->cloud, .application_id = w->app, .holder_id = w->holder.id,
	    .reserved_at = NOW - 300};
	struct cr_flow_activated out;
	struct cr_flow_result res;
	struct cr_flow_ctx c = ctx_at(w, &w->holder, NOW);
	long destroyed = -1;
	int64_t id;

	assert_non_null(k);
	i.account_id = fx_query_int(w->f, "SELECT id FROM signing_accounts");
	k->account_id = i.account_id;
	k->public_len = 3;
	k->sealed_len = 3;
	memcpy(k->public_der, "pub", 3);
	memcpy(k->sealed, "key", 3);
	assert_int_equal(cr_db_vault_key_add(w->f->db, k, NOW - 300, &i.vault_key_id), CR_OK);
	free(k);
	snprintf(i.serial_hex, sizeof(i.serial_hex), "0123456789abcdef0123456789abcdef");
	snprintf(i.state, sizeof(i.state), "reserved");
	snprintf(i.revocation_hash, sizeof(i.revocation_hash), "x");
	assert_int_equal(cr_db_issuance_reserve(w->f->db, &i, &id), CR_OK);
	c.now = NOW - 200; /* younger than two claims: left alone */
	assert_int_equal(cr_flow_vault_purge(&c, &destroyed), CR_OK);
	assert_int_equal(destroyed, 0);
	c.now = NOW;
	assert_int_equal(cr_flow_vault_purge(&c, &destroyed), CR_OK);
	assert_int_equal(destroyed, 1);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM issuances WHERE state = 'abandoned'"), 1);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM vault_keys WHERE destroyed_at IS NOT NULL"), 1);
	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	assert_string_not_equal(out.serial_hex, "0123456789abcdef0123456789abcdef");
}

/* The jobs worker publishes only what is due: never published, a revocation since, half the period gone. */
static void
test_crl_refresh(void **state)
{
	struct world *w = *state;
	struct cr_flow_activated out;
	struct cr_flow_result res;
	struct cr_flow_ctx c = ctx_at(w, &w->holder, NOW);
	long published = -1, entries = -1;

	assert_int_equal(cr_flow_crl_refresh(&c, &published, &entries), CR_OK);
	assert_int_equal(published, 3);
	c.now = NOW + 60;
	assert_int_equal(cr_flow_crl_refresh(&c, &published, &entries), CR_OK);
	assert_int_equal(published, 0);
	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	c.now = NOW + 120;
	cr_flow_revoke(&c, out.new_cert_id, PASSPHRASE, false, &res); /* publishes the cloudsign CRL itself */
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(fx_query_int(w->f, "SELECT last_number FROM crl_numbers WHERE type = 'cloudsign'"), 2);
	assert_int_equal(fx_query_int(w->f, "SELECT last_number FROM crl_numbers WHERE type = 'qualified'"), 1);
	/* Covered by the CRL the revocation published: nothing due, even in the same second. */
	c.now = NOW + 120;
	assert_int_equal(cr_flow_crl_refresh(&c, &published, &entries), CR_OK);
	assert_int_equal(published, 0);
	c.now = NOW + 13 * 3600; /* past half of the 24 hours for every type */
	assert_int_equal(cr_flow_crl_refresh(&c, &published, &entries), CR_OK);
	assert_int_equal(published, 3);
	assert_int_equal(entries, 1);
}

/* The key of a superseded certificate is destroyed once that certificate expired; not before. */
static void
test_vault_purge(void **state)
{
	struct world *w = *state;
	struct cr_flow_activated out;
	struct cr_flow_result res;
	struct cr_flow_ctx c = ctx_at(w, &w->holder, NOW);
	long destroyed = -1;

	activate(w, &w->holder, w->cloud, PASSWORD, PASSPHRASE, PASSPHRASE, &out, &res);
	expect(&res, CR_FLOW_DONE, CR_WHY_NONE);
	assert_int_equal(cr_flow_vault_purge(&c, &destroyed), CR_OK);
	assert_int_equal(destroyed, 0);
	c.now = NOW + 11 * DAY;
	assert_int_equal(cr_flow_vault_purge(&c, &destroyed), CR_OK);
	assert_int_equal(destroyed, 1);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM vault_keys WHERE destroyed_at IS NOT NULL"), 1);
	assert_int_equal(fx_query_int(w->f, "SELECT count(*) FROM audit_log WHERE action = 'vault_key_destroyed'"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pass_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsi_reread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_and_crl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_application, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_reservation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vault_purge, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
