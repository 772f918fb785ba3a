// The OpenID Connect callback refuses everything that is not the answer to this browser's own login
// (SPEC R3.2, R11.4): forged state, missing pre-login cookie, replays, provider errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  startSystem, CookieJar, login, beginLogin, govsimApprove, setsSession, WONG, CHAN, TEST_TIMEOUT,
} from '../lib/harness.mjs';

let sys;
before(async () => { sys = await startSystem(); }, { timeout: 120_000 });
after(async () => { if (sys) await sys.stop().catch(() => {}); });

const T = { timeout: TEST_TIMEOUT };

/** A refused callback: 400, a page that says something, no session cookie; and still no access. */
async function assertRefused(jar, res, what) {
  assert.equal(res.status, 400, `${what}: status (body: ${res.html.slice(0, 200)})`);
  assert.match(res.headers.get('content-type') || '', /^text\/html/, `${what}: an HTML error page`);
  assert.ok(res.html.replace(/<[^>]*>/g, '').trim().length > 0, `${what}: a message`);
  assert.ok(!setsSession(res), `${what}: no cr_session cookie (${res.setCookies.join(' | ')})`);
  const home = await jar.fetch(`${sys.base}/home`);
  assert.equal(home.status, 302, `${what}: /home still needs a login`);
  assert.equal(new URL(home.location).pathname, '/');
}

function withParam(url, key, value) {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

test('/login redirects to the provider with code flow, PKCE S256, state and nonce', T, async () => {
  const jar = new CookieJar();
  const res = await jar.fetch(`${sys.base}/login`);
  assert.equal(res.status, 302);
  const u = new URL(res.location);
  assert.equal(u.origin, sys.govsim);
  const p = u.searchParams;
  assert.equal(p.get('response_type'), 'code');
  assert.equal(p.get('client_id'), 'certrenew');
  assert.equal(p.get('redirect_uri'), sys.redirectUri);
  assert.ok((p.get('scope') || '').split(' ').includes('openid'), 'scope openid');
  assert.equal(p.get('code_challenge_method'), 'S256');
  assert.match(p.get('code_challenge') || '', /^[A-Za-z0-9_-]{43}$/);
  assert.ok((p.get('state') || '').length >= 16, 'a long state');
  assert.ok((p.get('nonce') || '').length >= 16, 'a long nonce');
  const pre = res.setCookies.filter((l) => !/^cr_session=/.test(l));
  assert.ok(pre.length >= 1, 'a pre-login cookie');
  assert.ok(pre.every((l) => /;\s*httponly/i.test(l)), `pre-login cookie HttpOnly: ${pre.join(' | ')}`);
  // Two logins never share a state.
  const again = await new CookieJar().fetch(`${sys.base}/login`);
  assert.notEqual(new URL(again.location).searchParams.get('state'), p.get('state'));
});

test('a successful login sets cr_session HttpOnly, SameSite=Lax', T, async () => {
  const jar = new CookieJar();
  const res = await login(jar, WONG.sub, sys.base);
  const line = res.setCookies.find((l) => /^cr_session=/.test(l));
  assert.ok(line, 'Set-Cookie cr_session');
  assert.match(line, /;\s*httponly/i);
  assert.match(line, /;\s*samesite=lax/i);
  assert.ok(setsSession(res));
});

test('a forged state is refused', T, async () => {
  const jar = new CookieJar();
  const authorize = await beginLogin(jar, sys.base);
  const callback = await govsimApprove(jar, authorize, WONG.sub);
  const forged = withParam(callback, 'state', randomBytes(24).toString('base64url'));
  await assertRefused(jar, await jar.fetch(forged), 'forged state');
  const noState = new URL(callback);
  noState.searchParams.delete('state');
  await assertRefused(jar, await jar.fetch(noState.toString()), 'no state');
});

test('a callback without the pre-login cookie is refused', T, async () => {
  const jar = new CookieJar();
  const authorize = await beginLogin(jar, sys.base);
  const callback = await govsimApprove(jar, authorize, WONG.sub);
  const stranger = new CookieJar(); // another browser: has the URL, not the cookie
  await assertRefused(stranger, await stranger.fetch(callback), 'missing pre-login cookie');
  // The stranger spoiled nothing: the browser that started the login still finishes it.
  const own = await jar.fetch(callback);
  assert.equal(own.status, 302, `the holder's own callback after a stranger's: ${own.status}`);
  assert.ok(setsSession(own), 'a session for the holder');
});

test('replaying the callback URL is refused', T, async () => {
  const jar = new CookieJar();
  const first = await login(jar, WONG.sub, sys.base);
  const replay = await jar.fetch(first.callbackUrl);
  assert.equal(replay.status, 400, 'same browser replays its callback');
  assert.ok(!setsSession(replay), 'no new session from a replay');
  // A second browser that somehow got both the URL and the (now spent) pre-login cookie fares no better.
  const other = new CookieJar();
  const again = await other.fetch(first.callbackUrl);
  await assertRefused(other, again, 'replay in another browser');
});

test('a spent authorization code under a fresh login\'s state is refused', T, async () => {
  const a = new CookieJar();
  const first = await login(a, WONG.sub, sys.base);
  const code = new URL(first.callbackUrl).searchParams.get('code');
  assert.ok(code, 'the callback carried a code');

  const b = new CookieJar();
  const authorize = await beginLogin(b, sys.base);
  const state = new URL(authorize).searchParams.get('state');
  const forged = new URL(first.callbackUrl);
  forged.searchParams.set('state', state);
  forged.searchParams.set('code', code);
  await assertRefused(b, await b.fetch(forged.toString()), 'replayed code');
});

test('a code issued for CHAN cannot be slipped into WONG\'s login', T, async () => {
  const victim = new CookieJar();
  const authorize = await beginLogin(victim, sys.base);
  const attacker = new CookieJar();
  const aAuth = await beginLogin(attacker, sys.base);
  const aCallback = await govsimApprove(attacker, aAuth, CHAN.sub);
  // The attacker's fresh, unused code under the victim's state: PKCE binds the code to the attacker's login.
  const mixed = new URL(aCallback);
  mixed.searchParams.set('state', new URL(authorize).searchParams.get('state'));
  await assertRefused(victim, await victim.fetch(mixed.toString()), 'code injection');
});

test('a provider error answer is refused', T, async () => {
  const jar = new CookieJar();
  const authorize = await beginLogin(jar, sys.base);
  const state = new URL(authorize).searchParams.get('state');
  const url = new URL(`${sys.base}/auth/callback`);
  url.searchParams.set('error', 'access_denied');
  url.searchParams.set('error_description', '<script>alert(1)</script>');
  url.searchParams.set('state', state);
  const res = await jar.fetch(url.toString());
  await assertRefused(jar, res, 'provider error');
  assert.ok(!res.html.includes('<script>alert(1)</script>'), 'error text is escaped');
});

test('a callback with neither code nor state is refused', T, async () => {
  const jar = new CookieJar();
  await beginLogin(jar, sys.base);
  await assertRefused(jar, await jar.fetch(`${sys.base}/auth/callback`), 'empty callback');
});

test('servers shut down cleanly (no crash, no sanitizer report)', { timeout: 30_000 }, async () => {
  const s = sys;
  sys = null;
  await s.stop();
});
