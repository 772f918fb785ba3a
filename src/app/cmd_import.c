/*
 * Operator imports (SPEC R2.2): import-confirmations and import-certs.
 *
 * Both are all-or-nothing. The database transaction is opened first (it takes
 * the write lock), then every line and file is checked and every problem is
 * printed as `FILE:LINE: reason` (or `FILE: reason` for a certificate file);
 * if there was any, the transaction is rolled back and the command exits 1
 * having written nothing. Otherwise all rows and one audit row per certificate
 * are written and committed together.
 *
 * Files come from operators but are treated as untrusted: CSV goes through the
 * capped parser in util/csv.c, certificates through pki/x509_read.c, and text
 * echoed in messages is clipped and stripped of control characters.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "app/commands.h"
#include "pki/pki.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/csv.h"
#include "util/file.h"
#include "util/strmap.h"
#include "util/text.h"

#define MAX_CSV_BYTES ((size_t)256 << 20)  /* 1,000,000 lines of a few hundred bytes */
#define MAX_CERT_BYTES ((size_t)4 << 20)   /* one certificate file */

/* ---------------------------------------------------------------- helpers */

/* Reads the whole input file; prints "PATH: why" when it cannot. */
static enum cr_err
read_input(const char *path, size_t cap, char **buf, size_t *len)
{
	enum cr_err err = cr_file_read(path, cap, 0, buf, len);

	if (err == CR_ERR_IO)
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
	else if (err == CR_ERR_TOOBIG)
		fprintf(stderr, "%s: larger than %zu MiB\n", path, cap >> 20);
	else if (err != CR_OK)
		fprintf(stderr, "%s: cannot read: %s\n", path, cr_err_str(err));
	return err;
}

/* Reasons found for one line, joined with "; ". */
struct reasons {
	char text[1024];
	size_t len;
	int n;
};

static void reason(struct reasons *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reason(struct reasons *r, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (r->len + 3 >= sizeof(r->text)) {
		r->n++;
		return;
	}
	if (r->n > 0) {
		memcpy(r->text + r->len, "; ", 3);
		r->len += 2;
	}
	va_start(ap, fmt);
	w = vsnprintf(r->text + r->len, sizeof(r->text) - r->len, fmt, ap);
	va_end(ap);
	if (w > 0)
		r->len = r->len + (size_t)w < sizeof(r->text) ? r->len + (size_t)w : sizeof(r->text) - 1;
	r->n++;
}

/* Trimmed copy of a field: leading and trailing spaces and tabs dropped. Caller frees. */
static char *
trimmed(const char *s, size_t n)
{
	char *d;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if ((d = malloc(n + 1)) != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Whether record rec is exactly the header names (trimmed, case-insensitive). */
static bool
header_is(const struct cr_csv_record *rec, const char *const *names, size_t n)
{
	if (rec->nfields != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char *t = trimmed(rec->field[i], rec->len[i]);
		bool same = t != NULL && strcasecmp(t, names[i]) == 0;
		free(t);
		if (!same)
			return false;
	}
	return true;
}

/*
 * Opens the database and begins the import's transaction. An import never migrates: a schema
 * older than this binary's is refused, naming the command that brings it up to date.
 */
static enum cr_err
open_store(const struct cr_config *cfg, struct cr_store **st, struct cr_db **db)
{
	size_t newest = cr_sqlite_migration_count; /* the PostgreSQL list has the same versions (store.c checks) */
	int v = 0;
	enum cr_err err;

	*db = NULL;
	if ((err = cr_store_open(cfg->database_url, 1, st)) != CR_OK) {
		fprintf(stderr, "certrenew: cannot open the database (%s)\n", cr_err_str(err));
		return err;
	}
	*db = cr_store_get(*st);
	if ((err = cr_db_schema_version(*db, &v)) != CR_OK) {
		fprintf(stderr, "certrenew: cannot read the schema version (%s)\n", cr_err_str(err));
		return err;
	}
	if (v < 0 || (size_t)v < newest) {
		fprintf(stderr,
		    "certrenew: the database schema is version %d, this certrenew needs version %zu: run `certrenew init` "
		    "(it migrates the database), then import again; nothing imported\n",
		    v, newest);
		return CR_ERR_CONFIG;
	}
	if ((err = cr_db_begin(*db)) != CR_OK)
		fprintf(stderr, "certrenew: cannot prepare the database (%s)\n", cr_err_str(err));
	return err;
}

/*
 * The common part of both commands once the CSV is parsed (err and ce from cr_csv_parse): a
 * fatal error (not the file's fault) stops the import; the parser's complaint and an empty file
 * are counted in *bad. Returns false when the import stops here.
 */
static bool
parse_checked(const char *file, enum cr_err err, const struct cr_csv_error *ce, enum cr_err fatal,
    bool header_seen, long *bad)
{
	if (fatal != CR_OK) {
		fprintf(stderr, "certrenew: import stopped: %s\n", cr_err_str(fatal));
		return false;
	}
	if (err != CR_OK && ce->line > 0) {
		fprintf(stderr, "%s:%zu: %s\n", file, ce->line, ce->reason);
		(*bad)++;
	}
	if (err == CR_OK && !header_seen) {
		fprintf(stderr, "%s: empty file (no header line)\n", file);
		(*bad)++;
	}
	return true;
}

/* Reports a failed write of line of file (the transaction is then rolled back). */
static void
write_failed(const char *file, size_t line, enum cr_err err)
{
	fprintf(stderr, "certrenew: import failed at %s:%zu (%s); nothing imported\n", file, line, cr_err_str(err));
}

/* Commits the import; false, with a message, when that fails. */
static bool
commit(struct cr_db *db)
{
	enum cr_err err = cr_db_commit(db);

	if (err != CR_OK)
		fprintf(stderr, "certrenew: commit failed (%s); nothing imported\n", cr_err_str(err));
	return err == CR_OK;
}

/* Gives the connection back (rolling back anything not committed) and closes the store. */
static void
close_store(struct cr_store *st, struct cr_db *db)
{
	if (db != NULL)
		cr_store_put(st, db);
	cr_store_close(st);
}

/* ---------------------------------------------------------------- import-confirmations */

struct conf_row {
	size_t line;
	int64_t cert_id;
	bool confirm;
	char *by; /* owned; NULL: "operator" */
};

struct conf_ctx {
	const char *file;
	struct cr_db *db;
	size_t nfields;       /* from the header: 2 or 3 */
	bool header_seen;
	struct conf_row *rows;
	size_t n, alloc;
	struct cr_strmap seen;     /* serial -> line */
	long bad;
	enum cr_err fatal;    /* a database or memory failure (not the file's fault) */
};

static const char *const conf_header3[] = {"serial", "decision", "decided_by"};

static enum cr_err
conf_record(const struct cr_csv_record *rec, void *arg)
{
	struct conf_ctx *c = arg;
	struct reasons r = {.n = 0};
	char serial[80], shown[80];
	char *dec = NULL, *by = NULL, *sraw = NULL;
	struct cr_cert cert = {0};
	size_t first;
	bool confirm = false, serial_ok;
	enum cr_err err;

	if (!c->header_seen) {
		c->header_seen = true;
		if (header_is(rec, conf_header3, 2) || header_is(rec, conf_header3, 3)) {
			c->nfields = rec->nfields;
			return CR_OK;
		}
		fprintf(stderr, "%s:%zu: header must be serial,decision or serial,decision,decided_by\n", c->file,
		    rec->line);
		c->bad++;
		return CR_ERR_INVALID; /* the columns are unknown: nothing else can be checked */
	}
	if (rec->nfields != c->nfields) {
		fprintf(stderr, "%s:%zu: wrong field count: %zu fields, the header has %zu\n", c->file, rec->line,
		    rec->nfields, c->nfields);
		c->bad++;
		return CR_OK;
	}
	if ((sraw = trimmed(rec->field[0], rec->len[0])) == NULL ||
	    (dec = trimmed(rec->field[1], rec->len[1])) == NULL ||
	    (c->nfields == 3 && (by = trimmed(rec->field[2], rec->len[2])) == NULL)) {
		err = CR_ERR_NOMEM;
		goto out;
	}
	if (!(serial_ok = cr_pki_serial_normalise(sraw, serial, sizeof(serial))))
		reason(&r, "bad serial '%s' (hex digits, ':' or ' ' between them)", cr_clip(sraw, shown, 60));
	if (strcasecmp(dec, "confirmed") == 0)
		confirm = true;
	else if (strcasecmp(dec, "declined") != 0)
		reason(&r, "bad decision '%s' (confirmed or declined)", cr_clip(dec, shown, 40));
	if (by != NULL && strlen(by) >= CR_TEXT)
		reason(&r, "decided_by longer than %d bytes", CR_TEXT - 1);
	if (serial_ok) {
		if (cr_strmap_get(&c->seen, serial, &first))
			reason(&r, "duplicate serial %s (also on line %zu)", serial, first);
		else if ((err = cr_strmap_put(&c->seen, serial, rec->line)) != CR_OK)
			goto out;
		else if ((err = cr_db_cert_by_serial(c->db, serial, &cert)) == CR_ERR_NOTFOUND)
			reason(&r, "unknown serial %s", serial);
		else if (err != CR_OK)
			goto out;
	}
	if (r.n > 0) {
		fprintf(stderr, "%s:%zu: %s\n", c->file, rec->line, r.text);
		c->bad++;
	} else if ((err = cr_grow(&c->rows, &c->alloc, c->n, sizeof(*c->rows))) != CR_OK)
		goto out;
	else {
		c->rows[c->n++] = (struct conf_row){rec->line, cert.id, confirm, by != NULL && by[0] ? by : NULL};
		if (by != NULL && by[0])
			by = NULL; /* kept by the row */
	}
	err = CR_OK;
out:
	free(sraw);
	free(dec);
	free(by);
	if (err != CR_OK)
		c->fatal = err;
	return err;
}

int
cr_cmd_import_confirmations(const struct cr_config *cfg, int argc, char **argv)
{
	struct conf_ctx c = {0};
	struct cr_store *st = NULL;
	struct cr_csv_error ce;
	char *buf = NULL, object[32], detail[320];
	size_t len, nconf = 0;
	time_t now = time(NULL);
	enum cr_err err;
	int rc = 1;

	if (cr_cmd_wants_help(argc, argv,
	        "usage: certrenew import-confirmations FILE\n"
	        "Applies department decisions from a CSV file with the header\n"
	        "serial,decision[,decided_by] (decision: confirmed or declined; serial in hex,\n"
	        "any case, ':' or ' ' allowed). Every line is checked first; if any is bad, each\n"
	        "bad line is printed as FILE:LINE: reason and nothing is written (exit 1).\n"
	        "Otherwise all decisions and their audit rows are written in one transaction.\n"
	        "See docs/operators.md.\n"))
		return 0;
	if (argc != 2) {
		fprintf(stderr, "usage: certrenew import-confirmations FILE\n");
		return 2;
	}
	c.file = argv[1];
	if (read_input(c.file, MAX_CSV_BYTES, &buf, &len) != CR_OK)
		return 1;
	if (open_store(cfg, &st, &c.db) != CR_OK)
		goto out;

	err = cr_csv_parse(buf, len, conf_record, &c, &ce);
	if (!parse_checked(c.file, err, &ce, c.fatal, c.header_seen, &c.bad))
		goto out;
	if (c.bad > 0) {
		fprintf(stderr, "certrenew: %s: %ld bad line%s; nothing imported\n", c.file, c.bad, c.bad == 1 ? "" : "s");
		goto out;
	}
	for (size_t i = 0; i < c.n; i++) {
		const struct conf_row *r = &c.rows[i];
		const char *decision = r->confirm ? "confirmed" : "declined";

		snprintf(object, sizeof(object), "cert:%lld", (long long)r->cert_id);
		snprintf(detail, sizeof(detail), "import %.280s:%zu", c.file, r->line);
		if ((err = cr_db_confirmation_set(c.db, r->cert_id, decision, r->by ? r->by : "operator", now)) !=
		        CR_OK ||
		    (err = cr_db_audit(c.db, now,
		         &(struct cr_audit){"operator", r->confirm ? "confirm" : "decline", object, "", detail})) !=
		        CR_OK) {
			write_failed(c.file, r->line, err);
			goto out;
		}
		nconf += r->confirm;
	}
	if (!commit(c.db))
		goto out;
	printf("certrenew: %s: %zu decision%s imported (%zu confirmed, %zu declined)\n", c.file, c.n,
	    c.n == 1 ? "" : "s", nconf, c.n - nconf);
	rc = 0;
out:
	close_store(st, c.db);
	for (size_t i = 0; i < c.n; i++)
		free(c.rows[i].by);
	free(c.rows);
	cr_strmap_free(&c.seen);
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------- import-certs */

enum {
	H_SERIAL, H_TYPE, H_SUB, H_NAME, H_NAME_ZH, H_ID_NUMBER, H_EMAIL, H_ORG_CODE, H_ORG_NAME,
	H_DEPARTMENT, H_POSITION, H_TX_LIMIT, H_PROXY, H_SIGNING_ACCOUNT, H_COUNT
};

static const char *const holder_header[H_COUNT] = {"serial", "type", "sub", "name", "name_zh", "id_number",
    "email", "org_code", "org_name", "department", "position", "tx_limit", "proxy", "signing_account"};

/* One certificate of the input. */
struct cert_ref {
	char label[320];            /* PATH, or PATH#N when the file holds several */
	const struct cr_pki_cert_info *ci;
	bool bad;                   /* reported while reading (date, duplicate) */
	size_t row;                 /* matching holder row + 1; 0: none yet */
};

struct holder_row {
	size_t line;
	char *f[H_COUNT];           /* owned, trimmed */
	char serial[80];
	enum cr_cert_type type;
	size_t cert;                /* index into the cert_refs */
	size_t person_first;        /* row index of the first row of this sub */
	size_t org_first;           /* row index of the first row of this org_code */
	int64_t person_id, org_id;  /* set while writing, on first rows */
};

struct certs_ctx {
	const char *file;           /* HOLDERS.csv */
	struct cr_db *db;
	bool header_seen;
	struct cert_ref *certs;
	size_t ncerts;
	struct cr_strmap cert_by_serial; /* serial -> cert index */
	struct holder_row *rows;
	size_t n, alloc;
	struct cr_strmap row_by_serial;  /* serial -> line */
	struct cr_strmap row_by_sub;     /* sub -> row index */
	struct cr_strmap row_by_org;     /* org_code -> row index */
	long bad;
	enum cr_err fatal;
};

static void
holder_row_free(struct holder_row *r)
{
	for (int i = 0; i < H_COUNT; i++)
		free(r->f[i]);
}

/* Whether an address looks like one: local@domain, no spaces. */
static bool
email_ok(const char *s)
{
	const char *at = strchr(s, '@');

	return at != NULL && at != s && at[1] != '\0' && strchr(at + 1, '@') == NULL && strpbrk(s, " \t") == NULL;
}

/* Checks a row's holder data against the first row of the same sub and org_code. */
static enum cr_err
holder_consistency(struct certs_ctx *c, struct holder_row *h, struct reasons *r)
{
	static const int same[] = {H_NAME, H_NAME_ZH, H_ID_NUMBER, H_ORG_CODE};
	size_t first;
	enum cr_err err;

	h->person_first = h->org_first = c->n;
	if (cr_strmap_get(&c->row_by_sub, h->f[H_SUB], &first)) {
		const struct holder_row *o = &c->rows[first];
		for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
			if (strcmp(o->f[same[i]], h->f[same[i]]) != 0)
				reason(r, "%s differs from line %zu for the same sub", holder_header[same[i]], o->line);
		h->person_first = first;
	} else if ((err = cr_strmap_put(&c->row_by_sub, h->f[H_SUB], c->n)) != CR_OK)
		return err;
	if (cr_strmap_get(&c->row_by_org, h->f[H_ORG_CODE], &first)) {
		const struct holder_row *o = &c->rows[first];
		if (strcmp(o->f[H_ORG_NAME], h->f[H_ORG_NAME]) != 0)
			reason(r, "org_name differs from line %zu for the same org_code", o->line);
		h->org_first = first;
	} else if ((err = cr_strmap_put(&c->row_by_org, h->f[H_ORG_CODE], c->n)) != CR_OK)
		return err;
	return CR_OK;
}

/* Compares the row's e-mail with the certificate's addresses, when it has any. */
static void
email_match(const struct cert_ref *cr, const struct holder_row *h, struct reasons *r)
{
	const struct cr_pki_cert_info *ci = cr->ci;
	char shown[80], have[200] = "";
	size_t used = 0;

	if (ci->n_emails == 0)
		return;
	for (size_t i = 0; i < ci->n_emails; i++)
		if (strcasecmp(ci->emails[i], h->f[H_EMAIL]) == 0)
			return;
	for (size_t i = 0; i < ci->n_emails && used + 2 < sizeof(have); i++) {
		int w = snprintf(have + used, sizeof(have) - used, "%s%s", i ? ", " : "", ci->emails[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	reason(r, "certificate not matching its CSV row: email %s is not the certificate's (%s in %s)",
	    cr_clip(h->f[H_EMAIL], shown, 60), have, cr->label);
}

static enum cr_err
holder_record(const struct cr_csv_record *rec, void *arg)
{
	static const struct {
		int f;
		size_t max;
	} caps[] = {{H_ID_NUMBER, 32}, {H_TX_LIMIT, 64}};
	static const int required[] = {H_SUB, H_NAME, H_EMAIL, H_ID_NUMBER, H_ORG_CODE, H_ORG_NAME};
	struct certs_ctx *c = arg;
	struct holder_row h = {.line = rec->line};
	struct reasons r = {.n = 0};
	char shown[80];
	struct cr_cert existing;
	size_t other;
	enum cr_err err = CR_OK;

	if (!c->header_seen) {
		c->header_seen = true;
		if (header_is(rec, holder_header, H_COUNT))
			return CR_OK;
		fprintf(stderr, "%s:%zu: header must be serial,type,sub,name,name_zh,id_number,email,org_code,"
		                "org_name,department,position,tx_limit,proxy,signing_account\n",
		    c->file, rec->line);
		c->bad++;
		return CR_ERR_INVALID;
	}
	if (rec->nfields != H_COUNT) {
		fprintf(stderr, "%s:%zu: wrong field count: %zu fields, the header has %d\n", c->file, rec->line,
		    rec->nfields, H_COUNT);
		c->bad++;
		return CR_OK;
	}
	for (int i = 0; i < H_COUNT; i++)
		if ((h.f[i] = trimmed(rec->field[i], rec->len[i])) == NULL) {
			err = CR_ERR_NOMEM;
			goto out;
		}

	/* The row on its own. */
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (h.f[required[i]][0] == '\0')
			reason(&r, "missing %s", holder_header[required[i]]);
	for (int i = 0; i < H_COUNT; i++)
		if (strlen(h.f[i]) >= CR_TEXT)
			reason(&r, "%s longer than %d bytes", holder_header[i], CR_TEXT - 1);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (strlen(h.f[caps[i].f]) >= caps[i].max && strlen(h.f[caps[i].f]) < CR_TEXT)
			reason(&r, "%s longer than %zu bytes", holder_header[caps[i].f], caps[i].max - 1);
	if (!cr_cert_type_parse(h.f[H_TYPE], &h.type))
		reason(&r, "unknown type '%s' (qualified, encryption or cloudsign)", cr_clip(h.f[H_TYPE], shown, 40));
	else if (h.type == CR_CERT_CLOUDSIGN && h.f[H_SIGNING_ACCOUNT][0] == '\0')
		reason(&r, "cloudsign needs signing_account");
	if (h.f[H_EMAIL][0] != '\0' && !email_ok(h.f[H_EMAIL]))
		reason(&r, "bad email '%s'", cr_clip(h.f[H_EMAIL], shown, 60));

	/* The row against the others, the certificates and the database. */
	if (h.f[H_SUB][0] != '\0' && h.f[H_ORG_CODE][0] != '\0' && (err = holder_consistency(c, &h, &r)) != CR_OK)
		goto out;
	if (!cr_pki_serial_normalise(h.f[H_SERIAL], h.serial, sizeof(h.serial)))
		reason(&r, "bad serial '%s'", cr_clip(h.f[H_SERIAL], shown, 60));
	else if (cr_strmap_get(&c->row_by_serial, h.serial, &other))
		reason(&r, "duplicate serial %s (also on line %zu)", h.serial, other);
	else {
		if ((err = cr_strmap_put(&c->row_by_serial, h.serial, rec->line)) != CR_OK)
			goto out;
		if ((err = cr_db_cert_by_serial(c->db, h.serial, &existing)) == CR_OK)
			reason(&r, "duplicate serial %s: already in the database", h.serial);
		else if (err != CR_ERR_NOTFOUND)
			goto out;
		err = CR_OK;
		if (!cr_strmap_get(&c->cert_by_serial, h.serial, &h.cert))
			reason(&r, "no certificate file with serial %s", h.serial);
		else {
			c->certs[h.cert].row = c->n + 1;
			email_match(&c->certs[h.cert], &h, &r);
		}
	}

	if (r.n > 0) {
		fprintf(stderr, "%s:%zu: %s\n", c->file, rec->line, r.text);
		c->bad++;
	}
	/* Rows are kept even when bad so that later rows can point at them. */
	if ((err = cr_grow(&c->rows, &c->alloc, c->n, sizeof(*c->rows))) != CR_OK)
		goto out;
	c->rows[c->n++] = h;
	return CR_OK;
out:
	holder_row_free(&h);
	c->fatal = err;
	return err;
}

static void
iso(time_t t, char *out, size_t n)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, n, "%lld", (long long)t);
}

/* Reads every certificate file; problems are printed and counted in c->bad. */
static enum cr_err
read_cert_files(struct certs_ctx *c, char **paths, int npaths, struct cr_pki_cert_info **infos, size_t *ninfos)
{
	size_t alloc = 0;

	for (int i = 0; i < npaths; i++) {
		char *buf = NULL, why[160];
		size_t len, n;
		enum cr_err err;

		if (read_input(paths[i], MAX_CERT_BYTES, &buf, &len) != CR_OK) {
			c->bad++;
			continue;
		}
		err = cr_pki_certs_read((const unsigned char *)buf, len, &infos[i], &n, why, sizeof(why));
		free(buf);
		if (err == CR_ERR_NOMEM)
			return err;
		if (err != CR_OK) {
			fprintf(stderr, "%s: not a certificate (%s)\n", paths[i], why);
			c->bad++;
			continue;
		}
		ninfos[i] = n;
		for (size_t k = 0; k < n; k++) {
			const struct cr_pki_cert_info *ci = &infos[i][k];
			struct cert_ref *cr;
			size_t other;
			char nb[32], na[32];

			if ((err = cr_grow(&c->certs, &alloc, c->ncerts, sizeof(*c->certs))) != CR_OK)
				return err;
			cr = &c->certs[c->ncerts];
			memset(cr, 0, sizeof(*cr));
			cr->ci = ci;
			if (n == 1)
				snprintf(cr->label, sizeof(cr->label), "%.280s", paths[i]);
			else
				snprintf(cr->label, sizeof(cr->label), "%.280s#%zu", paths[i], k + 1);
			if (!ci->dates_ok) {
				fprintf(stderr, "%s: bad date: unreadable notBefore or notAfter\n", cr->label);
				cr->bad = true;
			} else if (ci->not_after <= ci->not_before) {
				iso(ci->not_before, nb, sizeof(nb));
				iso(ci->not_after, na, sizeof(na));
				fprintf(stderr, "%s: bad date: notAfter %s is not after notBefore %s\n", cr->label, na, nb);
				cr->bad = true;
			}
			if (cr_strmap_get(&c->cert_by_serial, ci->serial_hex, &other)) {
				fprintf(stderr, "%s: duplicate serial %s (also in %s)\n", cr->label, ci->serial_hex,
				    c->certs[other].label);
				cr->bad = true;
				cr->row = SIZE_MAX; /* not "without a row": the first one speaks for the serial */
			} else if ((err = cr_strmap_put(&c->cert_by_serial, ci->serial_hex, c->ncerts)) != CR_OK)
				return err;
			if (cr->bad)
				c->bad++;
			c->ncerts++;
		}
	}
	return CR_OK;
}

/* Writes one checked row: organisation, person, certificate, audit. */
static enum cr_err
write_row(struct certs_ctx *c, struct holder_row *h, time_t now)
{
	struct holder_row *pf = &c->rows[h->person_first], *of = &c->rows[h->org_first];
	const struct cert_ref *cr = &c->certs[h->cert];
	struct cr_cert cert = {0};
	char object[32], detail[320];
	int64_t id;
	enum cr_err err;

	if (of->org_id == 0 && (err = cr_db_org_upsert(c->db, of->f[H_ORG_CODE], of->f[H_ORG_NAME], &of->org_id)) !=
	        CR_OK)
		return err;
	if (pf->person_id == 0) {
		struct cr_person p = {0};
		snprintf(p.sub, sizeof(p.sub), "%s", pf->f[H_SUB]);
		snprintf(p.name, sizeof(p.name), "%s", pf->f[H_NAME]);
		snprintf(p.name_zh, sizeof(p.name_zh), "%s", pf->f[H_NAME_ZH]);
		snprintf(p.email, sizeof(p.email), "%s", pf->f[H_EMAIL]);
		snprintf(p.id_number, sizeof(p.id_number), "%s", pf->f[H_ID_NUMBER]);
		snprintf(p.department, sizeof(p.department), "%s", pf->f[H_DEPARTMENT]);
		snprintf(p.position, sizeof(p.position), "%s", pf->f[H_POSITION]);
		p.org_id = of->org_id;
		if ((err = cr_db_person_upsert(c->db, &p, &pf->person_id)) != CR_OK)
			return err;
	}
	snprintf(cert.serial_hex, sizeof(cert.serial_hex), "%s", h->serial);
	cert.type = h->type;
	snprintf(cert.status, sizeof(cert.status), "issued");
	cert.not_before = cr->ci->not_before;
	cert.not_after = cr->ci->not_after;
	cert.holder_id = pf->person_id;
	snprintf(cert.email, sizeof(cert.email), "%s", h->f[H_EMAIL]);
	cert.org_id = of->org_id;
	snprintf(cert.department, sizeof(cert.department), "%s", h->f[H_DEPARTMENT]);
	snprintf(cert.position, sizeof(cert.position), "%s", h->f[H_POSITION]);
	snprintf(cert.tx_limit, sizeof(cert.tx_limit), "%s", h->f[H_TX_LIMIT]);
	snprintf(cert.proxy, sizeof(cert.proxy), "%s", h->f[H_PROXY]);
	snprintf(cert.signing_account, sizeof(cert.signing_account), "%s", h->f[H_SIGNING_ACCOUNT]);
	cert.der = cr->ci->der;
	cert.der_len = cr->ci->der_len;
	if ((err = cr_db_cert_insert(c->db, &cert, &id)) != CR_OK)
		return err;
	snprintf(object, sizeof(object), "cert:%lld", (long long)id);
	snprintf(detail, sizeof(detail), "import %.150s (%.150s:%zu)", cr->label, c->file, h->line);
	return cr_db_audit(c->db, now, &(struct cr_audit){"operator", "import_cert", object, "", detail});
}

int
cr_cmd_import_certs(const struct cr_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {{"holders", required_argument, NULL, 'H'}, {NULL, 0, NULL, 0}};
	struct certs_ctx c = {0};
	struct cr_store *st = NULL;
	struct cr_pki_cert_info **infos = NULL;
	size_t *ninfos = NULL, people = 0, orgs = 0;
	struct cr_csv_error ce;
	char *buf = NULL;
	size_t len;
	int npaths = 0, ch, rc = 1;
	char **paths;
	time_t now = time(NULL);
	enum cr_err err;

	if (cr_cmd_wants_help(argc, argv,
	        "usage: certrenew import-certs --holders HOLDERS.csv CERTFILE...\n"
	        "Loads existing certificates into the inventory. CERTFILEs are PEM (one or more\n"
	        "certificates) or DER; HOLDERS.csv has one row per certificate with the header\n"
	        "serial,type,sub,name,name_zh,id_number,email,org_code,org_name,department,\n"
	        "position,tx_limit,proxy,signing_account. Dates come from the certificates.\n"
	        "Everything is checked first; if anything is bad, each bad line or file is printed\n"
	        "with its reason and nothing is written (exit 1). Otherwise organisations and\n"
	        "people are created or updated and the certificates inserted in one transaction.\n"
	        "See docs/operators.md.\n"))
		return 0;
	optind = 1;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "H:", opts, NULL)) != -1) {
		if (ch != 'H')
			goto usage;
		c.file = optarg;
	}
	paths = argv + optind;
	npaths = argc - optind;
	if (c.file == NULL || npaths < 1)
		goto usage;

	if ((infos = calloc((size_t)npaths, sizeof(*infos))) == NULL ||
	    (ninfos = calloc((size_t)npaths, sizeof(*ninfos))) == NULL) {
		fprintf(stderr, "certrenew: out of memory\n");
		goto out;
	}
	if (read_input(c.file, MAX_CSV_BYTES, &buf, &len) != CR_OK)
		goto out;
	if ((err = read_cert_files(&c, paths, npaths, infos, ninfos)) != CR_OK) {
		fprintf(stderr, "certrenew: import stopped: %s\n", cr_err_str(err));
		goto out;
	}
	if (open_store(cfg, &st, &c.db) != CR_OK)
		goto out;
	err = cr_csv_parse(buf, len, holder_record, &c, &ce);
	if (!parse_checked(c.file, err, &ce, c.fatal, c.header_seen, &c.bad))
		goto out;
	/* Certificates nobody claimed (only meaningful when the whole CSV was read). */
	if (err == CR_OK)
		for (size_t i = 0; i < c.ncerts; i++)
			if (c.certs[i].row == 0) {
				fprintf(stderr, "%s: no holder row for serial %s in %s\n", c.certs[i].label,
				    c.certs[i].ci->serial_hex, c.file);
				c.bad++;
			}
	if (c.bad > 0) {
		fprintf(stderr, "certrenew: %ld problem%s; nothing imported\n", c.bad, c.bad == 1 ? "" : "s");
		goto out;
	}
	for (size_t i = 0; i < c.n; i++) {
		people += c.rows[i].person_first == i;
		orgs += c.rows[i].org_first == i;
		if ((err = write_row(&c, &c.rows[i], now)) != CR_OK) {
			write_failed(c.file, c.rows[i].line, err);
			goto out;
		}
	}
	if (!commit(c.db))
		goto out;
	printf("certrenew: imported %zu certificate%s of %zu holder%s in %zu organisation%s\n", c.n,
	    c.n == 1 ? "" : "s", people, people == 1 ? "" : "s", orgs, orgs == 1 ? "" : "s");
	rc = 0;
	goto out;
usage:
	fprintf(stderr, "usage: certrenew import-certs --holders HOLDERS.csv CERTFILE...\n");
	rc = 2;
out:
	close_store(st, c.db);
	for (size_t i = 0; i < c.n; i++)
		holder_row_free(&c.rows[i]);
	free(c.rows);
	free(c.certs);
	cr_strmap_free(&c.cert_by_serial);
	cr_strmap_free(&c.row_by_serial);
	cr_strmap_free(&c.row_by_sub);
	cr_strmap_free(&c.row_by_org);
	for (int i = 0; infos != NULL && i < npaths; i++)
		cr_pki_certs_free(infos[i], ninfos[i]);
	free(infos);
	free(ninfos);
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------- import-positions */

#define MAX_POSITIONS_BYTES (256u * 1024u)

/* One title per line: UTF-8 without control characters, at most CR_TEXT - 1 bytes; blank lines and
   lines starting with '#' are skipped. Trailing spaces and a CR are dropped. */
static bool
position_line(const char *file, size_t line, char *s, size_t n, char out[CR_TEXT])
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\t'))
		n--;
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	out[0] = '\0';
	if (n == 0 || *s == '#')
		return true;
	if (n >= CR_TEXT || !cr_utf8_valid(s, n) || memchr(s, '\0', n) != NULL) {
		fprintf(stderr, "certrenew: %s:%zu: %s\n", file, line, n >= CR_TEXT ? "longer than 255 bytes" : "not UTF-8");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(stderr, "certrenew: %s:%zu: a control character\n", file, line);
			return false;
		}
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

int
cr_cmd_import_positions(const struct cr_config *cfg, int argc, char **argv)
{
	struct cr_store *st = NULL;
	struct cr_db *db = NULL;
	char *buf = NULL, (*titles)[CR_TEXT] = NULL, detail[400];
	size_t len, n = 0, line = 0, added = 0, bad = 0;
	time_t now = time(NULL);
	int rc = 1;

	if (cr_cmd_wants_help(argc, argv,
	        "usage: certrenew import-positions FILE\n"
	        "Adds the positions (職務/職級/職位) a holder may choose at step 3, one per line\n"
	        "(UTF-8; blank lines and lines starting with # are skipped). Positions already\n"
	        "known stay; every line is checked first and nothing is written if one is bad.\n"))
		return 0;
	if (argc != 2) {
		fprintf(stderr, "usage: certrenew import-positions FILE\n");
		return 2;
	}
	if (read_input(argv[1], MAX_POSITIONS_BYTES, &buf, &len) != CR_OK)
		return 1;
	if ((titles = calloc(CR_MAX_POSITIONS, sizeof(*titles))) == NULL)
		goto out;
	for (char *p = buf, *end = buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ln = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		char t[CR_TEXT];

		line++;
		if (!position_line(argv[1], line, p, ln, t))
			bad++;
		else if (t[0] != '\0' && n == CR_MAX_POSITIONS) {
			fprintf(stderr, "certrenew: %s:%zu: more than %d positions\n", argv[1], line, CR_MAX_POSITIONS);
			bad++;
			break;
		} else if (t[0] != '\0')
			memcpy(titles[n++], t, sizeof(t));
		p += ln + 1;
	}
	if (bad > 0 || n == 0) {
		fprintf(stderr, "certrenew: %s: %s; nothing imported\n", argv[1], bad > 0 ? "bad lines" : "no positions");
		goto out;
	}
	if (open_store(cfg, &st, &db) != CR_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		bool was_added = false;

		if (cr_db_position_import(db, titles[i], now, &was_added) != CR_OK) {
			fprintf(stderr, "certrenew: %s: storing a position failed; nothing imported\n", argv[1]);
			goto out;
		}
		added += was_added;
	}
	snprintf(detail, sizeof(detail), "import %.280s: %zu positions, %zu new", argv[1], n, added);
	if (cr_db_audit(db, now, &(struct cr_audit){"operator", "positions_import", "", "", detail}) != CR_OK ||
	    !commit(db))
		goto out;
	printf("certrenew: %s: %zu position%s imported (%zu new)\n", argv[1], n, n == 1 ? "" : "s", added);
	rc = 0;
out:
	if (st != NULL)
		close_store(st, db);
	free(titles);
	free(buf);
	return rc;
}
