/*
 * libFuzzer target for the readers of GovID's signing-service answers
 * (src/adapters/csc.c: credentials/list, credentials/info, signatures/signHash),
 * untrusted input from the network. The first byte picks the answer, the rest
 * is its body.
 *
 * Checks what the readers promise: a taken answer has a printable credential ID
 * NUL-terminated in its field, 1..CR_CSC_MAX_CHAIN non-empty certificates, or one
 * non-empty CMS; a refused one is REMOTE or DENIED; everything is freed.
 * Seeds: fuzz/corpus/csc/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/csc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_csc_signature s;
	enum cr_csc_call which;
	char why[160];
	enum cr_err err;

	if (size < 1)
		return 0;
	which = (enum cr_csc_call)(data[0] % 3);
	memset(&s, 0, sizeof(s));
	err = cr_csc_answer_read(which, data + 1, size - 1, &s, why, sizeof(why));
	if (err != CR_OK && err != CR_ERR_REMOTE && err != CR_ERR_DENIED)
		abort();
	if (strnlen(why, sizeof(why)) == sizeof(why))
		abort();
	if (err == CR_OK) {
		size_t n = strnlen(s.credential_id, sizeof(s.credential_id));

		if (n == sizeof(s.credential_id))
			abort();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s.credential_id[i] < 0x20 || (unsigned char)s.credential_id[i] > 0x7e)
				abort();
		if (which == CR_CSC_LIST && n == 0)
			abort();
		if (which == CR_CSC_INFO && (s.n_chain == 0 || s.n_chain > CR_CSC_MAX_CHAIN))
			abort();
		for (size_t i = 0; i < s.n_chain; i++)
			if (s.chain[i] == NULL || s.chain_len[i] == 0)
				abort();
		if (which == CR_CSC_SIGN && (s.cms == NULL || s.cms_len == 0))
			abort();
	}
	cr_csc_signature_free(&s);
	return 0;
}
