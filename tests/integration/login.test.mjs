// Login and the pending-renewal page (SPEC R3, R4; seed steps 2-5), against the real binaries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSystem, CookieJar, login, beginLogin, elements, startTags, forms, textOf,
  WONG, CHAN, LEI, OFFICER, TEST_TIMEOUT,
} from '../lib/harness.mjs';
import { checkPending } from '../lib/checks.mjs';

let sys;
before(async () => { sys = await startSystem(); }, { timeout: 120_000 });
after(async () => { if (sys) await sys.stop().catch(() => {}); });

const T = { timeout: TEST_TIMEOUT };

test('landing page offers only 以公務通帳戶登入', T, async () => {
  const jar = new CookieJar();
  const res = await jar.fetch(`${sys.base}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/html/);
  const loginLinks = elements(res.html, 'a').filter((a) => a.attrs.href === '/login');
  assert.equal(loginLinks.length, 1, 'exactly one link to /login');
  assert.equal(loginLinks[0].text, '以公務通帳戶登入');
  assert.equal(startTags(res.html, 'input').filter((i) => (i.type || '').toLowerCase() === 'password').length, 0,
    'no password field');
  const loginish = forms(res.html).filter((f) => /login|auth|signin/i.test(f.attrs.action || ''));
  assert.equal(loginish.length, 0, 'no other login form');
});

test('govsim lists the demo accounts, staff with their role', T, async () => {
  const jar = new CookieJar();
  const authorize = await beginLogin(jar, sys.base);
  const page = await jar.fetch(authorize);
  assert.equal(page.status, 200);
  const form = forms(page.html).find((f) => /\/login$/.test(f.attrs.action || ''));
  assert.ok(form, 'a form posting to /login');
  assert.equal((form.attrs.method || '').toLowerCase(), 'post');
  assert.ok(form.fields.req, 'hidden req');
  const buttons = Object.fromEntries(elements(form.inner, 'button')
    .filter((b) => b.attrs.name === 'sub').map((b) => [b.attrs.value, b.text]));
  assert.ok(buttons[WONG.sub]?.includes(WONG.name), `WONG: ${buttons[WONG.sub]}`);
  assert.ok(buttons[CHAN.sub]?.includes(CHAN.name), `CHAN: ${buttons[CHAN.sub]}`);
  assert.ok(buttons[LEI.sub]?.includes(LEI.name) && buttons[LEI.sub].includes('（部門協調員）'), `LEI: ${buttons[LEI.sub]}`);
  assert.ok(buttons[OFFICER.sub]?.includes(OFFICER.name) && buttons[OFFICER.sub].includes('（註冊署職員）'),
    `officer: ${buttons[OFFICER.sub]}`);
});

test('WONG logs in, lands on /home, and sees his pending certificates', T, async () => {
  const jar = new CookieJar();
  const cb = await login(jar, WONG.sub, sys.base);
  assert.equal(new URL(cb.location).pathname, '/home');
  const home = await jar.fetch(`${sys.base}/home`);
  assert.equal(home.status, 200);
  const link = elements(home.html, 'a').find((a) => a.attrs.href === '/ecmp/certrenewal');
  assert.ok(link, 'link to /ecmp/certrenewal');
  // The contract says the link reads 證書續期; a tile with the title first and a description after is accepted.
  assert.ok(link.text === '證書續期' || link.text.startsWith('證書續期 '), `link text: ${link.text}`);

  const pending = await jar.fetch(`${sys.base}/ecmp/certrenewal`);
  assert.equal(pending.status, 200);
  assert.ok(textOf(pending.html).includes('待續期之電子證書'), 'page title 待續期之電子證書');
  checkPending(pending.html, { qualified: 1, encryption: 1, cloudsign: 1 });

  // A logged-in user is sent from the landing page to /home.
  const land = await jar.fetch(`${sys.base}/`);
  assert.equal(land.status, 302);
  assert.equal(new URL(land.location).pathname, '/home');
});

test('CHAN sees only his own certificates, nothing of WONG', T, async () => {
  const jar = new CookieJar();
  await login(jar, CHAN.sub, sys.base);
  const home = await jar.fetch(`${sys.base}/home`);
  assert.equal(home.status, 200);
  const pending = await jar.fetch(`${sys.base}/ecmp/certrenewal`);
  assert.equal(pending.status, 200);
  for (const page of [home.html, pending.html]) {
    assert.ok(!page.includes(WONG.name), 'no WONG name');
    assert.ok(!page.includes(WONG.email), 'no WONG email');
  }
  const g = checkPending(pending.html, { qualified: 1, cloudsign: 1 });
  assert.equal(g.verify.counts.encryption, undefined, 'no encryption certificate for CHAN');
});

test('pages need a session: /home and /ecmp/certrenewal answer 302 to /', T, async () => {
  const jar = new CookieJar();
  for (const p of ['/home', '/ecmp/certrenewal']) {
    const res = await jar.fetch(`${sys.base}${p}`);
    assert.equal(res.status, 302, p);
    assert.equal(new URL(res.location).pathname, '/', p);
  }
  // A made-up session cookie is no better than none.
  const fake = new CookieJar();
  fake.store(sys.base, [`cr_session=${'A'.repeat(43)}; Path=/`]);
  for (const p of ['/home', '/ecmp/certrenewal']) {
    const res = await fake.fetch(`${sys.base}${p}`);
    assert.equal(res.status, 302, `${p} with a forged cookie`);
    assert.equal(new URL(res.location).pathname, '/', p);
  }
});

test('servers shut down cleanly (no crash, no sanitizer report)', { timeout: 30_000 }, async () => {
  const s = sys;
  sys = null;
  await s.stop();
});
