/* Application states and code policy; see application.h. */
#include <string.h>

#include "application.h"

static const char *const names[CR_APP_STATE_COUNT] = {
	[CR_APP_CONSENT] = "consent",
	[CR_APP_EMAILS] = "emails",
	[CR_APP_IDENTITY] = "identity",
	[CR_APP_CONFIRM] = "confirm",
	[CR_APP_SUBMITTED] = "submitted",
	[CR_APP_CANCELLED] = "cancelled",
	[CR_APP_COUNTER] = "counter",
};

const char *
cr_app_state_name(enum cr_app_state s)
{
	return (unsigned)s < CR_APP_STATE_COUNT ? names[s] : "unknown";
}

bool
cr_app_state_parse(const char *s, enum cr_app_state *out)
{
	for (int i = 0; i < CR_APP_STATE_COUNT; i++)
		if (s != NULL && strcmp(s, names[i]) == 0) {
			*out = (enum cr_app_state)i;
			return true;
		}
	return false;
}

int
cr_app_step(enum cr_app_state s)
{
	switch (s) {
	case CR_APP_CONSENT:
	case CR_APP_EMAILS:
		return 1;
	case CR_APP_IDENTITY:
	case CR_APP_COUNTER:
		return 2;
	case CR_APP_CONFIRM:
		return 3;
	case CR_APP_SUBMITTED:
		return 4;
	case CR_APP_CANCELLED:
		break;
	}
	return 0;
}

bool
cr_app_is_open(enum cr_app_state s)
{
	return s != CR_APP_SUBMITTED && s != CR_APP_CANCELLED;
}

bool
cr_app_can_move(enum cr_app_state from, enum cr_app_state to)
{
	if ((unsigned)from >= CR_APP_STATE_COUNT || (unsigned)to >= CR_APP_STATE_COUNT || !cr_app_is_open(from))
		return false;
	if (to == CR_APP_CANCELLED)
		return true;
	if (from == CR_APP_COUNTER)
		return false; /* only the registry officer moves it on (SPEC R10) */
	if (to == CR_APP_COUNTER)
		return from == CR_APP_IDENTITY || from == CR_APP_EMAILS;
	/* Forward one step at a time. */
	return (int)to == (int)from + 1;
}

bool
cr_code_well_formed(const char *s)
{
	if (s == NULL)
		return false;
	for (int i = 0; i < 6; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[6] == '\0';
}

enum cr_code_verdict
cr_code_judge(const struct cr_code_policy *p, const struct cr_code_state *s, bool well_formed, bool matches,
    time_t now, int *attempts_left)
{
	*attempts_left = 0;
	if (!s->exists)
		return CR_CODE_NONE;
	if (s->used)
		return CR_CODE_USED;
	if (s->attempts >= p->max_attempts)
		return CR_CODE_DEAD;
	if (now >= s->expires_at)
		return CR_CODE_EXPIRED;
	if (!well_formed) {
		/* Not a try: a typo of the wrong length costs nothing. */
		*attempts_left = p->max_attempts - s->attempts;
		return CR_CODE_MALFORMED;
	}
	if (matches)
		return CR_CODE_OK;
	*attempts_left = p->max_attempts - s->attempts - 1;
	return *attempts_left <= 0 ? CR_CODE_DEAD : CR_CODE_WRONG;
}

enum cr_send_verdict
cr_code_may_send(const struct cr_code_policy *p, time_t last_sent, int sent_last_hour, time_t now, int *wait)
{
	*wait = 0;
	if (last_sent != 0 && now - last_sent < p->resend_after) {
		*wait = (int)(p->resend_after - (now - last_sent));
		return CR_SEND_TOO_SOON;
	}
	if (sent_last_hour >= p->per_hour)
		return CR_SEND_HOURLY_CAP;
	return CR_SEND_OK;
}
