/* Whole files; see file.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "file.h"
#include "log.h"

enum cr_err
cr_file_read(const char *path, size_t cap, unsigned flags, char **out, size_t *len)
{
	struct stat st;
	char *p = NULL, *np;
	size_t got = 0, alloc;
	ssize_t n;
	int fd, saved = 0;
	enum cr_err err = CR_ERR_IO;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | ((flags & CR_FILE_NOFOLLOW) ? O_NOFOLLOW : 0))) == -1)
		return CR_ERR_IO;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		saved = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto out;
	}
	/* Checked on the open file, so a chmod or rename between a check and the read cannot slip by. */
	if ((flags & CR_FILE_PRIVATE) && (st.st_mode & 077) != 0) {
		err = CR_ERR_DENIED;
		goto out;
	}
	if ((size_t)st.st_size > cap) {
		err = CR_ERR_TOOBIG;
		goto out;
	}
	/* Room for the size fstat saw plus one byte, so a file that grew since is noticed. */
	alloc = (size_t)st.st_size + 2;
	if ((p = malloc(alloc)) == NULL) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if (got + 1 == alloc) {
			if (got > cap) {
				err = CR_ERR_TOOBIG;
				goto out;
			}
			alloc = alloc - 1 > cap / 2 ? cap + 2 : alloc * 2;
			if ((np = realloc(p, alloc)) == NULL) {
				err = CR_ERR_NOMEM;
				goto out;
			}
			p = np;
		}
		n = read(fd, p + got, alloc - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > cap) {
		err = CR_ERR_TOOBIG;
		goto out;
	}
	p[got] = '\0';
	*out = p;
	*len = got;
	p = NULL;
	err = CR_OK;
out:
	free(p);
	close(fd);
	errno = saved; /* for the caller's message */
	return err;
}

enum cr_err
cr_file_read_secret(const char *path, char *out, size_t outlen)
{
	char *p = NULL;
	size_t n = 0, total;
	enum cr_err err;

	out[0] = '\0';
	/* A secret file is tiny; anything past outlen does not fit anyway. */
	if ((err = cr_file_read(path, outlen, CR_FILE_PRIVATE, &p, &n)) != CR_OK) {
		if (err == CR_ERR_DENIED)
			cr_error("secret", "%s may be read or written by group or others; chmod 600 it", path);
		else if (err == CR_ERR_TOOBIG)
			cr_error("secret", "%s is longer than %zu bytes", path, outlen - 1);
		else if (err == CR_ERR_IO)
			cr_error("secret", "%s: %s", path, strerror(errno));
		else
			cr_error("secret", "%s: %s", path, cr_err_str(err));
		return err;
	}
	total = n;
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n >= outlen) {
		err = CR_ERR_TOOBIG;
		cr_error("secret", "%s is longer than %zu bytes", path, outlen - 1);
	} else if (n == 0 || memchr(p, '\0', n) != NULL) {
		err = CR_ERR_INVALID;
		cr_error("secret", "%s is empty or holds a NUL byte", path);
	} else {
		memcpy(out, p, n);
		out[n] = '\0';
	}
	sodium_memzero(p, total);
	free(p);
	return err;
}

/* Writes all of p to fd and fsyncs it; errno-style code, 0 when it worked. */
static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	size_t done = 0;
	ssize_t w;

	while (done < n) {
		if ((w = write(fd, c + done, n - done)) == -1) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		done += (size_t)w;
	}
	return fsync(fd) == -1 ? errno : 0;
}

enum cr_err
cr_file_replace(const char *path, const void *p, size_t n)
{
	char tmp[4096];
	int fd, saved;

	unsigned char rnd[6];

	/* Unique per writer, threads of one process included. */
	randombytes_buf(rnd, sizeof(rnd));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%02x%02x%02x%02x%02x%02x", path, (long)getpid(), rnd[0], rnd[1],
	        rnd[2], rnd[3], rnd[4], rnd[5]) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return CR_ERR_IO;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644)) == -1)
		return CR_ERR_IO;
	saved = write_all(fd, p, n);
	if (close(fd) == -1 && saved == 0)
		saved = errno;
	if (saved == 0 && rename(tmp, path) == -1)
		saved = errno;
	if (saved != 0) {
		unlink(tmp);
		errno = saved;
		return CR_ERR_IO;
	}
	return CR_OK;
}

enum cr_err
cr_file_write_secret(const char *path, const void *p, size_t n)
{
	const char *c = p;
	size_t done = 0;
	ssize_t w;
	int fd, saved = 0;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		return errno == EEXIST ? CR_ERR_CONFLICT : CR_ERR_IO;
	while (done < n) {
		if ((w = write(fd, c + done, n - done)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			break;
		}
		done += (size_t)w;
	}
	if (saved == 0 && fsync(fd) == -1)
		saved = errno;
	if (close(fd) == -1 && saved == 0)
		saved = errno;
	if (saved != 0) {
		unlink(path);
		errno = saved;
		return CR_ERR_IO;
	}
	return CR_OK;
}
