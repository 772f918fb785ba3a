// govsim's very-high e-ID (docs/internals/eid.md): the QR code page, the phone's view, polling, continue,
// the ID token of a very-high login and the eid_* test failures, against the real binary started alone
// (its own temp dir, a loopback port, --test-faults).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CookieJar, Daemon, GOVSIM, PEOPLE, freePort, waitHealthy, forms, textOf, TEST_TIMEOUT } from '../lib/harness.mjs';
import { eidApprove, eidAuthorizeUrl, eidLogin, eidPage, eidPhone, redeem, jwtClaims } from '../lib/eid.mjs';

const T = { timeout: TEST_TIMEOUT };
const SECRET = 'client-secret';
const REDIRECT = 'http://127.0.0.1:1/eid/callback';
const WONG = { sub: 'govid-1000001', name: 'xxxx xexx WONG', id: '1234567(8)' };
const CHAN = { sub: 'govid-1000002', id: '5123456(7)' };

let dir;
let base;
let sim;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'govsim-eid-'));
  writeFileSync(path.join(dir, 'client_secret'), `${SECRET}\n`, { mode: 0o600 });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  sim = new Daemon('govsim', GOVSIM, [
    '--listen', `127.0.0.1:${port}`, '--issuer', base, '--data-dir', path.join(dir, 'govsim'),
    '--people', PEOPLE, '--client-id', 'certrenew', '--client-secret-file', path.join(dir, 'client_secret'),
    '--redirect-uri', REDIRECT, '--test-faults',
  ], process.env, path.join(dir, 'govsim.log'));
  await waitHealthy(`${base}/healthz`, sim);
}, { timeout: 60_000 });

after(async () => {
  if (sim) await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

const authz = (opts = {}) => eidAuthorizeUrl(base, { redirectUri: REDIRECT, loginHint: WONG.sub, ...opts });
const login = (opts = {}) => eidLogin(base, { redirectUri: REDIRECT, secret: SECRET, loginHint: WONG.sub, ...opts });

async function arm(name) {
  const res = await fetch(`${base}/sim/faults`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `next=${name}`, signal: AbortSignal.timeout(5_000),
  });
  assert.equal(res.status, 200, `arm ${name}`);
}

async function statusOf(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  assert.match(res.headers.get('content-type'), /^application\/json/);
  return res.json();
}

/** The redirect of a refused authorization request: { error, error_description, state }. */
async function refusedWith(a) {
  const res = await new CookieJar().fetch(a.url);
  assert.equal(res.status, 302, `expected a redirect, got ${res.status}: ${textOf(res.html).slice(0, 200)}`);
  const u = new URL(res.location);
  assert.equal(`${u.origin}${u.pathname}`, REDIRECT);
  return Object.fromEntries(u.searchParams);
}

test('approve on the phone: code + state back, a very-high ID token with amr, resident_number, fresh auth_time', T, async () => {
  const before = Math.floor(Date.now() / 1000);
  const { tokens, claims, callback, request } = await login();
  assert.equal(callback.searchParams.get('state'), request.state);
  assert.equal(claims.iss, base);
  assert.equal(claims.sub, WONG.sub);
  assert.equal(claims.aud, 'certrenew');
  assert.equal(claims.nonce, request.nonce);
  assert.equal(claims.acr, 'govid:very-high');
  assert.deepEqual(claims.amr, ['face']);
  assert.equal(claims.resident_number, WONG.id);
  assert.equal(claims.name, WONG.name);
  assert.ok(claims.auth_time >= before - 1 && claims.auth_time <= Math.floor(Date.now() / 1000) + 1,
    `auth_time ${claims.auth_time} is the approval time`);
  assert.equal(tokens.token_type, 'Bearer');
  const ui = await fetch(`${base}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(ui.status, 200);
  assert.equal((await ui.json()).sub, WONG.sub);
});

test('the page: QR code PNG decodes to the one-time scan URL, DEV link in a new tab, poll.js, CSP without inline script', T, async () => {
  const jar = new CookieJar();
  const a = authz({ binding: 'R2026-000042' });
  const p = await eidPage(jar, a.url);
  assert.match(textOf(p.res.html), /電子身份識別/);
  assert.match(textOf(p.res.html), /R2026-000042/);
  assert.equal(p.scan.target, '_blank');
  assert.match(p.scan.rel, /noopener/);
  assert.match(p.scanUrl, new RegExp(`^${base}/eid/scan/[A-Za-z0-9_-]{43}$`));
  const poll = /\/eid\/qr\/([A-Za-z0-9_-]{43})\.png$/.exec(p.qrUrl)[1];
  assert.ok(!p.scanUrl.includes(poll), 'scan and poll secrets differ');
  assert.ok(p.statusUrl.endsWith(`/eid/status/${poll}`));
  assert.ok(p.continueUrl.endsWith(`/eid/continue/${poll}`));

  const csp = p.res.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.doesNotMatch(p.res.html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.ok(p.scriptUrl.endsWith('/eid/poll.js'));
  const js = await fetch(p.scriptUrl);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  const src = await js.text();
  assert.match(src, /data-status/);
  assert.match(src, /setTimeout\(tick, 1000\)/);

  const png = await fetch(p.qrUrl);
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
  const file = path.join(dir, 'qr.png');
  writeFileSync(file, Buffer.from(await png.arrayBuffer()));
  const z = spawnSync('zbarimg', ['--raw', '-q', file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(z.status, 0, z.stderr);
  assert.equal(z.stdout.trim(), p.scanUrl);
});

test('status JSON and continue: waiting, the page again, approved with the continue URL, once', T, async () => {
  const jar = new CookieJar();
  const a = authz();
  const p = await eidPage(jar, a.url);
  assert.deepEqual(await statusOf(p.statusUrl), { status: 'waiting', state: 'waiting' });
  const early = await jar.fetch(p.continueUrl);
  assert.equal(early.status, 200, 'continue before the phone answered shows the page again');
  assert.match(early.html, /\/eid\/qr\//);

  const { view, post } = await eidPhone(p.scanUrl);
  assert.match(textOf(view.html), /人臉識別成功/);
  assert.match(textOf(view.html), /R2026-000001/);
  assert.match(textOf(view.html), new RegExp(WONG.name));
  assert.equal(post.status, 200);
  assert.deepEqual(await statusOf(p.statusUrl),
    { status: 'done', state: 'approved', location: p.continueUrl });

  const done = await jar.fetch(p.continueUrl);
  assert.equal(done.status, 303);
  const cb = new URL(done.location);
  assert.equal(cb.searchParams.get('state'), a.state);
  assert.ok(cb.searchParams.get('code'));
  assert.equal((await jar.fetch(p.continueUrl)).status, 410, 'a poll secret gives its redirect once');
  assert.equal((await statusOf(p.statusUrl)).status, 'expired');
  assert.equal((await fetch(p.qrUrl)).status, 404);
});

test('refuse on the phone: access_denied with the state', T, async () => {
  const a = authz();
  const loc = new URL(await eidApprove(null, a.url, { decision: 'refuse' }));
  assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT);
  assert.equal(loc.searchParams.get('error'), 'access_denied');
  assert.equal(loc.searchParams.get('state'), a.state);
  assert.equal(loc.searchParams.get('code'), null);
});

test('the scan URL is one use: a second view and a replayed post are refused', T, async () => {
  const jar = new CookieJar();
  const p = await eidPage(jar, authz().url);
  const phone = new CookieJar();
  const view = await phone.fetch(p.scanUrl);
  assert.equal(view.status, 200);
  const second = await new CookieJar().fetch(p.scanUrl);
  assert.equal(second.status, 410);
  assert.match(textOf(second.html), /已使用或已逾時/);
  const form = forms(view.html)[0];
  const action = new URL(form.attrs.action, p.scanUrl).toString();
  const forged = await phone.fetch(action, { form: { tx: 'x'.repeat(43), decision: 'approve' } });
  assert.equal(forged.status, 403, 'a wrong one-time field is refused');
  assert.equal((await phone.fetch(action, { form: { ...form.fields, decision: 'approve' } })).status, 200);
  assert.equal((await phone.fetch(action, { form: { ...form.fields, decision: 'refuse' } })).status, 410);
  assert.equal((await statusOf(p.statusUrl)).state, 'approved');
});

test('another person\'s phone (DEV as=): the code is for that account', T, async () => {
  const { claims } = await login({ as: CHAN.sub });
  assert.equal(claims.sub, CHAN.sub);
  assert.equal(claims.resident_number, CHAN.id);
  assert.equal(claims.acr, 'govid:very-high');
});

test('requests the e-ID refuses: no login_hint, unknown login_hint, no prompt=login, no or long binding_message', T, async () => {
  for (const [params, re] of [
    [{ login_hint: null }, /login_hint/],
    [{ login_hint: 'govid-9999999' }, /login_hint/],
    [{ prompt: null }, /prompt=login/],
    [{ prompt: 'consent' }, /prompt=login/],
    [{ binding_message: null }, /binding_message/],
    [{ binding_message: '申'.repeat(65) }, /binding_message/],
  ]) {
    const a = authz({ params });
    const q = await refusedWith(a);
    assert.equal(q.error, 'invalid_request', JSON.stringify(params));
    assert.match(q.error_description, re);
    assert.equal(q.state, a.state);
  }
  // 64 characters (192 bytes of UTF-8) are fine.
  const ok = await new CookieJar().fetch(authz({ params: { binding_message: '申'.repeat(64) } }).url);
  assert.equal(ok.status, 200);
});

test('a plain (substantial) request gets the account list, not the e-ID, and a substantial token', T, async () => {
  const a = authz({ params: { acr_values: null, prompt: null } });
  const res = await new CookieJar().fetch(a.url);
  assert.equal(res.status, 200);
  assert.doesNotMatch(res.html, /\/eid\//);
  const form = forms(res.html).find((f) => /\/login$/.test(f.attrs.action));
  assert.ok(form, 'the login form');
  const back = await new CookieJar().fetch(`${base}/login`, { form: { ...form.fields, sub: WONG.sub } });
  const code = new URL(back.location).searchParams.get('code');
  const t = await redeem(base, { code, redirectUri: REDIRECT, verifier: a.verifier, secret: SECRET });
  assert.equal(t.status, 200);
  const c = jwtClaims(t.body.id_token);
  assert.equal(c.acr, 'govid:substantial');
  assert.equal(c.amr, undefined);
  assert.equal(c.resident_number, undefined);
});

test('eid_* faults: each spoils one very-high ID token as it says', T, async () => {
  await arm('eid_acr_substantial');
  let { claims } = await login();
  assert.equal(claims.acr, 'govid:substantial');

  await arm('eid_stale_auth_time');
  ({ claims } = await login());
  assert.equal(claims.acr, 'govid:very-high');
  assert.ok(Math.floor(Date.now() / 1000) - claims.auth_time >= 3590, `auth_time ${claims.auth_time} an hour ago`);

  await arm('eid_other_resident');
  ({ claims } = await login());
  assert.equal(claims.sub, WONG.sub);
  assert.ok(claims.resident_number && claims.resident_number !== WONG.id, claims.resident_number);

  ({ claims } = await login());
  assert.equal(claims.acr, 'govid:very-high');
  assert.equal(claims.resident_number, WONG.id);
});

test('the log names the e-ID routes, never their secrets', T, async () => {
  const p = await eidPage(new CookieJar(), authz().url);
  await eidPhone(p.scanUrl);
  await fetch(p.statusUrl);
  const poll = /\/eid\/status\/(.+)$/.exec(p.statusUrl)[1];
  const scan = /\/eid\/scan\/(.+)$/.exec(p.scanUrl)[1];
  const log = readFileSync(path.join(dir, 'govsim.log'), 'utf8');
  assert.match(log, /GET \/eid\/scan\/\{scan\} 200/);
  assert.match(log, /GET \/eid\/status\/\{poll\} 200/);
  assert.ok(!log.includes(poll) && !log.includes(scan));
});
