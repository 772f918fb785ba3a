/*
 * A map from strings to indexes (open addressing, FNV-1a), for checks like
 * "duplicate serial (also on line N)" over inputs of a million lines, where
 * hsearch_r would need its size up front and cannot own its keys. The map owns
 * copies of its keys. No removal.
 */
#ifndef CR_UTIL_STRMAP_H
#define CR_UTIL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Zero-initialise ({0}) for an empty map; free with cr_strmap_free. */
struct cr_strmap {
	char **keys;
	size_t *vals;
	size_t cap, n;
};

/* Whether k is present; *v gets its value. */
bool cr_strmap_get(const struct cr_strmap *m, const char *k, size_t *v);
/* Adds k -> v; k must not be present (check with cr_strmap_get). CR_ERR_NOMEM. */
enum cr_err cr_strmap_put(struct cr_strmap *m, const char *k, size_t v);
/* Frees the keys and the table; the map is empty again. */
void cr_strmap_free(struct cr_strmap *m);

#endif
