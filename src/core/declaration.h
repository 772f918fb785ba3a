/*
 * The applicant/registrant declaration of step 3 (SPEC R7.2; seed step 15), word
 * for word as the customer wrote it. Its version is recorded with every
 * acceptance; a change of a word is a new version.
 */
#ifndef CR_CORE_DECLARATION_H
#define CR_CORE_DECLARATION_H

#define CR_DECLARATION_VERSION "decl-2026-1"
#define CR_DECLARATION_POINTS 6

extern const char *const cr_declaration_title;
extern const char *const cr_declaration_lead;
extern const char *const cr_declaration_points[CR_DECLARATION_POINTS];

/* SHA-256 of the version, title, lead and points joined by newlines: what was accepted. */
void cr_declaration_sha256(unsigned char out[32]);

#endif
