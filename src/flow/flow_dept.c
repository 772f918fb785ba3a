/*
 * The department coordinator's decisions (SPEC R2.1, R2.3): whether each of the
 * organisation's certificates that expire within the horizon is renewed.
 *
 * Trust: the organisation is the actor's, never the input's. Every id is checked
 * again by the store, scoped by that organisation in SQL (cr_db_org_decide), so a
 * forged id of another organisation finds nothing; one refused id rolls the whole
 * post back.
 */
#include <stdio.h>
#include <string.h>

#include "flow_int.h"
#include "util/log.h"

bool
cr_flow_dept_allowed(const struct cr_flow_ctx *c)
{
	if (c->actor != NULL && c->actor->is_coordinator)
		return true;
	cr_warn("dept", "person %lld (not a coordinator) refused from %s", (long long)flow_actor_id(c), c->ip);
	return false;
}

enum cr_err
cr_flow_dept_list(const struct cr_flow_ctx *c, struct cr_org_cert *out, size_t *n)
{
	enum cr_err err;

	*n = 0;
	if (!cr_flow_dept_allowed(c))
		return CR_ERR_DENIED;
	err = cr_db_org_certs_expiring(c->db, c->actor->org_id, c->now, c->env->horizon_days, out, CR_FLOW_DEPT_MAX_ROWS, n);
	if (err != CR_OK)
		cr_error("dept", "listing organisation %lld: %s", (long long)c->actor->org_id, cr_err_str(err));
	return err;
}

void
cr_flow_dept_decide(const struct cr_flow_ctx *c, const char *decision, const int64_t *ids, size_t n,
    struct cr_flow_result *res)
{
	char actor[48], object[48];
	bool confirm;
	enum cr_err err;

	memset(res, 0, sizeof(*res));
	if (!cr_flow_dept_allowed(c)) {
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_NOT_COORDINATOR, 0);
		return;
	}
	if (decision == NULL || (strcmp(decision, "confirmed") != 0 && strcmp(decision, "declined") != 0)) {
		cr_warn("dept", "person %lld: decision neither confirmed nor declined", (long long)c->actor->id);
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_BAD_DECISION, 0);
		return;
	}
	if (n == 0) {
		flow_result(res, CR_FLOW_REFUSED, CR_WHY_NONE_SELECTED, 0);
		return;
	}
	confirm = strcmp(decision, "confirmed") == 0;
	snprintf(actor, sizeof(actor), "person:%lld", (long long)c->actor->id);
	if ((err = cr_db_begin(c->db)) != CR_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		err = cr_db_org_decide(c->db, c->actor->org_id, ids[i], decision, actor, c->now, c->env->horizon_days);
		if (err == CR_ERR_NOTFOUND) {
			cr_db_rollback(c->db);
			cr_warn("dept", "coordinator person %lld (organisation %lld) refused certificate %lld: not theirs "
			    "or outside the horizon; nothing of the %zu decisions in the post was saved (from %s)",
			    (long long)c->actor->id, (long long)c->actor->org_id, (long long)ids[i], n, c->ip);
			flow_result(res, CR_FLOW_REFUSED, CR_WHY_NOT_THEIRS, 0);
			return;
		}
		snprintf(object, sizeof(object), "cert:%lld", (long long)ids[i]);
		if (err != CR_OK || (err = flow_audit(c, confirm ? "confirm" : "decline", object, "")) != CR_OK)
			goto fail;
	}
	if ((err = cr_db_commit(c->db)) != CR_OK)
		goto fail;
	cr_info("dept", "person %lld %s %zu certificate(s)", (long long)c->actor->id, decision, n);
	flow_result(res, CR_FLOW_DONE, CR_WHY_NONE, (int)n);
	return;
fail:
	cr_db_rollback(c->db);
	cr_error("dept", "saving decisions of person %lld: %s", (long long)c->actor->id, cr_err_str(err));
	flow_result(res, CR_FLOW_UNAVAILABLE, CR_WHY_NONE, 0);
}
