/* The languages of the portal; see lang.h. */
#include <string.h>

#include "lang.h"

const struct cr_lang cr_langs[] = {{"zh-Hant", "繁體中文"}, {"pt", "Português"}, {"en", "English"}};
const size_t cr_lang_count = sizeof(cr_langs) / sizeof(cr_langs[0]);

const char *
cr_lang_find(const char *s)
{
	for (size_t i = 0; s != NULL && i < cr_lang_count; i++)
		if (strcmp(s, cr_langs[i].code) == 0)
			return cr_langs[i].code;
	return NULL;
}
