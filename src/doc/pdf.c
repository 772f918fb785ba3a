/* The application document as a PDF (cairo + pango); see pdf.h. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include "core/declaration.h"
#include "doc/pdf.h"
#include "util/log.h"
#include "util/text.h"

#define A4_W 595.28
#define A4_H 841.89
#define MARGIN 56.0
#define LABEL_W 120.0
#define SANS "Noto Sans CJK TC"
#define SERIF "Noto Serif CJK TC"
#define MAX_ITEMS 64

struct cr_doc {
	pthread_mutex_t mu;
	PangoFontMap *fonts;
};

/* One render: the surface, the cursor and the first error. */
struct page {
	cairo_surface_t *surface;
	cairo_t *cr;
	PangoContext *pc;
	double y;
	int pageno;
	enum cr_err err;
	struct cr_buf *out;
};

static bool
family_is_noto_cjk(PangoFontMap *fm, const char *family)
{
	PangoContext *pc = pango_font_map_create_context(fm);
	PangoFontDescription *want = pango_font_description_from_string(family);
	PangoFont *f = pango_font_map_load_font(fm, pc, want);
	bool ok = false;

	if (f != NULL) {
		PangoFontDescription *got = pango_font_describe(f);
		const char *name = pango_font_description_get_family(got);

		ok = name != NULL && strncmp(name, "Noto S", 6) == 0 && strstr(name, "CJK") != NULL;
		if (!ok)
			cr_error("doc", "font \"%s\" resolves to \"%s\", not Noto CJK (install fonts-noto-cjk)", family,
			    name ? name : "?");
		pango_font_description_free(got);
		g_object_unref(f);
	}
	pango_font_description_free(want);
	g_object_unref(pc);
	return ok;
}

enum cr_err
cr_doc_new(struct cr_doc **out)
{
	struct cr_doc *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL)
		return CR_ERR_NOMEM;
	pthread_mutex_init(&d->mu, NULL);
	d->fonts = pango_cairo_font_map_new();
	if (d->fonts == NULL || !family_is_noto_cjk(d->fonts, SANS) || !family_is_noto_cjk(d->fonts, SERIF)) {
		cr_doc_free(d);
		return CR_ERR_CONFIG;
	}
	*out = d;
	return CR_OK;
}

void
cr_doc_free(struct cr_doc *d)
{
	if (d == NULL)
		return;
	if (d->fonts != NULL)
		g_object_unref(d->fonts);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

static cairo_status_t
write_out(void *closure, const unsigned char *data, unsigned int len)
{
	struct page *p = closure;
	enum cr_err err = cr_buf_add(p->out, data, len);

	if (err != CR_OK) {
		if (p->err == CR_OK)
			p->err = err;
		return CAIRO_STATUS_WRITE_ERROR;
	}
	return CAIRO_STATUS_SUCCESS;
}

static void
new_page(struct page *p)
{
	cairo_show_page(p->cr);
	p->y = MARGIN;
	p->pageno++;
}

/* Lays out text at (x, cursor) within width in font (a pango description string); starts a new
   page first when it would not fit. Advances the cursor by its height plus after. */
static void
text(struct page *p, const char *font, double x, double width, const char *s, double after)
{
	PangoLayout *l = pango_layout_new(p->pc);
	PangoFontDescription *fd = pango_font_description_from_string(font);
	int w = 0, h = 0;

	pango_layout_set_font_description(l, fd);
	pango_layout_set_width(l, (int)(width * PANGO_SCALE));
	pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	pango_layout_set_text(l, s, -1);
	pango_layout_get_size(l, &w, &h);
	if (p->y + (double)h / PANGO_SCALE > A4_H - MARGIN && p->y > MARGIN)
		new_page(p);
	cairo_move_to(p->cr, x, p->y);
	pango_cairo_show_layout(p->cr, l);
	p->y += (double)h / PANGO_SCALE + after;
	pango_font_description_free(fd);
	g_object_unref(l);
}

/* A label and its value on one row; the taller of the two advances the cursor. */
static void
field(struct page *p, const char *label, const char *value)
{
	double y0, yl;
	int page;

	if (p->y > A4_H - MARGIN - 40)
		new_page(p);
	y0 = p->y;
	page = p->pageno;
	text(p, SANS " Bold 10", MARGIN, LABEL_W - 8, label, 0);
	yl = p->y;
	p->y = y0;
	text(p, SANS " 10", MARGIN + LABEL_W, A4_W - 2 * MARGIN - LABEL_W, value[0] ? value : "—", 0);
	if (p->pageno == page && yl > p->y)
		p->y = yl;
	p->y += 5;
}

static void
rule(struct page *p)
{
	cairo_set_line_width(p->cr, 0.6);
	cairo_move_to(p->cr, MARGIN, p->y);
	cairo_line_to(p->cr, A4_W - MARGIN, p->y);
	cairo_stroke(p->cr);
	p->y += 8;
}

static void
heading(struct page *p, const char *s)
{
	p->y += 6;
	if (p->y > A4_H - MARGIN - 60)
		new_page(p);
	text(p, SANS " Bold 12", MARGIN, A4_W - 2 * MARGIN, s, 3);
	rule(p);
}

static void
certs_table(struct page *p, const struct cr_doc_application *a)
{
	const double c1 = MARGIN, c2 = MARGIN + 150, c3 = MARGIN + 390;
	double y0;

	y0 = p->y;
	text(p, SANS " Bold 9.5", c1, 140, "類型", 0);
	p->y = y0;
	text(p, SANS " Bold 9.5", c2, 230, "證書序號", 0);
	p->y = y0;
	text(p, SANS " Bold 9.5", c3, A4_W - MARGIN - c3, "證書到期日", 4);
	for (size_t i = 0; i < a->n_certs; i++) {
		double yl, ys, yd;

		if (p->y > A4_H - MARGIN - 30)
			new_page(p);
		y0 = p->y;
		text(p, SANS " 9.5", c1, 140, a->certs[i].type_label, 0);
		yl = p->y;
		p->y = y0;
		text(p, "DejaVu Sans Mono 8.5", c2, 230, a->certs[i].serial_hex, 0);
		ys = p->y;
		p->y = y0;
		text(p, SANS " 9.5", c3, A4_W - MARGIN - c3, a->certs[i].not_after, 0);
		yd = p->y;
		p->y = (yl > ys ? yl : ys) > yd ? (yl > ys ? yl : ys) : yd;
		p->y += 4;
	}
}

static void
declaration(struct page *p)
{
	char num[16];
	double y0;

	heading(p, cr_declaration_title);
	text(p, SANS " 10", MARGIN, A4_W - 2 * MARGIN, cr_declaration_lead, 4);
	for (int i = 0; i < CR_DECLARATION_POINTS; i++) {
		if (p->y > A4_H - MARGIN - 30)
			new_page(p);
		snprintf(num, sizeof(num), "%d.", i + 1);
		y0 = p->y;
		text(p, SANS " 10", MARGIN, 18, num, 0);
		p->y = y0;
		text(p, SANS " 10", MARGIN + 18, A4_W - 2 * MARGIN - 18, cr_declaration_points[i], 5);
	}
}

static bool
ok_text(const char *s, bool required)
{
	if (s == NULL)
		return !required;
	return (!required || *s != '\0') && cr_utf8_valid(s, strlen(s));
}

static bool
application_valid(const struct cr_doc_application *a)
{
	if (!ok_text(a->app_number, true) || !ok_text(a->applicant_name, true) || !ok_text(a->applicant_name_zh, false) ||
	    !ok_text(a->resident_number, true) || !ok_text(a->org, false) || !ok_text(a->unit, false) ||
	    !ok_text(a->title, false) || !ok_text(a->email, false) || !ok_text(a->identity_summary, false) ||
	    !ok_text(a->date, true) || !ok_text(a->nonce, true) || a->n_certs == 0 || a->n_certs > MAX_ITEMS ||
	    a->n_emails > MAX_ITEMS || a->certs == NULL || (a->n_emails > 0 && a->emails == NULL))
		return false;
	for (size_t i = 0; i < a->n_certs; i++)
		if (!ok_text(a->certs[i].type_label, true) || !ok_text(a->certs[i].serial_hex, true) ||
		    !ok_text(a->certs[i].not_after, true))
			return false;
	for (size_t i = 0; i < a->n_emails; i++)
		if (!ok_text(a->emails[i], true))
			return false;
	return true;
}

#define OR_EMPTY(s) ((s) != NULL ? (s) : "")

static void
body(struct page *p, const struct cr_doc_application *a)
{
	char name[600];
	struct cr_buf emails;

	text(p, SERIF " Bold 18", MARGIN, A4_W - 2 * MARGIN, "eSignTrust 證書續期申請書", 2);
	text(p, SANS " 10", MARGIN, A4_W - 2 * MARGIN, "電子證書服務（政府機關）· 證書續期", 10);
	rule(p);
	field(p, "申請編號", a->app_number);
	snprintf(name, sizeof(name), "%s%s%s", a->applicant_name, OR_EMPTY(a->applicant_name_zh)[0] ? " " : "",
	    OR_EMPTY(a->applicant_name_zh));
	field(p, "申請人", name);
	field(p, "身份證明文件編號", a->resident_number);
	field(p, "身份核對結果", OR_EMPTY(a->identity_summary));

	heading(p, "證書續期資料");
	field(p, "機構名稱", OR_EMPTY(a->org));
	field(p, "部門/分部", OR_EMPTY(a->unit));
	field(p, "職務/職級/職位", OR_EMPTY(a->title));
	field(p, "電郵地址", OR_EMPTY(a->email));
	cr_buf_init(&emails, 64u * 1024u);
	for (size_t i = 0; i < a->n_emails; i++)
		cr_buf_printf(&emails, "%s%s", i ? "\n" : "", a->emails[i]);
	field(p, "已驗證之電郵地址", emails.len ? cr_buf_str(&emails) : "");
	cr_buf_free(&emails);

	heading(p, "待續期之證書");
	certs_table(p, a);

	declaration(p);
	p->y += 10;
	rule(p);
	field(p, "申請日期", a->date);
	field(p, "申請文件一次性編號", a->nonce);
	text(p, SANS " 8", MARGIN, A4_W - 2 * MARGIN,
	    "本申請文件由申請人以公務通「電子簽名服務」簽署；簽署覆蓋本文件之 SHA-256 摘要。", 0);
}

enum cr_err
cr_doc_render_application(struct cr_doc *d, const struct cr_doc_application *a, struct cr_buf *pdf)
{
	struct page p = {.out = pdf, .y = MARGIN, .err = CR_OK};
	cairo_status_t st;

	if (d == NULL || a == NULL || pdf == NULL || !application_valid(a))
		return CR_ERR_INVALID;
	pthread_mutex_lock(&d->mu);
	p.surface = cairo_pdf_surface_create_for_stream(write_out, &p, A4_W, A4_H);
	cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_TITLE, "eSignTrust 證書續期申請書");
	cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_CREATOR, "certrenew");
	cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_SUBJECT, a->app_number);
	p.cr = cairo_create(p.surface);
	p.pc = pango_font_map_create_context(d->fonts);
	pango_cairo_update_context(p.cr, p.pc);
	cairo_set_source_rgb(p.cr, 0.1, 0.1, 0.1);
	body(&p, a);
	cairo_show_page(p.cr);
	st = cairo_status(p.cr);
	g_object_unref(p.pc);
	cairo_destroy(p.cr);
	cairo_surface_finish(p.surface);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(p.surface);
	cairo_surface_destroy(p.surface);
	pthread_mutex_unlock(&d->mu);
	if (p.err != CR_OK)
		return p.err;
	if (st != CAIRO_STATUS_SUCCESS) {
		cr_error("doc", "cairo: %s", cairo_status_to_string(st));
		return CR_ERR_IO;
	}
	return CR_OK;
}
