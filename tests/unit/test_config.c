/*
 * Unit tests of configuration loading (src/config/config.c): defaults, every kind
 * of key through cr_config_set, files, and CERTRENEW_* environment overrides.
 * main() clears any CERTRENEW_* variables inherited from the caller first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

extern char **environ;

struct fx {
	char dir[64];
	char path[128];
	struct cr_config cfg;
	char err[512];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cr-config-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/certrenew.conf", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_file(const struct fx *f, const char *text)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void
defaults_into(struct fx *f)
{
	assert_int_equal(cr_config_load(&f->cfg, NULL, f->err, sizeof(f->err)), CR_OK);
}

static void
test_defaults(void **state)
{
	struct fx *f = *state;
	struct cr_config *c = &f->cfg;

	defaults_into(f);
	assert_true(c->dev);
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_int_equal(c->listen_port, 8080);
	assert_int_equal(c->window_days, 30);
	assert_string_equal(c->var_dir, "var");
	assert_string_equal(c->database_url, "sqlite:var/certrenew.db");
	assert_string_equal(c->govid_client_secret_file, "var/secrets/govid_client_secret");
	assert_string_equal(c->base_url, "http://127.0.0.1:8080");
	assert_false(c->cookie_secure);
	assert_true(c->session_idle_minutes > 0);
	assert_true(c->session_absolute_minutes >= c->session_idle_minutes);
	assert_true(c->http_threads >= 1);
}

static void
test_set_mode(void **state)
{
	struct fx *f = *state;

	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "mode", "prod", f->err, sizeof(f->err)), CR_OK);
	assert_false(f->cfg.dev);
	assert_int_equal(cr_config_set(&f->cfg, "mode", "dev", f->err, sizeof(f->err)), CR_OK);
	assert_true(f->cfg.dev);
	assert_int_equal(cr_config_set(&f->cfg, "mode", "Prod", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "mode"));
	assert_true(f->cfg.dev);
}

static void
test_set_listen(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {"0.0.0.0:0", "0.0.0.0:70000", "0.0.0.0:abc", "0.0.0.0:", "8080",
	    ":8080", "host:80x", "host:-1", ""};

	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "listen", "0.0.0.0:9000", f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(f->cfg.listen_host, "0.0.0.0");
	assert_int_equal(f->cfg.listen_port, 9000);
	assert_int_equal(cr_config_set(&f->cfg, "listen", "[::1]:65535", f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(f->cfg.listen_host, "[::1]"); /* split at the last ':' */
	assert_int_equal(f->cfg.listen_port, 65535);
	assert_int_equal(cr_config_set(&f->cfg, "listen", "localhost:1", f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(f->cfg.listen_port, 1);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f->err[0] = '\0';
		assert_int_equal(cr_config_set(&f->cfg, "listen", bad[i], f->err, sizeof(f->err)), CR_ERR_CONFIG);
		assert_non_null(strstr(f->err, "listen"));
		/* A refused value changes nothing. */
		assert_string_equal(f->cfg.listen_host, "localhost");
		assert_int_equal(f->cfg.listen_port, 1);
	}
}

static void
test_set_listen_host_too_long(void **state)
{
	struct fx *f = *state;
	char v[128];

	defaults_into(f);
	memset(v, 'h', sizeof(f->cfg.listen_host));
	snprintf(v + sizeof(f->cfg.listen_host), sizeof(v) - sizeof(f->cfg.listen_host), ":80");
	assert_int_equal(cr_config_set(&f->cfg, "listen", v, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "listen"));
	assert_string_equal(f->cfg.listen_host, "127.0.0.1");
}

static void
test_set_integers(void **state)
{
	struct fx *f = *state;

	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_days", "45", f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(f->cfg.window_days, 45);
	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_days", "1", f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_days", "365", f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(f->cfg.window_days, 365);

	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_days", "0", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "renewal.window_days"));
	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_days", "366", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_days", "30d", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_days", "", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_days", "99999999999999999999", f->err,
	    sizeof(f->err)), CR_ERR_CONFIG);
	assert_int_equal(f->cfg.window_days, 365);

	assert_int_equal(cr_config_set(&f->cfg, "http.threads", "0", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "http.threads"));
	assert_int_equal(cr_config_set(&f->cfg, "http.threads", "8", f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(f->cfg.http_threads, 8);
	assert_int_equal(cr_config_set(&f->cfg, "http.max_connections", "15", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "http.max_connections"));
	assert_int_equal(cr_config_set(&f->cfg, "session.idle_minutes", "1441", f->err, sizeof(f->err)),
	    CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "session.idle_minutes"));
	assert_int_equal(cr_config_set(&f->cfg, "session.absolute_minutes", "4", f->err, sizeof(f->err)),
	    CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "session.absolute_minutes"));
	assert_int_equal(cr_config_set(&f->cfg, "session.absolute_minutes", "600", f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(f->cfg.session_absolute_minutes, 600);
}

static void
test_set_urls(void **state)
{
	struct fx *f = *state;

	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "base_url", "https://renew.gov.test/", f->err, sizeof(f->err)),
	    CR_OK);
	assert_string_equal(f->cfg.base_url, "https://renew.gov.test");
	assert_int_equal(cr_config_set(&f->cfg, "base_url", "https://renew.gov.test/portal///", f->err,
	    sizeof(f->err)), CR_OK);
	assert_string_equal(f->cfg.base_url, "https://renew.gov.test/portal");
	assert_int_equal(cr_config_set(&f->cfg, "govid.issuer", "http://127.0.0.1:8081", f->err, sizeof(f->err)),
	    CR_OK);
	assert_string_equal(f->cfg.govid_issuer, "http://127.0.0.1:8081");

	assert_int_equal(cr_config_set(&f->cfg, "govid.issuer", "ftp://id.gov.test", f->err, sizeof(f->err)),
	    CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "govid.issuer"));
	assert_int_equal(cr_config_set(&f->cfg, "base_url", "renew.gov.test", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "base_url"));
	assert_int_equal(cr_config_set(&f->cfg, "base_url", "", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_string_equal(f->cfg.base_url, "https://renew.gov.test/portal");
	assert_string_equal(f->cfg.govid_issuer, "http://127.0.0.1:8081");
}

/* Was FAILS (fixed; kept as a regression test): cr_config_set (src/config/config.c, case K_URL) checks only the "http://" or "https://"
   prefix, then strips trailing slashes, so base_url = "https://" is accepted (CR_OK) and stored as
   "https:". Expected: CR_ERR_CONFIG naming the key, since there is no host. */
static void
test_set_url_without_host(void **state)
{
	struct fx *f = *state;

	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "base_url", "https://", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "base_url"));
	assert_int_equal(cr_config_set(&f->cfg, "govid.issuer", "http:///", f->err, sizeof(f->err)), CR_ERR_CONFIG);
}

/* Was FAILS (fixed; kept as a regression test): parse_int (src/config/config.c) uses strtol, which skips leading white space and takes a
   sign, so "listen = h: 80", "h:+81" and "renewal.window_days = +5" are accepted (CR_OK, port
   80/81, 5). Expected: CR_ERR_CONFIG; a port or count is digits only. Minor. */
static void
test_set_integer_strict_digits(void **state)
{
	struct fx *f = *state;

	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "listen", "h: 80", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_int_equal(cr_config_set(&f->cfg, "listen", "h:+81", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_days", "+5", f->err, sizeof(f->err)), CR_ERR_CONFIG);
}

static void
test_set_strings(void **state)
{
	struct fx *f = *state;
	char big[CR_CFG_STR + 8];

	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "var_dir", "/srv/certrenew", f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(f->cfg.var_dir, "/srv/certrenew");
	assert_int_equal(cr_config_set(&f->cfg, "database.url", "sqlite:/srv/x.db", f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(f->cfg.database_url, "sqlite:/srv/x.db");
	/* Strings other than URLs keep their slashes. */
	assert_int_equal(cr_config_set(&f->cfg, "templates_dir", "/srv/t/", f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(f->cfg.templates_dir, "/srv/t/");
	assert_int_equal(cr_config_set(&f->cfg, "govid.client_id", "", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "govid.client_id"));

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cr_config_set(&f->cfg, "var_dir", big, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "var_dir"));
	assert_string_equal(f->cfg.var_dir, "/srv/certrenew");
	big[CR_CFG_STR - 1] = '\0'; /* exactly fits */
	assert_int_equal(cr_config_set(&f->cfg, "var_dir", big, f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(strlen(f->cfg.var_dir), CR_CFG_STR - 1);
}

static void
test_set_bools(void **state)
{
	struct fx *f = *state;

	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "session.cookie_secure", "true", f->err, sizeof(f->err)), CR_OK);
	assert_true(f->cfg.cookie_secure);
	assert_int_equal(cr_config_set(&f->cfg, "session.cookie_secure", "0", f->err, sizeof(f->err)), CR_OK);
	assert_false(f->cfg.cookie_secure);
	assert_int_equal(cr_config_set(&f->cfg, "session.cookie_secure", "1", f->err, sizeof(f->err)), CR_OK);
	assert_true(f->cfg.cookie_secure);
	assert_int_equal(cr_config_set(&f->cfg, "session.cookie_secure", "false", f->err, sizeof(f->err)), CR_OK);
	assert_false(f->cfg.cookie_secure);
	assert_int_equal(cr_config_set(&f->cfg, "session.cookie_secure", "yes", f->err, sizeof(f->err)),
	    CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "session.cookie_secure"));
	assert_false(f->cfg.cookie_secure);
}

static void
test_unknown_key(void **state)
{
	struct fx *f = *state;

	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "renewal.window_dayz", "30", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "renewal.window_dayz"));
	assert_int_equal(cr_config_set(&f->cfg, "Mode", "prod", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "Mode"));
	assert_true(f->cfg.dev);
}

static void
test_small_error_buffer(void **state)
{
	struct fx *f = *state;
	char small[8];

	defaults_into(f);
	memset(small, 'z', sizeof(small));
	assert_int_equal(cr_config_set(&f->cfg, "listen", "bad", small, sizeof(small)), CR_ERR_CONFIG);
	assert_int_equal(strlen(small), sizeof(small) - 1); /* truncated, terminated */
}

static void
test_load_file(void **state)
{
	struct fx *f = *state;
	struct cr_config *c = &f->cfg;

	write_file(f,
	    "# certrenew test configuration\n"
	    "\n"
	    "mode=prod\n"
	    "   listen   =   0.0.0.0:9443   \n"
	    "\t# indented comment = ignored\n"
	    "base_url = https://renew.gov.test/\r\n"
	    "renewal.window_days\t=\t60\n"
	    "session.cookie_secure = true\n"
	    "govid.client_id = a=b\n" /* split at the first '=' */
	    "\n");
	assert_int_equal(cr_config_load(c, f->path, f->err, sizeof(f->err)), CR_OK);
	assert_false(c->dev);
	assert_string_equal(c->listen_host, "0.0.0.0");
	assert_int_equal(c->listen_port, 9443);
	assert_string_equal(c->base_url, "https://renew.gov.test");
	assert_int_equal(c->window_days, 60);
	assert_true(c->cookie_secure);
	assert_string_equal(c->govid_client_id, "a=b");
	/* Untouched keys keep their defaults. */
	assert_int_equal(c->session_idle_minutes, 30);
	assert_string_equal(c->database_url, "sqlite:var/certrenew.db");
}

static void
test_load_file_missing(void **state)
{
	struct fx *f = *state;
	char path[192];

	snprintf(path, sizeof(path), "%s/nope.conf", f->dir);
	assert_int_equal(cr_config_load(&f->cfg, path, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "nope.conf"));
}

static void
test_load_file_line_without_eq(void **state)
{
	struct fx *f = *state;
	char want[192];

	write_file(f, "# comment\nmode = dev\n\nrenewal.window_days 30\nlisten = 1.2.3.4:5\n");
	assert_int_equal(cr_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:4:", f->path);
	assert_non_null(strstr(f->err, want));
}

static void
test_load_file_bad_value_names_key(void **state)
{
	struct fx *f = *state;

	write_file(f, "listen = 127.0.0.1:70000\n");
	assert_int_equal(cr_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "listen"));
	write_file(f, "renewal.windows = 3\n");
	assert_int_equal(cr_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "renewal.windows"));
}

/* Was FAILS (fixed; kept as a regression test): load_file (src/config/config.c) reads lines with fgets into a 2048-byte buffer and does not
   notice a line longer than that, so the rest of the line is parsed as a line of its own. A comment
   of 2047+ bytes ending in "mode = prod" switches the server to prod (cr_config_load returns CR_OK,
   dev false), and line numbers in later errors are off by one per split. Expected: an over-long
   line refused with its line number (or a comment ignored whole); here CR_ERR_CONFIG naming line 1. */
static void
test_load_file_long_line(void **state)
{
	struct fx *f = *state;
	char text[2200], want[192];

	memcpy(text, "# ", 2);
	memset(text + 2, 'x', 2045);
	snprintf(text + 2047, sizeof(text) - 2047, "mode = prod\n");
	write_file(f, text);
	assert_int_equal(cr_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:1:", f->path);
	assert_non_null(strstr(f->err, want));
}

static void
test_env_overrides_file(void **state)
{
	struct fx *f = *state;
	struct cr_config *c = &f->cfg;
	enum cr_err rc;

	write_file(f, "listen = 0.0.0.0:9000\nrenewal.window_days = 60\nmode = prod\n");
	assert_int_equal(setenv("CERTRENEW_RENEWAL_WINDOW_DAYS", "14", 1), 0);
	assert_int_equal(setenv("CERTRENEW_MODE", "dev", 1), 0);
	assert_int_equal(setenv("CERTRENEW_SESSION_COOKIE_SECURE", "1", 1), 0);
	assert_int_equal(setenv("CERTRENEW_GOVID_CLIENT_ID", "from-env", 1), 0);
	rc = cr_config_load(c, f->path, f->err, sizeof(f->err));
	unsetenv("CERTRENEW_RENEWAL_WINDOW_DAYS");
	unsetenv("CERTRENEW_MODE");
	unsetenv("CERTRENEW_SESSION_COOKIE_SECURE");
	unsetenv("CERTRENEW_GOVID_CLIENT_ID");
	assert_int_equal(rc, CR_OK);
	assert_int_equal(c->window_days, 14);
	assert_true(c->dev);
	assert_true(c->cookie_secure);
	assert_string_equal(c->govid_client_id, "from-env");
	assert_int_equal(c->listen_port, 9000); /* from the file, not overridden */

	/* Without the variables the file wins again. */
	assert_int_equal(cr_config_load(c, f->path, f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(c->window_days, 60);
	assert_false(c->dev);
}

static void
test_env_bad_value_names_key(void **state)
{
	struct fx *f = *state;
	enum cr_err rc;

	assert_int_equal(setenv("CERTRENEW_LISTEN", "0.0.0.0:0", 1), 0);
	rc = cr_config_load(&f->cfg, NULL, f->err, sizeof(f->err));
	unsetenv("CERTRENEW_LISTEN");
	assert_int_equal(rc, CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "listen"));
}

/* Regression: setting listen used to fix the mail paths before var_dir was read. */
static void
test_mail_paths_follow_var_dir_after_listen(void **state)
{
	struct fx *f = *state;
	struct cr_config *c = &f->cfg;

	write_file(f, "listen = 127.0.0.1:9000\nvar_dir = /srv/cr\n");
	assert_int_equal(cr_config_load(c, f->path, f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(c->outbox_key_file, "/srv/cr/secrets/outbox.key");
	assert_string_equal(c->codes_key_file, "/srv/cr/secrets/codes.key");
	assert_string_equal(c->mail_dir, "/srv/cr/mail");
}

/* A portal reached over https sets Secure cookies whatever the file says. */
static void
test_https_base_url_means_secure_cookies(void **state)
{
	struct fx *f = *state;
	struct cr_config *c = &f->cfg;

	write_file(f, "base_url = http://127.0.0.1:8080\n");
	assert_int_equal(cr_config_load(c, f->path, f->err, sizeof(f->err)), CR_OK);
	assert_false(c->cookie_secure);
	write_file(f, "base_url = https://eservices.esigntrust.com\nsession.cookie_secure = false\n");
	assert_int_equal(cr_config_load(c, f->path, f->err, sizeof(f->err)), CR_OK);
	assert_true(c->cookie_secure);
}

static void
test_redact_url(void **state)
{
	char out[256];

	(void)state;
	cr_config_redact_url("postgresql://cr:s3cr%40t@db.example:5432/certrenew?sslmode=require", out, sizeof(out));
	assert_string_equal(out, "postgresql://cr:***@db.example:5432/certrenew?sslmode=require");
	cr_config_redact_url("postgresql://cr@db/certrenew", out, sizeof(out));
	assert_string_equal(out, "postgresql://cr@db/certrenew");
	cr_config_redact_url("postgresql://db/x@y", out, sizeof(out));
	assert_string_equal(out, "postgresql://db/x@y");
	cr_config_redact_url("sqlite:/var/lib/certrenew/certrenew.db", out, sizeof(out));
	assert_string_equal(out, "sqlite:/var/lib/certrenew/certrenew.db");
}

static void
test_paths_follow_var_dir(void **state)
{
	struct fx *f = *state;
	struct cr_config *c = &f->cfg;
	enum cr_err rc;

	write_file(f, "var_dir = /srv/cr\n");
	assert_int_equal(cr_config_load(c, f->path, f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(c->database_url, "sqlite:/srv/cr/certrenew.db");
	assert_string_equal(c->govid_client_secret_file, "/srv/cr/secrets/govid_client_secret");

	/* From the environment too. */
	assert_int_equal(setenv("CERTRENEW_VAR_DIR", "/var/lib/certrenew", 1), 0);
	rc = cr_config_load(c, NULL, f->err, sizeof(f->err));
	unsetenv("CERTRENEW_VAR_DIR");
	assert_int_equal(rc, CR_OK);
	assert_string_equal(c->database_url, "sqlite:/var/lib/certrenew/certrenew.db");
	assert_string_equal(c->govid_client_secret_file, "/var/lib/certrenew/secrets/govid_client_secret");

	/* Set explicitly, they stay as set. */
	write_file(f, "var_dir = /srv/cr\ndatabase.url = sqlite:/data/db\ngovid.client_secret_file = /run/s\n");
	assert_int_equal(cr_config_load(c, f->path, f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(c->database_url, "sqlite:/data/db");
	assert_string_equal(c->govid_client_secret_file, "/run/s");
}

/* Issue 13: a configuration file without a `mode` line is an installation, not a DEV checkout.
   Before: such a file left DEV on (demo pages, DEV CAs made by init, crash hooks). */
static void
test_file_without_mode_is_prod(void **state)
{
	struct fx *f = *state;
	struct cr_config *c = &f->cfg;
	enum cr_err rc;

	write_file(f, "var_dir = /srv/cr\n");
	assert_int_equal(cr_config_load(c, f->path, f->err, sizeof(f->err)), CR_OK);
	assert_false(c->dev);
	/* DEV-only defaults stay off. */
	assert_string_equal(c->signing_trust_file, "");
	assert_string_equal(c->pki_publish_url, "");
	/* Said in the file, or by CERTRENEW_MODE, DEV is DEV. */
	write_file(f, "var_dir = /srv/cr\nmode = dev\n");
	assert_int_equal(cr_config_load(c, f->path, f->err, sizeof(f->err)), CR_OK);
	assert_true(c->dev);
	write_file(f, "var_dir = /srv/cr\n");
	assert_int_equal(setenv("CERTRENEW_MODE", "dev", 1), 0);
	rc = cr_config_load(c, f->path, f->err, sizeof(f->err));
	unsetenv("CERTRENEW_MODE");
	assert_int_equal(rc, CR_OK);
	assert_true(c->dev);
	/* Without a file (make run, the tests) the default is DEV. */
	defaults_into(f);
	assert_true(c->dev);
}

/* An odd mode, in the file or the environment, is an error naming the key, never DEV. */
static void
test_odd_mode_refused(void **state)
{
	struct fx *f = *state;
	static const char *const odd[] = {"", "Dev", "development", "production", "prod ", "1", "true"};
	enum cr_err rc;

	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		assert_int_equal(setenv("CERTRENEW_MODE", odd[i], 1), 0);
		rc = cr_config_load(&f->cfg, NULL, f->err, sizeof(f->err));
		unsetenv("CERTRENEW_MODE");
		assert_int_equal(rc, CR_ERR_CONFIG);
		assert_non_null(strstr(f->err, "'mode'"));
	}
	write_file(f, "mode = staging\n");
	assert_int_equal(cr_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "'mode'"));
}

/* Sets key = value on c and expects cr_config_check_mode to refuse naming key (or accept when key is NULL). */
static void
check_mode_case(struct fx *f, const struct cr_config *base, const char *key, const char *value, const char *refused)
{
	struct cr_config c = *base;

	assert_int_equal(cr_config_set(&c, key, value, f->err, sizeof(f->err)), CR_OK);
	f->err[0] = '\0';
	if (refused == NULL) {
		if (cr_config_check_mode(&c, f->err, sizeof(f->err)) != CR_OK)
			fail_msg("%s = %s refused: %s", key, value, f->err);
	} else {
		char want[96];

		if (cr_config_check_mode(&c, f->err, sizeof(f->err)) != CR_ERR_CONFIG)
			fail_msg("%s = %s accepted", key, value);
		snprintf(want, sizeof(want), "config key '%s'", refused);
		if (strstr(f->err, want) == NULL)
			fail_msg("%s = %s: message %s does not name %s", key, value, f->err, refused);
	}
}

/* Issue 13: DEV is reachable from this machine only. Before: DEV on 0.0.0.0 with a public base_url started. */
static void
test_check_mode_dev_loopback_only(void **state)
{
	struct fx *f = *state;
	struct cr_config base;

	defaults_into(f);
	base = f->cfg;
	assert_true(base.dev);
	assert_int_equal(cr_config_check_mode(&base, f->err, sizeof(f->err)), CR_OK); /* make run's defaults */
	for (const char *const *l = (const char *const[]){"127.0.0.1:8080", "localhost:80", "::1:8080",
	         "[::1]:8080", NULL}; *l != NULL; l++)
		check_mode_case(f, &base, "listen", *l, NULL);
	for (const char *const *l = (const char *const[]){"0.0.0.0:8080", "10.0.0.5:8080", "127.0.0.2:8080",
	         "::0:8080", "example.org:80", "localhost.example.org:80", NULL}; *l != NULL; l++)
		check_mode_case(f, &base, "listen", *l, "listen");
	for (const char *const *u = (const char *const[]){"http://127.0.0.1:8080", "http://127.0.0.1",
	         "http://localhost:3000/", "http://[::1]:8080", "https://127.0.0.1:8443", "http://127.0.0.1:8080/x",
	         NULL}; *u != NULL; u++)
		check_mode_case(f, &base, "base_url", *u, NULL);
	for (const char *const *u = (const char *const[]){"https://eservices.example.test",
	         "http://127.0.0.1.example.org", "http://localhost@example.org", "http://localhostx:80",
	         "http://10.0.0.1:8080", "http://[::1].example.org", NULL}; *u != NULL; u++)
		check_mode_case(f, &base, "base_url", *u, "base_url");
}

/* A production configuration with every external address on https and mail over TLS. */
static void
prod_config(struct fx *f, struct cr_config *c)
{
	static const char *const kv[][2] = {
		{"mode", "prod"}, {"listen", "0.0.0.0:8080"}, {"base_url", "https://renew.gov.test"},
		{"govid.issuer", "https://govid.gov.test"}, {"dsi.base_url", "https://dsi.gov.test"},
		{"signing.base_url", "https://sign.gov.test"}, {"smtp.url", "smtp://mail.gov.test:587"},
		{"smtp.starttls", "true"},
	};

	defaults_into(f);
	*c = f->cfg;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		assert_int_equal(cr_config_set(c, kv[i][0], kv[i][1], f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(cr_config_check_mode(c, f->err, sizeof(f->err)), CR_OK);
}

/* Issue 13: in production every external URL is https, in one place. Before: base_url and govid.issuer
   could be http, and jobs checked none of them. */
static void
test_check_mode_prod_https(void **state)
{
	struct fx *f = *state;
	struct cr_config base;
	static const char *const keys[] = {"base_url", "govid.issuer", "dsi.base_url", "signing.base_url"};

	prod_config(f, &base);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		check_mode_case(f, &base, keys[i], "http://remote.gov.test", keys[i]);
		check_mode_case(f, &base, keys[i], "http://127.0.0.1:8081", keys[i]);
		check_mode_case(f, &base, keys[i], "https://remote.gov.test:8443", NULL);
	}
	/* The DEV defaults (http to 127.0.0.1) are refused in production, naming the first such key. */
	defaults_into(f);
	assert_int_equal(cr_config_set(&f->cfg, "mode", "prod", f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(cr_config_check_mode(&f->cfg, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "config key 'base_url'"));
	/* DEV keeps its local http services. */
	check_mode_case(f, &base, "mode", "dev", "listen");
}

/* Issue 13: production mail goes through SMTP over TLS unless plain SMTP is asked for. Before: an empty
   smtp.url (clear .eml files, codes included) and smtp:// without STARTTLS started in production. */
static void
test_check_mode_prod_smtp(void **state)
{
	struct fx *f = *state;
	struct cr_config base, c;

	prod_config(f, &base);
	check_mode_case(f, &base, "smtp.url", "smtps://mail.gov.test", NULL);
	check_mode_case(f, &base, "smtp.starttls", "false", "smtp.url");
	assert_non_null(strstr(f->err, "smtp.allow_plain"));
	c = base;
	assert_int_equal(cr_config_set(&c, "smtp.starttls", "false", f->err, sizeof(f->err)), CR_OK);
	check_mode_case(f, &c, "smtp.allow_plain", "true", NULL);
	check_mode_case(f, &c, "smtp.url", "smtps://mail.gov.test:465", NULL);
	check_mode_case(f, &c, "smtp.url", "lmtp://mail.gov.test", "smtp.url");
	c.smtp_url[0] = '\0';
	c.smtp_allow_plain = true;
	assert_int_equal(cr_config_check_mode(&c, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "config key 'smtp.url'"));
	/* In DEV the .eml files stay (make run's mail viewer). */
	c = base;
	c.smtp_url[0] = '\0';
	assert_int_equal(cr_config_set(&c, "mode", "dev", f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(cr_config_set(&c, "listen", "127.0.0.1:8080", f->err, sizeof(f->err)), CR_OK);
	check_mode_case(f, &c, "base_url", "http://127.0.0.1:8080", NULL);
	/* smtp.allow_plain is a boolean like the others. */
	assert_int_equal(cr_config_set(&c, "smtp.allow_plain", "yes", f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "smtp.allow_plain"));
}

/* Removes CERTRENEW_* variables inherited from whoever runs the tests. */
static void
clear_env(void)
{
	char name[256];
	bool again = true;

	while (again) {
		again = false;
		for (char **e = environ; *e != NULL; e++) {
			const char *eq = strchr(*e, '=');
			size_t n = eq != NULL ? (size_t)(eq - *e) : strlen(*e);

			if (strncmp(*e, "CERTRENEW_", 10) != 0 || n >= sizeof(name))
				continue;
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
			again = true;
			break; /* environ changed: start over */
		}
	}
}

static void
test_trusted_proxies(void **state)
{
	struct fx *f = *state;
	struct cr_config *c = &f->cfg;
	enum cr_err rc;

	assert_int_equal(cr_config_load(c, NULL, f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(c->http_trusted_proxies, ""); /* default: no proxy trusted */
	assert_int_equal(cr_config_set(c, "http.trusted_proxies", "127.0.0.1, 10.0.0.2", f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(c->http_trusted_proxies, "127.0.0.1, 10.0.0.2");
	assert_int_equal(cr_config_set(c, "http.trusted_proxies", "", f->err, sizeof(f->err)), CR_OK);
	assert_string_equal(c->http_trusted_proxies, "");
	assert_int_equal(cr_config_set(c, "http.trusted_proxies", "10.0.0.0/8", f->err, sizeof(f->err)),
	    CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "http.trusted_proxies"));
	assert_int_equal(cr_config_set(c, "http.trusted_proxies", "proxy.local", f->err, sizeof(f->err)),
	    CR_ERR_CONFIG);
	/* From the environment, and refused there with the key named. */
	assert_int_equal(setenv("CERTRENEW_HTTP_TRUSTED_PROXIES", "127.0.0.1", 1), 0);
	rc = cr_config_load(c, NULL, f->err, sizeof(f->err));
	assert_int_equal(rc, CR_OK);
	assert_string_equal(c->http_trusted_proxies, "127.0.0.1");
	assert_int_equal(setenv("CERTRENEW_HTTP_TRUSTED_PROXIES", "127.0.0.1,", 1), 0);
	rc = cr_config_load(c, NULL, f->err, sizeof(f->err));
	unsetenv("CERTRENEW_HTTP_TRUSTED_PROXIES");
	assert_int_equal(rc, CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "http.trusted_proxies"));
}

/* config.c checks the value with util/forwarded.c's cr_proxy_list_parse, the parser the server uses
   at start-up: blanks around entries, at most 16 entries, IPv4 only. */
static void
test_trusted_proxies_limits(void **state)
{
	struct fx *f = *state;
	struct cr_config *c = &f->cfg;
	char list[512] = "";
	static const char *const refused[] = {
	    "::1", ",", " , ", "1.2.3.4,,5.6.7.8", ",1.2.3.4", "1.2.3.4 5.6.7.8", "256.1.1.1", "1.2.3",
	};

	assert_int_equal(cr_config_load(c, NULL, f->err, sizeof(f->err)), CR_OK);
	assert_int_equal(cr_config_set(c, "http.trusted_proxies", "\t1.2.3.4\t,  255.255.255.255 ", f->err,
	                     sizeof(f->err)), CR_OK);
	assert_int_equal(cr_config_set(c, "http.trusted_proxies", "  ", f->err, sizeof(f->err)), CR_OK);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(cr_config_set(c, "http.trusted_proxies", refused[i], f->err, sizeof(f->err)),
		    CR_ERR_CONFIG);
	for (int i = 1; i <= 16; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s10.0.0.%d", i > 1 ? "," : "", i);
	assert_int_equal(cr_config_set(c, "http.trusted_proxies", list, f->err, sizeof(f->err)), CR_OK);
	snprintf(list + strlen(list), sizeof(list) - strlen(list), ",10.0.0.17");
	assert_int_equal(cr_config_set(c, "http.trusted_proxies", list, f->err, sizeof(f->err)), CR_ERR_CONFIG);
	assert_non_null(strstr(f->err, "http.trusted_proxies"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_listen_host_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_integers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_url_without_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_integer_strict_digits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_bools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_error_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file_line_without_eq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file_bad_value_names_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_overrides_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_bad_value_names_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_follow_var_dir, setup, teardown),
		cmocka_unit_test(test_redact_url),
		cmocka_unit_test_setup_teardown(test_mail_paths_follow_var_dir_after_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_base_url_means_secure_cookies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trusted_proxies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trusted_proxies_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_without_mode_is_prod, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_mode_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_mode_dev_loopback_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_mode_prod_https, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_mode_prod_smtp, setup, teardown),
	};

	clear_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
