/*
 * The application document (src/doc/pdf.c, src/core/declaration.c): rendered for
 * real, then read back with poppler's tools as an auditor would: pdftotext finds
 * the holder, every serial, the declaration and the nonce; pdffonts shows the
 * CJK fonts embedded; pdftoppm draws a page that is not blank.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/declaration.h"
#include "doc/pdf.h"

#define LONG_ZH "歐陽司徒上官諸葛東方皇甫尉遲公孫慕容長孫宇文司馬令狐鍾離"

static const struct cr_doc_cert CERTS[] = {
	{"政府機關合格證書", "4a1b2c3d4e5f60718293a4b5c6d7e8f9", "2026-12-20"},
	{"政府“雲簽”帳戶", "0badc0ffee", "2026-12-21"},
};
static const char *const EMAILS[] = {"holder@example.test", "other@example.test"};

static struct cr_doc_application
sample(void)
{
	return (struct cr_doc_application){.app_number = "R2026-000042", .applicant_name = "xxxx xexx WONG",
	    .applicant_name_zh = LONG_ZH, .resident_number = "1234567(8)", .org = "Direccao dos Servicos de Correios",
	    .unit = "DSI", .title = "Tecnico superior", .email = "holder@example.test", .emails = EMAILS, .n_emails = 2,
	    .certs = CERTS, .n_certs = 2, .identity_summary = "身份證明文件資料核對相符", .date = "2026-12-03",
	    .nonce = "nonce-Yx8s9abcDEF0123456789"};
}

struct world {
	struct cr_doc *doc;
	char dir[64], pdf[96];
};

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (w == NULL || cr_doc_new(&w->doc) != CR_OK)
		return -1;
	snprintf(w->dir, sizeof(w->dir), "/tmp/cr-pdf-XXXXXX");
	if (mkdtemp(w->dir) == NULL)
		return -1;
	snprintf(w->pdf, sizeof(w->pdf), "%s/a.pdf", w->dir);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "teardown: cannot remove %s\n", w->dir);
	cr_doc_free(w->doc);
	free(w);
	return 0;
}

static void
render_to_file(struct world *w, const struct cr_doc_application *a)
{
	struct cr_buf b;
	FILE *f;

	cr_buf_init(&b, 8u << 20);
	assert_int_equal(cr_doc_render_application(w->doc, a, &b), CR_OK);
	assert_true(b.len > 1000);
	assert_memory_equal(b.data, "%PDF-", 5);
	assert_non_null(f = fopen(w->pdf, "wb"));
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);
	cr_buf_free(&b);
}

/* The output of a command, whitespace removed (pdftotext breaks lines where the layout does). */
static char *
output_of(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	struct cr_buf b;
	char chunk[4096];
	size_t n;

	assert_non_null(p);
	cr_buf_init(&b, 4u << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		for (size_t i = 0; i < n; i++)
			if (chunk[i] != ' ' && chunk[i] != '\n' && chunk[i] != '\t' && chunk[i] != '\f')
				assert_int_equal(cr_buf_add(&b, &chunk[i], 1), CR_OK);
	assert_int_equal(pclose(p), 0);
	return cr_buf_take(&b);
}

static bool
have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void
test_text_reads_back(void **state)
{
	struct world *w = *state;
	struct cr_doc_application a = sample();
	char cmd[256], *text;

	if (!have("pdftotext"))
		skip();
	render_to_file(w, &a);
	snprintf(cmd, sizeof(cmd), "pdftotext -enc UTF-8 '%s' -", w->pdf);
	text = output_of(cmd);
	assert_non_null(strstr(text, "WONG"));
	assert_non_null(strstr(text, LONG_ZH));
	assert_non_null(strstr(text, "1234567(8)"));
	for (size_t i = 0; i < a.n_certs; i++)
		assert_non_null(strstr(text, CERTS[i].serial_hex));
	assert_non_null(strstr(text, "本人確認上述提交之所有資料真實及正確。"));
	assert_non_null(strstr(text, cr_declaration_title));
	assert_non_null(strstr(text, a.nonce));
	assert_non_null(strstr(text, "R2026-000042"));
	free(text);
}

static void
test_fonts_embedded(void **state)
{
	struct world *w = *state;
	struct cr_doc_application a = sample();
	char cmd[256], *fonts;

	if (!have("pdffonts"))
		skip();
	render_to_file(w, &a);
	snprintf(cmd, sizeof(cmd), "pdffonts '%s' | grep -i 'NotoSansCJK' | grep -c ' yes yes yes'", w->pdf);
	fonts = output_of(cmd);
	assert_true(strtol(fonts, NULL, 10) >= 1);
	free(fonts);
	/* No font is left to the reader's machine. */
	snprintf(cmd, sizeof(cmd), "pdffonts '%s' | tail -n +3 | awk '{ if ($(NF-4) != \"yes\") n++ } END { print n+0 }'",
	    w->pdf);
	fonts = output_of(cmd);
	assert_string_equal(fonts, "0");
	free(fonts);
}

/* A PGM (P5) of the first page at 30 dpi: the share of dark pixels. */
static void
test_page_not_blank(void **state)
{
	struct world *w = *state;
	struct cr_doc_application a = sample();
	char cmd[256], path[128];
	int width = 0, height = 0, max = 0;
	long dark = 0;
	FILE *f;

	if (!have("pdftoppm"))
		skip();
	render_to_file(w, &a);
	snprintf(cmd, sizeof(cmd), "pdftoppm -r 30 -gray -f 1 -l 1 '%s' '%s/page'", w->pdf, w->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/page-1.pgm", w->dir);
	if (access(path, R_OK) != 0)
		snprintf(path, sizeof(path), "%s/page-01.pgm", w->dir);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fscanf(f, "P5 %d %d %d", &width, &height, &max), 3);
	fgetc(f);
	assert_true(width > 200 && height > 300 && max == 255);
	for (long i = 0; i < (long)width * height; i++) {
		int c = fgetc(f);
		assert_true(c != EOF);
		dark += c < 128;
	}
	fclose(f);
	/* Text covers a few percent of an A4 page; a blank page has none, a black one all. */
	assert_true(dark > (long)width * height / 200);
	assert_true(dark < (long)width * height / 3);
}

static void
test_bad_input_refused(void **state)
{
	struct world *w = *state;
	struct cr_doc_application a = sample();
	struct cr_doc_cert bad[1] = {{"政府機關合格證書", "ab\xff\xfe", "2026-12-20"}};
	struct cr_buf b;

	cr_buf_init(&b, 8u << 20);
	a.applicant_name = "WONG \xc3\x28";
	assert_int_equal(cr_doc_render_application(w->doc, &a, &b), CR_ERR_INVALID);
	a = sample();
	a.certs = bad;
	a.n_certs = 1;
	assert_int_equal(cr_doc_render_application(w->doc, &a, &b), CR_ERR_INVALID);
	a = sample();
	a.n_certs = 0;
	assert_int_equal(cr_doc_render_application(w->doc, &a, &b), CR_ERR_INVALID);
	a = sample();
	a.nonce = NULL;
	assert_int_equal(cr_doc_render_application(w->doc, &a, &b), CR_ERR_INVALID);
	assert_int_equal(b.len, 0);
	/* A cap the document cannot fit in. */
	cr_buf_free(&b);
	cr_buf_init(&b, 1000);
	a = sample();
	assert_int_equal(cr_doc_render_application(w->doc, &a, &b), CR_ERR_TOOBIG);
	cr_buf_free(&b);
}

static void
test_declaration_text(void **state)
{
	unsigned char a[32], b[32];

	(void)state;
	assert_string_equal(cr_declaration_title, "申請人／登記人協定及聲明");
	for (int i = 0; i < CR_DECLARATION_POINTS; i++) {
		assert_true(strlen(cr_declaration_points[i]) > 20);
		assert_null(strstr(cr_declaration_points[i], "**"));
	}
	assert_string_equal(cr_declaration_points[0], "本人確認上述提交之所有資料真實及正確。");
	cr_declaration_sha256(a);
	cr_declaration_sha256(b);
	assert_memory_equal(a, b, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text_reads_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fonts_embedded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_not_blank, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_refused, setup, teardown),
		cmocka_unit_test(test_declaration_text),
	};
	return cmocka_run_group_tests_name("pdf", tests, NULL, NULL);
}
