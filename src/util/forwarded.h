/*
 * The client address behind a reverse proxy (untrusted input; a fuzz target).
 *
 * When the TCP peer is one of the configured trusted proxies (config key
 * http.trusted_proxies), the client's address is read from X-Forwarded-For:
 * the hops are walked from the right (the hop the trusted proxy itself added)
 * to the left, skipping hops that are trusted proxies too; the first hop that
 * is not is the client. Only the hops walked over must be addresses; what lies
 * left of the answer was written by the client and is never looked at. When
 * every hop is a trusted proxy, the leftmost is the answer. A malformed header
 * (a walked hop that is not an IPv4 or IPv6 address, an empty hop, too long,
 * too many hops) gives CR_ERR_INVALID and the caller keeps the peer address.
 *
 * Pure functions: no I/O, no allocation, explicit caps.
 */
#ifndef CR_UTIL_FORWARDED_H
#define CR_UTIL_FORWARDED_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define CR_FWD_MAX_PROXIES 16  /* entries of http.trusted_proxies */
#define CR_FWD_MAX_HEADER 2048 /* bytes of one X-Forwarded-For value */
#define CR_FWD_MAX_HOPS 32     /* hops of one X-Forwarded-For value */
#define CR_FWD_ADDR_LEN 46     /* INET6_ADDRSTRLEN: room for any address as text */

struct cr_proxy_list {
	size_t n;
	struct in_addr a[CR_FWD_MAX_PROXIES];
};

/*
 * Parses a comma-separated list of IPv4 addresses (blanks around each allowed; the
 * empty string is the empty list) from buf[0..len). CR_ERR_INVALID for anything else
 * (an empty entry, a name, a CIDR range, IPv6), CR_ERR_TOOBIG for more than
 * CR_FWD_MAX_PROXIES entries. On error *out is the empty list.
 */
enum cr_err cr_proxy_list_parse(const char *buf, size_t len, struct cr_proxy_list *out);

/* Whether the textual address ip (IPv4 dotted quad) is in the list. */
bool cr_proxy_list_has(const struct cr_proxy_list *l, const char *ip);

/*
 * The client address from an X-Forwarded-For value buf[0..len) that a trusted proxy
 * sent, as described above, written in canonical form (inet_ntop) into out (outlen >=
 * CR_FWD_ADDR_LEN). CR_ERR_INVALID for a malformed or empty value, CR_ERR_TOOBIG for
 * one over the caps; out is then "".
 */
enum cr_err cr_forwarded_client(const char *buf, size_t len, const struct cr_proxy_list *trusted, char *out,
    size_t outlen);

#endif
