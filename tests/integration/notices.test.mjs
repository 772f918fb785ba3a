// Renewal notices and the mail outbox (SPEC R1.1-R1.5; issue 3), against the real binaries: a real SMTP
// server (python3-aiosmtpd on loopback) receives what `certrenew jobs --once` sends; the test decodes the
// MIME itself and compares it with the seed's text. Then: declined and late confirmations, SMTP outages and
// retries, give-up and `mail retry`, two runners at once, crashes (abort and SIGKILL) mid-batch, reminders.
// Each test has its own var dir (`certrenew init` + `demo-data` through the harness); the database is read
// and arranged through sys.sql (SQLite or PostgreSQL). Every child process and server is bounded in time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { System, CERTRENEW, ROOT, WONG, CHAN, freePort, sleep } from '../lib/harness.mjs';
import { SmtpServer } from '../lib/smtp.mjs';
import { dueHolders, dueCertCount, dueEmails, demoPerson } from '../lib/demo.mjs';

const T = { timeout: 120_000 };
const CMD_TIMEOUT = 60_000;
// A configured base URL unlike the seed's; DEV accepts loopback ones only (cr_config_check_mode).
const BASE_URL = 'https://localhost:8443';
const LOGIN_URL = `${BASE_URL}/ecmp/certrenewal`;
const SUBJECT_NOTICE = 'eSignTrust 電子證書服務（政府機關） - 部門用戶電子證書續期《待續期》通知';
const SUBJECT_REMINDER = 'eSignTrust 電子證書服務（政府機關） - 部門用戶電子證書續期《待續期》提示';

// The notice of the seed (R1.4), paragraph by paragraph; {url} is the configured base URL + /ecmp/certrenewal.
const SEED_GREETING = (name) => `尊敬的 ${name} 君：`;
const SEED_PARAGRAPHS = [
  '閣下所使用之電子證書將於 30 日後到期，經貴部門確認後相關電子證書將按程序執行續期。',
  '敬請透過以下連結位址登入《eSignTrust 電子證書服務（政府機關）》並跟據指示進行證書續期程序：\n{url}',
  '閣下亦可與本局電子業務廳電子認證服務處註冊署聯繫安排親臨註冊署處理證書續期相關事宜。',
  '多謝選擇我們的服務。',
  '如有查詢，歡迎與我們聯絡(電話：28330338，傳真：82995511)。\n郵電局電子業務廳電子認證服務處註冊署',
  '此郵件為系統自動發送，請勿直接回覆。',
  '謹上',
];
const SEED_FILE = process.env.CR_SEED_FILE || '/work/shared/seed/000_78d258e684a73604.txt';

// The demo holders due for a notice right after `demo-data` (tests/lib/demo.mjs reads demo/people.json), so
// the expectations follow the demo data; WONG and CHAN are among them and are looked at in detail.
const DUE = dueHolders();
const DUE_N = DUE.length;
const DUE_EMAILS = dueEmails();
const DUE_CERTS = dueCertCount();
const WONG_CERTS = demoPerson(WONG.sub).certificates.length;
const without = (...emails) => DUE_EMAILS.filter((e) => !emails.includes(e));

/** Paragraphs of a text: split at blank lines (white space and NBSP count as blank), lines trimmed. */
function paragraphs(text) {
  const out = [];
  let cur = [];
  for (const raw of text.replace(/\r\n/g, '\n').split('\n')) {
    const line = raw.replace(/^[\s\u00a0]+|[\s\u00a0]+$/g, '');
    if (line === '') {
      if (cur.length) out.push(cur.join('\n'));
      cur = [];
    } else cur.push(line);
  }
  if (cur.length) out.push(cur.join('\n'));
  return out;
}

/** Asserts that `body` holds each expected paragraph exactly (as a whole paragraph), in this order. */
function assertParagraphsInOrder(body, expected, what) {
  const got = paragraphs(body);
  let at = -1;
  for (const p of expected) {
    const i = got.indexOf(p, at + 1);
    assert.ok(i > at, `${what}: paragraph ${JSON.stringify(p)} missing or out of order; paragraphs:\n${got.join('\n---\n')}`);
    at = i;
  }
}

// ---------------------------------------------------------------- helpers

/** A fresh system (var dir, init, demo-data); the test's body runs with it and it is removed afterwards. */
async function withSystem(fn) {
  const sys = await System.prepare();
  sys.env = { ...sys.env, CERTRENEW_BASE_URL: BASE_URL };
  const servers = [];
  sys.smtp = async (opts) => { const s = await SmtpServer.start(opts); servers.push(s); return s; };
  try {
    await fn(sys);
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
    await sys.stop().catch(() => {});
  }
}

const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:|SUMMARY: (Address|Leak|Undefined)/;
function noSanitizerReport(args, out) {
  assert.ok(!SANITIZER_RE.test(out), `certrenew ${args.join(' ')}: sanitizer report\n${out}`);
}

/** Runs certrenew to completion (bounded); returns { status, signal, out }. */
function cr(sys, args, env = {}) {
  const r = spawnSync(CERTRENEW, args, {
    env: { ...sys.env, ...env }, encoding: 'utf8', timeout: CMD_TIMEOUT, cwd: ROOT, killSignal: 'SIGKILL',
  });
  if (r.error) throw new Error(`certrenew ${args.join(' ')}: ${r.error.message}`);
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  noSanitizerReport(args, out);
  return { status: r.status, signal: r.signal, out };
}

/** Runs certrenew and asserts it succeeded; returns its output. */
function ok(sys, args, env = {}) {
  const r = cr(sys, args, env);
  assert.equal(r.status, 0, `certrenew ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.out}`);
  return r.out;
}

/** Starts certrenew in the background with cores off; returns { child, done } (done resolves to the exit). */
function start(sys, args, env = {}, limitMs = CMD_TIMEOUT) {
  const child = spawn('sh', ['-c', 'ulimit -c 0; exec "$0" "$@"', CERTRENEW, ...args], {
    env: { ...sys.env, ...env }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { out += b; });
  const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  // 'close' (not 'exit'): all output has been read by then.
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => { clearTimeout(killer); resolve({ code, signal, out }); });
  }).then((e) => { noSanitizerReport(args, e.out); return e; });
  return { child, done };
}

/** Rows of a query on the system's database (SQLite or PostgreSQL, see harness). */
const sql = (sys, query) => sys.sql(query);
/** The current Unix time in SQL, in the system's dialect. */
const NOW = (sys) => sys.dialect.now;
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;
const one = (sys, query) => Object.values(sql(sys, query)[0] ?? { v: null })[0];

const certsOf = (sys, sub) => sql(sys, `SELECT c.id, c.serial_hex AS serial, c.not_after FROM certificates c
  JOIN people p ON p.id = c.holder_id WHERE p.govid_sub = ${q(sub)} ORDER BY c.id`);
const outbox = (sys) => sql(sys, 'SELECT id, kind, to_addr, subject, message_id, state, tries, last_error FROM outbox ORDER BY id');

/**
 * Adds n holders (organisation 1), each with `certs` certificates expiring in `days` days (plus a few
 * minutes per holder, so that expiry dates differ), all confirmed. Column lists as in migrations_sqlite.c.
 */
function addHolders(sys, n, { certs = 2, days = 10, prefix = 'bulk' } = {}) {
  const now = NOW(sys);
  const pg = sys.dbKind === 'postgres';
  const pfx = prefix === 'bulk' ? 'b0' : 'c0';
  const idNumber = pg ? "'9' || lpad(CAST(i AS TEXT), 6, '0') || '(0)'" : "printf('9%06d(0)', i)";
  const serial = pg ? `'${pfx}' || lpad(to_hex(p.id), 8, '0') || lpad(to_hex(k.j), 2, '0')`
    : `printf('%s%08x%02x', '${pfx}', p.id, k.j)`;
  sql(sys, `BEGIN;
    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n})
    INSERT INTO people (govid_sub, name, name_zh, email, id_number, org_id, department, position, created_at)
      SELECT '${prefix}-' || i, 'Holder ' || i || ' ${prefix.toUpperCase()}', '', '${prefix}' || i || '@example.gov.mo',
        ${idNumber}, 1, 'n/a', 'Tecnico', ${now} FROM s;
    WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < ${certs - 1})
    INSERT INTO certificates (serial_hex, type, status, not_before, not_after, holder_id, email, org_id,
        department, position, tx_limit, proxy_qualification, signing_account, der, created_at)
      SELECT ${serial},
        CASE k.j % 3 WHEN 0 THEN 'qualified' WHEN 1 THEN 'encryption' ELSE 'cloudsign' END, 'issued',
        ${now} - 3 * 365 * 86400, ${now} + ${days} * 86400 + p.id * 60, p.id, p.email, 1,
        'n/a', 'Tecnico', '', '', '', NULL, ${now}
      FROM people p, k WHERE p.govid_sub LIKE '${prefix}-%';
    INSERT INTO confirmations (cert_id, decision, decided_by, decided_at)
      SELECT c.id, 'confirmed', 'test', ${now} FROM certificates c JOIN people p ON p.id = c.holder_id
      WHERE p.govid_sub LIKE '${prefix}-%';
    COMMIT;`);
}

// The certificates that are due for their first notice right now (window 30 days), computed independently.
const dueCerts = (sys) => `SELECT c.id, c.holder_id, c.not_after FROM certificates c
  JOIN confirmations f ON f.cert_id = c.id AND f.decision = 'confirmed'
  WHERE c.status = 'issued' AND c.not_after > ${NOW(sys)} AND c.not_after <= ${NOW(sys)} + 30 * 86400`;

/**
 * Invariants that must hold at any moment, also right after a crash: each notice mail has its notice rows
 * and the rows of one mail belong to its recipient; no certificate and no holder has two notices; every
 * queued notice is audited once (same transaction).
 */
function assertConsistent(sys, what) {
  const orphanMail = one(sys, `SELECT count(*) FROM outbox o WHERE o.kind = 'notice'
    AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.outbox_id = o.id)`);
  assert.equal(orphanMail, 0, `${what}: notice mails without notice rows`);
  const orphanRows = one(sys, 'SELECT count(*) FROM notices n LEFT JOIN outbox o ON o.id = n.outbox_id WHERE o.id IS NULL');
  assert.equal(orphanRows, 0, `${what}: notice rows without their mail`);
  const wrongAddr = one(sys, `SELECT count(*) FROM notices n JOIN outbox o ON o.id = n.outbox_id
    JOIN certificates c ON c.id = n.cert_id JOIN people p ON p.id = c.holder_id WHERE p.email <> o.to_addr`);
  assert.equal(wrongAddr, 0, `${what}: a notice row points at a mail to someone else`);
  const twice = sql(sys, `SELECT to_addr, count(*) AS n FROM outbox WHERE kind = 'notice' GROUP BY to_addr HAVING count(*) > 1 LIMIT 5`);
  assert.deepEqual(twice, [], `${what}: holders with more than one notice mail`);
  const audited = one(sys, "SELECT count(*) FROM audit_log WHERE action = 'notice_queued'");
  const mails = one(sys, 'SELECT count(*) FROM outbox');
  assert.equal(audited, mails, `${what}: every queued mail audited exactly once`);
}

/** Every due certificate has exactly one notice row and every due holder exactly one notice mail. */
function assertExactlyOnce(sys, expectHolders, what) {
  const due = sql(sys, `SELECT count(*) AS certs, count(DISTINCT holder_id) AS holders FROM (${dueCerts(sys)}) d`)[0];
  assert.equal(due.holders, expectHolders, `${what}: due holders in the database`);
  const perCert = sql(sys, `SELECT d.id, (SELECT count(*) FROM notices n WHERE n.cert_id = d.id AND n.kind = 'notice'
      AND n.not_after = d.not_after) AS n FROM (${dueCerts(sys)}) d`);
  const bad = perCert.filter((r) => r.n !== 1);
  assert.equal(bad.length, 0, `${what}: certificates without exactly one notice row: ${JSON.stringify(bad.slice(0, 5))}`);
  const perHolder = sql(sys, `SELECT p.email, (SELECT count(*) FROM outbox o WHERE o.to_addr = p.email AND o.kind = 'notice') AS n
    FROM people p WHERE p.id IN (SELECT holder_id FROM (${dueCerts(sys)}) d)`);
  const badH = perHolder.filter((r) => r.n !== 1);
  assert.equal(badH.length, 0, `${what}: holders without exactly one notice mail: ${JSON.stringify(badH.slice(0, 5))}`);
  assert.equal(one(sys, "SELECT count(*) FROM outbox WHERE kind = 'notice'"), expectHolders, `${what}: notice mails`);
  assertConsistent(sys, what);
}

/** Expiry date as the mail shows it (Macau time, UTC+8). */
const macauDate = (t) => new Date((t + 8 * 3600) * 1000).toISOString().slice(0, 10);

/** The messages of the server, by envelope recipient (aiosmtpd's X-RcptTo). */
function byRecipient(msgs) {
  const m = new Map();
  for (const x of msgs) {
    const rcpt = x.header('x-rcptto');
    m.set(rcpt, [...(m.get(rcpt) || []), x]);
  }
  return m;
}

// ---------------------------------------------------------------- the seed's text

test('the expected paragraphs are the seed\'s notice text', { skip: !existsSync(SEED_FILE) && 'seed file not present' }, () => {
  const seed = readFileSync(SEED_FILE, 'utf8').replace(/\r\n/g, '\n');
  const start = seed.indexOf('尊敬的 ');
  const end = seed.indexOf('\n謹上', start);
  assert.ok(start > 0 && end > start, 'the seed holds the notice text');
  const paras = paragraphs(seed.slice(start, end + '\n謹上'.length))
    .map((p) => p.replace(/<(https?:\/\/[^>]+)>/g, '$1'));
  assert.equal(paras[0], SEED_GREETING('XXXX XXXX TENG'));
  const seedUrl = 'https://eservices.esigntrust.com/ecmp/certrenewal';
  assert.deepEqual(paras.slice(1), SEED_PARAGRAPHS.map((p) => p.replace('{url}', seedUrl)));
  assert.ok(seed.includes(`“${SUBJECT_NOTICE}”`), 'the seed names the subject');
});

// ---------------------------------------------------------------- 1. a real SMTP server receives the notice

test('one run sends one notice per due holder to a real SMTP server, text as in the seed; a second run nothing', T, async () => {
  await withSystem(async (sys) => {
    const smtp = await sys.smtp();
    const env = { CERTRENEW_SMTP_URL: smtp.url };
    const out = ok(sys, ['jobs', '--once'], env);

    const msgs = smtp.messages();
    const rc = byRecipient(msgs);
    assert.ok(DUE_EMAILS.includes(WONG.email) && DUE_EMAILS.includes(CHAN.email), 'WONG and CHAN are due holders');
    assert.equal(msgs.length, DUE_N, `one message per due holder (${DUE_EMAILS.join(', ')}), got ${msgs.length}\n${out}`);
    assert.deepEqual([...rc.keys()].sort(), DUE_EMAILS);
    assert.ok([...rc.values()].every((l) => l.length === 1), 'one message per holder');

    const rows = outbox(sys);
    assert.equal(rows.length, DUE_N);
    for (const r of rows) {
      assert.equal(r.state, 'sent', JSON.stringify(r));
      assert.equal(r.kind, 'notice');
      assert.equal(r.subject, SUBJECT_NOTICE);
    }

    const m = rc.get(WONG.email)[0];
    // Headers: RFC 2047 subject, From / Reply-To from config, Date, Message-ID as recorded in the outbox.
    assert.equal(m.subject, SUBJECT_NOTICE);
    const rawSubject = m.headers.find(([n]) => n === 'subject')[1];
    assert.match(rawSubject, /^(=\?UTF-8\?[BQ]\?[^?]*\?=\s*)+$/i, 'subject is RFC 2047 encoded words only');
    assert.ok(/^[\x20-\x7e\r\n\t]*$/.test(m.raw.slice(0, m.raw.search(/\r?\n\r?\n/))), 'headers are 7-bit');
    assert.equal(m.to, WONG.email);
    assert.equal(m.from, 'eSignTrust 電子認證服務 <noreply@esigntrust.com>');
    assert.equal(m.header('reply-to'), 'noreply@esigntrust.com');
    assert.ok(Number.isFinite(Date.parse(m.header('date'))), `Date header: ${m.header('date')}`);
    assert.ok(Math.abs(Date.parse(m.header('date')) - Date.now()) < 10 * 60_000, 'Date is now');
    assert.match(m.header('mime-version') || '', /^1\.0/);
    assert.equal(m.messageId, rows.find((r) => r.to_addr === WONG.email).message_id);
    assert.equal(m.contentType.type, 'multipart/alternative');
    const plain = m.parts.find((p) => p.type === 'text/plain');
    const html = m.parts.find((p) => p.type === 'text/html');
    assert.ok(plain && html, `a plain-text and an HTML part: ${JSON.stringify(m.parts.map((p) => p.type))}`);
    assert.equal(plain.charset.toLowerCase(), 'utf-8');
    assert.ok(['base64', 'quoted-printable'].includes(plain.cte), `body encoding ${plain.cte}`);

    // The body: the seed's text with WONG's name and the configured base URL, WONG's certificates listed.
    const body = m.text;
    assert.ok(body.startsWith(`${SEED_GREETING(WONG.name)}\n`), `body starts with the greeting:\n${body}`);
    const expected = SEED_PARAGRAPHS.map((p) => p.replace('{url}', LOGIN_URL));
    assertParagraphsInOrder(body, expected, 'WONG notice');
    assert.equal(paragraphs(body).at(-1), '謹上', 'the body ends with 謹上');
    assert.ok(!body.includes('eservices.esigntrust.com'), 'no hard-coded production URL');
    const certs = certsOf(sys, WONG.sub);
    assert.equal(certs.length, WONG_CERTS);
    const listed = body.split('\n').filter((l) => /證書序號/.test(l));
    assert.equal(listed.length, WONG_CERTS, `one line per certificate (${WONG_CERTS}):\n${body}`);
    for (const c of certs) {
      const lines = listed.filter((l) => l.includes(c.serial));
      assert.equal(lines.length, 1, `serial ${c.serial} listed once`);
      assert.ok(lines[0].includes(macauDate(c.not_after)), `expiry ${macauDate(c.not_after)} on ${lines[0]}`);
    }
    // The HTML part says the same, with the link.
    assert.ok(html.text.includes(`href="${LOGIN_URL}"`), 'HTML part links the login URL');
    assert.ok(html.text.includes(`尊敬的 ${WONG.name} 君`));
    for (const c of certs) assert.ok(html.text.includes(c.serial));

    // CHAN's message lists CHAN's two certificates and nothing of WONG's.
    const chan = rc.get(CHAN.email)[0].text;
    assert.ok(chan.startsWith(`${SEED_GREETING(CHAN.name)}\n`));
    for (const c of certsOf(sys, CHAN.sub)) assert.ok(chan.includes(c.serial));
    for (const c of certs) assert.ok(!chan.includes(c.serial), 'no other holder\'s serial');

    // Every due holder's message is addressed to them and lists exactly their own due certificates.
    const allSerials = sql(sys, 'SELECT serial_hex FROM certificates').map((r) => r.serial_hex);
    for (const h of DUE) {
      const text = rc.get(h.email)[0].text;
      assert.ok(text.startsWith(`${SEED_GREETING(h.name)}\n`), `${h.name}: the greeting`);
      const own = certsOf(sys, h.sub).map((c) => c.serial);
      assert.equal(own.length, h.certificates.length, `${h.name}: demo certificates in the database`);
      for (const s of allSerials) assert.equal(text.includes(s), own.includes(s), `${h.name}'s message and serial ${s}`);
    }

    // Second run: nothing new is queued or sent.
    ok(sys, ['jobs', '--once'], env);
    assert.equal(smtp.messages().length, DUE_N, 'a second run sends nothing more');
    assert.equal(outbox(sys).length, DUE_N, 'a second run queues nothing more');
    assert.equal(one(sys, "SELECT count(*) FROM notices WHERE kind = 'notice'"), DUE_CERTS);
  });
});

// ---------------------------------------------------------------- 2. declined and late confirmations

test('declined certificates get no notice', T, async () => {
  await withSystem(async (sys) => {
    sql(sys, `UPDATE confirmations SET decision = 'declined' WHERE cert_id IN
      (SELECT c.id FROM certificates c JOIN people p ON p.id = c.holder_id WHERE p.govid_sub = ${q(CHAN.sub)})`);
    const smtp = await sys.smtp();
    const env = { CERTRENEW_SMTP_URL: smtp.url };
    ok(sys, ['jobs', '--once'], env);
    ok(sys, ['jobs', '--once'], env);
    const msgs = smtp.messages();
    assert.deepEqual(msgs.map((x) => x.header('x-rcptto')).sort(), without(CHAN.email), 'every due holder but CHAN gets mail');
    assert.deepEqual(outbox(sys).map((r) => r.to_addr).sort(), without(CHAN.email));
    const chanNotices = one(sys, `SELECT count(*) FROM notices n JOIN certificates c ON c.id = n.cert_id
      JOIN people p ON p.id = c.holder_id WHERE p.govid_sub = ${q(CHAN.sub)}`);
    assert.equal(chanNotices, 0);
  });
});

test('a confirmation made after a run gets its notice at the next run', T, async () => {
  await withSystem(async (sys) => {
    const chanCerts = certsOf(sys, CHAN.sub).map((c) => c.id);
    sql(sys, `DELETE FROM confirmations WHERE cert_id IN (${chanCerts.join(',')})`);
    const smtp = await sys.smtp();
    const env = { CERTRENEW_SMTP_URL: smtp.url };
    ok(sys, ['jobs', '--once'], env);
    assert.deepEqual(smtp.messages().map((x) => x.header('x-rcptto')).sort(), without(CHAN.email),
      'CHAN unconfirmed: every due holder but CHAN');

    // The coordinator confirms on "day 20".
    sql(sys, `INSERT INTO confirmations (cert_id, decision, decided_by, decided_at)
      SELECT id, 'confirmed', 'coordinator', ${NOW(sys)} FROM certificates WHERE id IN (${chanCerts.join(',')})`);
    ok(sys, ['jobs', '--once'], env);
    const msgs = smtp.messages();
    assert.deepEqual(msgs.slice(DUE_N - 1).map((x) => x.header('x-rcptto')), [CHAN.email], 'CHAN now, the others not again');
    const chan = msgs[DUE_N - 1];
    assert.equal(chan.subject, SUBJECT_NOTICE);
    for (const c of certsOf(sys, CHAN.sub)) assert.ok(chan.text.includes(c.serial));
    ok(sys, ['jobs', '--once'], env);
    assert.equal(smtp.messages().length, DUE_N, 'and nothing more after that');
  });
});

// ---------------------------------------------------------------- 3. SMTP down, then back

test('SMTP server down: messages stay queued, then arrive exactly once when it is back', T, async () => {
  await withSystem(async (sys) => {
    const port = await freePort(); // nothing listens here yet
    const env = { CERTRENEW_SMTP_URL: `smtp://127.0.0.1:${port}`, CERTRENEW_MAIL_RETRY_SECONDS: '1' };
    ok(sys, ['jobs', '--once'], env);
    let rows = outbox(sys);
    assert.equal(rows.length, DUE_N);
    for (const r of rows) {
      assert.equal(r.state, 'queued', JSON.stringify(r));
      assert.equal(r.tries, 1);
      assert.notEqual(r.last_error, '', 'the failure is recorded');
    }
    const listed = ok(sys, ['mail', 'list', '--queued']);
    assert.match(listed, new RegExp(`^${DUE_N} message\\(s\\)$`, 'm'), listed);
    for (const r of rows) assert.match(listed, new RegExp(`^${r.id}\\s+.*\\squeued\\s+1\\s+${r.to_addr.replace(/\./g, '\\.')}`, 'm'));

    const smtp = await sys.smtp({ port });
    await sleep(2_100); // past the first backoff (mail.retry_seconds = 1)
    ok(sys, ['jobs', '--once'], env);
    const msgs = smtp.messages();
    assert.equal(msgs.length, DUE_N, 'all arrive');
    const rc = byRecipient(msgs);
    assert.deepEqual([...rc.keys()].sort(), DUE_EMAILS);
    rows = outbox(sys);
    for (const r of rows) {
      assert.equal(r.state, 'sent');
      assert.equal(rc.get(r.to_addr)[0].messageId, r.message_id, 'the queued message is the one delivered');
    }
    await sleep(1_100);
    ok(sys, ['jobs', '--once'], env);
    assert.equal(smtp.messages().length, DUE_N, 'none duplicated');
    assert.equal(outbox(sys).length, DUE_N, 'none queued again');
  });
});

// ---------------------------------------------------------------- 4. give up after mail.max_tries, then retry

test('after mail.max_tries the messages are failed, listed, and `mail retry --all` delivers them once', T, async () => {
  await withSystem(async (sys) => {
    const port = await freePort();
    const env = {
      CERTRENEW_SMTP_URL: `smtp://127.0.0.1:${port}`, CERTRENEW_MAIL_RETRY_SECONDS: '1', CERTRENEW_MAIL_MAX_TRIES: '2',
    };
    ok(sys, ['jobs', '--once'], env);
    assert.deepEqual(outbox(sys).map((r) => [r.state, r.tries]), DUE.map(() => ['queued', 1]));
    await sleep(1_500);
    ok(sys, ['jobs', '--once'], env);
    const rows = outbox(sys);
    assert.deepEqual(rows.map((r) => [r.state, r.tries]), DUE.map(() => ['failed', 2]));

    const failed = ok(sys, ['mail', 'list', '--failed'], env);
    assert.match(failed, new RegExp(`^${DUE_N} message\\(s\\)$`, 'm'), failed);
    for (const r of rows) assert.match(failed, new RegExp(`^${r.id}\\s+.*\\sfailed\\s+2\\s+${r.to_addr.replace(/\./g, '\\.')}`, 'm'));
    await sleep(1_100);
    ok(sys, ['jobs', '--once'], env);
    assert.deepEqual(outbox(sys).map((r) => r.state), DUE.map(() => 'failed'), 'failed messages are not tried again');

    const retried = ok(sys, ['mail', 'retry', '--all'], env);
    assert.match(retried, new RegExp(`${DUE_N} failed message\\(s\\) queued again`));
    const smtp = await sys.smtp({ port });
    ok(sys, ['jobs', '--once'], env);
    const msgs = smtp.messages();
    assert.deepEqual(msgs.map((x) => x.header('x-rcptto')).sort(), DUE_EMAILS);
    assert.deepEqual(outbox(sys).map((r) => r.state), DUE.map(() => 'sent'));
    assert.match(ok(sys, ['mail', 'list', '--failed'], env), /^0 message\(s\)$/m);
    await sleep(1_100);
    ok(sys, ['jobs', '--once'], env);
    assert.equal(smtp.messages().length, DUE_N, 'delivered once');
  });
});

// ---------------------------------------------------------------- 5. two runners at the same moment

test('two `jobs --once --only notices` at the same moment: each due holder one mail, each certificate one notice', T, async (t) => {
  await withSystem(async (sys) => {
    const n = Number(process.env.CR_TEST_HOLDERS || 1200);
    addHolders(sys, n, { certs: 2, days: 10 });
    // Noise that must get nothing: expiring later than the window.
    addHolders(sys, 50, { certs: 1, days: 45, prefix: 'later' });
    const runs = [start(sys, ['jobs', '--once', '--only', 'notices']), start(sys, ['jobs', '--once', '--only', 'notices'])];
    const ends = await Promise.all(runs.map((r) => r.done));
    for (const e of ends) assert.equal(e.code, 0, `a runner failed (${e.code ?? e.signal})\n${e.out}`);
    assertExactlyOnce(sys, n + DUE_N, 'two runners');
    assert.equal(one(sys, "SELECT count(*) FROM notices WHERE kind = 'notice'"), 2 * n + DUE_CERTS);
    assert.equal(one(sys, "SELECT count(*) FROM outbox o WHERE o.to_addr LIKE 'later%'"), 0, 'nothing outside the window');
    const queued = ends.map((e) => Number((/notices: (\d+) mails queued/.exec(e.out) || [0, 0])[1]));
    assert.equal(queued[0] + queued[1], n + DUE_N, `the runners' own counts add up: ${queued}`);
    t.diagnostic(`mails queued by each runner: ${queued.join(' + ')}`);
  });
});

test('two full `jobs --once` at the same moment with a real SMTP server: each holder receives exactly one message', T, async () => {
  await withSystem(async (sys) => {
    addHolders(sys, 300, { certs: 1, days: 10 });
    const smtp = await sys.smtp();
    const env = { CERTRENEW_SMTP_URL: smtp.url };
    const ends = await Promise.all([start(sys, ['jobs', '--once'], env).done, start(sys, ['jobs', '--once'], env).done]);
    for (const e of ends) assert.equal(e.code, 0, `a runner failed (${e.code ?? e.signal})\n${e.out}`);
    assertExactlyOnce(sys, 300 + DUE_N, 'two full runners');
    const msgs = smtp.messages();
    const rc = byRecipient(msgs);
    const dup = [...rc].filter(([, l]) => l.length !== 1).map(([a, l]) => `${a}: ${l.length}`);
    assert.deepEqual(dup, [], 'no recipient got two messages');
    assert.equal(rc.size, 300 + DUE_N, 'every due holder got one');
    assert.equal(new Set(msgs.map((m) => m.messageId)).size, msgs.length, 'no Message-ID delivered twice');
    assert.equal(one(sys, "SELECT count(*) FROM outbox WHERE state <> 'sent'"), 0, 'all marked sent');
  });
});

// ---------------------------------------------------------------- 6. crashes mid-batch

test('a run that aborts mid-batch leaves nothing half-done; the next run sends every notice exactly once', T, async (t) => {
  await withSystem(async (sys) => {
    addHolders(sys, 400, { certs: 2, days: 10 });
    for (const n of ['150', '250']) {
      const e = await start(sys, ['jobs', '--once', '--only', 'notices'], { CERTRENEW_TEST_CRASH_AFTER: n }).done;
      assert.equal(e.signal, 'SIGABRT', `the test hook aborts the run (${e.code ?? e.signal})\n${e.out}`);
      assert.match(e.out, /test hook: crashing mid-batch/);
      assertConsistent(sys, `after the abort at ${n}`);
      const mails = one(sys, 'SELECT count(*) FROM outbox');
      assert.ok(mails < Number(n), `the aborted batch was rolled back (${mails} mails after abort at ${n})`);
      t.diagnostic(`abort after ${n} holders: ${mails} mails committed`);
    }
    ok(sys, ['jobs', '--once', '--only', 'notices']);
    assertExactlyOnce(sys, 400 + DUE_N, 'after abort + rerun');
    const v = cr(sys, ['audit-verify']);
    assert.equal(v.status, 0, `audit chain verifies\n${v.out}`);
  });
});

test('the crash hook does nothing outside DEV mode', T, async () => {
  await withSystem(async (sys) => {
    const r = cr(sys, ['jobs', '--once', '--only', 'notices'], {
      CERTRENEW_MODE: 'prod', CERTRENEW_TEST_CRASH_AFTER: '1',
      // What production needs (cr_config_check_mode); --only notices calls none of them.
      CERTRENEW_GOVID_ISSUER: 'https://govid.invalid', CERTRENEW_DSI_BASE_URL: 'https://dsi.invalid',
      CERTRENEW_SIGNING_BASE_URL: 'https://signing.invalid', CERTRENEW_SMTP_URL: 'smtps://smtp.invalid',
    });
    assert.equal(r.status, 0, `prod run with the hook set\n${r.out}`);
    assert.equal(r.signal, null);
    assertExactlyOnce(sys, DUE_N, 'prod run');
  });
});

test('a run killed with SIGKILL mid-batch: after a rerun every due holder has exactly one notice', T, async (t) => {
  await withSystem(async (sys) => {
    addHolders(sys, 3000, { certs: 2, days: 10 });
    const killedAt = [];
    for (const ms of [30, 250]) {
      const r = start(sys, ['jobs', '--once', '--only', 'notices']);
      await sleep(ms);
      r.child.kill('SIGKILL');
      const e = await r.done;
      killedAt.push(`${ms} ms: ${e.signal ?? `exit ${e.code}`}, ${one(sys, 'SELECT count(*) FROM outbox')} mails`);
      if (e.signal !== 'SIGKILL') assert.equal(e.code, 0, `finished before the kill, then successfully\n${e.out}`);
      assertConsistent(sys, `after SIGKILL at ${ms} ms`);
    }
    t.diagnostic(`SIGKILL after ${killedAt.join('; ')}`);
    ok(sys, ['jobs', '--once', '--only', 'notices']);
    assertExactlyOnce(sys, 3000 + DUE_N, `after SIGKILL + rerun (${killedAt.join('; ')})`);
    const v = cr(sys, ['audit-verify']);
    assert.equal(v.status, 0, `audit chain verifies\n${v.out}`);
  });
});

// ---------------------------------------------------------------- 7. reminders

/** WONG's certificates now expire in 5 days, and their notice was sent 20 days ago. */
function ageWongNotice(sys) {
  const ids = certsOf(sys, WONG.sub).map((c) => c.id).join(',');
  sql(sys, `BEGIN;
    UPDATE certificates SET not_after = ${NOW(sys)} + 5 * 86400 WHERE id IN (${ids});
    UPDATE notices SET not_after = (SELECT not_after FROM certificates c WHERE c.id = notices.cert_id),
      created_at = created_at - 20 * 86400 WHERE cert_id IN (${ids});
    UPDATE outbox SET created_at = created_at - 20 * 86400, sent_at = sent_at - 20 * 86400
      WHERE id IN (SELECT outbox_id FROM notices WHERE cert_id IN (${ids}));
    COMMIT;`);
  return ids;
}

test('reminders: one (not two) for a certificate due in 5 days whose notice went out 20 days ago', T, async () => {
  await withSystem(async (sys) => {
    const smtp = await sys.smtp();
    const env = { CERTRENEW_SMTP_URL: smtp.url };
    ok(sys, ['jobs', '--once'], env);
    assert.equal(smtp.messages().length, DUE_N, 'the notices');
    ageWongNotice(sys);

    ok(sys, ['jobs', '--once'], env);
    const fresh = smtp.messages().slice(DUE_N);
    assert.equal(fresh.length, 1, `one reminder: ${fresh.map((m) => `${m.header('x-rcptto')} ${m.subject}`).join('; ')}`);
    const m = fresh[0];
    assert.equal(m.header('x-rcptto'), WONG.email);
    assert.equal(m.subject, SUBJECT_REMINDER);
    assert.ok(m.subject.endsWith('《待續期》提示'));
    assert.ok(m.text.startsWith(`${SEED_GREETING(WONG.name)}\n`), m.text);
    assert.ok(m.text.includes(LOGIN_URL));
    for (const c of certsOf(sys, WONG.sub)) assert.ok(m.text.includes(c.serial), `reminder lists ${c.serial}`);
    const rem = outbox(sys).filter((r) => r.kind !== 'notice');
    assert.deepEqual(rem.map((r) => [r.kind, r.to_addr, r.subject]), [['reminder', WONG.email, SUBJECT_REMINDER]]);
    const kinds = sql(sys, "SELECT kind, count(*) AS n FROM notices WHERE kind <> 'notice' GROUP BY kind");
    assert.equal(kinds.length, 1, `one kind of reminder recorded: ${JSON.stringify(kinds)}`);
    assert.equal(kinds[0].n, WONG_CERTS, 'for each of WONG\'s certificates');

    ok(sys, ['jobs', '--once'], env);
    assert.equal(smtp.messages().length, DUE_N + 1, 'the next run sends no second reminder');
    assert.equal(outbox(sys).length, DUE_N + 1);
  });
});

test('reminders: none once the holder finished verification (renewal pending_activation)', T, async () => {
  await withSystem(async (sys) => {
    const smtp = await sys.smtp();
    const env = { CERTRENEW_SMTP_URL: smtp.url };
    ok(sys, ['jobs', '--once'], env);
    const ids = ageWongNotice(sys);
    sql(sys, `INSERT INTO renewals (cert_id, state, application_id, updated_at)
      SELECT id, 'pending_activation', NULL, ${NOW(sys)} FROM certificates WHERE id IN (${ids})`);
    ok(sys, ['jobs', '--once'], env);
    assert.equal(smtp.messages().length, DUE_N, 'no reminder');
    assert.equal(one(sys, "SELECT count(*) FROM notices WHERE kind <> 'notice'"), 0);
    assert.equal(one(sys, "SELECT count(*) FROM outbox WHERE kind <> 'notice'"), 0);
  });
});

// ---------------------------------------------------------------- 8. a slow SMTP server and the lease

test('a slow SMTP server and two delivery workers: no message is sent twice while its sender still holds it', T, async (t) => {
  await withSystem(async (sys) => {
    // A short lease (mail.lease_seconds) and a server that takes DELAY s per message: a batch of the old
    // size (50) takes far longer than the lease, so a worker that does not hold its messages for as long
    // as it is sending them lets the other worker take and send them too.
    const LEASE = 6;
    const DELAY = 0.4;
    addHolders(sys, 50, { certs: 1, days: 10 });
    ok(sys, ['jobs', '--once', '--only', 'notices']);
    const total = one(sys, 'SELECT count(*) FROM outbox');
    assert.ok(total * DELAY > 2 * LEASE, `enough mail to outlive the lease (${total} messages)`);
    const smtp = await sys.smtp({ delaySeconds: DELAY });
    const env = { CERTRENEW_SMTP_URL: smtp.url, CERTRENEW_MAIL_LEASE_SECONDS: String(LEASE) };
    const t0 = Date.now();
    const deadline = t0 + 40_000;
    const pending = () => one(sys, "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')");
    // Each worker is a cron-like loop of one-pass runs, so a worker that finished looks again at once and
    // takes whatever it finds claimable, as another process would.
    const worker = async () => {
      let sent = 0;
      const outs = [];
      while (Date.now() < deadline) {
        const e = await start(sys, ['jobs', '--once', '--only', 'deliver'], env, 45_000).done;
        assert.equal(e.code, 0, `a delivery run failed (${e.code ?? e.signal})\n${e.out}`);
        outs.push(e.out);
        sent += Number((/delivery: (\d+) sent/.exec(e.out) || [0, 0])[1]);
        if (pending() === 0) break;
        await sleep(100);
      }
      return { sent, outs };
    };
    const [a, b] = await Promise.all([worker(), worker()]);
    const secs = (Date.now() - t0) / 1000;
    t.diagnostic(`${total} messages in ${secs.toFixed(1)} s; sent by each worker: ${a.sent} + ${b.sent}`);

    const msgs = smtp.messages();
    const perId = new Map();
    for (const m of msgs) perId.set(m.messageId, (perId.get(m.messageId) || 0) + 1);
    const twice = [...perId].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`);
    assert.deepEqual(twice, [], `Message-IDs delivered more than once (${msgs.length} deliveries of ${total} messages)`);
    const ids = sql(sys, 'SELECT message_id FROM outbox').map((r) => r.message_id).sort();
    assert.deepEqual([...perId.keys()].sort(), ids, 'every queued message delivered');
    assert.equal(one(sys, "SELECT count(*) FROM outbox WHERE state <> 'sent'"), 0, 'all marked sent');
    assert.equal(a.sent + b.sent, total, 'the workers\' own counts add up');
    assert.ok(a.sent > 0 && b.sent > 0, `both workers sent mail (${a.sent} + ${b.sent})`);
    assert.ok(secs > LEASE, `the delivery outlived the lease (${secs.toFixed(1)} s)`);
    assert.ok(secs < 40, `bounded (${secs.toFixed(1)} s)`);
  });
});
