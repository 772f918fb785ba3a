/*
 * The front-channel half of the flow: GET /authorize validates an
 * authorization request and shows the login page; POST /login turns the
 * chosen account into a one-time authorization code and sends the browser back.
 * A request for govid:very-high goes to the e-ID instead (eid.c): the QR code
 * page, approved on the phone, never the account list.
 *
 * Until client_id and redirect_uri are known good, errors are shown as a page
 * and never redirected (an open redirector otherwise); after that they go back
 * to the client as error=...&state=... (RFC 6749 4.1.2.1).
 */
#include <stdlib.h>
#include <string.h>

#include "oidc.h"
#include "util/log.h"

/* The parameters of an authorization request; borrowed from the query. */
struct authz {
	const char *client_id;
	const char *redirect_uri;
	const char *response_type;
	const char *scope;
	const char *state;
	const char *nonce;
	const char *challenge;
	const char *method;
	const char *acr_values;
	const char *prompt;
	const char *login_hint;
	const char *binding_message;
};

struct collect {
	struct cr_form form;
	int failed;
};

/* MHD iterator: copies each query argument into the form. */
static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
    const char *value, size_t value_size)
{
	struct collect *c = cls;

	(void)kind;
	if (value == NULL)
		value = "";
	/* An embedded NUL (%00) would truncate the value later on. */
	if (memchr(key, '\0', key_size) != NULL || memchr(value, '\0', value_size) != NULL ||
	    cr_form_add(&c->form, &gs_form_rules, key, key_size, value, value_size) != CR_OK) {
		c->failed = 1;
		return MHD_NO;
	}
	return MHD_YES;
}

static enum MHD_Result
error_page(struct gs_req *r, const char *message)
{
	struct cr_buf html;

	if (gs_page_error("無法處理登入請求", message, &html) != CR_OK)
		return gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	return gs_reply_html(r, MHD_HTTP_BAD_REQUEST, &html);
}

enum MHD_Result
gs_error_redirect(struct gs_req *r, const char *redirect_uri, const char *state,
    const char *error, const char *desc)
{
	const char *const pairs[] = {
		"error", error, "error_description", desc, "state", state, NULL,
	};
	char *loc = NULL;
	enum MHD_Result ret;

	if (gs_build_url(redirect_uri, pairs, &loc) != CR_OK)
		return gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	ret = gs_reply_redirect(r, loc);
	free(loc);
	return ret;
}

static int
redirect_registered(const struct gs *gs, const char *uri)
{
	for (size_t i = 0; i < gs->n_redirect_uris; i++)
		if (strcmp(gs->redirect_uris[i], uri) == 0)
			return 1;
	return 0;
}

/* Reads the declared parameters; returns the name of a bad one, or NULL. */
static const char *
read_params(const struct cr_form *q, struct authz *a)
{
	const struct {
		const char *name;
		size_t max;
		int required;
		const char **dst;
	} fields[] = {
		{ "response_type", MAX_SHORT, 1, &a->response_type },
		{ "scope", MAX_SCOPE, 1, &a->scope },
		{ "state", MAX_STATE, 1, &a->state },
		{ "nonce", MAX_NONCE, 1, &a->nonce },
		{ "code_challenge", MAX_RANDOM, 1, &a->challenge },
		{ "code_challenge_method", MAX_SHORT, 1, &a->method },
		{ "acr_values", MAX_ACR, 0, &a->acr_values },
		{ "prompt", MAX_PROMPT, 0, &a->prompt },
		{ "login_hint", MAX_SUB, 0, &a->login_hint },
		{ "binding_message", MAX_BINDING, 0, &a->binding_message },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		enum cr_err err = gs_form_get(q, fields[i].name, fields[i].max, fields[i].dst);

		if (err == CR_ERR_NOTFOUND && !fields[i].required)
			continue;
		if (err != CR_OK)
			return fields[i].name;
	}
	return NULL;
}

/* Checks the values; returns an error_description, or NULL when all is well. */
static const char *
check_params(const struct authz *a)
{
	if (strcmp(a->response_type, "code") != 0)
		return "response_type must be code";
	if (!gs_has_word(a->scope, "openid"))
		return "scope must contain openid";
	if (strcmp(a->method, "S256") != 0)
		return "code_challenge_method must be S256";
	/* BASE64URL(SHA-256(verifier)) is always 43 characters. */
	if (strlen(a->challenge) != 43 || !gs_is_b64url(a->challenge))
		return "code_challenge is not a S256 challenge";
	return NULL;
}

/* Stores the pending request; *req_id is the id for the login form. */
static enum cr_err
store_pending(struct gs *gs, const struct authz *a, char **req_id)
{
	struct gs_pending *p = calloc(1, sizeof(*p));
	uint8_t id[32];
	enum cr_err err = CR_ERR_NOMEM;

	*req_id = NULL;
	if (p == NULL)
		return CR_ERR_NOMEM;
	p->client_id = strdup(a->client_id);
	p->redirect_uri = strdup(a->redirect_uri);
	p->state = strdup(a->state);
	p->nonce = strdup(a->nonce);
	p->code_challenge = strdup(a->challenge);
	/* A very-high request never gets here (eid.c handles it). */
	p->very_high = 0;
	if (p->client_id == NULL || p->redirect_uri == NULL || p->state == NULL ||
	    p->nonce == NULL || p->code_challenge == NULL)
		goto out;
	if ((err = gs_random_token(req_id)) != CR_OK)
		goto out;
	cr_sha256(*req_id, strlen(*req_id), id);
	pthread_mutex_lock(&gs->lock);
	err = gs_table_put(gs->pending, id, gs_now() + GS_PENDING_TTL, p);
	pthread_mutex_unlock(&gs->lock);
	if (err == CR_OK)
		p = NULL;
out:
	if (err != CR_OK) {
		free(*req_id);
		*req_id = NULL;
	}
	gs_pending_free(p);
	return err;
}

/* Characters (code points) of UTF-8 s: the bytes that do not continue a sequence. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* A govid:very-high request: checks what the e-ID needs (docs/internals/eid.md), then hands it to
 * eid.c, which shows the QR code page instead of the account list. */
static enum MHD_Result
authorize_eid(struct gs_req *r, const struct authz *a)
{
	const struct gs_person *who;
	struct gs_eid_request q = {
		.client_id = a->client_id, .redirect_uri = a->redirect_uri, .state = a->state,
		.nonce = a->nonce, .code_challenge = a->challenge, .login_hint = a->login_hint,
		.binding_message = a->binding_message,
	};
	enum MHD_Result ret;

	if (a->prompt == NULL || !gs_has_word(a->prompt, "login"))
		return gs_error_redirect(r, a->redirect_uri, a->state, "invalid_request",
		    "govid:very-high requires prompt=login");
	if (a->login_hint == NULL)
		return gs_error_redirect(r, a->redirect_uri, a->state, "invalid_request",
		    "govid:very-high requires login_hint");
	if ((who = gs_people_find(&r->gs->people, a->login_hint)) == NULL || who->id_number == NULL)
		return gs_error_redirect(r, a->redirect_uri, a->state, "invalid_request",
		    "login_hint names no account with an e-ID");
	if (a->binding_message == NULL || utf8_chars(a->binding_message) > MAX_BINDING_CHARS)
		return gs_error_redirect(r, a->redirect_uri, a->state, "invalid_request",
		    "govid:very-high requires a binding_message of at most 64 characters");
	if (gs_eid_begin(r, &q, &ret) != CR_OK)
		return gs_error_redirect(r, a->redirect_uri, a->state, "temporarily_unavailable",
		    "too many pending e-ID requests");
	return ret;
}

/* Validates the request with the client known good; shows the login page. */
static enum MHD_Result
authorize_client(struct gs_req *r, const struct cr_form *q, struct authz *a)
{
	const char *bad, *desc;
	char *req_id = NULL;
	struct cr_buf html;
	enum MHD_Result ret;
	enum cr_err err;
	char msg[96];

	if ((bad = read_params(q, a)) != NULL) {
		/* The state may itself be the bad one: then send none back. */
		snprintf(msg, sizeof(msg), "missing, repeated or invalid parameter: %s", bad);
		return gs_error_redirect(r, a->redirect_uri,
		    strcmp(bad, "state") == 0 ? NULL : a->state, "invalid_request", msg);
	}
	if ((desc = check_params(a)) != NULL)
		return gs_error_redirect(r, a->redirect_uri, a->state, "invalid_request", desc);
	/* No sessions here, so a silent login can never succeed. */
	if (a->prompt != NULL && gs_has_word(a->prompt, "none"))
		return gs_error_redirect(r, a->redirect_uri, a->state, "login_required",
		    "interactive login required");
	if (a->acr_values != NULL && gs_has_word(a->acr_values, GS_ACR_VERY_HIGH))
		return authorize_eid(r, a);
	if ((err = store_pending(r->gs, a, &req_id)) != CR_OK)
		return gs_error_redirect(r, a->redirect_uri, a->state, "temporarily_unavailable",
		    "too many pending logins");
	err = gs_page_login(r->gs, req_id, &html);
	free(req_id);
	if (err != CR_OK)
		return gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	ret = gs_reply_html(r, MHD_HTTP_OK, &html);
	return ret;
}

enum MHD_Result
gs_authorize(struct gs_req *r)
{
	struct collect c = { .failed = 0 };
	struct authz a = { 0 };
	enum MHD_Result ret;

	MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &c);
	if (c.failed)
		ret = error_page(r, "請求參數過多或格式錯誤。");
	else if (gs_form_get(&c.form, "client_id", MAX_CLIENT_ID, &a.client_id) != CR_OK ||
	    strcmp(a.client_id, r->gs->client_id) != 0)
		ret = error_page(r, "未登記的應用程式（client_id）。");
	else if (gs_form_get(&c.form, "redirect_uri", MAX_URI, &a.redirect_uri) != CR_OK ||
	    !redirect_registered(r->gs, a.redirect_uri))
		ret = error_page(r, "應用程式的返回網址（redirect_uri）未經登記。");
	else
		ret = authorize_client(r, &c.form, &a);
	cr_form_free(&c.form);
	return ret;
}

enum cr_err
gs_code_issue(struct gs *gs, struct gs_pending *p, const char *sub, time_t auth_time, char **code)
{
	struct gs_code *c = calloc(1, sizeof(*c));
	uint8_t id[32];
	enum cr_err err = CR_ERR_NOMEM;

	*code = NULL;
	if (c == NULL || (c->sub = strdup(sub)) == NULL)
		goto out;
	/* Move the request's strings over; p keeps redirect_uri and state. */
	c->client_id = p->client_id;
	c->nonce = p->nonce;
	c->code_challenge = p->code_challenge;
	p->client_id = p->nonce = p->code_challenge = NULL;
	if ((c->redirect_uri = strdup(p->redirect_uri)) == NULL)
		goto out;
	c->very_high = p->very_high;
	c->auth_time = auth_time;
	if ((err = gs_random_token(code)) != CR_OK)
		goto out;
	cr_sha256(*code, strlen(*code), id);
	pthread_mutex_lock(&gs->lock);
	err = gs_table_put(gs->codes, id, gs_now() + GS_CODE_TTL, c);
	pthread_mutex_unlock(&gs->lock);
	if (err == CR_OK)
		c = NULL;
out:
	if (err != CR_OK && *code != NULL) {
		free(*code);
		*code = NULL;
	}
	gs_code_free(c);
	return err;
}

/* Takes the pending request named by the form's req; NULL if none is live. */
static struct gs_pending *
take_pending(struct gs *gs, const struct cr_form *f)
{
	const char *req;
	uint8_t id[32];
	struct gs_pending *p;

	if (gs_form_get(f, "req", MAX_RANDOM, &req) != CR_OK)
		return NULL;
	cr_sha256(req, strlen(req), id);
	pthread_mutex_lock(&gs->lock);
	p = gs_table_take(gs->pending, id, gs_now());
	pthread_mutex_unlock(&gs->lock);
	return p;
}

/* The user picked an account: redirect with a fresh code. */
static enum MHD_Result
login_as(struct gs_req *r, struct gs_pending *p, const struct gs_person *who)
{
	char *code = NULL, *loc = NULL;
	enum MHD_Result ret;
	const char *pairs[] = { "code", NULL, "state", p->state, NULL };

	if (gs_code_issue(r->gs, p, who->sub, gs_now(), &code) != CR_OK)
		return gs_error_redirect(r, p->redirect_uri, p->state, "temporarily_unavailable",
		    "too many outstanding codes");
	pairs[1] = code;
	cr_info(GS_LOG, "login of %s (acr %s)", who->sub,
	    p->very_high ? GS_ACR_VERY_HIGH : GS_ACR_SUBSTANTIAL);
	if (gs_build_url(p->redirect_uri, pairs, &loc) != CR_OK)
		ret = gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	else
		ret = gs_reply_redirect(r, loc);
	free(loc);
	free(code);
	return ret;
}

enum MHD_Result
gs_login(struct gs_req *r)
{
	struct cr_form f;
	const struct gs_person *who = NULL;
	const char *sub, *cancel;
	struct gs_pending *p;
	enum MHD_Result ret;

	if (!gs_is_form(gs_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return gs_reply_text(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "application/x-www-form-urlencoded expected\n");
	if (cr_form_parse_rules(cr_buf_str(&r->body), r->body.len, &gs_form_rules, &f) != CR_OK)
		return error_page(r, "表單格式錯誤。");
	cancel = NULL;
	gs_form_get(&f, "cancel", MAX_SHORT, &cancel);
	/* Check the account before consuming the request, so a bad pick can retry. */
	if (cancel == NULL && (gs_form_get(&f, "sub", MAX_SUB, &sub) != CR_OK ||
	    (who = gs_people_find(&r->gs->people, sub)) == NULL)) {
		ret = error_page(r, "未知的帳戶。");
	} else if ((p = take_pending(r->gs, &f)) == NULL) {
		ret = error_page(r, "登入請求無效或已逾時，請返回應用程式重新登入。");
	} else {
		ret = cancel != NULL ?
		    gs_error_redirect(r, p->redirect_uri, p->state, "access_denied",
		        "the user cancelled the login") :
		    login_as(r, p, who);
		gs_pending_free(p);
	}
	cr_form_free(&f);
	return ret;
}
