/*
 * The GovID accounts: people[] of the demo data file (demo/people.json), of
 * which govsim needs sub, name, email, roles and id_number. Other fields belong to
 * certrenew's demo loader and are ignored. The file is trusted configuration,
 * but is still checked so that a typo fails at start-up, not at login.
 */
#include <stdlib.h>
#include <string.h>

#include "govsim.h"
#include "util/log.h"

#define PEOPLE_FILE_MAX (1024 * 1024)
#define PEOPLE_MAX      1000
#define FIELD_MAX       256

void
gs_people_free(struct gs_people *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].sub);
		free(p->v[i].name);
		free(p->v[i].email);
		free(p->v[i].id_number);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

/* Copies a required, non-empty, bounded string member of o. */
static enum cr_err
get_str(json_t *o, const char *key, size_t i, char **out)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || *s == '\0' || strlen(s) > FIELD_MAX || gs_has_ctl(s)) {
		cr_error(GS_LOG, "people[%zu].%s: missing or not a short string", i, key);
		return CR_ERR_CONFIG;
	}
	return (*out = strdup(s)) == NULL ? CR_ERR_NOMEM : CR_OK;
}

static enum cr_err
get_roles(json_t *o, size_t i, unsigned *out)
{
	json_t *arr = json_object_get(o, "roles"), *v;
	size_t k;

	*out = 0;
	if (!json_is_array(arr)) {
		cr_error(GS_LOG, "people[%zu].roles: not an array", i);
		return CR_ERR_CONFIG;
	}
	json_array_foreach(arr, k, v) {
		const char *r = json_string_value(v);

		if (r != NULL && strcmp(r, "holder") == 0)
			*out |= GS_ROLE_HOLDER;
		else if (r != NULL && strcmp(r, "coordinator") == 0)
			*out |= GS_ROLE_COORDINATOR;
		else if (r != NULL && strcmp(r, "officer") == 0)
			*out |= GS_ROLE_OFFICER;
		else {
			cr_error(GS_LOG, "people[%zu].roles[%zu]: unknown role", i, k);
			return CR_ERR_CONFIG;
		}
	}
	return CR_OK;
}

static enum cr_err
load_person(json_t *o, size_t i, struct gs_person *p)
{
	enum cr_err err;

	if (!json_is_object(o)) {
		cr_error(GS_LOG, "people[%zu]: not an object", i);
		return CR_ERR_CONFIG;
	}
	if ((err = get_str(o, "sub", i, &p->sub)) != CR_OK ||
	    (err = get_str(o, "name", i, &p->name)) != CR_OK ||
	    (err = get_str(o, "email", i, &p->email)) != CR_OK ||
	    (err = get_roles(o, i, &p->roles)) != CR_OK)
		return err;
	/* The resident number is optional (staff need none); the e-ID and e-signature use it. */
	if (json_object_get(o, "id_number") != NULL)
		return get_str(o, "id_number", i, &p->id_number);
	return CR_OK;
}

static enum cr_err
load_array(json_t *arr, struct gs_people *out)
{
	json_t *v;
	size_t i;
	enum cr_err err;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > PEOPLE_MAX) {
		cr_error(GS_LOG, "people: want an array of 1..%d accounts", PEOPLE_MAX);
		return CR_ERR_CONFIG;
	}
	if ((out->v = calloc(json_array_size(arr), sizeof(*out->v))) == NULL)
		return CR_ERR_NOMEM;
	json_array_foreach(arr, i, v) {
		/* Count first, so gs_people_free releases a half-filled entry too. */
		out->n = i + 1;
		if ((err = load_person(v, i, &out->v[i])) != CR_OK)
			return err;
		if (gs_people_find(&(struct gs_people){ i, out->v }, out->v[i].sub) != NULL) {
			cr_error(GS_LOG, "people[%zu].sub: duplicate", i);
			return CR_ERR_CONFIG;
		}
	}
	return CR_OK;
}

enum cr_err
gs_people_load(const char *path, struct gs_people *out)
{
	json_t *root = NULL;
	enum cr_err err;

	memset(out, 0, sizeof(*out));
	if ((err = gs_load_json(path, PEOPLE_FILE_MAX, &root)) == CR_OK)
		err = load_array(json_object_get(root, "people"), out);
	if (err != CR_OK)
		gs_people_free(out);
	json_decref(root);
	return err;
}

const struct gs_person *
gs_people_find(const struct gs_people *p, const char *sub)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].sub, sub) == 0)
			return &p->v[i];
	return NULL;
}
