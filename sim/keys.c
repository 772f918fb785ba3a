/*
 * govsim's ES256 signing key. Kept as a private JWK in
 * DATA_DIR/govid-signing-jwk.json (mode 0600), made on first start and reused
 * afterwards, so ID tokens and the portal's cached JWKS stay valid across
 * restarts. The kid is the key's RFC 7638 thumbprint. Only the public half
 * ever leaves this file (gs_key_jwks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjose/cjose.h>
#include <sodium.h>

#include "govsim.h"
#include "util/log.h"

#define KEY_FILE     "govid-signing-jwk.json"
#define KEY_FILE_MAX 16384
#define PATH_MAX_LEN 4096

struct gs_key {
	cjose_jwk_t *jwk;
	char *kid;
	char *jwks;  /* {"keys":[public JWK]} */
};

void
gs_key_free(struct gs_key *k)
{
	if (k == NULL)
		return;
	cjose_jwk_release(k->jwk);
	free(k->kid);
	free(k->jwks);
	free(k);
}

/* Frees a string holding key material, wiping it first. */
static void
free_secret_str(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	cjose_get_dealloc()(s);
}

/* The public JWK as a jansson object, without private members; NULL on error. */
static json_t *
public_jwk(const cjose_jwk_t *jwk)
{
	cjose_err cerr;
	char *s = cjose_jwk_to_json(jwk, false, &cerr);
	json_t *j;

	if (s == NULL)
		return NULL;
	j = json_loads(s, 0, NULL);
	cjose_get_dealloc()(s);
	if (j != NULL)
		json_object_del(j, "d");  /* belt and braces: never publish it */
	return j;
}

/* RFC 7638 thumbprint: SHA-256 of the required members in lexical order. */
static enum cr_err
thumbprint(const cjose_jwk_t *jwk, char **out)
{
	json_t *j = public_jwk(jwk);
	const char *crv, *x, *y;
	struct cr_buf b;
	uint8_t h[32];
	enum cr_err err = CR_ERR_CRYPTO;

	cr_buf_init(&b, 1024);
	if (j == NULL)
		goto out;
	crv = json_string_value(json_object_get(j, "crv"));
	x = json_string_value(json_object_get(j, "x"));
	y = json_string_value(json_object_get(j, "y"));
	if (crv == NULL || x == NULL || y == NULL)
		goto out;
	err = cr_buf_printf(&b, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
	    crv, x, y);
	if (err != CR_OK)
		goto out;
	cr_sha256(cr_buf_str(&b), b.len, h);
	if ((*out = malloc(CR_B64URL_SIZE(sizeof(h)))) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	cr_b64url_encode(h, sizeof(h), *out, CR_B64URL_SIZE(sizeof(h)));
out:
	cr_buf_free(&b);
	json_decref(j);
	return err;
}

/* Builds the JWKS document of the key. */
static enum cr_err
make_jwks(struct gs_key *k)
{
	json_t *pub = public_jwk(k->jwk), *doc;

	if (pub == NULL)
		return CR_ERR_CRYPTO;
	json_object_set_new(pub, "alg", json_string("ES256"));
	json_object_set_new(pub, "use", json_string("sig"));
	json_object_set_new(pub, "kid", json_string(k->kid));
	doc = json_pack("{s:[o]}", "keys", pub);
	if (doc == NULL)
		return CR_ERR_NOMEM;
	k->jwks = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return k->jwks == NULL ? CR_ERR_NOMEM : CR_OK;
}

/* Checks that the stored JWK is a private P-256 key with a kid. */
static enum cr_err
check_stored(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	const char *kty, *crv, *kid;
	enum cr_err err = CR_ERR_CONFIG;

	if (j == NULL)
		return CR_ERR_CONFIG;
	kty = json_string_value(json_object_get(j, "kty"));
	crv = json_string_value(json_object_get(j, "crv"));
	kid = json_string_value(json_object_get(j, "kid"));
	if (kty != NULL && strcmp(kty, "EC") == 0 && crv != NULL &&
	    strcmp(crv, "P-256") == 0 && json_is_string(json_object_get(j, "d")) &&
	    kid != NULL && *kid != '\0' && strlen(kid) <= 128)
		err = CR_OK;
	json_decref(j);
	return err;
}

static enum cr_err
load_key(const char *path, cjose_jwk_t **out)
{
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	cjose_err cerr;
	enum cr_err err;

	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
		cr_error(GS_LOG, "%s: readable by others; chmod 600 it", path);
		return CR_ERR_CONFIG;
	}
	if ((err = cr_file_read(path, KEY_FILE_MAX, 0, &text, &len)) != CR_OK)
		return err;
	if ((err = check_stored(text, len)) != CR_OK) {
		cr_error(GS_LOG, "%s: not a private P-256 JWK with a kid", path);
		goto out;
	}
	if ((*out = cjose_jwk_import(text, len, &cerr)) == NULL) {
		cr_error(GS_LOG, "%s: cjose: %s", path, cerr.message);
		err = CR_ERR_CRYPTO;
	}
out:
	sodium_memzero(text, len);
	free(text);
	return err;
}

/*
 * Publishes the private JWK at path without ever overwriting: written to a
 * temporary file, then hard-linked into place. If another govsim got there
 * first, CR_ERR_CONFLICT tells the caller to load that one instead.
 */
static enum cr_err
store_key(const char *path, const char *json)
{
	char tmp[PATH_MAX_LEN];
	struct cr_buf text;
	int n;
	enum cr_err err;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return CR_ERR_CONFIG;
	cr_buf_init(&text, strlen(json) + 1);
	if ((err = cr_buf_printf(&text, "%s\n", json)) != CR_OK)
		return err;
	unlink(tmp);
	err = cr_file_write_secret(tmp, cr_buf_str(&text), text.len);
	cr_buf_free_secret(&text);
	if (err != CR_OK)
		return CR_ERR_IO;
	if (link(tmp, path) == -1)
		err = errno == EEXIST ? CR_ERR_CONFLICT : CR_ERR_IO;
	unlink(tmp);
	return err;
}

/* Makes a new key with its thumbprint as kid and stores it at path. */
static enum cr_err
create_key(const char *path, cjose_jwk_t **out)
{
	cjose_err cerr;
	cjose_jwk_t *jwk = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &cerr);
	char *kid = NULL, *json = NULL;
	enum cr_err err;

	if (jwk == NULL) {
		cr_error(GS_LOG, "cjose: %s", cerr.message);
		return CR_ERR_CRYPTO;
	}
	if ((err = thumbprint(jwk, &kid)) != CR_OK)
		goto out;
	err = CR_ERR_CRYPTO;
	if (!cjose_jwk_set_kid(jwk, kid, strlen(kid), &cerr))
		goto out;
	if ((json = cjose_jwk_to_json(jwk, true, &cerr)) == NULL)
		goto out;
	if ((err = store_key(path, json)) != CR_OK)
		goto out;
	cr_info(GS_LOG, "created signing key %s (kid %s)", path, kid);
	*out = jwk;
	jwk = NULL;
out:
	free_secret_str(json);
	free(kid);
	cjose_jwk_release(jwk);
	return err;
}

/* Creates DIR (0700) unless it exists as a directory. */
static enum cr_err
ensure_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		cr_error(GS_LOG, "%s: cannot create: %s", dir, strerror(errno));
		return CR_ERR_IO;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		cr_error(GS_LOG, "%s: not a directory", dir);
		return CR_ERR_IO;
	}
	if ((st.st_mode & 077) != 0)
		cr_warn(GS_LOG, "%s: accessible by others; 0700 is advised", dir);
	return CR_OK;
}

enum cr_err
gs_key_open(const char *data_dir, struct gs_key **out)
{
	char path[PATH_MAX_LEN];
	struct gs_key *k = NULL;
	cjose_err cerr;
	const char *kid;
	enum cr_err err;
	int n;

	*out = NULL;
	if ((err = ensure_dir(data_dir)) != CR_OK)
		return err;
	n = snprintf(path, sizeof(path), "%s/%s", data_dir, KEY_FILE);
	if (n < 0 || (size_t)n >= sizeof(path) - 32)
		return CR_ERR_CONFIG;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return CR_ERR_NOMEM;
	err = load_key(path, &k->jwk);
	if (err == CR_ERR_IO && access(path, F_OK) == -1 && errno == ENOENT) {
		err = create_key(path, &k->jwk);
		if (err == CR_ERR_CONFLICT)  /* a concurrent start won the race */
			err = load_key(path, &k->jwk);
	}
	if (err != CR_OK) {
		cr_error(GS_LOG, "%s: no usable signing key: %s", path, cr_err_str(err));
		goto out;
	}
	err = CR_ERR_CRYPTO;
	if ((kid = cjose_jwk_get_kid(k->jwk, &cerr)) == NULL)
		goto out;
	if ((k->kid = strdup(kid)) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	if ((err = make_jwks(k)) != CR_OK)
		goto out;
	*out = k;
	k = NULL;
out:
	gs_key_free(k);
	return err;
}

const char *
gs_key_jwks(const struct gs_key *k)
{
	return k->jwks;
}

enum cr_err
gs_key_sign(const struct gs_key *k, const char *payload, size_t len, char **out)
{
	cjose_err cerr = {0};
	cjose_header_t *hdr = cjose_header_new(&cerr);
	cjose_jws_t *jws = NULL;
	const char *ser = NULL;
	enum cr_err err = CR_ERR_CRYPTO;

	*out = NULL;
	if (hdr == NULL ||
	    !cjose_header_set(hdr, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &cerr) ||
	    !cjose_header_set(hdr, "typ", "JWT", &cerr) ||
	    !cjose_header_set(hdr, CJOSE_HDR_KID, k->kid, &cerr))
		goto out;
	jws = cjose_jws_sign(k->jwk, hdr, (const uint8_t *)payload, len, &cerr);
	if (jws == NULL || !cjose_jws_export(jws, &ser, &cerr))
		goto out;
	err = (*out = strdup(ser)) == NULL ? CR_ERR_NOMEM : CR_OK;
out:
	if (err == CR_ERR_CRYPTO)
		cr_error(GS_LOG, "signing failed: %s", cerr.message ? cerr.message : "?");
	cjose_jws_release(jws);
	cjose_header_release(hdr);
	return err;
}
