/*
 * Step 4 「激活證書」 (SPEC R9; seed steps 19-22): a cloudsign certificate renewed
 * online, its new key sealed in the holder's signing account, and the
 * revocation of certificates issued here. The order of an activation and why
 * it issues exactly one certificate whatever races or crashes happen is in
 * docs/internals/activation.md.
 *
 * Slow or remote work (DSI, Argon2id, key generation, signing) runs outside any
 * transaction; the store is written in short transactions around it, each with
 * its audit row: claim, reserve, issue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/passphrase.h"
#include "flow_int.h"
#include "pki/pki.h"
#include "util/file.h"
#include "util/log.h"
#include "util/timefmt.h"

#define SUBJECT_ACTIVATED "eSignTrust 電子證書服務（政府機關） - 部門用戶電子證書續期《成功激活》通知"
#define SUBJECT_REVERIFY "eSignTrust 電子證書服務（政府機關） - 部門用戶電子證書續期《需重新認證進行身份鑑別》通知"
#define RS_PENDING_ACTIVATION "pending_activation"
#define RS_PENDING_VERIFICATION "pending_verification"
#define RS_RENEWED "renewed"
#define CRL_MAX_ENTRIES 100000
#define REASON_UNSPECIFIED 0
#define REASON_KEY_COMPROMISE 1

/* DEV tests only: stops the process right after the named step, as a crash would. */
static void
crash_point(const struct cr_flow_ctx *c, const char *step)
{
	if (c->env->crash_at != NULL && strcmp(c->env->crash_at, step) == 0) {
		cr_warn("activate", "test crash after %s", step);
		_exit(86);
	}
}

/* ---- what an action is about ---- */

/* The application, its submission data and one of its certificates, loaded through the actor. */
struct target {
	struct cr_app_confirm confirm;
	struct cr_cert_view cert;
	char state[32];              /* the certificate's renewal state */
	time_t open_until;
};

static void
refuse(struct cr_flow_result *res, enum cr_flow_why why, int n)
{
	flow_result(res, CR_FLOW_REFUSED, why, n);
}

static void
unavailable(struct cr_flow_result *res, enum cr_flow_why why)
{
	flow_result(res, CR_FLOW_UNAVAILABLE, why, 0);
}

/* The actor's submitted application app_id into res->app; false with the result set otherwise. */
static bool
load_submitted(const struct cr_flow_ctx *c, int64_t app_id, struct cr_app_confirm *confirm, struct cr_flow_result *res)
{
	enum cr_err err;

	memset(res, 0, sizeof(*res));
	if (c->actor == NULL || (err = cr_flow_app_get(c, app_id, &res->app)) == CR_ERR_NOTFOUND) {
		memset(&res->app, 0, sizeof(res->app));
		refuse(res, CR_WHY_NOT_FOUND, 0);
		return false;
	}
	if (err != CR_OK || (err = cr_db_app_confirm_get(c->db, app_id, confirm)) != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	if (res->app.state != CR_APP_SUBMITTED) {
		refuse(res, CR_WHY_WRONG_STEP, 0);
		return false;
	}
	return true;
}

/* Whether cert_id is one of the application's certificates; *found. */
static enum cr_err
cert_in_app(const struct cr_flow_ctx *c, int64_t app_id, int64_t cert_id, struct cr_cert_view *out, bool *found)
{
	struct cr_cert_view *v = calloc(CR_FLOW_MAX_CERTS, sizeof(*v));
	size_t n = 0;
	enum cr_err err;

	*found = false;
	if (v == NULL)
		return CR_ERR_NOMEM;
	if ((err = cr_db_app_certs(c->db, app_id, v, CR_FLOW_MAX_CERTS, &n)) == CR_OK)
		for (size_t i = 0; i < n && !*found; i++)
			if (v[i].c.id == cert_id) {
				*out = v[i];
				*found = true;
			}
	free(v);
	return err;
}

/* The certificate's renewal state as seen from application app_id: "elsewhere" when the renewal now
   belongs to another application (its certificates were sent back and verified again there), so an
   old application never activates, or moves, what a newer one holds. */
static enum cr_err
renewal_in_app(const struct cr_flow_ctx *c, int64_t cert_id, int64_t app_id, char *state, size_t statelen)
{
	int64_t owner = 0;
	enum cr_err err = cr_db_renewal_of(c->db, cert_id, state, statelen, &owner);

	if (err == CR_OK && owner != app_id && strcmp(state, RS_PENDING_VERIFICATION) != 0)
		snprintf(state, statelen, "elsewhere");
	return err;
}

/* Loads the target of an activation; false with the result set when there is none. A renewed
   certificate loads (t->state says so) so that a repeated 「激活證書」 can answer with its result. */
static bool
load_target(const struct cr_flow_ctx *c, int64_t app_id, int64_t cert_id, struct target *t, struct cr_flow_result *res)
{
	bool found = false;
	enum cr_err err;

	memset(t, 0, sizeof(*t));
	if (!load_submitted(c, app_id, &t->confirm, res))
		return false;
	if ((err = cert_in_app(c, app_id, cert_id, &t->cert, &found)) == CR_OK && found)
		err = renewal_in_app(c, cert_id, app_id, t->state, sizeof(t->state));
	if (err != CR_OK && err != CR_ERR_NOTFOUND) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	if (!found || err == CR_ERR_NOTFOUND) {
		cr_warn("activate", "application %lld: certificate %lld is not one of it", (long long)app_id,
		    (long long)cert_id);
		refuse(res, CR_WHY_NOT_FOUND, 0);
		return false;
	}
	t->open_until = t->confirm.submitted_at + (time_t)c->env->activation_window_days * 86400;
	return true;
}

/* The rules 「激活」 and 「激活證書」 share, once the target is loaded: a waiting cloudsign certificate,
   inside the window, still valid. A closed window sends it back to verification (audited). */
static bool
activatable(const struct cr_flow_ctx *c, const struct target *t, struct cr_flow_result *res)
{
	enum cr_err err;

	if (t->cert.c.type != CR_CERT_CLOUDSIGN || strcmp(t->state, RS_PENDING_ACTIVATION) != 0) {
		cr_warn("activate", "application %lld: certificate %s is %s, not waiting for activation",
		    (long long)res->app.id, t->cert.c.serial_hex, t->state);
		refuse(res, CR_WHY_NOT_ACTIVATABLE, 0);
		return false;
	}
	if (strcmp(t->cert.c.status, "issued") != 0 || t->cert.c.not_after <= c->now) {
		cr_warn("activate", "application %lld: certificate %s is %s", (long long)res->app.id, t->cert.c.serial_hex,
		    t->cert.c.status);
		refuse(res, CR_WHY_CERT_INVALID, 0);
		return false;
	}
	if (c->now <= t->open_until)
		return true;
	if ((err = cr_db_begin(c->db)) == CR_OK &&
	    (err = cr_db_renewal_move_app(c->db, t->cert.c.id, res->app.id, RS_PENDING_ACTIVATION, RS_PENDING_VERIFICATION,
	         c->now)) == CR_OK)
		err = flow_audit_app(c, "activation_closed", res->app.id, t->cert.c.serial_hex);
	if ((err = flow_commit(c, err)) != CR_OK && err != CR_ERR_CONFLICT) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	cr_info("activate", "application %lld: activation window closed; certificate %s back to verification",
	    (long long)res->app.id, t->cert.c.serial_hex);
	refuse(res, CR_WHY_ACTIVATION_CLOSED, 0);
	return false;
}

/* ---- R9.2: DSI read again before activation ---- */

/* Whether a re-read made after submission matched within the recheck period (a read in the second
   of submission counts as step 1's: read again). */
static bool
recheck_fresh(const struct cr_flow_ctx *c, const struct target *t, const struct cr_id_check *last)
{
	return strcmp(last->outcome, "match") == 0 && last->at > t->confirm.submitted_at &&
	       last->at + (time_t)c->env->activation_recheck_minutes * 60 > c->now;
}

/* One 《需重新認證進行身份鑑別》 mail per address, listing the certificates sent back to it. */
static enum cr_err
reverify_mail(const struct cr_flow_ctx *c, const struct cr_cert_view *moved, size_t n)
{
	char url[CR_TEXT * 2];
	enum cr_err err = CR_OK;

	snprintf(url, sizeof(url), "%s/ecmp/certrenewal", c->env->base_url);
	for (size_t i = 0; i < n && err == CR_OK; i++) {
		json_t *certs, *mail;
		bool first = true;
		int64_t outbox_id;

		for (size_t j = 0; j < i; j++)
			if (strcmp(moved[j].c.email, moved[i].c.email) == 0)
				first = false;
		if (!first)
			continue;
		certs = json_array();
		for (size_t j = i; j < n; j++)
			if (strcmp(moved[j].c.email, moved[i].c.email) == 0) {
				char expiry[16];

				cr_macau_date(moved[j].c.not_after, expiry);
				json_array_append_new(certs, json_pack("{s:s, s:s, s:s}", "type_label",
				    cr_cert_type_label_zh(moved[j].c.type), "serial", moved[j].c.serial_hex, "expiry", expiry));
			}
		if ((mail = json_pack("{s:s, s:s, s:o}", "name", c->actor->name, "login_url", url, "certs", certs)) == NULL)
			return CR_ERR_NOMEM;
		err = cr_mailer_queue(c->env->mailer, c->db, "reverify", moved[i].c.email, SUBJECT_REVERIFY, "reverify", mail,
		    c->now, &outbox_id);
		json_decref(mail);
	}
	return err;
}

/* The changed card: the evidence, the application's waiting certificates back to 「待身份鑑別之證書」
   and the mail, in one transaction. */
static enum cr_err
record_id_changed(const struct cr_flow_ctx *c, const struct cr_application *app, const struct cr_id_check *row,
    const char *detail)
{
	struct cr_cert_view *v = calloc(CR_FLOW_MAX_CERTS, sizeof(*v));
	struct cr_cert_view *moved = calloc(CR_FLOW_MAX_CERTS, sizeof(*moved));
	size_t n = 0, m = 0;
	int64_t id = 0;
	enum cr_err err;

	if (v == NULL || moved == NULL) {
		free(v);
		free(moved);
		return CR_ERR_NOMEM;
	}
	if ((err = cr_db_app_certs(c->db, app->id, v, CR_FLOW_MAX_CERTS, &n)) == CR_OK &&
	    (err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_id_check_add(c->db, row, &id)) == CR_OK) {
		for (size_t i = 0; i < n && err == CR_OK; i++) {
			err = cr_db_renewal_move_app(c->db, v[i].c.id, app->id, RS_PENDING_ACTIVATION, RS_PENDING_VERIFICATION,
			    c->now);
			if (err == CR_OK)
				moved[m++] = v[i];
			else if (err == CR_ERR_CONFLICT)
				err = CR_OK; /* not waiting for activation: left alone */
		}
		if (err == CR_OK && m > 0)
			err = reverify_mail(c, moved, m);
		if (err == CR_OK)
			err = flow_audit_app(c, "activation_id_changed", app->id, detail);
		err = flow_commit(c, err);
	}
	free(v);
	free(moved);
	return err;
}

/* Reads DSI again unless a re-read stands; true when the card still matches (the read recorded).
   False with the result set otherwise: ID_CHANGED (and everything record_id_changed does) or
   DSI_DOWN. */
static bool
recheck_dsi(const struct cr_flow_ctx *c, const struct target *t, struct cr_flow_result *res)
{
	struct cr_id_check last = {0}, row;
	struct cr_dsi_resident dsi;
	struct cr_id_registration reg;
	struct cr_id_match m = {0};
	struct cr_buf raw;
	unsigned char *sealed = NULL;
	char today[16], detail[200];
	bool found = true, same_card, match;
	int64_t id = 0;
	enum cr_err err = cr_db_id_check_latest(c->db, res->app.id, &last);

	if (err != CR_OK && err != CR_ERR_NOTFOUND) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	if (err == CR_OK && recheck_fresh(c, t, &last))
		return true;
	if (c->env->dsi == NULL || c->env->evidence_key == NULL) {
		cr_error("activate", "no DSI or no evidence key is configured: the re-read of R9.2 cannot run");
		unavailable(res, CR_WHY_DSI_DOWN);
		return false;
	}
	cr_buf_init(&raw, CR_DSI_ANSWER_MAX);
	if ((err = cr_dsi_resident_get(c->env->dsi, c->actor->id_number, &dsi, &raw)) == CR_ERR_NOTFOUND) {
		found = false;
		memset(&dsi, 0, sizeof(dsi));
	} else if (err != CR_OK) {
		cr_buf_free_secret(&raw);
		cr_error("activate", "application %lld: DSI re-read failed: %s", (long long)res->app.id, cr_err_str(err));
		flow_audit_alone(c, "dsi_unavailable", res->app.id, "re-read before activation");
		unavailable(res, CR_WHY_DSI_DOWN);
		return false;
	}
	if (found) {
		flow_registration_of(c->actor, &reg);
		cr_macau_date(c->now, today);
		cr_identity_compare(&reg, &dsi.card, today, &m);
	}
	/* A renewed or replaced card is a change too: the certificates were verified against the old one. */
	same_card = last.card_expires_on[0] == '\0' || strcmp(last.card_expires_on, dsi.card.expires_on) == 0;
	match = found && m.name && m.name_zh && m.id_number && m.card_valid && same_card;
	snprintf(detail, sizeof(detail), "DSI re-read %s: name %s, Chinese name %s, ID number %s, card %s%s",
	    found ? dsi.transaction_id : "not found", m.name ? "ok" : "differs", m.name_zh ? "ok" : "differs",
	    m.id_number ? "ok" : "differs", m.card_valid ? "valid" : "not valid", same_card ? "" : ", another card");
	err = flow_id_evidence(c, &res->app, &dsi, &raw, &m, match ? "match" : found ? "mismatch" : "not_found", &row,
	    &sealed);
	cr_buf_free_secret(&raw);
	sodium_memzero(&dsi, sizeof(dsi));
	if (err == CR_OK && match) {
		if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_id_check_add(c->db, &row, &id)) == CR_OK)
			err = flow_audit_app(c, "activation_id_matched", res->app.id, detail);
		err = flow_commit(c, err);
	} else if (err == CR_OK)
		err = record_id_changed(c, &res->app, &row, detail);
	free(sealed);
	if (err != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	if (!match) {
		cr_warn("activate", "application %lld: %s; certificates back to verification", (long long)res->app.id, detail);
		refuse(res, CR_WHY_ID_CHANGED, 0);
	}
	return match;
}

/* ---- the step 4 page ---- */

static enum cr_err
renewed_cert(const struct cr_flow_ctx *c, int64_t renewed_id, struct cr_cert_view *out, bool *renewed)
{
	struct cr_issuance iss;
	enum cr_err err = cr_db_issuance_of(c->db, renewed_id, &iss);

	*renewed = false;
	if (err == CR_ERR_NOTFOUND || (err == CR_OK && strcmp(iss.state, "issued") != 0))
		return CR_OK;
	if (err == CR_OK && (err = cr_db_cert_of_holder(c->db, iss.new_cert_id, flow_actor_id(c), out, NULL)) == CR_OK)
		*renewed = true;
	return err;
}

void
cr_flow_activation_view(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_activation *out,
    struct cr_flow_result *res)
{
	struct cr_app_confirm confirm;
	struct cr_cert_view *v;
	size_t n = 0;
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	if (!load_submitted(c, app_id, &confirm, res))
		return;
	out->open_until = confirm.submitted_at + (time_t)c->env->activation_window_days * 86400;
	if ((v = calloc(CR_FLOW_MAX_CERTS, sizeof(*v))) == NULL) {
		unavailable(res, CR_WHY_NONE);
		return;
	}
	err = cr_db_app_certs(c->db, app_id, v, CR_FLOW_MAX_CERTS, &n);
	for (size_t i = 0; i < n && err == CR_OK && out->n < CR_ACTIVATION_MAX; i++) {
		struct cr_flow_activation_cert *a = &out->certs[out->n++];

		a->cert = v[i];
		if ((err = renewal_in_app(c, v[i].c.id, app_id, a->renewal_state, sizeof(a->renewal_state))) != CR_OK)
			break;
		a->activatable = v[i].c.type == CR_CERT_CLOUDSIGN && strcmp(a->renewal_state, RS_PENDING_ACTIVATION) == 0 &&
		                 strcmp(v[i].c.status, "issued") == 0 && v[i].c.not_after > c->now &&
		                 c->now <= out->open_until && c->env->pki != NULL;
		if (strcmp(a->renewal_state, RS_RENEWED) == 0)
			err = renewed_cert(c, v[i].c.id, &a->new_cert, &a->renewed);
	}
	free(v);
	flow_result(res, err == CR_OK ? CR_FLOW_DONE : CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
}

/* ---- 「激活」 ---- */

/* The certificate's signing account; NO_ACCOUNT refused when the certificate names none known. */
static bool
load_account(const struct cr_flow_ctx *c, const struct target *t, struct cr_signing_account *a,
    struct cr_flow_result *res)
{
	enum cr_err err = t->cert.c.signing_account[0] == '\0'
	                      ? CR_ERR_NOTFOUND
	                      : cr_db_account_get(c->db, t->cert.c.signing_account, t->cert.c.holder_id, a);

	if (err == CR_ERR_NOTFOUND) {
		cr_warn("activate", "certificate %s names no signing account known here", t->cert.c.serial_hex);
		refuse(res, CR_WHY_NO_ACCOUNT, 0);
		return false;
	}
	if (err != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	return true;
}

static int
tries_left(const struct cr_flow_ctx *c, const struct cr_signing_account *a)
{
	int left = c->env->activation_max_wrong - a->wrong_tries;

	return left > 0 ? left : 0;
}

void
cr_flow_activate_open(const struct cr_flow_ctx *c, int64_t app_id, int64_t cert_id, struct cr_flow_activate_form *out,
    struct cr_flow_result *res)
{
	struct target t;
	struct cr_signing_account a;

	memset(out, 0, sizeof(*out));
	if (!load_target(c, app_id, cert_id, &t, res) || !activatable(c, &t, res))
		return;
	out->cert = t.cert;
	if (c->env->pki == NULL) {
		cr_error("activate", "no CA is configured: activation cannot run");
		unavailable(res, CR_WHY_ISSUE_DOWN);
		return;
	}
	if (!load_account(c, &t, &a, res))
		return;
	snprintf(out->account, sizeof(out->account), "%s", a.name);
	out->tries_left = tries_left(c, &a);
	if (a.locked_until > c->now) {
		out->locked_until = a.locked_until;
		refuse(res, CR_WHY_ACCOUNT_LOCKED, 0);
		return;
	}
	if (!recheck_dsi(c, &t, res))
		return;
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

void
cr_flow_activate_form_get(const struct cr_flow_ctx *c, int64_t app_id, int64_t cert_id,
    struct cr_flow_activate_form *out, struct cr_flow_result *res)
{
	struct target t;
	struct cr_signing_account a;

	memset(out, 0, sizeof(*out));
	if (!load_target(c, app_id, cert_id, &t, res))
		return;
	out->cert = t.cert;
	if (!load_account(c, &t, &a, res))
		return;
	snprintf(out->account, sizeof(out->account), "%s", a.name);
	out->tries_left = tries_left(c, &a);
	out->locked_until = a.locked_until > c->now ? a.locked_until : 0;
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

enum cr_err
cr_flow_activation_app(const struct cr_flow_ctx *c, int64_t *app_id)
{
	*app_id = 0;
	if (c->actor == NULL)
		return CR_ERR_NOTFOUND;
	return cr_db_activation_app(c->db, c->actor->id, app_id);
}

/* ---- 「激活證書」 ---- */

/* What one activation carries between its steps. */
struct activation {
	struct target t;
	struct cr_signing_account account;
	struct cr_vault_row current;           /* the key of the certificate being renewed */
	struct cr_vault_sealed fresh;          /* the new key */
	struct cr_issuance iss;
	struct cr_pki_issued issued;
	char hash[CR_PASSPHRASE_HASH_LEN];
	time_t claim_until;                    /* this activation's claim on the account (0: none) */
};

static void
activation_wipe(struct activation *a)
{
	cr_pki_issued_free(&a->issued);
	sodium_memzero(a, sizeof(*a));
}

/* The answer to a certificate renewed already (a double click, a second tab, a retry). */
static bool
answer_renewed(const struct cr_flow_ctx *c, const struct target *t, struct cr_flow_activated *out,
    struct cr_flow_result *res)
{
	struct cr_cert_view v;
	bool renewed = false;

	if (strcmp(t->state, RS_RENEWED) != 0)
		return false;
	if (renewed_cert(c, t->cert.c.id, &v, &renewed) != CR_OK || !renewed) {
		refuse(res, CR_WHY_NOT_ACTIVATABLE, 0);
		return true;
	}
	out->new_cert_id = v.c.id;
	snprintf(out->serial_hex, sizeof(out->serial_hex), "%s", v.c.serial_hex);
	out->not_before = v.c.not_before;
	out->not_after = v.c.not_after;
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
	return true;
}

static bool
passphrase_ok(const struct cr_flow_ctx *c, const struct activation *a, const char *password, const char *passphrase,
    const char *again, struct cr_flow_result *res)
{
	const char *own[] = {c->actor->name, c->actor->name_zh, c->actor->email, c->actor->id_number, a->account.name,
	    a->t.cert.c.email, NULL};
	enum cr_passphrase_verdict v = cr_passphrase_judge(passphrase, again, password, own, NULL);

	if (v == CR_PASS_OK)
		return true;
	cr_info("activate", "application %lld: revocation passphrase refused (%s)", (long long)res->app.id,
	    cr_passphrase_verdict_name(v));
	refuse(res, CR_WHY_PASSPHRASE_BAD, (int)v);
	return false;
}

static void
release(const struct cr_flow_ctx *c, const struct activation *a)
{
	if (a->claim_until != 0 && cr_db_account_release(c->db, a->account.id, a->claim_until) != CR_OK)
		cr_warn("activate", "account %lld: cannot release the claim (it expires by itself)", (long long)a->account.id);
}

/* Holds the account for this activation: BUSY while another holds it, ACCOUNT_LOCKED when a
   lock came meanwhile (the claim checks it again, so no request slips between a lock and it). */
static bool
claim(const struct cr_flow_ctx *c, struct activation *a, struct cr_flow_activated *out, struct cr_flow_result *res)
{
	time_t until = c->now + c->env->activation_claim_seconds;
	struct cr_signing_account now;
	enum cr_err err;

	if ((err = cr_db_begin(c->db)) == CR_OK)
		err = cr_db_account_claim(c->db, a->account.id, c->now, until);
	if ((err = flow_commit(c, err)) == CR_ERR_CONFLICT) {
		if (cr_db_account_get(c->db, a->account.name, a->account.holder_id, &now) == CR_OK &&
		    now.locked_until > c->now) {
			out->locked_until = now.locked_until;
			refuse(res, CR_WHY_ACCOUNT_LOCKED, 0);
			return false;
		}
		cr_info("activate", "account %lld: another activation holds it", (long long)a->account.id);
		refuse(res, CR_WHY_BUSY, 0);
		return false;
	}
	if (err != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	a->claim_until = until;
	crash_point(c, "claim");
	return true;
}

/* Abandons reservation r (its key destroyed, its serial never reused), audited: CR_ERR_CONFLICT
   when it is not reserved any more (issued or abandoned by another meanwhile). */
static enum cr_err
abandon(const struct cr_flow_ctx *c, const struct cr_issuance *r, const char *why)
{
	char detail[200];
	enum cr_err err;

	snprintf(detail, sizeof(detail), "issuance %lld, serial %s: %s", (long long)r->id, r->serial_hex, why);
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_issuance_abandon(c->db, r->id, c->now)) == CR_OK &&
	    (err = cr_db_vault_key_destroy(c->db, r->vault_key_id, c->now)) == CR_OK)
		err = flow_audit_app(c, "issuance_abandoned", r->application_id, detail);
	if ((err = flow_commit(c, err)) == CR_OK)
		cr_warn("activate", "application %lld: %s", (long long)r->application_id, detail);
	return err;
}

/* A reservation left by an activation that stopped between reserve and issue: abandoned (its key
   destroyed, its serial never reused) once it is older than a claim, so no live activation owns it.
   True when the way is clear; false with BUSY or the answer set otherwise. */
static bool
clear_stale(const struct cr_flow_ctx *c, struct activation *a, struct cr_flow_activated *out,
    struct cr_flow_result *res)
{
	struct cr_issuance old;
	enum cr_err err = cr_db_issuance_of(c->db, a->t.cert.c.id, &old);

	if (err == CR_ERR_NOTFOUND)
		return true;
	if (err != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	if (strcmp(old.state, "issued") == 0) {
		snprintf(a->t.state, sizeof(a->t.state), "%s", RS_RENEWED);
		return !answer_renewed(c, &a->t, out, res);
	}
	if (old.reserved_at + c->env->activation_claim_seconds > c->now) {
		refuse(res, CR_WHY_BUSY, 0);
		return false;
	}
	if ((err = abandon(c, &old, "the activation stopped before issuing")) == CR_ERR_CONFLICT) {
		/* Issued (or abandoned) by another meanwhile: say what is true now. */
		if (cr_db_issuance_of(c->db, a->t.cert.c.id, &old) == CR_OK && strcmp(old.state, "issued") == 0) {
			snprintf(a->t.state, sizeof(a->t.state), "%s", RS_RENEWED);
			return !answer_renewed(c, &a->t, out, res);
		}
		refuse(res, CR_WHY_BUSY, 0);
		return false;
	}
	if (err != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	return true;
}

/* Counts a wrong password (the max-th locks the account) and says how many are left. */
static void
password_wrong(const struct cr_flow_ctx *c, struct activation *a, struct cr_flow_activated *out,
    struct cr_flow_result *res)
{
	time_t until = c->now + (time_t)c->env->activation_lock_minutes * 60;
	char detail[CR_TEXT + 48];
	int tries = 0;
	enum cr_err err;

	if ((err = cr_db_begin(c->db)) == CR_OK &&
	    (err = cr_db_account_wrong(c->db, a->account.id, c->env->activation_max_wrong, until, &tries)) == CR_OK) {
		snprintf(detail, sizeof(detail), "account %s: wrong signing password%s", a->account.name,
		    tries == 0 ? ", locked" : "");
		if ((err = flow_audit_app(c, "activation_password_wrong", res->app.id, detail)) == CR_OK)
			err = cr_db_account_release(c->db, a->account.id, a->claim_until);
	}
	if ((err = flow_commit(c, err)) != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return;
	}
	cr_warn("activate", "application %lld: wrong signing password for account %lld%s", (long long)res->app.id,
	    (long long)a->account.id, tries == 0 ? ": locked" : "");
	if (tries == 0) {
		out->locked_until = until;
		refuse(res, CR_WHY_ACCOUNT_LOCKED, 0);
	} else
		refuse(res, CR_WHY_PASSWORD_WRONG, c->env->activation_max_wrong - tries);
}

/* The password must open the renewed certificate's key; then a new key sealed under it, the
   passphrase's hash and a serial. No transaction: Argon2id and key generation are slow. */
static bool
prepare(const struct cr_flow_ctx *c, struct activation *a, const char *password, const char *passphrase,
    struct cr_flow_activated *out, struct cr_flow_result *res)
{
	struct cr_vault_kdf kdf = {.ops = (unsigned long long)a->account.kdf_ops, .mem = (size_t)a->account.kdf_mem};
	struct cr_vault_sealed cur = {0};
	struct cr_vault_unlock *u = NULL;
	enum cr_err err = cr_db_vault_key_of_cert(c->db, a->account.id, a->t.cert.c.id, &a->current);

	if (err == CR_ERR_NOTFOUND || (err == CR_OK && (a->current.sealed_len > sizeof(cur.sealed) ||
	                                                   a->current.public_len > sizeof(cur.public_der)))) {
		cr_error("activate", "account %lld holds no usable key of certificate %s", (long long)a->account.id,
		    a->t.cert.c.serial_hex);
		release(c, a);
		refuse(res, CR_WHY_NO_ACCOUNT, 0);
		return false;
	}
	if (err != CR_OK) {
		release(c, a);
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	memcpy(kdf.salt, a->account.kdf_salt, sizeof(kdf.salt));
	memcpy(cur.sealed, a->current.sealed, a->current.sealed_len);
	cur.sealed_len = a->current.sealed_len;
	memcpy(cur.public_der, a->current.public_der, a->current.public_len);
	cur.public_len = a->current.public_len;
	err = cr_pki_vault_unlock(c->env->pki, a->account.name, password, &kdf, &cur, &u);
	sodium_memzero(&cur, sizeof(cur));
	if (err == CR_ERR_DENIED) {
		password_wrong(c, a, out, res);
		return false;
	}
	if (err == CR_OK && (err = cr_pki_vault_new_key(c->env->pki, u, &a->fresh)) == CR_OK)
		err = cr_pki_passphrase_hash(c->env->pki, passphrase, a->hash);
	cr_pki_vault_unlock_free(u);
	if (err != CR_OK) {
		cr_error("activate", "account %lld: the vault failed: %s", (long long)a->account.id, cr_err_str(err));
		release(c, a);
		unavailable(res, CR_WHY_ISSUE_DOWN);
		return false;
	}
	return true;
}

/* Records the new key and the issuance before the CA signs: every serial signed is on record. */
static bool
reserve(const struct cr_flow_ctx *c, struct activation *a, struct cr_flow_result *res)
{
	struct cr_vault_row *k = calloc(1, sizeof(*k));
	char detail[240];
	enum cr_err err;

	if (k == NULL || a->fresh.sealed_len > sizeof(k->sealed) || a->fresh.public_len > sizeof(k->public_der)) {
		free(k);
		release(c, a);
		unavailable(res, CR_WHY_ISSUE_DOWN);
		return false;
	}
	k->account_id = a->account.id;
	memcpy(k->sealed, a->fresh.sealed, a->fresh.sealed_len);
	k->sealed_len = a->fresh.sealed_len;
	memcpy(k->public_der, a->fresh.public_der, a->fresh.public_len);
	k->public_len = a->fresh.public_len;
	a->iss = (struct cr_issuance){.renewed_cert_id = a->t.cert.c.id, .application_id = res->app.id,
	    .holder_id = a->t.cert.c.holder_id, .account_id = a->account.id, .reserved_at = c->now};
	cr_pki_serial_new(a->iss.serial_hex);
	snprintf(a->iss.state, sizeof(a->iss.state), "reserved");
	snprintf(a->iss.revocation_hash, sizeof(a->iss.revocation_hash), "%s", a->hash);
	snprintf(detail, sizeof(detail), "certificate %s: serial %s reserved", a->t.cert.c.serial_hex, a->iss.serial_hex);
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_account_right(c->db, a->account.id)) == CR_OK &&
	    (err = cr_db_vault_key_add(c->db, k, c->now, &a->iss.vault_key_id)) == CR_OK &&
	    (err = cr_db_issuance_reserve(c->db, &a->iss, &a->iss.id)) == CR_OK)
		err = flow_audit_app(c, "issuance_reserved", res->app.id, detail);
	sodium_memzero(k, sizeof(*k));
	free(k);
	if ((err = flow_commit(c, err)) != CR_OK) {
		release(c, a);
		if (err == CR_ERR_CONFLICT)
			refuse(res, CR_WHY_BUSY, 0);
		else
			unavailable(res, CR_WHY_NONE);
		return false;
	}
	crash_point(c, "reserve");
	return true;
}

/* The CA signs the certificate the issuance reserved: the subject of the renewed certificate with
   the 職務/職級/職位 chosen at the declaration. */
static bool
sign(const struct cr_flow_ctx *c, struct activation *a, struct cr_flow_result *res)
{
	const struct cr_cert *old = &a->t.cert.c;
	const char *title = a->t.confirm.position[0] != '\0' ? a->t.confirm.position : old->position;
	struct cr_pki_request r = {.type = old->type,
	    .subject = {a->t.cert.holder_name, old->email, a->t.cert.org_name, old->department, title},
	    .public_key_der = a->fresh.public_der, .public_key_len = a->fresh.public_len,
	    .serial_hex = a->iss.serial_hex, .not_before = c->now};
	enum cr_err err = cr_pki_issue(c->env->pki, &r, &a->issued);

	if (err != CR_OK) {
		/* Nothing was signed: the reservation is abandoned at once (the jobs worker sweeps it if not). */
		cr_error("activate", "application %lld: the CA failed to issue serial %s: %s", (long long)res->app.id,
		    a->iss.serial_hex, cr_err_str(err));
		(void)abandon(c, &a->iss, "the CA failed to sign");
		release(c, a);
		unavailable(res, CR_WHY_ISSUE_DOWN);
		return false;
	}
	crash_point(c, "sign");
	return true;
}

static enum cr_err
activated_mail(const struct cr_flow_ctx *c, const struct activation *a)
{
	char expiry[16];
	int64_t outbox_id;
	json_t *mail;
	enum cr_err err;

	cr_macau_date(a->issued.not_after, expiry);
	mail = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "name", c->actor->name, "certs", "type_label",
	    cr_cert_type_label_zh(a->t.cert.c.type), "serial", a->issued.serial_hex, "expiry", expiry);
	if (mail == NULL)
		return CR_ERR_NOMEM;
	err = cr_mailer_queue(c->env->mailer, c->db, "activated", a->t.cert.c.email, SUBJECT_ACTIVATED, "activated", mail,
	    c->now, &outbox_id);
	json_decref(mail);
	return err;
}

/* The certificate stored with everything it changes, in one transaction. */
static bool
issue(const struct cr_flow_ctx *c, struct activation *a, struct cr_flow_activated *out, struct cr_flow_result *res)
{
	const struct cr_cert *old = &a->t.cert.c;
	struct cr_cert nc = {.type = old->type, .not_before = a->issued.not_before, .not_after = a->issued.not_after,
	    .holder_id = old->holder_id, .org_id = old->org_id, .der = a->issued.der, .der_len = a->issued.der_len};
	char detail[CR_TEXT * 2];
	int64_t id = 0;
	enum cr_err err;

	snprintf(nc.serial_hex, sizeof(nc.serial_hex), "%s", a->issued.serial_hex);
	snprintf(nc.status, sizeof(nc.status), "issued");
	snprintf(nc.email, sizeof(nc.email), "%s", old->email);
	snprintf(nc.department, sizeof(nc.department), "%s", old->department);
	snprintf(nc.position, sizeof(nc.position), "%s",
	    a->t.confirm.position[0] != '\0' ? a->t.confirm.position : old->position);
	snprintf(nc.signing_account, sizeof(nc.signing_account), "%s", old->signing_account);
	snprintf(detail, sizeof(detail), "certificate %s renewed by %s (issuance %lld, account %s)", old->serial_hex,
	    nc.serial_hex, (long long)a->iss.id, a->account.name);
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_cert_insert(c->db, &nc, &id)) == CR_OK &&
	    (err = cr_db_cert_issued_here(c->db, id, a->hash)) == CR_OK &&
	    (err = cr_db_issuance_done(c->db, a->iss.id, id, c->now)) == CR_OK &&
	    (err = cr_db_vault_key_bind(c->db, a->iss.vault_key_id, id)) == CR_OK &&
	    (err = cr_db_cert_supersede(c->db, old->id, id)) == CR_OK &&
	    (err = cr_db_renewal_move_app(c->db, old->id, res->app.id, RS_PENDING_ACTIVATION, RS_RENEWED, c->now)) == CR_OK &&
	    (err = activated_mail(c, a)) == CR_OK && (err = flow_audit_app(c, "certificate_issued", res->app.id, detail)) ==
	        CR_OK)
		err = cr_db_account_release(c->db, a->account.id, a->claim_until);
	if ((err = flow_commit(c, err)) != CR_OK) {
		/* The signed certificate never leaves the process; its reservation is abandoned (if another did
		   not abandon it already), so the serial is never reused. */
		cr_error("activate", "application %lld: storing serial %s failed: %s", (long long)res->app.id, nc.serial_hex,
		    cr_err_str(err));
		(void)abandon(c, &a->iss, "storing the certificate failed");
		release(c, a);
		flow_result(res, CR_FLOW_UNAVAILABLE, err == CR_ERR_CONFLICT ? CR_WHY_BUSY : CR_WHY_NONE, 0);
		return false;
	}
	crash_point(c, "issue");
	out->new_cert_id = id;
	snprintf(out->serial_hex, sizeof(out->serial_hex), "%s", nc.serial_hex);
	out->not_before = nc.not_before;
	out->not_after = nc.not_after;
	cr_info("activate", "application %lld: %s", (long long)res->app.id, detail);
	return true;
}

void
cr_flow_activate(const struct cr_flow_ctx *c, int64_t app_id, int64_t cert_id, const char *password,
    const char *passphrase, const char *again, struct cr_flow_activated *out, struct cr_flow_result *res)
{
	struct activation *a = calloc(1, sizeof(*a));

	memset(out, 0, sizeof(*out));
	if (a == NULL) {
		memset(res, 0, sizeof(*res));
		unavailable(res, CR_WHY_NONE);
		return;
	}
	if (!load_target(c, app_id, cert_id, &a->t, res) || answer_renewed(c, &a->t, out, res) ||
	    !activatable(c, &a->t, res))
		goto out;
	if (c->env->pki == NULL) {
		cr_error("activate", "no CA is configured: activation cannot run");
		unavailable(res, CR_WHY_ISSUE_DOWN);
		goto out;
	}
	if (!load_account(c, &a->t, &a->account, res) ||
	    !passphrase_ok(c, a, password != NULL ? password : "", passphrase, again, res))
		goto out;
	if (a->account.locked_until > c->now) {
		out->locked_until = a->account.locked_until;
		refuse(res, CR_WHY_ACCOUNT_LOCKED, 0);
		goto out;
	}
	if (password == NULL || password[0] == '\0' || strlen(password) > CR_PASSWORD_MAX) {
		refuse(res, CR_WHY_PASSWORD_WRONG, tries_left(c, &a->account));
		goto out;
	}
	if (!recheck_dsi(c, &a->t, res) || !claim(c, a, out, res))
		goto out;
	if (!clear_stale(c, a, out, res)) {
		release(c, a);
		goto out;
	}
	if (!prepare(c, a, password, passphrase, out, res) || !reserve(c, a, res) || !sign(c, a, res) ||
	    !issue(c, a, out, res))
		goto out;
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
out:
	activation_wipe(a);
	free(a);
}

/* ---- certificates issued here and their revocation ---- */

enum cr_err
cr_flow_issued_certs(const struct cr_flow_ctx *c, struct cr_cert_view *out, size_t max, size_t *n)
{
	*n = 0;
	if (c->actor == NULL)
		return CR_ERR_NOTFOUND;
	return cr_db_holder_issued_certs(c->db, c->actor->id, out, max, n);
}

enum cr_err
cr_flow_certificate_get(const struct cr_flow_ctx *c, int64_t cert_id, struct cr_buf *der)
{
	struct cr_cert_view v;

	if (c->actor == NULL)
		return CR_ERR_NOTFOUND;
	return cr_db_cert_of_holder(c->db, cert_id, c->actor->id, &v, der);
}

/* Counts this attempt before Argon2id runs, so that parallel guesses are counted too and none runs
   once the lock is set; false with REVOKE_LOCKED (or the store failing) otherwise. */
static bool
revoke_attempt(const struct cr_flow_ctx *c, const struct cr_cert_view *v, int *tries, struct cr_flow_result *res)
{
	time_t until = c->now + (time_t)c->env->activation_lock_minutes * 60;
	enum cr_err err;

	if ((err = cr_db_begin(c->db)) == CR_OK)
		err = cr_db_revocation_attempt(c->db, v->c.id, c->env->activation_max_wrong, c->now, until, tries);
	if ((err = flow_commit(c, err)) == CR_ERR_CONFLICT) {
		refuse(res, CR_WHY_REVOKE_LOCKED, 0);
		return false;
	}
	if (err != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return false;
	}
	return true;
}

static void
revoke_wrong(const struct cr_flow_ctx *c, const struct cr_cert_view *v, int tries, struct cr_flow_result *res)
{
	char object[40];

	snprintf(object, sizeof(object), "certificate:%lld", (long long)v->c.id);
	flow_audit_alone_object(c, "revocation_passphrase_wrong", object, tries == 0 ? "locked" : "");
	cr_warn("revoke", "certificate %s: wrong revocation passphrase%s", v->c.serial_hex, tries == 0 ? ", locked" : "");
	if (tries == 0)
		refuse(res, CR_WHY_REVOKE_LOCKED, 0);
	else
		refuse(res, CR_WHY_REVOKE_WRONG, c->env->activation_max_wrong - tries);
}

/* The revoked certificate's key in the vault, destroyed with the revocation: nothing may sign with
   it any more. */
static enum cr_err
destroy_key_of(const struct cr_flow_ctx *c, const struct cr_cert_view *v)
{
	struct cr_signing_account a;
	struct cr_vault_row *k;
	enum cr_err err;

	if (v->c.signing_account[0] == '\0')
		return CR_OK;
	if ((err = cr_db_account_get(c->db, v->c.signing_account, v->c.holder_id, &a)) == CR_ERR_NOTFOUND)
		return CR_OK;
	if (err != CR_OK || (k = calloc(1, sizeof(*k))) == NULL)
		return err != CR_OK ? err : CR_ERR_NOMEM;
	if ((err = cr_db_vault_key_of_cert(c->db, a.id, v->c.id, k)) == CR_OK)
		err = cr_db_vault_key_destroy(c->db, k->id, c->now);
	else if (err == CR_ERR_NOTFOUND)
		err = CR_OK;
	sodium_memzero(k, sizeof(*k));
	free(k);
	return err;
}

static enum cr_err publish_type(const struct cr_flow_ctx *c, enum cr_cert_type t, struct cr_revoked_row *rows,
    struct cr_pki_revoked *entries, long *listed);

/* The revoked certificate's CRL, published at once (the jobs worker catches up if this fails). */
static void
publish_now(const struct cr_flow_ctx *c, enum cr_cert_type t)
{
	struct cr_revoked_row *rows = calloc(CRL_MAX_ENTRIES, sizeof(*rows));
	struct cr_pki_revoked *list = calloc(CRL_MAX_ENTRIES, sizeof(*list));
	long entries = 0;

	if (c->env->pki == NULL || c->env->crl_dir == NULL || rows == NULL || list == NULL ||
	    publish_type(c, t, rows, list, &entries) != CR_OK)
		cr_warn("revoke", "the CRL could not be published now; the jobs worker will");
	free(rows);
	free(list);
}

void
cr_flow_revoke(const struct cr_flow_ctx *c, int64_t cert_id, const char *passphrase, bool key_compromise,
    struct cr_flow_result *res)
{
	struct cr_cert_view v;
	struct cr_revocation_state rs;
	char object[40], detail[160];
	int reason = key_compromise ? REASON_KEY_COMPROMISE : REASON_UNSPECIFIED, tries = 0;
	enum cr_err err;

	memset(res, 0, sizeof(*res));
	if (c->actor == NULL || (err = cr_db_cert_of_holder(c->db, cert_id, c->actor->id, &v, NULL)) == CR_ERR_NOTFOUND) {
		refuse(res, CR_WHY_NOT_FOUND, 0);
		return;
	}
	if (err != CR_OK || (err = cr_db_revocation_state(c->db, cert_id, &rs)) != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return;
	}
	if (rs.hash[0] == '\0') {
		refuse(res, CR_WHY_NOT_REVOCABLE, 0);
		return;
	}
	if (rs.revoked_at != 0 || strcmp(v.c.status, "revoked") == 0) {
		refuse(res, CR_WHY_ALREADY_REVOKED, 0);
		return;
	}
	if (passphrase == NULL || strlen(passphrase) > CR_PASSWORD_MAX) {
		refuse(res, CR_WHY_REVOKE_WRONG, c->env->activation_max_wrong - rs.wrong);
		return;
	}
	if (!revoke_attempt(c, &v, &tries, res))
		return;
	/* The attempt that set the lock is still judged: it was counted before the lock existed. */
	if (!cr_pki_passphrase_check(rs.hash, passphrase)) {
		revoke_wrong(c, &v, tries, res);
		return;
	}
	snprintf(object, sizeof(object), "certificate:%lld", (long long)cert_id);
	snprintf(detail, sizeof(detail), "serial %s, reason %d; its vault key destroyed", v.c.serial_hex, reason);
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_cert_revoke(c->db, cert_id, reason, c->now)) == CR_OK &&
	    (err = destroy_key_of(c, &v)) == CR_OK)
		err = flow_audit(c, "certificate_revoked", object, detail);
	if ((err = flow_commit(c, err)) == CR_ERR_CONFLICT) {
		refuse(res, CR_WHY_ALREADY_REVOKED, 0);
		return;
	}
	if (err != CR_OK) {
		unavailable(res, CR_WHY_NONE);
		return;
	}
	cr_info("revoke", "certificate %s revoked by its holder (reason %d)", v.c.serial_hex, reason);
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
	publish_now(c, v.c.type);
}

/* ---- CRLs and the vault's housekeeping (certrenew jobs, certrenew crl) ---- */

static enum cr_err
publish_file(const char *dir, const char *name, const struct cr_buf *b)
{
	char path[CR_TEXT * 5];
	enum cr_err err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((err = cr_file_replace(path, b->data, b->len)) != CR_OK)
		cr_error("crl", "cannot write %s: %s", path, strerror(errno));
	return err;
}

/* A new crlNumber for type, in a transaction of its own: once committed it is never used again, even
   if what follows fails (RFC 5280 5.2.3: numbers only increase; gaps are allowed). */
static enum cr_err
crl_number(const struct cr_flow_ctx *c, const char *type, int64_t *number)
{
	enum cr_err err;

	if ((err = cr_db_begin(c->db)) == CR_OK)
		err = cr_db_crl_number_next(c->db, type, c->now, number);
	return flow_commit(c, err);
}

/* One type's CRL and CA certificate into the publication directory. The claim of its number holds
   the type's row, so publications are written in number order; a newer number taken meanwhile means
   a newer CRL is coming, and this one is skipped. The count of revocations is read before the list,
   so whatever it covers is listed. */
static enum cr_err
publish_type(const struct cr_flow_ctx *c, enum cr_cert_type t, struct cr_revoked_row *rows,
    struct cr_pki_revoked *entries, long *listed)
{
	const char *type = cr_cert_type_name(t);
	char name[48], detail[96];
	struct cr_crl_state state;
	struct cr_buf crl, ca;
	size_t n = 0;
	int64_t number = 0;
	enum cr_err err;

	if ((err = crl_number(c, type, &number)) != CR_OK)
		return err;
	cr_buf_init(&crl, 64u * 1024u * 1024u);
	cr_buf_init(&ca, 64u * 1024u);
	if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_crl_claim(c->db, type, number, c->now)) == CR_OK &&
	    (err = cr_db_crl_state(c->db, type, &state)) == CR_OK &&
	    (err = cr_db_revoked_of_type(c->db, type, c->now, rows, CRL_MAX_ENTRIES, &n)) == CR_OK) {
		for (size_t i = 0; i < n; i++)
			entries[i] = (struct cr_pki_revoked){rows[i].serial_hex, rows[i].revoked_at, rows[i].reason};
		err = cr_pki_crl_build(c->env->pki, t, entries, n, (long)number, c->now,
		    c->now + (time_t)c->env->crl_hours * 3600, &crl);
	}
	snprintf(detail, sizeof(detail), "%s CRL %lld, %zu entries", type, (long long)number, n);
	if (err == CR_OK && (err = cr_db_crl_covered(c->db, type, state.revoked)) == CR_OK &&
	    (err = flow_audit(c, "crl_published", type, detail)) == CR_OK &&
	    (err = cr_pki_ca_cert_der(c->env->pki, t, &ca)) == CR_OK) {
		/* Last before the commit: what is renamed into place is on record. */
		snprintf(name, sizeof(name), "%s-ca.crt", type);
		if ((err = publish_file(c->env->crl_dir, name, &ca)) == CR_OK) {
			snprintf(name, sizeof(name), "%s.crl", type);
			err = publish_file(c->env->crl_dir, name, &crl);
		}
	}
	if (err == CR_ERR_CONFLICT) {
		cr_info("crl", "%s CRL %lld skipped: a newer one is being published", type, (long long)number);
		cr_db_rollback(c->db);
		err = CR_OK;
		n = 0;
	} else
		err = flow_commit(c, err);
	cr_buf_free(&crl);
	cr_buf_free(&ca);
	if (err == CR_OK)
		*listed += (long)n;
	else
		cr_error("crl", "%s: %s", detail, cr_err_str(err));
	return err;
}

enum cr_err
cr_flow_crl_publish(const struct cr_flow_ctx *c, long *entries)
{
	struct cr_revoked_row *rows;
	struct cr_pki_revoked *list;
	enum cr_err err = CR_OK;

	*entries = 0;
	if (c->env->pki == NULL || c->env->crl_dir == NULL)
		return CR_ERR_CONFIG;
	rows = calloc(CRL_MAX_ENTRIES, sizeof(*rows));
	list = calloc(CRL_MAX_ENTRIES, sizeof(*list));
	for (int t = 0; t < CR_CERT_TYPE_COUNT && rows != NULL && list != NULL && err == CR_OK; t++)
		err = publish_type(c, (enum cr_cert_type)t, rows, list, entries);
	if (rows == NULL || list == NULL)
		err = CR_ERR_NOMEM;
	free(rows);
	free(list);
	return err;
}

/* Whether type t's CRL must be published again now: never published, a revocation it does not
   cover, its file gone, or half of its period over (relying parties never hold an expired one). */
static enum cr_err
crl_due(const struct cr_flow_ctx *c, enum cr_cert_type t, bool *due)
{
	struct cr_crl_state st;
	char path[CR_TEXT * 5];
	enum cr_err err = cr_db_crl_state(c->db, cr_cert_type_name(t), &st);

	snprintf(path, sizeof(path), "%s/%s.crl", c->env->crl_dir, cr_cert_type_name(t));
	*due = err == CR_OK && (st.published_at == 0 || st.revoked > st.covered || access(path, R_OK) != 0 ||
	                           c->now - st.published_at >= (time_t)c->env->crl_hours * 1800);
	return err;
}

enum cr_err
cr_flow_crl_refresh(const struct cr_flow_ctx *c, long *published, long *entries)
{
	struct cr_revoked_row *rows = NULL;
	struct cr_pki_revoked *list = NULL;
	enum cr_err err = CR_OK;

	*published = *entries = 0;
	if (c->env->pki == NULL || c->env->crl_dir == NULL)
		return CR_ERR_CONFIG;
	for (int t = 0; t < CR_CERT_TYPE_COUNT && err == CR_OK; t++) {
		bool due = false;

		if ((err = crl_due(c, (enum cr_cert_type)t, &due)) != CR_OK || !due)
			continue;
		if (rows == NULL && ((rows = calloc(CRL_MAX_ENTRIES, sizeof(*rows))) == NULL ||
		                        (list = calloc(CRL_MAX_ENTRIES, sizeof(*list))) == NULL)) {
			err = CR_ERR_NOMEM;
			break;
		}
		if ((err = publish_type(c, (enum cr_cert_type)t, rows, list, entries)) == CR_OK)
			(*published)++;
	}
	free(rows);
	free(list);
	return err;
}

/* Reservations left by activations that stopped (a crash, a failure after reserving), older than
   two claims so that no live activation owns them: abandoned, their keys destroyed. */
static enum cr_err
sweep_reservations(const struct cr_flow_ctx *c, long *abandoned)
{
	struct cr_issuance stale[32];
	size_t n = 0;
	enum cr_err err = cr_db_issuances_stale(c->db, c->now - 2 * (time_t)c->env->activation_claim_seconds, stale,
	    sizeof(stale) / sizeof(stale[0]), &n);

	for (size_t i = 0; i < n && err == CR_OK; i++) {
		if ((err = abandon(c, &stale[i], "left reserved by a stopped activation")) == CR_OK)
			(*abandoned)++;
		else if (err == CR_ERR_CONFLICT)
			err = CR_OK; /* issued or abandoned meanwhile */
	}
	return err;
}

enum cr_err
cr_flow_vault_purge(const struct cr_flow_ctx *c, long *destroyed)
{
	int64_t ids[256];
	size_t n = 0;
	long abandoned = 0;
	enum cr_err err;

	*destroyed = 0;
	if (c->env->activation_claim_seconds > 0 && (err = sweep_reservations(c, &abandoned)) != CR_OK)
		return err;
	*destroyed += abandoned;
	if ((err = cr_db_vault_keys_expired(c->db, c->now, ids, sizeof(ids) / sizeof(ids[0]), &n)) != CR_OK)
		return err;
	for (size_t i = 0; i < n && err == CR_OK; i++) {
		char object[40];

		snprintf(object, sizeof(object), "vault_key:%lld", (long long)ids[i]);
		if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_vault_key_destroy(c->db, ids[i], c->now)) == CR_OK)
			err = flow_audit(c, "vault_key_destroyed", object, "its certificate expired");
		if ((err = flow_commit(c, err)) == CR_OK)
			(*destroyed)++;
		else if (err == CR_ERR_CONFLICT)
			err = CR_OK; /* another worker destroyed it first */
	}
	return err;
}
