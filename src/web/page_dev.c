/*
 * DEV-only pages: /dev/mail lists every message of the outbox, newest first,
 * and /dev/mail/message?id=N shows one in full, so a tester can read codes and
 * notices without a mail server. A message is shown from its envelope, opened
 * and rendered as delivery does (cr_mailer_open): its headers, the text part
 * and the HTML source; not from the MIME bytes. Outside DEV mode these paths
 * answer 404, as if they did not exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "notify/mime.h"
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
	struct cr_mailer_letter l;
	char *end = NULL, when[32], date[CR_MAIL_DATE_SIZE];
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
	if (cr_mailer_open(&req->app->mailer, &m, &l) != CR_OK || cr_mail_date(l.mail.date, date, sizeof(date)) != CR_OK) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		goto out;
	}
	ctx = cr_page_ctx(req, "dev_mail_title");
	if (ctx != NULL) {
		cr_macau_datetime(m.created_at, when);
		json_object_set_new(ctx, "message", json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?}",
		    "id", (json_int_t)m.id, "when", when, "state", m.state, "from", l.mail.from, "to", l.mail.to,
		    "subject", l.mail.subject, "date", date, "message_id", l.mail.message_id, "text", l.mail.text,
		    "html", l.mail.html));
	}
	cr_render(req, resp, 200, "dev_mail_message", ctx);
out:
	cr_mailer_letter_free(&l);
	cr_outbox_msg_free(&m);
}
