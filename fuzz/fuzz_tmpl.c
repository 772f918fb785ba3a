/*
 * libFuzzer target for the template engine (src/util/tmpl.c).
 *
 * The input is compiled as template "t" next to two fixed templates ("p", a
 * partial that uses the context, and "self", which includes itself) and, when
 * it compiles, rendered with a capped output buffer. If the input holds a NUL
 * byte, the bytes after the first NUL are parsed as JSON and used as the
 * context (hostile data); otherwise a fixed context is used.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *   fuzz/fuzz_tmpl.c src/util/tmpl.c src/util/buf.c src/util/err.c \
 *   $(pkg-config --cflags --libs jansson libsodium) -o fuzz_tmpl
 * Seeds: fuzz/corpus/tmpl/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_ctx[] =
    "{\"name\":\"<script>alert(1)</script>\\\"'\",\"n\":42,\"r\":1.5,\"t\":true,"
    "\"f\":false,\"z\":null,\"e\":\"\",\"a\":[1,\"two\",{\"name\":\"in\",\"a\":[]}],"
    "\"o\":{\"a\":{\"b\":\"deep\"},\"name\":\"obj\"},"
    "\"list\":[{\"x\":1,\"y\":[true,false]},{\"x\":2}]}";

static const char partial_p[] = "<p title=\"{{name}}\">{{#a}}{{.}}{{/a}}{{o.a.b}}</p>";
static const char partial_self[] = "{{#a}}{{>self}}{{/a}}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *ctx_fixed;
	struct cr_tmpl_set *set = NULL;
	struct cr_buf out;
	json_t *ctx_in = NULL;
	const char *src = (const char *)data;
	const char *nul = memchr(data, '\0', size);
	size_t tlen = nul != NULL ? (size_t)(nul - src) : size;
	char errbuf[256];
	enum cr_err err;

	if (ctx_fixed == NULL && (ctx_fixed = json_loads(fixed_ctx, 0, NULL)) == NULL)
		abort();
	if (nul != NULL)
		ctx_in = json_loadb(nul + 1, size - tlen - 1, JSON_DECODE_ANY, NULL);

	if (cr_tmpl_set_new(&set) != CR_OK)
		return 0;
	if (cr_tmpl_add(set, "p", partial_p, strlen(partial_p), errbuf, sizeof(errbuf)) != CR_OK ||
	    cr_tmpl_add(set, "self", partial_self, strlen(partial_self), errbuf,
	    sizeof(errbuf)) != CR_OK)
		abort();
	err = cr_tmpl_add(set, "t", src, tlen, errbuf, sizeof(errbuf));
	if (err == CR_OK) {
		cr_buf_init(&out, 64 * 1024);
		(void)cr_tmpl_render(set, "t", ctx_in != NULL ? ctx_in : ctx_fixed, &out);
		cr_buf_free(&out);
	} else if (err == CR_ERR_INVALID && (errbuf[0] == '\0' || strncmp(errbuf, "t:", 2) != 0)) {
		abort();   /* every syntax error names the template and line */
	}
	cr_tmpl_set_free(set);
	json_decref(ctx_in);
	return 0;
}
