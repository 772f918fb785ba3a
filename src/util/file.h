/*
 * Whole files: reading one into memory under a size cap, and writing a new
 * secret file (mode 0600, never over an existing file). The only helpers of
 * certrenew and govsim that read or create whole files.
 */
#ifndef CR_UTIL_FILE_H
#define CR_UTIL_FILE_H

#include <stddef.h>

#include "err.h"

/* cr_file_read flags. */
#define CR_FILE_NOFOLLOW 1u /* refuse a symbolic link as the last component (O_NOFOLLOW) */
#define CR_FILE_PRIVATE 2u  /* refuse a file group or others may read or write (mode & 077): a secret */

/*
 * Reads the regular file at path, at most cap bytes. *out is NUL-terminated (there may be NULs
 * inside: *len is the length) and owned by the caller (free()). CR_ERR_TOOBIG past the cap,
 * CR_ERR_NOMEM, CR_ERR_IO with errno telling why (EISDIR or EINVAL for a file that is not
 * regular), CR_ERR_DENIED for a file CR_FILE_PRIVATE refuses. On error *out is NULL.
 */
enum cr_err cr_file_read(const char *path, size_t cap, unsigned flags, char **out, size_t *len);

/*
 * Reads a small secret file (a password, a client secret, a key in text) into out (outlen
 * bytes, NUL-terminated), dropping trailing CR and LF; the copy on the heap is wiped. The one
 * reader of the portal's secret files. Refuses, logging an error that names the file:
 * CR_ERR_DENIED when group or others may read or write it (it must be chmod 600 or 400),
 * CR_ERR_TOOBIG when it does not fit (never truncated), CR_ERR_INVALID when empty or holding a NUL,
 * CR_ERR_IO when it cannot be read (errno says why). On error out is "".
 */
enum cr_err cr_file_read_secret(const char *path, char *out, size_t outlen);

/*
 * Creates path with mode 0600 (O_EXCL: never an existing file, never through a symbolic link)
 * and writes the n bytes of p to it, then fsyncs it. CR_ERR_CONFLICT if path exists,
 * CR_ERR_IO otherwise (errno says why; a partly written file is removed).
 */
enum cr_err cr_file_write_secret(const char *path, const void *p, size_t n);

/*
 * Replaces path atomically with the n bytes of p, readable by all (mode 0644: what is published,
 * such as CRLs): written to path.tmp.PID.RANDOM, fsynced, then renamed over path, so a reader sees the
 * old file or the new one, never a part. CR_ERR_IO otherwise (errno says why; nothing left behind).
 */
enum cr_err cr_file_replace(const char *path, const void *p, size_t n);

#endif
