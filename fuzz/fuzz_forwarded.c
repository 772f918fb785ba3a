/*
 * libFuzzer target for the X-Forwarded-For parser (src/util/forwarded.c).
 *
 * The first byte picks a trusted-proxy list; the rest is one X-Forwarded-For value.
 * Checks the parser's promises: on success the answer is a valid address in canonical
 * form (inet_pton then inet_ntop gives it back), an IPv4 answer occurs in the header;
 * on failure the output is empty.
 * The trusted list parser runs on the same bytes too.
 *
 * Build: see scripts/fuzz.sh. Seeds: fuzz/corpus/forwarded/.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/forwarded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const lists[] = {"", "127.0.0.1", "10.0.0.1, 10.0.0.2", "127.0.0.1,192.0.2.1,203.0.113.7"};
	struct cr_proxy_list l, any;
	char out[CR_FWD_ADDR_LEN], again[CR_FWD_ADDR_LEN];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *h;
	size_t n;
	enum cr_err err;
	int af;

	if (size == 0)
		return 0;
	if (cr_proxy_list_parse(lists[data[0] % 4], strlen(lists[data[0] % 4]), &l) != CR_OK)
		abort();
	h = (const char *)data + 1;
	n = size - 1;

	err = cr_proxy_list_parse(h, n, &any);
	if (err != CR_OK && any.n != 0)
		abort();
	if (any.n > CR_FWD_MAX_PROXIES)
		abort();

	err = cr_forwarded_client(h, n, &l, out, sizeof(out));
	if (err != CR_OK) {
		if (out[0] != '\0' || (err != CR_ERR_INVALID && err != CR_ERR_TOOBIG))
			abort();
		return 0;
	}
	af = strchr(out, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, out, bin) != 1 || inet_ntop(af, bin, again, sizeof(again)) == NULL || strcmp(out, again) != 0)
		abort();
	/* An IPv4 answer is written as it came (inet_pton takes no other spelling), so it is in the header. */
	if (af == AF_INET && memmem(h, n, out, strlen(out)) == NULL)
		abort();
	return 0;
}
