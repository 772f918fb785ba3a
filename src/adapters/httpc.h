/*
 * HTTP client for the adapters (libcurl): one request per call, no redirects
 * followed, http/https only, a time limit and a cap on the answer's size, so a
 * slow or hostile service cannot hold a portal thread or its memory.
 */
#ifndef CR_ADAPTERS_HTTPC_H
#define CR_ADAPTERS_HTTPC_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

struct cr_http_resp {
	long status;          /* HTTP status, 0 when no answer */
	char content_type[128]; /* the answer's Content-Type ("" when none) */
	struct cr_buf body;   /* caller frees with cr_buf_free */
};

/* Call once from main before threads start. */
enum cr_err cr_httpc_global_init(void);

/* GET url; bearer (may be NULL) is sent as an Authorization header.
   CR_ERR_REMOTE when the service cannot be reached or times out, CR_ERR_TOOBIG past cap. On any error
   out->body is freed (wiped) and empty: what arrived before the failure is never handed back.
   The same holds for cr_http_post_form and cr_http_request. */
enum cr_err cr_http_get(const char *url, const char *bearer, size_t cap, long timeout_ms, struct cr_http_resp *out);

/* POST an application/x-www-form-urlencoded body; basic_user/basic_pass (may be NULL)
   are sent as HTTP Basic credentials, each form-urlencoded first (RFC 6749 2.3.1). */
enum cr_err cr_http_post_form(const char *url, const char *body, const char *basic_user, const char *basic_pass,
    size_t cap, long timeout_ms, struct cr_http_resp *out);

/* What a request to a service with its own credentials needs (DSI). */
struct cr_http_opts {
	long timeout_ms;          /* the whole exchange */
	long connect_timeout_ms;
	size_t cap;               /* the answer's size */
	const char *bearer;       /* Authorization: Bearer (NULL: none); a secret, never logged */
	const char *client_cert;  /* PEM file of a client certificate for mutual TLS (NULL: none) */
	const char *client_key;   /* its PEM key file */
	const char *ca_file;      /* CA bundle the server must chain to (NULL: the system's) */
	const char *what;         /* named in log lines instead of the URL, which may hold personal data */
};

/* A request with body (NULL for none) of content_type. On any error out->body is freed and empty:
   CR_ERR_REMOTE when the service cannot be reached or times out, CR_ERR_TOOBIG past o->cap. */
enum cr_err cr_http_request(const char *method, const char *url, const struct cr_http_opts *o,
    const char *content_type, const void *body, size_t len, struct cr_http_resp *out);

/* Appends s form-urlencoded (RFC 3986 unreserved kept, everything else %XX). */
enum cr_err cr_url_encode(struct cr_buf *out, const char *s);

#endif
