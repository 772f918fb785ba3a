/*
 * Step 3 「確認續期」 of the renewal application (SPEC R7, R8; seed steps 15-19):
 * the summary, the applicant declaration, the application document, the
 * very-high e-ID and GovID's e-signature of the document, and submission.
 *
 * The chain of evidence an auditor follows: the document (sealed, with its
 * SHA-256 and a one-time nonce printed on it) is made in the transaction that
 * records the declaration and starts the e-ID request bound to that document;
 * the e-ID answer's ID token, the CMS signature over the document's hash and
 * the validation report are kept sealed in the transaction that records the
 * signature. Remote calls (GovID's token endpoint, the signing service) run
 * outside any transaction; their failure changes nothing but an audit row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "adapters/csc.h"
#include "core/declaration.h"
#include "doc/pdf.h"
#include "flow_int.h"
#include "pki/pki.h"
#include "util/log.h"
#include "util/timefmt.h"

#define PURPOSE_DOCUMENT "certrenew application document v1"
#define PURPOSE_VERIFIER "certrenew eid verifier v1"
#define PURPOSE_CMS "certrenew signature cms v1"
#define PURPOSE_VALIDATION "certrenew signature validation v1"
#define PURPOSE_ID_TOKEN "certrenew eid id token v1"
#define DOCUMENT_MAX (4u * 1024u * 1024u)
#define CMS_MAX (64u * 1024u)
#define VALIDATION_MAX (16u * 1024u)
#define ID_TOKEN_MAX (16u * 1024u)
#define VERIFIER_MAX 64
#define EID_PARAM_MAX 2048

void
cr_flow_app_number(const struct cr_application *app, char out[CR_APP_NUMBER_LEN])
{
	char day[16];

	cr_macau_date(app->created_at, day);
	snprintf(out, CR_APP_NUMBER_LEN, "R%.4s-%06lld", day, (long long)app->id);
}

static bool
step3_configured(const struct cr_flow_ctx *c)
{
	const struct cr_flow_env *e = c->env;

	if (e->doc != NULL && e->csc != NULL && e->signing_trust_file != NULL && e->evidence_key != NULL &&
	    e->govid != NULL && c->actor != NULL)
		return true;
	cr_error("confirm", "no document renderer, signing service, GovID or evidence key is configured: step 3 cannot run");
	return false;
}

/* ---- the summary (R7.1) ---- */

static bool
listed(char (*list)[CR_TEXT], size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* The imported positions, with the holder's current one first when the list lacks it: the current
   value is always a choice. */
static enum cr_err
positions_of(const struct cr_flow_ctx *c, struct cr_flow_confirm *out)
{
	enum cr_err err;
	size_t n = 0, off = 0;
	const char *cur = c->actor->position;

	if ((err = cr_db_positions(c->db, out->positions + 1, CR_MAX_POSITIONS - 1, &n)) != CR_OK)
		return err;
	if (*cur != '\0' && !listed(out->positions + 1, n, cur))
		snprintf(out->positions[0], CR_TEXT, "%s", cur);
	else
		off = 1;
	if (off == 1)
		memmove(out->positions[0], out->positions[1], n * sizeof(out->positions[0]));
	out->n_positions = n + 1 - off;
	return CR_OK;
}

/* Everything the summary and the document show, the application in res->app. */
static enum cr_err
confirm_load(const struct cr_flow_ctx *c, struct cr_flow_confirm *out, const struct cr_application *app)
{
	enum cr_err err;

	cr_flow_app_number(app, out->app_number);
	if ((err = cr_db_app_certs(c->db, app->id, out->certs, CR_FLOW_MAX_CERTS, &out->n_certs)) != CR_OK ||
	    (err = cr_db_app_emails(c->db, app->id, out->emails, CR_FLOW_MAX_EMAILS, &out->n_emails)) != CR_OK ||
	    (err = cr_db_app_confirm_get(c->db, app->id, &out->confirm)) != CR_OK ||
	    (err = positions_of(c, out)) != CR_OK)
		return err;
	err = cr_db_id_check_latest(c->db, app->id, &out->check);
	out->checked = err == CR_OK;
	if (err != CR_OK && err != CR_ERR_NOTFOUND)
		return err;
	snprintf(out->position, sizeof(out->position), "%s",
	    out->confirm.position[0] != '\0' ? out->confirm.position : c->actor->position);
	err = cr_db_document_current(c->db, app->id, &out->document, NULL);
	out->has_document = err == CR_OK;
	if (err == CR_ERR_NOTFOUND)
		return CR_OK;
	if (err != CR_OK)
		return err;
	err = cr_db_signature_passed(c->db, out->document.id, &out->signature, NULL);
	out->is_signed = err == CR_OK;
	return err == CR_ERR_NOTFOUND ? CR_OK : err;
}

/* The actor's application at step 3 or 4 into res->app; false with the result set otherwise. */
static bool
load_confirm_or_submitted(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_result *res)
{
	enum cr_err err;

	memset(res, 0, sizeof(*res));
	if ((err = cr_flow_app_get(c, app_id, &res->app)) != CR_OK) {
		memset(&res->app, 0, sizeof(res->app));
		flow_result(res, err == CR_ERR_NOTFOUND ? CR_FLOW_REFUSED : CR_FLOW_UNAVAILABLE,
		    err == CR_ERR_NOTFOUND ? CR_WHY_NOT_FOUND : CR_WHY_NONE, 0);
		return false;
	}
	if (res->app.state != CR_APP_CONFIRM && res->app.state != CR_APP_SUBMITTED) {
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP, 0);
		return false;
	}
	return true;
}

void
cr_flow_confirm_view(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_confirm *out,
    struct cr_flow_result *res)
{
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	if (!load_confirm_or_submitted(c, app_id, res))
		return;
	if ((err = confirm_load(c, out, &res->app)) != CR_OK) {
		cr_error("confirm", "application %lld: loading the summary: %s", (long long)app_id, cr_err_str(err));
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return;
	}
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

/* ---- the declaration and the document (R7.2, R7.3) ---- */

static bool
position_allowed(const struct cr_flow_ctx *c, const char *position, enum cr_err *err)
{
	*err = CR_OK;
	if (position == NULL || *position == '\0' || strlen(position) >= CR_TEXT)
		return false;
	if (strcmp(position, c->actor->position) == 0)
		return true;
	*err = cr_db_position_known(c->db, position);
	if (*err == CR_ERR_NOTFOUND) {
		*err = CR_OK;
		return false;
	}
	return *err == CR_OK;
}

static const char *
identity_summary(const struct cr_flow_confirm *v)
{
	if (v->checked && strcmp(v->check.outcome, "match") == 0)
		return "身份證明文件資料核對相符；相片與身份證明局登記之人臉比對通過";
	return "身份核對未完成";
}

/* Renders the document of this declaration into pdf. */
static enum cr_err
render_document(const struct cr_flow_ctx *c, const struct cr_flow_confirm *v, const char *position,
    const char *nonce, struct cr_buf *pdf)
{
	struct cr_doc_cert certs[CR_FLOW_MAX_CERTS];
	char dates[CR_FLOW_MAX_CERTS][16], today[16];
	const char *emails[CR_FLOW_MAX_EMAILS];
	struct cr_doc_application a;

	for (size_t i = 0; i < v->n_certs; i++) {
		cr_macau_date(v->certs[i].c.not_after, dates[i]);
		certs[i] = (struct cr_doc_cert){cr_cert_type_label_zh(v->certs[i].c.type), v->certs[i].c.serial_hex,
		    dates[i]};
	}
	for (size_t i = 0; i < v->n_emails; i++)
		emails[i] = v->emails[i].email;
	cr_macau_date(c->now, today);
	a = (struct cr_doc_application){
		.app_number = v->app_number,
		.applicant_name = c->actor->name,
		.applicant_name_zh = c->actor->name_zh,
		.resident_number = c->actor->id_number,
		.org = c->actor->org_name,
		.unit = c->actor->department,
		.title = position,
		.email = c->actor->email,
		.emails = emails,
		.n_emails = v->n_emails,
		.certs = certs,
		.n_certs = v->n_certs,
		.identity_summary = identity_summary(v),
		.date = today,
		.nonce = nonce,
	};
	return cr_doc_render_application(c->env->doc, &a, pdf);
}

/* What 「進行電子身份識別並簽署申請文件」 starts: the e-ID request's secrets and GovID's URL. */
struct eid_start {
	unsigned char state_hash[CR_SHA256_LEN];
	char nonce[CR_TOKEN_LEN];
	char verifier[CR_B64URL_SIZE(32)];
	unsigned char *verifier_sealed;
	size_t verifier_sealed_len;
};

static enum cr_err
eid_start(const struct cr_flow_ctx *c, const char *app_number, struct eid_start *s, struct cr_buf *url)
{
	unsigned char raw[32], md[CR_SHA256_LEN];
	char state[CR_B64URL_SIZE(32)], challenge[CR_B64URL_SIZE(32)];
	struct cr_govid_authreq ar;
	enum cr_err err;

	cr_random(raw, sizeof(raw));
	cr_b64url_encode(raw, sizeof(raw), state, sizeof(state));
	cr_sha256(state, strlen(state), s->state_hash);
	cr_random(raw, sizeof(raw));
	cr_b64url_encode(raw, sizeof(raw), s->verifier, sizeof(s->verifier));
	sodium_memzero(raw, sizeof(raw));
	cr_random_token(s->nonce);
	cr_sha256(s->verifier, strlen(s->verifier), md);
	cr_b64url_encode(md, sizeof(md), challenge, sizeof(challenge));
	ar = (struct cr_govid_authreq){.state = state, .nonce = s->nonce, .code_challenge = challenge,
	    .acr_values = CR_EID_ACR, .prompt = "login", .login_hint = c->actor->sub, .binding_message = app_number,
	    .eid = true};
	if ((err = cr_seal(c->env->evidence_key, PURPOSE_VERIFIER, s->verifier, strlen(s->verifier), VERIFIER_MAX,
	         &s->verifier_sealed, &s->verifier_sealed_len)) != CR_OK)
		return err;
	return cr_govid_authorize_url(c->env->govid, &ar, url);
}

/* The declaration, the document and the e-ID request, together. */
static enum cr_err
record_declaration(const struct cr_flow_ctx *c, int64_t app_id, const char *position, const char *nonce,
    const struct cr_buf *pdf, const unsigned char *sealed, size_t sealed_len, const struct eid_start *s)
{
	unsigned char decl[CR_SHA256_LEN];
	char decl_hex[CR_DIGEST_HEX], detail[256];
	struct cr_document d = {.application_id = app_id, .holder_id = c->actor->id, .created_at = c->now,
	    .bytes = (long)pdf->len, .pdf_sealed = sealed, .pdf_sealed_len = sealed_len};
	struct cr_eid_request r = {.application_id = app_id, .holder_id = c->actor->id, .created_at = c->now,
	    .verifier_sealed = s->verifier_sealed, .verifier_sealed_len = s->verifier_sealed_len};
	int64_t doc_id = 0, req_id = 0;
	enum cr_err err;

	cr_declaration_sha256(decl);
	sodium_bin2hex(decl_hex, sizeof(decl_hex), decl, sizeof(decl));
	snprintf(d.nonce, sizeof(d.nonce), "%s", nonce);
	snprintf(d.declaration_version, sizeof(d.declaration_version), "%s", CR_DECLARATION_VERSION);
	snprintf(d.position, sizeof(d.position), "%s", position);
	flow_sha256_hex(pdf->data, pdf->len, d.sha256);
	snprintf(r.nonce, sizeof(r.nonce), "%s", s->nonce);
	if ((err = cr_db_begin(c->db)) != CR_OK)
		return err;
	if ((err = cr_db_app_declare(c->db, app_id, position, CR_DECLARATION_VERSION, decl_hex, c->now)) == CR_OK &&
	    (err = cr_db_document_add(c->db, &d, &doc_id)) == CR_OK) {
		r.document_id = doc_id;
		err = cr_db_eid_request_add(c->db, s->state_hash, &r, &req_id);
	}
	snprintf(detail, sizeof(detail), "declaration %s; document %lld sha256 %s; position %s", CR_DECLARATION_VERSION,
	    (long long)doc_id, d.sha256, position);
	if (err == CR_OK)
		err = flow_audit_app(c, "declared", app_id, detail);
	if (err == CR_OK) {
		snprintf(detail, sizeof(detail), "e-ID request %lld for document %lld", (long long)req_id, (long long)doc_id);
		err = flow_audit_app(c, "eid_requested", app_id, detail);
	}
	return flow_commit(c, err);
}

void
cr_flow_declare(const struct cr_flow_ctx *c, int64_t app_id, bool agreed, const char *position,
    struct cr_buf *authorize_url, struct cr_flow_result *res)
{
	struct cr_flow_confirm *v = NULL;
	struct eid_start s = {0};
	struct cr_buf pdf;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	char nonce[CR_TOKEN_LEN];
	enum cr_err err = CR_OK;

	cr_buf_init(&pdf, DOCUMENT_MAX);
	if (!flow_load_at(c, app_id, CR_APP_CONFIRM, CR_APP_SUBMITTED, res))
		return;
	if (!agreed) {
		cr_info("confirm", "application %lld: declaration not accepted", (long long)app_id);
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_DECLARATION_REQUIRED, 0);
		return;
	}
	if (!step3_configured(c)) {
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_EID_DOWN, 0);
		return;
	}
	if (!position_allowed(c, position, &err)) {
		if (err != CR_OK)
			flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		else {
			cr_warn("confirm", "application %lld: position not on the list refused", (long long)app_id);
			flow_result(res, CR_FLOW_REFUSED, CR_WHY_POSITION_UNKNOWN, 0);
		}
		return;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL || confirm_load(c, v, &res->app) != CR_OK) {
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		goto out;
	}
	cr_random_token(nonce);
	if ((err = render_document(c, v, position, nonce, &pdf)) != CR_OK ||
	    (err = cr_seal(c->env->evidence_key, PURPOSE_DOCUMENT, pdf.data, pdf.len, DOCUMENT_MAX, &sealed,
	         &sealed_len)) != CR_OK) {
		cr_error("confirm", "application %lld: rendering the document: %s", (long long)app_id, cr_err_str(err));
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		goto out;
	}
	if ((err = eid_start(c, v->app_number, &s, authorize_url)) != CR_OK) {
		cr_warn("confirm", "application %lld: cannot start the e-ID at GovID: %s", (long long)app_id,
		    cr_err_str(err));
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_EID_DOWN, 0);
		goto out;
	}
	if ((err = record_declaration(c, app_id, position, nonce, &pdf, sealed, sealed_len, &s)) != CR_OK) {
		flow_lost_or_failed(c, err, res);
		goto out;
	}
	cr_info("confirm", "application %lld: declaration accepted, document made, e-ID started", (long long)app_id);
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
out:
	if (res->outcome != CR_FLOW_DONE)
		cr_buf_reset(authorize_url);
	sodium_memzero(&s.verifier, sizeof(s.verifier));
	free(s.verifier_sealed);
	free(sealed);
	free(v);
	cr_buf_free(&pdf);
}

/* ---- the e-ID answer and the e-signature (R7.3) ---- */

/* A refused or failed e-ID answer: logged and audited, nothing else changed. */
static void
eid_refuse(const struct cr_flow_ctx *c, struct cr_flow_result *res, enum cr_flow_outcome o, enum cr_flow_why why,
    const char *log)
{
	cr_warn("confirm", "application %lld: e-ID answer refused from %s: %s", (long long)res->app.id, c->ip, log);
	if (res->app.id != 0)
		flow_audit_alone(c, o == CR_FLOW_UNAVAILABLE ? "eid_unavailable" : "eid_refused", res->app.id, log);
	flow_result(res, o, why, 0);
}

/* What the e-ID answer carried and what the signing service returned, kept until recorded. */
struct signing {
	struct cr_eid_request req;
	struct cr_document doc;
	struct cr_idtoken_claims claims;
	char *id_token, *access_token;
	struct cr_buf pdf;
	unsigned char digest[CR_SHA256_LEN];
	struct cr_csc_signature sig;
	struct cr_pki_sig_report report;
};

static void
signing_free(struct signing *s)
{
	if (s->id_token != NULL) {
		sodium_memzero(s->id_token, strlen(s->id_token));
		free(s->id_token);
	}
	if (s->access_token != NULL) {
		sodium_memzero(s->access_token, strlen(s->access_token));
		free(s->access_token);
	}
	cr_buf_free_secret(&s->pdf);
	cr_csc_signature_free(&s->sig);
}

/* Takes the request named by state once, in a transaction of its own, so a replay finds it used. */
static bool
eid_take(const struct cr_flow_ctx *c, const char *state, struct signing *s, struct cr_buf *verifier_sealed,
    struct cr_flow_result *res)
{
	unsigned char hash[CR_SHA256_LEN];
	enum cr_err err;

	if (state == NULL || *state == '\0' || strlen(state) > EID_PARAM_MAX) {
		eid_refuse(c, res, CR_FLOW_REFUSED, CR_WHY_EID_STATE, "no state");
		return false;
	}
	cr_sha256(state, strlen(state), hash);
	if ((err = cr_db_begin(c->db)) == CR_OK)
		err = cr_db_eid_request_take(c->db, hash, c->now, &s->req, verifier_sealed);
	if (err == CR_OK)
		err = flow_commit(c, CR_OK);
	else
		cr_db_rollback(c->db);
	if (err == CR_OK && s->req.holder_id != c->actor->id)
		/* Someone else's browser brought the holder's answer: on the holder's record, and used up. */
		flow_audit_alone(c, "eid_refused", s->req.application_id, "the answer came in another person's session");
	if (err == CR_ERR_NOTFOUND || err == CR_ERR_CONFLICT || (err == CR_OK && s->req.holder_id != c->actor->id)) {
		eid_refuse(c, res, CR_FLOW_REFUSED, CR_WHY_EID_STATE,
		    err == CR_ERR_NOTFOUND ? "unknown state" : err == CR_ERR_CONFLICT ? "replayed answer" : "another holder's request");
		return false;
	}
	if (err != CR_OK) {
		eid_refuse(c, res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, "store failed");
		return false;
	}
	return true;
}

/* The request's application at step 3 with the request's document still current. */
static bool
eid_context(const struct cr_flow_ctx *c, struct signing *s, struct cr_flow_result *res)
{
	struct cr_buf sealed;
	enum cr_err err;

	if (!flow_load_at(c, s->req.application_id, CR_APP_CONFIRM, CR_APP_SUBMITTED, res)) {
		cr_warn("confirm", "e-ID answer for application %lld at another step", (long long)s->req.application_id);
		return false;
	}
	if (c->now - s->req.created_at > CR_EID_REQUEST_TTL) {
		eid_refuse(c, res, CR_FLOW_REFUSED, CR_WHY_EID_EXPIRED, "e-ID request expired");
		return false;
	}
	cr_buf_init(&sealed, DOCUMENT_MAX + cr_seal_overhead());
	err = cr_db_document_current(c->db, s->req.application_id, &s->doc, &sealed);
	if (err == CR_OK && s->doc.id != s->req.document_id)
		err = CR_ERR_CONFLICT;
	if (err == CR_OK)
		err = cr_unseal(c->env->evidence_key, PURPOSE_DOCUMENT, (const unsigned char *)sealed.data, sealed.len, DOCUMENT_MAX, &s->pdf);
	cr_buf_free(&sealed);
	if (err == CR_OK) {
		char hex[CR_DIGEST_HEX];

		cr_sha256(s->pdf.data, s->pdf.len, s->digest);
		sodium_bin2hex(hex, sizeof(hex), s->digest, sizeof(s->digest));
		if (strcmp(hex, s->doc.sha256) != 0)
			err = CR_ERR_DENIED;
	}
	if (err == CR_ERR_CONFLICT) {
		eid_refuse(c, res, CR_FLOW_REFUSED, CR_WHY_EID_STATE, "the request's document was superseded");
		return false;
	}
	if (err != CR_OK) {
		cr_error("confirm", "application %lld: the stored document cannot be read: %s", (long long)res->app.id,
		    cr_err_str(err));
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return false;
	}
	return true;
}

/* The code exchange and the ID token's rules: very-high, fresh, this holder, DSI's resident number. */
static bool
eid_token(const struct cr_flow_ctx *c, const char *code, const struct cr_buf *verifier_sealed, struct signing *s,
    struct cr_flow_result *res)
{
	struct cr_buf verifier;
	const char *why = "";
	enum cr_err err;

	if (code == NULL || *code == '\0' || strlen(code) > EID_PARAM_MAX) {
		eid_refuse(c, res, CR_FLOW_REFUSED, CR_WHY_EID_STATE, "no code");
		return false;
	}
	cr_buf_init(&verifier, VERIFIER_MAX + 1);
	err = cr_unseal(c->env->evidence_key, PURPOSE_VERIFIER, (const unsigned char *)verifier_sealed->data, verifier_sealed->len,
	    VERIFIER_MAX, &verifier);
	if (err == CR_OK)
		err = cr_govid_exchange_eid(c->env->govid, code, cr_buf_str(&verifier), s->req.nonce, c->now, CR_EID_ACR,
		    CR_EID_MAX_AUTH_AGE, &s->claims, &s->id_token, &s->access_token, &why);
	else
		why = "the request's verifier cannot be opened";
	cr_buf_free_secret(&verifier);
	if (err != CR_OK) {
		eid_refuse(c, res, err == CR_ERR_REMOTE || err == CR_ERR_IO ? CR_FLOW_UNAVAILABLE : CR_FLOW_REFUSED,
		    err == CR_ERR_REMOTE || err == CR_ERR_IO ? CR_WHY_EID_DOWN : CR_WHY_EID_INVALID, why);
		return false;
	}
	if (strcmp(s->claims.sub, c->actor->sub) != 0) {
		eid_refuse(c, res, CR_FLOW_REFUSED, CR_WHY_EID_INVALID, "the e-ID subject is another person");
		return false;
	}
	/* Step 1's DSI check matched c->actor->id_number (the application could not be at step 3
	   otherwise), so equality with it is equality with the number DSI confirmed. */
	if (c->actor->id_number[0] == '\0' || !cr_str_eq_ct(s->claims.resident_number, c->actor->id_number)) {
		eid_refuse(c, res, CR_FLOW_REFUSED, CR_WHY_EID_INVALID, "the e-ID resident number differs from DSI's");
		return false;
	}
	return true;
}

/* The signing service signs the document's hash; the CMS is then validated against our own rules. */
static bool
sign_document(const struct cr_flow_ctx *c, struct signing *s, struct cr_flow_result *res)
{
	char why[128] = "";
	struct cr_pki_sig_expect e;
	enum cr_err err;

	err = cr_csc_sign_hash(c->env->csc, s->access_token, s->digest, &s->sig, why, sizeof(why));
	if (err != CR_OK) {
		eid_refuse(c, res, err == CR_ERR_DENIED ? CR_FLOW_REFUSED : CR_FLOW_UNAVAILABLE,
		    err == CR_ERR_DENIED ? CR_WHY_SIGN_INVALID : CR_WHY_SIGN_DOWN, why[0] ? why : "signing service failed");
		return false;
	}
	e = (struct cr_pki_sig_expect){.trust_file = c->env->signing_trust_file, .digest = s->digest,
	    .resident_number = c->actor->id_number, .extra_der = (const unsigned char *const *)s->sig.chain,
	    .extra_len = s->sig.chain_len, .n_extra = s->sig.n_chain, .now = c->now, .max_age = CR_EID_REQUEST_TTL,
	    .leeway = CR_SIGNING_TIME_LEEWAY};
	if ((err = cr_pki_cms_verify(s->sig.cms, s->sig.cms_len, &e, &s->report)) != CR_OK &&
	    err != CR_ERR_TOOBIG && err != CR_ERR_INVALID) {
		cr_error("confirm", "application %lld: validating the signature: %s", (long long)res->app.id,
		    cr_err_str(err));
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		return false;
	}
	if (err != CR_OK) {
		s->report.passed = false;
		snprintf(s->report.why, sizeof(s->report.why), "%s", err == CR_ERR_TOOBIG ? "too_big" : "der");
	}
	return true;
}

/* The signature row with its sealed evidence and its audit row, in one transaction. */
static enum cr_err
record_signature(const struct cr_flow_ctx *c, struct signing *s)
{
	struct cr_signature row = {.application_id = s->req.application_id, .holder_id = c->actor->id,
	    .document_id = s->doc.id, .eid_request_id = s->req.id, .at = c->now, .passed = s->report.passed,
	    .signing_time = s->report.signing_time, .auth_time = s->claims.auth_time};
	unsigned char *cms = NULL, *validation = NULL, *token = NULL;
	struct cr_buf json;
	char detail[600];
	int64_t id = 0;
	enum cr_err err;

	cr_buf_init(&json, VALIDATION_MAX);
	snprintf(row.why, sizeof(row.why), "%.31s", s->report.passed ? "ok" : s->report.why);
	snprintf(row.signer_subject, sizeof(row.signer_subject), "%s", s->report.signer_subject);
	snprintf(row.acr, sizeof(row.acr), "%s", s->claims.acr);
	flow_sha256_hex(s->sig.cms, s->sig.cms_len, row.cms_sha256);
	if ((err = cr_pki_sig_report_json(&s->report, &json)) == CR_OK &&
	    (err = cr_seal(c->env->evidence_key, PURPOSE_CMS, s->sig.cms, s->sig.cms_len, CMS_MAX, &cms,
	         &row.cms_sealed_len)) == CR_OK &&
	    (err = cr_seal(c->env->evidence_key, PURPOSE_VALIDATION, json.data, json.len, VALIDATION_MAX, &validation,
	         &row.validation_sealed_len)) == CR_OK &&
	    (err = cr_seal(c->env->evidence_key, PURPOSE_ID_TOKEN, s->id_token, strlen(s->id_token), ID_TOKEN_MAX, &token,
	         &row.id_token_sealed_len)) == CR_OK) {
		row.cms_sealed = cms;
		row.validation_sealed = validation;
		row.id_token_sealed = token;
		snprintf(detail, sizeof(detail), "document %lld sha256 %s; %s; signer %s", (long long)s->doc.id, s->doc.sha256,
		    s->report.passed ? "signature valid" : s->report.why, s->report.signer_subject);
		if ((err = cr_db_begin(c->db)) == CR_OK && (err = cr_db_signature_add(c->db, &row, &id)) == CR_OK)
			err = flow_audit_app(c, s->report.passed ? "signed" : "signature_invalid", s->req.application_id, detail);
		err = flow_commit(c, err);
	}
	free(cms);
	free(validation);
	free(token);
	cr_buf_free(&json);
	return err;
}

void
cr_flow_eid_finish(const struct cr_flow_ctx *c, const char *state, const char *code, bool provider_error,
    struct cr_flow_result *res)
{
	struct signing s = {0};
	struct cr_buf verifier_sealed;

	memset(res, 0, sizeof(*res));
	cr_buf_init(&s.pdf, DOCUMENT_MAX);
	cr_buf_init(&verifier_sealed, VERIFIER_MAX + cr_seal_overhead());
	if (!step3_configured(c)) {
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_EID_DOWN, 0);
		goto out;
	}
	if (!eid_take(c, state, &s, &verifier_sealed, res) || !eid_context(c, &s, res))
		goto out;
	if (provider_error) {
		eid_refuse(c, res, CR_FLOW_REFUSED, CR_WHY_EID_REFUSED, "the holder refused on the phone, or GovID did");
		goto out;
	}
	if (!eid_token(c, code, &verifier_sealed, &s, res) || !sign_document(c, &s, res))
		goto out;
	if (record_signature(c, &s) != CR_OK) {
		cr_error("confirm", "application %lld: recording the signature failed", (long long)res->app.id);
		flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
		goto out;
	}
	if (!s.report.passed) {
		cr_warn("confirm", "application %lld: signature refused: %s", (long long)res->app.id, s.report.why);
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_SIGN_INVALID, 0);
		goto out;
	}
	cr_info("confirm", "application %lld: document %lld signed", (long long)res->app.id, (long long)s.doc.id);
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
out:
	signing_free(&s);
	cr_buf_free(&verifier_sealed);
}

/* ---- submission (R7.4, R8) ---- */

void
cr_flow_submit(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_result *res)
{
	struct cr_document d;
	struct cr_signature sig;
	char detail[160];
	enum cr_err err;

	if (!load_confirm_or_submitted(c, app_id, res))
		return;
	if (res->app.state == CR_APP_SUBMITTED) {
		flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
		return;
	}
	err = cr_db_document_current(c->db, app_id, &d, NULL);
	if (err == CR_OK)
		err = cr_db_signature_passed(c->db, d.id, &sig, NULL);
	if (err == CR_ERR_NOTFOUND) {
		cr_warn("confirm", "application %lld: submit before a valid signature", (long long)app_id);
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_NOT_SIGNED, 0);
		return;
	}
	snprintf(detail, sizeof(detail), "document %lld, signature %lld", (long long)d.id, (long long)sig.id);
	if (err == CR_OK && (err = cr_db_begin(c->db)) == CR_OK) {
		if ((err = cr_db_app_submit(c->db, app_id, c->now)) == CR_OK)
			err = flow_audit_app(c, "submitted", app_id, detail);
		err = flow_commit(c, err);
	}
	if (err == CR_ERR_CONFLICT) {
		/* A second press raced the first: if it was submitted, that is where this one lands too. */
		struct cr_application now;

		if (cr_db_app_get(c->db, app_id, c->actor->id, &now) == CR_OK && now.state == CR_APP_SUBMITTED) {
			res->app = now;
			flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
			return;
		}
	}
	if (err != CR_OK) {
		flow_lost_or_failed(c, err, res);
		return;
	}
	res->app.state = CR_APP_SUBMITTED;
	cr_info("confirm", "application %lld submitted", (long long)app_id);
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, 0);
}

/* ---- downloads ---- */

enum cr_err
cr_flow_document_get(const struct cr_flow_ctx *c, int64_t app_id, struct cr_buf *pdf)
{
	struct cr_flow_result res;
	struct cr_document d;
	struct cr_buf sealed;
	enum cr_err err;

	if (!load_confirm_or_submitted(c, app_id, &res))
		return res.outcome == CR_FLOW_UNAVAILABLE ? CR_ERR_IO : CR_ERR_NOTFOUND;
	if (c->env->evidence_key == NULL)
		return CR_ERR_CONFIG;
	cr_buf_init(&sealed, DOCUMENT_MAX + cr_seal_overhead());
	if ((err = cr_db_document_current(c->db, app_id, &d, &sealed)) == CR_OK)
		err = cr_unseal(c->env->evidence_key, PURPOSE_DOCUMENT, (const unsigned char *)sealed.data, sealed.len, DOCUMENT_MAX, pdf);
	cr_buf_free(&sealed);
	return err;
}

enum cr_err
cr_flow_signature_get(const struct cr_flow_ctx *c, int64_t app_id, struct cr_buf *cms)
{
	struct cr_flow_result res;
	struct cr_document d;
	struct cr_signature sig;
	struct cr_buf sealed;
	enum cr_err err;

	if (!load_confirm_or_submitted(c, app_id, &res))
		return res.outcome == CR_FLOW_UNAVAILABLE ? CR_ERR_IO : CR_ERR_NOTFOUND;
	if (c->env->evidence_key == NULL)
		return CR_ERR_CONFIG;
	cr_buf_init(&sealed, CMS_MAX + cr_seal_overhead());
	if ((err = cr_db_document_current(c->db, app_id, &d, NULL)) == CR_OK &&
	    (err = cr_db_signature_passed(c->db, d.id, &sig, &sealed)) == CR_OK)
		err = cr_unseal(c->env->evidence_key, PURPOSE_CMS, (const unsigned char *)sealed.data, sealed.len, CMS_MAX, cms);
	cr_buf_free(&sealed);
	return err;
}
