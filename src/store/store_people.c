/*
 * The store: organisations, people and their staff roles, certificates,
 * department confirmations and the holder's pending counts; see store.h.
 */
#include <string.h>

#include "db_int.h"

/* ---- organisations and people ---- */

static const char SQL_ORG_UPSERT[] =
    "INSERT INTO organisations (code, name) VALUES ($1, $2)"
    " ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id";

enum cr_err
cr_db_org_upsert(struct cr_db *db, const char *code, const char *name, int64_t *id)
{
	struct db_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_ORG_UPSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, code);
	db_bind_text(st, 2, name);
	if (db_step(st) == DB_ROW)
		*id = db_col_int(st, 0);
	else
		err = db_err(st, "org upsert");
	db_reset(st);
	return err;
}

static const char SQL_PERSON_UPSERT[] =
    "INSERT INTO people (govid_sub, name, name_zh, email, id_number, org_id, department, position, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    " ON CONFLICT (govid_sub) DO UPDATE SET name = excluded.name, name_zh = excluded.name_zh,"
    " email = excluded.email, id_number = excluded.id_number, org_id = excluded.org_id,"
    " department = excluded.department, position = excluded.position RETURNING id";

enum cr_err
cr_db_person_upsert(struct cr_db *db, const struct cr_person *p, int64_t *id)
{
	struct db_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_PERSON_UPSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, p->sub);
	db_bind_text(st, 2, p->name);
	db_bind_text(st, 3, p->name_zh);
	db_bind_text(st, 4, p->email);
	db_bind_text(st, 5, p->id_number);
	db_bind_int(st, 6, p->org_id);
	db_bind_text(st, 7, p->department);
	db_bind_text(st, 8, p->position);
	db_bind_int(st, 9, time(NULL));
	if (db_step(st) == DB_ROW)
		*id = db_col_int(st, 0);
	else
		err = db_err(st, "person upsert");
	db_reset(st);
	return err;
}

static const char SQL_ROLE_ADD[] =
    "INSERT INTO staff_roles (person_id, role, org_id) VALUES ($1, $2, $3)"
    " ON CONFLICT (person_id, role) DO UPDATE SET org_id = excluded.org_id";

enum cr_err
cr_db_role_add(struct cr_db *db, int64_t person_id, const char *role, int64_t org_id)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_ROLE_ADD)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, person_id);
	db_bind_text(st, 2, role);
	db_bind_int(st, 3, org_id);
	return db_run(st, "role add");
}

#define PERSON_COLS \
	"p.id, p.govid_sub, p.name, p.name_zh, p.email, p.id_number, p.org_id, o.name, p.department, p.position," \
	" EXISTS (SELECT 1 FROM staff_roles r WHERE r.person_id = p.id AND r.role = 'coordinator')," \
	" EXISTS (SELECT 1 FROM staff_roles r WHERE r.person_id = p.id AND r.role = 'officer')" \
	" FROM people p JOIN organisations o ON o.id = p.org_id"

static const char SQL_PERSON_BY_SUB[] = "SELECT " PERSON_COLS " WHERE p.govid_sub = $1";
static const char SQL_PERSON_BY_ID[] = "SELECT " PERSON_COLS " WHERE p.id = $1";

static enum cr_err
read_person(struct db_stmt *st, struct cr_person *p)
{
	enum db_rc rc = db_step(st);

	if (rc == DB_ROW) {
		memset(p, 0, sizeof(*p));
		p->id = db_col_int(st, 0);
		db_col_copy(st, 1, p->sub, sizeof(p->sub));
		db_col_copy(st, 2, p->name, sizeof(p->name));
		db_col_copy(st, 3, p->name_zh, sizeof(p->name_zh));
		db_col_copy(st, 4, p->email, sizeof(p->email));
		db_col_copy(st, 5, p->id_number, sizeof(p->id_number));
		p->org_id = db_col_int(st, 6);
		db_col_copy(st, 7, p->org_name, sizeof(p->org_name));
		db_col_copy(st, 8, p->department, sizeof(p->department));
		db_col_copy(st, 9, p->position, sizeof(p->position));
		p->is_coordinator = db_col_bool(st, 10);
		p->is_officer = db_col_bool(st, 11);
	}
	db_reset(st);
	if (rc == DB_ROW)
		return CR_OK;
	return rc == DB_DONE ? CR_ERR_NOTFOUND : db_err(st, "person");
}

enum cr_err
cr_db_person_by_sub(struct cr_db *db, const char *sub, struct cr_person *out)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_PERSON_BY_SUB)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, sub);
	return read_person(st, out);
}

enum cr_err
cr_db_person_by_id(struct cr_db *db, int64_t id, struct cr_person *out)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_PERSON_BY_ID)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, id);
	return read_person(st, out);
}

static const char SQL_PERSON_COUNT[] = "SELECT count(*) FROM people";

enum cr_err
cr_db_person_count(struct cr_db *db, long *out)
{
	struct db_stmt *st;
	int64_t v;
	enum cr_err err;

	if ((st = db_prep(db, SQL_PERSON_COUNT)) == NULL)
		return CR_ERR_IO;
	err = db_one_int(st, "count", &v);
	*out = (long)v;
	return err;
}

/* ---- certificates ---- */

static const char SQL_CERT_INSERT[] =
    "INSERT INTO certificates (serial_hex, type, status, not_before, not_after, holder_id, email, org_id,"
    " department, position, tx_limit, proxy_qualification, signing_account, der, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";

enum cr_err
cr_db_cert_insert(struct cr_db *db, const struct cr_cert *c, int64_t *id)
{
	struct db_stmt *st;
	enum cr_err err = CR_OK;

	if ((st = db_prep(db, SQL_CERT_INSERT)) == NULL)
		return CR_ERR_IO;
	db_bind_text(st, 1, c->serial_hex);
	db_bind_text(st, 2, cr_cert_type_name(c->type));
	db_bind_text(st, 3, c->status[0] ? c->status : "issued");
	db_bind_int(st, 4, c->not_before);
	db_bind_int(st, 5, c->not_after);
	db_bind_int(st, 6, c->holder_id);
	db_bind_text(st, 7, c->email);
	db_bind_int(st, 8, c->org_id);
	db_bind_text(st, 9, c->department);
	db_bind_text(st, 10, c->position);
	db_bind_text(st, 11, c->tx_limit);
	db_bind_text(st, 12, c->proxy);
	db_bind_text(st, 13, c->signing_account);
	db_bind_blob(st, 14, c->der, c->der_len);
	db_bind_int(st, 15, time(NULL));
	if (db_step(st) == DB_ROW)
		*id = db_col_int(st, 0);
	else
		err = db_err(st, "certificate insert");
	db_reset(st);
	return err;
}

static const char SQL_CONFIRM_SET[] =
    "INSERT INTO confirmations (cert_id, decision, decided_by, decided_at) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (cert_id) DO UPDATE SET decision = excluded.decision,"
    " decided_by = excluded.decided_by, decided_at = excluded.decided_at";

enum cr_err
cr_db_confirmation_set(struct cr_db *db, int64_t cert_id, const char *decision, const char *by, time_t at)
{
	struct db_stmt *st;

	if ((st = db_prep(db, SQL_CONFIRM_SET)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, cert_id);
	db_bind_text(st, 2, decision);
	db_bind_text(st, 3, by);
	db_bind_int(st, 4, at);
	return db_run(st, "confirmation");
}

static const char SQL_PENDING[] =
    "SELECT c.type, coalesce(r.state, 'pending_verification'), count(*)"
    " FROM certificates c"
    " JOIN confirmations f ON f.cert_id = c.id AND f.decision = 'confirmed'"
    " LEFT JOIN renewals r ON r.cert_id = c.id"
    " WHERE c.holder_id = $1 AND c.status = 'issued' AND c.not_after > $2 AND c.not_after <= $3"
    " GROUP BY 1, 2";

enum cr_err
cr_db_pending_counts(struct cr_db *db, int64_t holder_id, time_t now, int window_days,
    struct cr_pending_counts *out)
{
	struct db_stmt *st;
	enum db_rc rc;

	memset(out, 0, sizeof(*out));
	if ((st = db_prep(db, SQL_PENDING)) == NULL)
		return CR_ERR_IO;
	db_bind_int(st, 1, holder_id);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, now + (time_t)window_days * 86400);
	while ((rc = db_step(st)) == DB_ROW) {
		enum cr_cert_type t;
		enum cr_renewal_state s;
		enum cr_pending_group g;
		int n = (int)db_col_int(st, 2);

		if (!cr_cert_type_parse(db_col_text(st, 0), &t) ||
		    !cr_renewal_state_parse(db_col_text(st, 1), &s))
			continue;
		if ((g = cr_renewal_group(t, s)) == CR_GROUP_NONE)
			continue;
		out->n[g][t] += n;
		out->total[g] += n;
	}
	db_reset(st);
	return rc == DB_DONE ? CR_OK : db_err(st, "pending counts");
}
