/*
 * The very-high e-ID (docs/internals/eid.md): a govid:very-high /authorize
 * shows a QR code instead of the account list; the GovID phone app (here: the
 * phone's view, a page) scans it, "recognises the face" and asks the holder
 * to approve the binding message; the computer's page polls until the phone
 * has answered and then goes back to the client with a code or access_denied.
 *
 * Two secrets per e-ID, each 256-bit random and stored only as SHA-256:
 *   poll  - in the computer's page (QR image, status, continue): receives the answer;
 *   scan  - in the QR code (the phone's URL): gives the answer, once.
 * Seeing the QR code is therefore not enough to receive the code. The phone's
 * form carries a third one-time value (tx), so a decision can only be posted
 * from the page that the one allowed view of the scan URL served.
 *
 * What it trusts: nothing from HTTP; paths and forms are checked here, the
 * authorization request was validated by authorize.c. State: two bounded,
 * expiring tables under the e-ID's own lock (never held while taking gs->lock).
 */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>
#include <sodium.h>

#include "oidc.h"
#include "util/log.h"

#define QR_SCALE 6      /* pixels per module */
#define QR_QUIET 4      /* modules of white border (ISO/IEC 18004 quiet zone) */
#define QR_PNG_MAX (256 * 1024)
#define TOKEN_CHARS 43  /* our random values in base64url */

enum eid_state { EID_WAITING, EID_APPROVED, EID_REFUSED };

/* One pending e-ID, keyed by SHA-256 of its poll secret. */
struct eid_req {
	struct gs_pending *p;   /* the authorization request (client, redirect, state, nonce, PKCE) */
	char *login_hint;       /* the holder asked for */
	char *binding;          /* binding_message, shown on both pages */
	char *scan_url;         /* what the QR code encodes (the page must be able to show it again) */
	enum eid_state state;
	int viewed;             /* the scan URL has been opened (one view) */
	uint8_t tx[32];         /* SHA-256 of the phone form's one-time value */
	char *approver;         /* sub of the phone that approved */
	time_t approved_at;
};

/* The scan secret's entry: which poll entry it answers. */
struct scan_ref {
	uint8_t poll_id[32];
};

struct gs_eid {
	pthread_mutex_t lock;
	struct gs_table *polls;  /* struct eid_req */
	struct gs_table *scans;  /* struct scan_ref */
	char *csp;               /* the e-ID page's CSP: the pages' one plus own image, script, fetch */
};

static void
free_str(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

static void
eid_req_free(void *v)
{
	struct eid_req *e = v;

	if (e == NULL)
		return;
	gs_pending_free(e->p);
	free_str(e->login_hint);
	free_str(e->binding);
	free_str(e->scan_url);
	free_str(e->approver);
	free(e);
}

enum cr_err
gs_eid_init(struct gs *gs)
{
	struct gs_eid *x = calloc(1, sizeof(*x));
	struct cr_buf b;

	if (x == NULL)
		return CR_ERR_NOMEM;
	if (pthread_mutex_init(&x->lock, NULL) != 0) {
		free(x);
		return CR_ERR_NOMEM;
	}
	gs->eid = x;
	x->polls = gs_table_new(GS_TABLE_MAX, eid_req_free);
	x->scans = gs_table_new(GS_TABLE_MAX, free);
	cr_buf_init(&b, 2048);
	if (x->polls == NULL || x->scans == NULL ||
	    cr_buf_printf(&b, "%s; img-src 'self'; script-src 'self'; connect-src 'self'", gs->csp) != CR_OK) {
		cr_buf_free(&b);
		gs_eid_fini(gs);
		return CR_ERR_NOMEM;
	}
	x->csp = cr_buf_take(&b);
	return CR_OK;
}

void
gs_eid_fini(struct gs *gs)
{
	struct gs_eid *x = gs->eid;

	if (x == NULL)
		return;
	gs_table_free(x->polls);
	gs_table_free(x->scans);
	free(x->csp);
	pthread_mutex_destroy(&x->lock);
	free(x);
	gs->eid = NULL;
}

int
gs_eid_path(const char *path)
{
	return path != NULL && strncmp(path, "/eid/", 5) == 0;
}

/* 1 if s is one of our random values (43 base64url characters). */
static int
token_ok(const char *s, size_t len)
{
	char tmp[TOKEN_CHARS + 1];

	if (len != TOKEN_CHARS)
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return gs_is_b64url(tmp);
}

/* The e-ID's HTML pages carry their own CSP (they load /eid/poll.js and the QR image). */
static enum MHD_Result
reply_eid_html(struct gs_req *r, unsigned status, struct cr_buf *html)
{
	const char *const h[] = { "Content-Security-Policy", r->gs->eid->csp, NULL };

	return gs_reply(r, status, "text/html; charset=utf-8", html, h);
}

static enum MHD_Result
message_page(struct gs_req *r, unsigned status, const char *title, const char *message, int error)
{
	struct cr_buf html;
	enum cr_err err = error ? gs_page_error(title, message, &html) :
	    gs_page_notice(title, message, &html);

	if (err != CR_OK)
		return gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	return gs_reply_html(r, status, &html);
}

static enum MHD_Result
gone(struct gs_req *r)
{
	return message_page(r, MHD_HTTP_GONE, "此電子身份請求已使用或已逾時",
	    "此二維碼已使用或已逾時。請返回應用程式重新開始。", 1);
}

/* ---- the QR code as PNG (libqrencode, libpng) ---- */

struct png_sink {
	struct cr_buf *b;
	int failed;
};

static void
png_sink_write(png_structp png, png_bytep data, size_t len)
{
	struct png_sink *s = png_get_io_ptr(png);

	if (cr_buf_add(s->b, data, len) != CR_OK)
		s->failed = 1;
}

static void
png_sink_flush(png_structp png)
{
	(void)png;
}

/* Writes qr as an 8-bit grey PNG, QR_SCALE pixels a module and a QR_QUIET border. row holds side
 * bytes (allocated by the caller, so that a libpng longjmp leaks nothing). */
static enum cr_err
write_png(const QRcode *qr, unsigned char *row, size_t side, struct cr_buf *out)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
	struct png_sink sink = { out, 0 };
	size_t w = (size_t)qr->width;

	if (info == NULL) {
		png_destroy_write_struct(&png, NULL);
		return CR_ERR_NOMEM;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return CR_ERR_IO;
	}
	png_set_write_fn(png, &sink, png_sink_write, png_sink_flush);
	png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 8, PNG_COLOR_TYPE_GRAY,
	    PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (size_t y = 0; y < side; y++) {
		size_t my = y / QR_SCALE;

		for (size_t x = 0; x < side; x++) {
			size_t mx = x / QR_SCALE;
			int dark = my >= QR_QUIET && my < QR_QUIET + w && mx >= QR_QUIET &&
			    mx < QR_QUIET + w &&
			    (qr->data[(my - QR_QUIET) * w + (mx - QR_QUIET)] & 1);

			row[x] = dark ? 0 : 255;
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return sink.failed ? CR_ERR_TOOBIG : CR_OK;
}

/* The PNG of a QR code (level M) holding text; *out initialised here, the caller's to free. */
static enum cr_err
qr_png(const char *text, struct cr_buf *out)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	unsigned char *row = NULL;
	size_t side;
	enum cr_err err = CR_ERR_NOMEM;

	cr_buf_init(out, QR_PNG_MAX);
	if (qr == NULL)
		return CR_ERR_TOOBIG;
	side = ((size_t)qr->width + 2 * QR_QUIET) * QR_SCALE;
	if ((row = malloc(side)) != NULL)
		err = write_png(qr, row, side, out);
	free(row);
	QRcode_free(qr);
	if (err != CR_OK)
		cr_buf_free(out);
	return err;
}

/* ---- starting an e-ID (from /authorize) ---- */

static enum cr_err
dup_request(const struct gs *gs, const struct gs_eid_request *q, const char *scan,
    struct eid_req **out)
{
	struct eid_req *e = calloc(1, sizeof(*e));
	struct gs_pending *p = calloc(1, sizeof(*p));
	struct cr_buf url;

	*out = NULL;
	cr_buf_init(&url, 2048);
	if (e == NULL || p == NULL) {
		free(e);
		free(p);
		return CR_ERR_NOMEM;
	}
	e->p = p;
	p->very_high = 1;
	p->client_id = strdup(q->client_id);
	p->redirect_uri = strdup(q->redirect_uri);
	p->state = strdup(q->state);
	p->nonce = strdup(q->nonce);
	p->code_challenge = strdup(q->code_challenge);
	e->login_hint = strdup(q->login_hint);
	e->binding = strdup(q->binding_message);
	if (cr_buf_printf(&url, "%s/eid/scan/%s", gs->issuer, scan) == CR_OK)
		e->scan_url = cr_buf_take(&url);
	cr_buf_free(&url);
	if (p->client_id == NULL || p->redirect_uri == NULL || p->state == NULL ||
	    p->nonce == NULL || p->code_challenge == NULL || e->login_hint == NULL ||
	    e->binding == NULL || e->scan_url == NULL) {
		eid_req_free(e);
		return CR_ERR_NOMEM;
	}
	*out = e;
	return CR_OK;
}

/* Stores e (consumed on CR_OK) under poll and its scan reference under scan. */
static enum cr_err
store(struct gs_eid *x, struct eid_req *e, const char *poll, const char *scan)
{
	struct scan_ref *ref = calloc(1, sizeof(*ref));
	uint8_t scan_id[32];
	time_t expires = gs_now() + GS_PENDING_TTL;
	enum cr_err err;

	if (ref == NULL)
		return CR_ERR_NOMEM;
	cr_sha256(poll, strlen(poll), ref->poll_id);
	cr_sha256(scan, strlen(scan), scan_id);
	pthread_mutex_lock(&x->lock);
	err = gs_table_put(x->polls, ref->poll_id, expires, e);
	if (err == CR_OK && (err = gs_table_put(x->scans, scan_id, expires, ref)) != CR_OK) {
		/* Hand e back to the caller rather than freeing it here. */
		(void)gs_table_take(x->polls, ref->poll_id, gs_now());
	}
	pthread_mutex_unlock(&x->lock);
	if (err != CR_OK)
		free(ref);
	return err;
}

enum cr_err
gs_eid_begin(struct gs_req *r, const struct gs_eid_request *q, enum MHD_Result *ret)
{
	struct gs_eid *x = r->gs->eid;
	char *poll = NULL, *scan = NULL;
	struct eid_req *e = NULL;
	struct cr_buf html;
	enum cr_err err;

	if ((err = gs_random_token(&poll)) != CR_OK || (err = gs_random_token(&scan)) != CR_OK ||
	    (err = dup_request(r->gs, q, scan, &e)) != CR_OK)
		goto out;
	/* Render before storing: once stored, e belongs to the table. */
	if ((err = gs_page_eid_wait(r->gs, poll, e->scan_url, e->binding, &html)) != CR_OK)
		goto out;
	if ((err = store(x, e, poll, scan)) != CR_OK) {
		cr_buf_free(&html);
		goto out;
	}
	e = NULL;
	cr_info(GS_LOG, "e-ID of %s started", q->login_hint);
	*ret = reply_eid_html(r, MHD_HTTP_OK, &html);
out:
	eid_req_free(e);
	free_str(poll);
	free_str(scan);
	return err;
}

/* ---- the computer's side: the QR image, the status, continue ---- */

/* The live entry of a poll secret (lock held), or NULL. */
static struct eid_req *
find_poll(struct gs_eid *x, const char *poll, uint8_t id[32])
{
	cr_sha256(poll, strlen(poll), id);
	return gs_table_get(x->polls, id, gs_now());
}

static enum MHD_Result
qr_image(struct gs_req *r, const char *poll)
{
	struct gs_eid *x = r->gs->eid;
	struct eid_req *e;
	uint8_t id[32];
	char *url = NULL;
	struct cr_buf png;
	enum cr_err err;

	pthread_mutex_lock(&x->lock);
	if ((e = find_poll(x, poll, id)) != NULL && e->state == EID_WAITING)
		url = strdup(e->scan_url);
	pthread_mutex_unlock(&x->lock);
	if (url == NULL)
		return gs_reply_text(r, MHD_HTTP_NOT_FOUND, "not found\n");
	err = qr_png(url, &png);
	free_str(url);
	if (err != CR_OK)
		return gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	return gs_reply(r, MHD_HTTP_OK, "image/png", &png, NULL);
}

/*
 * {"status":"waiting","state":"waiting"} until the phone answers, then
 * {"status":"done","state":"approved"|"refused","location":"{issuer}/eid/continue/{poll}"};
 * {"status":"expired","state":"expired"} for an unknown, expired or finished e-ID.
 */
static enum MHD_Result
status(struct gs_req *r, const char *poll)
{
	struct gs_eid *x = r->gs->eid;
	struct eid_req *e;
	uint8_t id[32];
	const char *state = "expired";
	struct cr_buf loc;
	json_t *j;

	pthread_mutex_lock(&x->lock);
	if ((e = find_poll(x, poll, id)) != NULL)
		state = e->state == EID_WAITING ? "waiting" :
		    e->state == EID_APPROVED ? "approved" : "refused";
	pthread_mutex_unlock(&x->lock);
	if (strcmp(state, "approved") != 0 && strcmp(state, "refused") != 0)
		return gs_reply_json(r, MHD_HTTP_OK,
		    json_pack("{s:s, s:s}", "status", state, "state", state), NULL);
	cr_buf_init(&loc, 2048);
	if (cr_buf_printf(&loc, "%s/eid/continue/%s", r->gs->issuer, poll) != CR_OK) {
		cr_buf_free(&loc);
		return gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	j = json_pack("{s:s, s:s, s:s}", "status", "done", "state", state,
	    "location", cr_buf_str(&loc));
	cr_buf_free(&loc);
	return gs_reply_json(r, MHD_HTTP_OK, j, NULL);
}

/* The client redirect of a finished e-ID (consumed: its poll secret is spent). */
static enum MHD_Result
finish(struct gs_req *r, struct eid_req *e)
{
	struct gs_pending *p = e->p;
	char *code = NULL, *loc = NULL;
	const char *pairs[] = { "code", NULL, "state", p->state, NULL };
	enum MHD_Result ret;

	if (e->state == EID_REFUSED) {
		cr_info(GS_LOG, "e-ID of %s refused on the phone", e->login_hint);
		return gs_error_redirect(r, p->redirect_uri, p->state, "access_denied",
		    "the e-ID was refused on the phone");
	}
	if (gs_code_issue(r->gs, p, e->approver, e->approved_at, &code) != CR_OK)
		return gs_error_redirect(r, p->redirect_uri, p->state, "temporarily_unavailable",
		    "too many outstanding codes");
	pairs[1] = code;
	cr_info(GS_LOG, "e-ID of %s approved by the phone of %s (acr %s)", e->login_hint,
	    e->approver, GS_ACR_VERY_HIGH);
	if (gs_build_url(p->redirect_uri, pairs, &loc) != CR_OK) {
		ret = gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	} else {
		const char *const h[] = { "Location", loc, NULL };

		ret = gs_reply(r, MHD_HTTP_SEE_OTHER, NULL, NULL, h);
	}
	free_str(loc);
	free_str(code);
	return ret;
}

/* 303 to the client when the phone has answered; the page again while it has not. */
static enum MHD_Result
continue_(struct gs_req *r, const char *poll)
{
	struct gs_eid *x = r->gs->eid;
	struct eid_req *e;
	uint8_t id[32];
	struct cr_buf html;
	enum cr_err err = CR_OK;
	enum MHD_Result ret;

	pthread_mutex_lock(&x->lock);
	if ((e = find_poll(x, poll, id)) != NULL && e->state == EID_WAITING) {
		err = gs_page_eid_wait(r->gs, poll, e->scan_url, e->binding, &html);
		e = NULL;
		pthread_mutex_unlock(&x->lock);
		if (err != CR_OK)
			return gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
		return reply_eid_html(r, MHD_HTTP_OK, &html);
	}
	if (e != NULL)
		e = gs_table_take(x->polls, id, gs_now());
	pthread_mutex_unlock(&x->lock);
	if (e == NULL)
		return gone(r);
	ret = finish(r, e);
	eid_req_free(e);
	return ret;
}

/* ---- the phone's side ---- */

/* The live entry answered by a scan secret (lock held), or NULL. */
static struct eid_req *
find_scan(struct gs_eid *x, const char *scan)
{
	uint8_t id[32];
	struct scan_ref *ref;

	cr_sha256(scan, strlen(scan), id);
	if ((ref = gs_table_get(x->scans, id, gs_now())) == NULL)
		return NULL;
	return gs_table_get(x->polls, ref->poll_id, gs_now());
}

/* GET: the one view of the scan URL (face recognition, what is approved, the form). */
static enum MHD_Result
phone_view(struct gs_req *r, const char *scan)
{
	struct gs_eid *x = r->gs->eid;
	const struct gs_person *holder;
	struct eid_req *e;
	char tx[CR_TOKEN_LEN];
	struct cr_buf html;
	enum cr_err err;

	cr_random_token(tx);
	pthread_mutex_lock(&x->lock);
	if ((e = find_scan(x, scan)) == NULL || e->viewed || e->state != EID_WAITING) {
		pthread_mutex_unlock(&x->lock);
		sodium_memzero(tx, sizeof(tx));
		return gone(r);
	}
	/* authorize.c checked login_hint; people are read-only. */
	holder = gs_people_find(&r->gs->people, e->login_hint);
	e->viewed = 1;
	cr_sha256(tx, strlen(tx), e->tx);
	err = holder == NULL ? CR_ERR_NOTFOUND :
	    gs_page_eid_phone(r->gs, scan, tx, holder, e->binding, &html);
	pthread_mutex_unlock(&x->lock);
	sodium_memzero(tx, sizeof(tx));
	if (err != CR_OK)
		return gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	return gs_reply_html(r, MHD_HTTP_OK, &html);
}

/* The phone's decision from its form; NULL on success, else the error page's message and
 * *status. Lock held. */
static const char *
decide_locked(struct gs *gs, struct eid_req *e, const char *tx, const char *decision,
    const char *as, unsigned *status)
{
	const struct gs_person *who;
	uint8_t h[32];

	*status = MHD_HTTP_GONE;
	if (!e->viewed || e->state != EID_WAITING)
		return "此二維碼已使用或已逾時。";
	*status = MHD_HTTP_FORBIDDEN;
	cr_sha256(tx, strlen(tx), h);
	if (crypto_verify_32(h, e->tx) != 0)
		return "表單已失效，請重新掃描二維碼。";
	*status = MHD_HTTP_BAD_REQUEST;
	if (strcmp(decision, "refuse") == 0) {
		e->state = EID_REFUSED;
		return NULL;
	}
	if (strcmp(decision, "approve") != 0)
		return "未知的決定。";
	/* DEV: `as` makes another account's phone answer (default: the holder asked for). */
	who = gs_people_find(&gs->people, as != NULL ? as : e->login_hint);
	if (who == NULL || who->id_number == NULL)
		return "未知的帳戶。";
	if ((e->approver = strdup(who->sub)) == NULL) {
		*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		return "內部錯誤。";
	}
	e->state = EID_APPROVED;
	e->approved_at = gs_now();
	return NULL;
}

/* POST: tx, decision=approve|refuse, optional as. */
static enum MHD_Result
phone_decide(struct gs_req *r, const char *scan)
{
	struct gs_eid *x = r->gs->eid;
	const char *tx, *decision, *as = NULL, *why;
	struct eid_req *e;
	struct cr_form f;
	unsigned status = MHD_HTTP_BAD_REQUEST;
	int approved = 0;
	enum MHD_Result ret;

	if (!gs_is_form(gs_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return gs_reply_text(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "application/x-www-form-urlencoded expected\n");
	if (cr_form_parse_rules(cr_buf_str(&r->body), r->body.len, &gs_form_rules, &f) != CR_OK)
		return message_page(r, MHD_HTTP_BAD_REQUEST, "無法處理", "表單格式錯誤。", 1);
	if (gs_form_get(&f, "tx", MAX_RANDOM, &tx) != CR_OK ||
	    gs_form_get(&f, "decision", MAX_SHORT, &decision) != CR_OK ||
	    gs_form_get(&f, "as", MAX_SUB, &as) == CR_ERR_CONFLICT) {
		cr_form_free(&f);
		return message_page(r, MHD_HTTP_BAD_REQUEST, "無法處理", "表單欄位缺少或重複。", 1);
	}
	pthread_mutex_lock(&x->lock);
	if ((e = find_scan(x, scan)) == NULL) {
		status = MHD_HTTP_GONE;
		why = "此二維碼已使用或已逾時。";
	} else {
		why = decide_locked(r->gs, e, tx, decision, as, &status);
		approved = why == NULL && e->state == EID_APPROVED;
	}
	pthread_mutex_unlock(&x->lock);
	cr_form_free(&f);
	if (why != NULL)
		ret = message_page(r, status, "無法完成確認", why, 1);
	else if (approved)
		ret = message_page(r, MHD_HTTP_OK, "已確認",
		    "你已確認此電子身份識別。請返回電腦上的瀏覽器繼續。", 0);
	else
		ret = message_page(r, MHD_HTTP_OK, "已拒絕",
		    "你已拒絕此電子身份識別。應用程式將收到拒絕的結果。", 0);
	return ret;
}

/* ---- the polling script and routing ---- */

/* Polls data-status of #eid every second; goes to the answer's location when done. */
static const char POLL_JS[] =
    "'use strict';\n"
    "(function () {\n"
    "  var box = document.getElementById('eid');\n"
    "  var msg = document.getElementById('eid-msg');\n"
    "  if (!box || !window.fetch) return;\n"
    "  var url = box.getAttribute('data-status');\n"
    "  function tick() {\n"
    "    fetch(url, { cache: 'no-store', credentials: 'omit' })\n"
    "      .then(function (r) { return r.json(); })\n"
    "      .then(function (j) {\n"
    "        if (j.status === 'done' && j.location) { window.location.assign(j.location); return; }\n"
    "        if (j.status === 'expired') {\n"
    "          if (msg) msg.textContent = '此電子身份請求已逾時，請返回應用程式重新開始。';\n"
    "          return;\n"
    "        }\n"
    "        setTimeout(tick, 1000);\n"
    "      })\n"
    "      .catch(function () { setTimeout(tick, 2000); });\n"
    "  }\n"
    "  setTimeout(tick, 1000);\n"
    "})();\n";

static enum MHD_Result
poll_js(struct gs_req *r)
{
	struct cr_buf b;

	cr_buf_init(&b, sizeof(POLL_JS));
	if (cr_buf_add(&b, POLL_JS, sizeof(POLL_JS) - 1) != CR_OK)
		return MHD_NO;
	return gs_reply(r, MHD_HTTP_OK, "text/javascript; charset=utf-8", &b, NULL);
}

/* 1 if path is prefix + one of our random values + suffix; the value is copied into tok. */
static int
match(const char *path, const char *prefix, const char *suffix, char tok[TOKEN_CHARS + 1])
{
	size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(path);

	if (strncmp(path, prefix, pl) != 0 || n != pl + TOKEN_CHARS + sl ||
	    strcmp(path + pl + TOKEN_CHARS, suffix) != 0 || !token_ok(path + pl, TOKEN_CHARS))
		return 0;
	memcpy(tok, path + pl, TOKEN_CHARS);
	tok[TOKEN_CHARS] = '\0';
	return 1;
}

static enum MHD_Result
not_allowed(struct gs_req *r, const char *allow)
{
	const char *const h[] = { "Allow", allow, NULL };

	return gs_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL, h);
}

enum MHD_Result
gs_eid_route(struct gs_req *r)
{
	char tok[TOKEN_CHARS + 1];
	int get = strcmp(r->method, "GET") == 0;
	enum MHD_Result ret;

	if (strcmp(r->path, "/eid/poll.js") == 0)
		return get ? poll_js(r) : not_allowed(r, "GET");
	if (match(r->path, "/eid/scan/", "", tok)) {
		/* The log names the route, never a secret of the path. */
		r->url = "/eid/scan/{scan}";
		if (get)
			ret = phone_view(r, tok);
		else if (strcmp(r->method, "POST") == 0)
			ret = phone_decide(r, tok);
		else
			ret = not_allowed(r, "GET, POST");
		sodium_memzero(tok, sizeof(tok));
		return ret;
	}
	if (!get)
		return not_allowed(r, "GET");
	if (match(r->path, "/eid/qr/", ".png", tok)) {
		r->url = "/eid/qr/{poll}.png";
		ret = qr_image(r, tok);
	} else if (match(r->path, "/eid/status/", "", tok)) {
		r->url = "/eid/status/{poll}";
		ret = status(r, tok);
	} else if (match(r->path, "/eid/continue/", "", tok)) {
		r->url = "/eid/continue/{poll}";
		ret = continue_(r, tok);
	} else {
		return gs_reply_text(r, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	sodium_memzero(tok, sizeof(tok));
	return ret;
}
