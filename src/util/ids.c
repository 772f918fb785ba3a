/* Strict ids and indexes; see ids.h. */
#include <string.h>

#include "ids.h"

bool
cr_id_parse(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t len = s != NULL ? strnlen(s, 17) : 0;

	if (len == 0 || len > 16 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > CR_ID_MAX)
		return false;
	*out = v;
	return true;
}

bool
cr_index_parse(const char *s, int max, int *out)
{
	int64_t v;

	if (s != NULL && strcmp(s, "0") == 0)
		v = 0;
	else if (!cr_id_parse(s, &v))
		return false;
	if (v >= max)
		return false;
	*out = (int)v;
	return true;
}
