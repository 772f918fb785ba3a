/*
 * What every flow function shares: the audit row of an action, the result's
 * constructors, and the names of the reasons.
 */
#include <stdio.h>

#include "flow_int.h"

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
		snprintf(actor, sizeof(actor), "anonymous");
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
	};

	if ((size_t)why < sizeof(names) / sizeof(names[0]) && names[why] != NULL)
		return names[why];
	return "unknown";
}
