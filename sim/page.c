/*
 * The HTML of govsim: the GovID login page (「公務通」), the e-ID pages (the
 * QR code page of the computer, the phone's view) and dead-end message pages. Every value from outside (names, ids) goes through gs_html_append.
 * The one inline <style> is allowed by its hash in the Content-Security-Policy,
 * so the pages need no external resources and allow no script at all; the e-ID
 * page alone loads govsim's own /eid/poll.js (eid.c gives it its own CSP).
 *
 * The login form is a contract the black-box tests rely on:
 *   <form method="post" action="/login"><input type="hidden" name="req" value="REQID">
 *   <button type="submit" name="sub" value="SUB">NAME（ROLE）</button> ... </form>
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "govsim.h"

#define PAGE_MAX (256 * 1024)

static const char STYLE[] =
    "*{box-sizing:border-box}"
    "body{margin:0;background:#eef2f6;color:#1c2733;"
    "font-family:\"Noto Sans CJK TC\",\"Noto Sans TC\",\"PingFang TC\",\"Microsoft JhengHei\",sans-serif;"
    "line-height:1.6}"
    ".bar{display:flex;align-items:center;justify-content:space-between;"
    "background:#0b4f8a;color:#fff;padding:.7rem 1.5rem;border-bottom:4px solid #c8a24a}"
    ".brand{font-size:1.35rem;font-weight:700;letter-spacing:.08em}"
    ".brand small{font-weight:400;font-size:.85rem;opacity:.85;margin-left:.5rem;letter-spacing:0}"
    ".seal{display:inline-block;width:2rem;height:2rem;line-height:2rem;text-align:center;"
    "border-radius:50%;background:#c8a24a;color:#0b4f8a;margin-right:.6rem}"
    ".dev{background:#d93025;color:#fff;font-weight:700;font-size:.8rem;padding:.15rem .6rem;"
    "border-radius:3px;letter-spacing:.1em}"
    "main{max-width:34rem;margin:2.5rem auto;padding:0 1rem}"
    ".card{background:#fff;border:1px solid #d0d8e2;border-radius:6px;padding:1.6rem 2rem;"
    "box-shadow:0 1px 3px rgba(0,0,0,.06)}"
    "h1{font-size:1.4rem;margin:0 0 .4rem;color:#0b4f8a}"
    "h2{font-size:1rem;margin:1.4rem 0 .6rem;color:#44515f}"
    ".lead{margin:0;color:#44515f}"
    ".notice{margin:1rem 0 0;padding:.6rem .8rem;background:#fff7e0;border-left:4px solid #c8a24a}"
    ".error{margin:1rem 0 0;padding:.6rem .8rem;background:#fdecea;border-left:4px solid #d93025}"
    ".accounts form{display:flex;flex-direction:column;gap:.6rem}"
    ".accounts button{display:block;width:100%;text-align:left;font:inherit;font-size:1.05rem;"
    "padding:.75rem 1rem;background:#f7f9fb;color:#0b4f8a;border:1px solid #b8c4d2;"
    "border-radius:4px;cursor:pointer}"
    ".accounts button:hover,.accounts button:focus{background:#e3edf7;border-color:#0b4f8a;"
    "outline:2px solid #0b4f8a;outline-offset:1px}"
    ".cancel{margin-top:1.2rem;text-align:right}"
    ".cancel button{font:inherit;background:none;border:none;color:#44515f;"
    "text-decoration:underline;cursor:pointer}"
    "footer{margin-top:1rem;font-size:.8rem;color:#6b7785;text-align:center}"
    ".ok{margin:1rem 0 0;padding:.6rem .8rem;background:#e6f4ea;border-left:4px solid #1e8e3e}"
    ".qr{text-align:center;margin:1.2rem 0}"
    ".qr img{image-rendering:pixelated;max-width:100%;height:auto;border:1px solid #d0d8e2}"
    "ol{padding-left:1.4rem}"
    "dl.what{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem;margin:1rem 0}"
    "dl.what dt{color:#44515f}dl.what dd{margin:0;font-weight:700}"
    ".actions{display:flex;gap:.6rem;flex-wrap:wrap;margin-top:1.2rem}"
    ".actions a,.actions button{display:inline-block;font:inherit;padding:.6rem 1.1rem;"
    "border-radius:4px;border:1px solid #0b4f8a;background:#0b4f8a;color:#fff;"
    "text-decoration:none;cursor:pointer}"
    ".actions .secondary{background:#fff;color:#0b4f8a}"
    "label{display:block;margin-top:1rem;color:#44515f}select{font:inherit;padding:.3rem}";

enum cr_err
gs_page_csp(char **out)
{
	uint8_t h[32];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	struct cr_buf b;
	enum cr_err err;

	cr_sha256(STYLE, strlen(STYLE), h);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
	cr_buf_init(&b, 1024);
	/* No form-action: Chrome applies it to the redirect back to the portal. */
	err = cr_buf_printf(&b, "default-src 'none'; style-src 'sha256-%s'; "
	    "base-uri 'none'; frame-ancestors 'none'", b64);
	if (err != CR_OK) {
		cr_buf_free(&b);
		return err;
	}
	*out = cr_buf_take(&b);
	return CR_OK;
}

/* The document up to and including the opening of <main>. */
static enum cr_err
head(struct cr_buf *b)
{
	enum cr_err err;

	err = cr_buf_adds(b,
	    "<!DOCTYPE html>\n<html lang=\"zh-Hant\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<meta name=\"referrer\" content=\"no-referrer\">\n"
	    "<title>公務通</title>\n<style>");
	if (err == CR_OK)
		err = cr_buf_adds(b, STYLE);
	if (err == CR_OK)
		err = cr_buf_adds(b,
		    "</style>\n</head>\n<body>\n<header class=\"bar\">"
		    "<div class=\"brand\"><span class=\"seal\">公</span>公務通<small>GovID</small></div>"
		    "<span class=\"dev\">DEV</span></header>\n<main>\n<section class=\"card\">\n");
	return err;
}

static enum cr_err
foot(struct cr_buf *b)
{
	return cr_buf_adds(b, "</section>\n<footer>開發及測試用的模擬服務（govsim），並非真正的公務通。</footer>\n"
	    "</main>\n</body>\n</html>\n");
}

/* "NAME" or "NAME（部門協調員、註冊署職員）" for staff. */
static enum cr_err
account_label(struct cr_buf *b, const struct gs_person *p)
{
	const char *sep = "（";
	enum cr_err err = gs_html_append(b, p->name);

	if (err == CR_OK && (p->roles & GS_ROLE_COORDINATOR)) {
		err = cr_buf_printf(b, "%s部門協調員", sep);
		sep = "、";
	}
	if (err == CR_OK && (p->roles & GS_ROLE_OFFICER)) {
		err = cr_buf_printf(b, "%s註冊署職員", sep);
		sep = "、";
	}
	if (err == CR_OK && strcmp(sep, "、") == 0)
		err = cr_buf_adds(b, "）");
	return err;
}

/* <form ...><input type="hidden" name="req" value="REQID">, exactly as the
 * contract spells it (styling hangs on the wrapping div, not the form). */
static enum cr_err
form_open(struct cr_buf *b, const struct gs *gs, const char *req_id)
{
	enum cr_err err = cr_buf_adds(b, "<form method=\"post\" action=\"");

	if (err == CR_OK)
		err = gs_html_append(b, gs->prefix);
	if (err == CR_OK)
		err = cr_buf_adds(b, "/login\"><input type=\"hidden\" name=\"req\" value=\"");
	if (err == CR_OK)
		err = gs_html_append(b, req_id);
	if (err == CR_OK)
		err = cr_buf_adds(b, "\">\n");
	return err;
}

static enum cr_err
account_buttons(struct cr_buf *b, const struct gs *gs, const char *req_id)
{
	enum cr_err err = cr_buf_adds(b, "<div class=\"accounts\">");

	if (err == CR_OK)
		err = form_open(b, gs, req_id);

	for (size_t i = 0; i < gs->people.n && err == CR_OK; i++) {
		const struct gs_person *p = &gs->people.v[i];

		err = cr_buf_adds(b, "<button type=\"submit\" name=\"sub\" value=\"");
		if (err == CR_OK)
			err = gs_html_append(b, p->sub);
		if (err == CR_OK)
			err = cr_buf_adds(b, "\">");
		if (err == CR_OK)
			err = account_label(b, p);
		if (err == CR_OK)
			err = cr_buf_adds(b, "</button>\n");
	}
	if (err == CR_OK)
		err = cr_buf_adds(b, "</form></div>\n<div class=\"cancel\">");
	/* Cancelling returns access_denied to the application. */
	if (err == CR_OK)
		err = form_open(b, gs, req_id);
	if (err == CR_OK)
		err = cr_buf_adds(b, "<button type=\"submit\" name=\"cancel\" value=\"1\">"
		    "取消，返回應用程式</button>\n</form></div>\n");
	return err;
}

enum cr_err
gs_page_login(const struct gs *gs, const char *req_id, struct cr_buf *out)
{
	enum cr_err err;

	cr_buf_init(out, PAGE_MAX);
	err = head(out);
	if (err == CR_OK)
		err = cr_buf_adds(out, "<h1>登入公務通</h1>\n<p class=\"lead\">應用程式「");
	if (err == CR_OK)
		err = gs_html_append(out, gs->client_id);
	if (err == CR_OK)
		err = cr_buf_adds(out, "」要求你以公務通帳戶登入。</p>\n");
	if (err == CR_OK)
		err = cr_buf_adds(out, "<h2>選擇示範帳戶</h2>\n");
	if (err == CR_OK)
		err = account_buttons(out, gs, req_id);
	if (err == CR_OK)
		err = foot(out);
	if (err != CR_OK)
		cr_buf_free(out);
	return err;
}

enum cr_err
gs_page_error(const char *title, const char *message, struct cr_buf *out)
{
	enum cr_err err;

	cr_buf_init(out, PAGE_MAX);
	err = head(out);
	if (err == CR_OK)
		err = cr_buf_adds(out, "<h1>");
	if (err == CR_OK)
		err = gs_html_append(out, title);
	if (err == CR_OK)
		err = cr_buf_adds(out, "</h1>\n<p class=\"error\">");
	if (err == CR_OK)
		err = gs_html_append(out, message);
	if (err == CR_OK)
		err = cr_buf_adds(out, "</p>\n");
	if (err == CR_OK)
		err = foot(out);
	if (err != CR_OK)
		cr_buf_free(out);
	return err;
}

/* Appends the literal a, then s HTML-escaped (NULL: nothing), if all went well so far. */
static enum cr_err
add2(struct cr_buf *b, enum cr_err err, const char *a, const char *s)
{
	if (err == CR_OK)
		err = cr_buf_adds(b, a);
	if (err == CR_OK && s != NULL)
		err = gs_html_append(b, s);
	return err;
}

enum cr_err
gs_page_eid_wait(const struct gs *gs, const char *poll, const char *scan_url,
    const char *binding, struct cr_buf *out)
{
	enum cr_err err;

	cr_buf_init(out, PAGE_MAX);
	err = head(out);
	err = add2(out, err, "<h1>電子身份識別</h1>\n<p class=\"lead\">應用程式「", gs->client_id);
	err = add2(out, err, "」要求以公務通電子身份（人臉識別）確認你的身份。</p>\n"
	    "<ol><li>開啟手機上的公務通應用程式，選擇「掃描二維碼」。</li>"
	    "<li>掃描下方的二維碼，並完成人臉識別。</li>"
	    "<li>核對手機上顯示的內容，按「確認」。</li></ol>\n"
	    "<dl class=\"what\"><dt>確認內容</dt><dd>", binding);
	err = add2(out, err, "</dd></dl>\n<div class=\"qr\" id=\"eid\" data-status=\"", gs->prefix);
	err = add2(out, err, "/eid/status/", poll);
	err = add2(out, err, "\"><img src=\"", gs->prefix);
	err = add2(out, err, "/eid/qr/", poll);
	err = add2(out, err, ".png\" alt=\"公務通電子身份識別二維碼\"></div>\n"
	    "<p class=\"notice\" id=\"eid-msg\">等待手機確認……</p>\n"
	    "<div class=\"actions\"><a id=\"eid-continue\" href=\"", gs->prefix);
	err = add2(out, err, "/eid/continue/", poll);
	/* govsim is DEV only: the phone's page is one click away. */
	err = add2(out, err, "\">我已在手機上完成確認，繼續</a>"
	    "<a class=\"secondary\" id=\"eid-scan\" target=\"_blank\" rel=\"noopener\" href=\"", scan_url);
	err = add2(out, err, "\">模擬手機掃描</a></div>\n<script src=\"", gs->prefix);
	err = add2(out, err, "/eid/poll.js\"></script>\n", NULL);
	if (err == CR_OK)
		err = foot(out);
	if (err != CR_OK)
		cr_buf_free(out);
	return err;
}

/* The DEV choice of whose phone answers: every account with a resident number. */
static enum cr_err
phone_select(struct cr_buf *b, const struct gs *gs, const char *holder_sub)
{
	enum cr_err err = cr_buf_adds(b, "<label>模擬：由誰的手機回覆（DEV）"
	    "<select name=\"as\">");

	for (size_t i = 0; i < gs->people.n && err == CR_OK; i++) {
		const struct gs_person *p = &gs->people.v[i];

		if (p->id_number == NULL)
			continue;
		err = add2(b, err, "<option value=\"", p->sub);
		err = add2(b, err, strcmp(p->sub, holder_sub) == 0 ? "\" selected>" : "\">", p->name);
		err = add2(b, err, "</option>", NULL);
	}
	return add2(b, err, "</select></label>\n", NULL);
}

enum cr_err
gs_page_eid_phone(const struct gs *gs, const char *scan, const char *tx,
    const struct gs_person *holder, const char *binding, struct cr_buf *out)
{
	enum cr_err err;

	cr_buf_init(out, PAGE_MAX);
	err = head(out);
	err = add2(out, err, "<h1>公務通：確認電子身份</h1>\n"
	    "<p class=\"ok\" id=\"face\">人臉識別成功</p>\n"
	    "<dl class=\"what\"><dt>申請編號</dt><dd id=\"binding\">", binding);
	err = add2(out, err, "</dd><dt>身份</dt><dd id=\"holder\">", holder->name);
	err = add2(out, err, "</dd><dt>應用程式</dt><dd>", gs->client_id);
	err = add2(out, err, "</dd></dl>\n<p class=\"lead\">請確認以上內容是你本人的申請。</p>\n"
	    "<form method=\"post\" action=\"", gs->prefix);
	err = add2(out, err, "/eid/scan/", scan);
	err = add2(out, err, "\"><input type=\"hidden\" name=\"tx\" value=\"", tx);
	err = add2(out, err, "\">\n", NULL);
	if (err == CR_OK)
		err = phone_select(out, gs, holder->sub);
	err = add2(out, err, "<div class=\"actions\">"
	    "<button type=\"submit\" name=\"decision\" value=\"approve\">確認</button>"
	    "<button type=\"submit\" class=\"secondary\" name=\"decision\" value=\"refuse\">拒絕</button>"
	    "</div>\n</form>\n", NULL);
	if (err == CR_OK)
		err = foot(out);
	if (err != CR_OK)
		cr_buf_free(out);
	return err;
}

enum cr_err
gs_page_notice(const char *title, const char *message, struct cr_buf *out)
{
	enum cr_err err;

	cr_buf_init(out, PAGE_MAX);
	err = head(out);
	err = add2(out, err, "<h1>", title);
	err = add2(out, err, "</h1>\n<p class=\"ok\">", message);
	err = add2(out, err, "</p>\n", NULL);
	if (err == CR_OK)
		err = foot(out);
	if (err != CR_OK)
		cr_buf_free(out);
	return err;
}
