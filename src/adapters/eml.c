/*
 * The DEV mail sender: a built message written atomically as DIR/<name>.eml
 * (cr_mail_write_eml in mail.h), used by delivery when no SMTP server is
 * configured. See docs/internals/mail.md.
 *
 * Trust: the message bytes are written as given; the name is checked so that
 * it cannot leave the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail.h"


/* mkdir -p with mode for each directory created. */
static enum cr_err
mkdirs(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);
	struct stat st;

	if (n == 0 || n >= sizeof(path))
		return CR_ERR_INVALID;
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, mode) != 0 && errno != EEXIST)
			return CR_ERR_IO;
		if (i < n)
			path[i] = '/';
	}
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? CR_OK : CR_ERR_IO;
}

static bool
eml_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 128 || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		    c == '_' || c == '-'))
			return false;
	}
	return true;
}

enum cr_err
cr_mail_write_eml(const char *dir, const char *name, const char *msg, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	enum cr_err err = CR_ERR_IO;
	int fd = -1, dfd = -1;
	size_t off = 0;

	if (dir == NULL || name == NULL || (msg == NULL && len > 0) || !eml_name_ok(name))
		return CR_ERR_INVALID;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.eml", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.eml.XXXXXX", dir, name) >= sizeof(tmp))
		return CR_ERR_INVALID;
	if ((err = mkdirs(dir, 0750)) != CR_OK)
		return err;
	err = CR_ERR_IO;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return CR_ERR_IO;
	if (fchmod(fd, 0640) != 0)
		goto out;
	while (off < len) {
		ssize_t w = write(fd, msg + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	tmp[0] = '\0';  /* renamed: nothing to remove */
	/* The rename is durable once the directory is synced. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	err = CR_OK;
out:
	if (fd >= 0)
		close(fd);
	if (err != CR_OK && tmp[0] != '\0')
		unlink(tmp);
	return err;
}
