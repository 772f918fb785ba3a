/*
 * Domain rules of a certificate renewal, with no I/O: certificate types, the
 * renewal window, the per-certificate renewal state machine and which group of
 * the 「待續期之電子證書」 page (SPEC R4) a certificate belongs to.
 *
 * A certificate's renewal has one state. It starts in PENDING_VERIFICATION when
 * the certificate is due (inside the window and confirmed by its department);
 * the holder's identity verification (steps 1-3, SPEC R5-R7) moves it to
 * VERIFYING and, on submission, to PENDING_ACTIVATION (cloudsign) or
 * PENDING_OFFLINE (the others). A changed ID card sends it back (R9.2).
 */
#ifndef CR_CORE_RENEWAL_H
#define CR_CORE_RENEWAL_H

#include <stdbool.h>
#include <time.h>

enum cr_cert_type {
	CR_CERT_QUALIFIED,
	CR_CERT_ENCRYPTION,
	CR_CERT_CLOUDSIGN,
};
#define CR_CERT_TYPE_COUNT 3

enum cr_renewal_state {
	CR_RS_PENDING_VERIFICATION, /* due; identity verification not started */
	CR_RS_VERIFYING,            /* in an application that is not yet submitted */
	CR_RS_PENDING_ACTIVATION,   /* verified cloudsign, awaiting online activation */
	CR_RS_PENDING_OFFLINE,      /* verified non-cloudsign, awaiting the registry visit */
	CR_RS_RENEWED,              /* new certificate issued */
	CR_RS_CANCELLED,            /* renewal withdrawn (declined, expired, revoked) */
};
#define CR_RS_COUNT 6

enum cr_pending_group {
	CR_GROUP_VERIFY,   /* 待身份鑑別之證書 */
	CR_GROUP_ACTIVATE, /* 待線上激活之證書 */
	CR_GROUP_OFFLINE,  /* 待線下辦理之證書 */
	CR_GROUP_NONE,     /* not shown on the pending page */
};
#define CR_GROUP_COUNT 3

/* Stable machine names ("qualified", ...), used in the database and URLs. */
const char *cr_cert_type_name(enum cr_cert_type t);
/* Parses a machine name; false when unknown. */
bool cr_cert_type_parse(const char *s, enum cr_cert_type *out);
/* The customer's label in Traditional Chinese (政府機關合格證書, ...). */
const char *cr_cert_type_label_zh(enum cr_cert_type t);

const char *cr_renewal_state_name(enum cr_renewal_state s);
bool cr_renewal_state_parse(const char *s, enum cr_renewal_state *out);

/* Whether a state change is allowed for a certificate of the given type. */
bool cr_renewal_can_move(enum cr_cert_type t, enum cr_renewal_state from, enum cr_renewal_state to);

/* The state a certificate reaches when its application is submitted. */
enum cr_renewal_state cr_renewal_after_submit(enum cr_cert_type t);

/* Which group of the pending page a certificate in state s is shown in. */
enum cr_pending_group cr_renewal_group(enum cr_cert_type t, enum cr_renewal_state s);

/*
 * Whether a certificate expiring at not_after is inside the renewal window at
 * time now: not yet expired and at most window_days days away.
 */
bool cr_renewal_in_window(time_t not_after, time_t now, int window_days);

#endif
