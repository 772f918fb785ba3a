// PostgreSQL only (CR_TEST_DB=postgres; skipped otherwise): several workers and a lost server.
//   1. three `certrenew jobs --once --only notices` at the same moment over one database with 400 due holders:
//      exactly one notice per certificate, one outbox message per holder, the audit chain linear;
//   2. then three `jobs --once --only deliver` at the same moment (the .eml mode): every message claimed once
//      (tries = 1), written once (one file each), the workers' own counts adding up;
//   3. PostgreSQL restarted (pg_ctl restart, then a stop with a pause and a start) while loops of requests hit
//      the pending page and log in: requests during the outage fail cleanly (an error status or the way back to
//      the landing page, never a crash, a hang or a wrong page), the portal answers 200 again afterwards without
//      being restarted itself, and nothing is half-written (audit-verify OK).
// Every child process, request and wait is bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import {
  System, DB_KIND, CERTRENEW, ROOT, WONG, CookieJar, login, sleep, waitHealthy,
} from '../lib/harness.mjs';

const SKIP = DB_KIND !== 'postgres' ? 'PostgreSQL only: run with CR_TEST_DB=postgres' : false;
const T = { timeout: 180_000, skip: SKIP };
const HOLDERS = 400;
const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:|SUMMARY: (Address|Leak|Undefined)/;

let sys;
before(async () => {
  if (SKIP) return;
  sys = await System.prepare();
}, { timeout: 120_000 });
after(async () => { if (sys) await sys.stop(); });

/** certrenew in the background (bounded); resolves to { code, signal, out }. */
function cr(args, limitMs = 120_000) {
  return new Promise((resolve) => {
    const child = spawn(CERTRENEW, args, { env: sys.env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => { out += b; });
    child.stderr.on('data', (b) => { out += b; });
    const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      assert.doesNotMatch(out, SANITIZER_RE, `certrenew ${args.join(' ')}: sanitizer report\n${out}`);
      resolve({ code, signal, out });
    });
  });
}

const one = (query) => Object.values(sys.sql(query)[0] ?? { v: null })[0];

async function auditOk(what) {
  const v = await cr(['audit-verify']);
  assert.equal(v.code, 0, `${what}: audit-verify\n${v.out}`);
  assert.match(v.out, /audit log OK/);
}

/** n holders in organisation 1, each with two confirmed certificates expiring in 10 days (+ a minute per holder). */
function addHolders(n) {
  const now = sys.dialect.now;
  sys.sql(`BEGIN;
    INSERT INTO people (govid_sub, name, name_zh, email, id_number, org_id, department, position, created_at)
      SELECT 'pgc-' || i, 'Holder ' || i || ' PGC', '', 'pgc' || i || '@example.gov.mo',
        '9' || lpad(CAST(i AS TEXT), 6, '0') || '(0)', 1, 'n/a', 'Tecnico', ${now} FROM generate_series(1, ${n}) i;
    INSERT INTO certificates (serial_hex, type, status, not_before, not_after, holder_id, email, org_id,
        department, position, tx_limit, proxy_qualification, signing_account, der, created_at)
      SELECT 'd0' || lpad(to_hex(p.id), 8, '0') || lpad(to_hex(k), 2, '0'),
        CASE k WHEN 0 THEN 'qualified' ELSE 'encryption' END, 'issued',
        ${now} - 3 * 365 * 86400, ${now} + 10 * 86400 + p.id * 60, p.id, p.email, 1,
        'n/a', 'Tecnico', '', '', '', NULL, ${now}
      FROM people p, generate_series(0, 1) k WHERE p.govid_sub LIKE 'pgc-%';
    INSERT INTO confirmations (cert_id, decision, decided_by, decided_at)
      SELECT c.id, 'confirmed', 'test', ${now} FROM certificates c JOIN people p ON p.id = c.holder_id
      WHERE p.govid_sub LIKE 'pgc-%';
    COMMIT;`);
}

test('three `jobs --once --only notices` at once: one notice per certificate, one mail per holder', T, async (t) => {
  addHolders(HOLDERS);
  const due = sys.sql(`SELECT count(*) AS certs, count(DISTINCT c.holder_id) AS holders FROM certificates c
    JOIN confirmations f ON f.cert_id = c.id AND f.decision = 'confirmed'
    WHERE c.status = 'issued' AND c.not_after > ${sys.dialect.now} AND c.not_after <= ${sys.dialect.now} + 30 * 86400`)[0];
  assert.ok(due.holders >= HOLDERS, `${due.holders} due holders`);

  const ends = await Promise.all([1, 2, 3].map(() => cr(['jobs', '--once', '--only', 'notices'])));
  for (const e of ends) assert.equal(e.code, 0, `a runner failed (${e.code ?? e.signal})\n${e.out}`);

  const perCert = sys.sql(`SELECT c.id, (SELECT count(*) FROM notices n WHERE n.cert_id = c.id AND n.kind = 'notice'
      AND n.not_after = c.not_after) AS n
    FROM certificates c JOIN confirmations f ON f.cert_id = c.id AND f.decision = 'confirmed'
    WHERE c.status = 'issued' AND c.not_after > ${sys.dialect.now}`).filter((r) => r.n !== 1);
  assert.deepEqual(perCert.slice(0, 5), [], 'every due certificate has exactly one notice');
  assert.equal(one("SELECT count(*) FROM notices WHERE kind = 'notice'"), due.certs, 'notices = due certificates');
  const twice = sys.sql(`SELECT to_addr, count(*) AS n FROM outbox WHERE kind = 'notice' GROUP BY to_addr
    HAVING count(*) > 1 LIMIT 5`);
  assert.deepEqual(twice, [], 'no holder has two notice mails');
  assert.equal(one("SELECT count(*) FROM outbox WHERE kind = 'notice'"), due.holders, 'one mail per due holder');
  assert.equal(one("SELECT count(*) FROM audit_log WHERE action = 'notice_queued'"), due.holders, 'each mail audited once');
  const queued = ends.map((e) => Number((/notices: (\d+) mails queued/.exec(e.out) || [0, 0])[1]));
  assert.equal(queued.reduce((a, b) => a + b, 0), due.holders, `the runners' own counts add up: ${queued}`);
  t.diagnostic(`mails queued by each runner: ${queued.join(' + ')}`);
  await auditOk('after three notice runners');
});

test('three `jobs --once --only deliver` at once: every message sent exactly once', T, async (t) => {
  const total = one('SELECT count(*) FROM outbox');
  assert.ok(total >= HOLDERS, `${total} queued messages from the test before`);
  const ends = await Promise.all([1, 2, 3].map(() => cr(['jobs', '--once', '--only', 'deliver'])));
  for (const e of ends) assert.equal(e.code, 0, `a sender failed (${e.code ?? e.signal})\n${e.out}`);

  const sent = ends.map((e) => Number((/delivery: (\d+) sent/.exec(e.out) || [0, 0])[1]));
  assert.equal(sent.reduce((a, b) => a + b, 0), total, `the senders' own counts add up to every message: ${sent}`);
  t.diagnostic(`messages sent by each sender: ${sent.join(' + ')}`);
  assert.equal(one("SELECT count(*) FROM outbox WHERE state = 'sent'"), total, 'all marked sent');
  assert.equal(one('SELECT count(*) FROM outbox WHERE tries <> 1'), 0, 'each message claimed exactly once');
  const files = readdirSync(path.join(sys.varDir, 'mail')).filter((f) => f.endsWith('.eml'));
  assert.equal(files.length, total, 'one .eml file per message');
  await auditOk('after three senders');
});

/** A loop of requests until stop(); each result is { ms, status, location } or { ms, error }. */
function loop(fn) {
  const results = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t0 = Date.now();
      try {
        results.push({ ms: t0, ...(await fn()) });
      } catch (e) {
        results.push({ ms: t0, error: e.message });
      }
      await sleep(20);
    }
  })();
  return { results, stop: async () => { running = false; await done; } };
}

test('PostgreSQL restarted under load: requests fail cleanly, the portal recovers by itself, nothing half-written', T, async (t) => {
  await sys.startGovsim();
  await sys.startPortal();
  const jar = new CookieJar();
  await login(jar, WONG.sub, sys.base);
  const pendingUrl = `${sys.base}/ecmp/certrenewal`;
  const first = await jar.fetch(pendingUrl);
  assert.equal(first.status, 200, 'the pending page before');

  const pages = loop(async () => {
    const r = await jar.fetch(pendingUrl, { timeout: 15_000 });
    return { status: r.status, location: r.location };
  });
  // Logins write: a session row and an audit row in one transaction.
  const logins = loop(async () => {
    const r = await login(new CookieJar(), WONG.sub, sys.base);
    return { status: r.status };
  });

  await sleep(500);
  const tRestart = Date.now();
  await sys.pg.restartAsync();
  await sleep(500);
  // A longer outage, so that requests surely meet it.
  const tStop = Date.now();
  await sys.pg.stopAsync();
  await sleep(1_500);
  await sys.pg.startAsync();
  const tUp = Date.now();
  await sleep(1_500);
  await pages.stop();
  await logins.stop();

  // The portal never died and needed no restart.
  assert.equal(sys.portal.exited, null, 'the portal is still running');
  await waitHealthy(`${sys.base}/healthz`, sys.portal);

  const outage = pages.results.filter((r) => r.ms >= tStop + 200 && r.ms < tUp - 200);
  assert.ok(outage.length > 0, 'some requests were made while PostgreSQL was down');
  for (const r of pages.results) {
    // A clean failure is an error status (503): an outage must not look like a logout.
    const clean = r.status === 200 || r.status >= 500;
    assert.ok(clean, `an unclean answer: ${JSON.stringify(r)}`);
  }
  assert.ok(outage.every((r) => r.status !== 200 && !r.error),
    `during the outage no page is served and no connection breaks: ${JSON.stringify(outage.slice(0, 5))}`);
  const statuses = {};
  for (const r of pages.results) statuses[r.error ? 'error' : r.status] = (statuses[r.error ? 'error' : r.status] || 0) + 1;
  t.diagnostic(`pending page answers: ${JSON.stringify(statuses)} (restart at +${tStop - tRestart} ms before the stop)`);
  const loginErrors = logins.results.filter((r) => r.error && !/callback: 5\d\d|GET \/login: 5\d\d|callback redirected|GET \/: 5\d\d/.test(r.error));
  t.diagnostic(`logins: ${logins.results.filter((r) => !r.error).length} ok, ${logins.results.length - logins.results.filter((r) => !r.error).length} refused`);
  assert.ok(loginErrors.every((r) => !/fetch failed|ECONNRESET|socket/i.test(r.error)), `no broken connection: ${JSON.stringify(loginErrors.slice(0, 3))}`);

  // After the restart: served again with the same session, and a login works.
  const again = await jar.fetch(pendingUrl);
  assert.equal(again.status, 200, 'the pending page after the restart');
  const after1 = pages.results.filter((r) => r.ms >= tUp + 500);
  assert.ok(after1.length > 0 && after1.every((r) => r.status === 200), `200 again soon after: ${JSON.stringify(after1.slice(0, 5))}`);
  await login(new CookieJar(), WONG.sub, sys.base);

  await auditOk('after the outage');
  const sessions = one("SELECT count(*) FROM audit_log WHERE action = 'login'");
  const rows = one('SELECT count(*) FROM sessions');
  assert.ok(rows <= sessions, `no session without its audit row (${rows} sessions, ${sessions} login rows)`);
});
