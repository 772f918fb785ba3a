/*
 * DEV-only pages: /dev/mail lists every message of the outbox, newest first,
 * and /dev/mail/message?id=N shows one decoded, so a tester can read codes and
 * notices without a mail server. Outside DEV mode these paths answer 404, as
 * if they did not exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "adapters/mail.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "web.h"

#define LIST_MAX 200

void
cr_page_dev_mail(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_outbox_msg *rows;
	size_t n = 0;
	json_t *ctx, *list;

	if (!req->app->cfg->dev) {
		cr_render_error(req, resp, 404, "err_not_found", NULL);
		return;
	}
	cr_session_load(req);
	if ((rows = calloc(LIST_MAX, sizeof(*rows))) == NULL ||
	    cr_db_outbox_list(cr_req_db(req), NULL, 0, LIST_MAX, rows, &n) != CR_OK) {
		free(rows);
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		char when[32];

		cr_macau_datetime(rows[i].created_at, when);
		json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)rows[i].id,
		    "when", when, "to", rows[i].to_addr, "subject", rows[i].subject, "state", rows[i].state,
		    "kind", rows[i].kind));
	}
	free(rows);
	ctx = cr_page_ctx(req, "dev_mail_title");
	if (ctx != NULL)
		json_object_set_new(ctx, "messages", list);
	else
		json_decref(list);
	cr_render(req, resp, 200, "dev_mail", ctx);
}

void
cr_page_dev_mail_message(struct cr_req *req, struct cr_resp *resp)
{
	const char *ids = req->query(req, "id");
	struct cr_outbox_msg m = {0};
	struct cr_buf raw, subject, text;
	char *end = NULL;
	long long id;
	json_t *ctx;

	if (!req->app->cfg->dev) {
		cr_render_error(req, resp, 404, "err_not_found", NULL);
		return;
	}
	cr_session_load(req);
	id = ids ? strtoll(ids, &end, 10) : 0;
	if (ids == NULL || *end != '\0' || id <= 0 || cr_db_outbox_get(cr_req_db(req), id, &m) != CR_OK) {
		cr_render_error(req, resp, 404, "err_not_found", NULL);
		return;
	}
	cr_buf_init(&raw, 2u * 1024u * 1024u);
	cr_buf_init(&subject, 4096);
	cr_buf_init(&text, 2u * 1024u * 1024u);
	if (cr_mailer_build(&req->app->mailer, &m, &raw) != CR_OK ||
	    cr_mail_decode(raw.data, raw.len, &subject, &text, NULL) != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		goto out;
	}
	ctx = cr_page_ctx(req, "dev_mail_title");
	if (ctx != NULL) {
		char when[32];

		cr_macau_datetime(m.created_at, when);
		json_object_set_new(ctx, "message", json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
		    (json_int_t)m.id, "when", when, "to", m.to_addr, "subject", cr_buf_str(&subject), "text",
		    cr_buf_str(&text), "raw", cr_buf_str(&raw), "state", m.state));
	}
	cr_render(req, resp, 200, "dev_mail_message", ctx);
out:
	cr_outbox_msg_free(&m);
	cr_buf_free(&raw);
	cr_buf_free(&subject);
	cr_buf_free(&text);
}
