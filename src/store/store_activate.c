/* Step 4 「激活證書」: signing accounts, vault rows, issuances, revocation and CRL numbers; see store.h. */
#include <stdio.h>
#include <string.h>

#include "db_int.h"
#include "util/buf.h"

/* Runs an UPDATE that must change exactly one row: CR_ERR_CONFLICT when it changed none. */
static enum cr_err
run_one(struct db_stmt *st, struct cr_db *db, const char *what)
{
	enum cr_err err = db_run(st, what);

	if (err == CR_OK && db_changes(db) != 1)
		err = CR_ERR_CONFLICT;
	return err;
}

/* Runs an INSERT ... RETURNING id. */
static enum cr_err
insert_id(struct db_stmt *st, const char *what, int64_t *id)
{
	enum db_rc rc = db_step(st);
	enum cr_err err = CR_OK;

	if (rc == DB_ROW)
		*id = db_col_int(st, 0);
	else
		err = db_err(st, what);
	db_reset(st);
	return err;
}

/* Copies a blob column into a fixed buffer; false when it does not fit. */
static bool
col_blob_copy(struct db_stmt *st, int i, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = 0;
	const void *p = db_col_null(st, i) ? NULL : db_col_blob(st, i, &n);

	*len = 0;
	if (p == NULL || n == 0)
		return true;
	if (n > cap)
		return false;
	memcpy(out, p, n);
	*len = n;
	return true;
}

/* ---- signing accounts ---- */

static const char SQL_ACCOUNT_INSERT[] =
    "INSERT INTO signing_accounts (name, holder_id, kdf_salt, kdf_ops, kdf_mem, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";

enum cr_err
cr_db_account_create(struct cr_db *db, const struct cr_signing_account *a, time_t now, int64_t *id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_ACCOUNT_INSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, a->name);
	db_bind_int(st, 2, a->holder_id);
	db_bind_blob(st, 3, a->kdf_salt, sizeof(a->kdf_salt));
	db_bind_int(st, 4, a->kdf_ops);
	db_bind_int(st, 5, a->kdf_mem);
	db_bind_int(st, 6, now);
	return insert_id(st, "signing account insert", id);
}

static const char SQL_ACCOUNT_GET[] =
    "SELECT id, holder_id, name, kdf_salt, kdf_ops, kdf_mem, wrong_tries, locked_until, busy_until"
    " FROM signing_accounts WHERE name = $1 AND holder_id = $2";

enum cr_err
cr_db_account_get(struct cr_db *db, const char *name, int64_t holder_id, struct cr_signing_account *out)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;
	size_t n;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_ACCOUNT_GET)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, name);
	db_bind_int(st, 2, holder_id);
	if ((rc = db_step(st)) == DB_ROW) {
		out->id = db_col_int(st, 0);
		out->holder_id = db_col_int(st, 1);
		db_col_copy(st, 2, out->name, sizeof(out->name));
		if (!col_blob_copy(st, 3, out->kdf_salt, sizeof(out->kdf_salt), &n) || n != sizeof(out->kdf_salt))
			err = CR_ERR_INVALID;
		out->kdf_ops = db_col_int(st, 4);
		out->kdf_mem = db_col_int(st, 5);
		out->wrong_tries = (int)db_col_int(st, 6);
		out->locked_until = (time_t)db_col_int(st, 7);
		out->busy_until = (time_t)db_col_int(st, 8);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "signing account");
	db_reset(st);
	return err;
}

static const char SQL_ACCOUNT_CLAIM[] =
    "UPDATE signing_accounts SET busy_until = $3 WHERE id = $1 AND busy_until <= $2 AND locked_until <= $2";

enum cr_err
cr_db_account_claim(struct cr_db *db, int64_t id, time_t now, time_t until)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_ACCOUNT_CLAIM)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, until);
	return run_one(st, db, "signing account claim");
}

static const char SQL_ACCOUNT_RELEASE[] = "UPDATE signing_accounts SET busy_until = 0 WHERE id = $1 AND busy_until = $2";

enum cr_err
cr_db_account_release(struct cr_db *db, int64_t id, time_t until)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_ACCOUNT_RELEASE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, until);
	return db_run(st, "signing account release");
}

static const char SQL_ACCOUNT_WRONG[] =
    "UPDATE signing_accounts SET"
    " locked_until = CASE WHEN wrong_tries + 1 >= $2 THEN $3 ELSE locked_until END,"
    " wrong_tries = CASE WHEN wrong_tries + 1 >= $2 THEN 0 ELSE wrong_tries + 1 END"
    " WHERE id = $1 RETURNING wrong_tries";

/* Shared by the account's password and a certificate's revocation passphrase. No row (no such
   account or certificate) is CR_ERR_NOTFOUND, not a database error. */
static enum cr_err
count_wrong(struct cr_db *db, const char *sql, int64_t id, int max, time_t lock_until, int *tries, const char *what)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	*tries = 0;
	if ((st = db_prep(db, sql)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, max);
	db_bind_int(st, 3, lock_until);
	if ((rc = db_step(st)) == DB_ROW)
		*tries = (int)db_col_int(st, 0);
	else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, what);
	db_reset(st);
	return err;
}

enum cr_err
cr_db_account_wrong(struct cr_db *db, int64_t id, int max, time_t lock_until, int *tries)
{
	return count_wrong(db, SQL_ACCOUNT_WRONG, id, max, lock_until, tries, "signing account wrong password");
}

static const char SQL_ACCOUNT_RIGHT[] = "UPDATE signing_accounts SET wrong_tries = 0 WHERE id = $1";

enum cr_err
cr_db_account_right(struct cr_db *db, int64_t id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_ACCOUNT_RIGHT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	return db_run(st, "signing account right password");
}

/* ---- the vault's rows ---- */

static const char SQL_VAULT_INSERT[] =
    "INSERT INTO vault_keys (account_id, cert_id, public_der, sealed, created_at) VALUES ($1, $2, $3, $4, $5)"
    " RETURNING id";

enum cr_err
cr_db_vault_key_add(struct cr_db *db, const struct cr_vault_row *k, time_t now, int64_t *id)
{
	struct db_stmt *st;

	if (k->public_len == 0 || k->public_len > CR_DB_VAULT_MAX || k->sealed_len == 0 || k->sealed_len > CR_DB_VAULT_MAX)
		return CR_ERR_INVALID;
	if ((st = db_prep(db, SQL_VAULT_INSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, k->account_id);
	if (k->cert_id > 0)
		db_bind_int(st, 2, k->cert_id);
	else
		db_bind_null(st, 2, DB_T_INT);
	db_bind_blob(st, 3, k->public_der, k->public_len);
	db_bind_blob(st, 4, k->sealed, k->sealed_len);
	db_bind_int(st, 5, now);
	return insert_id(st, "vault key insert", id);
}

static const char SQL_VAULT_OF_CERT[] =
    "SELECT id, account_id, coalesce(cert_id, 0), public_der, sealed, created_at, coalesce(destroyed_at, 0)"
    " FROM vault_keys WHERE account_id = $1 AND cert_id = $2 AND sealed IS NOT NULL ORDER BY id DESC LIMIT 1";

enum cr_err
cr_db_vault_key_of_cert(struct cr_db *db, int64_t account_id, int64_t cert_id, struct cr_vault_row *out)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_VAULT_OF_CERT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, account_id);
	db_bind_int(st, 2, cert_id);
	if ((rc = db_step(st)) == DB_ROW) {
		out->id = db_col_int(st, 0);
		out->account_id = db_col_int(st, 1);
		out->cert_id = db_col_int(st, 2);
		if (!col_blob_copy(st, 3, out->public_der, sizeof(out->public_der), &out->public_len) ||
		    !col_blob_copy(st, 4, out->sealed, sizeof(out->sealed), &out->sealed_len))
			err = CR_ERR_INVALID;
		out->created_at = (time_t)db_col_int(st, 5);
		out->destroyed_at = (time_t)db_col_int(st, 6);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "vault key");
	db_reset(st);
	return err;
}

static const char SQL_VAULT_BIND[] = "UPDATE vault_keys SET cert_id = $2 WHERE id = $1 AND cert_id IS NULL";

enum cr_err
cr_db_vault_key_bind(struct cr_db *db, int64_t key_id, int64_t cert_id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_VAULT_BIND)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, key_id);
	db_bind_int(st, 2, cert_id);
	return run_one(st, db, "vault key bind");
}

static const char SQL_VAULT_DESTROY[] =
    "UPDATE vault_keys SET sealed = NULL, destroyed_at = $2 WHERE id = $1 AND sealed IS NOT NULL";

enum cr_err
cr_db_vault_key_destroy(struct cr_db *db, int64_t key_id, time_t now)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_VAULT_DESTROY)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, key_id);
	db_bind_int(st, 2, now);
	return run_one(st, db, "vault key destroy");
}

/* A key whose certificate is superseded and expired: the new key has taken over. The live key
   of a certificate that expired without renewal stays, as the account's only key. */
static const char SQL_VAULT_EXPIRED[] =
    "SELECT k.id FROM vault_keys k JOIN certificates c ON c.id = k.cert_id"
    " WHERE k.sealed IS NOT NULL AND c.status IN ('superseded', 'revoked') AND c.not_after <= $1"
    " ORDER BY k.id LIMIT $2";

enum cr_err
cr_db_vault_keys_expired(struct cr_db *db, time_t now, int64_t *ids, size_t max, size_t *n)
{
	struct db_stmt *st;
	enum db_rc rc;

	*n = 0;
	if ((st = db_prep(db, SQL_VAULT_EXPIRED)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max)
		ids[(*n)++] = db_col_int(st, 0);
	db_reset(st);
	return rc == DB_DONE || rc == DB_ROW ? CR_OK : db_err(st, "expired vault keys");
}

/* ---- issuances ---- */

#define ISSUANCE_COLS                                                                                                  \
	"SELECT id, renewed_cert_id, application_id, holder_id, account_id, vault_key_id, coalesce(new_cert_id, 0),"      \
	" serial_hex, state, revocation_hash, reserved_at, coalesce(issued_at, 0) FROM issuances"

static const char SQL_ISSUANCE_OF[] = ISSUANCE_COLS " WHERE renewed_cert_id = $1 AND state <> 'abandoned'";
static const char SQL_ISSUANCE_BY_ID[] = ISSUANCE_COLS " WHERE id = $1";

static enum cr_err
read_issuance(struct db_stmt *st, struct cr_issuance *out)
{
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((rc = db_step(st)) == DB_ROW) {
		out->id = db_col_int(st, 0);
		out->renewed_cert_id = db_col_int(st, 1);
		out->application_id = db_col_int(st, 2);
		out->holder_id = db_col_int(st, 3);
		out->account_id = db_col_int(st, 4);
		out->vault_key_id = db_col_int(st, 5);
		out->new_cert_id = db_col_int(st, 6);
		db_col_copy(st, 7, out->serial_hex, sizeof(out->serial_hex));
		db_col_copy(st, 8, out->state, sizeof(out->state));
		db_col_copy(st, 9, out->revocation_hash, sizeof(out->revocation_hash));
		out->reserved_at = (time_t)db_col_int(st, 10);
		out->issued_at = (time_t)db_col_int(st, 11);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "issuance");
	db_reset(st);
	return err;
}

enum cr_err
cr_db_issuance_of(struct cr_db *db, int64_t renewed_cert_id, struct cr_issuance *out)
{
	struct db_stmt *st;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_ISSUANCE_OF)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, renewed_cert_id);
	return read_issuance(st, out);
}

enum cr_err
cr_db_issuance_by_id(struct cr_db *db, int64_t id, struct cr_issuance *out)
{
	struct db_stmt *st;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_ISSUANCE_BY_ID)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	return read_issuance(st, out);
}

static const char SQL_SERIAL_TAKEN[] =
    "SELECT (SELECT count(*) FROM certificates WHERE serial_hex = $1)"
    " + (SELECT count(*) FROM issuances WHERE serial_hex = $1)";
/* ON CONFLICT DO NOTHING: on PostgreSQL a unique violation would abort the caller's transaction,
   and a lost race is an answer here, not an error. */
static const char SQL_ISSUANCE_RESERVE[] =
    "INSERT INTO issuances (renewed_cert_id, application_id, holder_id, account_id, vault_key_id, serial_hex,"
    " revocation_hash, state, reserved_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'reserved', $8)"
    " ON CONFLICT DO NOTHING RETURNING id";

enum cr_err
cr_db_issuance_reserve(struct cr_db *db, const struct cr_issuance *i, int64_t *id)
{
	struct db_stmt *st;
	int64_t taken = 0;
	enum db_rc rc;
	enum cr_err err;

	*id = 0;
	if ((st = db_prep(db, SQL_SERIAL_TAKEN)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, i->serial_hex);
	if ((err = db_one_int(st, "serial taken", &taken)) != CR_OK)
		return err;
	if (taken > 0)
		return CR_ERR_CONFLICT;
	if ((st = db_prep(db, SQL_ISSUANCE_RESERVE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, i->renewed_cert_id);
	db_bind_int(st, 2, i->application_id);
	db_bind_int(st, 3, i->holder_id);
	db_bind_int(st, 4, i->account_id);
	db_bind_int(st, 5, i->vault_key_id);
	db_bind_text(st, 6, i->serial_hex);
	db_bind_text(st, 7, i->revocation_hash);
	db_bind_int(st, 8, i->reserved_at);
	rc = db_step(st);
	if (rc == DB_ROW)
		*id = db_col_int(st, 0);
	else if (rc == DB_DONE)
		err = CR_ERR_CONFLICT;
	else
		err = db_err(st, "issuance reserve");
	db_reset(st);
	return err;
}

static const char SQL_ISSUANCE_ABANDON[] =
    "UPDATE issuances SET state = 'abandoned', abandoned_at = $2 WHERE id = $1 AND state = 'reserved'";

enum cr_err
cr_db_issuance_abandon(struct cr_db *db, int64_t id, time_t now)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_ISSUANCE_ABANDON)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, now);
	return run_one(st, db, "issuance abandon");
}

static const char SQL_ISSUANCE_DONE[] =
    "UPDATE issuances SET state = 'issued', issued_at = $3, new_cert_id = $2 WHERE id = $1 AND state = 'reserved'";

enum cr_err
cr_db_issuance_done(struct cr_db *db, int64_t id, int64_t new_cert_id, time_t now)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_ISSUANCE_DONE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, new_cert_id);
	db_bind_int(st, 3, now);
	return run_one(st, db, "issuance done");
}

static const char SQL_CERT_ISSUED_HERE[] =
    "UPDATE certificates SET issued_here = 1, revocation_hash = $2 WHERE id = $1";

enum cr_err
cr_db_cert_issued_here(struct cr_db *db, int64_t cert_id, const char *revocation_hash)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CERT_ISSUED_HERE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	db_bind_text(st, 2, revocation_hash);
	return run_one(st, db, "certificate issued here");
}

static const char SQL_CERT_SUPERSEDE[] =
    "UPDATE certificates SET status = 'superseded', superseded_by = $2 WHERE id = $1 AND status = 'issued'";

enum cr_err
cr_db_cert_supersede(struct cr_db *db, int64_t old_id, int64_t new_id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CERT_SUPERSEDE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, old_id);
	db_bind_int(st, 2, new_id);
	return run_one(st, db, "certificate supersede");
}

static const char SQL_RENEWAL_MOVE[] =
    "UPDATE renewals SET state = $3, updated_at = $4,"
    " application_id = CASE WHEN $3 = 'pending_verification' THEN NULL ELSE application_id END"
    " WHERE cert_id = $1 AND state = $2";

enum cr_err
cr_db_renewal_move(struct cr_db *db, int64_t cert_id, const char *from, const char *to, time_t now)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_RENEWAL_MOVE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	db_bind_text(st, 2, from);
	db_bind_text(st, 3, to);
	db_bind_int(st, 4, now);
	return run_one(st, db, "renewal move");
}

static const char SQL_ACTIVATION_APP[] =
    "SELECT a.id FROM renewals r JOIN applications a ON a.id = r.application_id"
    " WHERE a.holder_id = $1 AND a.state = 'submitted' AND r.state = 'pending_activation'"
    " ORDER BY a.id DESC LIMIT 1";

enum cr_err
cr_db_activation_app(struct cr_db *db, int64_t holder_id, int64_t *app_id)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_ACTIVATION_APP)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, holder_id);
	if ((rc = db_step(st)) == DB_ROW)
		*app_id = db_col_int(st, 0);
	else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "activation application");
	db_reset(st);
	return err;
}

static const char SQL_RENEWAL_STATE[] = "SELECT state FROM renewals WHERE cert_id = $1";

enum cr_err
cr_db_renewal_state(struct cr_db *db, int64_t cert_id, char *out, size_t outlen)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	*out = '\0';
	if ((st = db_prep(db, SQL_RENEWAL_STATE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	if ((rc = db_step(st)) == DB_ROW)
		db_col_copy(st, 0, out, outlen);
	else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "renewal state");
	db_reset(st);
	return err;
}

#define VIEW_COLS DB_CERT_COLS ", o.name, p.name"

static void
read_view(struct db_stmt *st, struct cr_cert_view *v)
{
	db_read_cert(st, &v->c);
	db_col_copy(st, DB_CERT_NCOLS, v->org_name, sizeof(v->org_name));
	db_col_copy(st, DB_CERT_NCOLS + 1, v->holder_name, sizeof(v->holder_name));
}

static const char SQL_CERT_OF_HOLDER[] =
    "SELECT " VIEW_COLS ", c.der FROM certificates c"
    " JOIN organisations o ON o.id = c.org_id JOIN people p ON p.id = c.holder_id"
    " WHERE c.id = $1 AND c.holder_id = $2";

enum cr_err
cr_db_cert_of_holder(struct cr_db *db, int64_t cert_id, int64_t holder_id, struct cr_cert_view *out, struct cr_buf *der)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_CERT_OF_HOLDER)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	db_bind_int(st, 2, holder_id);
	if ((rc = db_step(st)) == DB_ROW) {
		read_view(st, out);
		if (der != NULL && !db_col_null(st, DB_CERT_NCOLS + 2)) {
			size_t n = 0;
			const void *p = db_col_blob(st, DB_CERT_NCOLS + 2, &n);

			err = cr_buf_add(der, p, n);
		}
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "certificate of holder");
	db_reset(st);
	return err;
}

/* ---- revocation ---- */

static const char SQL_REVOCATION_STATE[] =
    "SELECT coalesce(revocation_hash, ''), revocation_wrong, revocation_locked_until, coalesce(revoked_at, 0)"
    " FROM certificates WHERE id = $1";

enum cr_err
cr_db_revocation_state(struct cr_db *db, int64_t cert_id, struct cr_revocation_state *out)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_REVOCATION_STATE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	if ((rc = db_step(st)) == DB_ROW) {
		db_col_copy(st, 0, out->hash, sizeof(out->hash));
		out->wrong = (int)db_col_int(st, 1);
		out->locked_until = (time_t)db_col_int(st, 2);
		out->revoked_at = (time_t)db_col_int(st, 3);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "revocation state");
	db_reset(st);
	return err;
}

static const char SQL_REVOCATION_WRONG[] =
    "UPDATE certificates SET"
    " revocation_locked_until = CASE WHEN revocation_wrong + 1 >= $2 THEN $3 ELSE revocation_locked_until END,"
    " revocation_wrong = CASE WHEN revocation_wrong + 1 >= $2 THEN 0 ELSE revocation_wrong + 1 END"
    " WHERE id = $1 RETURNING revocation_wrong";

enum cr_err
cr_db_revocation_wrong(struct cr_db *db, int64_t cert_id, int max, time_t lock_until, int *tries)
{
	return count_wrong(db, SQL_REVOCATION_WRONG, cert_id, max, lock_until, tries, "revocation wrong passphrase");
}

static const char SQL_CERT_REVOKE[] =
    "UPDATE certificates SET status = 'revoked', revoked_at = $3, revocation_reason = $2, revocation_wrong = 0"
    " WHERE id = $1 AND revoked_at IS NULL";

enum cr_err
cr_db_cert_revoke(struct cr_db *db, int64_t cert_id, int reason, time_t now)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CERT_REVOKE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	db_bind_int(st, 2, reason);
	db_bind_int(st, 3, now);
	return run_one(st, db, "certificate revoke");
}

static const char SQL_HOLDER_ISSUED[] =
    "SELECT " VIEW_COLS " FROM certificates c"
    " JOIN organisations o ON o.id = c.org_id JOIN people p ON p.id = c.holder_id"
    " WHERE c.holder_id = $1 AND c.issued_here = 1 ORDER BY c.id DESC LIMIT $2";

enum cr_err
cr_db_holder_issued_certs(struct cr_db *db, int64_t holder_id, struct cr_cert_view *out, size_t max, size_t *n)
{
	struct db_stmt *st;
	enum db_rc rc;

	*n = 0;
	if ((st = db_prep(db, SQL_HOLDER_ISSUED)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, holder_id);
	db_bind_int(st, 2, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max)
		read_view(st, &out[(*n)++]);
	db_reset(st);
	return rc == DB_DONE || rc == DB_ROW ? CR_OK : db_err(st, "issued certificates");
}

/* ---- CRLs ---- */

static const char SQL_REVOKED_OF_TYPE[] =
    "SELECT serial_hex, revoked_at, coalesce(revocation_reason, 0) FROM certificates"
    " WHERE type = $1 AND issued_here = 1 AND revoked_at IS NOT NULL AND not_after > $2"
    " ORDER BY revoked_at, serial_hex LIMIT $3";

enum cr_err
cr_db_revoked_of_type(struct cr_db *db, const char *type, time_t now, struct cr_revoked_row *out, size_t max,
    size_t *n)
{
	struct db_stmt *st;
	enum db_rc rc;

	*n = 0;
	if ((st = db_prep(db, SQL_REVOKED_OF_TYPE)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, type);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, (int64_t)max + 1);
	while ((rc = db_step(st)) == DB_ROW) {
		if (*n == max) {
			db_reset(st);
			return CR_ERR_TOOBIG;
		}
		db_col_copy(st, 0, out[*n].serial_hex, sizeof(out[*n].serial_hex));
		out[*n].revoked_at = (time_t)db_col_int(st, 1);
		out[*n].reason = (int)db_col_int(st, 2);
		(*n)++;
	}
	db_reset(st);
	return rc == DB_DONE ? CR_OK : db_err(st, "revoked certificates");
}

static const char SQL_CRL_NUMBER[] =
    "INSERT INTO crl_numbers (type, last_number, published_at) VALUES ($1, 1, $2)"
    " ON CONFLICT (type) DO UPDATE SET last_number = crl_numbers.last_number + 1, published_at = excluded.published_at"
    " RETURNING last_number";

enum cr_err
cr_db_crl_number_next(struct cr_db *db, const char *type, time_t now, int64_t *out)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CRL_NUMBER)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, type);
	db_bind_int(st, 2, now);
	return insert_id(st, "crl number", out);
}

static const char SQL_CRL_STATE[] =
    "SELECT coalesce((SELECT published_at FROM crl_numbers WHERE type = $1), 0),"
    " coalesce((SELECT covered FROM crl_numbers WHERE type = $1), 0),"
    " (SELECT count(*) FROM certificates WHERE type = $1 AND issued_here = 1 AND revoked_at IS NOT NULL)";

enum cr_err
cr_db_crl_state(struct cr_db *db, const char *type, struct cr_crl_state *out)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_CRL_STATE)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, type);
	if ((rc = db_step(st)) == DB_ROW) {
		out->published_at = (time_t)db_col_int(st, 0);
		out->covered = db_col_int(st, 1);
		out->revoked = db_col_int(st, 2);
	} else
		err = db_err(st, "crl state");
	db_reset(st);
	return err;
}

static const char SQL_CRL_CLAIM[] =
    "UPDATE crl_numbers SET published_at = $3 WHERE type = $1 AND last_number = $2";

enum cr_err
cr_db_crl_claim(struct cr_db *db, const char *type, int64_t number, time_t now)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CRL_CLAIM)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, type);
	db_bind_int(st, 2, number);
	db_bind_int(st, 3, now);
	return run_one(st, db, "crl claim");
}

static const char SQL_CRL_COVERED[] = "UPDATE crl_numbers SET covered = $2 WHERE type = $1";

enum cr_err
cr_db_crl_covered(struct cr_db *db, const char *type, int64_t covered)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CRL_COVERED)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, type);
	db_bind_int(st, 2, covered);
	return run_one(st, db, "crl covered");
}

static const char SQL_RENEWAL_OF[] = "SELECT state, coalesce(application_id, 0) FROM renewals WHERE cert_id = $1";

enum cr_err
cr_db_renewal_of(struct cr_db *db, int64_t cert_id, char *state, size_t statelen, int64_t *app_id)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	*app_id = 0;
	if ((st = db_prep(db, SQL_RENEWAL_OF)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	if ((rc = db_step(st)) == DB_ROW) {
		db_col_copy(st, 0, state, statelen);
		*app_id = db_col_int(st, 1);
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "renewal");
	db_reset(st);
	return err;
}

static const char SQL_RENEWAL_MOVE_APP[] =
    "UPDATE renewals SET state = $4, updated_at = $5,"
    " application_id = CASE WHEN $4 = 'pending_verification' THEN NULL ELSE application_id END"
    " WHERE cert_id = $1 AND application_id = $2 AND state = $3";

enum cr_err
cr_db_renewal_move_app(struct cr_db *db, int64_t cert_id, int64_t app_id, const char *from, const char *to,
    time_t now)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_RENEWAL_MOVE_APP)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	db_bind_int(st, 2, app_id);
	db_bind_text(st, 3, from);
	db_bind_text(st, 4, to);
	db_bind_int(st, 5, now);
	return run_one(st, db, "renewal move");
}

static const char SQL_REVOCATION_ATTEMPT[] =
    "UPDATE certificates SET"
    " revocation_locked_until = CASE WHEN revocation_wrong + 1 >= $2 THEN $3 ELSE revocation_locked_until END,"
    " revocation_wrong = CASE WHEN revocation_wrong + 1 >= $2 THEN 0 ELSE revocation_wrong + 1 END"
    " WHERE id = $1 AND revocation_locked_until <= $4 AND revoked_at IS NULL RETURNING revocation_wrong";

enum cr_err
cr_db_revocation_attempt(struct cr_db *db, int64_t cert_id, int max, time_t now, time_t lock_until, int *tries)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	*tries = 0;
	if ((st = db_prep(db, SQL_REVOCATION_ATTEMPT)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	db_bind_int(st, 2, max);
	db_bind_int(st, 3, lock_until);
	db_bind_int(st, 4, now);
	if ((rc = db_step(st)) == DB_ROW)
		*tries = (int)db_col_int(st, 0);
	else
		err = rc == DB_DONE ? CR_ERR_CONFLICT : db_err(st, "revocation attempt");
	db_reset(st);
	return err;
}

static const char SQL_ISSUANCES_STALE[] =
    "SELECT id FROM issuances WHERE state = 'reserved' AND reserved_at < $1 ORDER BY id LIMIT $2";

enum cr_err
cr_db_issuances_stale(struct cr_db *db, time_t before, struct cr_issuance *out, size_t max, size_t *n)
{
	struct db_stmt *st;
	int64_t ids[64];
	size_t k = 0;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	*n = 0;
	if ((st = db_prep(db, SQL_ISSUANCES_STALE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, before);
	db_bind_int(st, 2, (int64_t)(max < 64 ? max : 64));
	while ((rc = db_step(st)) == DB_ROW && k < 64)
		ids[k++] = db_col_int(st, 0);
	db_reset(st);
	if (rc != DB_DONE && rc != DB_ROW)
		return db_err(st, "stale issuances");
	for (size_t i = 0; i < k && err == CR_OK && *n < max; i++) {
		struct cr_issuance *x = &out[*n];

		memset(x, 0, sizeof(*x));
		if ((err = cr_db_issuance_by_id(db, ids[i], x)) == CR_OK)
			(*n)++;
		else if (err == CR_ERR_NOTFOUND)
			err = CR_OK;
	}
	return err;
}
