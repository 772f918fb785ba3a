/* Unit tests of the template engine (src/web/tmpl.c). */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/buf.h"
#include "util/tmpl.h"

#define OUT_CAP (1024 * 1024)

/* Renders src (named "t") with the JSON text data; returns the output or NULL. */
static char *
render(const char *src, const char *data, enum cr_err *errp)
{
	struct cr_tmpl_set *set = NULL;
	struct cr_buf out;
	json_t *ctx = NULL;
	char errbuf[256];
	enum cr_err err;
	char *res = NULL;

	cr_buf_init(&out, OUT_CAP);
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	err = cr_tmpl_add(set, "t", src, strlen(src), errbuf, sizeof(errbuf));
	if (err != CR_OK)
		fail_msg("compile failed: %s", errbuf);
	if (data != NULL) {
		ctx = json_loads(data, JSON_DECODE_ANY, NULL);
		assert_non_null(ctx);
	}
	err = cr_tmpl_render(set, "t", ctx, &out);
	if (errp != NULL)
		*errp = err;
	if (err == CR_OK)
		res = cr_buf_take(&out);
	cr_buf_free(&out);
	json_decref(ctx);
	cr_tmpl_set_free(set);
	return res;
}

static void
expect(const char *src, const char *data, const char *want)
{
	enum cr_err err;
	char *got = render(src, data, &err);

	if (err != CR_OK)
		fail_msg("render of \"%s\" failed: %s", src, cr_err_str(err));
	assert_string_equal(got, want);
	free(got);
}

/* Compiling src must fail with CR_ERR_INVALID and an error starting with want. */
static void
expect_syntax(const char *src, const char *want)
{
	struct cr_tmpl_set *set = NULL;
	char errbuf[256];

	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "t", src, strlen(src), errbuf, sizeof(errbuf)),
	    CR_ERR_INVALID);
	if (strncmp(errbuf, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", errbuf, want);
	/* The failed template was not added. */
	assert_int_equal(cr_tmpl_render(set, "t", NULL, &(struct cr_buf){0}), CR_ERR_NOTFOUND);
	cr_tmpl_set_free(set);
}

/* ---- variables ---- */

static void
test_plain_text(void **state)
{
	(void)state;
	expect("", "{}", "");
	expect("hello, world\n", "{}", "hello, world\n");
	expect("a { b } c }} d", "{}", "a { b } c }} d");
}

static void
test_variable(void **state)
{
	(void)state;
	expect("Hi {{name}}!", "{\"name\":\"Ana\"}", "Hi Ana!");
	expect("{{ name }}|{{\tname\n}}", "{\"name\":\"x\"}", "x|x");
	expect("{{a}}{{b}}{{a}}", "{\"a\":\"1\",\"b\":\"2\"}", "121");
}

static void
test_variable_utf8(void **state)
{
	(void)state;
	expect("{{n}}", "{\"n\":\"政府機關合格證書\"}", "政府機關合格證書");
}

static void
test_missing_and_falsy_values(void **state)
{
	(void)state;
	expect("[{{nope}}]", "{}", "[]");
	expect("[{{z}}][{{f}}]", "{\"z\":null,\"f\":false}", "[][]");
	expect("[{{t}}]", "{\"t\":true}", "[true]");
	expect("[{{o}}][{{a}}]", "{\"o\":{\"x\":1},\"a\":[1,2]}", "[][]");
	expect("[{{x}}]", NULL, "[]");
}

static void
test_numbers(void **state)
{
	(void)state;
	expect("{{i}} {{n}} {{z}}", "{\"i\":42,\"n\":-7,\"z\":0}", "42 -7 0");
	expect("{{big}}", "{\"big\":9007199254740993}", "9007199254740993");
	expect("{{r}} {{s}} {{t}}", "{\"r\":1.5,\"s\":1e20,\"t\":-0.25}", "1.5 1e+20 -0.25");
}

static void
test_dotted_names(void **state)
{
	(void)state;
	expect("{{a.b.c}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}", "deep");
	expect("[{{a.x.c}}]", "{\"a\":{\"b\":{\"c\":\"deep\"}}}", "[]");
	expect("[{{a.b.c}}]", "{\"a\":{\"b\":\"str\"}}", "[]");
	expect("{{user.first-name}}", "{\"user\":{\"first-name\":\"Li\"}}", "Li");
}

static void
test_current_item(void **state)
{
	(void)state;
	expect("{{#l}}<{{.}}>{{/l}}", "{\"l\":[1,\"b\",true,2.5]}", "<1><b><true><2.5>");
	expect("{{.}}", "\"top\"", "top");
}

/* ---- escaping ---- */

static void
test_escaping(void **state)
{
	(void)state;
	expect("{{s}}", "{\"s\":\"a&b<c>d\\\"e'f`g=h\"}",
	    "a&amp;b&lt;c&gt;d&quot;e&#39;f&#96;g&#61;h");
	expect("{{& s}}", "{\"s\":\"<b>&</b>\"}", "<b>&</b>");
	expect("{{&s}}|{{s}}", "{\"s\":\"<i>\"}", "<i>|&lt;i&gt;");
}

static void
test_hostile_holder_name_inert(void **state)
{
	static const char data[] = "{\"holder\":\"<script>alert(1)</script>\\\"'\"}";
	char *got;
	enum cr_err err;

	(void)state;
	got = render("<p>{{holder}}</p>", data, &err);
	assert_int_equal(err, CR_OK);
	assert_null(strstr(got, "<script"));
	assert_null(strchr(got, '"'));
	assert_null(strchr(got, '\''));
	assert_string_equal(got, "<p>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;</p>");
	free(got);

	/* Inside attribute values, quoted either way: no quote can close them. */
	got = render("<input value=\"{{holder}}\" title='{{holder}}'>", data, &err);
	assert_int_equal(err, CR_OK);
	assert_null(strstr(got, "<script"));
	assert_string_equal(got,
	    "<input value=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;\" "
	    "title='&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;'>");
	free(got);

	/* The same holder through a section and a dotted name. */
	got = render("{{#people}}<a title=\"{{.}}\">{{.}}</a>{{/people}}",
	    "{\"people\":[\"<script>alert(1)</script>\\\"'\"]}", &err);
	assert_int_equal(err, CR_OK);
	assert_null(strstr(got, "<script"));
	free(got);
}

static void
test_html_escape_direct(void **state)
{
	struct cr_buf b;
	static const char nul[] = {'a', '\0', '<'};

	(void)state;
	cr_buf_init(&b, 100);
	assert_int_equal(cr_html_escape(&b, "", 0), CR_OK);
	assert_int_equal(cr_html_escape(&b, NULL, 0), CR_OK);
	assert_string_equal(cr_buf_str(&b), "");
	assert_int_equal(cr_html_escape(&b, "plain", 5), CR_OK);
	assert_int_equal(cr_html_escape(&b, "<&>", 2), CR_OK);   /* only "<&" */
	assert_string_equal(cr_buf_str(&b), "plain&lt;&amp;");
	cr_buf_reset(&b);
	assert_int_equal(cr_html_escape(&b, nul, sizeof(nul)), CR_OK);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "a\0&lt;", 6);
	cr_buf_free(&b);

	cr_buf_init(&b, 3);   /* "&lt;" needs 4 */
	assert_int_equal(cr_html_escape(&b, "<", 1), CR_ERR_TOOBIG);
	cr_buf_free(&b);
}

/* ---- sections ---- */

static void
test_section_array(void **state)
{
	(void)state;
	expect("{{#l}}[{{n}}]{{/l}}", "{\"l\":[{\"n\":1},{\"n\":2},{\"n\":3}]}", "[1][2][3]");
	expect("a{{#l}}x{{/l}}b", "{\"l\":[]}", "ab");
}

static void
test_section_object(void **state)
{
	(void)state;
	expect("{{#u}}{{name}} <{{mail}}>{{/u}}", "{\"u\":{\"name\":\"Li\",\"mail\":\"l@x\"}}",
	    "Li <l@x>");
	expect("{{#u}}yes{{/u}}", "{\"u\":{}}", "yes");
}

static void
test_section_truthiness(void **state)
{
	static const char data[] =
	    "{\"t\":true,\"f\":false,\"z\":null,\"e\":\"\",\"s\":\"x\",\"n0\":0,\"n1\":3,"
	    "\"r0\":0.0,\"r1\":0.5}";

	(void)state;
	expect("{{#t}}T{{/t}}{{#f}}F{{/f}}{{#z}}Z{{/z}}{{#e}}E{{/e}}{{#s}}S{{/s}}"
	    "{{#n0}}0{{/n0}}{{#n1}}1{{/n1}}{{#r0}}r{{/r0}}{{#r1}}R{{/r1}}{{#m}}M{{/m}}",
	    data, "TS1R");
	expect("{{#s}}<{{.}}>{{/s}}", data, "<x>");
}

static void
test_inverted(void **state)
{
	static const char data[] =
	    "{\"t\":true,\"f\":false,\"z\":null,\"e\":\"\",\"l\":[],\"l1\":[1],\"n0\":0}";

	(void)state;
	expect("{{^t}}T{{/t}}{{^f}}F{{/f}}{{^z}}Z{{/z}}{{^e}}E{{/e}}{{^l}}L{{/l}}"
	    "{{^l1}}1{{/l1}}{{^n0}}0{{/n0}}{{^m}}M{{/m}}",
	    data, "FZEL0M");
	expect("{{#l}}row{{/l}}{{^l}}none{{/l}}", "{\"l\":[]}", "none");
}

static void
test_nested_sections(void **state)
{
	(void)state;
	expect("{{#a}}{{#b}}{{x}}{{/b}};{{/a}}",
	    "{\"a\":[{\"b\":[{\"x\":1},{\"x\":2}]},{\"b\":[]}]}", "12;;");
	expect("{{#a}}{{#a}}x{{/a}}{{/a}}", "{\"a\":[1,2]}", "xxxx");
}

static void
test_context_stack(void **state)
{
	static const char data[] =
	    "{\"org\":\"MOI\",\"name\":\"outer\",\"certs\":[{\"name\":\"c1\"},{\"serial\":7}]}";

	(void)state;
	/* Inner names win; missing ones fall back to outer frames. */
	expect("{{#certs}}{{name}}/{{org}}/{{serial}};{{/certs}}", data,
	    "c1/MOI/;outer/MOI/7;");
	/* A dotted name is resolved inside the first frame that has its head
	 * only, as in Mustache: no fallback for the rest of the path. */
	expect("[{{#in}}{{a.b}}{{/in}}]", "{\"a\":{\"b\":1},\"in\":{\"a\":{}}}", "[]");
	expect("[{{#in}}{{a.b}}{{/in}}]", "{\"a\":{\"b\":1},\"in\":{}}", "[1]");
	/* Scalar items are frames too, but names fall through them. */
	expect("{{#l}}{{org}}{{.}}{{/l}}", "{\"org\":\"O\",\"l\":[1,2]}", "O1O2");
}

static void
test_comments(void **state)
{
	(void)state;
	expect("a{{! a comment }}b", "{}", "ab");
	expect("a{{!\n multi-line {{ with <stuff> \n}}b", "{}", "ab");
	expect("{{!}}x", "{}", "x");
}

static void
test_whitespace_kept(void **state)
{
	(void)state;
	/* No standalone-line handling: tags' lines keep their newlines. */
	expect("<ul>\n{{#l}}\n<li>{{.}}</li>\n{{/l}}\n</ul>", "{\"l\":[1]}",
	    "<ul>\n\n<li>1</li>\n\n</ul>");
	expect("{{ # l }}{{ . }}{{ / l }}", "{\"l\":[1,2]}", "12");
}

/* ---- partials ---- */

static void
test_partials(void **state)
{
	struct cr_tmpl_set *set = NULL;
	struct cr_buf out;
	json_t *ctx = json_pack("{s:s, s:[{s:s},{s:s}]}", "title", "T", "rows", "n", "a", "n", "b");
	char errbuf[128];

	(void)state;
	assert_non_null(ctx);
	cr_buf_init(&out, OUT_CAP);
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
#define ADD(name, src) \
	assert_int_equal(cr_tmpl_add(set, name, src, strlen(src), errbuf, sizeof(errbuf)), CR_OK)
	/* Partials are looked up at render time, so order does not matter. */
	ADD("page", "<h1>{{title}}</h1>{{#rows}}{{> mail/row}}{{/rows}}{{>footer}}");
	ADD("mail/row", "<li>{{n}} of {{title}}</li>");
	ADD("footer", "<footer>{{title}}</footer>");
	ADD("dot.txt", "[{{title}}]");
	ADD("usesdot", "{{> dot.txt }}");
#undef ADD
	assert_int_equal(cr_tmpl_render(set, "page", ctx, &out), CR_OK);
	assert_string_equal(cr_buf_str(&out),
	    "<h1>T</h1><li>a of T</li><li>b of T</li><footer>T</footer>");
	cr_buf_reset(&out);
	assert_int_equal(cr_tmpl_render(set, "usesdot", ctx, &out), CR_OK);
	assert_string_equal(cr_buf_str(&out), "[T]");

	assert_int_equal(cr_tmpl_render(set, "nosuch", ctx, &out), CR_ERR_NOTFOUND);
	assert_int_equal(cr_tmpl_render(set, "mail", ctx, &out), CR_ERR_NOTFOUND);
	cr_buf_free(&out);
	json_decref(ctx);
	cr_tmpl_set_free(set);
}

static void
test_missing_partial(void **state)
{
	enum cr_err err;
	char *got;

	(void)state;
	got = render("a{{> nowhere}}b", "{}", &err);
	assert_null(got);
	assert_int_equal(err, CR_ERR_NOTFOUND);
	/* Not reached, so not looked up. */
	expect("a{{#no}}{{> nowhere}}{{/no}}b", "{}", "ab");
}

static void
test_self_recursive_partial(void **state)
{
	struct cr_tmpl_set *set = NULL;
	struct cr_buf out;
	char errbuf[128];

	(void)state;
	cr_buf_init(&out, OUT_CAP);
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "self", "x{{>self}}", 10, errbuf, sizeof(errbuf)), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "a", "{{>b}}", 6, errbuf, sizeof(errbuf)), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "b", "{{>a}}", 6, errbuf, sizeof(errbuf)), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "fan", "{{>fan}}{{>fan}}", 16, errbuf, sizeof(errbuf)),
	    CR_OK);
	assert_int_equal(cr_tmpl_render(set, "self", NULL, &out), CR_ERR_INVALID);
	/* One "x" at the top and one per level entered before the cap. */
	assert_int_equal(out.len, CR_TMPL_MAX_DEPTH + 1);
	cr_buf_reset(&out);
	assert_int_equal(cr_tmpl_render(set, "a", NULL, &out), CR_ERR_INVALID);
	assert_int_equal(cr_tmpl_render(set, "fan", NULL, &out), CR_ERR_INVALID);
	cr_buf_free(&out);
	cr_tmpl_set_free(set);
}

static void
test_render_depth_cap(void **state)
{
	char src[4096];
	size_t n = 0;
	enum cr_err err;
	char *got;

	(void)state;
	/* 32 nested sections in one template render fine. */
	for (int i = 0; i < CR_TMPL_MAX_NEST; i++)
		n += (size_t)snprintf(src + n, sizeof(src) - n, "{{#o}}");
	n += (size_t)snprintf(src + n, sizeof(src) - n, "{{v}}");
	for (int i = 0; i < CR_TMPL_MAX_NEST; i++)
		n += (size_t)snprintf(src + n, sizeof(src) - n, "{{/o}}");
	assert_true(n < sizeof(src));
	got = render(src, "{\"o\":{},\"v\":\"deep\"}", &err);
	assert_int_equal(err, CR_OK);
	assert_string_equal(got, "deep");
	free(got);
}

static void
test_step_budget(void **state)
{
	/* 8^20 iterations of an empty body: the output cap cannot stop it,
	 * the step budget does. */
	char src[512];
	size_t n = 0;
	enum cr_err err;

	(void)state;
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(src + n, sizeof(src) - n, "{{#a}}");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(src + n, sizeof(src) - n, "{{/a}}");
	assert_null(render(src, "{\"a\":[1,2,3,4,5,6,7,8]}", &err));
	assert_int_equal(err, CR_ERR_TOOBIG);
}

/* ---- caps ---- */

static void
test_output_cap(void **state)
{
	struct cr_tmpl_set *set = NULL;
	struct cr_buf out;
	json_t *ctx = json_pack("{s:s}", "s", "<<<<");
	char errbuf[128];

	(void)state;
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "t", "0123456789{{s}}", 15, errbuf, sizeof(errbuf)),
	    CR_OK);
	cr_buf_init(&out, 5);
	assert_int_equal(cr_tmpl_render(set, "t", ctx, &out), CR_ERR_TOOBIG);
	assert_true(out.len <= 5);
	cr_buf_free(&out);
	cr_buf_init(&out, 20);   /* text fits, escaped value (16 bytes) does not */
	assert_int_equal(cr_tmpl_render(set, "t", ctx, &out), CR_ERR_TOOBIG);
	assert_true(out.len <= 20);
	cr_buf_free(&out);
	cr_buf_init(&out, 26);   /* exactly fits */
	assert_int_equal(cr_tmpl_render(set, "t", ctx, &out), CR_OK);
	assert_string_equal(cr_buf_str(&out), "0123456789&lt;&lt;&lt;&lt;");
	cr_buf_free(&out);
	json_decref(ctx);
	cr_tmpl_set_free(set);
}

static void
test_template_size_cap(void **state)
{
	struct cr_tmpl_set *set = NULL;
	char errbuf[128];
	char *big = malloc(CR_TMPL_MAX_SIZE + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', CR_TMPL_MAX_SIZE + 1);
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "big", big, CR_TMPL_MAX_SIZE + 1, errbuf, sizeof(errbuf)),
	    CR_ERR_TOOBIG);
	assert_non_null(strstr(errbuf, "big:1: template larger than"));
	assert_int_equal(cr_tmpl_add(set, "max", big, CR_TMPL_MAX_SIZE, errbuf, sizeof(errbuf)),
	    CR_OK);
	cr_tmpl_set_free(set);
	free(big);
}

static void
test_not_nul_terminated(void **state)
{
	struct cr_tmpl_set *set = NULL;
	struct cr_buf out;
	char errbuf[64];
	/* Only the first 9 bytes are the template; the rest must not be read. */
	static const char src[] = "{{a}}-end{{";

	(void)state;
	cr_buf_init(&out, 100);
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "t", src, 9, errbuf, sizeof(errbuf)), CR_OK);
	assert_int_equal(cr_tmpl_render(set, "t", NULL, &out), CR_OK);
	assert_string_equal(cr_buf_str(&out), "-end");
	cr_buf_free(&out);
	cr_tmpl_set_free(set);
}

static void
test_duplicate_name(void **state)
{
	struct cr_tmpl_set *set = NULL;
	char errbuf[128];

	(void)state;
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "p", "1", 1, errbuf, sizeof(errbuf)), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "p", "2", 1, errbuf, sizeof(errbuf)), CR_ERR_CONFLICT);
	assert_non_null(strstr(errbuf, "duplicate"));
	assert_int_equal(cr_tmpl_add(set, "", "2", 1, errbuf, sizeof(errbuf)), CR_ERR_INVALID);
	cr_tmpl_set_free(set);
	cr_tmpl_set_free(NULL);
}

static void
test_many_templates_lookup(void **state)
{
	struct cr_tmpl_set *set = NULL;
	struct cr_buf out;
	char name[32], src[32], want[32], errbuf[64];

	(void)state;
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	/* Added in a scrambled order to exercise the sorted insert. */
	for (int i = 0; i < 100; i++) {
		int k = (i * 37) % 100;

		snprintf(name, sizeof(name), "t%d", k);
		snprintf(src, sizeof(src), "body %d", k);
		assert_int_equal(cr_tmpl_add(set, name, src, strlen(src), errbuf, sizeof(errbuf)),
		    CR_OK);
	}
	cr_buf_init(&out, 100);
	for (int k = 0; k < 100; k++) {
		snprintf(name, sizeof(name), "t%d", k);
		snprintf(want, sizeof(want), "body %d", k);
		cr_buf_reset(&out);
		assert_int_equal(cr_tmpl_render(set, name, NULL, &out), CR_OK);
		assert_string_equal(cr_buf_str(&out), want);
	}
	cr_buf_free(&out);
	cr_tmpl_set_free(set);
}

/* ---- syntax errors: each names the template and the line ---- */

static void
test_err_unclosed_tag(void **state)
{
	(void)state;
	expect_syntax("abc {{name", "t:1: unclosed tag");
	expect_syntax("line1\nline2\n  {{name }\n", "t:3: unclosed tag");
	expect_syntax("{{", "t:1: unclosed tag");
	expect_syntax("{{! comment never closed", "t:1: unclosed tag");
}

static void
test_err_unclosed_section(void **state)
{
	(void)state;
	expect_syntax("a\n{{#list}}\nb\n", "t:2: unclosed section {{#list}}");
	expect_syntax("{{#a}}{{/a}}\n\n{{^b}}", "t:3: unclosed section {{^b}}");
	expect_syntax("{{#a}}\n{{#b}}{{/b}}", "t:1: unclosed section {{#a}}");
}

static void
test_err_mismatched_close(void **state)
{
	(void)state;
	expect_syntax("{{#a}}\n\n{{/b}}", "t:3: mismatched {{/b}}: section {{#a}} of line 1");
	expect_syntax("{{#a}}{{#b}}\n{{/a}}{{/b}}", "t:2: mismatched {{/a}}");
	expect_syntax("x\n{{/a}}", "t:2: {{/a}} closes no open section");
	expect_syntax("{{#a.b}}{{/a}}", "t:1: mismatched {{/a}}");
}

static void
test_err_empty_name(void **state)
{
	(void)state;
	expect_syntax("{{}}", "t:1: empty tag name");
	expect_syntax("\n{{ }}", "t:2: empty tag name");
	expect_syntax("{{#}}{{/}}", "t:1: empty tag name");
	expect_syntax("{{&}}", "t:1: empty tag name");
	expect_syntax("{{> }}", "t:1: empty tag name");
	expect_syntax("{{^\n}}", "t:1: empty tag name");
}

static void
test_err_bad_name(void **state)
{
	(void)state;
	expect_syntax("\n\n{{a b}}", "t:3: invalid character in tag name");
	expect_syntax("{{a/b}}", "t:1: invalid character");
	expect_syntax("{{{raw}}}", "t:1: '{' in tag name (no triple mustache");
	expect_syntax("{{=<% %>=}}", "t:1: '=' in tag name");
	expect_syntax("{{na\xc3\xafve}}", "t:1: invalid character");
	expect_syntax("{{a..b}}", "t:1: empty segment");
	expect_syntax("{{.a}}", "t:1: empty segment");
	expect_syntax("{{a.}}", "t:1: empty segment");
	expect_syntax("{{> a b}}", "t:1: invalid character");
	expect_syntax("{{> .}}", "t:1: '.' is not a partial name");
	expect_syntax("{{#a}}{{/a b}}", "t:1: invalid character");
	expect_syntax("{{a{{b}}", "t:1: '{' in tag name");
}

static void
test_err_nesting_too_deep(void **state)
{
	char src[1024];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < CR_TMPL_MAX_NEST; i++)
		n += (size_t)snprintf(src + n, sizeof(src) - n, "{{#a}}\n");
	n += (size_t)snprintf(src + n, sizeof(src) - n, "{{^b}}");
	assert_true(n < sizeof(src));
	expect_syntax(src, "t:33: sections nested deeper than 32");
}

static void
test_err_line_counting(void **state)
{
	(void)state;
	/* Newlines inside tags and comments count too. */
	expect_syntax("{{!\n\n}}{{ a\n}}\n{{}}", "t:5: empty tag name");
	expect_syntax("a\r\nb\r\n{{}}", "t:3: empty tag name");
}

static void
test_errbuf_optional_and_small(void **state)
{
	struct cr_tmpl_set *set = NULL;
	char tiny[6];

	(void)state;
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_add(set, "t", "{{", 2, NULL, 0), CR_ERR_INVALID);
	assert_int_equal(cr_tmpl_add(set, "tmpl", "{{", 2, tiny, sizeof(tiny)), CR_ERR_INVALID);
	assert_string_equal(tiny, "tmpl:");
	cr_tmpl_set_free(set);
}

/* ---- load_dir ---- */

static void
write_file(const char *dir, const char *rel, const char *body)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(body, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
sub(char *dst, size_t n, const char *dir, const char *rel)
{
	snprintf(dst, n, "%s/%s", dir, rel);
}

static void
rm_tree(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_load_dir(void **state)
{
	char dir[] = "/tmp/test_tmpl.XXXXXX";
	char path[512], errbuf[256];
	struct cr_tmpl_set *set = NULL;
	struct cr_buf out;
	json_t *ctx = json_pack("{s:s}", "who", "<Li>");

	(void)state;
	assert_non_null(mkdtemp(dir));
	sub(path, sizeof(path), dir, "mail");
	assert_int_equal(mkdir(path, 0700), 0);
	sub(path, sizeof(path), dir, "mail/deep");
	assert_int_equal(mkdir(path, 0700), 0);
	write_file(dir, "layout.html", "<body>{{> mail/notice}}|{{> mail/deep/x}}</body>\n");
	write_file(dir, "mail/notice.txt", "Dear {{who}}");
	write_file(dir, "mail/deep/x.eml", "X");
	write_file(dir, "README.md", "{{ not a template");
	write_file(dir, ".hidden.html", "{{ skipped");
	write_file(dir, "mail/notes.html~", "{{ editor backup");
	sub(path, sizeof(path), dir, "link.html");
	assert_int_equal(symlink("layout.html", path), 0);

	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_load_dir(set, dir, errbuf, sizeof(errbuf)), CR_OK);
	cr_buf_init(&out, 1000);
	assert_int_equal(cr_tmpl_render(set, "layout", ctx, &out), CR_OK);
	assert_string_equal(cr_buf_str(&out), "<body>Dear &lt;Li&gt;|X</body>\n");
	assert_int_equal(cr_tmpl_render(set, "layout.html", ctx, &out), CR_ERR_NOTFOUND);
	assert_int_equal(cr_tmpl_render(set, "README", ctx, &out), CR_ERR_NOTFOUND);
	assert_int_equal(cr_tmpl_render(set, "link", ctx, &out), CR_ERR_NOTFOUND);
	cr_buf_free(&out);
	cr_tmpl_set_free(set);
	set = NULL;

	/* A syntax error names the file and the line. */
	write_file(dir, "mail/bad.txt", "ok\nok\n{{#x}}\n");
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_load_dir(set, dir, errbuf, sizeof(errbuf)), CR_ERR_INVALID);
	assert_string_equal(errbuf, "mail/bad.txt:3: unclosed section {{#x}}");
	cr_tmpl_set_free(set);
	set = NULL;

	/* Two files mapping to one name conflict. */
	sub(path, sizeof(path), dir, "mail/bad.txt");
	assert_int_equal(unlink(path), 0);
	write_file(dir, "layout.txt", "again");
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	assert_int_equal(cr_tmpl_load_dir(set, dir, errbuf, sizeof(errbuf)), CR_ERR_CONFLICT);
	assert_non_null(strstr(errbuf, "layout.txt"));
	cr_tmpl_set_free(set);
	set = NULL;

	/* A missing directory is an I/O error. */
	assert_int_equal(cr_tmpl_set_new(&set), CR_OK);
	sub(path, sizeof(path), dir, "nope");
	assert_int_equal(cr_tmpl_load_dir(set, path, errbuf, sizeof(errbuf)), CR_ERR_IO);
	assert_non_null(strstr(errbuf, "nope"));
	cr_tmpl_set_free(set);

	json_decref(ctx);
	rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text),
		cmocka_unit_test(test_variable),
		cmocka_unit_test(test_variable_utf8),
		cmocka_unit_test(test_missing_and_falsy_values),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_dotted_names),
		cmocka_unit_test(test_current_item),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_hostile_holder_name_inert),
		cmocka_unit_test(test_html_escape_direct),
		cmocka_unit_test(test_section_array),
		cmocka_unit_test(test_section_object),
		cmocka_unit_test(test_section_truthiness),
		cmocka_unit_test(test_inverted),
		cmocka_unit_test(test_nested_sections),
		cmocka_unit_test(test_context_stack),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_whitespace_kept),
		cmocka_unit_test(test_partials),
		cmocka_unit_test(test_missing_partial),
		cmocka_unit_test(test_self_recursive_partial),
		cmocka_unit_test(test_render_depth_cap),
		cmocka_unit_test(test_step_budget),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_template_size_cap),
		cmocka_unit_test(test_not_nul_terminated),
		cmocka_unit_test(test_duplicate_name),
		cmocka_unit_test(test_many_templates_lookup),
		cmocka_unit_test(test_err_unclosed_tag),
		cmocka_unit_test(test_err_unclosed_section),
		cmocka_unit_test(test_err_mismatched_close),
		cmocka_unit_test(test_err_empty_name),
		cmocka_unit_test(test_err_bad_name),
		cmocka_unit_test(test_err_nesting_too_deep),
		cmocka_unit_test(test_err_line_counting),
		cmocka_unit_test(test_errbuf_optional_and_small),
		cmocka_unit_test(test_load_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
