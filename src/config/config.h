/*
 * certrenew's configuration: built-in DEV defaults, then an optional file of
 * `key = value` lines, then CERTRENEW_* environment variables (the key in
 * capitals with dots as underscores: database.url -> CERTRENEW_DATABASE_URL).
 * A bad value is refused with a message naming the key.
 *
 * The lowest project layer (src/config): web, jobs, notify and app read the
 * struct; it includes nothing of the project but util/.
 */
#ifndef CR_CONFIG_CONFIG_H
#define CR_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define CR_CFG_STR 1024

struct cr_config {
	bool dev;                            /* mode = dev | prod */
	char var_dir[CR_CFG_STR];            /* var_dir */
	char listen_host[64];                /* listen = host:port */
	int listen_port;
	char base_url[CR_CFG_STR];           /* base_url, no trailing slash */
	char database_url[CR_CFG_STR];       /* database.url: sqlite:PATH or postgresql://... */
	char govid_issuer[CR_CFG_STR];       /* govid.issuer */
	char govid_client_id[256];           /* govid.client_id */
	char govid_client_secret_file[CR_CFG_STR];
	char templates_dir[CR_CFG_STR];
	char static_dir[CR_CFG_STR];
	char locale_dir[CR_CFG_STR];
	char people_file[CR_CFG_STR];        /* demo.people_file (DEV demo data) */
	int window_days;                     /* renewal.window_days */
	int session_idle_minutes;            /* session.idle_minutes */
	int session_absolute_minutes;        /* session.absolute_minutes */
	int login_max_per_address;           /* login.max_per_address: logins one address may start in 10 minutes */
	int http_threads;                    /* http.threads */
	int http_max_connections;            /* http.max_connections */
	bool cookie_secure;                  /* session.cookie_secure: behind TLS */
	int horizon_days;                    /* renewal.horizon_days: what coordinators see */
	char reminder_days[64];              /* renewal.reminder_days: "14,7,1" or "none" */
	char smtp_url[CR_CFG_STR];           /* smtp.url: smtp://host:port; empty: .eml files */
	char smtp_username[256];             /* smtp.username */
	char smtp_password_file[CR_CFG_STR]; /* smtp.password_file */
	bool smtp_starttls;                  /* smtp.starttls: require STARTTLS */
	bool smtp_allow_plain;               /* smtp.allow_plain: production may send over smtp:// in clear */
	char mail_from[512];                 /* mail.from: From header (UTF-8 display name allowed) */
	char mail_reply_to[512];             /* mail.reply_to */
	char mail_envelope_from[256];        /* mail.envelope_from: SMTP MAIL FROM */
	int mail_max_tries;                  /* mail.max_tries before a message is marked failed */
	int mail_retry_seconds;              /* mail.retry_seconds: first backoff, doubling to 1 h */
	int mail_lease_seconds;              /* mail.lease_seconds: how long a sender holds a claimed message */
	char mail_dir[CR_CFG_STR];           /* mail.dir: where .eml files go without SMTP */
	char outbox_key_file[CR_CFG_STR];    /* mail.outbox_key_file: seals messages at rest */
	char codes_key_file[CR_CFG_STR];     /* codes.key_file: keys the hashes of verification codes */
	/* DSI, the Identification Services Bureau (step 2; docs/internals/dsi.md) */
	char dsi_base_url[CR_CFG_STR];       /* dsi.base_url: https in production */
	char dsi_api_key_file[CR_CFG_STR];   /* dsi.api_key_file: bearer key, 0600; empty with a client cert */
	char dsi_client_cert[CR_CFG_STR];    /* dsi.client_cert: PEM, for mutual TLS (optional) */
	char dsi_client_key[CR_CFG_STR];     /* dsi.client_key: PEM, 0600 */
	char dsi_ca_file[CR_CFG_STR];        /* dsi.ca_file: CA bundle that DSI's server certificate chains to */
	int dsi_connect_timeout_ms;          /* dsi.connect_timeout_ms */
	int dsi_timeout_ms;                  /* dsi.timeout_ms: the whole exchange */
	/* Identity proofing (SPEC R6) */
	/* GovID's e-signature service (step 3; docs/internals/esign.md) */
	char signing_base_url[CR_CFG_STR];   /* signing.base_url: https in production */
	char signing_ca_file[CR_CFG_STR];    /* signing.ca_file: CA bundle of its server certificate */
	char signing_trust_file[CR_CFG_STR]; /* signing.trust_file: PEM of the GovID CA that issues signing certificates */
	int signing_connect_timeout_ms;      /* signing.connect_timeout_ms */
	int signing_timeout_ms;              /* signing.timeout_ms: one call */
	double face_threshold;               /* identity.face_threshold: DSI score needed, 0..1 */
	int face_tries_per_app;              /* identity.face_tries_per_application */
	int face_tries_per_holder;           /* identity.face_tries_per_holder, within the window below */
	int face_tries_window_days;          /* identity.face_tries_window_days */
	int photo_max_bytes;                 /* identity.photo_max_bytes: an upload's cap */
	char evidence_key_file[CR_CFG_STR];  /* identity.evidence_key_file: seals photos and DSI answers */
	char evidence_dir[CR_CFG_STR];       /* identity.evidence_dir: sealed photos */
	int evidence_retention_days;         /* identity.evidence_retention_days: then purged by jobs */
	/* The CA (step 4; docs/internals/issuance.md): one issuing CA per type, indexed by enum cr_cert_type */
	struct {
		char ca_cert[CR_CFG_STR];        /* pki.<type>.ca_cert: PEM (default var_dir/pki/<type>-ca.pem) */
		char ca_key[CR_CFG_STR];         /* pki.<type>.ca_key: PEM, 0600 */
		int validity_days;               /* pki.<type>.validity_days */
		char policy_oid[128];            /* pki.<type>.policy_oid: certificatePolicies */
	} pki_types[3];
	char pki_root_cert[CR_CFG_STR];      /* pki.root_cert: the root the issuing CAs chain to */
	char pki_vault_key_file[CR_CFG_STR]; /* pki.vault_key_file: the signing-account vault's server key */
	char pki_key_algorithm[16];          /* pki.key_algorithm: ec-p256 | rsa-3072 (new account keys) */
	char pki_publish_url[CR_CFG_STR];    /* pki.publish_url: where CRLs and CA certificates are served
	                                        (certificates name <url>/<type>.crl and <url>/<type>-ca.crt) */
	char pki_crl_dir[CR_CFG_STR];        /* pki.crl_dir: where `certrenew crl` writes them */
	int pki_crl_hours;                   /* pki.crl_hours: a CRL's nextUpdate after thisUpdate */
	int activation_window_days;          /* activation.window_days: after submission */
	int activation_max_wrong;            /* activation.max_wrong_passwords before the account locks */
	int activation_lock_minutes;         /* activation.lock_minutes */
	int activation_claim_seconds;        /* activation.claim_seconds: one activation's hold on an account */
	int activation_recheck_minutes;      /* activation.dsi_recheck_minutes: how long a DSI re-read stands */
	char http_trusted_proxies[CR_CFG_STR]; /* http.trusted_proxies: IPv4 addresses, comma-separated; empty:
	                                        none. Requests from these peers name the client in X-Forwarded-For */
};

/* Fills cfg with defaults, then the file (if path is not NULL), then the environment.
   Without a file the mode is dev; a file that does not set `mode` (nor CERTRENEW_MODE) means prod.
   On error writes a message naming the key (or file line) into err. */
enum cr_err cr_config_load(struct cr_config *cfg, const char *path, char *err, size_t errlen);

/* The rules of the mode, checked by `serve` and `jobs` before they start (fail closed):
   DEV listens on loopback only (listen 127.0.0.1, ::1 or localhost) and its base_url names loopback
   (http:// or https:// to 127.0.0.1, localhost or [::1]), so a DEV system is never reachable from
   elsewhere. Production reaches everything outside over https (base_url, govid.issuer, dsi.base_url,
   signing.base_url), sends mail through SMTP (smtp.url set: no clear .eml files) and over TLS
   (smtps://, or smtp:// with smtp.starttls) unless smtp.allow_plain says otherwise.
   Returns CR_OK, or CR_ERR_CONFIG with a message naming the key in err. */
enum cr_err cr_config_check_mode(const struct cr_config *cfg, char *err, size_t errlen);

/* Copies a database URL for logs with any password replaced by "***"
   (postgresql://user:secret@host/db -> postgresql://user:***@host/db). */
void cr_config_redact_url(const char *url, char *out, size_t outlen);

/* Sets one key from its text value; used by the loader and by tests. */
enum cr_err cr_config_set(struct cr_config *cfg, const char *key, const char *value, char *err, size_t errlen);

#endif
