/*
 * Configuration loading; see config.h. Keys are a fixed table so that an
 * unknown key in a file is an error (a typo must not silently keep a default).
 * The lowest project layer: it includes nothing of the project but util/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/forwarded.h"

enum kind { K_STR, K_INT, K_BOOL, K_MODE, K_LISTEN, K_URL, K_PROXIES, K_FRACTION };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;  /* for strings */
	int min, max; /* for integers */
};

#define S(n, f) {n, K_STR, offsetof(struct cr_config, f), sizeof(((struct cr_config *)0)->f), 0, 0}
#define U(n, f) {n, K_URL, offsetof(struct cr_config, f), sizeof(((struct cr_config *)0)->f), 0, 0}
#define I(n, f, lo, hi) {n, K_INT, offsetof(struct cr_config, f), 0, lo, hi}
#define B(n, f) {n, K_BOOL, offsetof(struct cr_config, f), 0, 0, 0}

static const struct key keys[] = {
	{"mode", K_MODE, 0, 0, 0, 0},
	{"listen", K_LISTEN, 0, 0, 0, 0},
	S("var_dir", var_dir),
	U("base_url", base_url),
	S("database.url", database_url),
	U("govid.issuer", govid_issuer),
	S("govid.client_id", govid_client_id),
	S("govid.client_secret_file", govid_client_secret_file),
	S("templates_dir", templates_dir),
	S("static_dir", static_dir),
	S("locale_dir", locale_dir),
	S("demo.people_file", people_file),
	I("renewal.window_days", window_days, 1, 365),
	I("session.idle_minutes", session_idle_minutes, 1, 24 * 60),
	I("session.absolute_minutes", session_absolute_minutes, 5, 7 * 24 * 60),
	I("login.max_per_address", login_max_per_address, 1, 100000),
	I("http.threads", http_threads, 1, 256),
	I("http.max_connections", http_max_connections, 16, 100000),
	B("session.cookie_secure", cookie_secure),
	I("renewal.horizon_days", horizon_days, 1, 366),
	S("renewal.reminder_days", reminder_days),
	S("smtp.url", smtp_url),
	S("smtp.username", smtp_username),
	S("smtp.password_file", smtp_password_file),
	B("smtp.starttls", smtp_starttls),
	B("smtp.allow_plain", smtp_allow_plain),
	S("mail.from", mail_from),
	S("mail.reply_to", mail_reply_to),
	S("mail.envelope_from", mail_envelope_from),
	I("mail.max_tries", mail_max_tries, 1, 100),
	I("mail.retry_seconds", mail_retry_seconds, 1, 3600),
	I("mail.lease_seconds", mail_lease_seconds, 2, 3600),
	S("mail.dir", mail_dir),
	S("mail.outbox_key_file", outbox_key_file),
	S("codes.key_file", codes_key_file),
	U("dsi.base_url", dsi_base_url),
	S("dsi.api_key_file", dsi_api_key_file),
	S("dsi.client_cert", dsi_client_cert),
	S("dsi.client_key", dsi_client_key),
	S("dsi.ca_file", dsi_ca_file),
	I("dsi.connect_timeout_ms", dsi_connect_timeout_ms, 100, 60000),
	I("dsi.timeout_ms", dsi_timeout_ms, 500, 120000),
	U("signing.base_url", signing_base_url),
	S("signing.ca_file", signing_ca_file),
	S("signing.trust_file", signing_trust_file),
	I("signing.connect_timeout_ms", signing_connect_timeout_ms, 100, 60000),
	I("signing.timeout_ms", signing_timeout_ms, 500, 120000),
	{"identity.face_threshold", K_FRACTION, offsetof(struct cr_config, face_threshold), 0, 0, 0},
	I("identity.face_tries_per_application", face_tries_per_app, 1, 20),
	I("identity.face_tries_per_holder", face_tries_per_holder, 1, 100),
	I("identity.face_tries_window_days", face_tries_window_days, 1, 366),
	I("identity.photo_max_bytes", photo_max_bytes, 64 * 1024, 50 * 1024 * 1024),
	S("identity.evidence_key_file", evidence_key_file),
	S("identity.evidence_dir", evidence_dir),
	I("identity.evidence_retention_days", evidence_retention_days, 1, 36500),
#define PKI_TYPE(t, i) \
	S("pki." t ".ca_cert", pki_types[i].ca_cert), S("pki." t ".ca_key", pki_types[i].ca_key), \
	I("pki." t ".validity_days", pki_types[i].validity_days, 1, 3650), S("pki." t ".policy_oid", pki_types[i].policy_oid)
	PKI_TYPE("qualified", 0),
	PKI_TYPE("encryption", 1),
	PKI_TYPE("cloudsign", 2),
#undef PKI_TYPE
	S("pki.root_cert", pki_root_cert),
	S("pki.vault_key_file", pki_vault_key_file),
	S("pki.key_algorithm", pki_key_algorithm),
	U("pki.publish_url", pki_publish_url),
	S("pki.crl_dir", pki_crl_dir),
	I("pki.crl_hours", pki_crl_hours, 1, 24 * 31),
	I("activation.window_days", activation_window_days, 1, 365),
	I("activation.max_wrong_passwords", activation_max_wrong, 1, 20),
	I("activation.lock_minutes", activation_lock_minutes, 1, 7 * 24 * 60),
	I("activation.claim_seconds", activation_claim_seconds, 1, 600),
	I("activation.dsi_recheck_minutes", activation_recheck_minutes, 1, 24 * 60),
	{"http.trusted_proxies", K_PROXIES, offsetof(struct cr_config, http_trusted_proxies),
	    sizeof(((struct cr_config *)0)->http_trusted_proxies), 0, 0},
};

static void
defaults(struct cr_config *c)
{
	memset(c, 0, sizeof(*c));
	c->dev = true;
	snprintf(c->var_dir, sizeof(c->var_dir), "var");
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	c->listen_port = 8080;
	snprintf(c->base_url, sizeof(c->base_url), "http://127.0.0.1:8080");
	snprintf(c->govid_issuer, sizeof(c->govid_issuer), "http://127.0.0.1:8081");
	snprintf(c->govid_client_id, sizeof(c->govid_client_id), "certrenew");
	snprintf(c->templates_dir, sizeof(c->templates_dir), "templates");
	snprintf(c->static_dir, sizeof(c->static_dir), "static");
	snprintf(c->locale_dir, sizeof(c->locale_dir), "locale");
	snprintf(c->people_file, sizeof(c->people_file), "demo/people.json");
	c->window_days = 30;
	c->session_idle_minutes = 30;
	c->session_absolute_minutes = 8 * 60;
	c->login_max_per_address = 60;
	c->http_threads = 4;
	c->http_max_connections = 1024;
	c->cookie_secure = false;
	c->horizon_days = 60;
	snprintf(c->reminder_days, sizeof(c->reminder_days), "14,7,1");
	snprintf(c->mail_from, sizeof(c->mail_from), "eSignTrust 電子認證服務 <noreply@esigntrust.com>");
	snprintf(c->mail_reply_to, sizeof(c->mail_reply_to), "noreply@esigntrust.com");
	snprintf(c->mail_envelope_from, sizeof(c->mail_envelope_from), "noreply@esigntrust.com");
	c->mail_max_tries = 8;
	c->mail_retry_seconds = 60;
	c->mail_lease_seconds = 300;
	snprintf(c->dsi_base_url, sizeof(c->dsi_base_url), "http://127.0.0.1:8081");
	c->dsi_connect_timeout_ms = 3000;
	c->dsi_timeout_ms = 10000;
	snprintf(c->signing_base_url, sizeof(c->signing_base_url), "http://127.0.0.1:8081");
	c->signing_connect_timeout_ms = 3000;
	c->signing_timeout_ms = 15000;
	c->face_threshold = 0.80;
	c->face_tries_per_app = 3;
	c->face_tries_per_holder = 6;
	c->face_tries_window_days = 30;
	c->photo_max_bytes = 10 * 1024 * 1024;
	/* DEV OIDs under 2.999 (ITU-T X.660's arc for examples); production names eSignTrust's. */
	static const char *const oid[3] = {"2.999.1.1", "2.999.1.2", "2.999.1.3"};
	static const int days[3] = {1095, 1095, 730};
	for (int i = 0; i < 3; i++) {
		c->pki_types[i].validity_days = days[i];
		snprintf(c->pki_types[i].policy_oid, sizeof(c->pki_types[i].policy_oid), "%s", oid[i]);
	}
	snprintf(c->pki_key_algorithm, sizeof(c->pki_key_algorithm), "ec-p256");
	c->pki_crl_hours = 24;
	c->activation_window_days = 30;
	c->activation_max_wrong = 5;
	c->activation_lock_minutes = 30;
	c->activation_claim_seconds = 60;
	c->activation_recheck_minutes = 10;
	/* The CA keeps registration records for seven years (docs/operators.md, evidence retention). */
	c->evidence_retention_days = 7 * 365 + 2;
}

static enum cr_err
fail(char *err, size_t errlen, const char *key, const char *why)
{
	snprintf(err, errlen, "config key '%s': %s", key, why);
	return CR_ERR_CONFIG;
}

static enum cr_err
parse_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	long n;

	/* Digits only: strtol alone would take leading blanks and a sign. */
	if (*v < '0' || *v > '9')
		return CR_ERR_CONFIG;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return CR_ERR_CONFIG;
	*out = (int)n;
	return CR_OK;
}

static enum cr_err
parse_listen(struct cr_config *c, const char *v)
{
	const char *colon = strrchr(v, ':');
	size_t hl;
	int port;

	if (colon == NULL || colon == v)
		return CR_ERR_CONFIG;
	hl = (size_t)(colon - v);
	if (hl >= sizeof(c->listen_host) || parse_int(colon + 1, 1, 65535, &port) != CR_OK)
		return CR_ERR_CONFIG;
	memcpy(c->listen_host, v, hl);
	c->listen_host[hl] = '\0';
	c->listen_port = port;
	return CR_OK;
}

enum cr_err
cr_config_set(struct cr_config *c, const char *name, const char *v, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *k = &keys[i];
		char *base = (char *)c;
		size_t n;

		if (strcmp(k->name, name) != 0)
			continue;
		switch (k->kind) {
		case K_MODE:
			if (strcmp(v, "dev") == 0)
				c->dev = true;
			else if (strcmp(v, "prod") == 0)
				c->dev = false;
			else
				return fail(err, errlen, name, "must be 'dev' or 'prod'");
			return CR_OK;
		case K_LISTEN:
			if (parse_listen(c, v) != CR_OK)
				return fail(err, errlen, name, "must be HOST:PORT with a port from 1 to 65535");
			return CR_OK;
		case K_INT:
			if (parse_int(v, k->min, k->max, (int *)(void *)(base + k->off)) != CR_OK) {
				char why[96];
				snprintf(why, sizeof(why), "must be an integer from %d to %d", k->min, k->max);
				return fail(err, errlen, name, why);
			}
			return CR_OK;
		case K_BOOL:
			if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
				*(bool *)(void *)(base + k->off) = true;
			else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
				*(bool *)(void *)(base + k->off) = false;
			else
				return fail(err, errlen, name, "must be true or false");
			return CR_OK;
		case K_FRACTION: {
			char *end;
			double d;

			errno = 0;
			d = strtod(v, &end);
			if (*v < '0' || *v > '9' || errno != 0 || *end != '\0' || !(d >= 0.0 && d <= 1.0))
				return fail(err, errlen, name, "must be a number from 0 to 1 (such as 0.80)");
			*(double *)(void *)(base + k->off) = d;
			return CR_OK;
		}
		case K_PROXIES:
			/* Empty is allowed (no proxy trusted); otherwise every entry must be an IPv4 address. */
			n = strlen(v);
			if (n >= k->size || cr_proxy_list_parse(v, n, &(struct cr_proxy_list){0}) != CR_OK)
				return fail(err, errlen, name, "must be IPv4 addresses separated by commas (or empty)");
			memcpy(base + k->off, v, n + 1);
			return CR_OK;
		case K_URL: {
			size_t scheme = strncmp(v, "http://", 7) == 0 ? 7 : strncmp(v, "https://", 8) == 0 ? 8 : 0;

			if (scheme == 0 || v[scheme] == '\0' || v[scheme] == '/')
				return fail(err, errlen, name, "must be an http:// or https:// URL with a host");
		}
			/* FALLTHROUGH */
		case K_STR:
			n = strlen(v);
			if (n == 0)
				return fail(err, errlen, name, "must not be empty");
			if (n >= k->size)
				return fail(err, errlen, name, "is too long");
			memcpy(base + k->off, v, n + 1);
			/* URLs are joined with paths later; a trailing slash would double it. */
			if (k->kind == K_URL)
				while (n > 0 && base[k->off + n - 1] == '/')
					base[k->off + --n] = '\0';
			return CR_OK;
		}
	}
	snprintf(err, errlen, "unknown config key '%s'", name);
	return CR_ERR_CONFIG;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static enum cr_err
load_file(struct cr_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char line[2048];
	int lineno = 0;
	enum cr_err rc = CR_OK;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
		return CR_ERR_CONFIG;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq, *k, *v;

		lineno++;
		/* A line that filled the buffer without its newline would be read as two lines. */
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "config file %s:%d: line longer than %zu bytes", path, lineno,
			    sizeof(line) - 2);
			rc = CR_ERR_CONFIG;
			break;
		}
		k = trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			snprintf(err, errlen, "config file %s:%d: expected 'key = value'", path, lineno);
			rc = CR_ERR_CONFIG;
			break;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if ((rc = cr_config_set(c, k, v, err, errlen)) != CR_OK)
			break;
	}
	fclose(f);
	return rc;
}

static void
env_name(const char *key, char *out, size_t outlen)
{
	size_t j = 0;
	int n = snprintf(out, outlen, "CERTRENEW_");

	j = (size_t)n;
	for (size_t i = 0; key[i] != '\0' && j + 1 < outlen; i++) {
		char ch = key[i];
		out[j++] = ch == '.' ? '_' : (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
	}
	out[j] = '\0';
}

enum cr_err
cr_config_load(struct cr_config *c, const char *path, char *err, size_t errlen)
{
	enum cr_err rc;

	defaults(c);
	/* A configuration file is an installation: a missing `mode` line must not turn DEV on there. */
	if (path != NULL) {
		c->dev = false;
		if ((rc = load_file(c, path, err, errlen)) != CR_OK)
			return rc;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char name[128];
		const char *v;

		env_name(keys[i].name, name, sizeof(name));
		if ((v = getenv(name)) != NULL && (rc = cr_config_set(c, keys[i].name, v, err, errlen)) != CR_OK)
			return rc;
	}
	/* Behind TLS the session cookie must never travel in clear. */
	if (strncmp(c->base_url, "https://", 8) == 0)
		c->cookie_secure = true;
	/* Paths that default under var_dir follow it when only var_dir is set. */
	if (c->database_url[0] == '\0')
		snprintf(c->database_url, sizeof(c->database_url), "sqlite:%.1000s/certrenew.db", c->var_dir);
	if (c->govid_client_secret_file[0] == '\0')
		snprintf(c->govid_client_secret_file, sizeof(c->govid_client_secret_file),
		    "%.990s/secrets/govid_client_secret", c->var_dir);
	if (c->mail_dir[0] == '\0')
		snprintf(c->mail_dir, sizeof(c->mail_dir), "%.1000s/mail", c->var_dir);
	if (c->outbox_key_file[0] == '\0')
		snprintf(c->outbox_key_file, sizeof(c->outbox_key_file), "%.990s/secrets/outbox.key", c->var_dir);
	if (c->codes_key_file[0] == '\0')
		snprintf(c->codes_key_file, sizeof(c->codes_key_file), "%.990s/secrets/codes.key", c->var_dir);
	if (c->dsi_api_key_file[0] == '\0' && c->dsi_client_cert[0] == '\0')
		snprintf(c->dsi_api_key_file, sizeof(c->dsi_api_key_file), "%.990s/secrets/dsi_api_key", c->var_dir);
	if (c->evidence_key_file[0] == '\0')
		snprintf(c->evidence_key_file, sizeof(c->evidence_key_file), "%.990s/secrets/evidence.key", c->var_dir);
	/* DEV only: govsim's own test CA. Production names the GovID CA or step 3 does not start. */
	if (c->signing_trust_file[0] == '\0' && c->dev)
		snprintf(c->signing_trust_file, sizeof(c->signing_trust_file), "%.990s/govsim/govid-ca.pem", c->var_dir);
	{
		static const char *const type[3] = {"qualified", "encryption", "cloudsign"};

		for (int i = 0; i < 3; i++) {
			if (c->pki_types[i].ca_cert[0] == '\0')
				snprintf(c->pki_types[i].ca_cert, sizeof(c->pki_types[i].ca_cert), "%.990s/pki/%s-ca.pem",
				    c->var_dir, type[i]);
			if (c->pki_types[i].ca_key[0] == '\0')
				snprintf(c->pki_types[i].ca_key, sizeof(c->pki_types[i].ca_key), "%.990s/pki/%s-ca.key",
				    c->var_dir, type[i]);
		}
	}
	if (c->pki_root_cert[0] == '\0')
		snprintf(c->pki_root_cert, sizeof(c->pki_root_cert), "%.990s/pki/root-ca.pem", c->var_dir);
	if (c->pki_vault_key_file[0] == '\0')
		snprintf(c->pki_vault_key_file, sizeof(c->pki_vault_key_file), "%.990s/pki/vault.key", c->var_dir);
	if (c->pki_crl_dir[0] == '\0')
		snprintf(c->pki_crl_dir, sizeof(c->pki_crl_dir), "%.990s/pki/publish", c->var_dir);
	/* The portal serves the CRLs in DEV; production publishes them where its certificates say. */
	if (c->pki_publish_url[0] == '\0' && c->dev)
		snprintf(c->pki_publish_url, sizeof(c->pki_publish_url), "%.1000s/pki", c->base_url);
	if (c->evidence_dir[0] == '\0')
		snprintf(c->evidence_dir, sizeof(c->evidence_dir), "%.1000s/evidence", c->var_dir);
	return CR_OK;
}

/* Is host (len bytes) a loopback name DEV may use? */
static bool
loopback_host(const char *host, size_t len)
{
	static const char *const names[] = {"127.0.0.1", "localhost", "::1", "[::1]"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(host, names[i], len) == 0)
			return true;
	return false;
}

/* Does url (http:// or https://) name a loopback host, with nothing but a port or a path after it? */
static bool
loopback_url(const char *url)
{
	static const char *const hosts[] = {"127.0.0.1", "localhost", "[::1]"};
	size_t scheme = strncmp(url, "http://", 7) == 0 ? 7 : strncmp(url, "https://", 8) == 0 ? 8 : 0;

	if (scheme == 0)
		return false;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t n = strlen(hosts[i]);
		char next;

		if (strncmp(url + scheme, hosts[i], n) != 0)
			continue;
		/* The host must end there: http://127.0.0.1.example.org or http://localhost@example.org is elsewhere. */
		next = url[scheme + n];
		if (next == '\0' || next == ':' || next == '/')
			return true;
	}
	return false;
}

enum cr_err
cr_config_check_mode(const struct cr_config *c, char *err, size_t errlen)
{
	const struct {
		const char *key, *url;
	} external[] = {
		{"base_url", c->base_url},
		{"govid.issuer", c->govid_issuer},
		{"dsi.base_url", c->dsi_base_url},
		{"signing.base_url", c->signing_base_url},
	};

	if (c->dev) {
		if (!loopback_host(c->listen_host, strlen(c->listen_host)))
			return fail(err, errlen, "listen",
			    "DEV mode listens on loopback only (127.0.0.1, ::1 or localhost); set mode = prod");
		if (!loopback_url(c->base_url))
			return fail(err, errlen, "base_url",
			    "DEV mode needs a loopback URL (http://127.0.0.1, http://localhost or http://[::1], "
			    "or https:// to them); set mode = prod");
		return CR_OK;
	}
	for (size_t i = 0; i < sizeof(external) / sizeof(external[0]); i++)
		if (strncmp(external[i].url, "https://", 8) != 0)
			return fail(err, errlen, external[i].key, "must be an https:// URL in production");
	if (c->smtp_url[0] == '\0')
		return fail(err, errlen, "smtp.url",
		    "must be set in production (empty writes mail, verification codes included, as clear .eml files)");
	if (strncmp(c->smtp_url, "smtps://", 8) != 0 && strncmp(c->smtp_url, "smtp://", 7) != 0)
		return fail(err, errlen, "smtp.url", "must be an smtp:// or smtps:// URL");
	if (strncmp(c->smtp_url, "smtp://", 7) == 0 && !c->smtp_starttls && !c->smtp_allow_plain)
		return fail(err, errlen, "smtp.url",
		    "smtp:// without smtp.starttls sends mail in clear: set smtp.starttls = true, use smtps://, "
		    "or accept it with smtp.allow_plain = true");
	return CR_OK;
}

void
cr_config_redact_url(const char *url, char *out, size_t outlen)
{
	const char *scheme = strstr(url, "://"), *at, *colon;

	snprintf(out, outlen, "%s", url);
	if (scheme == NULL)
		return;
	/* The userinfo ends at the last '@' before the first '/' of the path. */
	at = NULL;
	for (const char *p = scheme + 3; *p != '\0' && *p != '/'; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return;
	colon = memchr(scheme + 3, ':', (size_t)(at - (scheme + 3)));
	if (colon == NULL)
		return;
	snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
}
