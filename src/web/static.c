/*
 * Static files served from memory: the set is small (CSS, a script, images),
 * so reading it once at start-up keeps the hot path free of file I/O and gives
 * each file a strong ETag.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server.h"
#include "util/crypto.h"
#include "util/file.h"
#include "util/log.h"

#define MAX_STATIC 64
#define MAX_STATIC_SIZE (4u * 1024u * 1024u)

struct file {
	char name[128];
	unsigned char *data;
	size_t len;
	char etag[24];
	const char *type;
};

struct cr_static_files {
	size_t n;
	struct file f[MAX_STATIC];
};

static const char *
type_of(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".css", "text/css; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".jpg", "image/jpeg"},
		{".ico", "image/x-icon"},
		{".woff2", "font/woff2"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

static enum cr_err
read_file(const char *path, unsigned char **data, size_t *len)
{
	char *p;
	enum cr_err err = cr_file_read(path, MAX_STATIC_SIZE, 0, &p, len);

	*data = (unsigned char *)p;
	return err;
}

enum cr_err
cr_static_load(const char *dir, struct cr_static_files **out)
{
	struct cr_static_files *s;
	DIR *d;
	struct dirent *de;
	enum cr_err err = CR_OK;

	*out = NULL;
	if ((d = opendir(dir)) == NULL) {
		cr_error("static", "%s: %s", dir, strerror(errno));
		return CR_ERR_IO;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		closedir(d);
		return CR_ERR_NOMEM;
	}
	while ((de = readdir(d)) != NULL && err == CR_OK) {
		struct file *f;
		char path[1200];
		unsigned char md[CR_SHA256_LEN];
		const char *type = type_of(de->d_name);

		if (de->d_name[0] == '.' || type == NULL || strlen(de->d_name) >= sizeof(f->name))
			continue;
		if (s->n == MAX_STATIC) {
			err = CR_ERR_TOOBIG;
			break;
		}
		f = &s->f[s->n];
		memcpy(f->name, de->d_name, strlen(de->d_name) + 1);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((err = read_file(path, &f->data, &f->len)) != CR_OK)
			break;
		cr_sha256(f->data, f->len, md);
		/* Content-derived: 80 bits of the SHA-256 are plenty to tell versions apart. */
		snprintf(f->etag, sizeof(f->etag), "\"%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x\"", md[0], md[1], md[2],
		    md[3], md[4], md[5], md[6], md[7], md[8], md[9]);
		f->type = type;
		s->n++;
	}
	closedir(d);
	if (err != CR_OK) {
		cr_static_free(s);
		return err;
	}
	*out = s;
	return CR_OK;
}

void
cr_static_free(struct cr_static_files *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->f[i].data);
	free(s);
}

enum cr_err
cr_static_get(const struct cr_static_files *s, const char *name, const void **data, size_t *len, const char **etag,
    const char **content_type)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->f[i].name, name) == 0) {
			*data = s->f[i].data;
			*len = s->f[i].len;
			*etag = s->f[i].etag;
			*content_type = s->f[i].type;
			return CR_OK;
		}
	return CR_ERR_NOTFOUND;
}
