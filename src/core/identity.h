/*
 * Step 2 「驗證身份」's rules as pure functions (SPEC R6.1, R6.3): whether the
 * holder's current ID card, as DSI reports it, matches the registration data
 * of the certificates, and how many face comparisons a holder has left.
 *
 * Names are compared after normalising what differs between systems but not
 * between people: case, spacing, punctuation (commas, hyphens, full stops),
 * Latin diacritics (João = Joao) and the order DSI uses (surname first or
 * last). Nothing else is forgiven: an extra or missing given name, another
 * surname, another Chinese name is a mismatch.
 */
#ifndef CR_CORE_IDENTITY_H
#define CR_CORE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#define CR_ID_TEXT 257

/* The holder's registration data (what the certificates were issued to). */
struct cr_id_registration {
	char name[CR_ID_TEXT];      /* Latin, in either order ("xxxx xexx WONG", "CHAN Tai Man") */
	char name_zh[CR_ID_TEXT];   /* "" when the holder has no Chinese name */
	char id_number[32];         /* "1234567(8)" */
};

/* The ID card as DSI answered (docs/internals/dsi.md). */
struct cr_id_card {
	char id_number[32];
	char surname[CR_ID_TEXT];
	char given_names[CR_ID_TEXT];
	char name_zh[CR_ID_TEXT];
	char card_number[64];
	char issued_on[11];         /* YYYY-MM-DD */
	char expires_on[11];
	char status[16];            /* valid | expired | revoked | lost | cancelled */
};

/* The result of each comparison, kept as evidence and named to the holder when one fails. */
struct cr_id_match {
	bool name;        /* Latin name */
	bool name_zh;
	bool id_number;
	bool card_valid;  /* status valid, issued on or before today and expiring today or later */
};

/* Compares card with reg on `today` (YYYY-MM-DD, Macau). True when every comparison holds. */
bool cr_identity_compare(const struct cr_id_registration *reg, const struct cr_id_card *card, const char *today,
    struct cr_id_match *out);

/* A Latin name folded for comparison: lower-case ASCII words separated by single spaces, diacritics
   of Latin-1 and Latin Extended-A letters removed, punctuation as spaces. False when out is too
   small or s is not valid UTF-8. */
bool cr_name_fold(const char *s, char *out, size_t outlen);

/* Whether s is YYYY-MM-DD naming a day of the calendar (leap years included): the shape alone would
   let "2031-13-45" expire after today. */
bool cr_date_valid(const char *s);

/* Face comparison tries (R6.3): tries left for an application that used app_used of per_app, for a
   holder who used holder_used of per_holder within the window. <= 0: none left. */
int cr_face_tries_left(int per_app, int app_used, int per_holder, int holder_used);

/* Whether a score passes the threshold. NaN or out-of-range scores never pass. */
bool cr_face_passes(double score, double threshold);

#endif
