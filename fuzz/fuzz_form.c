/*
 * libFuzzer target for the form-body parser (src/util/form.c).
 *
 * The whole input is one application/x-www-form-urlencoded body. When it
 * parses, a few names are looked up and every field is checked against the
 * parser's promises: names non-empty, at most CR_FORM_MAX_NAME bytes and
 * unique; no more than CR_FORM_MAX_FIELDS fields; cr_form_get finds each
 * field's own value. A refused body must leave the form empty. The same input
 * is then parsed under govsim's rules (repeats and any name kept, 32 fields).
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *   fuzz/fuzz_form.c src/util/form.c -o fuzz_form
 * Seeds: fuzz/corpus/form/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"csrf", "a", "name", "decision", ""};
	struct cr_form form;
	enum cr_err err;

	err = cr_form_parse((const char *)data, size, &form);
	if (err != CR_OK) {
		if (form.n != 0 || (err != CR_ERR_INVALID && err != CR_ERR_TOOBIG && err != CR_ERR_NOMEM))
			abort();
		return 0;
	}
	if (form.n > CR_FORM_MAX_FIELDS)
		abort();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = cr_form_get(&form, names[i]);

		if (v != NULL)
			(void)strlen(v);
	}
	for (size_t i = 0; i < form.n; i++) {
		size_t n = strlen(form.f[i].name);

		if (n == 0 || n > CR_FORM_MAX_NAME || strlen(form.f[i].value) > size)
			abort();
		/* Unique names: lookup by name finds this very field. */
		if (cr_form_get(&form, form.f[i].name) != form.f[i].value)
			abort();
	}
	cr_form_free(&form);

	/* govsim's rules: repeats and any name kept, at most 32 fields; a stricter parse that
	   succeeded must succeed here too, with the same fields. */
	{
		static const struct cr_form_rules lax = {32, true, true};
		struct cr_form all;

		err = cr_form_parse_rules((const char *)data, size, &lax, &all);
		if (err != CR_OK) {
			if (all.n != 0 || (err != CR_ERR_INVALID && err != CR_ERR_TOOBIG && err != CR_ERR_NOMEM))
				abort();
			return 0;
		}
		if (all.n > 32)
			abort();
		cr_form_free(&all);
	}
	return 0;
}
