/*
 * CSV reader; see csv.h. One pass over the buffer with a fixed scratch area
 * for the unquoted fields of the current record: a record's unquoted text is
 * never longer than the record as written, so capping the written length at
 * CR_CSV_MAX_RECORD bounds the scratch area (plus one NUL per field).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/csv.h"
#include "util/text.h"

struct parser {
	const char *buf;
	size_t len, pos;
	size_t line;          /* current physical line, 1-based */
	size_t rec_start;     /* offset of the current record */
	size_t used;          /* bytes of scratch in use */
	struct cr_csv_error *err;
	struct cr_csv_record rec;
	char scratch[CR_CSV_MAX_RECORD + CR_CSV_MAX_FIELDS];
};

static enum cr_err
fail(struct parser *p, enum cr_err e, size_t line, const char *reason)
{
	if (p->err != NULL) {
		p->err->line = line;
		snprintf(p->err->reason, sizeof(p->err->reason), "%s", reason);
	}
	return e;
}

/* Moves past a line end at pos (already known to be one) and counts the line. */
static void
newline(struct parser *p, size_t width)
{
	p->pos += width;
	p->line++;
}

/* Refuses to start reading a line past the cap (a final line end does not start one). */
static enum cr_err
line_cap(struct parser *p)
{
	if (p->line > CR_CSV_MAX_LINES && p->pos < p->len)
		return fail(p, CR_ERR_TOOBIG, p->line, "more than 1000000 lines");
	return CR_OK;
}

/* Appends one byte of field text; the written record may not pass its cap. */
static enum cr_err
put(struct parser *p, char c)
{
	if (p->pos + 1 - p->rec_start > CR_CSV_MAX_RECORD)
		return fail(p, CR_ERR_TOOBIG, p->rec.line, "record longer than 8192 bytes");
	p->scratch[p->used++] = c;
	return CR_OK;
}

static enum cr_err
quoted_field(struct parser *p)
{
	size_t opened = p->line;
	enum cr_err e;

	p->pos++; /* the opening quote */
	for (;;) {
		char c;

		if (p->pos >= p->len)
			return fail(p, CR_ERR_INVALID, opened, "unterminated quoted field (no closing quote before the end)");
		c = p->buf[p->pos];
		if (c == '"') {
			if (p->pos + 1 < p->len && p->buf[p->pos + 1] == '"') {
				if ((e = put(p, '"')) != CR_OK)
					return e;
				p->pos += 2;
				continue;
			}
			p->pos++;
			break;
		}
		if (c == '\0')
			return fail(p, CR_ERR_INVALID, p->line, "NUL byte");
		if ((e = put(p, c)) != CR_OK)
			return e;
		if (c == '\n') {
			newline(p, 1);
			if ((e = line_cap(p)) != CR_OK)
				return e;
		} else
			p->pos++;
	}
	if (p->pos < p->len && p->buf[p->pos] != ',' && p->buf[p->pos] != '\r' && p->buf[p->pos] != '\n')
		return fail(p, CR_ERR_INVALID, p->line, "text after a closing quote");
	return CR_OK;
}

static enum cr_err
plain_field(struct parser *p)
{
	enum cr_err e;

	while (p->pos < p->len) {
		char c = p->buf[p->pos];

		if (c == ',' || c == '\r' || c == '\n')
			break;
		if (c == '"')
			return fail(p, CR_ERR_INVALID, p->line, "quote inside an unquoted field");
		if (c == '\0')
			return fail(p, CR_ERR_INVALID, p->line, "NUL byte");
		if ((e = put(p, c)) != CR_OK)
			return e;
		p->pos++;
	}
	return CR_OK;
}

/* Reads one record starting at p->pos (not at a line end); leaves pos after its line end. */
static enum cr_err
record(struct parser *p)
{
	enum cr_err e;

	p->rec_start = p->pos;
	p->rec.line = p->line;
	p->rec.nfields = 0;
	p->used = 0;
	for (;;) {
		size_t start = p->used, fline = p->line;

		if (p->rec.nfields == CR_CSV_MAX_FIELDS)
			return fail(p, CR_ERR_TOOBIG, p->line, "more than 64 fields");
		if (p->pos < p->len && p->buf[p->pos] == '"')
			e = quoted_field(p);
		else
			e = plain_field(p);
		if (e != CR_OK)
			return e;
		if (!cr_utf8_valid(p->scratch + start, p->used - start))
			return fail(p, CR_ERR_INVALID, fline, "not UTF-8");
		p->scratch[p->used++] = '\0';
		p->rec.field[p->rec.nfields] = p->scratch + start;
		p->rec.len[p->rec.nfields] = p->used - 1 - start;
		p->rec.nfields++;

		if (p->pos - p->rec_start > CR_CSV_MAX_RECORD)
			return fail(p, CR_ERR_TOOBIG, p->rec.line, "record longer than 8192 bytes");
		if (p->pos >= p->len)
			return CR_OK;
		switch (p->buf[p->pos]) {
		case ',':
			p->pos++;
			continue;
		case '\n':
			newline(p, 1);
			return CR_OK;
		default: /* '\r': the only other way a field ends */
			if (p->pos + 1 < p->len && p->buf[p->pos + 1] == '\n') {
				newline(p, 2);
				return CR_OK;
			}
			return fail(p, CR_ERR_INVALID, p->line, "bare CR (line ends must be CRLF or LF)");
		}
	}
}

enum cr_err
cr_csv_parse(const char *buf, size_t len, cr_csv_record_fn fn, void *arg, struct cr_csv_error *err)
{
	struct parser local = {.buf = buf, .len = buf != NULL ? len : 0, .line = 1, .err = err};
	struct parser *p = &local;
	enum cr_err e;

	if (err != NULL) {
		err->line = 0;
		err->reason[0] = '\0';
	}
	if (p->len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		p->pos = 3;
	while (p->pos < p->len) {
		char c = p->buf[p->pos];

		if ((e = line_cap(p)) != CR_OK)
			return e;
		if (c == '\n') { /* empty line */
			newline(p, 1);
			continue;
		}
		if (c == '\r' && p->pos + 1 < p->len && p->buf[p->pos + 1] == '\n') {
			newline(p, 2);
			continue;
		}
		if ((e = record(p)) != CR_OK)
			return e;
		if ((e = fn(&p->rec, arg)) != CR_OK)
			return e;
	}
	return CR_OK;
}
