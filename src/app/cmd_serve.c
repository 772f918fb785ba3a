/*
 * `certrenew serve` (the portal) and `certrenew jobs` (the background worker).
 */
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "adapters/csc.h"
#include "adapters/httpc.h"
#include "doc/pdf.h"
#include "adapters/mail.h"
#include "app/commands.h"
#include "flow/flow.h"
#include "jobs/jobs.h"
#include "pki/pki.h"
#include "util/crypto.h"
#include "util/lang.h"
#include "util/log.h"
#include "web/server.h"

/* Loads locale_dir/LANG.json for each language into one object keyed by language. */
static enum cr_err
load_locales(const char *dir, json_t **out)
{
	json_t *all = json_object();

	for (size_t i = 0; i < cr_lang_count; i++) {
		char path[CR_CFG_STR + 32];
		json_error_t jerr;
		json_t *t;

		snprintf(path, sizeof(path), "%s/%s.json", dir, cr_langs[i].code);
		if ((t = json_load_file(path, 0, &jerr)) == NULL || !json_is_object(t)) {
			cr_error("serve", "locale %s:%d: %s", path, jerr.line, t ? "not an object" : jerr.text);
			json_decref(t);
			json_decref(all);
			return CR_ERR_CONFIG;
		}
		json_object_set_new(all, cr_langs[i].code, t);
	}
	*out = all;
	return CR_OK;
}

static void
css_version(const struct cr_static_files *s, char out[16])
{
	const void *data;
	size_t len;
	const char *etag, *type;

	snprintf(out, 16, "0");
	/* The ETag is "<hex>"; its first hex digits name the version. */
	if (cr_static_get(s, "style.css", &data, &len, &etag, &type) == CR_OK)
		snprintf(out, 16, "%.8s", etag + 1);
}

/* The DSI client. In production DSI is reached over https only (cr_config_check_mode). */
static enum cr_err
open_dsi(const struct cr_config *cfg, struct cr_dsi **out)
{
	struct cr_dsi_config dc = {cfg->dsi_base_url, cfg->dsi_api_key_file, cfg->dsi_client_cert, cfg->dsi_client_key,
	    cfg->dsi_ca_file, cfg->dsi_connect_timeout_ms, cfg->dsi_timeout_ms};

	return cr_dsi_new(&dc, out);
}

/* GovID's signing service. In production: https only (cr_config_check_mode) and a named GovID CA
   (fail closed). */
static enum cr_err
open_signing(const struct cr_config *cfg, struct cr_csc **out)
{
	struct cr_csc_config sc = {.base_url = cfg->signing_base_url, .ca_file = cfg->signing_ca_file,
	    .connect_timeout_ms = cfg->signing_connect_timeout_ms, .timeout_ms = cfg->signing_timeout_ms};

	/* In DEV the file is govsim's, which may start after the portal: it is read at each validation. */
	if (cfg->signing_trust_file[0] == '\0' || (!cfg->dev && access(cfg->signing_trust_file, R_OK) != 0)) {
		cr_error("serve", "signing.trust_file %s cannot be read: the GovID CA of signing certificates is needed",
		    cfg->signing_trust_file[0] ? cfg->signing_trust_file : "(not set)");
		return CR_ERR_CONFIG;
	}
	return cr_csc_new(&sc, out);
}

int
cr_cmd_serve(const struct cr_config *cfg, int argc, char **argv, const sigset_t *stop)
{
	struct cr_app app = {.cfg = cfg};
	struct cr_server *srv = NULL;
	struct cr_govid_config gc;
	char secret[512], redirect[CR_CFG_STR + 32], eid_redirect[CR_CFG_STR + 48], errbuf[512];
	int sig, rc = 1;

	if (cr_cmd_wants_help(argc, argv,
	        "usage: certrenew serve\n"
	        "Runs the portal on `listen` (default 127.0.0.1:8080) until SIGTERM or SIGINT.\n"
	        "Needs an initialised database (certrenew init).\n"))
		return 0;
	if (cr_config_check_mode(cfg, errbuf, sizeof(errbuf)) != CR_OK) {
		cr_error("serve", "%s", errbuf);
		return 1;
	}
	if (cr_read_secret_file(cfg->govid_client_secret_file, secret, sizeof(secret)) != CR_OK)
		return 1;
	snprintf(redirect, sizeof(redirect), "%s/auth/callback", cfg->base_url);
	snprintf(eid_redirect, sizeof(eid_redirect), "%s/ecmp/certrenewal/eid/callback", cfg->base_url);
	gc = (struct cr_govid_config){.issuer = cfg->govid_issuer, .client_id = cfg->govid_client_id,
	    .client_secret = secret, .redirect_uri = redirect, .eid_redirect_uri = eid_redirect, .timeout_ms = 5000};
	if (cr_store_open(cfg->database_url, cfg->http_threads + 1, &app.store) != CR_OK ||
	    cr_tmpl_set_new(&app.tmpl) != CR_OK || cr_static_load(cfg->static_dir, &app.statics) != CR_OK ||
	    load_locales(cfg->locale_dir, &app.locales) != CR_OK || cr_govid_new(&gc, &app.govid) != CR_OK)
		goto out;
	if (cr_tmpl_load_dir(app.tmpl, cfg->templates_dir, errbuf, sizeof(errbuf)) != CR_OK) {
		cr_error("serve", "templates: %s", errbuf);
		goto out;
	}
	if (cr_seal_key_load(cfg->outbox_key_file, &app.outbox_key) != CR_OK ||
	    cr_seal_key_load(cfg->codes_key_file, &app.codes_key) != CR_OK ||
	    cr_seal_key_load(cfg->evidence_key_file, &app.evidence_key) != CR_OK || open_dsi(cfg, &app.dsi) != CR_OK ||
	    open_signing(cfg, &app.csc) != CR_OK || cr_doc_new(&app.doc) != CR_OK || cr_app_pki_open(cfg, &app.pki) != CR_OK)
		goto out;
	app.mailer = (struct cr_mailer){cfg, app.tmpl, &app.outbox_key};
	app.flow = (struct cr_flow_env){
		.window_days = cfg->window_days,
		.horizon_days = cfg->horizon_days,
		.session_idle_minutes = cfg->session_idle_minutes,
		.session_absolute_minutes = cfg->session_absolute_minutes,
		.login_max_per_address = cfg->login_max_per_address,
		.base_url = cfg->base_url,
		.codes = CR_CODE_POLICY_DEFAULT,
		.codes_key = app.codes_key.k,
		.mailer = &app.mailer,
		.govid = app.govid,
		.dsi = app.dsi,
		.evidence_key = &app.evidence_key,
		.evidence_dir = cfg->evidence_dir,
		.photo = CR_IMAGE_LIMITS_DEFAULT,
		.face_threshold = cfg->face_threshold,
		.face_tries_per_app = cfg->face_tries_per_app,
		.face_tries_per_holder = cfg->face_tries_per_holder,
		.face_tries_window_days = cfg->face_tries_window_days,
		.evidence_retention_days = cfg->evidence_retention_days,
		.doc = app.doc,
		.csc = app.csc,
		.signing_trust_file = cfg->signing_trust_file,
		.pki = app.pki,
		.activation_window_days = cfg->activation_window_days,
		.activation_max_wrong = cfg->activation_max_wrong,
		.activation_lock_minutes = cfg->activation_lock_minutes,
		.activation_claim_seconds = cfg->activation_claim_seconds,
		.activation_recheck_minutes = cfg->activation_recheck_minutes,
		.crl_dir = cfg->pki_crl_dir,
		.crl_hours = cfg->pki_crl_hours,
		/* Crash-safety tests stop the portal mid-issuance on purpose; never in production. */
		.crash_at = cfg->dev ? getenv("CERTRENEW_TEST_CRASH_AT") : NULL,
	};
	app.flow.photo.max_bytes = (size_t)cfg->photo_max_bytes;
	{
		struct cr_db *db = cr_store_get(app.store);
		int v = 0;
		enum cr_err err = cr_db_schema_version(db, &v);

		cr_store_put(app.store, db);
		if (err != CR_OK || v == 0) {
			char shown[CR_CFG_STR];

			cr_config_redact_url(cfg->database_url, shown, sizeof(shown));
			cr_error("serve", "database %s is not initialised: run `certrenew init`", shown);
			goto out;
		}
	}
	css_version(app.statics, app.css_version);
	if (cr_server_start(&app, &srv) != CR_OK)
		goto out;
	cr_info("serve", "portal listening on http://%s:%d/ (%s mode, %d threads)", cfg->listen_host, cfg->listen_port,
	    cfg->dev ? "DEV" : "production", cfg->http_threads);
	sigwait(stop, &sig);
	cr_info("serve", "signal %d: stopping", sig);
	rc = 0;
out:
	cr_server_stop(srv);
	cr_govid_free(app.govid);
	cr_dsi_free(app.dsi);
	cr_csc_free(app.csc);
	cr_doc_free(app.doc);
	cr_pki_close(app.pki);
	json_decref(app.locales);
	cr_static_free(app.statics);
	cr_tmpl_set_free(app.tmpl);
	cr_store_close(app.store);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(&app.outbox_key, sizeof(app.outbox_key));
	sodium_memzero(&app.codes_key, sizeof(app.codes_key));
	sodium_memzero(&app.evidence_key, sizeof(app.evidence_key));
	return rc;
}

/* Housekeeping: purge expired sessions and abandoned login flows. */
static enum cr_err
purge_pass(const struct cr_config *cfg, struct cr_store *st, time_t now)
{
	struct cr_db *db = cr_store_get(st);
	long sessions = 0, flows = 0;
	enum cr_err err;

	err = cr_db_sessions_purge(db, now - (time_t)cfg->session_idle_minutes * 60,
	    now - (time_t)cfg->session_absolute_minutes * 60, &sessions);
	if (err == CR_OK)
		err = cr_db_login_flows_purge(db, now - 3600, &flows);
	if (err == CR_OK) {
		/* Identity evidence past the retention period (ETSI TS 119 461 keeps it that long, no longer). */
		struct cr_flow_env env = {.evidence_dir = cfg->evidence_dir,
		    .evidence_retention_days = cfg->evidence_retention_days};
		struct cr_flow_ctx c = {&env, db, now, NULL, NULL};
		long evidence = 0;

		err = cr_flow_evidence_purge(&c, &evidence);
	}
	cr_store_put(st, db);
	if (err == CR_OK && (sessions > 0 || flows > 0))
		cr_info("jobs", "purged %ld expired sessions and %ld abandoned login flows", sessions, flows);
	return err;
}

/* The CA's housekeeping: CRLs published afresh, keys of expired superseded certificates destroyed. */
static enum cr_err
pki_pass(const struct cr_jobs *j, time_t now)
{
	const struct cr_config *cfg = j->cfg;
	struct cr_flow_env env = {.pki = j->pki, .crl_dir = cfg->pki_crl_dir, .crl_hours = cfg->pki_crl_hours,
	    .activation_claim_seconds = cfg->activation_claim_seconds};
	struct cr_db *db = cr_store_get(j->store);
	struct cr_flow_ctx c = {&env, db, now, NULL, NULL};
	long entries = 0, destroyed = 0, published = 0;
	enum cr_err err = cr_flow_vault_purge(&c, &destroyed);

	if (err == CR_OK)
		err = cr_flow_crl_refresh(&c, &published, &entries);
	cr_store_put(j->store, db);
	if (destroyed > 0 || published > 0 || err != CR_OK)
		cr_info("jobs", "pki: %ld vault keys destroyed, %ld CRLs published with %ld entries (%s)", destroyed,
		    published, entries, cr_err_str(err));
	return err;
}


enum job_set { DO_NOTICES = 1, DO_DELIVER = 2, DO_PURGE = 4, DO_PKI = 8, DO_ALL = 15 };

static enum cr_err
jobs_pass(struct cr_jobs *j, int what)
{
	time_t now = time(NULL);
	struct cr_notice_stats ns;
	struct cr_deliver_stats ds;
	struct timespec t0, t1;
	enum cr_err err = CR_OK, e;

	if (what & DO_NOTICES) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((e = cr_jobs_notices(j, now, &ns)) != CR_OK)
			err = e;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (ns.holders > 0 || e != CR_OK)
			cr_info("jobs", "notices: %ld mails queued for %ld certificates in %.3f s (%s)", ns.holders,
			    ns.certs, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
			    cr_err_str(e));
	}
	if (what & DO_DELIVER) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((e = cr_jobs_deliver(j, 100000, &ds)) != CR_OK)
			err = e;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (ds.sent + ds.retried + ds.failed > 0 || e != CR_OK)
			cr_info("jobs", "delivery: %ld sent, %ld to retry, %ld failed in %.3f s (%s)", ds.sent, ds.retried,
			    ds.failed, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
			    cr_err_str(e));
	}
	if ((what & DO_PURGE) && (e = purge_pass(j->cfg, j->store, now)) != CR_OK)
		err = e;
	if ((what & DO_PKI) && (e = pki_pass(j, now)) != CR_OK)
		err = e;
	return err;
}

/* Everything a jobs process needs besides the database: templates, texts, keys. */
static enum cr_err
jobs_setup(const struct cr_config *cfg, struct cr_jobs *j)
{
	char path[CR_CFG_STR + 32], errbuf[256], host[64] = "host";
	json_error_t jerr;
	const char *crash = getenv("CERTRENEW_TEST_CRASH_AFTER");

	j->cfg = cfg;
	if (cr_tmpl_set_new(&j->tmpl) != CR_OK)
		return CR_ERR_NOMEM;
	if (cr_tmpl_load_dir(j->tmpl, cfg->templates_dir, errbuf, sizeof(errbuf)) != CR_OK) {
		cr_error("jobs", "templates: %s", errbuf);
		return CR_ERR_CONFIG;
	}
	snprintf(path, sizeof(path), "%s/zh-Hant.json", cfg->locale_dir);
	if ((j->texts = json_load_file(path, 0, &jerr)) == NULL) {
		cr_error("jobs", "locale %s: %s", path, jerr.text);
		return CR_ERR_CONFIG;
	}
	if (cr_seal_key_load(cfg->outbox_key_file, &j->key) != CR_OK || cr_app_pki_open(cfg, &j->pki) != CR_OK)
		return CR_ERR_CONFIG;
	if (cfg->smtp_password_file[0] != '\0' &&
	    cr_read_secret_file(cfg->smtp_password_file, j->smtp_password, sizeof(j->smtp_password)) != CR_OK)
		return CR_ERR_CONFIG;
	j->mailer = (struct cr_mailer){cfg, j->tmpl, &j->key};
	gethostname(host, sizeof(host) - 1);
	snprintf(j->worker, sizeof(j->worker), "%.40s:%ld", host, (long)getpid());
	/* Crash-safety tests kill a run mid-batch on purpose; never in production. */
	if (crash != NULL && cfg->dev)
		j->test_crash_after = (int)strtol(crash, NULL, 10);
	return CR_OK;
}

static void
jobs_teardown(struct cr_jobs *j)
{
	cr_smtp_free(j->smtp);
	cr_pki_close(j->pki);
	json_decref(j->texts);
	cr_tmpl_set_free(j->tmpl);
	sodium_memzero(&j->key, sizeof(j->key));
	sodium_memzero(j->smtp_password, sizeof(j->smtp_password));
	cr_store_close(j->store);
}

int
cr_cmd_jobs(const struct cr_config *cfg, int argc, char **argv, const sigset_t *stop)
{
	struct cr_jobs j = {0};
	char errbuf[512];
	bool once = false;
	int interval = 60, rc = 0, what = DO_ALL;

	if (cr_cmd_wants_help(argc, argv,
	        "usage: certrenew jobs [--once] [--interval SECONDS] [--only notices|deliver|purge|pki]\n"
	        "Runs the background work every SECONDS (default 60) until SIGTERM or SIGINT:\n"
	        "renewal notices and reminders (queued in the outbox), outbox delivery (SMTP, or\n"
	        ".eml files under mail.dir when smtp.url is empty), housekeeping, the CRLs\n"
	        "(pki.crl_dir) and the destruction of expired superseded keys. Several may\n"
	        "run at once. --once runs one pass and exits, for cron.\n"))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			once = true;
		else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end != '\0' || v < 1 || v > 86400) {
				fprintf(stderr, "certrenew jobs: --interval must be 1..86400 seconds\n");
				return 1;
			}
			interval = (int)v;
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			const char *w = argv[++i];
			what = strcmp(w, "notices") == 0 ? DO_NOTICES : strcmp(w, "deliver") == 0 ? DO_DELIVER :
			    strcmp(w, "purge") == 0 ? DO_PURGE : strcmp(w, "pki") == 0 ? DO_PKI : 0;
			if (what == 0) {
				fprintf(stderr, "certrenew jobs: --only takes notices, deliver, purge or pki\n");
				return 1;
			}
		} else {
			fprintf(stderr, "certrenew jobs: unknown argument '%s' (see --help)\n", argv[i]);
			return 1;
		}
	}
	if (cr_config_check_mode(cfg, errbuf, sizeof(errbuf)) != CR_OK) {
		cr_error("jobs", "%s", errbuf);
		return 1;
	}
	if (jobs_setup(cfg, &j) != CR_OK || cr_store_open(cfg->database_url, 1, &j.store) != CR_OK) {
		jobs_teardown(&j);
		return 1;
	}
	for (;;) {
		struct timespec ts = {interval, 0};

		if (jobs_pass(&j, what) != CR_OK)
			rc = 1;
		if (once)
			break;
		if (sigtimedwait(stop, NULL, &ts) > 0) {
			cr_info("jobs", "stopping");
			break;
		}
	}
	jobs_teardown(&j);
	return rc;
}
