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
	struct cr_buf body;   /* caller frees with cr_buf_free */
};

/* Call once from main before threads start. */
enum cr_err cr_httpc_global_init(void);

/* GET url; bearer (may be NULL) is sent as an Authorization header.
   CR_ERR_REMOTE when the service cannot be reached or times out, CR_ERR_TOOBIG past cap. */
enum cr_err cr_http_get(const char *url, const char *bearer, size_t cap, long timeout_ms, struct cr_http_resp *out);

/* POST an application/x-www-form-urlencoded body; basic_user/basic_pass (may be NULL)
   are sent as HTTP Basic credentials, each form-urlencoded first (RFC 6749 2.3.1). */
enum cr_err cr_http_post_form(const char *url, const char *body, const char *basic_user, const char *basic_pass,
    size_t cap, long timeout_ms, struct cr_http_resp *out);

/* Appends s form-urlencoded (RFC 3986 unreserved kept, everything else %XX). */
enum cr_err cr_url_encode(struct cr_buf *out, const char *s);

#endif
