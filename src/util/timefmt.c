/* Macau-time formatting; see timefmt.h. */
#include <stdio.h>

#include "timefmt.h"

static void
format(time_t t, const char *fmt, char *out, size_t outlen)
{
	struct tm tm;
	time_t local = t + CR_MACAU_UTC_OFFSET;

	if (gmtime_r(&local, &tm) == NULL || strftime(out, outlen, fmt, &tm) == 0)
		snprintf(out, outlen, "?");
}

void
cr_macau_date(time_t t, char out[16])
{
	format(t, "%Y-%m-%d", out, 16);
}

void
cr_macau_datetime(time_t t, char out[32])
{
	format(t, "%Y-%m-%d %H:%M:%S", out, 32);
}
