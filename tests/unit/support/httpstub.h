/*
 * A DSI and GovID-signing stand-in for the unit tests: a libmicrohttpd server
 * on 127.0.0.1 (a free port the kernel picks) speaking DSI's two routes
 * (docs/internals/dsi.md) and the three CSC routes of GovID's signing service
 * (docs/internals/esign.md) with answers the test sets, so the real client (src/adapters/dsi.c) is driven
 * over real HTTP. A test peer, not a mock of our code: it never looks inside
 * the portal.
 *
 * Thread-safe: answers may be set while requests are served. Each request
 * body is read to its end whatever its size (a face comparison sends ~14 MB of
 * base64) and counted; its first HTTPSTUB_BODY_KEPT - 1 bytes are kept. A delayed answer sleeps in its connection's thread
 * and is cut short by httpstub_stop, so a test's teardown never waits for it.
 */
#ifndef CR_TESTS_HTTPSTUB_H
#define CR_TESTS_HTTPSTUB_H

#include <stddef.h>

enum httpstub_route {
	HTTPSTUB_RESIDENT, /* GET /dsi/v1/residents/{id_number} */
	HTTPSTUB_FACE,     /* POST /dsi/v1/face/compare */
	HTTPSTUB_CSC_LIST, /* POST /csc/v2/credentials/list */
	HTTPSTUB_CSC_INFO, /* POST /csc/v2/credentials/info */
	HTTPSTUB_CSC_SIGN, /* POST /csc/v2/signatures/signHash */
};
#define HTTPSTUB_ROUTES 5
#define HTTPSTUB_BODY_KEPT 4096

struct httpstub;

/* Starts a stub whose routes answer 500 until set. NULL when it cannot start (logged). */
struct httpstub *httpstub_start(void);
/* Stops it, ending delayed answers at once, and frees it. NULL is a no-op. */
void httpstub_stop(struct httpstub *s);

/* "http://127.0.0.1:PORT" (no trailing slash); lives as long as s. */
const char *httpstub_url(const struct httpstub *s);
unsigned httpstub_port(const struct httpstub *s);

/* What route answers from now on: status, Content-Type (NULL: none), body (copied; NULL: empty) of
   len bytes (-1: strlen), after delay_ms. */
void httpstub_set(struct httpstub *s, enum httpstub_route r, unsigned status, const char *content_type,
    const char *body, long len, long delay_ms);

/* What the last request to any route carried. */
struct httpstub_seen {
	unsigned requests[HTTPSTUB_ROUTES]; /* requests answered per route */
	char method[8];
	char path[256];                     /* as the server decoded it */
	char authorization[600];            /* the header, "" when absent */
	char content_type[128];
	size_t body_len;                    /* bytes of the request body */
	struct {                            /* the last request to each route */
		char authorization[600];
		char body[HTTPSTUB_BODY_KEPT];  /* its start, NUL-terminated */
	} last[HTTPSTUB_ROUTES];
};
void httpstub_seen(struct httpstub *s, struct httpstub_seen *out);

#endif
