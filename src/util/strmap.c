/* String -> index map; see strmap.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

bool
cr_strmap_get(const struct cr_strmap *m, const char *k, size_t *v)
{
	if (m->cap == 0)
		return false;
	for (size_t i = hash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == NULL)
			return false;
		if (strcmp(m->keys[i], k) == 0) {
			*v = m->vals[i];
			return true;
		}
	}
}

/* Places an owned key; there is room. */
static void
place(struct cr_strmap *m, char *k, size_t v)
{
	size_t i = hash(k) & (m->cap - 1);

	while (m->keys[i] != NULL)
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = k;
	m->vals[i] = v;
	m->n++;
}

enum cr_err
cr_strmap_put(struct cr_strmap *m, const char *k, size_t v)
{
	char *copy;

	/* At most half full, so probes stay short and always end. */
	if ((m->n + 1) * 2 > m->cap) {
		struct cr_strmap g = {0};

		if (m->cap > SIZE_MAX / 2 / sizeof(*g.keys))
			return CR_ERR_NOMEM;
		g.cap = m->cap ? m->cap * 2 : 64;
		g.keys = calloc(g.cap, sizeof(*g.keys));
		g.vals = calloc(g.cap, sizeof(*g.vals));
		if (g.keys == NULL || g.vals == NULL) {
			free(g.keys);
			free(g.vals);
			return CR_ERR_NOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i] != NULL)
				place(&g, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = g;
	}
	if ((copy = strdup(k)) == NULL)
		return CR_ERR_NOMEM;
	place(m, copy, v);
	return CR_OK;
}

void
cr_strmap_free(struct cr_strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
