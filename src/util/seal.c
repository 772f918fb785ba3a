/* Sealing at rest; see seal.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "file.h"
#include "log.h"
#include "seal.h"

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

size_t
cr_seal_overhead(void)
{
	return NONCE_LEN + TAG_LEN;
}

enum cr_err
cr_seal_key_create(const char *path)
{
	unsigned char k[32];
	char text[CR_B64URL_SIZE(32)];
	enum cr_err err;

	if (access(path, F_OK) == 0)
		return CR_OK;
	randombytes_buf(k, sizeof(k));
	cr_b64url_encode(k, sizeof(k), text, sizeof(text));
	err = cr_file_write_secret(path, text, strlen(text));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(text, sizeof(text));
	if (err != CR_OK)
		cr_error("seal", "cannot create key file %s: %s", path, strerror(errno));
	return err;
}

enum cr_err
cr_seal_key_load(const char *path, struct cr_seal_key *out)
{
	char text[128];
	size_t klen = 0;
	enum cr_err err;

	if (cr_file_read_secret(path, text, sizeof(text)) != CR_OK)
		return CR_ERR_CONFIG; /* logged, naming the file */
	err = cr_b64url_decode(text, strlen(text), out->k, sizeof(out->k), &klen);
	sodium_memzero(text, sizeof(text));
	if (err != CR_OK || klen != sizeof(out->k)) {
		sodium_memzero(out, sizeof(*out));
		cr_error("seal", "key file %s does not hold a 32-byte base64url key", path);
		return CR_ERR_CONFIG;
	}
	return CR_OK;
}

enum cr_err
cr_seal(const struct cr_seal_key *key, const char *purpose, const void *msg, size_t len, size_t cap,
    unsigned char **out, size_t *outlen)
{
	unsigned char *p;
	unsigned long long clen = 0;

	*out = NULL;
	*outlen = 0;
	if (len > cap)
		return CR_ERR_TOOBIG;
	if ((p = malloc(NONCE_LEN + len + TAG_LEN)) == NULL)
		return CR_ERR_NOMEM;
	randombytes_buf(p, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + NONCE_LEN, &clen, msg, len, (const unsigned char *)purpose,
	    strlen(purpose), NULL, p, key->k);
	*out = p;
	*outlen = NONCE_LEN + (size_t)clen;
	return CR_OK;
}

enum cr_err
cr_unseal(const struct cr_seal_key *key, const char *purpose, const unsigned char *sealed, size_t len, size_t cap,
    struct cr_buf *out)
{
	unsigned char *plain;
	unsigned long long mlen = 0;
	enum cr_err err;

	if (len < NONCE_LEN + TAG_LEN || len - NONCE_LEN - TAG_LEN > cap)
		return CR_ERR_INVALID;
	if ((plain = malloc(len)) == NULL)
		return CR_ERR_NOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, sealed + NONCE_LEN, len - NONCE_LEN,
	        (const unsigned char *)purpose, strlen(purpose), sealed, key->k) != 0) {
		free(plain);
		return CR_ERR_DENIED;
	}
	err = cr_buf_add(out, plain, (size_t)mlen);
	sodium_memzero(plain, (size_t)mlen);
	free(plain);
	return err;
}
