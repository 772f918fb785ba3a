/*
 * The renewal flow: one function per action a person takes (a holder's steps of
 * the renewal application, a coordinator's decisions, login and logout). This is
 * where the rules are applied; page handlers in web/ only translate HTTP into a
 * call here and the result into a page, and an admin command or a test can call
 * the same functions without HTTP.
 *
 * Each action runs its one transaction on the caller's connection, writes its
 * audit rows in that transaction and returns a result: an outcome, a reason the
 * page can name, and the data the page shows. It knows nothing of
 * libmicrohttpd, requests, cookies, templates or redirects. Which state changes
 * are legal is asked of core/ (cr_app_can_move), never decided here.
 *
 * Trust: the actor (who is acting, from where) comes from the caller's
 * authenticated session, never from input; every object named by input (an
 * application id, an address index, a certificate id) is loaded through the
 * actor, so another holder's id is "not found".
 */
#ifndef CR_FLOW_H
#define CR_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "adapters/dsi.h"
#include "adapters/govid.h"
#include "core/application.h"
#include "media/image.h"
#include "notify/outbox.h"
#include "store/store.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/seal.h"

struct cr_doc;
struct cr_csc;
struct cr_pki;

/* What the flow needs that lives as long as the process: read-only after start-up (app/ fills it). */
struct cr_flow_env {
	int window_days;                 /* renewal window: which certificates are due */
	int horizon_days;                /* what coordinators may decide on */
	int session_idle_minutes;
	int session_absolute_minutes;
	int login_max_per_address;       /* logins one client address may start per CR_LOGIN_FLOW_TTL; 0: no limit */
	const char *base_url;            /* for links in mail, no trailing slash */
	struct cr_code_policy codes;     /* email verification codes */
	const unsigned char *codes_key;  /* 32 bytes: HMAC key of stored code hashes */
	const struct cr_mailer *mailer;  /* queues mail in the caller's transaction */
	struct cr_govid *govid;          /* GovID relying party (login); NULL where no login happens */
	/* Step 2, identity proofing */
	const struct cr_dsi *dsi;        /* NULL where no DSI is configured: step 2 is unavailable */
	const struct cr_seal_key *evidence_key; /* seals photos and DSI answers */
	const char *evidence_dir;        /* sealed photo files */
	struct cr_image_limits photo;    /* what an upload may be */
	double face_threshold;
	int face_tries_per_app, face_tries_per_holder, face_tries_window_days;
	int evidence_retention_days;
	/* Step 3, declaration and e-signature */
	struct cr_doc *doc;              /* renders the application document; NULL: step 3 unavailable */
	const struct cr_csc *csc;        /* GovID's signing service; NULL: step 3 unavailable */
	const char *signing_trust_file;  /* PEM of the GovID CA(s) that issue signing certificates */
	/* Step 4, activation and issuance */
	const struct cr_pki *pki;        /* the CAs and the vault; NULL: step 4 unavailable */
	int activation_window_days;      /* after submission */
	int activation_max_wrong;        /* wrong signing passwords before the account locks */
	int activation_lock_minutes;
	int activation_claim_seconds;    /* one activation's hold on the account (and a reservation's life) */
	int activation_recheck_minutes;  /* a DSI re-read stands this long */
	const char *crl_dir;             /* where CRLs and CA certificates are published */
	int crl_hours;                   /* a CRL's nextUpdate */
	const char *crash_at;            /* DEV tests only: the issuance step after which to stop the
	                                    process (docs/internals/issuance.md); NULL otherwise */
};

/* One action's context: borrowed for the call. */
struct cr_flow_ctx {
	const struct cr_flow_env *env;
	struct cr_db *db;
	time_t now;
	const struct cr_person *actor; /* the authenticated person; NULL before login */
	const char *ip;                /* client address, for the audit log ("" when none; NULL: a job) */
};

enum cr_flow_outcome {
	CR_FLOW_DONE,        /* the action happened (or had already, see each function) */
	CR_FLOW_REFUSED,     /* a rule refused it: `why` names the rule; nothing changed (except counted tries) */
	CR_FLOW_CONFLICT,    /* lost a race to another request: `app` is where the winner left things */
	CR_FLOW_UNAVAILABLE, /* the store or an external service failed: nothing changed, try again later */
};

enum cr_flow_why {
	CR_WHY_NONE,
	CR_WHY_NOT_FOUND,        /* no such object for this actor (another holder's id, a bad index) */
	CR_WHY_WRONG_STEP,       /* the application is at another step: `app` says which */
	CR_WHY_SET_CHANGED,      /* the certificates shown are no longer the ones due */
	CR_WHY_CONSENT_REQUIRED,
	CR_WHY_ALREADY_VERIFIED, /* the address is verified already */
	CR_WHY_CODE_TOO_SOON,    /* n: seconds to wait */
	CR_WHY_CODE_HOURLY,
	CR_WHY_CODE_NONE,
	CR_WHY_CODE_WRONG,       /* n: tries left */
	CR_WHY_CODE_EXPIRED,
	CR_WHY_CODE_USED,
	CR_WHY_CODE_DEAD,
	CR_WHY_CODE_MALFORMED,
	CR_WHY_EMAILS_PENDING,   /* an address is not verified yet */
	CR_WHY_NOT_COORDINATOR,
	CR_WHY_BAD_DECISION,     /* neither confirmed nor declined */
	CR_WHY_NONE_SELECTED,
	CR_WHY_NOT_THEIRS,       /* a certificate outside the coordinator's organisation or horizon */
	CR_WHY_LOGIN_STATE,      /* unknown, used or expired login, or another browser's */
	CR_WHY_LOGIN_PROVIDER,   /* GovID refused or returned an error, or the token failed verification */
	CR_WHY_UNKNOWN_USER,     /* a GovID subject with no registration here */
	CR_WHY_LOGIN_RATE,       /* this address started too many logins lately: try again later */
	CR_WHY_DSI_DOWN,         /* DSI unreachable, too slow or answering garbage: try again later */
	CR_WHY_CERT_INVALID,     /* a certificate of the application expired or was revoked */
	CR_WHY_PHOTO_BAD,        /* n: the enum cr_image_verdict of the upload */
	CR_WHY_PHOTO_MISSING,    /* 「確定使用照片」 with no photo uploaded */
	CR_WHY_FACE_LOW,         /* below the threshold; n: tries left */
	CR_WHY_FACE_UNUSABLE,    /* DSI could not use the photo (no try counted) */
	CR_WHY_DECLARATION_REQUIRED, /* 「同意並接受申請人／登記人協定及聲明」 not ticked */
	CR_WHY_POSITION_UNKNOWN, /* a 職務/職級/職位 that is neither on the list nor the current one */
	CR_WHY_EID_STATE,        /* unknown or used e-ID answer, another holder's or another document's */
	CR_WHY_EID_EXPIRED,      /* the e-ID request is older than CR_EID_REQUEST_TTL */
	CR_WHY_EID_REFUSED,      /* the holder pressed 「拒絕」 on the phone (GovID answered access_denied) */
	CR_WHY_EID_INVALID,      /* the ID token failed: level, age, another person or resident number */
	CR_WHY_EID_DOWN,         /* GovID unreachable or answering garbage: try again later */
	CR_WHY_SIGN_DOWN,        /* the signing service unreachable or answering garbage: try again later */
	CR_WHY_SIGN_INVALID,     /* the signature failed validation (the report is kept) */
	CR_WHY_NOT_SIGNED,       /* submit before the current document has a valid signature */
	CR_WHY_NOT_ACTIVATABLE,  /* not a cloudsign certificate of this application waiting for activation */
	CR_WHY_ACTIVATION_CLOSED, /* the activation window after submission has passed: verify again */
	CR_WHY_ID_CHANGED,       /* DSI's re-read differs or the card is not valid (R9.2): verify again */
	CR_WHY_PASSWORD_WRONG,   /* n: wrong signing passwords left before the lock */
	CR_WHY_ACCOUNT_LOCKED,   /* until: see the function */
	CR_WHY_PASSPHRASE_BAD,   /* n: the enum cr_passphrase_verdict */
	CR_WHY_BUSY,             /* another activation of the account is running: try again shortly */
	CR_WHY_ISSUE_DOWN,       /* the CA is not configured or failed: nothing was issued, try later */
	CR_WHY_NO_ACCOUNT,       /* the certificate names no signing account known here */
	CR_WHY_REVOKE_WRONG,     /* n: wrong revocation passphrases left before the lock */
	CR_WHY_REVOKE_LOCKED,
	CR_WHY_ALREADY_REVOKED,
	CR_WHY_NOT_REVOCABLE,    /* not a certificate issued here (no passphrase on record) */
};

struct cr_flow_result {
	enum cr_flow_outcome outcome;
	enum cr_flow_why why;
	int n;                       /* the number a reason carries (seconds, tries), else 0 */
	struct cr_application app;   /* the application after the action (id 0: none) */
};

/* A stable name of a reason, for logs and message keys ("code_wrong"). */
const char *cr_flow_why_name(enum cr_flow_why why);

/* ---- the renewal application, step 1 (flow_verify.c; SPEC R5) ---- */
#define CR_FLOW_MAX_CERTS 64
#define CR_FLOW_MAX_EMAILS 16
#define CR_FLOW_SET_DIGEST_LEN CR_B64URL_SIZE(32)
#define CR_CONSENT_VERSION "pdp-2025-1"

/* The holder's open application; CR_ERR_NOTFOUND when none. */
enum cr_err cr_flow_app_current(const struct cr_flow_ctx *c, struct cr_application *out);
/* The application app_id if it is the actor's; CR_ERR_NOTFOUND otherwise. */
enum cr_err cr_flow_app_get(const struct cr_flow_ctx *c, int64_t app_id, struct cr_application *out);
/* The certificates 「開始鑑別」 would start (at most CR_FLOW_MAX_CERTS into out) and the digest of
   that set, which the page hands back to cr_flow_start. */
enum cr_err cr_flow_verifiable(const struct cr_flow_ctx *c, struct cr_cert_view *out, size_t *n,
    char digest[CR_FLOW_SET_DIGEST_LEN]);
/* The certificates of an application that is the actor's (at most CR_FLOW_MAX_CERTS). */
enum cr_err cr_flow_app_certs(const struct cr_flow_ctx *c, int64_t app_id, struct cr_cert_view *out, size_t *n);

/* 「開始鑑別」 over the set whose digest the page showed. Refused SET_CHANGED when it is not the current
   set; an open application already (another tab) is DONE with that one in res->app. */
void cr_flow_start(const struct cr_flow_ctx *c, const char *shown_digest, struct cr_flow_result *res);
/* The personal-data consent (R5.2): agreed is the ticked box; records time and text version. */
void cr_flow_consent(const struct cr_flow_ctx *c, int64_t app_id, bool agreed, struct cr_flow_result *res);

/* One address of the application as its page shows it. */
struct cr_flow_email {
	int index;          /* in the application's sorted list */
	char email[CR_TEXT];
	bool verified;
	long remaining;     /* seconds the newest code is still good for; 0: none live */
	int resend_wait;    /* seconds until 「獲取驗證碼」 works again; 0: now */
};
/* The application's addresses (at the email step only, else REFUSED WRONG_STEP). */
void cr_flow_emails(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_email *out, size_t *n,
    struct cr_flow_result *res);
/* One address by index, with its code's countdown and resend wait. */
void cr_flow_email(const struct cr_flow_ctx *c, int64_t app_id, int index, struct cr_flow_email *out,
    struct cr_flow_result *res);
/* 「獲取驗證碼」: a new code for the address, stored hashed and mailed, within the resend and hourly limits. */
void cr_flow_code_send(const struct cr_flow_ctx *c, int64_t app_id, int index, struct cr_flow_result *res);
/* 「驗證電郵地址」: judges the code; a wrong try is counted (and committed) although it is refused. */
void cr_flow_code_check(const struct cr_flow_ctx *c, int64_t app_id, int index, const char *code,
    struct cr_flow_result *res);
/* 「下一步」 after every address is verified: each certificate must still be valid and not revoked
   (REFUSED CERT_INVALID), then DSI's current ID-card data is compared with the registration data
   (R6.1) and kept as evidence. DONE with the application at step 2 when they match, or at the
   counter (counter_reason says why) when they do not; UNAVAILABLE DSI_DOWN changes nothing. */
void cr_flow_emails_done(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_result *res);

/* ---- the renewal application, step 2 「驗證身份」 (flow_identity.c; SPEC R6) ---- */

/* Why an application was sent to the registry counter (applications.counter_reason). */
#define CR_COUNTER_ID_MISMATCH "id_mismatch"   /* names or resident number differ from DSI's */
#define CR_COUNTER_CARD_INVALID "card_invalid" /* the ID card expired or is not valid */
#define CR_COUNTER_NOT_RESIDENT "not_resident" /* DSI has no such resident */
#define CR_COUNTER_FACE_TRIES "face_tries"     /* face comparison tries used up */
#define CR_COUNTER_NO_FACE "no_face"           /* DSI holds no face to compare with */

/* What the step 2 page shows. */
struct cr_flow_identity {
	bool checked;               /* a DSI check is on record */
	struct cr_id_check check;   /* the newest one (fields compared and their results) */
	bool has_photo;
	struct cr_photo photo;      /* the current photo */
	int tries_left;             /* face comparisons left (per application and per holder) */
	int tries_used;             /* failed comparisons of this application */
};

/* The step 2 page's data (the application at step 2 or at the counter, else REFUSED WRONG_STEP). */
void cr_flow_identity_view(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_identity *out,
    struct cr_flow_result *res);
/* 「上傳近照」 / 「重新上傳」: judges the file by decoding it (media/image.h), re-encodes it and keeps it
   sealed as the application's current photo. REFUSED PHOTO_BAD (n: the verdict) stores nothing. */
void cr_flow_photo_upload(const struct cr_flow_ctx *c, int64_t app_id, const void *data, size_t len,
    struct cr_flow_result *res);
/* The current photo's JPEG, opened, appended to jpeg: for its holder only. */
enum cr_err cr_flow_photo_get(const struct cr_flow_ctx *c, int64_t app_id, struct cr_buf *jpeg);
/* 「確定使用照片」: DSI compares the photo with the registered face. DONE: passed (state confirm) or, the
   tries used up, sent to the counter; REFUSED FACE_LOW (n: tries left) with the try counted. */
void cr_flow_face_check(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_result *res);

/* The retention purge (certrenew jobs): evidence older than env->evidence_retention_days. *purged
   counts photos and checks purged. Audited. */
enum cr_err cr_flow_evidence_purge(const struct cr_flow_ctx *c, long *purged);

/* ---- the renewal application, step 3 「確認續期」 (flow_confirm.c; SPEC R7, R8) ---- */
#define CR_EID_ACR "govid:very-high"
#define CR_EID_REQUEST_TTL 600  /* seconds from 「進行電子身份識別並簽署申請文件」 to GovID's answer */
#define CR_EID_MAX_AUTH_AGE 300 /* the face recognition must be this recent when the answer arrives */
#define CR_SIGNING_TIME_LEEWAY 120
#define CR_APP_NUMBER_LEN 24

/* The application's number as documents and the phone show it ("R2026-000042"). */
void cr_flow_app_number(const struct cr_application *app, char out[CR_APP_NUMBER_LEN]);

/* What the step 3 and step 4 pages show. Large: allocate it. */
struct cr_flow_confirm {
	char app_number[CR_APP_NUMBER_LEN];
	struct cr_cert_view certs[CR_FLOW_MAX_CERTS];
	size_t n_certs;
	struct cr_email_check emails[CR_FLOW_MAX_EMAILS];
	size_t n_emails;
	bool checked;                          /* the DSI check of step 1 is on record */
	struct cr_id_check check;
	char positions[CR_MAX_POSITIONS][CR_TEXT]; /* the choices, the current value among them */
	size_t n_positions;
	char position[CR_TEXT];                /* chosen at the declaration, else the current one */
	struct cr_app_confirm confirm;
	bool has_document;
	struct cr_document document;
	bool is_signed;                        /* the current document has a passed signature */
	struct cr_signature signature;
};
/* The summary (application at step 3 or 4, else REFUSED WRONG_STEP). */
void cr_flow_confirm_view(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_confirm *out,
    struct cr_flow_result *res);
/* 「進行電子身份識別並簽署申請文件」: agreed is the ticked declaration, position the chosen 職務/職級/職位.
   Renders and keeps (sealed) the application document with a fresh nonce, records the declaration and
   starts a very-high e-ID request bound to this application and document; appends GovID's
   authorization URL to authorize_url. All of it in one transaction, or nothing. */
void cr_flow_declare(const struct cr_flow_ctx *c, int64_t app_id, bool agreed, const char *position,
    struct cr_buf *authorize_url, struct cr_flow_result *res);
/* GovID's e-ID answer (state, code; provider_error when it sent error=): takes the request once,
   checks the ID token (very-high, fresh, the holder, the resident number DSI confirmed), has GovID's
   signing service sign the document's SHA-256 and validates the CMS. DONE: a passed signature is
   kept with its evidence (ID token, CMS, validation report, sealed) in one transaction. */
void cr_flow_eid_finish(const struct cr_flow_ctx *c, const char *state, const char *code, bool provider_error,
    struct cr_flow_result *res);
/* 「確認提交證書續期申請」: the application to step 4 and each certificate to its next state (R8).
   Submitting again is DONE with nothing changed. */
void cr_flow_submit(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_result *res);
/* The current application document (PDF) in clear, for its holder (step 3 or 4). */
enum cr_err cr_flow_document_get(const struct cr_flow_ctx *c, int64_t app_id, struct cr_buf *pdf);
/* The passed signature (detached CMS, DER) of the current document, for its holder. */
enum cr_err cr_flow_signature_get(const struct cr_flow_ctx *c, int64_t app_id, struct cr_buf *cms);

/* ---- the renewal application, step 4 「激活證書」 (flow_activate.c; SPEC R9;
   docs/internals/issuance.md) ---- */
#define CR_ACTIVATION_MAX CR_FLOW_MAX_CERTS
#define CR_PASSWORD_MAX 256         /* bytes of a signing password or passphrase the form takes */

/* One certificate of the application on the step 4 page. */
struct cr_flow_activation_cert {
	struct cr_cert_view cert;       /* the certificate being renewed */
	char renewal_state[32];         /* pending_activation, renewed, pending_offline, pending_verification */
	bool activatable;               /* 「激活」 is offered */
	bool renewed;                   /* a new certificate was issued: new_cert says which */
	struct cr_cert_view new_cert;
};
struct cr_flow_activation {
	struct cr_flow_activation_cert certs[CR_ACTIVATION_MAX];
	size_t n;
	time_t open_until;              /* submission + activation window */
};
/* The application's certificates as step 4 shows them (application submitted, else WRONG_STEP). */
void cr_flow_activation_view(const struct cr_flow_ctx *c, int64_t app_id, struct cr_flow_activation *out,
    struct cr_flow_result *res);

/* The activation form of one certificate. */
struct cr_flow_activate_form {
	struct cr_cert_view cert;
	char account[CR_TEXT];          /* 雲簽用户名稱 */
	time_t locked_until;            /* when ACCOUNT_LOCKED: until when */
	int tries_left;                 /* wrong passwords left before the lock */
};
/* 「激活」: the certificate must be the holder's, of this submitted application, cloudsign and waiting
   for activation (NOT_ACTIVATABLE), inside the window (ACTIVATION_CLOSED: back to verification),
   not revoked or expired (CERT_INVALID). Then DSI is read again (R9.2) unless a read of this
   application matched within activation_recheck_minutes; the answer is kept as evidence. A changed
   or invalid card: REFUSED ID_CHANGED, the 《需重新認證進行身份鑑別》 mail queued and the application's
   certificates waiting for activation back to 「待身份鑑別之證書」, in one transaction. */
void cr_flow_activate_open(const struct cr_flow_ctx *c, int64_t app_id, int64_t cert_id,
    struct cr_flow_activate_form *out, struct cr_flow_result *res);

/* The form's data as it stands (account, tries, lock), with none of 「激活」's checks or re-read:
   for showing the form again after a refusal. */
void cr_flow_activate_form_get(const struct cr_flow_ctx *c, int64_t app_id, int64_t cert_id,
    struct cr_flow_activate_form *out, struct cr_flow_result *res);
/* The actor's newest submitted application with a certificate waiting for activation;
   CR_ERR_NOTFOUND when none. */
enum cr_err cr_flow_activation_app(const struct cr_flow_ctx *c, int64_t *app_id);

/* What 「激活證書」 produced. */
struct cr_flow_activated {
	int64_t new_cert_id;
	char serial_hex[80];
	time_t not_before, not_after;
	time_t locked_until;            /* when ACCOUNT_LOCKED */
};
/* 「激活證書」: everything cr_flow_activate_open checks, the passphrase rule (PASSPHRASE_BAD, nothing
   changed), the account not locked (ACCOUNT_LOCKED) nor held by another activation (BUSY); the
   password must open the certificate's key in the vault (PASSWORD_WRONG counted, the max-th locks).
   Then a new key is sealed under the same password, the issuance reserved (serial, key, passphrase
   hash), the certificate signed and stored, the old one superseded, the renewal renewed, the
   activation mail queued: exactly one new certificate per renewed one, whatever the races or
   crashes. DONE also when it was activated already (out names the certificate). */
void cr_flow_activate(const struct cr_flow_ctx *c, int64_t app_id, int64_t cert_id, const char *password,
    const char *passphrase, const char *again, struct cr_flow_activated *out, struct cr_flow_result *res);

/* The holder's certificates issued here (at most max), for the revocation page. */
enum cr_err cr_flow_issued_certs(const struct cr_flow_ctx *c, struct cr_cert_view *out, size_t max, size_t *n);
/* A certificate of the holder as DER (appended to der). */
enum cr_err cr_flow_certificate_get(const struct cr_flow_ctx *c, int64_t cert_id, struct cr_buf *der);
/* Revokes a certificate issued here with its 證書撤銷短語 (reason unspecified, or keyCompromise when
   key_compromise): REVOKE_WRONG counted, the max-th locks (REVOKE_LOCKED). The next CRL lists it. */
void cr_flow_revoke(const struct cr_flow_ctx *c, int64_t cert_id, const char *passphrase, bool key_compromise,
    struct cr_flow_result *res);

/* Publishes, for every type, a CRL signed by its CA and the CA's certificate into env->crl_dir
   (<type>.crl, <type>-ca.crt; written to a temporary file and renamed). Audited. *entries counts
   the revoked certificates listed. */
enum cr_err cr_flow_crl_publish(const struct cr_flow_ctx *c, long *entries);
/* The same for the types whose CRL is due: never published, its file missing, a revocation since,
   or half of crl_hours gone (so relying parties never hold an expired CRL). *published counts the
   CRLs written. What `certrenew jobs` runs every pass. */
enum cr_err cr_flow_crl_refresh(const struct cr_flow_ctx *c, long *published, long *entries);
/* Abandons reservations left by stopped activations (older than two claims; their keys destroyed)
   and destroys the vault keys of certificates superseded (or revoked) and expired. Audited per key;
   *destroyed counts both. */
enum cr_err cr_flow_vault_purge(const struct cr_flow_ctx *c, long *destroyed);

/* ---- department confirmation (flow_dept.c; SPEC R2) ---- */
#define CR_FLOW_DEPT_MAX_ROWS 2000

/* Whether the actor may see and decide on an organisation's certificates (a coordinator); logs a refusal. */
bool cr_flow_dept_allowed(const struct cr_flow_ctx *c);
/* The coordinator's organisation's certificates within the horizon (at most CR_FLOW_DEPT_MAX_ROWS).
   CR_ERR_DENIED when the actor is not a coordinator. */
enum cr_err cr_flow_dept_list(const struct cr_flow_ctx *c, struct cr_org_cert *out, size_t *n);
/* Records decision ("confirmed" or "declined") for every id, all or nothing: one id that is not the
   organisation's (or outside the horizon) refuses the whole post, NOT_THEIRS. res->n: how many. */
void cr_flow_dept_decide(const struct cr_flow_ctx *c, const char *decision, const int64_t *ids, size_t n,
    struct cr_flow_result *res);

/* ---- login and sessions (flow_login.c; SPEC R3) ---- */
#define CR_LOGIN_FLOW_TTL 600

/* What the browser must keep for the login: the pre-login secret (its cookie) and where to go. */
struct cr_flow_login_start {
	char browser_secret[CR_B64URL_SIZE(32)]; /* secret: set as a cookie, wipe after use */
	struct cr_buf *authorize_url;            /* the caller's buffer, appended to */
};
/* Starts a GovID login: state, nonce and PKCE bound to a fresh browser secret. UNAVAILABLE when
   GovID cannot be reached; REFUSED LOGIN_RATE when the client address started
   env->login_max_per_address logins within CR_LOGIN_FLOW_TTL (counted in the store, so across
   instances). */
void cr_flow_login_begin(const struct cr_flow_ctx *c, struct cr_flow_login_start *out, struct cr_flow_result *res);

/* A started session: the cookie value (secret) for the caller to set. */
struct cr_flow_session {
	char cookie[CR_B64URL_SIZE(32)];
	int64_t person_id;
};
/* The GovID callback: state and code from the query, browser_secret from the cookie (NULL if
   absent), provider_error whether the provider sent error=. Takes the login (once), exchanges the
   code, maps the subject to a person and starts a session (audited). */
void cr_flow_login_finish(const struct cr_flow_ctx *c, const char *state, const char *code, const char *browser_secret,
    bool provider_error, struct cr_flow_session *out, struct cr_flow_result *res);
/* The session named by a cookie value, within the idle and absolute timeouts (touched at most once a
   minute); fills person and the session id's hash. CR_ERR_NOTFOUND when absent, expired or malformed;
   CR_ERR_IO when the store failed (the session is kept). */
enum cr_err cr_flow_session_resume(const struct cr_flow_ctx *c, const char *cookie, struct cr_person *person,
    unsigned char sid_hash[CR_HASH_LEN]);
/* Logout: the session is deleted with an audit row. */
void cr_flow_logout(const struct cr_flow_ctx *c, const unsigned char sid_hash[CR_HASH_LEN], struct cr_flow_result *res);

#endif
