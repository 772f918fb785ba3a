/*
 * The portal's web layer: the application context shared by all request
 * threads (read-only after start-up, except the store pool and the GovID
 * cache, which lock themselves), one request and its response, and the page
 * handlers. Handlers never see libmicrohttpd; server.c translates.
 */
#ifndef CR_WEB_H
#define CR_WEB_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "adapters/govid.h"
#include "config/config.h"
#include "flow/flow.h"
#include "notify/outbox.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/form.h"
#include "util/tmpl.h"

struct cr_static_files;
struct cr_pki;

struct cr_app {
	const struct cr_config *cfg;
	struct cr_store *store;
	struct cr_tmpl_set *tmpl;
	struct cr_static_files *statics;
	struct cr_govid *govid;
	json_t *locales;     /* { "zh-Hant": {...}, "en": {...}, "pt": {...} } */
	char css_version[16]; /* cache-busting suffix of the stylesheet URL */
	struct cr_seal_key outbox_key; /* to queue mail and, in DEV, to show it at /dev/mail */
	struct cr_mailer mailer;
	struct cr_seal_key codes_key;  /* HMAC key of email-code hashes */
	struct cr_seal_key evidence_key; /* seals photos and DSI answers */
	struct cr_dsi *dsi;
	struct cr_doc *doc;              /* renders application documents */
	struct cr_csc *csc;              /* GovID's e-signature service */
	struct cr_pki *pki;              /* the CAs and the signing-account vault */
	struct cr_flow_env flow;         /* what the flow layer needs (points into the fields above) */
};

#define CR_SESSION_COOKIE "cr_session"
#define CR_LOGIN_COOKIE "cr_login"
#define CR_LANG_COOKIE "cr_lang"

struct cr_req {
	const char *method;
	const char *path;        /* without the query; untrusted, not necessarily UTF-8 */
	char ip[64];
	time_t now;
	struct cr_form form;     /* parsed body of a form POST */
	bool body_too_big;
	bool body_malformed;
	/* The file part of a streamed multipart upload (server.c, upload routes only). */
	struct cr_buf upload;
	bool upload_too_big;     /* the file was over its cap: what arrived was dropped */
	/* Header, query argument and cookie lookups (server.c). */
	const char *(*header)(struct cr_req *, const char *name);
	const char *(*query)(struct cr_req *, const char *name);
	const char *(*cookie)(struct cr_req *, const char *name);
	/* The path of the route that matched (a static string), or NULL: none did, or not yet routed.
	   Links back to "this page" are made from it, never from `path`, which is the visitor's text. */
	const char *route;
	/* Appends this page's URL with `name` set to value: the matched route with only the step ids app=
	   and i=, or "/" when no route matched. */
	enum cr_err (*self_url)(struct cr_req *, const char *name, const char *value, struct cr_buf *out);
	void *conn;              /* opaque to handlers */
	const char *lang;        /* "zh-Hant", "en", "pt" */
	/* Session, filled by cr_session_load for pages that need one. */
	bool authed;
	struct cr_person person;
	unsigned char sid_hash[CR_HASH_LEN];
	char csrf[CR_B64URL_SIZE(32)];
	struct cr_db *db;        /* borrowed on first use by cr_req_db, returned by server.c */
	bool store_failed;       /* the database failed while loading the session */
	struct cr_app *app;
};

#define CR_RESP_MAX_COOKIES 4

struct cr_resp {
	unsigned status;
	const char *content_type;     /* static string */
	struct cr_buf body;
	const void *static_body;      /* when set, sent instead of body (not copied) */
	size_t static_len;
	const char *etag;             /* static string */
	const char *cache_control;    /* static string; default no-store for dynamic pages */
	const char *disposition;      /* static string: Content-Disposition of a download, or NULL */
	char location[2048];
	char cookies[CR_RESP_MAX_COOKIES][600];
	int ncookies;
};

/* The request's database connection, borrowed from the pool on first use. */
struct cr_db *cr_req_db(struct cr_req *req);
/* The flow context of this request: the app's flow env, the request's connection and clock, the
   session's person (NULL when not logged in) and the client address. Borrows from req. */
void cr_req_flow(struct cr_req *req, struct cr_flow_ctx *out);

/* ---- responses (render.c) ---- */
void cr_resp_redirect(struct cr_resp *resp, const char *location);
/* Adds a Set-Cookie with HttpOnly, SameSite=Lax, Secure per config; max_age < 0 deletes it. */
void cr_resp_cookie(struct cr_app *app, struct cr_resp *resp, const char *name, const char *value,
    const char *path, long max_age);
/* A fresh render context with the locale, DEV flag, year, user and CSRF token. Caller json_decref()s.
   NULL, with jansson's reason logged, when it cannot be built. */
json_t *cr_page_ctx(struct cr_req *req, const char *title_key);
/* Renders template `name` with ctx (consumed) as an HTML page of the given status. */
void cr_render(struct cr_req *req, struct cr_resp *resp, unsigned status, const char *name, json_t *ctx);
/* An error page with a localised message key and optional hint key. */
void cr_render_error(struct cr_req *req, struct cr_resp *resp, unsigned status, const char *msg_key,
    const char *hint_key);
/* The localised text for key in the request's language ("" when missing). */
const char *cr_text(struct cr_req *req, const char *key);
/* The certificate type's label in the request's language (政府機關合格證書 ...). */
const char *cr_type_label(struct cr_req *req, enum cr_cert_type t);

/* ---- sessions (session.c) ---- */
/* Loads the session named by the cookie; false (and req->authed false) when absent, expired or unknown. */
bool cr_session_load(struct cr_req *req);
/* For pages that need a holder: true with the session loaded; otherwise answers itself:
   a 503 page when the database failed, else a redirect to the start page. */
bool cr_require_session(struct cr_req *req, struct cr_resp *resp);
/* Sets the session cookie of a session the flow layer started (max_age < 0 clears it). */
void cr_session_cookie(struct cr_req *req, struct cr_resp *resp, const char *value, long max_age);
/* Whether the form's csrf field matches the session's token (constant time). */
bool cr_csrf_ok(struct cr_req *req);

/* ---- the renewal wizard's shared parts (wizard.c) ---- */
/* The application id of the query or form; 0 (found by nobody) when malformed. */
int64_t cr_wiz_app_param(struct cr_req *req, bool from_form);
/* The address index of the query or form; -1 (found by nobody) when malformed. */
int cr_wiz_index_param(struct cr_req *req, bool from_form);
/* The page of the step the application is at. */
void cr_wiz_step_url(const struct cr_application *app, char *out, size_t outlen);
/* A redirect to that page, with ?msg=KEY when msg is not NULL. */
void cr_wiz_redirect_to_step(struct cr_resp *resp, const struct cr_application *app, const char *msg);
/* POSTs need the CSRF token: false after answering 403 (nothing changed). */
bool cr_wiz_csrf_ok(struct cr_req *req, struct cr_resp *resp);
/* A localised message {text, ok} with {n} replaced by n. */
json_t *cr_wiz_message(struct cr_req *req, const char *key, int n, bool ok);
/* The context of a wizard page: texts, the step header, the application id (0: none) and a message
   (consumed; NULL shows the ?msg= flash if there is one, json_null() none). */
json_t *cr_wiz_ctx(struct cr_req *req, const char *title_key, int64_t app_id, int step, json_t *msg);
/* Certificate cards as the seed shows them. */
json_t *cr_wiz_certs_json(struct cr_req *req, const struct cr_cert_view *v, size_t n);
/* Answers the results every page answers alike (not found, wrong step, conflict, store or DSI down);
   false for what the caller answers itself. */
bool cr_wiz_answered(struct cr_req *req, struct cr_resp *resp, const struct cr_flow_result *res);
/* An application for a GET page: the holder's, else answers 404 (or 500) and returns false. */
bool cr_wiz_load_app(struct cr_req *req, struct cr_resp *resp, struct cr_flow_ctx *c, struct cr_application *app);

/* ---- handlers ---- */
typedef void cr_handler(struct cr_req *req, struct cr_resp *resp);
cr_handler cr_page_landing, cr_page_login, cr_page_callback, cr_page_logout;
cr_handler cr_page_home, cr_page_pending;
cr_handler cr_page_healthz;
cr_handler cr_page_dev_mail, cr_page_dev_mail_message;
/* page_verify.c: identity verification step 1 (SPEC R5) */
cr_handler cr_page_verify_list, cr_page_verify_start, cr_page_consent, cr_page_consent_post;
cr_handler cr_page_emails, cr_page_email, cr_page_email_send, cr_page_email_check, cr_page_emails_next;
/* page_identity.c: step 2 (SPEC R6) and the landing of step 3 */
cr_handler cr_page_identity, cr_page_photo_upload, cr_page_photo, cr_page_face_check;
/* page_confirm.c: step 3 「確認續期」 and step 4 (SPEC R7, R8) */
cr_handler cr_page_confirm, cr_page_declare, cr_page_eid_callback, cr_page_submit, cr_page_document,
    cr_page_signature;
cr_handler cr_page_activate_list, cr_page_activate_open, cr_page_activate; /* page_activate.c */
cr_handler cr_page_certificates, cr_page_certificate_pem, cr_page_revoke, cr_page_pki_file;
cr_handler cr_page_department, cr_page_department_decide; /* page_dept.c: coordinators only */

#endif
