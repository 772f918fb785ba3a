/*
 * Moved to util/forwarded.h (it is a parser with no web dependency). This
 * forwarder stays only until src/app/config.c, which others are editing,
 * includes util/forwarded.h itself; then delete it.
 */
#include "util/forwarded.h"
