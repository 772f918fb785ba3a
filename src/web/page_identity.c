/*
 * Step 2 「驗證身份」 pages (SPEC R6; seed steps 12-14): the result of DSI's
 * ID-card check, 「上傳近照」 / 「重新上傳」 with the preview, and
 * 「確定使用照片」. A passed face comparison lands on step 3 「確認續期」
 * (page_confirm.c).
 *
 * Translators only: session, CSRF, the declared fields (app, csrf and the file
 * part photo, collected by server.c's streaming upload), one flow call
 * (src/flow/flow_identity.c), a page or a redirect.
 */
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/timefmt.h"
#include "web.h"

/* The comparisons of the newest DSI check, in words (never DSI's data). */
static json_t *
compared_json(struct cr_req *req, const struct cr_id_check *k)
{
	const struct {
		const char *key;
		bool ok;
	} f[] = {
		{"id_field_name", k->name_ok}, {"id_field_name_zh", k->name_zh_ok},
		{"id_field_id_number", k->id_number_ok}, {"id_field_card", k->card_valid},
	};
	json_t *a = json_array();

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		json_array_append_new(a, json_pack("{s:s, s:b}", "label", cr_text(req, f[i].key), "ok", f[i].ok));
	return a;
}

static void
render_identity(struct cr_req *req, struct cr_resp *resp, int64_t app_id, unsigned status, json_t *msg)
{
	struct cr_flow_identity v;
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	char key[64], url[160];
	json_t *ctx;

	cr_req_flow(req, &c);
	cr_flow_identity_view(&c, app_id, &v, &res);
	if (cr_wiz_answered(req, resp, &res)) {
		json_decref(msg);
		return;
	}
	ctx = cr_wiz_ctx(req, "identity_title", res.app.id, 2, msg);
	if (ctx == NULL) {
		cr_render_error(req, resp, 500, "err_internal", NULL);
		return;
	}
	if (res.app.state == CR_APP_COUNTER) {
		snprintf(key, sizeof(key), "counter_%s", res.app.counter_reason);
		json_object_set_new(ctx, "counter", json_true());
		json_object_set_new(ctx, "counter_text", json_string(cr_text(req, key)));
		if (v.checked && strcmp(v.check.outcome, "mismatch") == 0) {
			json_object_set_new(ctx, "has_compared", json_true());
			json_object_set_new(ctx, "compared", compared_json(req, &v.check));
		}
	} else {
		json_object_set_new(ctx, "online", json_true());
		json_object_set_new(ctx, "has_photo", json_boolean(v.has_photo));
		json_object_set_new(ctx, "tries_left", json_integer(v.tries_left));
		/* Shown once a try is used, here or (the holder's limit) on an earlier application. */
		json_object_set_new(ctx, "tries_used",
		    json_boolean(v.tries_used > 0 || v.tries_left < req->app->flow.face_tries_per_app));
		json_object_set_new(ctx, "max_mb", json_integer((json_int_t)(req->app->flow.photo.max_bytes >> 20)));
		if (v.has_photo) {
			/* The hash in the URL makes a replaced photo a new URL (the answer itself is no-store). */
			snprintf(url, sizeof(url), "/ecmp/certrenewal/identity/photo?app=%lld&v=%.12s", (long long)res.app.id,
			    v.photo.sha256);
			json_object_set_new(ctx, "photo_url", json_string(url));
		}
	}
	cr_render(req, resp, status, "identity", ctx);
}

void
cr_page_identity(struct cr_req *req, struct cr_resp *resp)
{
	if (!cr_require_session(req, resp))
		return;
	render_identity(req, resp, cr_wiz_app_param(req, false), 200, NULL);
}

void
cr_page_photo_upload(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	int64_t app_id;
	char key[48];

	if (!cr_require_session(req, resp))
		return;
	/* The form's action names the application too, for an answer given before the form is read. */
	if ((app_id = cr_wiz_app_param(req, true)) == 0)
		app_id = cr_wiz_app_param(req, false);
	/* Too big changes nothing, so it is answered without the form (it may not have been read). */
	if (req->upload_too_big) {
		size_t cap = req->app->flow.photo.max_bytes;

		cr_warn("identity", "person %lld: photo over %zu bytes refused", (long long)req->person.id, cap);
		/* In whole MB when it is (the default 10 MB), else in KB: never "at most 0 MB". */
		render_identity(req, resp, app_id, 413,
		    cap % (1u << 20) == 0 ? cr_wiz_message(req, "photo_too_big", (int)(cap >> 20), false)
		                          : cr_wiz_message(req, "photo_too_big_kb", (int)(cap >> 10), false));
		return;
	}
	if (!cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_flow_photo_upload(&c, app_id, req->upload.data, req->upload.len, &res);
	if (cr_wiz_answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_REFUSED) {
		snprintf(key, sizeof(key), "photo_%s", cr_image_verdict_name((enum cr_image_verdict)res.n));
		render_identity(req, resp, app_id, 400, cr_wiz_message(req, key, 0, false));
		return;
	}
	cr_wiz_redirect_to_step(resp, &res.app, "photo_uploaded");
}

void
cr_page_photo(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_ctx c;
	enum cr_err err;

	if (!cr_require_session(req, resp))
		return;
	cr_req_flow(req, &c);
	cr_buf_free(&resp->body);
	cr_buf_init(&resp->body, 32u * 1024u * 1024u);
	if ((err = cr_flow_photo_get(&c, cr_wiz_app_param(req, false), &resp->body)) != CR_OK) {
		cr_buf_free(&resp->body);
		cr_buf_init(&resp->body, 4u * 1024u * 1024u);
		cr_render_error(req, resp, err == CR_ERR_NOTFOUND ? 404 : 500,
		    err == CR_ERR_NOTFOUND ? "err_not_found" : "err_internal", NULL);
		return;
	}
	resp->status = 200;
	resp->content_type = "image/jpeg";
	resp->cache_control = "no-store, private";
}

void
cr_page_face_check(struct cr_req *req, struct cr_resp *resp)
{
	struct cr_flow_result res;
	struct cr_flow_ctx c;
	int64_t app_id;

	if (!cr_require_session(req, resp) || !cr_wiz_csrf_ok(req, resp))
		return;
	cr_req_flow(req, &c);
	app_id = cr_wiz_app_param(req, true);
	cr_flow_face_check(&c, app_id, &res);
	if (cr_wiz_answered(req, resp, &res))
		return;
	if (res.outcome == CR_FLOW_REFUSED) {
		if (res.why == CR_WHY_PHOTO_MISSING)
			render_identity(req, resp, app_id, 400, cr_wiz_message(req, "photo_missing", 0, false));
		else
			render_identity(req, resp, app_id, 400, cr_wiz_message(req, cr_flow_why_name(res.why), res.n, false));
		return;
	}
	cr_wiz_redirect_to_step(resp, &res.app, NULL);
}
