/*
 * Dates as the CA shows them to people: Macau time (UTC+8, no daylight saving),
 * whatever the server's time zone.
 */
#ifndef CR_UTIL_TIMEFMT_H
#define CR_UTIL_TIMEFMT_H

#include <time.h>

#define CR_MACAU_UTC_OFFSET (8 * 3600)

/* YYYY-MM-DD ("?" if t cannot be shown). */
void cr_macau_date(time_t t, char out[16]);
/* YYYY-MM-DD HH:MM:SS */
void cr_macau_datetime(time_t t, char out[32]);

#endif
