/* Renewal rules; see renewal.h. Tables rather than branches so the legal moves read at a glance. */
#include <string.h>

#include "renewal.h"

static const char *const type_names[CR_CERT_TYPE_COUNT] = {
	[CR_CERT_QUALIFIED] = "qualified",
	[CR_CERT_ENCRYPTION] = "encryption",
	[CR_CERT_CLOUDSIGN] = "cloudsign",
};

static const char *const type_labels[CR_CERT_TYPE_COUNT] = {
	[CR_CERT_QUALIFIED] = "政府機關合格證書",
	[CR_CERT_ENCRYPTION] = "政府機關加密證書",
	[CR_CERT_CLOUDSIGN] = "政府“雲簽”帳戶",
};

static const char *const state_names[CR_RS_COUNT] = {
	[CR_RS_PENDING_VERIFICATION] = "pending_verification",
	[CR_RS_VERIFYING] = "verifying",
	[CR_RS_PENDING_ACTIVATION] = "pending_activation",
	[CR_RS_PENDING_OFFLINE] = "pending_offline",
	[CR_RS_RENEWED] = "renewed",
	[CR_RS_CANCELLED] = "cancelled",
};

const char *
cr_cert_type_name(enum cr_cert_type t)
{
	return (unsigned)t < CR_CERT_TYPE_COUNT ? type_names[t] : "unknown";
}

bool
cr_cert_type_parse(const char *s, enum cr_cert_type *out)
{
	for (int i = 0; i < CR_CERT_TYPE_COUNT; i++)
		if (s != NULL && strcmp(s, type_names[i]) == 0) {
			*out = (enum cr_cert_type)i;
			return true;
		}
	return false;
}

const char *
cr_cert_type_label_zh(enum cr_cert_type t)
{
	return (unsigned)t < CR_CERT_TYPE_COUNT ? type_labels[t] : "";
}

const char *
cr_renewal_state_name(enum cr_renewal_state s)
{
	return (unsigned)s < CR_RS_COUNT ? state_names[s] : "unknown";
}

bool
cr_renewal_state_parse(const char *s, enum cr_renewal_state *out)
{
	for (int i = 0; i < CR_RS_COUNT; i++)
		if (s != NULL && strcmp(s, state_names[i]) == 0) {
			*out = (enum cr_renewal_state)i;
			return true;
		}
	return false;
}

enum cr_renewal_state
cr_renewal_after_submit(enum cr_cert_type t)
{
	return t == CR_CERT_CLOUDSIGN ? CR_RS_PENDING_ACTIVATION : CR_RS_PENDING_OFFLINE;
}

bool
cr_renewal_can_move(enum cr_cert_type t, enum cr_renewal_state from, enum cr_renewal_state to)
{
	/* [from][to]: the moves any type may make. */
	static const bool legal[CR_RS_COUNT][CR_RS_COUNT] = {
		[CR_RS_PENDING_VERIFICATION] = {[CR_RS_VERIFYING] = true, [CR_RS_CANCELLED] = true},
		/* Back to PENDING_VERIFICATION when the holder abandons or must restart. */
		[CR_RS_VERIFYING] = {[CR_RS_PENDING_VERIFICATION] = true, [CR_RS_PENDING_ACTIVATION] = true,
		    [CR_RS_PENDING_OFFLINE] = true, [CR_RS_CANCELLED] = true},
		/* R9.2: changed ID data sends an activation back to verification. */
		[CR_RS_PENDING_ACTIVATION] = {[CR_RS_PENDING_VERIFICATION] = true, [CR_RS_RENEWED] = true,
		    [CR_RS_CANCELLED] = true},
		[CR_RS_PENDING_OFFLINE] = {[CR_RS_PENDING_VERIFICATION] = true, [CR_RS_RENEWED] = true,
		    [CR_RS_CANCELLED] = true},
	};

	if ((unsigned)t >= CR_CERT_TYPE_COUNT || (unsigned)from >= CR_RS_COUNT || (unsigned)to >= CR_RS_COUNT)
		return false;
	if (!legal[from][to])
		return false;
	/* Online activation exists only for cloudsign; the registry visit only for the others. */
	if (to == CR_RS_PENDING_ACTIVATION)
		return t == CR_CERT_CLOUDSIGN;
	if (to == CR_RS_PENDING_OFFLINE)
		return t != CR_CERT_CLOUDSIGN;
	return true;
}

enum cr_pending_group
cr_renewal_group(enum cr_cert_type t, enum cr_renewal_state s)
{
	switch (s) {
	case CR_RS_PENDING_VERIFICATION:
	case CR_RS_VERIFYING:
		return CR_GROUP_VERIFY;
	case CR_RS_PENDING_ACTIVATION:
		return t == CR_CERT_CLOUDSIGN ? CR_GROUP_ACTIVATE : CR_GROUP_NONE;
	case CR_RS_PENDING_OFFLINE:
		return t != CR_CERT_CLOUDSIGN ? CR_GROUP_OFFLINE : CR_GROUP_NONE;
	case CR_RS_RENEWED:
	case CR_RS_CANCELLED:
		break;
	}
	return CR_GROUP_NONE;
}

bool
cr_renewal_in_window(time_t not_after, time_t now, int window_days)
{
	if (window_days < 0 || not_after <= now)
		return false;
	return not_after - now <= (time_t)window_days * 86400;
}
