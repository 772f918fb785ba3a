/*
 * Bounded, expiring in-memory maps for pending logins, authorization codes and
 * access tokens. Entries are keyed by the SHA-256 of the secret value, so the
 * table never holds a usable code or token and a lookup's timing tells nothing
 * about the secret. Linear scans: at most GS_TABLE_MAX entries, a simulator's
 * load. Not thread-safe: callers hold gs->lock.
 */
#include <stdlib.h>
#include <string.h>

#include "govsim.h"

struct entry {
	uint8_t id[32];
	time_t expires;
	void *data;
};

struct gs_table {
	struct entry *v;
	size_t n;
	size_t cap;
	void (*free_fn)(void *);
};

struct gs_table *
gs_table_new(size_t cap, void (*free_fn)(void *))
{
	struct gs_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->v = calloc(cap, sizeof(*t->v))) == NULL) {
		free(t);
		return NULL;
	}
	t->cap = cap;
	t->free_fn = free_fn;
	return t;
}

/* Frees entry i and moves the last entry into its place. */
static void
drop(struct gs_table *t, size_t i)
{
	t->free_fn(t->v[i].data);
	t->v[i] = t->v[t->n - 1];
	t->n--;
}

void
gs_table_free(struct gs_table *t)
{
	if (t == NULL)
		return;
	while (t->n > 0)
		drop(t, t->n - 1);
	free(t->v);
	free(t);
}

static void
purge(struct gs_table *t, time_t now)
{
	size_t i = 0;

	while (i < t->n) {
		if (t->v[i].expires <= now)
			drop(t, i);
		else
			i++;
	}
}

static struct entry *
find(struct gs_table *t, const uint8_t id[32])
{
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->v[i].id, id, 32) == 0)
			return &t->v[i];
	return NULL;
}

enum cr_err
gs_table_put(struct gs_table *t, const uint8_t id[32], time_t expires, void *data)
{
	/* Expire as we go: every insertion sweeps out the dead. */
	purge(t, gs_now());
	if (t->n == t->cap)
		return CR_ERR_TOOBIG;
	/* 256-bit random ids do not collide; a repeat would be a bug. */
	if (find(t, id) != NULL)
		return CR_ERR_CONFLICT;
	memcpy(t->v[t->n].id, id, 32);
	t->v[t->n].expires = expires;
	t->v[t->n].data = data;
	t->n++;
	return CR_OK;
}

void *
gs_table_get(struct gs_table *t, const uint8_t id[32], time_t now)
{
	struct entry *e = find(t, id);

	if (e == NULL)
		return NULL;
	if (e->expires <= now) {
		drop(t, (size_t)(e - t->v));
		return NULL;
	}
	return e->data;
}

void *
gs_table_take(struct gs_table *t, const uint8_t id[32], time_t now)
{
	struct entry *e = find(t, id);
	void *data;

	if (e == NULL)
		return NULL;
	if (e->expires <= now) {
		drop(t, (size_t)(e - t->v));
		return NULL;
	}
	data = e->data;
	*e = t->v[t->n - 1];
	t->n--;
	return data;
}

void
gs_table_remove(struct gs_table *t, const uint8_t id[32])
{
	struct entry *e = find(t, id);

	if (e != NULL)
		drop(t, (size_t)(e - t->v));
}
