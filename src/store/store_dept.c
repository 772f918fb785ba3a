/*
 * The store: what a department coordinator sees and decides, and
 * certificate lookups by serial; see store.h. Every query is scoped by the
 * coordinator's organisation in SQL, so a forged id finds nothing.
 */
#include <string.h>

#include "db_int.h"

static const char SQL_ORG_CERTS[] =
    "SELECT c.id, c.serial_hex, c.type, c.not_after, p.name, c.email, coalesce(f.decision, '')"
    " FROM certificates c JOIN people p ON p.id = c.holder_id"
    " LEFT JOIN confirmations f ON f.cert_id = c.id"
    " WHERE c.org_id = $1 AND c.status = 'issued' AND c.not_after > $2 AND c.not_after <= $3"
    " ORDER BY c.not_after, p.name, c.id LIMIT $4";

enum cr_err
cr_db_org_certs_expiring(struct cr_db *db, int64_t org_id, time_t now, int horizon_days, struct cr_org_cert *out,
    size_t max, size_t *n)
{
	struct db_stmt *st;
	enum db_rc rc;

	*n = 0;
	if ((st = db_prep(db, SQL_ORG_CERTS)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, org_id);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, now + (time_t)horizon_days * 86400);
	db_bind_int(st, 4, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max) {
		struct cr_org_cert *c = &out[*n];

		memset(c, 0, sizeof(*c));
		c->cert_id = db_col_int(st, 0);
		db_col_copy(st, 1, c->serial_hex, sizeof(c->serial_hex));
		if (!cr_cert_type_parse(db_col_text(st, 2), &c->type))
			continue;
		c->not_after = (time_t)db_col_int(st, 3);
		db_col_copy(st, 4, c->holder_name, sizeof(c->holder_name));
		db_col_copy(st, 5, c->email, sizeof(c->email));
		db_col_copy(st, 6, c->decision, sizeof(c->decision));
		(*n)++;
	}
	db_reset(st);
	return rc == DB_DONE || rc == DB_ROW ? CR_OK : db_err(st, "org certificates");
}

static const char SQL_ORG_DECIDE[] =
    "INSERT INTO confirmations (cert_id, decision, decided_by, decided_at)"
    " SELECT c.id, $3, $4, $5 FROM certificates c"
    " WHERE c.id = $2 AND c.org_id = $1 AND c.status = 'issued' AND c.not_after > $5 AND c.not_after <= $6"
    " ON CONFLICT (cert_id) DO UPDATE SET decision = excluded.decision,"
    " decided_by = excluded.decided_by, decided_at = excluded.decided_at";

enum cr_err
cr_db_org_decide(struct cr_db *db, int64_t org_id, int64_t cert_id, const char *decision, const char *decided_by,
    time_t now, int horizon_days)
{
	struct db_stmt *st;
	enum cr_err err;

	if ((st = db_prep(db, SQL_ORG_DECIDE)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, org_id);
	db_bind_int(st, 2, cert_id);
	db_bind_text(st, 3, decision);
	db_bind_text(st, 4, decided_by);
	db_bind_int(st, 5, now);
	db_bind_int(st, 6, now + (time_t)horizon_days * 86400);
	if ((err = db_run(st, "org decide")) != CR_OK)
		return err;
	return db_changes(db) == 1 ? CR_OK : CR_ERR_NOTFOUND;
}

static const char SQL_CERT_BY_SERIAL[] =
    "SELECT " DB_CERT_COLS " FROM certificates c WHERE c.serial_hex = $1";

enum cr_err
cr_db_cert_by_serial(struct cr_db *db, const char *serial_hex, struct cr_cert *c)
{
	struct db_stmt *st;
	enum db_rc rc;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_CERT_BY_SERIAL)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, serial_hex);
	rc = db_step(st);
	if (rc == DB_ROW) {
		if (!db_read_cert(st, c))
			err = CR_ERR_INVALID;
	} else
		err = rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "cert by serial");
	db_reset(st);
	return err;
}
