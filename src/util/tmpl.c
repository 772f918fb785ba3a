/*
 * Mustache-subset template engine (see tmpl.h and docs/internals/templates.md).
 *
 * Trust: template sources are ours and are checked strictly at start-up; the
 * json data is hostile and is only ever looked up by name and printed through
 * the escaping writer unless the template says {{& name}}.
 *
 * Compiled form: a flat array of nodes per template. A section node records
 * the index just past its body, so rendering walks index ranges and never
 * re-parses. Text nodes point into a private copy of the source; names are
 * pre-split into NUL-terminated segments stored after that copy ("a.b.c" is
 * "a\0b\0c\0"), ready for json_object_get. Rendering allocates nothing but
 * output: the context stack is a fixed array bounded by the depth cap.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/file.h"
#include "util/tmpl.h"

#define MAX_DIR_LEVELS 16   /* subdirectory depth cr_tmpl_load_dir follows */

enum node_type {
	N_TEXT,      /* literal bytes: off, len */
	N_VAR,       /* {{name}}: escaped value */
	N_RAW,       /* {{& name}}: raw value */
	N_SECTION,   /* {{#name}}: body is nodes (i, end) */
	N_INVERTED,  /* {{^name}}: body is nodes (i, end) */
	N_PARTIAL,   /* {{> name}}: off is the name */
};

struct node {
	enum node_type type;
	uint32_t off;  /* N_TEXT: first byte; else first name segment, in chars */
	uint32_t len;  /* N_TEXT: bytes; N_VAR..N_INVERTED: segments, 0 for "." */
	uint32_t end;  /* N_SECTION, N_INVERTED: index just past the body */
};

struct tmpl {
	char *name;          /* owned */
	char *chars;         /* owned: source copy, then the name pool */
	struct node *nodes;  /* owned */
	size_t nnodes;
};

/* Templates kept sorted by name for binary search at render time. */
struct cr_tmpl_set {
	struct tmpl *v;
	size_t n;
	size_t alloc;
};

/* ---------------------------------------------------------------- set ---- */

static void
tmpl_clear(struct tmpl *t)
{
	free(t->name);
	free(t->chars);
	free(t->nodes);
	memset(t, 0, sizeof(*t));
}

enum cr_err
cr_tmpl_set_new(struct cr_tmpl_set **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? CR_ERR_NOMEM : CR_OK;
}

void
cr_tmpl_set_free(struct cr_tmpl_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		tmpl_clear(&set->v[i]);
	free(set->v);
	free(set);
}

/*
 * Binary search. Returns the template or NULL; *pos (if not NULL) receives
 * the index where name is or would be inserted.
 */
static const struct tmpl *
find(const struct cr_tmpl_set *set, const char *name, size_t *pos)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, set->v[mid].name);

		if (c == 0) {
			if (pos != NULL)
				*pos = mid;
			return &set->v[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (pos != NULL)
		*pos = lo;
	return NULL;
}

/* ------------------------------------------------------------ compile ---- */

struct open_sec {
	size_t node;        /* index of the N_SECTION/N_INVERTED node */
	size_t name_off;    /* the name as written, to match the closing tag */
	size_t name_len;
	unsigned line;
};

struct compiler {
	struct tmpl *t;
	size_t nalloc;      /* nodes allocated */
	size_t pool;        /* next free byte of t->chars */
	size_t pool_end;    /* bytes allocated in t->chars */
	const char *label;  /* for error messages */
	char *errbuf;
	size_t errlen;
};

static void
set_err(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

static enum cr_err
syntax_err(struct compiler *c, unsigned line, const char *reason)
{
	set_err(c->errbuf, c->errlen, "%s:%u: %s", c->label, line, reason);
	return CR_ERR_INVALID;
}

static bool
is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool
is_name_char(unsigned char ch, bool partial)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-' ||
	    (partial && ch == '/');
}

static unsigned
count_nl(const char *s, size_t n)
{
	unsigned lines = 0;
	const char *end = s + n;

	while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		lines++;
		s++;
	}
	return lines;
}

/*
 * Checks a tag name. Returns NULL if acceptable, else the reason. Partial
 * names may also hold '/' and are not split into segments; other names are
 * "." or dot-separated non-empty segments.
 */
static const char *
check_name(const char *s, size_t n, bool partial)
{
	if (n == 0)
		return "empty tag name";
	for (size_t i = 0; i < n; i++) {
		if (!is_name_char((unsigned char)s[i], partial))
			return s[i] == '{' ?
			    "'{' in tag name (no triple mustache; raw output is {{& name}})" :
			    s[i] == '=' ? "'=' in tag name (delimiter changes are not supported)" :
			    "invalid character in tag name (allowed: A-Z a-z 0-9 _ . -)";
	}
	if (partial || (n == 1 && s[0] == '.'))
		return NULL;
	if (s[0] == '.' || s[n - 1] == '.' || memmem(s, n, "..", 2) != NULL)
		return "empty segment in dotted name";
	return NULL;
}

static enum cr_err
push_node(struct compiler *c, enum node_type type, size_t off, size_t len)
{
	struct tmpl *t = c->t;

	if (t->nnodes == c->nalloc) {
		size_t na = c->nalloc ? c->nalloc * 2 : 32;
		struct node *p = reallocarray(t->nodes, na, sizeof(*p));

		if (p == NULL)
			return CR_ERR_NOMEM;
		t->nodes = p;
		c->nalloc = na;
	}
	t->nodes[t->nnodes++] = (struct node){
		.type = type, .off = (uint32_t)off, .len = (uint32_t)len, .end = 0,
	};
	return CR_OK;
}

/*
 * Copies a checked name into the pool: partial names whole, other names
 * split at '.' into NUL-terminated segments. Sets *off and *nseg.
 */
static void
pool_name(struct compiler *c, const char *s, size_t n, bool partial, size_t *off,
    size_t *nseg)
{
	char *dst;

	*off = c->pool;
	*nseg = 0;
	if (!partial && n == 1 && s[0] == '.')
		return;
	/* Each name comes from a tag at least 4 bytes longer, so the pool,
	 * sized like the source, cannot run out. */
	if (n + 1 > c->pool_end - c->pool) {
		fprintf(stderr, "tmpl: name pool overflow\n");
		abort();
	}
	dst = c->t->chars + c->pool;
	memcpy(dst, s, n);
	dst[n] = '\0';
	*nseg = 1;
	if (!partial) {
		for (size_t i = 0; i < n; i++) {
			if (dst[i] == '.') {
				dst[i] = '\0';
				(*nseg)++;
			}
		}
	}
	c->pool += n + 1;
}

static enum cr_err
compile(struct compiler *c, const char *src, size_t len)
{
	struct open_sec open[CR_TMPL_MAX_NEST];
	size_t nopen = 0, p = 0;
	unsigned line = 1;
	char msg[160];
	enum cr_err err;

	while (p < len) {
		const char *tag = memmem(src + p, len - p, "{{", 2);
		const char *close;
		size_t q = tag != NULL ? (size_t)(tag - src) : len;
		size_t b, e, off, nseg;
		unsigned tag_line;
		const char *why;
		char sigil = '\0';
		bool partial;

		if (q > p) {
			if ((err = push_node(c, N_TEXT, p, q - p)) != CR_OK)
				return err;
			line += count_nl(src + p, q - p);
		}
		if (tag == NULL)
			break;
		tag_line = line;
		close = memmem(src + q + 2, len - q - 2, "}}", 2);
		if (close == NULL)
			return syntax_err(c, tag_line, "unclosed tag: '{{' without '}}'");
		b = q + 2;
		e = (size_t)(close - src);
		line += count_nl(src + b, e - b);
		p = e + 2;

		while (b < e && is_ws(src[b]))
			b++;
		if (b < e) {
			switch (src[b]) {
			case '#': case '^': case '/': case '&': case '>': case '!':
				sigil = src[b++];
				break;
			default:
				break;
			}
		}
		if (sigil == '!')
			continue;
		while (b < e && is_ws(src[b]))
			b++;
		while (e > b && is_ws(src[e - 1]))
			e--;
		partial = sigil == '>';
		if ((why = check_name(src + b, e - b, partial)) != NULL)
			return syntax_err(c, tag_line, why);
		if (partial && e - b == 1 && src[b] == '.')
			return syntax_err(c, tag_line, "'.' is not a partial name");

		if (sigil == '/') {
			struct open_sec *o;

			if (nopen == 0) {
				snprintf(msg, sizeof(msg), "{{/%.*s}} closes no open section",
				    (int)(e - b > 64 ? 64 : e - b), src + b);
				return syntax_err(c, tag_line, msg);
			}
			o = &open[nopen - 1];
			if (o->name_len != e - b || memcmp(src + o->name_off, src + b, e - b) != 0) {
				snprintf(msg, sizeof(msg),
				    "mismatched {{/%.*s}}: section {{#%.*s}} of line %u is open",
				    (int)(e - b > 64 ? 64 : e - b), src + b,
				    (int)(o->name_len > 64 ? 64 : o->name_len), src + o->name_off,
				    o->line);
				return syntax_err(c, tag_line, msg);
			}
			c->t->nodes[o->node].end = (uint32_t)c->t->nnodes;
			nopen--;
			continue;
		}

		pool_name(c, src + b, e - b, partial, &off, &nseg);
		switch (sigil) {
		case '#':
		case '^':
			if (nopen == CR_TMPL_MAX_NEST) {
				snprintf(msg, sizeof(msg), "sections nested deeper than %d",
				    CR_TMPL_MAX_NEST);
				return syntax_err(c, tag_line, msg);
			}
			open[nopen++] = (struct open_sec){
				.node = c->t->nnodes, .name_off = b, .name_len = e - b,
				.line = tag_line,
			};
			err = push_node(c, sigil == '#' ? N_SECTION : N_INVERTED, off, nseg);
			break;
		case '>':
			err = push_node(c, N_PARTIAL, off, nseg);
			break;
		case '&':
			err = push_node(c, N_RAW, off, nseg);
			break;
		default:
			err = push_node(c, N_VAR, off, nseg);
			break;
		}
		if (err != CR_OK)
			return err;
	}
	if (nopen > 0) {
		struct open_sec *o = &open[nopen - 1];

		snprintf(msg, sizeof(msg), "unclosed section {{%c%.*s}}",
		    c->t->nodes[o->node].type == N_SECTION ? '#' : '^',
		    (int)(o->name_len > 64 ? 64 : o->name_len), src + o->name_off);
		return syntax_err(c, o->line, msg);
	}
	return CR_OK;
}

/*
 * cr_tmpl_add with a separate label for error messages (load_dir reports
 * the file's path, which is more useful than the template name).
 */
static enum cr_err
add_labelled(struct cr_tmpl_set *set, const char *name, const char *label,
    const char *src, size_t len, char *errbuf, size_t errlen)
{
	struct tmpl t = {0};
	struct compiler c = {0};
	size_t pos;
	enum cr_err err;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (set == NULL || name == NULL || name[0] == '\0' || (src == NULL && len > 0)) {
		set_err(errbuf, errlen, "%s: bad arguments", label ? label : "(null)");
		return CR_ERR_INVALID;
	}
	if (len > CR_TMPL_MAX_SIZE) {
		set_err(errbuf, errlen, "%s:1: template larger than %d bytes", label,
		    CR_TMPL_MAX_SIZE);
		return CR_ERR_TOOBIG;
	}
	if (find(set, name, &pos) != NULL) {
		set_err(errbuf, errlen, "%s: duplicate template name \"%s\"", label, name);
		return CR_ERR_CONFLICT;
	}

	/* chars: the source (len bytes), then a name pool of len + 1 bytes. */
	err = CR_ERR_NOMEM;
	if ((t.name = strdup(name)) == NULL || (t.chars = malloc(2 * len + 1)) == NULL)
		goto out;
	if (len > 0)
		memcpy(t.chars, src, len);
	c.t = &t;
	c.pool = len;
	c.pool_end = 2 * len + 1;
	c.label = label;
	c.errbuf = errbuf;
	c.errlen = errlen;
	if ((err = compile(&c, t.chars, len)) != CR_OK)
		goto out;

	if (set->n == set->alloc) {
		size_t na = set->alloc ? set->alloc * 2 : 16;
		struct tmpl *v = reallocarray(set->v, na, sizeof(*v));

		err = CR_ERR_NOMEM;
		if (v == NULL)
			goto out;
		set->v = v;
		set->alloc = na;
	}
	memmove(&set->v[pos + 1], &set->v[pos], (set->n - pos) * sizeof(*set->v));
	set->v[pos] = t;
	set->n++;
	return CR_OK;
out:
	if (err == CR_ERR_NOMEM)
		set_err(errbuf, errlen, "%s: out of memory", label);
	tmpl_clear(&t);
	return err;
}

enum cr_err
cr_tmpl_add(struct cr_tmpl_set *set, const char *name, const char *src, size_t len,
    char *errbuf, size_t errlen)
{
	return add_labelled(set, name, name, src, len, errbuf, errlen);
}

/* ----------------------------------------------------------- load_dir ---- */

static const char *const exts[] = {".html", ".txt", ".eml"};

/* Length of name without a template extension, or 0 if it has none. */
static size_t
stem_len(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t el = strlen(exts[i]);

		if (n > el && strcmp(name + n - el, exts[i]) == 0)
			return n - el;
	}
	return 0;
}

/* Reads the regular file at path into buf (capped at CR_TMPL_MAX_SIZE). */
static enum cr_err
read_file(const char *path, struct cr_buf *buf)
{
	char *p;
	size_t n;
	enum cr_err err;

	if ((err = cr_file_read(path, CR_TMPL_MAX_SIZE, CR_FILE_NOFOLLOW, &p, &n)) != CR_OK)
		return err; /* errno is kept for the caller's message */
	err = cr_buf_add(buf, p, n);
	free(p);
	return err;
}

static int
skip_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Loads dir/rel (rel is "" or ends in '/'), recursing into subdirectories. */
static enum cr_err
load_tree(struct cr_tmpl_set *set, const char *dir, const char *rel, unsigned level,
    char *errbuf, size_t errlen)
{
	struct dirent **ents = NULL;
	struct cr_buf path, relpath, name, src;
	int n, i;
	enum cr_err err = CR_OK;

	cr_buf_init(&path, 4096);
	cr_buf_init(&relpath, 4096);
	cr_buf_init(&name, 4096);
	cr_buf_init(&src, CR_TMPL_MAX_SIZE);
	if ((err = cr_buf_printf(&path, "%s/%s", dir, rel)) != CR_OK) {
		set_err(errbuf, errlen, "%s%s: path too long", dir, rel);
		goto out;
	}
	if ((n = scandir(cr_buf_str(&path), &ents, skip_hidden, alphasort)) < 0) {
		set_err(errbuf, errlen, "%s: %s", cr_buf_str(&path), strerror(errno));
		err = CR_ERR_IO;
		goto out;
	}
	for (i = 0; i < n && err == CR_OK; i++) {
		const char *ent = ents[i]->d_name;
		struct stat st;
		size_t stem;

		cr_buf_reset(&path);
		cr_buf_reset(&relpath);
		cr_buf_reset(&name);
		cr_buf_reset(&src);
		if ((err = cr_buf_printf(&relpath, "%s%s", rel, ent)) != CR_OK ||
		    (err = cr_buf_printf(&path, "%s/%s", dir, cr_buf_str(&relpath))) != CR_OK) {
			set_err(errbuf, errlen, "%s%s: path too long", rel, ent);
			break;
		}
		if (lstat(cr_buf_str(&path), &st) != 0) {
			set_err(errbuf, errlen, "%s: %s", cr_buf_str(&path), strerror(errno));
			err = CR_ERR_IO;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (level + 1 >= MAX_DIR_LEVELS) {
				set_err(errbuf, errlen, "%s: directories nested deeper than %d",
				    cr_buf_str(&relpath), MAX_DIR_LEVELS);
				err = CR_ERR_INVALID;
				break;
			}
			if ((err = cr_buf_adds(&relpath, "/")) != CR_OK) {
				set_err(errbuf, errlen, "%s: path too long", cr_buf_str(&relpath));
				break;
			}
			err = load_tree(set, dir, cr_buf_str(&relpath), level + 1, errbuf, errlen);
			continue;
		}
		if (!S_ISREG(st.st_mode) || (stem = stem_len(ent)) == 0)
			continue;
		if ((err = read_file(cr_buf_str(&path), &src)) != CR_OK) {
			if (err == CR_ERR_TOOBIG)
				set_err(errbuf, errlen, "%s:1: template larger than %d bytes",
				    cr_buf_str(&relpath), CR_TMPL_MAX_SIZE);
			else if (err == CR_ERR_IO)
				set_err(errbuf, errlen, "%s: %s", cr_buf_str(&path), strerror(errno));
			else
				set_err(errbuf, errlen, "%s: %s", cr_buf_str(&path), cr_err_str(err));
			break;
		}
		if ((err = cr_buf_printf(&name, "%s%.*s", rel, (int)stem, ent)) != CR_OK) {
			set_err(errbuf, errlen, "%s: name too long", cr_buf_str(&relpath));
			break;
		}
		err = add_labelled(set, cr_buf_str(&name), cr_buf_str(&relpath), cr_buf_str(&src),
		    src.len, errbuf, errlen);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
out:
	cr_buf_free(&path);
	cr_buf_free(&relpath);
	cr_buf_free(&name);
	cr_buf_free(&src);
	return err;
}

enum cr_err
cr_tmpl_load_dir(struct cr_tmpl_set *set, const char *dir, char *errbuf, size_t errlen)
{
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (set == NULL || dir == NULL) {
		set_err(errbuf, errlen, "load_dir: bad arguments");
		return CR_ERR_INVALID;
	}
	return load_tree(set, dir, "", 0, errbuf, errlen);
}

/* ------------------------------------------------------------- render ---- */

struct render {
	const struct cr_tmpl_set *set;
	struct cr_buf *out;
	unsigned long steps;
	unsigned depth;       /* sections + partials entered */
	size_t nstack;
	const json_t *stack[CR_TMPL_MAX_DEPTH + 1];   /* + 1 for the root */
};

enum cr_err
cr_html_escape(struct cr_buf *out, const char *s, size_t len)
{
#define ENT(s) { s, sizeof(s) - 1 }
	static const struct { const char *s; size_t n; } ent[256] = {
		['&'] = ENT("&amp;"), ['<'] = ENT("&lt;"), ['>'] = ENT("&gt;"),
		['"'] = ENT("&quot;"), ['\''] = ENT("&#39;"), ['`'] = ENT("&#96;"),
		['='] = ENT("&#61;"),
	};
#undef ENT
	size_t i, run = 0;
	enum cr_err err;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ent[ch].s == NULL)
			continue;
		if ((err = cr_buf_add(out, s + run, i - run)) != CR_OK ||
		    (err = cr_buf_add(out, ent[ch].s, ent[ch].n)) != CR_OK)
			return err;
		run = i + 1;
	}
	return cr_buf_add(out, len > 0 ? s + run : "", len - run);
}

/*
 * Resolves a name node against the context stack: the innermost frame that
 * has the first segment wins, then the other segments are looked up inside
 * it only (as Mustache does). Returns a borrowed value or NULL.
 */
static const json_t *
lookup(const struct render *r, const struct tmpl *t, const struct node *n)
{
	const char *seg = t->chars + n->off;
	const json_t *v = NULL;
	size_t k;

	if (n->len == 0)
		return r->stack[r->nstack - 1];
	for (k = r->nstack; k-- > 0;) {
		if (json_is_object(r->stack[k]) && (v = json_object_get(r->stack[k], seg)) != NULL)
			break;
	}
	for (uint32_t i = 1; v != NULL && i < n->len; i++) {
		seg += strlen(seg) + 1;
		v = json_is_object(v) ? json_object_get(v, seg) : NULL;
	}
	return v;
}

static bool
truthy(const json_t *v)
{
	switch (v != NULL ? json_typeof(v) : JSON_NULL) {
	case JSON_OBJECT: return true;
	case JSON_ARRAY: return json_array_size(v) > 0;
	case JSON_STRING: return json_string_length(v) > 0;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return json_real_value(v) != 0.0;
	case JSON_TRUE: return true;
	case JSON_FALSE:
	case JSON_NULL: return false;
	}
	return false;
}

/* Prints a value: strings as is, numbers in decimal / %g, true as "true". */
static enum cr_err
put_value(struct render *r, const json_t *v, bool escape)
{
	char num[64];
	int n;

	if (v == NULL)
		return CR_OK;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return escape ? cr_html_escape(r->out, json_string_value(v), json_string_length(v)) :
		    cr_buf_add(r->out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		n = snprintf(num, sizeof(num), "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		return cr_buf_add(r->out, "true", 4);
	default:   /* false, null, objects and arrays print nothing */
		return CR_OK;
	}
	if (n < 0 || (size_t)n >= sizeof(num))
		return CR_ERR_INVALID;
	/* Digits, sign, '.', 'e', "inf", "nan": nothing to escape. */
	return cr_buf_add(r->out, num, (size_t)n);
}

static enum cr_err render_nodes(struct render *r, const struct tmpl *t, size_t i, size_t end);

static enum cr_err
enter(struct render *r)
{
	if (r->depth >= CR_TMPL_MAX_DEPTH)
		return CR_ERR_INVALID;
	r->depth++;
	return CR_OK;
}

/* Renders a section body (nodes i+1 .. end) with frame pushed (NULL: none). */
static enum cr_err
body_with(struct render *r, const struct tmpl *t, size_t i, const json_t *frame)
{
	enum cr_err err;

	if (++r->steps > CR_TMPL_MAX_STEPS)
		return CR_ERR_TOOBIG;
	if (frame == NULL)
		return render_nodes(r, t, i + 1, t->nodes[i].end);
	if (r->nstack >= sizeof(r->stack) / sizeof(r->stack[0])) {
		fprintf(stderr, "tmpl: context stack overflow\n");
		abort();   /* cannot happen: each push is under enter() */
	}
	r->stack[r->nstack++] = frame;
	err = render_nodes(r, t, i + 1, t->nodes[i].end);
	r->nstack--;
	return err;
}

static enum cr_err
render_section(struct render *r, const struct tmpl *t, size_t i)
{
	const struct node *n = &t->nodes[i];
	const json_t *v = lookup(r, t, n);
	enum cr_err err = CR_OK;

	if (n->type == N_INVERTED ? truthy(v) : !truthy(v))
		return CR_OK;
	if ((err = enter(r)) != CR_OK)
		return err;
	if (n->type == N_INVERTED)
		err = body_with(r, t, i, NULL);
	else if (json_is_array(v)) {
		for (size_t k = 0; k < json_array_size(v) && err == CR_OK; k++)
			err = body_with(r, t, i, json_array_get(v, k));
	} else
		err = body_with(r, t, i, v);
	r->depth--;
	return err;
}

static enum cr_err
render_partial(struct render *r, const struct tmpl *t, const struct node *n)
{
	const struct tmpl *p = find(r->set, t->chars + n->off, NULL);
	enum cr_err err;

	if (p == NULL)
		return CR_ERR_NOTFOUND;
	if ((err = enter(r)) != CR_OK)
		return err;
	err = render_nodes(r, p, 0, p->nnodes);
	r->depth--;
	return err;
}

static enum cr_err
render_nodes(struct render *r, const struct tmpl *t, size_t i, size_t end)
{
	enum cr_err err = CR_OK;

	while (i < end && err == CR_OK) {
		const struct node *n = &t->nodes[i];

		if (++r->steps > CR_TMPL_MAX_STEPS)
			return CR_ERR_TOOBIG;
		switch (n->type) {
		case N_TEXT:
			err = cr_buf_add(r->out, t->chars + n->off, n->len);
			i++;
			break;
		case N_VAR:
		case N_RAW:
			err = put_value(r, lookup(r, t, n), n->type == N_VAR);
			i++;
			break;
		case N_SECTION:
		case N_INVERTED:
			err = render_section(r, t, i);
			i = n->end;
			break;
		case N_PARTIAL:
			err = render_partial(r, t, n);
			i++;
			break;
		}
	}
	return err;
}

enum cr_err
cr_tmpl_render(const struct cr_tmpl_set *set, const char *name, const json_t *ctx,
    struct cr_buf *out)
{
	struct render r;
	const struct tmpl *t;

	if (set == NULL || name == NULL || out == NULL)
		return CR_ERR_INVALID;
	if ((t = find(set, name, NULL)) == NULL)
		return CR_ERR_NOTFOUND;
	r.set = set;
	r.out = out;
	r.steps = 0;
	r.depth = 0;
	r.nstack = 1;
	r.stack[0] = ctx;
	return render_nodes(&r, t, 0, t->nnodes);
}
