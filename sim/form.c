/*
 * Reading the fields of /login and /token bodies and of /authorize query
 * strings. Parsing is util/form.c's (the portal's parser, fuzzed): bodies are
 * capped by the caller (GS_BODY_MAX), fields by gs_form_rules (GS_FORM_FIELDS);
 * NUL bytes and broken escapes are refused, not repaired. Repeated names are
 * kept so that gs_form_get can refuse them, and so are names the portal would
 * refuse (empty, over 64 bytes): govsim has always accepted them, and only the
 * fields an endpoint asks for are ever read.
 */
#include <string.h>

#include "govsim.h"

const struct cr_form_rules gs_form_rules = {GS_FORM_FIELDS, true, true};

enum cr_err
gs_form_get(const struct cr_form *f, const char *name, size_t maxlen, const char **val)
{
	const char *found = NULL;

	*val = NULL;
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->f[i].name, name) != 0)
			continue;
		/* RFC 6749 3.1: parameters must not be repeated. */
		if (found != NULL)
			return CR_ERR_CONFLICT;
		found = f->f[i].value;
	}
	if (found == NULL || *found == '\0')
		return CR_ERR_NOTFOUND;
	if (strlen(found) > maxlen)
		return CR_ERR_TOOBIG;
	if (gs_has_ctl(found))
		return CR_ERR_INVALID;
	*val = found;
	return CR_OK;
}
