/*
 * Ids and indexes from untrusted text (URLs, forms): decimal digits only, no
 * sign, no spaces, no leading zero. Ids are 1 .. 2^53, what JavaScript and JSON
 * carry exactly and what both databases' row ids stay under.
 */
#ifndef CR_UTIL_IDS_H
#define CR_UTIL_IDS_H

#include <stdbool.h>
#include <stdint.h>

#define CR_ID_MAX ((int64_t)1 << 53)

/* A row id; false for NULL, "", "0", "007", "-1", "1e3", anything over CR_ID_MAX. */
bool cr_id_parse(const char *s, int64_t *out);
/* An index 0 .. max-1 ("0" or an id); false otherwise. */
bool cr_index_parse(const char *s, int max, int *out);

#endif
