/*
 * The portal's HTTP server (libmicrohttpd, internal thread pool + epoll) and
 * its in-memory static files.
 */
#ifndef CR_WEB_SERVER_H
#define CR_WEB_SERVER_H

#include "util/err.h"
#include "web/web.h"

struct cr_server;

/* Loads every regular file of dir (not recursive) into memory. */
enum cr_err cr_static_load(const char *dir, struct cr_static_files **out);
void cr_static_free(struct cr_static_files *s);
/* The named file's bytes and ETag; CR_ERR_NOTFOUND when absent. */
enum cr_err cr_static_get(const struct cr_static_files *s, const char *name, const void **data, size_t *len,
    const char **etag, const char **content_type);

/* Starts listening on the configured address; app must outlive the server. */
enum cr_err cr_server_start(struct cr_app *app, struct cr_server **out);
void cr_server_stop(struct cr_server *srv); /* NULL is a no-op; waits for requests in flight */

#endif
