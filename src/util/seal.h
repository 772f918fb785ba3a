/*
 * Sealing data at rest: XChaCha20-Poly1305 (libsodium) under a 32-byte key
 * read from a 0600 file named by the configuration. A sealed blob is
 * nonce || ciphertext || tag; the purpose string is bound as associated data,
 * so a blob sealed for one use (the mail outbox, a photo, a DSI answer) does
 * not open as another even under the same key.
 */
#ifndef CR_UTIL_SEAL_H
#define CR_UTIL_SEAL_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct cr_seal_key {
	unsigned char k[32];
};

/* Bytes a sealed blob adds to its plaintext. */
size_t cr_seal_overhead(void);
/* Writes a fresh random key (base64url text, mode 0600) to path unless it exists. */
enum cr_err cr_seal_key_create(const char *path);
/* CR_ERR_CONFIG (logged, naming the file) when it cannot be read or holds no 32-byte key. */
enum cr_err cr_seal_key_load(const char *path, struct cr_seal_key *out);
/* Seals len bytes (at most cap) for purpose; *out is malloc'd, *outlen its length. */
enum cr_err cr_seal(const struct cr_seal_key *key, const char *purpose, const void *msg, size_t len, size_t cap,
    unsigned char **out, size_t *outlen);
/* Opens a blob sealed for purpose, appending the plaintext to out. CR_ERR_DENIED when it does not
   authenticate (another key, another purpose, altered), CR_ERR_INVALID when too short or over cap. */
enum cr_err cr_unseal(const struct cr_seal_key *key, const char *purpose, const unsigned char *sealed, size_t len,
    size_t cap, struct cr_buf *out);

#endif
