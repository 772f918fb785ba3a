// Two portal instances over one PostgreSQL behind nginx (deploy/nginx.conf), as in production (issue 5):
//   - nginx terminates TLS with a throw-away self-signed certificate (trusted by the test's client only),
//     redirects HTTP to HTTPS, sets HSTS once, refuses bodies over the portal's cap;
//   - a full GovID login THROUGH nginx over https (govsim redirects to the https callback); the session
//     cookie is Secure; the same cookie then works on instance A and on instance B directly (sessions and
//     flow state live in the database) and a step started on one continues on the other;
//   - logout through nginx ends the session on both instances; nginx spreads requests over both;
//   - the audit log records the client address from X-Forwarded-For when (and only when) the TCP peer is a
//     trusted proxy: a forged header from the client through nginx, or sent straight to an instance from an
//     untrusted peer, or to an instance with no trusted proxies, is ignored; garbage falls back to the peer.
// Needs nginx (scripts/install-deps.sh) and PostgreSQL 15. It always runs on PostgreSQL, so the
// CR_TEST_DB=postgres pass of the suite skips it (it would run the same thing twice). Bounded throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import {
  System, DB_KIND, CERTRENEW, Daemon, WONG, CHAN, freePort, waitHealthy, login, beginLogin, govsimApprove,
  parsePending, forms, textOf, run,
} from '../lib/harness.mjs';
import { sharedPg } from '../lib/postgres.mjs';
import { NGINX, TlsJar, makeCert, startNginx, errorLog } from '../lib/nginx.mjs';

const SKIP = DB_KIND === 'postgres'
  ? 'always runs on its own PostgreSQL in the plain integration pass; not repeated under CR_TEST_DB=postgres'
  : false;
const T = { timeout: 120_000, skip: SKIP };
const P = '/ecmp/certrenewal';

let sys;
let nginx;
let ngxDir;
let cert;
let https; // https://127.0.0.1:PORT (nginx)
let httpPort;
const inst = {}; // A, B (trusted proxy 127.0.0.1), C (no trusted proxies): { port, base, daemon }

before(async () => {
  if (SKIP) return;
  if (!existsSync(NGINX) && NGINX.startsWith('/')) throw new Error(`${NGINX} missing: run scripts/install-deps.sh (apt-get install nginx)`);
  const pg = await sharedPg();
  sys = await System.prepare({ db: 'postgres', pg });
  const httpsPort = await freePort();
  httpPort = await freePort();
  https = `https://127.0.0.1:${httpsPort}`;
  // govsim's one redirect URI, and every instance's base_url: the public https address.
  sys.base = https;
  await sys.startGovsim();

  inst.A = { port: sys.port };
  inst.B = { port: await freePort() };
  inst.C = { port: await freePort() };
  for (const [name, i] of Object.entries(inst)) {
    i.base = `http://127.0.0.1:${i.port}`;
    const env = {
      ...sys.env,
      CERTRENEW_BASE_URL: https,
      CERTRENEW_LISTEN: `127.0.0.1:${i.port}`,
      CERTRENEW_HTTP_TRUSTED_PROXIES: name === 'C' ? '' : '127.0.0.1',
    };
    i.daemon = new Daemon(`certrenew serve ${name}`, CERTRENEW, ['serve'], env, path.join(sys.varDir, `serve-${name}.log`));
    sys.daemons.push(i.daemon);
    await waitHealthy(`${i.base}/healthz`, i.daemon);
  }

  ngxDir = path.join(sys.varDir, 'nginx');
  cert = makeCert(path.join(ngxDir, 'tls'));
  nginx = await startNginx({
    dir: ngxDir, httpPort, httpsPort, upstreams: [`127.0.0.1:${inst.A.port}`, `127.0.0.1:${inst.B.port}`],
    cert: cert.cert, key: cert.key, pem: cert.pem,
  });
  sys.daemons.push(nginx); // stopped (first: newest first) by sys.stop()
}, { timeout: 120_000 });

after(async () => {
  if (sys) await sys.stop();
});

const jar = (localAddress) => new TlsJar({ ca: cert.pem, localAddress });
const auditRows = (after) => sys.sql(`SELECT id, action, actor, ip FROM audit_log WHERE id > ${after} ORDER BY id`);
const lastAudit = () => Number(sys.sql('SELECT coalesce(max(id), 0) AS n FROM audit_log')[0].n);

/** GovID login that ends with the callback sent to `callbackBase` (an instance, directly) with extra headers. */
async function loginDirect(j, callbackBase, headers = {}) {
  const authorize = await beginLogin(j, https);
  const callback = new URL(await govsimApprove(j, authorize, WONG.sub));
  assert.equal(`${callback.origin}${callback.pathname}`, `${https}/auth/callback`, 'govsim redirects to the https callback');
  const direct = `${callbackBase}${callback.pathname}${callback.search}`;
  const res = await j.fetch(direct, { headers });
  assert.equal(res.status, 302, `callback on ${callbackBase}\n${res.html.slice(0, 300)}`);
  assert.equal(new URL(res.location).pathname, '/home');
  return res;
}

test('nginx: HTTP is redirected to HTTPS, TLS is modern, HSTS once, bodies over the cap refused', T, async () => {
  const plain = await jar().fetch(`http://127.0.0.1:${httpPort}${P}?x=1`);
  assert.equal(plain.status, 301);
  assert.equal(plain.location, `${https}${P}?x=1`);

  const land = await jar().fetch(`${https}/`);
  assert.equal(land.status, 200);
  assert.equal(land.tls.protocol, 'TLSv1.3', 'TLS 1.3 by default');
  const hsts = land.headers.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'strict-transport-security');
  assert.equal(hsts.length, 1, 'one HSTS header (the portal\'s own copy is hidden)');
  assert.match(land.headers.get('strict-transport-security'), /max-age=\d{8}/);
  assert.equal(land.headers.get('server'), 'nginx', 'no version in the Server header');

  const v12 = await jar().fetch(`${https}/healthz`, { maxVersion: 'TLSv1.2' });
  assert.equal(v12.status, 200);
  assert.equal(v12.tls.protocol, 'TLSv1.2');
  assert.match(v12.tls.cipher, /^ECDHE-.*(GCM|CHACHA20)/, `an AEAD ECDHE suite on TLS 1.2 (${v12.tls.cipher})`);
  await assert.rejects(jar().fetch(`${https}/healthz`, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }),
    'TLS 1.1 is refused');
  // The portal's cap is 64 KiB: nginx refuses more before an instance sees it.
  const big = await jar().fetch(`${https}/logout`, { form: { csrf: 'x', pad: 'a'.repeat(100_000) } });
  assert.equal(big.status, 413);
});

test('login through nginx over https; the session continues on instance A and on instance B', T, async () => {
  const before = lastAudit();
  const j = jar();
  // A forged X-Forwarded-For from the client: nginx replaces it with the address it sees.
  const origFetch = j.fetch.bind(j);
  j.fetch = (url, opts = {}) => origFetch(url, url.startsWith(https)
    ? { ...opts, headers: { ...(opts.headers || {}), 'X-Forwarded-For': '203.0.113.66' } } : opts);
  const res = await login(j, WONG.sub, https);
  assert.equal(new URL(res.callbackUrl).origin, https, 'the callback came through nginx');
  const line = res.setCookies.find((c) => c.startsWith('cr_session='));
  assert.ok(line, 'a session cookie');
  assert.match(line, /;\s*Secure/i, `the session cookie is Secure: ${line}`);
  assert.match(line, /;\s*HttpOnly/i);
  const loginFlow = res.setCookies.find((c) => c.startsWith('cr_login='));
  if (loginFlow) assert.match(loginFlow, /;\s*Secure/i, 'the login-flow cookie is Secure too');

  const via = await j.fetch(`${https}${P}`);
  assert.equal(via.status, 200);
  const pages = {};
  for (const name of ['A', 'B']) {
    const r = await j.fetch(`${inst[name].base}${P}`);
    assert.equal(r.status, 200, `instance ${name} serves the pending page with the same cookie`);
    assert.ok(textOf(r.html).includes(WONG.name), `instance ${name} shows WONG`);
    pages[name] = parsePending(r.html);
  }
  const want = parsePending(via.html);
  assert.equal(Object.values(want.verify.counts).reduce((a, b) => a + b, 0), 3, 'WONG has three certificates to verify');
  assert.deepEqual(pages.A, want, 'instance A: the same counts');
  assert.deepEqual(pages.B, want, 'instance B: the same counts');

  // A step started on A continues on B: the form from A is posted to B, B's answer is followed on A.
  const list = await j.fetch(`${inst.A.base}${P}/verify`);
  assert.equal(list.status, 200);
  const start = forms(list.html).find((f) => f.attrs.action === `${P}/start`);
  assert.ok(start, 'the start form on A');
  const started = await j.fetch(`${inst.B.base}${P}/start`, { form: start.fields });
  assert.equal(started.status, 302, `POST start on B with A's form\n${started.html.slice(0, 300)}`);
  const consent = new URL(started.location);
  assert.equal(consent.pathname, `${P}/consent`);
  const onA = await j.fetch(`${inst.A.base}${consent.pathname}${consent.search}`);
  assert.equal(onA.status, 200, 'the consent page of the application made on B, on A');

  // The audit log: the login's address is nginx's view of the client (127.0.0.1), never the forged one.
  const rows = auditRows(before);
  const logins = rows.filter((r) => r.action === 'login');
  assert.equal(logins.length, 1);
  assert.equal(logins[0].ip, '127.0.0.1');
  assert.ok(rows.every((r) => r.ip !== '203.0.113.66'), 'the forged address is recorded nowhere');
});

test('X-Forwarded-For is believed only from a trusted proxy', T, async () => {
  // Through nginx from another loopback source: the instances' peer is nginx (127.0.0.1, trusted), so
  // the recorded address can only have come from X-Forwarded-For.
  let before = lastAudit();
  await login(jar('127.0.0.2'), WONG.sub, https);
  assert.deepEqual(auditRows(before).filter((r) => r.action === 'login').map((r) => r.ip), ['127.0.0.2'],
    'through nginx: the client address from X-Forwarded-For');

  // Straight to instance A from 127.0.0.2 (not a trusted proxy) with a forged header: ignored.
  before = lastAudit();
  await loginDirect(jar('127.0.0.2'), inst.A.base, { 'X-Forwarded-For': '198.51.100.23' });
  assert.deepEqual(auditRows(before).filter((r) => r.action === 'login').map((r) => r.ip), ['127.0.0.2'],
    'an untrusted peer: its own address, not the forged one');

  // Instance C trusts no proxy: a header from 127.0.0.1 is ignored too.
  before = lastAudit();
  await loginDirect(jar(), inst.C.base, { 'X-Forwarded-For': '198.51.100.24' });
  assert.deepEqual(auditRows(before).filter((r) => r.action === 'login').map((r) => r.ip), ['127.0.0.1'],
    'no trusted proxies: the peer address');

  // A trusted peer (127.0.0.1 on A) that sends garbage: the peer's address, and a warning in the log.
  before = lastAudit();
  await loginDirect(jar(), inst.A.base, { 'X-Forwarded-For': 'unknown, <script>' });
  assert.deepEqual(auditRows(before).filter((r) => r.action === 'login').map((r) => r.ip), ['127.0.0.1'],
    'garbage from a trusted peer: the peer address');
  // The log arrives through a pipe: wait for it (bounded) rather than race it on a busy machine.
  const logged = /unusable X-Forwarded-For from trusted proxy 127\.0\.0\.1/;
  for (let i = 0; i < 50 && !logged.test(inst.A.daemon.output); i += 1) await new Promise((r) => setTimeout(r, 100));
  assert.match(inst.A.daemon.output, logged);

  // A trusted peer's well-formed header is what gets recorded (that is what nginx relies on).
  before = lastAudit();
  await loginDirect(jar(), inst.A.base, { 'X-Forwarded-For': '198.51.100.7, 127.0.0.1' });
  assert.deepEqual(auditRows(before).filter((r) => r.action === 'login').map((r) => r.ip), ['198.51.100.7'],
    'a trusted peer: the last hop that is not a trusted proxy');
});

test('logout through nginx ends the session on both instances; nginx uses both instances', T, async () => {
  const servedBy = () => ({
    A: (inst.A.daemon.output.match(/POST \/logout 302/g) || []).length,
    B: (inst.B.daemon.output.match(/POST \/logout 302/g) || []).length,
  });
  const start = servedBy();
  // Bounded: nginx alternates between the two (least_conn, ties round robin), so two rounds normally do.
  for (let round = 0; round < 6; round += 1) {
    const j = jar();
    await login(j, round % 2 ? CHAN.sub : WONG.sub, https);
    for (const name of ['A', 'B']) {
      assert.equal((await j.fetch(`${inst[name].base}/home`)).status, 200, `round ${round}: logged in on ${name}`);
    }
    const home = await j.fetch(`${https}/home`);
    const form = forms(home.html).find((f) => f.attrs.action === '/logout');
    assert.ok(form, 'the logout form');
    const sid = j.get('cr_session').value;
    const out = await j.fetch(`${https}/logout`, { form: form.fields });
    assert.equal(out.status, 302, `logout through nginx\n${out.html.slice(0, 300)}`);
    for (const name of ['A', 'B']) {
      const r = await j.fetch(`${inst[name].base}/home`, { headers: { cookie: `cr_session=${sid}` } });
      assert.notEqual(r.status, 200, `round ${round}: the old session is dead on ${name}`);
    }
    const now = servedBy();
    if (now.A > start.A && now.B > start.B) break;
  }
  const end = servedBy();
  assert.ok(end.A > start.A && end.B > start.B, `logouts served by both instances: ${JSON.stringify({ start, end })}`);
  const log = readFileSync(path.join(ngxDir, 'access.log'), 'utf8');
  for (const name of ['A', 'B']) {
    assert.ok(log.includes(`upstream=127.0.0.1:${inst[name].port}`), `nginx sent requests to ${name}\n${errorLog(ngxDir)}`);
  }
  const v = sys.sql("SELECT count(*) AS n FROM audit_log WHERE action = 'logout' AND ip = '127.0.0.1'")[0];
  assert.ok(Number(v.n) >= 2, 'logouts audited with the client address');
  assert.match(run(CERTRENEW, ['audit-verify'], sys.env), /audit log OK/);
});
