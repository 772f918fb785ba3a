/*
 * What every flow function shares: the audit row of an action, the result's
 * constructors, and the names of the reasons.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "flow_int.h"
#include "util/log.h"

void
flow_result(struct cr_flow_result *res, enum cr_flow_outcome o, enum cr_flow_why why, int n)
{
	res->outcome = o;
	res->why = why;
	res->n = n;
}

enum cr_err
flow_audit(const struct cr_flow_ctx *c, const char *action, const char *object, const char *detail)
{
	char actor[48];

	if (c->actor != NULL)
		snprintf(actor, sizeof(actor), "person:%lld", (long long)c->actor->id);
	else
		/* No actor and no client address: a background job acting for the CA. */
		snprintf(actor, sizeof(actor), "%s", c->ip != NULL ? "anonymous" : "system");
	return cr_db_audit(c->db, c->now, &(struct cr_audit){actor, action, object, c->ip ? c->ip : "", detail});
}

enum cr_err
flow_audit_app(const struct cr_flow_ctx *c, const char *action, int64_t app_id, const char *detail)
{
	char object[48];

	snprintf(object, sizeof(object), "application:%lld", (long long)app_id);
	return flow_audit(c, action, object, detail);
}

enum cr_err
flow_commit(const struct cr_flow_ctx *c, enum cr_err err)
{
	if (err == CR_OK)
		err = cr_db_commit(c->db);
	if (err != CR_OK)
		cr_db_rollback(c->db);
	return err;
}

/*
 * Loads the actor's application into res->app and checks it is where `action` applies: in state
 * `at` and, by the state machine, able to move on to `next`. False with the result set otherwise.
 */
bool
flow_load_at(const struct cr_flow_ctx *c, int64_t app_id, enum cr_app_state at, enum cr_app_state next,
    struct cr_flow_result *res)
{
	enum cr_err err;

	memset(res, 0, sizeof(*res));
	if ((err = cr_flow_app_get(c, app_id, &res->app)) != CR_OK) {
		memset(&res->app, 0, sizeof(res->app));
		flow_result(res, err == CR_ERR_NOTFOUND ? CR_FLOW_REFUSED : CR_FLOW_UNAVAILABLE,
		    err == CR_ERR_NOTFOUND ? CR_WHY_NOT_FOUND : CR_WHY_NONE, 0);
		return false;
	}
	if (res->app.state != at || !cr_app_can_move(at, next)) {
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_WRONG_STEP, 0);
		return false;
	}
	return true;
}

/*
 * After a failed write: a state change that lost a race (a double-submitted form, a second tab) is
 * a conflict with the winner's application in res->app; anything else is the store failing.
 */
void
flow_lost_or_failed(const struct cr_flow_ctx *c, enum cr_err err, struct cr_flow_result *res)
{
	struct cr_application now;

	if (err == CR_ERR_CONFLICT && cr_db_app_get(c->db, res->app.id, flow_actor_id(c), &now) == CR_OK) {
		res->app = now;
		flow_result(res, CR_FLOW_CONFLICT, CR_WHY_NONE, 0);
		return;
	}
	cr_error("verify", "application %lld: %s", (long long)res->app.id, cr_err_str(err));
	flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
}

void
flow_audit_alone(const struct cr_flow_ctx *c, const char *action, int64_t app_id, const char *detail)
{
	enum cr_err err;

	if ((err = cr_db_begin(c->db)) == CR_OK)
		err = flow_audit_app(c, action, app_id, detail);
	if (flow_commit(c, err) != CR_OK)
		cr_error("flow", "application %lld: cannot audit %s", (long long)app_id, action);
}

void
flow_audit_alone_object(const struct cr_flow_ctx *c, const char *action, const char *object, const char *detail)
{
	enum cr_err err;

	if ((err = cr_db_begin(c->db)) == CR_OK)
		err = flow_audit(c, action, object, detail);
	if (flow_commit(c, err) != CR_OK)
		cr_error("flow", "%s: cannot audit %s", object, action);
}

void
flow_sha256_hex(const void *p, size_t n, char out[CR_DIGEST_HEX])
{
	unsigned char md[CR_SHA256_LEN];

	cr_sha256(p, n, md);
	sodium_bin2hex(out, CR_DIGEST_HEX, md, sizeof(md));
}

int64_t
flow_actor_id(const struct cr_flow_ctx *c)
{
	return c->actor != NULL ? c->actor->id : 0;
}

const char *
cr_flow_why_name(enum cr_flow_why why)
{
	static const char *const names[] = {
		[CR_WHY_NONE] = "none",
		[CR_WHY_NOT_FOUND] = "not_found",
		[CR_WHY_WRONG_STEP] = "wrong_step",
		[CR_WHY_SET_CHANGED] = "set_changed",
		[CR_WHY_CONSENT_REQUIRED] = "consent_required",
		[CR_WHY_ALREADY_VERIFIED] = "email_verified",
		[CR_WHY_CODE_TOO_SOON] = "code_too_soon",
		[CR_WHY_CODE_HOURLY] = "code_hourly",
		[CR_WHY_CODE_NONE] = "code_none",
		[CR_WHY_CODE_WRONG] = "code_wrong",
		[CR_WHY_CODE_EXPIRED] = "code_expired",
		[CR_WHY_CODE_USED] = "code_used",
		[CR_WHY_CODE_DEAD] = "code_dead",
		[CR_WHY_CODE_MALFORMED] = "code_malformed",
		[CR_WHY_EMAILS_PENDING] = "emails_pending",
		[CR_WHY_NOT_COORDINATOR] = "not_coordinator",
		[CR_WHY_BAD_DECISION] = "bad_decision",
		[CR_WHY_NONE_SELECTED] = "none_selected",
		[CR_WHY_NOT_THEIRS] = "not_theirs",
		[CR_WHY_LOGIN_STATE] = "login_state",
		[CR_WHY_LOGIN_PROVIDER] = "login_provider",
		[CR_WHY_UNKNOWN_USER] = "unknown_user",
		[CR_WHY_DSI_DOWN] = "dsi_down",
		[CR_WHY_CERT_INVALID] = "cert_invalid",
		[CR_WHY_PHOTO_BAD] = "photo_bad",
		[CR_WHY_PHOTO_MISSING] = "photo_missing",
		[CR_WHY_FACE_LOW] = "face_low",
		[CR_WHY_FACE_UNUSABLE] = "face_unusable",
		[CR_WHY_DECLARATION_REQUIRED] = "declaration_required",
		[CR_WHY_POSITION_UNKNOWN] = "position_unknown",
		[CR_WHY_EID_STATE] = "eid_state",
		[CR_WHY_EID_EXPIRED] = "eid_expired",
		[CR_WHY_EID_REFUSED] = "eid_refused",
		[CR_WHY_EID_INVALID] = "eid_invalid",
		[CR_WHY_EID_DOWN] = "eid_down",
		[CR_WHY_SIGN_DOWN] = "sign_down",
		[CR_WHY_SIGN_INVALID] = "sign_invalid",
		[CR_WHY_NOT_SIGNED] = "not_signed",
		[CR_WHY_NOT_ACTIVATABLE] = "not_activatable",
		[CR_WHY_LOGIN_RATE] = "login_rate",
		[CR_WHY_ACTIVATION_CLOSED] = "activation_closed",
		[CR_WHY_ID_CHANGED] = "id_changed",
		[CR_WHY_PASSWORD_WRONG] = "password_wrong",
		[CR_WHY_ACCOUNT_LOCKED] = "account_locked",
		[CR_WHY_PASSPHRASE_BAD] = "passphrase_bad",
		[CR_WHY_BUSY] = "busy",
		[CR_WHY_ISSUE_DOWN] = "issue_down",
		[CR_WHY_NO_ACCOUNT] = "no_account",
		[CR_WHY_REVOKE_WRONG] = "revoke_wrong",
		[CR_WHY_REVOKE_LOCKED] = "revoke_locked",
		[CR_WHY_ALREADY_REVOKED] = "already_revoked",
		[CR_WHY_NOT_REVOCABLE] = "not_revocable",
	};

	if ((size_t)why < sizeof(names) / sizeof(names[0]) && names[why] != NULL)
		return names[why];
	return "unknown";
}
