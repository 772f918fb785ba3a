/*
 * libFuzzer target for the revocation passphrase rule (src/core/passphrase.c), which judges what a
 * holder types into 證書撤銷短語 (untrusted bytes, handed to zxcvbn after the UTF-8 check).
 *
 * The input is split at the first two NUL bytes into passphrase, repeat and password (a missing
 * part is ""). Checks the rule's promises: a verdict in range with a name; OK only for valid UTF-8 of
 * 10.. code points and at most 256 bytes, equal to its repeat and not the password; the same input
 * judged twice gives the same verdict.
 *
 * Build: see scripts/fuzz.sh. Seeds: fuzz/corpus/passphrase/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/passphrase.h"
#include "util/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const own[] = {"xxxx xexx WONG", "wong.ctt", "wong.demo@ctt.gov.mo", NULL};
	char *buf;
	const char *parts[3] = {"", "", ""};
	size_t k = 0;
	enum cr_passphrase_verdict v, again;
	double bits = -1;

	if (size > 4096)
		return 0;
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	parts[0] = buf;
	for (size_t i = 0; i < size && k < 2; i++)
		if (buf[i] == '\0')
			parts[++k] = buf + i + 1;
	v = cr_passphrase_judge(parts[0], parts[1], parts[2], own, &bits);
	again = cr_passphrase_judge(parts[0], parts[1], parts[2], own, NULL);
	if (v != again || cr_passphrase_verdict_name(v) == NULL || strcmp(cr_passphrase_verdict_name(v), "unknown") == 0)
		abort();
	if (v == CR_PASS_OK && (strlen(parts[0]) > 256 || !cr_utf8_valid(parts[0], strlen(parts[0])) ||
	                           strcmp(parts[0], parts[1]) != 0 || strcmp(parts[0], parts[2]) == 0 || bits < 40))
		abort();
	free(buf);
	return 0;
}
