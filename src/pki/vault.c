/*
 * The signing-account vault and revocation passphrases; see pki.h and docs/internals/issuance.md.
 *
 *   pw  = Argon2id(password, salt, ops, mem)                      32 bytes
 *   K   = BLAKE2b-256(key = server key, pw || account)             crypto_generichash
 *   AD  = "certrenew vault key v1" 0x00 account 0x00 SHA-256(public_der)
 *   blob = nonce(24) || XChaCha20-Poly1305(K, AD, PKCS#8 DER of the private key)
 *
 * The server key (vault.key) never leaves this module and is not in the database, so a copy
 * of the database alone cannot test a password guess; the password is never stored, so the
 * server key alone opens nothing. Binding the account and the public key in AD makes a blob
 * moved to another account, or paired with another public key, fail like a wrong password.
 * Passwords and everything derived from them are wiped after use and never logged.
 */
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "pki_int.h"
#include "util/crypto.h"
#include "util/log.h"

#define KEY_LEN 32
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define AD_LABEL "certrenew vault key v1"
#define ACCOUNT_MAX 255

_Static_assert(CR_PASSPHRASE_HASH_LEN == crypto_pwhash_STRBYTES, "CR_PASSPHRASE_HASH_LEN");
_Static_assert(CR_VAULT_SALT_LEN == crypto_pwhash_SALTBYTES, "CR_VAULT_SALT_LEN");

struct cr_vault_unlock {
	unsigned char *k;               /* KEY_LEN bytes, sodium_malloc'd (guarded, not swapped) */
	char account[ACCOUNT_MAX + 1];
};

static bool
account_ok(const char *a)
{
	return a != NULL && a[0] != '\0' && strlen(a) <= ACCOUNT_MAX;
}

static bool
password_ok(const char *pw)
{
	return pw != NULL && pw[0] != '\0' && strlen(pw) <= crypto_pwhash_PASSWD_MAX;
}

/* K for (password, account) under kdf and the server key. */
static enum cr_err
derive(const struct cr_pki *p, const char *account, const char *password, const struct cr_vault_kdf *kdf,
    unsigned char k[KEY_LEN])
{
	unsigned char pw[KEY_LEN];
	crypto_generichash_state st;

	if (crypto_pwhash(pw, sizeof(pw), password, strlen(password), kdf->salt, kdf->ops, kdf->mem,
	        crypto_pwhash_ALG_ARGON2ID13) != 0)
		return CR_ERR_NOMEM; /* libsodium's only failure here: the memory limit */
	crypto_generichash_init(&st, p->vault_key.k, sizeof(p->vault_key.k), KEY_LEN);
	crypto_generichash_update(&st, pw, sizeof(pw));
	crypto_generichash_update(&st, (const unsigned char *)account, strlen(account));
	crypto_generichash_final(&st, k, KEY_LEN);
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(&st, sizeof(st));
	return CR_OK;
}

/* AD for account and public key; *n its length. ad holds sizeof(AD_LABEL) + ACCOUNT_MAX + 1 + 32. */
#define AD_MAX (sizeof(AD_LABEL) + ACCOUNT_MAX + 1 + CR_SHA256_LEN)
static void
make_ad(const char *account, const unsigned char *public_der, size_t public_len, unsigned char ad[AD_MAX],
    size_t *n)
{
	size_t alen = strlen(account);

	memcpy(ad, AD_LABEL, sizeof(AD_LABEL)); /* with its NUL: the 0x00 separator */
	memcpy(ad + sizeof(AD_LABEL), account, alen);
	ad[sizeof(AD_LABEL) + alen] = 0;
	cr_sha256(public_der, public_len, ad + sizeof(AD_LABEL) + alen + 1);
	*n = sizeof(AD_LABEL) + alen + 1 + CR_SHA256_LEN;
}

static EVP_PKEY *
new_key(enum cr_pki_key_alg alg)
{
	EVP_PKEY *k = alg == CR_PKI_KEY_RSA_3072 ? EVP_RSA_gen(3072) : EVP_EC_gen("P-256");

	if (k == NULL)
		pki_ossl_err("vault key");
	return k;
}

/* Seals key's private half under k for account into out, with its public half. */
static enum cr_err
seal_key(const unsigned char k[KEY_LEN], const char *account, EVP_PKEY *key, struct cr_vault_sealed *out)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *priv = NULL, *pub = out->public_der, ad[AD_MAX];
	unsigned long long clen = 0;
	size_t adlen;
	int plen, publen;
	enum cr_err err = CR_ERR_CRYPTO;

	memset(out, 0, sizeof(*out));
	if ((publen = i2d_PUBKEY(key, NULL)) <= 0 || (size_t)publen > sizeof(out->public_der) ||
	    i2d_PUBKEY(key, &pub) != publen)
		goto out;
	out->public_len = (size_t)publen;
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL || (plen = i2d_PKCS8_PRIV_KEY_INFO(p8, &priv)) <= 0)
		goto out;
	if ((size_t)plen + NONCE_LEN + TAG_LEN > sizeof(out->sealed)) {
		err = CR_ERR_TOOBIG;
		goto out;
	}
	make_ad(account, out->public_der, out->public_len, ad, &adlen);
	randombytes_buf(out->sealed, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out->sealed + NONCE_LEN, &clen, priv, (size_t)plen, ad, adlen, NULL,
	    out->sealed, k);
	out->sealed_len = NONCE_LEN + (size_t)clen;
	err = CR_OK;
out:
	if (err == CR_ERR_CRYPTO)
		pki_ossl_err("vault seal");
	if (err != CR_OK)
		memset(out, 0, sizeof(*out));
	if (priv != NULL)
		OPENSSL_clear_free(priv, (size_t)plen);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return err;
}

/* Opens key under k for account: CR_OK when it authenticates and holds the private half of
   key->public_der, CR_ERR_DENIED otherwise. The opened key is checked and dropped. */
static enum cr_err
open_key(const unsigned char k[KEY_LEN], const char *account, const struct cr_vault_sealed *key)
{
	unsigned char *plain = NULL, *pub = NULL, ad[AD_MAX];
	const unsigned char *q;
	unsigned long long mlen = 0;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pk = NULL;
	size_t adlen, cap = key->sealed_len - NONCE_LEN - TAG_LEN;
	int publen = 0;
	enum cr_err err = CR_ERR_DENIED;

	if ((plain = sodium_malloc(cap)) == NULL)
		return CR_ERR_NOMEM;
	make_ad(account, key->public_der, key->public_len, ad, &adlen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, key->sealed + NONCE_LEN,
	        key->sealed_len - NONCE_LEN, ad, adlen, key->sealed, k) != 0)
		goto out;
	q = plain;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)mlen)) == NULL || (pk = EVP_PKCS82PKEY(p8)) == NULL)
		goto out;
	/* Authenticated, so it is ours; the check guards against a sealing bug, not an attacker. */
	if ((publen = i2d_PUBKEY(pk, &pub)) > 0 && (size_t)publen == key->public_len &&
	    memcmp(pub, key->public_der, key->public_len) == 0)
		err = CR_OK;
out:
	ERR_clear_error();
	OPENSSL_free(pub);
	EVP_PKEY_free(pk);
	PKCS8_PRIV_KEY_INFO_free(p8);
	sodium_free(plain); /* zeroes it */
	return err;
}

enum cr_err
cr_pki_vault_create(const struct cr_pki *p, const char *account, const char *password, struct cr_vault_kdf *kdf,
    struct cr_vault_sealed *key)
{
	unsigned char k[KEY_LEN];
	EVP_PKEY *pk = NULL;
	enum cr_err err;

	memset(key, 0, sizeof(*key));
	if (p == NULL || !account_ok(account) || !password_ok(password))
		return CR_ERR_INVALID;
	randombytes_buf(kdf->salt, sizeof(kdf->salt));
	kdf->ops = p->kdf_ops;
	kdf->mem = p->kdf_mem;
	if ((err = derive(p, account, password, kdf, k)) != CR_OK)
		return err;
	if ((pk = new_key(p->key_alg)) == NULL)
		err = CR_ERR_CRYPTO;
	else
		err = seal_key(k, account, pk, key);
	sodium_memzero(k, sizeof(k));
	EVP_PKEY_free(pk);
	return err;
}

enum cr_err
cr_pki_vault_unlock(const struct cr_pki *p, const char *account, const char *password,
    const struct cr_vault_kdf *kdf, const struct cr_vault_sealed *key, struct cr_vault_unlock **out)
{
	struct cr_vault_unlock *u = NULL;
	enum cr_err err;

	*out = NULL;
	if (p == NULL || kdf == NULL || key == NULL || !account_ok(account) || password == NULL ||
	    strlen(password) > crypto_pwhash_PASSWD_MAX || !pki_kdf_ok(kdf->ops, kdf->mem) ||
	    key->sealed_len <= NONCE_LEN + TAG_LEN || key->sealed_len > sizeof(key->sealed) || key->public_len == 0 ||
	    key->public_len > sizeof(key->public_der))
		return CR_ERR_INVALID;
	if ((u = calloc(1, sizeof(*u))) == NULL || (u->k = sodium_malloc(KEY_LEN)) == NULL) {
		free(u);
		return CR_ERR_NOMEM;
	}
	memcpy(u->account, account, strlen(account) + 1);
	if ((err = derive(p, account, password, kdf, u->k)) == CR_OK)
		err = open_key(u->k, account, key);
	if (err != CR_OK) {
		cr_pki_vault_unlock_free(u);
		return err;
	}
	*out = u;
	return CR_OK;
}

enum cr_err
cr_pki_vault_new_key(const struct cr_pki *p, const struct cr_vault_unlock *u, struct cr_vault_sealed *out)
{
	EVP_PKEY *pk;
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	if (p == NULL || u == NULL)
		return CR_ERR_INVALID;
	if ((pk = new_key(p->key_alg)) == NULL)
		return CR_ERR_CRYPTO;
	err = seal_key(u->k, u->account, pk, out);
	EVP_PKEY_free(pk);
	return err;
}

void
cr_pki_vault_unlock_free(struct cr_vault_unlock *u)
{
	if (u == NULL)
		return;
	if (u->k != NULL) {
		sodium_memzero(u->k, KEY_LEN);
		sodium_free(u->k);
	}
	sodium_memzero(u, sizeof(*u));
	free(u);
}

/* ---- revocation passphrases ---- */

enum cr_err
cr_pki_passphrase_hash(const struct cr_pki *p, const char *passphrase, char out[CR_PASSPHRASE_HASH_LEN])
{
	memset(out, 0, CR_PASSPHRASE_HASH_LEN);
	if (p == NULL || !password_ok(passphrase))
		return CR_ERR_INVALID;
	if (crypto_pwhash_str(out, passphrase, strlen(passphrase), p->kdf_ops, p->kdf_mem) != 0)
		return CR_ERR_NOMEM;
	return CR_OK;
}

bool
cr_pki_passphrase_check(const char *hash, const char *passphrase)
{
	unsigned long long m = 0, t = 0, par = 0;
	int used = 0;

	if (hash == NULL || passphrase == NULL || strnlen(hash, CR_PASSPHRASE_HASH_LEN) == CR_PASSPHRASE_HASH_LEN)
		return false;
	/* The string comes from the database: its cost is bounded like the vault's before anything runs
	   (a forged m or t would hang a thread or take all memory). */
	if (sscanf(hash, "$argon2id$v=19$m=%llu,t=%llu,p=%llu$%n", &m, &t, &par, &used) != 3 || used == 0 || par != 1 ||
	    !pki_kdf_ok(t, (size_t)(m > SIZE_MAX / 1024 ? 0 : m * 1024)))
		return false;
	return crypto_pwhash_str_verify(hash, passphrase, strlen(passphrase)) == 0;
}
