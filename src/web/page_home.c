/*
 * The holder's home page and 「待續期之電子證書」 (SPEC R3.3, R4): counts per
 * certificate type in each of the three groups, all read through the session's
 * holder so nobody sees another's certificates.
 */
#include <stdio.h>

#include "util/log.h"
#include "web.h"

void
cr_page_home(struct cr_req *req, struct cr_resp *resp)
{
	if (!cr_require_session(req, resp))
		return;
	cr_render(req, resp, 200, "home", cr_page_ctx(req, "home_title"));
}

/* The customer's order on the page: 合格, 加密, 雲簽. */
static const enum cr_cert_type type_order[] = {CR_CERT_QUALIFIED, CR_CERT_ENCRYPTION, CR_CERT_CLOUDSIGN};

static json_t *
group_json(struct cr_req *req, const struct cr_pending_counts *pc, enum cr_pending_group g, const char *id,
    const char *title_key, const char *empty_key)
{
	json_t *items = json_array();

	for (size_t i = 0; i < sizeof(type_order) / sizeof(type_order[0]); i++) {
		enum cr_cert_type t = type_order[i];

		if (pc->n[g][t] == 0)
			continue;
		json_array_append_new(items, json_pack("{s:s, s:s, s:i}", "type", cr_cert_type_name(t),
		    "label", cr_type_label(req, t), "count", pc->n[g][t]));
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:i}", "id", id, "title", cr_text(req, title_key),
	    "empty", cr_text(req, empty_key), "items", items, "total", pc->total[g]);
}

void
cr_page_pending(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_pending_counts pc;
	json_t *ctx, *groups;

	if (!cr_require_session(req, resp))
		return;
	if (cr_db_pending_counts(cr_req_db(req), req->person.id, req->now, req->app->cfg->window_days, &pc) != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	groups = json_pack("[o, o, o]",
	    group_json(req, &pc, CR_GROUP_VERIFY, "group-verify", "group_verify", "group_verify_empty"),
	    group_json(req, &pc, CR_GROUP_ACTIVATE, "group-activate", "group_activate", "group_activate_empty"),
	    group_json(req, &pc, CR_GROUP_OFFLINE, "group-offline", "group_offline", "group_offline_empty"));
	/* 「待身份鑑別之證書 >」 leads to the certificates and 「開始鑑別」. */
	json_object_set_new(json_array_get(groups, 0), "link", json_string("/ecmp/certrenewal/verify"));
	/* 「待線上激活之證書 >」 leads to step 4 of the application holding them and 「激活」. */
	json_object_set_new(json_array_get(groups, 1), "link", json_string("/ecmp/certrenewal/activate"));
	ctx = cr_page_ctx(req, "pending_title");
	if (ctx != NULL)
		json_object_set_new(ctx, "groups", groups);
	else
		json_decref(groups);
	cr_render(req, resp, 200, "pending", ctx);
}
