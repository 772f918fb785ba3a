/*
 * Byte-level text helpers shared by parsers and messages: strict UTF-8
 * validation, hex digits, and clipping untrusted text for a message. Pure
 * functions, no allocation.
 */
#ifndef CR_UTIL_TEXT_H
#define CR_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s[0..n) is strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
bool cr_utf8_valid(const void *s, size_t n);
/* The value of hex digit c (either case), or -1. */
int cr_hexval(int c);
/* Copies s into out (outlen > 0) for a message: at most outlen - 1 bytes, not cutting a UTF-8
   character, control bytes as '?'. Returns out. */
const char *cr_clip(const char *s, char *out, size_t outlen);

#endif
