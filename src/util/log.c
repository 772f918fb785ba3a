/*
 * Log lines go to stderr in one write each so lines of concurrent threads do
 * not interleave. Control characters in messages are replaced, so a value
 * taken from a request cannot forge a log line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

void
cr_log(enum cr_log_level lvl, const char *component, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char line[2048], ts[32];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;
	int n, m;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s %s %s: ", ts, names[lvl], component);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	for (int i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = ' ';
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
