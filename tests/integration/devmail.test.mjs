// DEV mail viewer (issue 3): after a `certrenew jobs --once` run, /dev/mail on the portal lists the outbox
// newest first and /dev/mail/message?id=N shows a message in full from its envelope (headers, the text
// part, the HTML source); the notice's link opens the portal. In
// production mode the viewer does not exist (404). The database is read through sys.sql (either backend).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  startSystem, CookieJar, login, elements, run, freePort, waitHealthy, sleep,
  CERTRENEW, ROOT, WONG, CHAN, TEST_TIMEOUT,
} from '../lib/harness.mjs';
import { dueEmails } from '../lib/demo.mjs';

const T = { timeout: TEST_TIMEOUT };
// What production needs of a portal that calls nothing outside (cr_config_check_mode): https everywhere,
// SMTP over TLS.
const PROD = {
  CERTRENEW_MODE: 'prod', CERTRENEW_BASE_URL: 'https://certrenew.invalid', CERTRENEW_GOVID_ISSUER: 'https://govid.invalid',
  CERTRENEW_DSI_BASE_URL: 'https://dsi.invalid', CERTRENEW_SIGNING_BASE_URL: 'https://signing.invalid',
  CERTRENEW_SMTP_URL: 'smtps://smtp.invalid',
};
const SUBJECT_NOTICE = 'eSignTrust 電子證書服務（政府機關） - 部門用戶電子證書續期《待續期》通知';

let sys;
let jobsOut;
before(async () => {
  sys = await startSystem();
  jobsOut = run(CERTRENEW, ['jobs', '--once'], sys.env); // no smtp.url: delivered as var/mail/*.eml
}, { timeout: 120_000 });
after(async () => { if (sys) await sys.stop().catch(() => {}); });

const sql = (query) => sys.sql(query);

async function get(url) {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  res.html = await res.text();
  return res;
}

/** The rows of the /dev/mail table: { id, kind, to, subject, href }. */
function mailRows(html) {
  return elements(html, 'tr').filter((tr) => tr.attrs['data-id']).map((tr) => {
    const a = elements(tr.inner, 'a')[0];
    return {
      id: Number(tr.attrs['data-id']),
      kind: tr.attrs['data-kind'],
      to: elements(tr.inner, 'td').find((td) => (td.attrs.class || '').split(/\s+/).includes('to'))?.text,
      subject: a?.text,
      href: a?.attrs.href,
    };
  });
}

test('GET /dev/mail lists the messages newest first, with their subject', T, async () => {
  const res = await get(`${sys.base}/dev/mail`);
  assert.equal(res.status, 200);
  const rows = mailRows(res.html);
  const db = sql('SELECT id, kind, to_addr, subject FROM outbox ORDER BY id DESC');
  // One notice per due demo holder (derived from demo/people.json: WONG, CHAN and whoever else is due).
  const due = dueEmails();
  assert.ok(due.includes(WONG.email) && due.includes(CHAN.email), 'WONG and CHAN are due');
  assert.equal(db.length, due.length, `the run queued one notice per due holder (${due.join(', ')})\n${jobsOut}`);
  assert.deepEqual(rows.map((r) => r.id), db.map((r) => r.id), 'every message, newest (highest id) first');
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].id > rows[i].id, 'descending');
  for (const r of rows) {
    const d = db.find((x) => x.id === r.id);
    assert.equal(r.subject, SUBJECT_NOTICE);
    assert.equal(r.to, d.to_addr);
    assert.equal(r.kind, 'notice');
    assert.equal(r.href, `/dev/mail/message?id=${r.id}`);
  }
  assert.deepEqual(rows.map((r) => r.to).sort(), due);
});

test('GET /dev/mail/message?id=N shows the notice in full; its link opens the portal', T, async () => {
  const { id, message_id: messageId } = sql(`SELECT id, message_id FROM outbox WHERE to_addr = '${WONG.email}'`)[0];
  const res = await get(`${sys.base}/dev/mail/message?id=${id}`);
  assert.equal(res.status, 200);
  const subject = elements(res.html, 'h1').find((h) => (h.attrs.class || '').includes('subject'));
  assert.equal(subject?.text, SUBJECT_NOTICE);
  // The headers of the message delivery sends, from the envelope.
  const dd = (cls) => elements(res.html, 'dd').find((d) => (d.attrs.class || '').split(/\s+/).includes(cls))?.text;
  assert.equal(dd('from'), 'eSignTrust 電子認證服務 <noreply@esigntrust.com>');
  assert.equal(dd('to'), WONG.email);
  assert.equal(dd('subject'), SUBJECT_NOTICE);
  assert.equal(dd('message-id'), messageId);
  assert.ok(Math.abs(Date.parse(dd('date')) - Date.now()) < 10 * 60_000, `Date is the queueing time: ${dd('date')}`);
  const body = elements(res.html, 'pre').find((p) => (p.attrs.class || '').includes('mail-body'));
  assert.ok(body, 'the text part is shown');
  const html = elements(res.html, 'pre').find((p) => (p.attrs.class || '').includes('mail-html'));
  assert.ok(html?.text.includes(`尊敬的 ${WONG.name} 君`), 'the HTML part is shown as source');
  assert.ok(body.text.includes(`尊敬的 ${WONG.name} 君`), body.text);
  const serials = sql(`SELECT serial_hex FROM certificates c JOIN people p ON p.id = c.holder_id
    WHERE p.govid_sub = '${WONG.sub}'`).map((r) => r.serial_hex);
  for (const s of serials) assert.ok(body.text.includes(s), `lists ${s}`);

  // The link of the notice is the configured base URL + /ecmp/certrenewal, and opens the portal's page.
  const link = `${sys.base}/ecmp/certrenewal`;
  assert.ok(body.text.includes(link), `the notice links ${link}`);
  const anon = await get(link);
  assert.ok([200, 302, 303].includes(anon.status), `the link answers (${anon.status})`);
  const jar = new CookieJar();
  await login(jar, WONG.sub, sys.base);
  const page = await jar.fetch(link);
  assert.equal(page.status, 200, 'logged in, the link shows the renewal page');
});

test('/dev/mail/message with a bad id answers 404', T, async () => {
  const max = sql('SELECT max(id) AS m FROM outbox')[0].m;
  for (const q of [`?id=${max + 1000}`, '?id=0', '?id=-1', '?id=abc', '?id=1x', '?id=', '']) {
    const res = await get(`${sys.base}/dev/mail/message${q}`);
    assert.equal(res.status, 404, `id query ${JSON.stringify(q)}`);
    assert.ok(!res.html.includes('尊敬的'), 'no message shown');
  }
});

test('in production mode /dev/mail does not exist (404)', T, async () => {
  const port = await freePort();
  // Production reaches GovID, DSI and the signing service over https only, has an https base_url, sends
  // mail over SMTP with TLS (cr_config_check_mode) and names the GovID CA of signing certificates
  // (cmd_serve.c refuses to start otherwise); nothing here calls them.
  const env = {
    ...sys.env, ...PROD, CERTRENEW_LISTEN: `127.0.0.1:${port}`,
    CERTRENEW_SIGNING_TRUST_FILE: path.join(sys.varDir, 'govsim', 'govid-ca.pem'),
  };
  const child = spawn(CERTRENEW, ['serve'], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { out += b; });
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    await Promise.race([
      waitHealthy(`http://127.0.0.1:${port}/healthz`, null, 15_000),
      exited.then((e) => { throw new Error(`prod portal exited early ${JSON.stringify(e)}\n${out}`); }),
    ]);
    assert.match(out, /production mode/);
    for (const p of ['/dev/mail', '/dev/mail/message?id=1']) {
      const res = await get(`http://127.0.0.1:${port}${p}`);
      assert.equal(res.status, 404, `${p} in production`);
      assert.ok(!res.html.includes(SUBJECT_NOTICE), 'no mail shown');
    }
    // The DEV portal on the same database still shows them (same var dir, different mode).
    assert.equal((await get(`${sys.base}/dev/mail`)).status, 200);
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
    child.kill('SIGKILL');
    clearTimeout(killer);
  }
});

// Fail closed: production without the GovID CA of signing certificates, or with a plain-HTTP signing
// service, does not start.
test('in production the portal refuses a missing signing trust file or a plain-HTTP signing service', T, async () => {
  const base = { ...sys.env, ...PROD, CERTRENEW_LISTEN: `127.0.0.1:${await freePort()}` };
  for (const [label, extra, why] of [
    ['no trust file', {}, /signing\.trust_file/],
    ['http signing', { CERTRENEW_SIGNING_BASE_URL: 'http://127.0.0.1:9', CERTRENEW_SIGNING_TRUST_FILE: path.join(sys.varDir, 'govsim', 'govid-ca.pem') }, /config key 'signing\.base_url': must be an https/],
  ]) {
    const r = spawnSync(CERTRENEW, ['serve'], { env: { ...base, ...extra }, cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(r.status, 0, `${label}: refused`);
    assert.match(r.stderr + r.stdout, why, label);
  }
});
