/*
 * Client of GovID's signing service (CSC API v2, GovID's variant;
 * docs/internals/esign.md) over HTTPS (libcurl): the holder's signing
 * credential, its certificate chain, and a detached CMS signature of one
 * SHA-256 hash. Answers are untrusted and parsed strictly (types, sizes,
 * base64); the CMS itself is judged by cr_pki_cms_verify, not here.
 *
 * Thread-safe: a struct cr_csc is read-only after cr_csc_new. The access token
 * is a secret: sent only as the Authorization header, never logged or kept.
 */
#ifndef CR_ADAPTERS_CSC_H
#define CR_ADAPTERS_CSC_H

#include <stddef.h>

#include "util/err.h"

struct cr_csc_config {
	const char *base_url;      /* signing.base_url, no trailing slash */
	const char *ca_file;       /* NULL or "": the system's CAs */
	long connect_timeout_ms, timeout_ms;
};

struct cr_csc;

#define CR_CSC_ANSWER_MAX (256u * 1024u) /* an answer's body, at most */
#define CR_CSC_MAX_CHAIN 4               /* certificates kept from credentials/info */

/* CR_ERR_CONFIG (logged) without a base URL; CR_ERR_NOMEM. cfg is copied. */
enum cr_err cr_csc_new(const struct cr_csc_config *cfg, struct cr_csc **out);
void cr_csc_free(struct cr_csc *c); /* NULL is a no-op */

/* A signature and what came with it; all owned, freed by cr_csc_signature_free. */
struct cr_csc_signature {
	char credential_id[128];
	unsigned char *cms; size_t cms_len;           /* DER CMS SignedData as sent (unverified) */
	size_t n_chain; unsigned char *chain[CR_CSC_MAX_CHAIN]; size_t chain_len[CR_CSC_MAX_CHAIN]; /* DER,
	                                                 the credential's certificates (signer first) */
};

/*
 * Signs digest (a SHA-256) as the holder of access_token: credentials/list (the first credential),
 * credentials/info (its certificate chain; status "valid"), signatures/signHash. On CR_OK out holds
 * the signature; otherwise it is empty (and may still be passed to cr_csc_signature_free).
 * why (may be NULL) gets a short reason either way ("" on success), never the token.
 * CR_ERR_DENIED: the token refused (401/403), no credential, or its certificate not valid;
 * CR_ERR_REMOTE: unreachable, too slow, another status, or an answer that is not the service's
 * ("garbage": not JSON, wrong types, bad base64, larger than CR_CSC_ANSWER_MAX, more than
 * CR_CSC_MAX_CHAIN certificates); CR_ERR_INVALID: an empty token or one with control characters.
 */
enum cr_err cr_csc_sign_hash(const struct cr_csc *c, const char *access_token, const unsigned char digest[32],
    struct cr_csc_signature *out, char *why, size_t whylen);
void cr_csc_signature_free(struct cr_csc_signature *s); /* NULL is a no-op; leaves *s empty */

/* The readers of the three answers, on a 200 answer's body as received: what cr_csc_sign_hash
   applies to each (exposed for the fuzz target). Fill out's credential ID, chain or CMS; the
   errors as cr_csc_sign_hash's. */
enum cr_csc_call { CR_CSC_LIST, CR_CSC_INFO, CR_CSC_SIGN };
enum cr_err cr_csc_answer_read(enum cr_csc_call which, const void *body, size_t len, struct cr_csc_signature *out,
    char *why, size_t whylen);

#endif
