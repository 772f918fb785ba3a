/*
 * Unit tests of the store's step-4 section (src/store/store_activate.c, store.h "step 4"): signing
 * accounts and their locks, the vault's rows, issuances, certificates issued here and superseded,
 * renewal moves, revocation and CRL numbers. Against SQLite and, when CR_TEST_DATABASE_URL is set,
 * against PostgreSQL instead (a fresh database per test; tests/unit/support/dbfx.h).
 * What no store function reads (superseded_by, a destroyed key's blob, updated_at) is checked with
 * a raw query on the same database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>

#include "store/store.h"
#include "support/dbfx.h"
#include "util/buf.h"

#define HASH_A "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"

/* A holder in organisation "ORG" (created on first use). */
static int64_t
holder(struct fx *f, const char *sub)
{
	return fx_make_person(f->db, sub, fx_make_org(f->db, "ORG"));
}

static int64_t
org_of(struct fx *f)
{
	return fx_make_org(f->db, "ORG");
}

static int64_t
account(struct fx *f, const char *name, int64_t holder_id)
{
	struct cr_signing_account a;
	int64_t id = 0;

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", name);
	a.holder_id = holder_id;
	for (size_t i = 0; i < sizeof(a.kdf_salt); i++)
		a.kdf_salt[i] = (unsigned char)(0xa0 + i);
	a.kdf_ops = 3;
	a.kdf_mem = 65536;
	assert_int_equal(cr_db_account_create(f->db, &a, NOW, &id), CR_OK);
	assert_true(id > 0);
	return id;
}

/* A sealed key of account_id (bound to cert_id when > 0), its bytes made from seed. */
static int64_t
vault_key(struct fx *f, int64_t account_id, int64_t cert_id, unsigned char seed)
{
	static struct cr_vault_row k; /* 8 KB: not on the stack */
	int64_t id = 0;

	memset(&k, 0, sizeof(k));
	k.account_id = account_id;
	k.cert_id = cert_id;
	k.public_len = 91;
	for (size_t i = 0; i < k.public_len; i++)
		k.public_der[i] = (unsigned char)(seed + i);
	k.sealed_len = 200;
	for (size_t i = 0; i < k.sealed_len; i++)
		k.sealed[i] = (unsigned char)(seed ^ i);
	k.sealed[0] = 0; /* a NUL inside stays inside */
	assert_int_equal(cr_db_vault_key_add(f->db, &k, NOW, &id), CR_OK);
	assert_true(id > 0);
	return id;
}

/* An application of holder_id over cert_id (renewal verifying). */
static int64_t
application(struct fx *f, int64_t holder_id, int64_t cert_id)
{
	int64_t app = 0;

	assert_int_equal(cr_db_app_create(f->db, holder_id, &cert_id, 1, NOW, &app), CR_OK);
	assert_true(app > 0);
	return app;
}

static void
issuance_of(struct cr_issuance *i, int64_t renewed, int64_t app, int64_t holder_id, int64_t acct, int64_t key,
    const char *serial)
{
	memset(i, 0, sizeof(*i));
	i->renewed_cert_id = renewed;
	i->application_id = app;
	i->holder_id = holder_id;
	i->account_id = acct;
	i->vault_key_id = key;
	snprintf(i->serial_hex, sizeof(i->serial_hex), "%s", serial);
	snprintf(i->revocation_hash, sizeof(i->revocation_hash), "%s", HASH_A);
	i->reserved_at = NOW;
}

/* ---- signing accounts ---- */

static void
test_account_create_get(void **state)
{
	struct fx *f = *state;
	struct cr_signing_account a, again;
	int64_t alice = holder(f, "alice"), bob = holder(f, "bob"), id, dup = 0;

	id = account(f, "alice.sign", alice);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.id, id);
	assert_int_equal(a.holder_id, alice);
	assert_string_equal(a.name, "alice.sign");
	for (size_t i = 0; i < sizeof(a.kdf_salt); i++)
		assert_int_equal(a.kdf_salt[i], 0xa0 + i);
	assert_int_equal(a.kdf_ops, 3);
	assert_int_equal(a.kdf_mem, 65536);
	assert_int_equal(a.wrong_tries, 0);
	assert_int_equal(a.locked_until, 0);
	assert_int_equal(a.busy_until, 0);

	/* Another holder's account, or no such name: not found. */
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", bob, &again), CR_ERR_NOTFOUND);
	assert_int_equal(cr_db_account_get(f->db, "nobody.sign", alice, &again), CR_ERR_NOTFOUND);
	/* Names are unique. */
	memset(&again, 0, sizeof(again));
	snprintf(again.name, sizeof(again.name), "alice.sign");
	again.holder_id = bob;
	assert_int_equal(cr_db_account_create(f->db, &again, NOW, &dup), CR_ERR_CONFLICT);
	assert_int_equal(fx_query_int(f, "SELECT count(*) FROM signing_accounts"), 1);
}

static void
test_account_claim_release(void **state)
{
	struct fx *f = *state;
	struct cr_signing_account a;
	int64_t alice = holder(f, "alice"), id = account(f, "alice.sign", alice);

	assert_int_equal(cr_db_account_claim(f->db, id, NOW, NOW + 60), CR_OK);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.busy_until, NOW + 60);
	/* A second request while the first holds it: at once, no change. */
	assert_int_equal(cr_db_account_claim(f->db, id, NOW + 1, NOW + 61), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_account_claim(f->db, id, NOW + 59, NOW + 119), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.busy_until, NOW + 60);
	/* Once the claim ran out (a crashed process), the next one gets it. */
	assert_int_equal(cr_db_account_claim(f->db, id, NOW + 61, NOW + 121), CR_OK);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.busy_until, NOW + 121);
	/* Released by its holder only: a slow activation whose claim ran out cannot end this one. */
	assert_int_equal(cr_db_account_release(f->db, id, NOW + 60), CR_OK);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.busy_until, NOW + 121);
	/* Released: free at once. */
	assert_int_equal(cr_db_account_release(f->db, id, NOW + 121), CR_OK);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.busy_until, 0);
	assert_int_equal(cr_db_account_claim(f->db, id, NOW + 62, NOW + 122), CR_OK);
	/* Inside a transaction (PostgreSQL: a lost claim must not abort it). */
	assert_int_equal(cr_db_begin(f->db), CR_OK);
	assert_int_equal(cr_db_account_claim(f->db, id, NOW + 63, NOW + 123), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_account_release(f->db, id, NOW + 122), CR_OK);
	assert_int_equal(cr_db_commit(f->db), CR_OK);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.busy_until, 0);
	/* No such account: nothing to claim. */
	assert_int_not_equal(cr_db_account_claim(f->db, id + 100, NOW, NOW + 60), CR_OK);
	/* A locked account cannot be claimed, also by a request that read it before the lock. */
	{
		int tries = -1;

		for (int k = 0; k < 5; k++)
			assert_int_equal(cr_db_account_wrong(f->db, id, 5, NOW + 1800, &tries), CR_OK);
		assert_int_equal(tries, 0);
		assert_int_equal(cr_db_account_claim(f->db, id, NOW + 200, NOW + 260), CR_ERR_CONFLICT);
		assert_int_equal(cr_db_account_claim(f->db, id, NOW + 1800, NOW + 1860), CR_OK);
	}
}

static void
test_account_wrong_right(void **state)
{
	struct fx *f = *state;
	struct cr_signing_account a;
	int64_t alice = holder(f, "alice"), id = account(f, "alice.sign", alice);
	int tries = -1;

	assert_int_equal(cr_db_account_wrong(f->db, id, 3, NOW + 900, &tries), CR_OK);
	assert_int_equal(tries, 1);
	assert_int_equal(cr_db_account_wrong(f->db, id, 3, NOW + 900, &tries), CR_OK);
	assert_int_equal(tries, 2);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.wrong_tries, 2);
	assert_int_equal(a.locked_until, 0);
	/* The max-th locks, answers 0 and starts the count again. */
	assert_int_equal(cr_db_account_wrong(f->db, id, 3, NOW + 900, &tries), CR_OK);
	assert_int_equal(tries, 0);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.wrong_tries, 0);
	assert_int_equal(a.locked_until, NOW + 900);
	/* The next wrong one counts from 1 and leaves the lock as it is. */
	assert_int_equal(cr_db_account_wrong(f->db, id, 3, NOW + 5000, &tries), CR_OK);
	assert_int_equal(tries, 1);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.wrong_tries, 1);
	assert_int_equal(a.locked_until, NOW + 900);
	/* A right one: the count starts again. */
	assert_int_equal(cr_db_account_right(f->db, id), CR_OK);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.wrong_tries, 0);
	assert_int_equal(cr_db_account_wrong(f->db, id, 3, NOW + 900, &tries), CR_OK);
	assert_int_equal(tries, 1);
	/* max 1: every wrong one locks. */
	assert_int_equal(cr_db_account_right(f->db, id), CR_OK);
	assert_int_equal(cr_db_account_wrong(f->db, id, 1, NOW + 77, &tries), CR_OK);
	assert_int_equal(tries, 0);
	assert_int_equal(cr_db_account_get(f->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.locked_until, NOW + 77);
	/* No such account. */
	tries = -1;
	assert_int_equal(cr_db_account_wrong(f->db, id + 100, 3, NOW + 900, &tries), CR_ERR_NOTFOUND);
	assert_int_equal(tries, 0);
}

/* ---- the vault's rows ---- */

static void
test_vault_key_add_bind_destroy(void **state)
{
	struct fx *f = *state;
	static struct cr_vault_row k, bad;
	int64_t alice = holder(f, "alice"), bob = holder(f, "bob"), acct = account(f, "alice.sign", alice);
	int64_t other = account(f, "bob.sign", bob);
	int64_t cert = fx_make_cert(f->db, "aa01", CR_CERT_CLOUDSIGN, NULL, NOW + 30 * DAY, alice, org_of(f));
	int64_t key, unrelated = 0;
	char q[160], v[64];

	/* Unbound: no certificate's key yet. */
	key = vault_key(f, acct, 0, 7);
	assert_int_equal(fx_query_int(f, "SELECT count(*) FROM vault_keys WHERE cert_id IS NULL"), 1);
	assert_int_equal(cr_db_vault_key_of_cert(f->db, acct, cert, &k), CR_ERR_NOTFOUND);
	assert_int_equal(cr_db_vault_key_bind(f->db, key, cert), CR_OK);
	/* Bound once only. */
	assert_int_equal(cr_db_vault_key_bind(f->db, key, cert), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_vault_key_of_cert(f->db, acct, cert, &k), CR_OK);
	assert_int_equal(k.id, key);
	assert_int_equal(k.account_id, acct);
	assert_int_equal(k.cert_id, cert);
	assert_int_equal(k.public_len, 91);
	assert_int_equal(k.sealed_len, 200);
	for (size_t i = 0; i < 91; i++)
		assert_int_equal(k.public_der[i], (unsigned char)(7 + i));
	for (size_t i = 1; i < 200; i++)
		assert_int_equal(k.sealed[i], (unsigned char)(7 ^ i));
	assert_int_equal(k.sealed[0], 0);
	assert_int_equal(k.created_at, NOW);
	assert_int_equal(k.destroyed_at, 0);
	/* Another account's view of the certificate: nothing. */
	assert_int_equal(cr_db_vault_key_of_cert(f->db, other, cert, &k), CR_ERR_NOTFOUND);

	/* Destroyed: the sealed blob is gone, the time recorded, the public key kept. */
	assert_int_equal(cr_db_vault_key_destroy(f->db, key, NOW + 5), CR_OK);
	snprintf(q, sizeof(q), "SELECT sealed IS NULL FROM vault_keys WHERE id = %lld", (long long)key);
	fx_query(f, q, v, sizeof(v));
	assert_true(strcmp(v, "1") == 0 || strcmp(v, "t") == 0);
	snprintf(q, sizeof(q), "SELECT destroyed_at FROM vault_keys WHERE id = %lld", (long long)key);
	assert_int_equal(fx_query_int(f, q), NOW + 5);
	snprintf(q, sizeof(q), "SELECT length(public_der) FROM vault_keys WHERE id = %lld", (long long)key);
	assert_int_equal(fx_query_int(f, q), 91);
	assert_int_equal(cr_db_vault_key_of_cert(f->db, acct, cert, &k), CR_ERR_NOTFOUND);
	assert_int_equal(cr_db_vault_key_destroy(f->db, key, NOW + 6), CR_ERR_CONFLICT);
	snprintf(q, sizeof(q), "SELECT destroyed_at FROM vault_keys WHERE id = %lld", (long long)key);
	assert_int_equal(fx_query_int(f, q), NOW + 5);

	/* Added bound at once; the newest live key of the certificate wins. */
	key = vault_key(f, acct, cert, 9);
	assert_int_equal(cr_db_vault_key_of_cert(f->db, acct, cert, &k), CR_OK);
	assert_int_equal(k.id, key);
	assert_int_equal(k.public_der[0], 9);

	/* Empty or oversized blobs are refused before any SQL. */
	memset(&bad, 0, sizeof(bad));
	bad.account_id = acct;
	bad.public_len = 10;
	assert_int_equal(cr_db_vault_key_add(f->db, &bad, NOW, &unrelated), CR_ERR_INVALID);
	bad.sealed_len = CR_DB_VAULT_MAX + 1;
	assert_int_equal(cr_db_vault_key_add(f->db, &bad, NOW, &unrelated), CR_ERR_INVALID);
	bad.sealed_len = 10;
	bad.public_len = 0;
	assert_int_equal(cr_db_vault_key_add(f->db, &bad, NOW, &unrelated), CR_ERR_INVALID);
	/* A key of an account that does not exist: the foreign key says no. */
	bad.public_len = 10;
	bad.account_id = other + 100;
	assert_int_equal(cr_db_vault_key_add(f->db, &bad, NOW, &unrelated), CR_ERR_CONFLICT);
	assert_int_equal(fx_query_int(f, "SELECT count(*) FROM vault_keys"), 2);
}

static void
test_vault_keys_expired(void **state)
{
	struct fx *f = *state;
	int64_t alice = holder(f, "alice"), org = org_of(f), acct = account(f, "alice.sign", alice);
	int64_t sup_old = fx_make_cert(f->db, "bb01", CR_CERT_CLOUDSIGN, NULL, NOW - DAY, alice, org);
	int64_t rev_old = fx_make_cert(f->db, "bb02", CR_CERT_CLOUDSIGN, NULL, NOW - 2 * DAY, alice, org);
	int64_t sup_live = fx_make_cert(f->db, "bb03", CR_CERT_CLOUDSIGN, NULL, NOW + DAY, alice, org);
	int64_t plain_old = fx_make_cert(f->db, "bb04", CR_CERT_CLOUDSIGN, NULL, NOW - DAY, alice, org);
	int64_t rev_live = fx_make_cert(f->db, "bb05", CR_CERT_CLOUDSIGN, NULL, NOW + DAY, alice, org);
	int64_t sup_gone = fx_make_cert(f->db, "bb06", CR_CERT_CLOUDSIGN, NULL, NOW - DAY, alice, org);
	int64_t newer = fx_make_cert(f->db, "bb07", CR_CERT_CLOUDSIGN, NULL, NOW + 365 * DAY, alice, org);
	int64_t k_sup_old, k_rev_old, k_gone, ids[8];
	size_t n = 99;

	assert_int_equal(cr_db_cert_supersede(f->db, sup_old, newer), CR_OK);
	assert_int_equal(cr_db_cert_supersede(f->db, sup_live, newer), CR_OK);
	assert_int_equal(cr_db_cert_supersede(f->db, sup_gone, newer), CR_OK);
	assert_int_equal(cr_db_cert_revoke(f->db, rev_old, 1, NOW - 3 * DAY), CR_OK);
	assert_int_equal(cr_db_cert_revoke(f->db, rev_live, 1, NOW - 3 * DAY), CR_OK);

	k_sup_old = vault_key(f, acct, sup_old, 1);
	k_rev_old = vault_key(f, acct, rev_old, 2);
	vault_key(f, acct, sup_live, 3);  /* superseded, still valid: kept */
	vault_key(f, acct, plain_old, 4); /* expired without renewal: the account's only key, kept */
	vault_key(f, acct, rev_live, 5);  /* revoked, not expired yet: kept until it expires */
	k_gone = vault_key(f, acct, sup_gone, 6);
	vault_key(f, acct, 0, 7);         /* unbound */
	vault_key(f, acct, newer, 8);     /* the new certificate's key */
	assert_int_equal(cr_db_vault_key_destroy(f->db, k_gone, NOW), CR_OK);

	assert_int_equal(cr_db_vault_keys_expired(f->db, NOW, ids, 8, &n), CR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], k_sup_old);
	assert_int_equal(ids[1], k_rev_old);
	/* At most max, lowest ids first. */
	assert_int_equal(cr_db_vault_keys_expired(f->db, NOW, ids, 1, &n), CR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], k_sup_old);
	/* Destroyed, they are not listed again. */
	assert_int_equal(cr_db_vault_key_destroy(f->db, k_sup_old, NOW), CR_OK);
	assert_int_equal(cr_db_vault_keys_expired(f->db, NOW, ids, 8, &n), CR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], k_rev_old);
	/* Before they expired, nothing. */
	assert_int_equal(cr_db_vault_keys_expired(f->db, NOW - 3 * DAY, ids, 8, &n), CR_OK);
	assert_int_equal(n, 0);
}

/* ---- issuances ---- */

static void
test_issuance_reserve_done_abandon(void **state)
{
	struct fx *f = *state;
	struct cr_issuance i, got;
	int64_t alice = holder(f, "alice"), org = org_of(f), acct = account(f, "alice.sign", alice);
	int64_t renewed = fx_make_cert(f->db, "cc01", CR_CERT_CLOUDSIGN, NULL, NOW + 30 * DAY, alice, org);
	int64_t renewed2 = fx_make_cert(f->db, "cc02", CR_CERT_CLOUDSIGN, NULL, NOW + 30 * DAY, alice, org);
	int64_t app = application(f, alice, renewed), key = vault_key(f, acct, 0, 1), key2 = vault_key(f, acct, 0, 2);
	int64_t id = 0, id2 = 0, id3 = 0, newcert;

	assert_int_equal(cr_db_issuance_of(f->db, renewed, &got), CR_ERR_NOTFOUND);
	issuance_of(&i, renewed, app, alice, acct, key, "0123456789abcdef0123456789abcdef");
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &id), CR_OK);
	assert_true(id > 0);
	assert_int_equal(cr_db_issuance_of(f->db, renewed, &got), CR_OK);
	assert_int_equal(got.id, id);
	assert_int_equal(got.renewed_cert_id, renewed);
	assert_int_equal(got.application_id, app);
	assert_int_equal(got.holder_id, alice);
	assert_int_equal(got.account_id, acct);
	assert_int_equal(got.vault_key_id, key);
	assert_int_equal(got.new_cert_id, 0);
	assert_string_equal(got.serial_hex, "0123456789abcdef0123456789abcdef");
	assert_string_equal(got.state, "reserved");
	assert_string_equal(got.revocation_hash, HASH_A);
	assert_int_equal(got.reserved_at, NOW);
	assert_int_equal(got.issued_at, 0);

	/* A second one for the same certificate (double click, second tab): refused, in a transaction
	   that goes on (PostgreSQL: no aborted transaction). */
	assert_int_equal(cr_db_begin(f->db), CR_OK);
	issuance_of(&i, renewed, app, alice, acct, key2, "11111111111111111111111111111111");
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &id2), CR_ERR_CONFLICT);
	assert_int_equal(id2, 0);
	/* A serial some certificate has already (here or imported). */
	issuance_of(&i, renewed2, app, alice, acct, key2, "cc01");
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &id2), CR_ERR_CONFLICT);
	/* A serial another issuance has. */
	issuance_of(&i, renewed2, app, alice, acct, key2, "0123456789abcdef0123456789abcdef");
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &id2), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_commit(f->db), CR_OK);
	assert_int_equal(fx_query_int(f, "SELECT count(*) FROM issuances"), 1);

	/* done needs a reserved issuance. */
	newcert = fx_make_cert(f->db, "22222222222222222222222222222222", CR_CERT_CLOUDSIGN, NULL, NOW + 400 * DAY, alice,
	    org);
	/* Abandoned (a crash between reserve and issue): gone for issuance_of, the serial stays used. */
	assert_int_equal(cr_db_issuance_abandon(f->db, id, NOW + 100), CR_OK);
	assert_int_equal(cr_db_issuance_abandon(f->db, id, NOW + 101), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_issuance_done(f->db, id, newcert, NOW + 102), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_issuance_of(f->db, renewed, &got), CR_ERR_NOTFOUND);
	{
		char q[128];

		snprintf(q, sizeof(q), "SELECT abandoned_at FROM issuances WHERE id = %lld", (long long)id);
		assert_int_equal(fx_query_int(f, q), NOW + 100);
	}
	issuance_of(&i, renewed, app, alice, acct, key2, "0123456789abcdef0123456789abcdef");
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &id2), CR_ERR_CONFLICT);
	/* A new reservation for the same certificate works now. */
	issuance_of(&i, renewed, app, alice, acct, key2, "33333333333333333333333333333333");
	i.reserved_at = NOW + 200;
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &id3), CR_OK);
	assert_true(id3 > id);
	assert_int_equal(cr_db_issuance_of(f->db, renewed, &got), CR_OK);
	assert_int_equal(got.id, id3);
	assert_int_equal(got.vault_key_id, key2);
	assert_int_equal(got.reserved_at, NOW + 200);
	/* The reservation's serial is taken for a certificate's too. */
	issuance_of(&i, renewed2, app, alice, acct, key, "33333333333333333333333333333333");
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &id2), CR_ERR_CONFLICT);

	assert_int_equal(cr_db_issuance_done(f->db, id3, newcert, NOW + 300), CR_OK);
	assert_int_equal(cr_db_issuance_of(f->db, renewed, &got), CR_OK);
	assert_string_equal(got.state, "issued");
	assert_int_equal(got.new_cert_id, newcert);
	assert_int_equal(got.issued_at, NOW + 300);
	/* Issued once. */
	assert_int_equal(cr_db_issuance_done(f->db, id3, newcert, NOW + 301), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_issuance_abandon(f->db, id3, NOW + 302), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_issuance_done(f->db, id3 + 100, newcert, NOW + 301), CR_ERR_CONFLICT);
	/* An issued one still blocks a second for the same certificate. */
	issuance_of(&i, renewed, app, alice, acct, key, "44444444444444444444444444444444");
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &id2), CR_ERR_CONFLICT);
	/* The other certificate is free. */
	issuance_of(&i, renewed2, app, alice, acct, key, "44444444444444444444444444444444");
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &id2), CR_OK);
	assert_int_equal(fx_query_int(f, "SELECT count(*) FROM issuances"), 3);
}

/* ---- certificates issued here, superseded; renewals ---- */

static void
test_cert_issued_here_supersede(void **state)
{
	struct fx *f = *state;
	struct cr_revocation_state r;
	struct cr_cert c;
	int64_t alice = holder(f, "alice"), org = org_of(f);
	int64_t old = fx_make_cert(f->db, "dd01", CR_CERT_CLOUDSIGN, NULL, NOW + 30 * DAY, alice, org);
	int64_t neu = fx_make_cert(f->db, "dd02", CR_CERT_CLOUDSIGN, NULL, NOW + 400 * DAY, alice, org);
	char q[128];

	assert_int_equal(cr_db_revocation_state(f->db, neu, &r), CR_OK);
	assert_string_equal(r.hash, "");
	snprintf(q, sizeof(q), "SELECT issued_here FROM certificates WHERE id = %lld", (long long)neu);
	assert_int_equal(fx_query_int(f, q), 0);
	assert_int_equal(cr_db_cert_issued_here(f->db, neu, HASH_A), CR_OK);
	assert_int_equal(fx_query_int(f, q), 1);
	assert_int_equal(cr_db_revocation_state(f->db, neu, &r), CR_OK);
	assert_string_equal(r.hash, HASH_A);
	assert_int_equal(cr_db_cert_issued_here(f->db, neu + 100, HASH_A), CR_ERR_CONFLICT);

	assert_int_equal(cr_db_cert_supersede(f->db, old, neu), CR_OK);
	assert_int_equal(cr_db_cert_by_serial(f->db, "dd01", &c), CR_OK);
	assert_string_equal(c.status, "superseded");
	assert_int_equal(c.not_after, NOW + 30 * DAY); /* valid until it expires */
	snprintf(q, sizeof(q), "SELECT superseded_by FROM certificates WHERE id = %lld", (long long)old);
	assert_int_equal(fx_query_int(f, q), neu);
	/* Once only; a revoked certificate is not superseded either. */
	assert_int_equal(cr_db_cert_supersede(f->db, old, neu), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_cert_revoke(f->db, neu, 0, NOW), CR_OK);
	assert_int_equal(cr_db_cert_supersede(f->db, neu, old), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_cert_by_serial(f->db, "dd02", &c), CR_OK);
	assert_string_equal(c.status, "revoked");
}

static void
test_renewal_move_state(void **state)
{
	struct fx *f = *state;
	int64_t alice = holder(f, "alice"), org = org_of(f);
	int64_t cert = fx_make_cert(f->db, "ee01", CR_CERT_CLOUDSIGN, NULL, NOW + 30 * DAY, alice, org);
	int64_t bare = fx_make_cert(f->db, "ee02", CR_CERT_CLOUDSIGN, NULL, NOW + 30 * DAY, alice, org);
	int64_t app = application(f, alice, cert);
	char s[32], q[160];

	/* No renewal row: not found (a due certificate without one is pending verification). */
	assert_int_equal(cr_db_renewal_state(f->db, bare, s, sizeof(s)), CR_ERR_NOTFOUND);
	assert_string_equal(s, "");
	assert_int_equal(cr_db_renewal_move(f->db, bare, "pending_verification", "verifying", NOW), CR_ERR_CONFLICT);

	assert_int_equal(cr_db_renewal_state(f->db, cert, s, sizeof(s)), CR_OK);
	assert_string_equal(s, "verifying");
	/* Not in `from`: nothing changes. */
	assert_int_equal(cr_db_renewal_move(f->db, cert, "pending_activation", "renewed", NOW + 1), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_renewal_state(f->db, cert, s, sizeof(s)), CR_OK);
	assert_string_equal(s, "verifying");

	assert_int_equal(cr_db_renewal_move(f->db, cert, "verifying", "pending_activation", NOW + 2), CR_OK);
	assert_int_equal(cr_db_renewal_state(f->db, cert, s, sizeof(s)), CR_OK);
	assert_string_equal(s, "pending_activation");
	snprintf(q, sizeof(q), "SELECT application_id FROM renewals WHERE cert_id = %lld", (long long)cert);
	assert_int_equal(fx_query_int(f, q), app);
	snprintf(q, sizeof(q), "SELECT updated_at FROM renewals WHERE cert_id = %lld", (long long)cert);
	assert_int_equal(fx_query_int(f, q), NOW + 2);

	/* R9.2: back to pending verification, out of the application. */
	assert_int_equal(cr_db_renewal_move(f->db, cert, "pending_activation", "pending_verification", NOW + 3), CR_OK);
	assert_int_equal(cr_db_renewal_state(f->db, cert, s, sizeof(s)), CR_OK);
	assert_string_equal(s, "pending_verification");
	snprintf(q, sizeof(q), "SELECT coalesce(application_id, -1) FROM renewals WHERE cert_id = %lld", (long long)cert);
	assert_int_equal(fx_query_int(f, q), -1);

	/* A short buffer truncates. */
	assert_int_equal(cr_db_renewal_state(f->db, cert, s, 8), CR_OK);
	assert_string_equal(s, "pending");
}

static void
test_cert_of_holder(void **state)
{
	struct fx *f = *state;
	static const unsigned char der[] = {0x30, 0x82, 0x00, 0x03, 0x00, 0xff, 0x10};
	struct cr_cert_view v;
	struct cr_cert c;
	struct cr_buf b;
	int64_t alice = holder(f, "alice"), bob = holder(f, "bob"), org = org_of(f), id = 0, plain;

	memset(&c, 0, sizeof(c));
	snprintf(c.serial_hex, sizeof(c.serial_hex), "ff01");
	c.type = CR_CERT_CLOUDSIGN;
	c.not_before = NOW;
	c.not_after = NOW + 400 * DAY;
	c.holder_id = alice;
	c.org_id = org;
	snprintf(c.email, sizeof(c.email), "alice@example.test");
	snprintf(c.signing_account, sizeof(c.signing_account), "alice.sign");
	c.der = der;
	c.der_len = sizeof(der);
	assert_int_equal(cr_db_cert_insert(f->db, &c, &id), CR_OK);
	plain = fx_make_cert(f->db, "ff02", CR_CERT_QUALIFIED, NULL, NOW + 30 * DAY, alice, org);

	cr_buf_init(&b, 1 << 16);
	assert_int_equal(cr_buf_adds(&b, "x"), CR_OK); /* appended to, not replaced */
	assert_int_equal(cr_db_cert_of_holder(f->db, id, alice, &v, &b), CR_OK);
	assert_int_equal(v.c.id, id);
	assert_string_equal(v.c.serial_hex, "ff01");
	assert_int_equal(v.c.type, CR_CERT_CLOUDSIGN);
	assert_string_equal(v.c.status, "issued");
	assert_int_equal(v.c.not_after, NOW + 400 * DAY);
	assert_int_equal(v.c.holder_id, alice);
	assert_string_equal(v.c.signing_account, "alice.sign");
	assert_string_equal(v.org_name, "Org");
	assert_string_equal(v.holder_name, "Name alice");
	assert_int_equal(b.len, 1 + sizeof(der));
	assert_memory_equal(b.data + 1, der, sizeof(der));

	/* Another holder's id: not found, nothing appended. */
	cr_buf_reset(&b);
	assert_int_equal(cr_db_cert_of_holder(f->db, id, bob, &v, &b), CR_ERR_NOTFOUND);
	assert_int_equal(b.len, 0);
	assert_int_equal(cr_db_cert_of_holder(f->db, id + 100, alice, &v, &b), CR_ERR_NOTFOUND);
	/* No DER wanted, or none stored. */
	assert_int_equal(cr_db_cert_of_holder(f->db, id, alice, &v, NULL), CR_OK);
	assert_string_equal(v.c.serial_hex, "ff01");
	assert_int_equal(cr_db_cert_of_holder(f->db, plain, alice, &v, &b), CR_OK);
	assert_int_equal(v.c.type, CR_CERT_QUALIFIED);
	assert_int_equal(b.len, 0);
	cr_buf_free(&b);
}

/* ---- revocation ---- */

static void
test_revocation(void **state)
{
	struct fx *f = *state;
	struct cr_revocation_state r;
	struct cr_cert c;
	int64_t alice = holder(f, "alice"), org = org_of(f);
	int64_t cert = fx_make_cert(f->db, "ab01", CR_CERT_CLOUDSIGN, NULL, NOW + 400 * DAY, alice, org);
	int tries = -1;
	char q[160];

	assert_int_equal(cr_db_revocation_state(f->db, cert + 100, &r), CR_ERR_NOTFOUND);
	assert_int_equal(cr_db_revocation_state(f->db, cert, &r), CR_OK);
	assert_string_equal(r.hash, "");
	assert_int_equal(r.wrong, 0);
	assert_int_equal(r.locked_until, 0);
	assert_int_equal(r.revoked_at, 0);
	assert_int_equal(cr_db_cert_issued_here(f->db, cert, HASH_A), CR_OK);

	assert_int_equal(cr_db_revocation_wrong(f->db, cert, 3, NOW + 600, &tries), CR_OK);
	assert_int_equal(tries, 1);
	assert_int_equal(cr_db_revocation_wrong(f->db, cert, 3, NOW + 600, &tries), CR_OK);
	assert_int_equal(tries, 2);
	assert_int_equal(cr_db_revocation_state(f->db, cert, &r), CR_OK);
	assert_int_equal(r.wrong, 2);
	assert_int_equal(r.locked_until, 0);
	assert_int_equal(cr_db_revocation_wrong(f->db, cert, 3, NOW + 600, &tries), CR_OK);
	assert_int_equal(tries, 0);
	assert_int_equal(cr_db_revocation_state(f->db, cert, &r), CR_OK);
	assert_string_equal(r.hash, HASH_A);
	assert_int_equal(r.wrong, 0);
	assert_int_equal(r.locked_until, NOW + 600);
	assert_int_equal(cr_db_revocation_wrong(f->db, cert, 3, NOW + 9999, &tries), CR_OK);
	assert_int_equal(tries, 1);
	assert_int_equal(cr_db_revocation_state(f->db, cert, &r), CR_OK);
	assert_int_equal(r.locked_until, NOW + 600);
	tries = -1;
	assert_int_equal(cr_db_revocation_wrong(f->db, cert + 100, 3, NOW + 600, &tries), CR_ERR_NOTFOUND);
	assert_int_equal(tries, 0);

	assert_int_equal(cr_db_cert_revoke(f->db, cert, 1, NOW + 10), CR_OK);
	assert_int_equal(cr_db_revocation_state(f->db, cert, &r), CR_OK);
	assert_int_equal(r.revoked_at, NOW + 10);
	assert_int_equal(r.wrong, 0);
	assert_int_equal(cr_db_cert_by_serial(f->db, "ab01", &c), CR_OK);
	assert_string_equal(c.status, "revoked");
	snprintf(q, sizeof(q), "SELECT revocation_reason FROM certificates WHERE id = %lld", (long long)cert);
	assert_int_equal(fx_query_int(f, q), 1);
	/* Twice: refused, the first time and reason stay. */
	assert_int_equal(cr_db_cert_revoke(f->db, cert, 4, NOW + 20), CR_ERR_CONFLICT);
	assert_int_equal(cr_db_revocation_state(f->db, cert, &r), CR_OK);
	assert_int_equal(r.revoked_at, NOW + 10);
	assert_int_equal(fx_query_int(f, q), 1);
	assert_int_equal(cr_db_cert_revoke(f->db, cert + 100, 1, NOW), CR_ERR_CONFLICT);
}

static void
test_holder_issued_certs(void **state)
{
	struct fx *f = *state;
	struct cr_cert_view v[4];
	int64_t alice = holder(f, "alice"), bob = holder(f, "bob"), org = org_of(f), a1, a2, a3, b1;
	size_t n = 99;

	a1 = fx_make_cert(f->db, "ac01", CR_CERT_CLOUDSIGN, NULL, NOW + 400 * DAY, alice, org);
	fx_make_cert(f->db, "ac02", CR_CERT_CLOUDSIGN, NULL, NOW + 30 * DAY, alice, org); /* imported */
	a2 = fx_make_cert(f->db, "ac03", CR_CERT_CLOUDSIGN, NULL, NOW + 400 * DAY, alice, org);
	b1 = fx_make_cert(f->db, "ac04", CR_CERT_CLOUDSIGN, NULL, NOW + 400 * DAY, bob, org);
	a3 = fx_make_cert(f->db, "ac05", CR_CERT_CLOUDSIGN, NULL, NOW + 400 * DAY, alice, org);

	assert_int_equal(cr_db_holder_issued_certs(f->db, alice, v, 4, &n), CR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(cr_db_cert_issued_here(f->db, a1, HASH_A), CR_OK);
	assert_int_equal(cr_db_cert_issued_here(f->db, a2, HASH_A), CR_OK);
	assert_int_equal(cr_db_cert_issued_here(f->db, b1, HASH_A), CR_OK);
	assert_int_equal(cr_db_cert_issued_here(f->db, a3, HASH_A), CR_OK);
	assert_int_equal(cr_db_cert_revoke(f->db, a2, 0, NOW), CR_OK); /* revoked ones are listed too */

	assert_int_equal(cr_db_holder_issued_certs(f->db, alice, v, 4, &n), CR_OK);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].c.id, a3);
	assert_int_equal(v[1].c.id, a2);
	assert_string_equal(v[1].c.status, "revoked");
	assert_int_equal(v[2].c.id, a1);
	assert_string_equal(v[2].c.serial_hex, "ac01");
	assert_string_equal(v[2].holder_name, "Name alice");
	assert_string_equal(v[2].org_name, "Org");
	assert_int_equal(cr_db_holder_issued_certs(f->db, alice, v, 2, &n), CR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].c.id, a3);
	assert_int_equal(v[1].c.id, a2);
	assert_int_equal(cr_db_holder_issued_certs(f->db, bob, v, 4, &n), CR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].c.id, b1);
}

/* ---- CRLs ---- */

static void
test_revoked_of_type(void **state)
{
	struct fx *f = *state;
	struct cr_revoked_row rows[4];
	int64_t alice = holder(f, "alice"), org = org_of(f), q1, q2, q3, gone, cs;
	size_t n = 99;

	q1 = fx_make_cert(f->db, "0b", CR_CERT_QUALIFIED, NULL, NOW + 100 * DAY, alice, org);
	q2 = fx_make_cert(f->db, "0a", CR_CERT_QUALIFIED, NULL, NOW + 100 * DAY, alice, org);
	q3 = fx_make_cert(f->db, "0c", CR_CERT_QUALIFIED, NULL, NOW + 100 * DAY, alice, org);
	gone = fx_make_cert(f->db, "0d", CR_CERT_QUALIFIED, NULL, NOW - DAY, alice, org);
	cs = fx_make_cert(f->db, "0e", CR_CERT_CLOUDSIGN, NULL, NOW + 100 * DAY, alice, org);
	fx_make_cert(f->db, "0f", CR_CERT_QUALIFIED, NULL, NOW + 100 * DAY, alice, org); /* not revoked */
	/* Only what this CA issued goes on its CRLs; an imported certificate revoked here stays off. */
	{
		char err[128];
		int64_t imported = fx_make_cert(f->db, "01", CR_CERT_QUALIFIED, NULL, NOW + 100 * DAY, alice, org);

		assert_int_equal(fx_raw_exec(f, "UPDATE certificates SET issued_here = 1 WHERE serial_hex <> '01'", err,
		                     sizeof(err)),
		    0);
		assert_int_equal(cr_db_cert_revoke(f->db, imported, 1, NOW - 50), CR_OK);
	}

	assert_int_equal(cr_db_revoked_of_type(f->db, "qualified", NOW, rows, 4, &n), CR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(cr_db_cert_revoke(f->db, q1, 1, NOW - 50), CR_OK);
	assert_int_equal(cr_db_cert_revoke(f->db, q2, 4, NOW - 50), CR_OK);
	assert_int_equal(cr_db_cert_revoke(f->db, q3, 0, NOW - 100), CR_OK);
	assert_int_equal(cr_db_cert_revoke(f->db, gone, 1, NOW - 2 * DAY), CR_OK); /* expired since: off the CRL */
	assert_int_equal(cr_db_cert_revoke(f->db, cs, 1, NOW - 10), CR_OK);

	assert_int_equal(cr_db_revoked_of_type(f->db, "qualified", NOW, rows, 4, &n), CR_OK);
	assert_int_equal(n, 3);
	/* By time of revocation, then serial. */
	assert_string_equal(rows[0].serial_hex, "0c");
	assert_int_equal(rows[0].revoked_at, NOW - 100);
	assert_int_equal(rows[0].reason, 0);
	assert_string_equal(rows[1].serial_hex, "0a");
	assert_int_equal(rows[1].reason, 4);
	assert_string_equal(rows[2].serial_hex, "0b");
	assert_int_equal(rows[2].revoked_at, NOW - 50);
	assert_int_equal(rows[2].reason, 1);
	/* Exactly max fits; one fewer is too big. */
	assert_int_equal(cr_db_revoked_of_type(f->db, "qualified", NOW, rows, 3, &n), CR_OK);
	assert_int_equal(n, 3);
	assert_int_equal(cr_db_revoked_of_type(f->db, "qualified", NOW, rows, 2, &n), CR_ERR_TOOBIG);
	/* Before the expired one expired, it is listed. */
	assert_int_equal(cr_db_revoked_of_type(f->db, "qualified", NOW - 2 * DAY, rows, 4, &n), CR_OK);
	assert_int_equal(n, 4);
	assert_string_equal(rows[0].serial_hex, "0d");
	assert_int_equal(cr_db_revoked_of_type(f->db, "cloudsign", NOW, rows, 4, &n), CR_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].serial_hex, "0e");
	assert_int_equal(cr_db_revoked_of_type(f->db, "encryption", NOW, rows, 4, &n), CR_OK);
	assert_int_equal(n, 0);
}

static void
test_crl_number_next(void **state)
{
	struct fx *f = *state;
	int64_t v = -1;

	assert_int_equal(cr_db_begin(f->db), CR_OK);
	assert_int_equal(cr_db_crl_number_next(f->db, "qualified", NOW, &v), CR_OK);
	assert_int_equal(v, 1);
	assert_int_equal(cr_db_crl_number_next(f->db, "qualified", NOW + 1, &v), CR_OK);
	assert_int_equal(v, 2);
	assert_int_equal(cr_db_crl_number_next(f->db, "cloudsign", NOW + 2, &v), CR_OK);
	assert_int_equal(v, 1);
	assert_int_equal(cr_db_commit(f->db), CR_OK);
	assert_int_equal(cr_db_begin(f->db), CR_OK);
	assert_int_equal(cr_db_crl_number_next(f->db, "qualified", NOW + 3, &v), CR_OK);
	assert_int_equal(v, 3);
	assert_int_equal(cr_db_crl_number_next(f->db, "cloudsign", NOW + 4, &v), CR_OK);
	assert_int_equal(v, 2);
	assert_int_equal(cr_db_crl_number_next(f->db, "encryption", NOW + 5, &v), CR_OK);
	assert_int_equal(v, 1);
	assert_int_equal(cr_db_commit(f->db), CR_OK);
	assert_int_equal(fx_query_int(f, "SELECT published_at FROM crl_numbers WHERE type = 'qualified'"), NOW + 3);
	assert_int_equal(fx_query_int(f, "SELECT last_number FROM crl_numbers WHERE type = 'qualified'"), 3);
	/* A rolled-back publication does not use up a number. */
	assert_int_equal(cr_db_begin(f->db), CR_OK);
	assert_int_equal(cr_db_crl_number_next(f->db, "qualified", NOW + 6, &v), CR_OK);
	assert_int_equal(v, 4);
	cr_db_rollback(f->db);
	assert_int_equal(cr_db_crl_number_next(f->db, "qualified", NOW + 7, &v), CR_OK);
	assert_int_equal(v, 4);
}

/* ---- concurrency: double clicks and second tabs, each on its own connection ---- */

#define RACERS 4

struct racer {
	struct cr_store *st;
	pthread_barrier_t *go;
	int64_t acct, renewed, app, holder_id, key;
	int n;
	enum cr_err claim, reserve, commit;
};

static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	struct cr_db *db = cr_store_get(r->st);
	struct cr_issuance i;
	int64_t id = 0;
	char serial[40];

	snprintf(serial, sizeof(serial), "5e%030d", r->n);
	issuance_of(&i, r->renewed, r->app, r->holder_id, r->acct, r->key, serial);
	pthread_barrier_wait(r->go);
	r->commit = cr_db_begin(db);
	if (r->commit == CR_OK) {
		r->claim = cr_db_account_claim(db, r->acct, NOW, NOW + 60);
		r->reserve = cr_db_issuance_reserve(db, &i, &id);
		usleep(20000); /* hold the locks a moment: the others wait on them */
		r->commit = cr_db_commit(db);
	}
	cr_store_put(r->st, db);
	return NULL;
}

/* RACERS requests at once: one claim and one reservation win, the others get CR_ERR_CONFLICT (not an
   error: on PostgreSQL their transactions go on and commit). */
static void
test_concurrent_claim_reserve(void **state)
{
	struct fx *f = *state;
	struct cr_store *st = NULL;
	struct racer r[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t go;
	int64_t alice = holder(f, "alice"), acct = account(f, "alice.sign", alice);
	int64_t renewed = fx_make_cert(f->db, "9901", CR_CERT_CLOUDSIGN, NULL, NOW + 30 * DAY, alice, org_of(f));
	int64_t app = application(f, alice, renewed), key = vault_key(f, acct, 0, 1);
	int claims = 0, reserves = 0;

	assert_int_equal(cr_store_open(f->url, RACERS, &st), CR_OK);
	assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
	for (int n = 0; n < RACERS; n++) {
		r[n] = (struct racer){st, &go, acct, renewed, app, alice, key, n, CR_ERR_IO, CR_ERR_IO, CR_ERR_IO};
		assert_int_equal(pthread_create(&th[n], NULL, racer_main, &r[n]), 0);
	}
	for (int n = 0; n < RACERS; n++)
		assert_int_equal(pthread_join(th[n], NULL), 0);
	pthread_barrier_destroy(&go);
	cr_store_close(st);
	for (int n = 0; n < RACERS; n++) {
		assert_int_equal(r[n].commit, CR_OK);
		assert_true(r[n].claim == CR_OK || r[n].claim == CR_ERR_CONFLICT);
		assert_true(r[n].reserve == CR_OK || r[n].reserve == CR_ERR_CONFLICT);
		claims += r[n].claim == CR_OK;
		reserves += r[n].reserve == CR_OK;
	}
	assert_int_equal(claims, 1);
	assert_int_equal(reserves, 1);
	assert_int_equal(fx_query_int(f, "SELECT count(*) FROM issuances"), 1);
}

/* ---- copying (migrate-sqlite-to-postgres): step 4's tables and columns ---- */

/* Copies every table of f's database into a fresh one (a second fixture) and checks step 4's rows
   there through the store. On PostgreSQL the copy goes PostgreSQL -> PostgreSQL: the statements
   and sequences on the target side are the ones the migration command uses. */
static void
test_copy_step4(void **state)
{
	struct fx *f = *state, *t;
	void *tstate = NULL;
	static struct cr_vault_row k;
	struct cr_signing_account a;
	struct cr_issuance i, got;
	struct cr_revocation_state r;
	struct cr_revoked_row rows[4];
	struct cr_cert_view v[4];
	int64_t alice = holder(f, "alice"), org = org_of(f), acct = account(f, "alice.sign", alice);
	int64_t old = fx_make_cert(f->db, "cd01", CR_CERT_CLOUDSIGN, NULL, NOW + 30 * DAY, alice, org);
	int64_t neu = fx_make_cert(f->db, "cd02", CR_CERT_CLOUDSIGN, NULL, NOW + 400 * DAY, alice, org);
	int64_t app = application(f, alice, old), k_old = vault_key(f, acct, old, 1), k_new = vault_key(f, acct, 0, 2);
	int64_t k_gone = vault_key(f, acct, 0, 3), res = 0, ab = 0, id = 0, num = 0, acct2 = 0;
	size_t n = 0;
	int tries = 0;
	long copied, total = 0;
	char q[256];

	/* Step 4 as the flow leaves it: an abandoned try, then one issued; the old certificate superseded
	   and the new one revoked; a locked account with a claim; CRL numbers. */
	issuance_of(&i, old, app, alice, acct, k_gone, "cd03");
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &ab), CR_OK);
	assert_int_equal(cr_db_issuance_abandon(f->db, ab, NOW + 1), CR_OK);
	assert_int_equal(cr_db_vault_key_destroy(f->db, k_gone, NOW + 1), CR_OK);
	issuance_of(&i, old, app, alice, acct, k_new, "cd02");
	i.serial_hex[0] = 'e'; /* "ed02": not the certificate's serial yet when reserved */
	assert_int_equal(cr_db_issuance_reserve(f->db, &i, &res), CR_OK);
	assert_int_equal(cr_db_issuance_done(f->db, res, neu, NOW + 2), CR_OK);
	assert_int_equal(cr_db_vault_key_bind(f->db, k_new, neu), CR_OK);
	assert_int_equal(cr_db_cert_issued_here(f->db, neu, HASH_A), CR_OK);
	assert_int_equal(cr_db_cert_supersede(f->db, old, neu), CR_OK);
	assert_int_equal(cr_db_revocation_wrong(f->db, neu, 5, NOW + 60, &tries), CR_OK);
	assert_int_equal(cr_db_cert_revoke(f->db, neu, 3, NOW + 3), CR_OK);
	assert_int_equal(cr_db_account_claim(f->db, acct, NOW, NOW + 30), CR_OK); /* claimed, then locked */
	assert_int_equal(cr_db_account_wrong(f->db, acct, 1, NOW + 900, &tries), CR_OK);
	assert_int_equal(cr_db_account_wrong(f->db, acct, 3, NOW + 900, &tries), CR_OK);
	assert_int_equal(cr_db_crl_number_next(f->db, "cloudsign", NOW + 4, &num), CR_OK);
	assert_int_equal(cr_db_crl_number_next(f->db, "cloudsign", NOW + 5, &num), CR_OK);

	assert_int_equal(fx_setup(&tstate), 0);
	t = tstate;
	assert_int_equal(cr_db_begin(t->db), CR_OK);
	for (size_t tb = 0; tb < cr_db_copy_table_count(); tb++) {
		assert_int_equal(cr_db_copy_table(f->db, t->db, tb, &copied), CR_OK);
		total += copied;
	}
	assert_int_equal(cr_db_copy_finish(t->db), CR_OK);
	assert_int_equal(cr_db_commit(t->db), CR_OK);
	assert_true(total > 10);
	for (size_t tb = 0; tb < cr_db_copy_table_count(); tb++) {
		long a_rows = -1, b_rows = -2;

		assert_int_equal(cr_db_copy_table_rows(f->db, tb, &a_rows), CR_OK);
		assert_int_equal(cr_db_copy_table_rows(t->db, tb, &b_rows), CR_OK);
		assert_int_equal(a_rows, b_rows);
	}
	assert_int_equal(fx_query_int(t, "SELECT count(*) FROM signing_accounts"), 1);
	assert_int_equal(fx_query_int(t, "SELECT count(*) FROM vault_keys"), 3);
	assert_int_equal(fx_query_int(t, "SELECT count(*) FROM issuances"), 2);
	assert_int_equal(fx_query_int(t, "SELECT count(*) FROM crl_numbers"), 1);

	/* The account: salt (a blob), counters, lock and claim. */
	assert_int_equal(cr_db_account_get(t->db, "alice.sign", alice, &a), CR_OK);
	assert_int_equal(a.id, acct);
	for (size_t b = 0; b < sizeof(a.kdf_salt); b++)
		assert_int_equal(a.kdf_salt[b], 0xa0 + b);
	assert_int_equal(a.kdf_mem, 65536);
	assert_int_equal(a.wrong_tries, 1);
	assert_int_equal(a.locked_until, NOW + 900);
	assert_int_equal(a.busy_until, NOW + 30);
	/* Keys: bound, bound later, destroyed (NULL blob, time kept). */
	assert_int_equal(cr_db_vault_key_of_cert(t->db, acct, old, &k), CR_OK);
	assert_int_equal(k.id, k_old);
	assert_int_equal(k.sealed_len, 200);
	assert_int_equal(k.sealed[0], 0);
	assert_int_equal(k.sealed[199], (unsigned char)(1 ^ 199));
	/* Two blobs of one source row, each its own bytes (the source may be PostgreSQL too). */
	for (size_t b = 0; b < k.public_len; b++)
		assert_int_equal(k.public_der[b], (unsigned char)(1 + b));
	assert_int_equal(cr_db_vault_key_of_cert(t->db, acct, neu, &k), CR_OK);
	assert_int_equal(k.id, k_new);
	assert_int_equal(k.public_len, 91);
	snprintf(q, sizeof(q), "SELECT destroyed_at FROM vault_keys WHERE id = %lld AND sealed IS NULL", (long long)k_gone);
	assert_int_equal(fx_query_int(t, q), NOW + 1);
	/* Issuances: the issued one, and the abandoned one's serial still taken. */
	assert_int_equal(cr_db_issuance_of(t->db, old, &got), CR_OK);
	assert_int_equal(got.id, res);
	assert_string_equal(got.state, "issued");
	assert_int_equal(got.new_cert_id, neu);
	assert_int_equal(got.issued_at, NOW + 2);
	assert_string_equal(got.revocation_hash, HASH_A);
	snprintf(q, sizeof(q), "SELECT abandoned_at FROM issuances WHERE id = %lld AND new_cert_id IS NULL", (long long)ab);
	assert_int_equal(fx_query_int(t, q), NOW + 1);
	issuance_of(&i, neu, app, alice, acct, k_new, "cd03");
	assert_int_equal(cr_db_issuance_reserve(t->db, &i, &id), CR_ERR_CONFLICT);
	/* The certificates' new columns. */
	assert_int_equal(cr_db_revocation_state(t->db, neu, &r), CR_OK);
	assert_string_equal(r.hash, HASH_A);
	assert_int_equal(r.revoked_at, NOW + 3);
	assert_int_equal(r.wrong, 0);
	assert_int_equal(r.locked_until, 0);
	assert_int_equal(cr_db_revoked_of_type(t->db, "cloudsign", NOW, rows, 4, &n), CR_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].serial_hex, "cd02");
	assert_int_equal(rows[0].reason, 3);
	assert_int_equal(cr_db_holder_issued_certs(t->db, alice, v, 4, &n), CR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].c.id, neu);
	snprintf(q, sizeof(q), "SELECT superseded_by FROM certificates WHERE id = %lld AND status = 'superseded'",
	    (long long)old);
	assert_int_equal(fx_query_int(t, q), neu);
	snprintf(q, sizeof(q), "SELECT count(*) FROM certificates WHERE revocation_hash IS NULL AND revoked_at IS NULL"
	    " AND revocation_reason IS NULL AND issued_here = 0 AND revocation_wrong = 0 AND id = %lld", (long long)old);
	assert_int_equal(fx_query_int(t, q), 1);
	/* CRL numbers go on; new rows get fresh ids (PostgreSQL: the sequences were moved). */
	assert_int_equal(cr_db_crl_number_next(t->db, "cloudsign", NOW + 6, &num), CR_OK);
	assert_int_equal(num, 3);
	acct2 = account(t, "bob.sign", alice);
	assert_int_equal(acct2, acct + 1);
	assert_int_equal(vault_key(t, acct2, 0, 4), k_gone + 1);
	issuance_of(&i, neu, app, alice, acct2, k_new, "cd04");
	assert_int_equal(cr_db_issuance_reserve(t->db, &i, &id), CR_OK);
	assert_int_equal(id, res + 1);

	assert_int_equal(fx_teardown(&tstate), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_account_create_get, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_account_claim_release, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_account_wrong_right, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vault_key_add_bind_destroy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vault_keys_expired, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_issuance_reserve_done_abandon, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cert_issued_here_supersede, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_renewal_move_state, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cert_of_holder, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_revocation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_holder_issued_certs, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_revoked_of_type, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_crl_number_next, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_claim_reserve, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_copy_step4, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
