/*
 * The department coordinator's page 「部門確認續期」 (SPEC R2.1, R2.3): the
 * certificates of the coordinator's own organisation that expire within the
 * configured horizon, and the decision to renew them or not, one by one or for
 * a selection.
 *
 * The rules (who may decide, all or nothing, the organisation scoped in SQL) are the flow
 * layer's (src/flow/flow_dept.c); this file reads the form's ids, calls it and renders.
 * Redirects carry only numbers and fixed codes, never text from the request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/ids.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "web.h"

/* Ids in one post: the form parser takes at most CR_FORM_MAX_FIELDS fields, two of them csrf and decision. */
#define MAX_IDS CR_FORM_MAX_FIELDS

/* Error codes a redirect may carry, each with its message key. */
static const struct {
	const char *code;
	const char *key;
} flash_errors[] = {
	{"none_selected", "dept_err_none_selected"},
};

/* A small positive count from the query (the ?done= of our own redirect); 0 when absent or bad. */
static int
parse_count(const char *s)
{
	int64_t v;

	return cr_id_parse(s, &v) && v <= MAX_IDS ? (int)v : 0;
}

/* The state shown for a decision: a CSS/test name and its label key. */
static void
decision_state(const char *decision, const char **name, const char **key)
{
	if (strcmp(decision, "confirmed") == 0) {
		*name = "confirmed";
		*key = "dept_state_confirmed";
	} else if (strcmp(decision, "declined") == 0) {
		*name = "declined";
		*key = "dept_state_declined";
	} else {
		*name = "pending";
		*key = "dept_state_pending";
	}
}

/*
 * Session, and the flow layer's word that this person may decide for an organisation. A page view
 * without a session goes to the start page; a post gets 403.
 */
static bool
require_coordinator(struct cr_req *req, struct cr_resp *resp, bool post)
{
	struct cr_flow_ctx c;

	if (!cr_session_load(req)) {
		if (req->store_failed)
			cr_render_error(req, resp, 503, "err_unavailable", NULL);
		else if (post) {
			cr_warn("dept", "decision posted without a session from %s", req->ip);
			cr_render_error(req, resp, 403, "err_dept_forbidden", "hint_login_again");
		} else
			cr_resp_redirect(resp, "/");
		return false;
	}
	cr_req_flow(req, &c);
	if (!cr_flow_dept_allowed(&c)) {
		cr_render_error(req, resp, 403, "err_dept_forbidden", NULL);
		return false;
	}
	return true;
}

/* The flash message of a redirect back to the page: {kind, text, count} or NULL. */
static json_t *
flash_json(struct cr_req *req)
{
	const char *err = req->query(req, "error"), *dec = req->query(req, "decision");
	int done = parse_count(req->query(req, "done"));

	if (err != NULL) {
		for (size_t i = 0; i < sizeof(flash_errors) / sizeof(flash_errors[0]); i++)
			if (strcmp(err, flash_errors[i].code) == 0)
				/* count 0 keeps the template from finding the page's count in an outer frame. */
				return json_pack("{s:s, s:s, s:i}", "kind", "error", "text", cr_text(req, flash_errors[i].key),
				    "count", 0);
		return NULL;
	}
	if (done > 0 && dec != NULL && (strcmp(dec, "confirmed") == 0 || strcmp(dec, "declined") == 0))
		return json_pack("{s:s, s:s, s:i}", "kind", "ok", "text",
		    cr_text(req, strcmp(dec, "confirmed") == 0 ? "dept_done_confirmed" : "dept_done_declined"),
		    "count", done);
	return NULL;
}

void
cr_page_department(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_org_cert *certs = NULL;
	struct cr_flow_ctx c;
	size_t n = 0;
	json_t *ctx = NULL, *rows = NULL, *flash;

	if (!require_coordinator(req, resp, false))
		return;
	cr_req_flow(req, &c);
	if ((certs = calloc(CR_FLOW_DEPT_MAX_ROWS, sizeof(*certs))) == NULL || cr_flow_dept_list(&c, certs, &n) != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		goto out;
	}
	if ((rows = json_array()) == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const struct cr_org_cert *oc = &certs[i];
		const char *state, *state_key;
		char date[16];

		decision_state(oc->decision, &state, &state_key);
		cr_macau_date(oc->not_after, date);
		if (json_array_append_new(rows, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		    "id", (json_int_t)oc->cert_id, "holder", oc->holder_name, "type", cr_cert_type_name(oc->type),
		    "type_label", cr_type_label(req, oc->type), "serial", oc->serial_hex, "expiry", date,
		    "state", state, "state_label", cr_text(req, state_key))) != 0)
			goto nomem;
	}
	if ((ctx = cr_page_ctx(req, "dept_title")) == NULL)
		goto nomem;
	json_object_set_new(ctx, "org", json_string(req->person.org_name));
	json_object_set_new(ctx, "horizon", json_integer(req->app->flow.horizon_days));
	json_object_set_new(ctx, "nrows", json_integer((json_int_t)n));
	json_object_set_new(ctx, "truncated", json_boolean(n == CR_FLOW_DEPT_MAX_ROWS));
	json_object_set_new(ctx, "max_bulk", json_integer(MAX_IDS - 2));
	json_object_set_new(ctx, "rows", rows);
	rows = NULL;
	if ((flash = flash_json(req)) != NULL)
		json_object_set_new(ctx, "flash", flash);
	cr_render(req, resp, 200, "department", ctx);
	goto out;
nomem:
	json_decref(ctx);
	cr_render_error(req, resp, 500, "err_internal", NULL);
out:
	json_decref(rows);
	free(certs);
}

/*
 * The ids of a post: `cert=<id>` (a row's button) and `sel_<id>=1` (ticked rows), without
 * repeats. False when a field is malformed; other fields are ignored.
 */
static bool
collect_ids(const struct cr_form *form, int64_t *ids, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < form->n; i++) {
		const char *name = form->f[i].name, *value = form->f[i].value;
		int64_t id;
		bool seen = false;

		if (strcmp(name, "cert") == 0) {
			if (!cr_id_parse(value, &id))
				return false;
		} else if (strncmp(name, "sel_", 4) == 0) {
			if (strcmp(value, "1") != 0 || !cr_id_parse(name + 4, &id))
				return false;
		} else
			continue;
		for (size_t j = 0; j < *n; j++)
			seen = seen || ids[j] == id;
		if (seen)
			continue;
		if (*n == MAX_IDS)
			return false;
		ids[(*n)++] = id;
	}
	return true;
}

void
cr_page_department_decide(struct cr_req *req, struct cr_resp *resp)
{
	const char *decision = cr_form_get(&req->form, "decision");
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	int64_t ids[MAX_IDS];
	size_t n = 0;
	char loc[96];

	if (!require_coordinator(req, resp, true))
		return;
	if (!cr_csrf_ok(req)) {
		cr_warn("dept", "decision refused without a valid CSRF token for person %lld from %s",
		    (long long)req->person.id, req->ip);
		cr_render_error(req, resp, 403, "err_csrf", NULL);
		return;
	}
	if (!collect_ids(&req->form, ids, &n)) {
		cr_warn("dept", "malformed decision form from person %lld at %s", (long long)req->person.id, req->ip);
		cr_render_error(req, resp, 400, "err_dept_bad_request", NULL);
		return;
	}
	cr_req_flow(req, &c);
	cr_flow_dept_decide(&c, decision, ids, n, &res);
	switch (res.outcome) {
	case CR_FLOW_DONE:
		snprintf(loc, sizeof(loc), "/department?done=%d&decision=%s", res.n,
		    strcmp(decision, "confirmed") == 0 ? "confirmed" : "declined");
		cr_resp_redirect(resp, loc);
		return;
	case CR_FLOW_REFUSED:
		if (res.why == CR_WHY_NONE_SELECTED)
			cr_resp_redirect(resp, "/department?error=none_selected");
		else if (res.why == CR_WHY_BAD_DECISION)
			cr_render_error(req, resp, 400, "err_dept_bad_request", NULL);
		else if (res.why == CR_WHY_NOT_COORDINATOR)
			cr_render_error(req, resp, 403, "err_dept_forbidden", NULL);
		else
			cr_render_error(req, resp, 403, "err_dept_refused", NULL);
		return;
	case CR_FLOW_CONFLICT:
	case CR_FLOW_UNAVAILABLE:
		break;
	}
	cr_render_error(req, resp, 500, "err_internal", NULL);
}
