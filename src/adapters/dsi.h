/*
 * Client of the Identification Services Bureau (DSI) over HTTPS (libcurl):
 * the holder's current ID-card data and the face comparison of step 2
 * (docs/internals/dsi.md). Answers are parsed strictly: every member present
 * with its type, bounded, valid UTF-8 without control characters; anything
 * else is DSI failing, never a partial answer.
 *
 * Thread-safe: a struct cr_dsi is read-only after cr_dsi_new.
 */
#ifndef CR_ADAPTERS_DSI_H
#define CR_ADAPTERS_DSI_H

#include <stddef.h>

#include "core/identity.h"
#include "util/buf.h"
#include "util/err.h"

struct cr_dsi_config {
	const char *base_url;      /* no trailing slash */
	const char *api_key_file;  /* bearer key (0600); NULL or "" with mutual TLS only */
	const char *client_cert;   /* PEM files for mutual TLS; NULL or "" for none */
	const char *client_key;
	const char *ca_file;       /* NULL or "": the system's CAs */
	long connect_timeout_ms;
	long timeout_ms;
};

struct cr_dsi;

/* Reads the key file. CR_ERR_CONFIG (logged) when neither a key nor a client certificate is
   configured, or the key file cannot be read. */
enum cr_err cr_dsi_new(const struct cr_dsi_config *cfg, struct cr_dsi **out);
void cr_dsi_free(struct cr_dsi *d); /* NULL is a no-op; wipes the key */

#define CR_DSI_TXID 65
#define CR_DSI_ANSWER_MAX (64u * 1024u)

/* A resident-data answer. */
struct cr_dsi_resident {
	char transaction_id[CR_DSI_TXID];
	char queried_at[32];       /* RFC 3339, as DSI sent it */
	struct cr_id_card card;
};

/* A face-comparison answer. */
struct cr_dsi_face {
	char transaction_id[CR_DSI_TXID];
	double score;              /* 0..1 */
	char algorithm[64];
	char algorithm_version[32];
};

/*
 * The resident's current card. raw (may be NULL) gets the answer's bytes as received, for the
 * evidence. CR_ERR_NOTFOUND: DSI has no such resident; CR_ERR_REMOTE: DSI unreachable, too slow,
 * refusing the portal's credentials, answering another status or an answer that does not parse.
 */
enum cr_err cr_dsi_resident_get(const struct cr_dsi *d, const char *id_number, struct cr_dsi_resident *out,
    struct cr_buf *raw);

/* The similarity of a JPEG with the resident's registered face; errors as above, and CR_ERR_INVALID
   when DSI says the image does not decode. */
enum cr_err cr_dsi_face_compare(const struct cr_dsi *d, const char *id_number, const void *jpeg, size_t len,
    struct cr_dsi_face *out, struct cr_buf *raw);

/* The parsers of the two answers (untrusted input; fuzzed). CR_ERR_INVALID for anything off. */
enum cr_err cr_dsi_parse_resident(const char *buf, size_t len, struct cr_dsi_resident *out);
enum cr_err cr_dsi_parse_face(const char *buf, size_t len, struct cr_dsi_face *out);

#endif
