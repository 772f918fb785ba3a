/*
 * HTML templates: a small Mustache subset, compiled once at start-up and
 * rendered per request against jansson data. Output is HTML-escaped unless
 * the template says `{{& name}}`. Templates are trusted (they come from our
 * own directory); the data rendered into them is not. Design and syntax:
 * docs/internals/templates.md.
 *
 * A compiled set is read-only while rendering, so one set may be rendered
 * from many threads at once; adding templates must finish before that.
 */
#ifndef CR_TMPL_H
#define CR_TMPL_H

#include <stddef.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/err.h"

#define CR_TMPL_MAX_SIZE  (1024 * 1024)  /* bytes of one template's source */
#define CR_TMPL_MAX_NEST  32             /* sections nested in one template */
#define CR_TMPL_MAX_DEPTH 64             /* sections + partials while rendering */
#define CR_TMPL_MAX_STEPS (1UL << 22)    /* nodes and loop turns of one render */

struct cr_tmpl_set;   /* opaque: a set of compiled templates, looked up by name */

/*
 * Empty set. On CR_OK *out is a new set the caller frees with
 * cr_tmpl_set_free; CR_ERR_NOMEM otherwise (*out is then NULL).
 */
enum cr_err cr_tmpl_set_new(struct cr_tmpl_set **out);

/* Frees the set and every template in it. NULL is a no-op. */
void cr_tmpl_set_free(struct cr_tmpl_set *set);

/*
 * Compiles src (len bytes, need not be NUL-terminated) under name (e.g.
 * "pending" or "mail/notice.txt"). src and name are copied; nothing borrowed
 * is kept. Returns CR_OK; CR_ERR_INVALID on a syntax error, with
 * "name:line: reason" written into errbuf (errlen bytes, always
 * NUL-terminated; errbuf may be NULL); CR_ERR_TOOBIG for a source over
 * CR_TMPL_MAX_SIZE; CR_ERR_CONFLICT when the set already has that name;
 * CR_ERR_NOMEM. On any error the set is unchanged.
 */
enum cr_err cr_tmpl_add(struct cr_tmpl_set *set, const char *name, const char *src,
    size_t len, char *errbuf, size_t errlen);

/*
 * Loads every regular file ending in .html, .txt or .eml under dir
 * (recursively, in sorted order), naming each by its path relative to dir
 * without the extension ("layout", "mail/notice"). Entries whose name starts
 * with '.' and symbolic links are skipped. Stops at the first error, leaving
 * the templates loaded so far in the set; errbuf then holds
 * "relative/path.ext:line: reason" (or "path: reason" for I/O errors).
 * Returns CR_OK, or the error of cr_tmpl_add, or CR_ERR_IO.
 */
enum cr_err cr_tmpl_load_dir(struct cr_tmpl_set *set, const char *dir, char *errbuf,
    size_t errlen);

/*
 * Renders template `name` with data `ctx` (borrowed; may be NULL, meaning no
 * data), appending to out. Returns CR_OK; CR_ERR_NOTFOUND for an unknown
 * template (or partial); CR_ERR_TOOBIG when out's cap is reached or the
 * render takes more than CR_TMPL_MAX_STEPS steps; CR_ERR_INVALID when
 * sections and partials nest deeper than CR_TMPL_MAX_DEPTH (a partial that
 * includes itself); CR_ERR_NOMEM. On error out holds a partial render that
 * the caller must discard.
 */
enum cr_err cr_tmpl_render(const struct cr_tmpl_set *set, const char *name,
    const json_t *ctx, struct cr_buf *out);

/*
 * Escaping used by the engine, exported for code that builds HTML by hand:
 * appends s (len bytes) to out with & < > " ' ` = written as entities
 * (&amp; &lt; &gt; &quot; &#39; &#96; &#61;), safe in element text and in
 * quoted attribute values (always quote attributes: spaces are not escaped).
 * s may be NULL when len is 0. Returns CR_OK, CR_ERR_TOOBIG, CR_ERR_NOMEM.
 */
enum cr_err cr_html_escape(struct cr_buf *out, const char *s, size_t len);

#endif
