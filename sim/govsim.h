/*
 * govsim: DEV/test stand-in for the government's GovID OpenID Connect
 * provider. A separate program, never linked into certrenew; it shares only
 * src/util (errors, capped buffers, logging).
 *
 * What it trusts: its command line, the people file and the files in its data
 * directory. Everything arriving over HTTP is untrusted and goes through the
 * capped form parser of util/form.c (read through form.c) and the validators
 * in oidc.c.
 *
 * Threads: libmicrohttpd calls the handlers from a pool of threads. All
 * mutable state (pending logins, codes, access tokens) lives in struct gs and
 * is touched only with gs->lock held; everything else in struct gs is
 * read-only once main has started the server.
 */
#ifndef GOVSIM_H
#define GOVSIM_H

#include <pthread.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "util/buf.h"
#include "util/crypto.h"
#include "util/file.h"
#include "util/form.h"
#include "util/err.h"
#include "media/image.h"

#define GS_LOG "govsim"

/* Caps on untrusted input and on memory. */
#define GS_BODY_MAX      8192   /* form bodies of /login and /token */
#define GS_DSI_BODY_MAX  (16u * 1024u * 1024u) /* POST /dsi/v1/face/compare (JSON, base64 image) */
#define GS_FORM_FIELDS   32     /* fields in one form or query string */
#define GS_TABLE_MAX     10000  /* entries in each in-memory table */
#define GS_MAX_REDIRECTS 16     /* --redirect-uri options */

/* Lifetimes, in seconds. */
#define GS_PENDING_TTL 300      /* an /authorize request waiting for a login */
#define GS_CODE_TTL    60       /* an authorization code */
#define GS_TOKEN_TTL   300      /* access token and ID token */

/* ACR values of GovID's assurance levels. */
#define GS_ACR_SUBSTANTIAL "govid:substantial"
#define GS_ACR_VERY_HIGH   "govid:very-high"

/* ---- util.c: small helpers over libsodium and cr_buf ---- */

/* A fresh 256-bit random value, base64url (43 characters); caller frees. */
enum cr_err gs_random_token(char **out);
/* Constant-time equality of two strings of any length (compares hashes). */
int gs_secret_equal(const char *a, const char *b);
/* Appends s percent-encoded (everything but RFC 3986 unreserved). */
enum cr_err gs_url_append(struct cr_buf *b, const char *s);
/* Appends s with & < > " ' escaped, for HTML text and attribute values. */
enum cr_err gs_html_append(struct cr_buf *b, const char *s);
/* 1 if s holds an ASCII control character (C0 or DEL). */
int gs_has_ctl(const char *s);
/* 1 if s is space-separated list containing word. */
int gs_has_word(const char *list, const char *word);
/* Reads a secret file of one line (1..max bytes, no spaces or control characters; a trailing
   newline is dropped) into *out (caller wipes and frees); what names it in messages. Warns when
   the file is readable by others. */
enum cr_err gs_read_secret_line(const char *path, const char *what, size_t max, char **out);
/* Reads a JSON file of at most cap bytes (duplicate keys refused) into *out (caller decrefs). */
enum cr_err gs_load_json(const char *path, size_t cap, json_t **out);
/* Current wall-clock time in seconds. */
time_t gs_now(void);

/* ---- form.c: reading the fields of forms and query strings ---- */

/* How govsim parses forms and collects query strings (util/form.h): at most GS_FORM_FIELDS
 * fields; repeated names are kept, so that gs_form_get can refuse them (RFC 6749 3.1), and
 * any name is accepted (only the declared ones are read). */
extern const struct cr_form_rules gs_form_rules;

/*
 * Looks up a field. *val is borrowed from f. An empty value counts as absent
 * (RFC 6749 3.1). Returns CR_ERR_NOTFOUND when absent, CR_ERR_CONFLICT when
 * repeated, CR_ERR_TOOBIG when longer than maxlen, CR_ERR_INVALID when it
 * holds control characters.
 */
enum cr_err gs_form_get(const struct cr_form *f, const char *name, size_t maxlen,
    const char **val);

/* ---- table.c: bounded, expiring maps keyed by SHA-256 of a secret ---- */

struct gs_table;

/* free_fn releases an entry's data; the table calls it on expiry/removal. */
struct gs_table *gs_table_new(size_t cap, void (*free_fn)(void *));
void gs_table_free(struct gs_table *t);
/* Stores data (consumed on CR_OK only) under id until expires. Drops expired
 * entries first; CR_ERR_TOOBIG when still full. */
enum cr_err gs_table_put(struct gs_table *t, const uint8_t id[32], time_t expires,
    void *data);
/* Borrowed data of a live entry, or NULL; valid until the next call on t. */
void *gs_table_get(struct gs_table *t, const uint8_t id[32], time_t now);
/* Removes a live entry and hands its data to the caller; NULL if none. */
void *gs_table_take(struct gs_table *t, const uint8_t id[32], time_t now);
/* Removes an entry (live or not) and frees its data. */
void gs_table_remove(struct gs_table *t, const uint8_t id[32]);

/* ---- people.c: the GovID accounts ---- */

enum {
	GS_ROLE_HOLDER = 1,
	GS_ROLE_COORDINATOR = 2,
	GS_ROLE_OFFICER = 4,
};

struct gs_person {
	char *sub;
	char *name;
	char *email;
	char *id_number; /* resident number, NULL when the account has none */
	unsigned roles;
};

struct gs_people {
	size_t n;
	struct gs_person *v;
};

/* Loads and validates the people[] array of the demo JSON file. */
enum cr_err gs_people_load(const char *path, struct gs_people *out);
void gs_people_free(struct gs_people *p);
/* Borrowed pointer into p, or NULL. */
const struct gs_person *gs_people_find(const struct gs_people *p, const char *sub);

/* ---- dsi_face.c: image similarity of a photo and a registered face ---- */

/* The comparison features of one picture; read-only once made (any thread). */
struct gs_face;

/* Features of decoded pixels; *out freed with gs_face_free. CR_ERR_NOMEM. */
enum cr_err gs_face_from_pixels(const struct cr_image *img, struct gs_face **out);
/* Decodes an untrusted image (cr_image_decode, default limits) and makes its features;
 * anything but CR_IMG_OK leaves *out NULL. */
enum cr_image_verdict gs_face_from_bytes(const void *buf, size_t len, struct gs_face **out);
void gs_face_free(struct gs_face *f);
/* How similar probe is to the registered face, in [0, 1] ("govsim-ncc" 1.0). */
double gs_face_score(const struct gs_face *registered, const struct gs_face *probe);

/* ---- dsi.c: the Identification Services Bureau (docs/internals/dsi.md) ---- */

/* One DSI resident: a people[] entry with a dsi object. Dates are Macau dates
 * (YYYY-MM-DD) computed when govsim starts. */
struct gs_resident {
	char *id_number;
	char *surname;
	char *given_names;
	char *name_zh;        /* may be "" */
	char *card_number;
	char *card_status;    /* valid | expired | revoked | lost | cancelled */
	char card_issued_on[16];
	char card_expires_on[16];
	struct gs_face *face; /* NULL: no registered face */
};

struct gs_dsi {
	char *api_key;        /* NULL: DSI is off (no --dsi-api-key-file) and its endpoints are 404 */
	size_t n;
	struct gs_resident *v;
};

/*
 * Turns DSI on: reads the API key (one line), loads the registry from the
 * people file and every registered face from faces_dir, validating strictly
 * (a bad entry fails with a message). On error d is left empty.
 */
enum cr_err gs_dsi_load(const char *key_file, const char *people_file, const char *faces_dir,
    struct gs_dsi *d);
void gs_dsi_free(struct gs_dsi *d);

/* ---- keys.c: the ES256 signing key ---- */

struct gs_key;

/* Loads DIR/govid-signing-jwk.json, creating it (0600) on first start. */
enum cr_err gs_key_open(const char *data_dir, struct gs_key **out);
void gs_key_free(struct gs_key *k);
/* The JWKS document (public key only); borrowed, lives as long as k. */
const char *gs_key_jwks(const struct gs_key *k);
/* Signs payload as a compact JWS {"alg":"ES256","typ":"JWT","kid":...};
 * *out owned by the caller. Not thread-safe: call with gs->lock held. */
enum cr_err gs_key_sign(const struct gs_key *k, const char *payload, size_t len,
    char **out);

/* ---- faults.c: armed failures for the portal's tests (only with --test-faults) ---- */

#define GS_FAULTS_MAX 16

/* Names of the failures a test may arm (POST /sim/faults, form field `next`), each for one use. */
#define GS_FAULT_NAMES \
	"eid_acr_substantial", "eid_stale_auth_time", "eid_other_resident", \
	"csc_down", "csc_garbage", "csc_truncated", "csc_wrong_digest", "csc_untrusted", \
	"csc_other_person", "csc_expired", \
	"dsi_down", "dsi_card_lost", "dsi_name_changed", "dsi_card_renewed"

struct gs_faults {
	int enabled;                   /* --test-faults given: /sim/faults exists */
	pthread_mutex_t lock;          /* guards the armed list (apart from gs->lock) */
	size_t n;
	const char *armed[GS_FAULTS_MAX]; /* static names from GS_FAULT_NAMES */
};

enum cr_err gs_faults_init(struct gs_faults *f, int enabled);
void gs_faults_fini(struct gs_faults *f);
/* 1 (and disarms it) when the named failure is armed; 0 otherwise, always 0 when disabled.
 * Safe with or without gs->lock held. */
int gs_fault_take(struct gs_faults *f, const char *name);

/* ---- eid.c: the very-high e-ID (QR code, the phone's view; docs/internals/eid.md) ---- */

struct gs;
struct gs_req;
/* 1 if path is an e-ID endpoint (/eid/...). */
int gs_eid_path(const char *path);
enum cr_err gs_eid_init(struct gs *gs);
void gs_eid_fini(struct gs *gs);

/* ---- csc.c, testca.c: the e-signature service (CSC API v2) and its test CA ---- */

/* 1 if path is an e-signature endpoint (/csc/v2/...). */
int gs_csc_path(const char *path);
/* Opens (creating on first start) the test CA under data_dir: govid-ca.pem, govid-ca.key (0600). */
enum cr_err gs_csc_init(struct gs *gs, const char *data_dir);
void gs_csc_fini(struct gs *gs);

/* ---- the program state ---- */

struct gs {
	/* Read-only once the server runs. */
	char *issuer;          /* no trailing slash */
	const char *prefix;    /* path part of issuer ("" at the root); points into issuer */
	char *client_id;
	char *client_secret;
	char *redirect_uris[GS_MAX_REDIRECTS];
	size_t n_redirect_uris;
	struct gs_people people;
	struct gs_key *key;
	char *csp;             /* Content-Security-Policy of HTML pages */
	struct gs_dsi dsi;     /* the DSI registry and its API key */
	struct gs_faults faults;
	struct gs_eid *eid;    /* eid.c's state (its own lock) */
	struct gs_csc *csc;    /* csc.c's state: test CA, e-ID certificates (read-only once running) */

	/* Guarded by lock. */
	pthread_mutex_t lock;
	struct gs_table *pending; /* struct gs_pending, by SHA-256 of the request id */
	struct gs_table *codes;   /* struct gs_code, by SHA-256 of the code */
	struct gs_table *tokens;  /* struct gs_token, by SHA-256 of the access token */
};

/* ---- http.c: the libmicrohttpd glue ---- */

/* One HTTP request; lives from the first handler call to completion. */
struct gs_req {
	struct gs *gs;
	struct MHD_Connection *conn;
	const char *method;   /* borrowed from MHD for the request's life */
	const char *url;      /* full path, for the log */
	const char *path;     /* path below the issuer's prefix */
	struct cr_buf body;   /* capped at gs_body_cap() */
	int body_too_big;
	int answered;
};

/* Starts the server on addr; *out is the daemon. */
enum cr_err gs_http_start(struct gs *gs, const struct sockaddr *addr, int ipv6,
    struct MHD_Daemon **out);
/* A request header, or NULL. Borrowed for the request's life. */
const char *gs_header(struct gs_req *r, const char *name);
/*
 * Queues a response and logs "METHOD PATH STATUS". body is consumed (may be
 * NULL for no body). headers is NULL or a NULL-terminated list of name, value
 * pairs. Every response gets no-store and the usual hardening headers.
 */
enum MHD_Result gs_reply(struct gs_req *r, unsigned status, const char *ctype,
    struct cr_buf *body, const char *const *headers);
enum MHD_Result gs_reply_text(struct gs_req *r, unsigned status, const char *text);
/* j is consumed. */
enum MHD_Result gs_reply_json(struct gs_req *r, unsigned status, json_t *j,
    const char *const *headers);
/* RFC 6749 5.2 error body. */
enum MHD_Result gs_reply_oauth_error(struct gs_req *r, unsigned status,
    const char *error, const char *desc);
enum MHD_Result gs_reply_redirect(struct gs_req *r, const char *location);
/* html is consumed. */
enum MHD_Result gs_reply_html(struct gs_req *r, unsigned status, struct cr_buf *html);

/* ---- oidc.c: the endpoints (details in oidc.h) ---- */

/* Creates the in-memory tables of gs. */
enum cr_err gs_oidc_init(struct gs *gs);
/* Frees them; the server must be stopped. */
void gs_oidc_fini(struct gs *gs);
/* Dispatches a complete request (body read) to its endpoint. */
enum MHD_Result gs_route(struct gs_req *r);
/* The prefix-routed endpoint families (each answers every path its gs_*_path accepts). */
enum MHD_Result gs_eid_route(struct gs_req *r);
enum MHD_Result gs_csc_route(struct gs_req *r);
enum MHD_Result gs_faults_route(struct gs_req *r);

/* ---- dsi.c: the DSI endpoints ---- */

/* 1 if path (below the issuer's prefix; may be NULL) is a DSI endpoint. */
int gs_dsi_path(const char *path);
/* The largest request body accepted for method and path: GS_DSI_BODY_MAX for a face
 * compare while DSI is on, GS_BODY_MAX for everything else. */
size_t gs_body_cap(const struct gs *gs, const char *method, const char *path);
/* Answers a DSI request; gs_route sends every gs_dsi_path here. */
enum MHD_Result gs_dsi_route(struct gs_req *r);
/* Called before the body is read: answers 404 (DSI off) or 401 (no or wrong key) at once, so that
 * nobody uploads 16 MiB without the key. 1 if it answered (*ret is the result). */
int gs_dsi_early_reject(struct gs_req *r, enum MHD_Result *ret);

/* ---- page.c: the HTML pages ---- */

/* The Content-Security-Policy matching the pages' inline style; caller frees. */
enum cr_err gs_page_csp(char **out);
/* The login page listing every account as a button posting req and sub. */
enum cr_err gs_page_login(const struct gs *gs, const char *req_id, struct cr_buf *out);
/* The e-ID page of the computer: instructions, the QR code (GET /eid/qr/{poll}.png), the binding
 * message, 「我已在手機上完成確認」 (/eid/continue/{poll}), the DEV link 「模擬手機掃描」 to scan_url and
 * the polling script /eid/poll.js (which reads data-status of #eid). */
enum cr_err gs_page_eid_wait(const struct gs *gs, const char *poll, const char *scan_url,
    const char *binding, struct cr_buf *out);
/* The phone's view: 「人臉識別成功」, the binding message and holder's name, the form posting tx and
 * decision=approve|refuse to /eid/scan/{scan}, with the DEV select `as` (whose phone answers). */
enum cr_err gs_page_eid_phone(const struct gs *gs, const char *scan, const char *tx,
    const struct gs_person *holder, const char *binding, struct cr_buf *out);
/* A dead-end page with a (non-error) message. */
enum cr_err gs_page_notice(const char *title, const char *message, struct cr_buf *out);
/* An error page that leads nowhere (used when the client cannot be trusted). */
enum cr_err gs_page_error(const char *title, const char *message, struct cr_buf *out);

#endif
