/*
 * libmicrohttpd glue: the daemon's options, collecting a capped request
 * body, and the response helpers that every endpoint answers through, so
 * that each response carries the same hardening headers and gets exactly one
 * log line (method, path, status: never a query string, code or token).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govsim.h"
#include "util/log.h"

#define POOL_THREADS   4
#define CONN_TIMEOUT   30            /* seconds of idleness */
#define CONN_LIMIT     256
#define CONN_MEMORY    (64 * 1024)   /* per-connection pool: headers, read buffer */

const char *
gs_header(struct gs_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static int
add_header(struct MHD_Response *resp, const char *name, const char *value)
{
	return MHD_add_response_header(resp, name, value) == MHD_YES;
}

/* Headers every response gets: nothing here is cacheable or frameable. */
static int
add_common(struct MHD_Response *resp)
{
	return add_header(resp, "Cache-Control", "no-store") &&
	    add_header(resp, "Pragma", "no-cache") &&
	    add_header(resp, "X-Content-Type-Options", "nosniff") &&
	    add_header(resp, "X-Frame-Options", "DENY") &&
	    add_header(resp, "Referrer-Policy", "no-referrer");
}

enum MHD_Result
gs_reply(struct gs_req *r, unsigned status, const char *ctype, struct cr_buf *body,
    const char *const *headers)
{
	struct MHD_Response *resp;
	enum MHD_Result ret = MHD_NO;
	size_t len = body ? body->len : 0;
	char *data = body ? cr_buf_take(body) : NULL;
	int ok;

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		cr_error(GS_LOG, "%s %.200s: cannot create a response", r->method, r->url);
		return MHD_NO;
	}
	ok = add_common(resp);
	if (ok && ctype != NULL)
		ok = add_header(resp, "Content-Type", ctype);
	for (size_t i = 0; ok && headers != NULL && headers[i] != NULL; i += 2)
		ok = add_header(resp, headers[i], headers[i + 1]);
	if (ok)
		ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->answered = 1;
	cr_info(GS_LOG, "%s %.200s %u", r->method, r->url, status);
	return ret;
}

enum MHD_Result
gs_reply_text(struct gs_req *r, unsigned status, const char *text)
{
	struct cr_buf b;

	cr_buf_init(&b, strlen(text));
	if (cr_buf_adds(&b, text) != CR_OK)
		return MHD_NO;
	return gs_reply(r, status, "text/plain; charset=utf-8", &b, NULL);
}

enum MHD_Result
gs_reply_json(struct gs_req *r, unsigned status, json_t *j, const char *const *headers)
{
	/* Numbers with a fraction (DSI's score) in at most 6 significant digits, not 17. */
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	struct cr_buf b;
	enum MHD_Result ret;

	json_decref(j);
	if (s == NULL)
		return gs_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	cr_buf_init(&b, strlen(s));
	if (cr_buf_adds(&b, s) != CR_OK) {
		free(s);
		return MHD_NO;
	}
	/* The JSON may hold tokens: wipe the copy we no longer need. */
	explicit_bzero(s, strlen(s));
	free(s);
	ret = gs_reply(r, status, "application/json", &b, headers);
	return ret;
}

enum MHD_Result
gs_reply_oauth_error(struct gs_req *r, unsigned status, const char *error, const char *desc)
{
	static const char *const basic[] = {
		"WWW-Authenticate", "Basic realm=\"govsim\"", NULL,
	};

	return gs_reply_json(r, status,
	    json_pack("{s:s, s:s}", "error", error, "error_description", desc),
	    status == MHD_HTTP_UNAUTHORIZED ? basic : NULL);
}

enum MHD_Result
gs_reply_redirect(struct gs_req *r, const char *location)
{
	const char *const h[] = { "Location", location, NULL };

	return gs_reply(r, MHD_HTTP_FOUND, NULL, NULL, h);
}

enum MHD_Result
gs_reply_html(struct gs_req *r, unsigned status, struct cr_buf *html)
{
	const char *const h[] = { "Content-Security-Policy", r->gs->csp, NULL };

	return gs_reply(r, status, "text/html; charset=utf-8", html, h);
}

/* Path below the issuer's prefix, or NULL when the URL is outside it. */
static const char *
strip_prefix(const char *prefix, const char *url)
{
	size_t n = strlen(prefix);

	if (strncmp(url, prefix, n) != 0 || url[n] != '/')
		return NULL;
	return url + n;
}

/* First call of a request: set up its state; refuse an oversized body early. */
static enum MHD_Result
begin(struct gs *gs, struct MHD_Connection *c, const char *url, const char *method,
    void **con_cls)
{
	struct gs_req *r;
	const char *cl;
	size_t cap;
	enum MHD_Result ret;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MHD_NO;
	r->gs = gs;
	r->conn = c;
	r->method = method;
	r->url = url;
	r->path = strip_prefix(gs->prefix, url);
	/* 8 KiB for forms; only a DSI face compare (a base64 photo) may send more. */
	cap = gs_body_cap(gs, method, r->path);
	cr_buf_init(&r->body, cap);
	*con_cls = r;
	cl = gs_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(cl, &end, 10);
		/* A clean 413 now, before reading anything, as MHD allows. */
		if (errno != 0 || end == cl || *end != '\0' || v > cap)
			return gs_reply_text(r, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
	}
	/* A DSI request without the key is refused before its body is read. */
	if (gs_dsi_early_reject(r, &ret))
		return ret;
	return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct gs_req *r = *con_cls;

	(void)version;
	if (r == NULL)
		return begin(cls, c, url, method, con_cls);
	if (*upload_size != 0) {
		/* Keep reading past the cap (a chunked body), but discard it:
		 * queueing a response mid-upload would just drop the connection. */
		if (!r->answered && !r->body_too_big &&
		    cr_buf_add(&r->body, upload, *upload_size) != CR_OK) {
			r->body_too_big = 1;
			cr_buf_free_secret(&r->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->answered)
		return MHD_YES;
	if (r->body_too_big)
		return gs_reply_text(r, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
	return gs_route(r);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct gs_req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	/* Bodies carry client secrets and code verifiers. */
	cr_buf_free_secret(&r->body);
	free(r);
	*con_cls = NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	cr_warn("mhd", "%s", line);
}

enum cr_err
gs_http_start(struct gs *gs, const struct sockaddr *addr, int ipv6, struct MHD_Daemon **out)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (ipv6)
		flags |= MHD_USE_IPv6;
	/* The logger goes first so that MHD's own messages use it too. */
	*out = MHD_start_daemon(flags, 0, NULL, NULL, on_request, gs,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, gs,
	    MHD_OPTION_SOCK_ADDR, addr,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)POOL_THREADS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_LIMIT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, gs,
	    MHD_OPTION_END);
	return *out == NULL ? CR_ERR_IO : CR_OK;
}
