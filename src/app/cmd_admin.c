/*
 * Administrative commands: init (database, DEV CAs, DEV secrets), demo-data,
 * audit-verify.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "app/commands.h"
#include "notify/outbox.h"
#include "pki/pki.h"
#include "store/store.h"
#include "util/crypto.h"
#include "util/file.h"
#include "util/log.h"

bool
cr_cmd_wants_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return true;
		}
	return false;
}

static enum cr_err
ensure_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		fprintf(stderr, "certrenew: cannot create %s: %s\n", path, strerror(errno));
		return CR_ERR_IO;
	}
	return CR_OK;
}

enum cr_err
cr_read_secret_file(const char *path, char *out, size_t outlen)
{
	/* cr_file_read_secret names the file and says what is wrong with it. */
	return cr_file_read_secret(path, out, outlen) == CR_OK ? CR_OK : CR_ERR_CONFIG;
}

/* Writes a fresh random secret to path unless the file exists. */
static enum cr_err
ensure_secret(const char *path)
{
	char tok[CR_TOKEN_LEN];
	enum cr_err err;

	cr_random_token(tok);
	err = cr_file_write_secret(path, tok, strlen(tok));
	sodium_memzero(tok, sizeof(tok));
	if (err == CR_ERR_CONFLICT)
		return CR_OK;
	if (err != CR_OK)
		fprintf(stderr, "certrenew: cannot create %s: %s\n", path, strerror(errno));
	return err;
}

static enum cr_err
open_migrated(const struct cr_config *cfg, struct cr_store **st)
{
	struct cr_db *db;
	enum cr_err err;

	if ((err = cr_store_open(cfg->database_url, 1, st)) != CR_OK) {
		fprintf(stderr, "certrenew: cannot open the database (%s)\n", cr_err_str(err));
		return err;
	}
	db = cr_store_get(*st);
	err = cr_db_migrate(db);
	cr_store_put(*st, db);
	if (err != CR_OK) {
		fprintf(stderr, "certrenew: migration failed (%s)\n", cr_err_str(err));
		cr_store_close(*st);
		*st = NULL;
	}
	return err;
}

int
cr_cmd_init(const struct cr_config *cfg, int argc, char **argv)
{
	char path[CR_CFG_STR + 64];
	struct cr_store *st = NULL;

	if (cr_cmd_wants_help(argc, argv,
	        "usage: certrenew init\n"
	        "Creates var_dir, migrates the database to the newest schema, creates the outbox\n"
	        "sealing key (mail.outbox_key_file) and, in DEV mode, the DEV certification\n"
	        "authorities (var_dir/pki) and the GovID client secret shared with govsim\n"
	        "(govid.client_secret_file). Safe to run again.\n"))
		return 0;
	if (ensure_dir(cfg->var_dir, 0750) != CR_OK)
		return 1;
	if (open_migrated(cfg, &st) != CR_OK)
		return 1;
	cr_store_close(st);
	snprintf(path, sizeof(path), "%s/secrets", cfg->var_dir);
	if (ensure_dir(path, 0700) != CR_OK)
		return 1;
	/* The outbox key seals queued mail at rest, in every mode. */
	if (cr_seal_key_create(cfg->outbox_key_file) != CR_OK || cr_seal_key_create(cfg->codes_key_file) != CR_OK ||
	    cr_seal_key_create(cfg->evidence_key_file) != CR_OK || ensure_dir(cfg->evidence_dir, 0700) != CR_OK)
		return 1;
	if (cfg->dev) {
		/* govsim reads the same DSI key (scripts/run.sh, the test harness). */
		if (ensure_secret(cfg->govid_client_secret_file) != CR_OK ||
		    (cfg->dsi_api_key_file[0] != '\0' && ensure_secret(cfg->dsi_api_key_file) != CR_OK))
			return 1;
		snprintf(path, sizeof(path), "%s/pki", cfg->var_dir);
		if (cr_pki_dev_init(path) != CR_OK)
			return 1;
	}
	if (ensure_dir(cfg->pki_crl_dir, 0755) != CR_OK)
		return 1;
	{
		char shown[CR_CFG_STR];

		cr_config_redact_url(cfg->database_url, shown, sizeof(shown));
		printf("certrenew: initialised %s (database %s)\n", cfg->var_dir, shown);
	}
	return 0;
}

/* ---- demo data ---- */

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

static enum cr_err
load_org(struct cr_db *db, json_t *orgs, const char *code, int64_t *id, const char **name)
{
	size_t i;
	json_t *o;

	json_array_foreach(orgs, i, o)
	{
		if (strcmp(jstr(o, "code"), code) == 0) {
			*name = jstr(o, "name");
			return cr_db_org_upsert(db, code, *name, id);
		}
	}
	fprintf(stderr, "certrenew: demo data: unknown organisation '%s'\n", code);
	return CR_ERR_INVALID;
}

/* The DEV signing password of demo accounts that name none (the README lists it; DEV contract). */
#define DEMO_SIGNING_PASSWORD "Demo-Sign-2026"

/* A demo cloudsign account in the vault with its first key, and the certificate of that key:
   what activation later proves control of. *key gets the vault row to bind to the certificate. */
static enum cr_err
demo_account_cert(struct cr_db *db, const struct cr_pki *ca, const struct cr_pki_subject *subj, int64_t holder,
    const char *account, const char *password, time_t nb, time_t na, struct cr_pki_issued *is, int64_t *key)
{
	struct cr_signing_account a = {.holder_id = holder};
	struct cr_vault_kdf kdf;
	struct cr_vault_sealed *sealed = calloc(1, sizeof(*sealed));
	struct cr_vault_row *row = calloc(1, sizeof(*row));
	char serial[CR_PKI_SERIAL_HEX];
	enum cr_err err;

	if (sealed == NULL || row == NULL) {
		free(sealed);
		free(row);
		return CR_ERR_NOMEM;
	}
	err = cr_pki_vault_create(ca, account, password[0] != '\0' ? password : DEMO_SIGNING_PASSWORD, &kdf, sealed);
	if (err == CR_OK) {
		copy(a.name, sizeof(a.name), account);
		memcpy(a.kdf_salt, kdf.salt, sizeof(a.kdf_salt));
		a.kdf_ops = (int64_t)kdf.ops;
		a.kdf_mem = (int64_t)kdf.mem;
		err = cr_db_account_create(db, &a, nb, &row->account_id);
	}
	if (err == CR_OK) {
		memcpy(row->sealed, sealed->sealed, sealed->sealed_len);
		row->sealed_len = sealed->sealed_len;
		memcpy(row->public_der, sealed->public_der, sealed->public_len);
		row->public_len = sealed->public_len;
		err = cr_db_vault_key_add(db, row, nb, key);
	}
	if (err == CR_OK) {
		struct cr_pki_request r = {.type = CR_CERT_CLOUDSIGN, .subject = *subj, .public_key_der = sealed->public_der,
		    .public_key_len = sealed->public_len, .serial_hex = serial, .not_before = nb, .not_after = na};

		cr_pki_serial_new(serial);
		err = cr_pki_issue(ca, &r, is);
	}
	sodium_memzero(sealed, sizeof(*sealed));
	sodium_memzero(row, sizeof(*row));
	free(sealed);
	free(row);
	if (err != CR_OK)
		fprintf(stderr, "certrenew: demo data: signing account %s: %s\n", account, cr_err_str(err));
	return err;
}

static enum cr_err
load_certs(struct cr_db *db, const struct cr_pki *ca, json_t *certs, const struct cr_person *p,
    const char *org_name, time_t now, long *count)
{
	size_t i;
	json_t *c;
	enum cr_err err = CR_OK;

	json_array_foreach(certs, i, c)
	{
		struct cr_cert row = {0};
		struct cr_pki_issued is;
		struct cr_pki_subject subj = {p->name, p->email, org_name, p->department, p->position};
		json_int_t days = json_integer_value(json_object_get(c, "days_to_expiry"));
		time_t na = now + (time_t)days * 86400;
		int64_t id, key = 0;

		if (!cr_cert_type_parse(jstr(c, "type"), &row.type)) {
			fprintf(stderr, "certrenew: demo data: unknown certificate type '%s'\n", jstr(c, "type"));
			return CR_ERR_INVALID;
		}
		if (row.type == CR_CERT_CLOUDSIGN && jstr(c, "signing_account")[0] != '\0')
			err = demo_account_cert(db, ca, &subj, p->id, jstr(c, "signing_account"), jstr(c, "signing_password"),
			    na - 3L * 365 * 86400, na, &is, &key);
		else
			err = cr_pki_issue_demo(ca, &subj, row.type, na - 3L * 365 * 86400, na, &is);
		if (err != CR_OK)
			return err;
		copy(row.serial_hex, sizeof(row.serial_hex), is.serial_hex);
		copy(row.status, sizeof(row.status), "issued");
		row.not_before = is.not_before;
		row.not_after = is.not_after;
		row.holder_id = p->id;
		copy(row.email, sizeof(row.email), p->email);
		row.org_id = p->org_id;
		copy(row.department, sizeof(row.department), p->department);
		copy(row.position, sizeof(row.position), p->position);
		copy(row.tx_limit, sizeof(row.tx_limit), jstr(c, "tx_limit"));
		copy(row.proxy, sizeof(row.proxy), jstr(c, "proxy"));
		copy(row.signing_account, sizeof(row.signing_account), jstr(c, "signing_account"));
		row.der = is.der;
		row.der_len = is.der_len;
		err = cr_db_cert_insert(db, &row, &id);
		cr_pki_issued_free(&is);
		if (err == CR_OK && key != 0)
			err = cr_db_vault_key_bind(db, key, id);
		if (err == CR_OK)
			err = cr_db_confirmation_set(db, id, "confirmed", "demo-data", now);
		if (err != CR_OK)
			return err;
		(*count)++;
	}
	return CR_OK;
}

static enum cr_err
load_person(struct cr_db *db, const struct cr_pki *ca, json_t *orgs, json_t *pj, time_t now, long *certs)
{
	struct cr_person p = {0}, existing;
	const char *org_name = "";
	json_t *roles = json_object_get(pj, "roles"), *r;
	bool had = cr_db_person_by_sub(db, jstr(pj, "sub"), &existing) == CR_OK;
	size_t i;
	enum cr_err err;

	copy(p.sub, sizeof(p.sub), jstr(pj, "sub"));
	copy(p.name, sizeof(p.name), jstr(pj, "name"));
	copy(p.name_zh, sizeof(p.name_zh), jstr(pj, "name_zh"));
	copy(p.email, sizeof(p.email), jstr(pj, "email"));
	copy(p.id_number, sizeof(p.id_number), jstr(pj, "id_number"));
	copy(p.department, sizeof(p.department), jstr(pj, "department"));
	copy(p.position, sizeof(p.position), jstr(pj, "position"));
	if (p.sub[0] == '\0' || p.name[0] == '\0') {
		fprintf(stderr, "certrenew: demo data: a person lacks sub or name\n");
		return CR_ERR_INVALID;
	}
	if ((err = load_org(db, orgs, jstr(pj, "org"), &p.org_id, &org_name)) != CR_OK ||
	    (err = cr_db_person_upsert(db, &p, &p.id)) != CR_OK)
		return err;
	json_array_foreach(roles, i, r)
	{
		const char *role = json_string_value(r);
		if (role != NULL && (strcmp(role, "coordinator") == 0 || strcmp(role, "officer") == 0) &&
		    (err = cr_db_role_add(db, p.id, role, p.org_id)) != CR_OK)
			return err;
	}
	/* Certificates are issued once; a second run keeps the inventory as it is. */
	if (had)
		return CR_OK;
	return load_certs(db, ca, json_object_get(pj, "certificates"), &p, org_name, now, certs);
}

/* The demo list of positions (職務/職級/職位) holders choose from at step 3. */
static enum cr_err
load_positions(struct cr_db *db, json_t *list, time_t now)
{
	json_t *v;
	size_t i;
	bool added;
	enum cr_err err;

	json_array_foreach(list, i, v)
	{
		const char *t = json_string_value(v);

		if (t == NULL || *t == '\0' || strlen(t) >= CR_TEXT) {
			fprintf(stderr, "certrenew: demo data: positions[%zu] is not a title\n", i);
			return CR_ERR_INVALID;
		}
		if ((err = cr_db_position_import(db, t, now, &added)) != CR_OK)
			return err;
	}
	return CR_OK;
}

int
cr_cmd_demo_data(const struct cr_config *cfg, int argc, char **argv)
{
	const char *file = cfg->people_file;
	char detail[96];
	struct cr_store *st = NULL;
	struct cr_pki *ca = NULL;
	struct cr_db *db = NULL;
	json_t *doc = NULL, *people, *pj;
	json_error_t jerr;
	time_t now = time(NULL);
	long certs = 0;
	size_t i;
	int rc = 1;

	if (cr_cmd_wants_help(argc, argv,
	        "usage: certrenew demo-data [FILE]\n"
	        "Loads DEV demo people, organisations and department-confirmed certificates\n"
	        "(issued by the DEV CA, expiring relative to today) from FILE (default\n"
	        "demo.people_file, demo/people.json). People already present are updated; their\n"
	        "certificates are not issued again.\n"))
		return 0;
	if (!cfg->dev) {
		fprintf(stderr, "certrenew: demo-data runs only in DEV mode\n");
		return 1;
	}
	if (argc > 1)
		file = argv[1];
	if ((doc = json_load_file(file, 0, &jerr)) == NULL) {
		fprintf(stderr, "certrenew: %s:%d: %s\n", file, jerr.line, jerr.text);
		return 1;
	}
	if (open_migrated(cfg, &st) != CR_OK || cr_app_pki_open(cfg, &ca) != CR_OK)
		goto out;
	db = cr_store_get(st);
	if (cr_db_begin(db) != CR_OK)
		goto out;
	people = json_object_get(doc, "people");
	json_array_foreach(people, i, pj)
	{
		if (load_person(db, ca, json_object_get(doc, "organisations"), pj, now, &certs) != CR_OK)
			goto out;
	}
	if (load_positions(db, json_object_get(doc, "positions"), now) != CR_OK)
		goto out;
	snprintf(detail, sizeof(detail), "%zu people, %ld certificates", json_array_size(people), certs);
	if (cr_db_audit(db, now, &(struct cr_audit){"operator", "demo_data", "", "", detail}) != CR_OK ||
	    cr_db_commit(db) != CR_OK)
		goto out;
	printf("certrenew: demo data loaded: %s\n", detail);
	rc = 0;
out:
	if (db != NULL)
		cr_store_put(st, db); /* rolls back anything not committed */
	cr_pki_close(ca);
	cr_store_close(st);
	json_decref(doc);
	return rc;
}

int
cr_cmd_audit_verify(const struct cr_config *cfg, int argc, char **argv)
{
	struct cr_store *st = NULL;
	struct cr_db *db;
	long rows = 0;
	int64_t bad = 0;
	enum cr_err err;

	if (cr_cmd_wants_help(argc, argv,
	        "usage: certrenew audit-verify\n"
	        "Recomputes the audit log's hash chain; exits 0 when every row verifies,\n"
	        "2 and names the first bad row otherwise.\n"))
		return 0;
	if (cr_store_open(cfg->database_url, 1, &st) != CR_OK)
		return 1;
	db = cr_store_get(st);
	err = cr_db_audit_verify(db, &rows, &bad);
	cr_store_put(st, db);
	cr_store_close(st);
	if (err == CR_ERR_CONFLICT) {
		printf("audit log BROKEN at row %lld (%ld rows verified before it)\n", (long long)bad, rows);
		return 2;
	}
	if (err != CR_OK)
		return 1;
	printf("audit log OK: %ld rows\n", rows);
	return 0;
}
