/*
 * Documents the CA keeps as records: the application document of step 3 (SPEC
 * R7.3), an A4 PDF rendered with cairo and pango in Noto Sans/Serif CJK TC, the
 * fonts embedded (subset) so the file reads the same anywhere, for as long as
 * the record is kept.
 *
 * Thread-safe: one struct cr_doc serves every thread; renders are serialised
 * by its mutex (pango's font map and fontconfig are not reentrant per map).
 */
#ifndef CR_DOC_PDF_H
#define CR_DOC_PDF_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

struct cr_doc;

struct cr_doc_cert {
	const char *type_label;  /* 政府機關合格證書 ... */
	const char *serial_hex;
	const char *not_after;   /* "YYYY-MM-DD" */
};

/* What the application document says; all strings UTF-8, borrowed for the call. */
struct cr_doc_application {
	const char *app_number;
	const char *applicant_name;
	const char *applicant_name_zh;  /* "" when none */
	const char *resident_number;
	const char *org, *unit, *title; /* 機構名稱, 部門/分部, 職務/職級/職位 */
	const char *email;
	const char *const *emails;      /* the verified addresses */
	size_t n_emails;
	const struct cr_doc_cert *certs;
	size_t n_certs;
	const char *identity_summary;
	const char *date;               /* "YYYY-MM-DD" */
	const char *nonce;              /* this document's one-time nonce */
};

/* CR_ERR_CONFIG (logged) when "Noto Sans CJK TC" does not resolve to a Noto CJK font. */
enum cr_err cr_doc_new(struct cr_doc **out);
void cr_doc_free(struct cr_doc *d); /* NULL is a no-op */

/* Appends the PDF to pdf. CR_ERR_INVALID for a missing field or text that is not UTF-8;
   CR_ERR_TOOBIG past pdf's cap; CR_ERR_CRYPTO never; CR_ERR_IO when cairo fails. */
enum cr_err cr_doc_render_application(struct cr_doc *d, const struct cr_doc_application *a, struct cr_buf *pdf);

#endif
