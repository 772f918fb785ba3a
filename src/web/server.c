/*
 * libmicrohttpd glue: collects a request (headers, capped body), routes it to
 * a handler, and sends the handler's response with the security headers every
 * page carries. Handlers never touch libmicrohttpd.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "adapters/httpc.h"
#include "util/forwarded.h"
#include "util/lang.h"
#include "server.h"
#include "util/log.h"

#define BODY_CAP (64u * 1024u)

struct cr_server {
	struct MHD_Daemon *d;
	struct cr_app *app;
	struct cr_proxy_list trusted; /* http.trusted_proxies, parsed once */
	char csp[768];                /* Content-Security-Policy, made once */
};

/* Small fields of a multipart upload (csrf, app): how many, and how long each may be. */
#define UPLOAD_FIELDS 8
#define UPLOAD_FIELD_CAP 4096u
/* What a multipart body may carry besides the file: boundaries, part headers, small fields. */
#define UPLOAD_OVERHEAD (64u * 1024u)

struct upload_field {
	char name[CR_FORM_MAX_NAME + 1];
	struct cr_buf value;
	int starts; /* pieces at offset 0 with data: more than one is the field repeated */
};

/* Per-connection request state, from the first callback to completion. */
struct pending {
	struct cr_buf body;
	bool too_big;
	struct timespec t0;
	/* A streamed multipart upload (upload routes only): the file part and the small fields. */
	bool upload;
	bool answered;       /* answered before the body was read: the rest is drained */
	struct MHD_PostProcessor *pp;
	struct cr_buf file;
	bool file_too_big;
	bool upload_bad;
	int file_parts;
	struct upload_field fields[UPLOAD_FIELDS];
	size_t nfields;
};

/* Routes that take a file: the name of the file part. Everything else keeps the 64 KiB form cap. */
static const struct {
	const char *path;
	const char *file_field;
} upload_routes[] = {
	{"/ecmp/certrenewal/identity/photo", "photo"},
};

struct route {
	const char *method;
	const char *path;
	cr_handler *fn;
};

static const struct route routes[] = {
	{"GET", "/", cr_page_landing},
	{"GET", "/healthz", cr_page_healthz},
	{"GET", "/login", cr_page_login},
	{"GET", "/auth/callback", cr_page_callback},
	{"POST", "/logout", cr_page_logout},
	{"GET", "/home", cr_page_home},
	{"GET", "/ecmp/certrenewal", cr_page_pending},
	{"GET", "/ecmp/certrenewal/verify", cr_page_verify_list},
	{"POST", "/ecmp/certrenewal/start", cr_page_verify_start},
	{"GET", "/ecmp/certrenewal/consent", cr_page_consent},
	{"POST", "/ecmp/certrenewal/consent", cr_page_consent_post},
	{"GET", "/ecmp/certrenewal/emails", cr_page_emails},
	{"POST", "/ecmp/certrenewal/emails/next", cr_page_emails_next},
	{"GET", "/ecmp/certrenewal/email", cr_page_email},
	{"POST", "/ecmp/certrenewal/email/send", cr_page_email_send},
	{"POST", "/ecmp/certrenewal/email/verify", cr_page_email_check},
	{"GET", "/ecmp/certrenewal/identity", cr_page_identity},
	{"POST", "/ecmp/certrenewal/identity/photo", cr_page_photo_upload},
	{"GET", "/ecmp/certrenewal/identity/photo", cr_page_photo},
	{"POST", "/ecmp/certrenewal/identity/face", cr_page_face_check},
	{"GET", "/ecmp/certrenewal/confirm", cr_page_confirm},
	{"POST", "/ecmp/certrenewal/confirm/declare", cr_page_declare},
	{"GET", "/ecmp/certrenewal/eid/callback", cr_page_eid_callback},
	{"POST", "/ecmp/certrenewal/confirm/submit", cr_page_submit},
	{"GET", "/ecmp/certrenewal/confirm/app.pdf", cr_page_document},
	{"GET", "/ecmp/certrenewal/confirm/app.p7s", cr_page_signature},
	{"GET", "/ecmp/certrenewal/activate", cr_page_activate_list},
	{"POST", "/ecmp/certrenewal/activate/open", cr_page_activate_open},
	{"POST", "/ecmp/certrenewal/activate", cr_page_activate},
	{"GET", "/ecmp/certrenewal/certificates", cr_page_certificates},
	{"GET", "/ecmp/certrenewal/certificate.pem", cr_page_certificate_pem},
	{"POST", "/ecmp/certrenewal/certificates/revoke", cr_page_revoke},
	{"GET", "/pki/qualified.crl", cr_page_pki_file},
	{"GET", "/pki/encryption.crl", cr_page_pki_file},
	{"GET", "/pki/cloudsign.crl", cr_page_pki_file},
	{"GET", "/pki/qualified-ca.crt", cr_page_pki_file},
	{"GET", "/pki/encryption-ca.crt", cr_page_pki_file},
	{"GET", "/pki/cloudsign-ca.crt", cr_page_pki_file},
	{"GET", "/dev/mail", cr_page_dev_mail},
	{"GET", "/dev/mail/message", cr_page_dev_mail_message},
	{"GET", "/department", cr_page_department},
	{"POST", "/department/decide", cr_page_department_decide},
};

static const char *
lookup(struct cr_req *req, enum MHD_ValueKind kind, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, kind, name);
}

static const char *
get_header(struct cr_req *req, const char *name)
{
	return lookup(req, MHD_HEADER_KIND, name);
}

static const char *
get_query(struct cr_req *req, const char *name)
{
	return lookup(req, MHD_GET_ARGUMENT_KIND, name);
}

static const char *
get_cookie(struct cr_req *req, const char *name)
{
	return lookup(req, MHD_COOKIE_KIND, name);
}

struct self_url_ctx {
	struct cr_buf *out;
	const char *skip;
	enum cr_err err;
};

static enum MHD_Result
add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct self_url_ctx *c = cls;

	(void)kind;
	/* Only the step's own ids travel, and only when they are plain numbers: nothing else a
	   visitor put in the URL is ever written back into a page. */
	if (c->err != CR_OK || strcmp(key, c->skip) == 0 || (strcmp(key, "app") != 0 && strcmp(key, "i") != 0) ||
	    value == NULL || *value == '\0' || strspn(value, "0123456789") != strlen(value) || strlen(value) > 15)
		return MHD_YES;
	if ((c->err = cr_buf_adds(c->out, strchr(cr_buf_str(c->out), '?') ? "&" : "?")) == CR_OK &&
	    (c->err = cr_url_encode(c->out, key)) == CR_OK && (c->err = cr_buf_adds(c->out, "=")) == CR_OK)
		c->err = cr_url_encode(c->out, value);
	return MHD_YES;
}

static enum cr_err
self_url(struct cr_req *req, const char *name, const char *value, struct cr_buf *out)
{
	struct self_url_ctx c = {out, name, CR_OK};

	/* The request's path is the visitor's text (//host, /\host lead off-site): only a route of
	   the table is written back, and a path that matched none links to the start page. */
	if ((c.err = cr_buf_adds(out, req->route != NULL ? req->route : "/")) != CR_OK)
		return c.err;
	if (req->route != NULL)
		MHD_get_connection_values((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND, add_arg, &c);
	if (c.err == CR_OK && (c.err = cr_buf_adds(out, strchr(cr_buf_str(out), '?') ? "&" : "?")) == CR_OK &&
	    (c.err = cr_url_encode(out, name)) == CR_OK && (c.err = cr_buf_adds(out, "=")) == CR_OK)
		c.err = cr_url_encode(out, value);
	return c.err;
}

struct cr_db *
cr_req_db(struct cr_req *req)
{
	if (req->db == NULL)
		req->db = cr_store_get(req->app->store);
	return req->db;
}

void
cr_req_flow(struct cr_req *req, struct cr_flow_ctx *out)
{
	*out = (struct cr_flow_ctx){&req->app->flow, cr_req_db(req), req->now, req->authed ? &req->person : NULL, req->ip};
}

static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	(void)value;
	if (strcasecmp(key, "X-Forwarded-For") == 0)
		(*(int *)cls)++;
	return MHD_YES;
}

/*
 * The client's address for logs and the audit log: the TCP peer, or, when the peer is one of
 * http.trusted_proxies, the hop of X-Forwarded-For that the proxy vouches for (forwarded.h).
 * A missing, repeated or malformed header from a trusted proxy leaves the peer's address.
 * A peer that is not trusted cannot choose what is recorded, whatever it sends.
 */
static void
client_ip(struct MHD_Connection *c, const struct cr_proxy_list *trusted, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	char fwd[CR_FWD_ADDR_LEN];
	const char *xff;
	int nxff = 0;

	snprintf(out, outlen, "?");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
		    (socklen_t)outlen);
	if (trusted->n == 0 || !cr_proxy_list_has(trusted, out))
		return;
	if ((xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For")) == NULL)
		return;
	/* The proxy sends one header; with two, which one it wrote is unknown. */
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &nxff);
	if (nxff != 1 || cr_forwarded_client(xff, strlen(xff), trusted, fwd, sizeof(fwd)) != CR_OK) {
		cr_warn("http", "unusable X-Forwarded-For from trusted proxy %s: client recorded as the proxy", out);
		return;
	}
	snprintf(out, outlen, "%s", fwd);
}

static const char *
pick_lang(struct cr_req *req, struct cr_resp *resp)
{
	const char *q = cr_lang_find(req->query(req, "lang")), *c = cr_lang_find(req->cookie(req, CR_LANG_COOKIE));

	if (q != NULL) {
		cr_resp_cookie(req->app, resp, CR_LANG_COOKIE, q, "/", 365L * 86400);
		return q;
	}
	return c != NULL ? c : cr_langs[0].code;
}

static void
serve_static(struct cr_req *req, struct cr_resp *resp)
{
	const char *name = req->path + strlen("/static/"), *etag, *type, *inm;
	const void *data;
	size_t len;

	if (strchr(name, '/') != NULL || cr_static_get(req->app->statics, name, &data, &len, &etag, &type) != CR_OK) {
		cr_render_error(req, resp, 404, "err_not_found", NULL);
		return;
	}
	resp->etag = etag;
	/* Stylesheet URLs carry a content version, so browsers may keep them. */
	resp->cache_control = "public, max-age=86400";
	resp->content_type = type;
	inm = req->header(req, "If-None-Match");
	if (inm != NULL && strcmp(inm, etag) == 0) {
		resp->status = 304;
		return;
	}
	resp->status = 200;
	resp->static_body = data;
	resp->static_len = len;
}

static void
dispatch(struct cr_req *req, struct cr_resp *resp)
{
	bool path_known = false;
	bool head = strcmp(req->method, "HEAD") == 0;

	if (strncmp(req->path, "/static/", 8) == 0 && (head || strcmp(req->method, "GET") == 0)) {
		serve_static(req, resp);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, req->path) != 0)
			continue;
		path_known = true;
		req->route = routes[i].path;
		if (strcmp(routes[i].method, req->method) == 0 || (head && strcmp(routes[i].method, "GET") == 0)) {
			routes[i].fn(req, resp);
			return;
		}
	}
	if (path_known)
		cr_render_error(req, resp, 405, "err_method", NULL);
	else
		cr_render_error(req, resp, 404, "err_not_found", NULL);
}

/* The origin (scheme://host[:port]) of an http(s) URL, or "" when it has none a policy may name. */
static void
origin_of(const char *url, char *out, size_t outlen)
{
	const char *host = strstr(url, "://");
	size_t n;

	out[0] = '\0';
	if (host == NULL || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
		return;
	host += 3;
	n = (size_t)(host - url) + strcspn(host, "/?#");
	if (n < outlen && strcspn(url, " ;,'\"") >= n)
		snprintf(out, outlen, "%.*s", (int)n, url);
}

/* form-action names GovID too: 「進行電子身份識別並簽署申請文件」 posts here and is redirected there,
   and browsers hold a form's redirects to form-action. */
static void
make_csp(struct cr_server *srv)
{
	char govid[300];

	origin_of(srv->app->cfg->govid_issuer, govid, sizeof(govid));
	snprintf(srv->csp, sizeof(srv->csp),
	    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	    "form-action 'self'%s%s; frame-ancestors 'none'; base-uri 'none'", govid[0] ? " " : "", govid);
}

static void
add_security_headers(struct MHD_Response *r, const struct cr_resp *resp, bool tls, const char *csp)
{
	if (tls)
		MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control", resp->cache_control ? resp->cache_control : "no-store");
}

static enum MHD_Result
send_resp(struct MHD_Connection *c, struct cr_resp *resp, bool tls, const char *csp)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (resp->static_body != NULL)
		r = MHD_create_response_from_buffer(resp->static_len, (void *)(uintptr_t)resp->static_body,
		    MHD_RESPMEM_PERSISTENT);
	else {
		size_t len = resp->body.len;
		r = MHD_create_response_from_buffer(len, cr_buf_take(&resp->body), MHD_RESPMEM_MUST_FREE);
	}
	if (r == NULL)
		return MHD_NO;
	add_security_headers(r, resp, tls, csp);
	if (resp->content_type != NULL)
		MHD_add_response_header(r, "Content-Type", resp->content_type);
	if (resp->etag != NULL)
		MHD_add_response_header(r, "ETag", resp->etag);
	if (resp->disposition != NULL)
		MHD_add_response_header(r, "Content-Disposition", resp->disposition);
	if (resp->location[0] != '\0')
		MHD_add_response_header(r, "Location", resp->location);
	for (int i = 0; i < resp->ncookies; i++)
		MHD_add_response_header(r, "Set-Cookie", resp->cookies[i]);
	rc = MHD_queue_response(c, resp->status, r);
	MHD_destroy_response(r);
	return rc;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static bool
is_form(struct MHD_Connection *c)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	return ct != NULL && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

static const char *
upload_field_name(const char *method, const char *url)
{
	if (strcmp(method, "POST") != 0)
		return NULL;
	for (size_t i = 0; i < sizeof(upload_routes) / sizeof(upload_routes[0]); i++)
		if (strcmp(url, upload_routes[i].path) == 0)
			return upload_routes[i].file_field;
	return NULL;
}

static bool
is_multipart(struct MHD_Connection *c)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	return ct != NULL && strncasecmp(ct, "multipart/form-data", 19) == 0;
}

/* One piece of one part of a multipart body (libmicrohttpd's post processor). */
static enum MHD_Result
on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename, const char *content_type,
    const char *transfer_encoding, const char *data, uint64_t off, size_t size)
{
	struct pending *p = cls;
	struct upload_field *f = NULL;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	if (key == NULL)
		return MHD_YES;
	/* libmicrohttpd may announce a part with an empty piece at offset 0 before its data, also at
	   offset 0: a part starts with the first piece at offset 0 that has data. */
	if (strcmp(key, "photo") == 0) {
		/* Two file parts would be one file made of both: refused. */
		if (off == 0 && size > 0 && ++p->file_parts > 1)
			p->upload_bad = true;
		if (!p->file_too_big && size > 0 && cr_buf_add(&p->file, data, size) != CR_OK) {
			/* Over the cap: what follows is read and dropped, and the handler says so. */
			p->file_too_big = true;
			cr_buf_free_secret(&p->file);
		}
		return MHD_YES;
	}
	for (size_t i = 0; i < p->nfields; i++)
		if (strcmp(p->fields[i].name, key) == 0)
			f = &p->fields[i];
	if (f == NULL) {
		if (p->nfields == UPLOAD_FIELDS || strlen(key) > CR_FORM_MAX_NAME) {
			p->upload_bad = true;
			return MHD_YES;
		}
		f = &p->fields[p->nfields++];
		snprintf(f->name, sizeof(f->name), "%s", key);
		cr_buf_init(&f->value, UPLOAD_FIELD_CAP);
	}
	if (off == 0 && size > 0 && ++f->starts > 1)
		p->upload_bad = true; /* a repeated field, as cr_form_parse refuses */
	if (size > 0 && cr_buf_add(&f->value, data, size) != CR_OK)
		p->upload_bad = true;
	return MHD_YES;
}

/* The first call of an upload route: the post processor, or the verdict on a declared length. */
static void
upload_begin(struct cr_server *srv, struct MHD_Connection *c, struct pending *p)
{
	size_t cap = srv->app->flow.photo.max_bytes;
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");

	p->upload = true;
	cr_buf_init(&p->file, cap);
	if (cl != NULL && strtoull(cl, NULL, 10) > cap + UPLOAD_OVERHEAD) {
		p->file_too_big = true;
		return;
	}
	if ((p->pp = MHD_create_post_processor(c, 65536, on_part, p)) == NULL)
		p->upload_bad = true;
}

/* The small fields of an upload as the request's form. */
static void
upload_form(struct pending *p, struct cr_req *req)
{
	for (size_t i = 0; i < p->nfields && !req->body_malformed; i++) {
		const struct upload_field *f = &p->fields[i];
		if (cr_form_add(&req->form, &(struct cr_form_rules){32, false, false}, f->name, strlen(f->name),
		        f->value.data ? f->value.data : "", f->value.len) != CR_OK)
			req->body_malformed = true;
	}
}

static enum MHD_Result
handle(struct cr_server *srv, struct MHD_Connection *c, const char *url, const char *method, struct pending *p)
{
	struct cr_app *app = srv->app;
	struct cr_req req = {0};
	struct cr_resp resp = {0};
	enum MHD_Result rc;

	req.method = method;
	req.path = url;
	req.now = time(NULL);
	req.header = get_header;
	req.query = get_query;
	req.cookie = get_cookie;
	req.self_url = self_url;
	req.conn = c;
	req.app = app;
	client_ip(c, &srv->trusted, req.ip, sizeof(req.ip));
	resp.status = 200;
	cr_buf_init(&resp.body, 4u * 1024u * 1024u);
	req.lang = pick_lang(&req, &resp);
	req.body_too_big = p->too_big;
	if (p->upload) {
		req.upload = p->file;
		req.upload_too_big = p->file_too_big;
		req.body_malformed = p->upload_bad;
		upload_form(p, &req);
	} else if (strcmp(method, "POST") == 0 && !p->too_big && p->body.len > 0) {
		if (!is_form(c) || cr_form_parse(p->body.data, p->body.len, &req.form) != CR_OK)
			req.body_malformed = true;
	}

	if (req.body_too_big)
		cr_render_error(&req, &resp, 413, "err_too_big", NULL);
	else if (req.body_malformed)
		cr_render_error(&req, &resp, 400, "err_bad_form", NULL);
	else
		dispatch(&req, &resp);

	if (req.db != NULL)
		cr_store_put(app->store, req.db);
	cr_form_free(&req.form);
	rc = send_resp(c, &resp, app->cfg->cookie_secure, srv->csp);
	cr_buf_free(&resp.body);
	cr_info("http", "%s %s %u %.1fms %s", method, url, resp.status, ms_since(&p->t0), req.ip);
	return rc;
}

static enum MHD_Result
refuse_early(struct MHD_Connection *c, unsigned status)
{
	static const char msg[] = "Request body too large\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)(uintptr_t)msg,
	    MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Connection", "close");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct pending *p = *con_cls;

	(void)version;
	if (p == NULL) {
		const char *cl;

		if ((p = calloc(1, sizeof(*p))) == NULL)
			return MHD_NO;
		cr_buf_init(&p->body, BODY_CAP);
		clock_gettime(CLOCK_MONOTONIC, &p->t0);
		*con_cls = p;
		if (upload_field_name(method, url) != NULL && is_multipart(c)) {
			upload_begin(cls, c, p);
			/* Over the cap as declared: the page says so before the body is read. */
			if (p->file_too_big) {
				cr_warn("http", "%s %s refused: Content-Length %s over the upload cap", method, url,
				    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length"));
				p->answered = true;
				return handle(cls, c, url, method, p);
			}
			return MHD_YES;
		}
		/* A declared length over the cap is refused before any of the body is read. */
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl != NULL && strtoull(cl, NULL, 10) > BODY_CAP) {
			p->too_big = true;
			cr_warn("http", "%s %s refused: Content-Length %s over %u", method, url, cl, BODY_CAP);
			return refuse_early(c, 413);
		}
		return MHD_YES;
	}
	if (p->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0 && p->upload) {
		if (p->pp != NULL && MHD_post_process(p->pp, upload_data, *upload_data_size) != MHD_YES)
			p->upload_bad = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		/* Chunked bodies are counted as they come; the excess is read and dropped. */
		if (!p->too_big && cr_buf_add(&p->body, upload_data, *upload_data_size) != CR_OK)
			p->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	return handle(cls, c, url, method, p);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct pending *p = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (p == NULL)
		return;
	if (p->pp != NULL)
		MHD_destroy_post_processor(p->pp);
	cr_buf_free_secret(&p->body);
	cr_buf_free_secret(&p->file);
	for (size_t i = 0; i < p->nfields; i++)
		cr_buf_free_secret(&p->fields[i].value);
	free(p);
	*con_cls = NULL;
}

enum cr_err
cr_server_start(struct cr_app *app, struct cr_server **out)
{
	struct cr_server *srv;
	struct sockaddr_in sa = {0};

	*out = NULL;
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)app->cfg->listen_port);
	if (inet_pton(AF_INET, app->cfg->listen_host, &sa.sin_addr) != 1) {
		cr_error("http", "listen address %s is not an IPv4 address", app->cfg->listen_host);
		return CR_ERR_CONFIG;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return CR_ERR_NOMEM;
	srv->app = app;
	make_csp(srv);
	if (cr_proxy_list_parse(app->cfg->http_trusted_proxies, strlen(app->cfg->http_trusted_proxies),
	        &srv->trusted) != CR_OK) {
		cr_error("http", "http.trusted_proxies: not a list of IPv4 addresses");
		free(srv);
		return CR_ERR_CONFIG;
	}
	if (srv->trusted.n > 0)
		cr_info("http", "behind %zu trusted proxies (%s): the client address comes from X-Forwarded-For",
		    srv->trusted.n, app->cfg->http_trusted_proxies);
	srv->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
	    (uint16_t)app->cfg->listen_port, NULL, NULL, on_request, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)app->cfg->http_threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)app->cfg->http_max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)(app->cfg->http_max_connections / 2),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    /* libmicrohttpd wipes this pool between requests: keep it to what headers need. */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16u * 1024u),
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_END);
	if (srv->d == NULL) {
		cr_error("http", "cannot listen on %s:%d", app->cfg->listen_host, app->cfg->listen_port);
		free(srv);
		return CR_ERR_IO;
	}
	*out = srv;
	return CR_OK;
}

void
cr_server_stop(struct cr_server *srv)
{
	if (srv == NULL)
		return;
	MHD_stop_daemon(srv->d);
	free(srv);
}
