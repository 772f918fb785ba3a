/*
 * The renewal application: one per holder at a time, covering the set of due
 * certificates the holder confirmed with 「開始鑑別」. Its state says which step
 * of the four-step wizard (驗證帳戶, 驗證身份, 確認續期, 激活證書) the holder is on,
 * so leaving and logging in again lands on the same step (SPEC R11.2).
 *
 * Also the policy of email verification codes (SPEC R5.4) as pure functions
 * with the clock injected.
 */
#ifndef CR_CORE_APPLICATION_H
#define CR_CORE_APPLICATION_H

#include <stdbool.h>
#include <time.h>

enum cr_app_state {
	CR_APP_CONSENT,      /* step 1: waiting for the personal-data consent */
	CR_APP_EMAILS,       /* step 1: verifying the email addresses */
	CR_APP_IDENTITY,     /* step 2: DSI check and photo */
	CR_APP_CONFIRM,      /* step 3: declaration, e-ID and signature */
	CR_APP_SUBMITTED,    /* step 4: submitted; activation or registry visit */
	CR_APP_CANCELLED,
	CR_APP_COUNTER,      /* step 2 stopped the online path (ID data, card or face): the registry
	                        finishes it in person; the certificates stay with the application */
};
#define CR_APP_STATE_COUNT 7

const char *cr_app_state_name(enum cr_app_state s);
bool cr_app_state_parse(const char *s, enum cr_app_state *out);
/* The wizard step (1-4) a state belongs to; 0 for cancelled. */
int cr_app_step(enum cr_app_state s);
/* Whether an application may move from one state to another: forward one step, from step 2 to
   the counter, or cancelled from any open state. */
bool cr_app_can_move(enum cr_app_state from, enum cr_app_state to);
/* Whether the application still holds its certificates (not submitted or cancelled). */
bool cr_app_is_open(enum cr_app_state s);

/* ---- email verification codes ---- */
struct cr_code_policy {
	int ttl;           /* seconds a code is valid (300) */
	int max_attempts;  /* wrong tries before the code is dead (5) */
	int resend_after;  /* seconds before another code may be sent to the address (60) */
	int per_hour;      /* codes per address per rolling hour (5) */
};
#define CR_CODE_POLICY_DEFAULT {300, 5, 60, 5}

/* What the store knows of the newest code for an address. */
struct cr_code_state {
	bool exists;
	time_t expires_at;
	int attempts;      /* wrong tries so far */
	bool used;
};

enum cr_code_verdict {
	CR_CODE_OK,
	CR_CODE_NONE,      /* no code was sent (or a newer one replaced it) */
	CR_CODE_WRONG,     /* wrong digits; tries left */
	CR_CODE_EXPIRED,
	CR_CODE_USED,
	CR_CODE_DEAD,      /* too many wrong tries */
	CR_CODE_MALFORMED, /* not six digits */
};

/* Judges a submitted code. `matches` is the constant-time comparison's result;
   checked only when the code is still live. attempts_left gets the tries left after this one. */
enum cr_code_verdict cr_code_judge(const struct cr_code_policy *p, const struct cr_code_state *s, bool well_formed,
    bool matches, time_t now, int *attempts_left);

enum cr_send_verdict {
	CR_SEND_OK,
	CR_SEND_TOO_SOON,  /* *wait gets the seconds until allowed */
	CR_SEND_HOURLY_CAP,
};
/* Whether a new code may be sent: last_sent 0 when none; sent_last_hour counts codes in (now-3600, now]. */
enum cr_send_verdict cr_code_may_send(const struct cr_code_policy *p, time_t last_sent, int sent_last_hour, time_t now,
    int *wait);

/* Whether s is exactly six ASCII digits. */
bool cr_code_well_formed(const char *s);

#endif
