// Interop: the portal's relying-party code (discovery, PKCE S256, client_secret_basic, RS256 ID token
// against the JWKS, nonce) logging in against oidc-provider, a certified OpenID provider, instead of govsim.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  System, CookieJar, freePort, setsSession, WONG, CLIENT_ID, TEST_TIMEOUT,
} from '../lib/harness.mjs';
import { checkPending } from '../lib/checks.mjs';
import { startOP, opLogin } from './op.mjs';

let sys;
let op;
before(async () => {
  sys = await System.prepare();
  op = await startOP({
    port: await freePort(),
    clientId: CLIENT_ID,
    clientSecret: sys.clientSecret,
    redirectUri: sys.redirectUri,
  });
  await sys.startPortal({ issuer: op.issuer });
}, { timeout: 120_000 });
after(async () => {
  if (sys) await sys.stop().catch(() => {});
  if (op) await op.close();
});

const T = { timeout: TEST_TIMEOUT };

async function beginLogin(jar) {
  const res = await jar.fetch(`${sys.base}/login`);
  assert.equal(res.status, 302, `/login: ${res.status} ${res.html.slice(0, 300)}`);
  const u = new URL(res.location);
  assert.equal(`${u.origin}${u.pathname}`, `${op.issuer}/auth`, 'authorization endpoint from discovery');
  assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
  return res.location;
}

test('login as govid-1000001 through oidc-provider shows WONG\'s pending certificates', T, async () => {
  const jar = new CookieJar();
  const callback = await opLogin(jar, await beginLogin(jar), WONG.sub);
  assert.equal(new URL(callback).origin, sys.base, `provider sent the browser back to the portal: ${callback}`);
  assert.ok(new URL(callback).searchParams.get('code'), `a code in ${callback}`);
  const res = await jar.fetch(callback);
  assert.equal(res.status, 302, `callback: ${res.status} ${res.html.slice(0, 500)}\nprovider: ${op.events.join('; ')}`);
  assert.equal(new URL(res.location).pathname, '/home');
  assert.ok(setsSession(res), 'a session cookie');
  assert.ok(op.events.includes('grant.success'), `the portal redeemed the code: ${op.events.join('; ')}`);

  const home = await jar.fetch(`${sys.base}/home`);
  assert.equal(home.status, 200);
  const pending = await jar.fetch(`${sys.base}/ecmp/certrenewal`);
  assert.equal(pending.status, 200);
  checkPending(pending.html, { qualified: 1, encryption: 1, cloudsign: 1 });

  // The provider refuses the spent code (invalid_grant), and the portal refuses the replay.
  const replay = await new CookieJar().fetch(callback);
  assert.equal(replay.status, 400);
  assert.ok(!setsSession(replay));
});

test('a GovID user who is no holder here gets no session', T, async () => {
  const jar = new CookieJar();
  const callback = await opLogin(jar, await beginLogin(jar), 'govid-9999999');
  const res = await jar.fetch(callback);
  assert.ok(!(res.status === 302 && new URL(res.location).pathname === '/home'), `not logged in (${res.status} ${res.location})`);
  assert.ok(res.status >= 400 && res.status < 500, `a clear refusal, status ${res.status}`);
  assert.ok(!setsSession(res), 'no session cookie');
  const home = await jar.fetch(`${sys.base}/home`);
  assert.equal(home.status, 302);
});

test('servers shut down cleanly (no crash, no sanitizer report)', { timeout: 30_000 }, async () => {
  const s = sys;
  sys = null;
  await s.stop();
});
