// Logout with CSRF, security headers, static files, unknown paths (ARCHITECTURE "Security baseline").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSystem, CookieJar, login, forms, startTags, WONG, TEST_TIMEOUT,
} from '../lib/harness.mjs';

let sys;
before(async () => { sys = await startSystem(); }, { timeout: 120_000 });
after(async () => { if (sys) await sys.stop().catch(() => {}); });

const T = { timeout: TEST_TIMEOUT };

function logoutForm(html) {
  const f = forms(html).find((x) => x.attrs.action === '/logout');
  assert.ok(f, 'a logout form');
  assert.equal((f.attrs.method || '').toLowerCase(), 'post', 'logout is a POST');
  assert.ok(f.fields.csrf, 'hidden csrf field');
  return f;
}

test('logout needs the csrf token and then kills the session', T, async () => {
  const jar = new CookieJar();
  await login(jar, WONG.sub, sys.base);
  const home = await jar.fetch(`${sys.base}/home`);
  assert.equal(home.status, 200);
  const form = logoutForm(home.html);
  const oldCookie = jar.header(`${sys.base}/home`);

  const noToken = await jar.fetch(`${sys.base}/logout`, { form: {} });
  assert.equal(noToken.status, 403, 'POST /logout without csrf');
  const wrong = await jar.fetch(`${sys.base}/logout`, { form: { ...form.fields, csrf: `x${form.fields.csrf.slice(1)}` } });
  assert.equal(wrong.status, 403, 'POST /logout with a wrong csrf');
  const empty = await jar.fetch(`${sys.base}/logout`, { form: { ...form.fields, csrf: '' } });
  assert.equal(empty.status, 403, 'POST /logout with an empty csrf');
  assert.equal((await jar.fetch(`${sys.base}/home`)).status, 200, 'session survives refused logouts');

  // Another session's token does not work either.
  const other = new CookieJar();
  await login(other, WONG.sub, sys.base);
  const otherForm = logoutForm((await other.fetch(`${sys.base}/home`)).html);
  if (otherForm.fields.csrf !== form.fields.csrf) {
    const cross = await jar.fetch(`${sys.base}/logout`, { form: { ...form.fields, csrf: otherForm.fields.csrf } });
    assert.equal(cross.status, 403, 'another session\'s csrf token');
  }

  const ok = await jar.fetch(`${sys.base}/logout`, { form: form.fields });
  assert.equal(ok.status, 302, 'logout with csrf');
  assert.equal(new URL(ok.location).pathname, '/');

  // The old cookie no longer works, even when sent by hand.
  for (const p of ['/home', '/ecmp/certrenewal']) {
    const res = await fetch(`${sys.base}${p}`, { headers: { cookie: oldCookie }, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 302, `${p} after logout`);
    assert.equal(new URL(res.headers.get('location'), sys.base).pathname, '/');
  }
  // The other session is untouched.
  assert.equal((await other.fetch(`${sys.base}/home`)).status, 200, 'other session still alive');
});

function checkSecurityHeaders(res, what) {
  const h = res.headers;
  const csp = h.get('content-security-policy');
  assert.ok(csp, `${what}: Content-Security-Policy`);
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim()).filter(Boolean)
    .map((d) => { const [k, ...v] = d.split(/\s+/); return [k.toLowerCase(), v]; }));
  const scripts = directives['script-src'] || directives['default-src'];
  assert.ok(scripts, `${what}: CSP restricts scripts (script-src or default-src): ${csp}`);
  assert.ok(!scripts.includes("'unsafe-inline'"), `${what}: no 'unsafe-inline' scripts: ${csp}`);
  assert.equal((h.get('x-content-type-options') || '').toLowerCase(), 'nosniff', `${what}: nosniff`);
  const xfo = (h.get('x-frame-options') || '').toUpperCase();
  assert.ok(xfo === 'DENY' || xfo === 'SAMEORIGIN' || directives['frame-ancestors'], `${what}: framing refused`);
  assert.ok(h.get('referrer-policy'), `${what}: Referrer-Policy`);
}

test('HTML responses carry the security headers', T, async () => {
  const anon = new CookieJar();
  const landing = await anon.fetch(`${sys.base}/`);
  checkSecurityHeaders(landing, 'landing');
  const jar = new CookieJar();
  await login(jar, WONG.sub, sys.base);
  for (const p of ['/home', '/ecmp/certrenewal']) {
    const res = await jar.fetch(`${sys.base}${p}`);
    assert.equal(res.status, 200, p);
    checkSecurityHeaders(res, p);
  }
  const missing = await anon.fetch(`${sys.base}/no-such-page`);
  if (/^text\/html/.test(missing.headers.get('content-type') || '')) checkSecurityHeaders(missing, '404 page');
});

test('pages contain no inline script', T, async () => {
  const jar = new CookieJar();
  await login(jar, WONG.sub, sys.base);
  for (const p of ['/', '/home', '/ecmp/certrenewal']) {
    const res = await (p === '/' ? new CookieJar() : jar).fetch(`${sys.base}${p}`);
    for (const s of startTags(res.html, 'script')) assert.ok(s.src, `${p}: every <script> has src`);
    assert.ok(!/\son[a-z]+\s*=/i.test(res.html.replace(/<script[\s\S]*?<\/script>/gi, '')), `${p}: no inline event handlers`);
  }
});

test('the stylesheet is served as text/css', T, async () => {
  const jar = new CookieJar();
  const landing = await jar.fetch(`${sys.base}/`);
  const links = startTags(landing.html, 'link').filter((l) => (l.rel || '').toLowerCase().split(/\s+/).includes('stylesheet'));
  const hrefs = new Set([...links.map((l) => new URL(l.href, sys.base).pathname), '/static/style.css']);
  assert.ok(links.length >= 1, 'the landing page links a stylesheet');
  for (const href of hrefs) {
    const res = await jar.fetch(`${sys.base}${href}`);
    assert.equal(res.status, 200, href);
    assert.match(res.headers.get('content-type') || '', /^text\/css/, `${href} content type`);
    assert.ok(res.html.length > 0, `${href} is not empty`);
    assert.equal((res.headers.get('x-content-type-options') || '').toLowerCase(), 'nosniff', `${href}: nosniff`);
  }
});

test('unknown paths answer 404; path tricks do not escape static/', T, async () => {
  const jar = new CookieJar();
  for (const p of ['/no-such-page', '/static/no-such-file.css', '/ecmp/no-such-thing']) {
    const res = await jar.fetch(`${sys.base}${p}`);
    assert.ok(res.status === 404 || (res.status === 302 && p.startsWith('/ecmp/')), `${p}: ${res.status}`);
  }
  for (const p of ['/static/../Makefile', '/static/%2e%2e/Makefile', '/static/..%2fMakefile', '/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd']) {
    const res = await jar.fetch(`${sys.base}${p}`);
    assert.ok([400, 403, 404].includes(res.status), `${p}: ${res.status}`);
    assert.ok(!res.html.includes('BUILD') && !res.html.includes('root:'), `${p}: no file outside static/`);
  }
});

test('servers shut down cleanly (no crash, no sanitizer report)', { timeout: 30_000 }, async () => {
  const s = sys;
  sys = null;
  await s.stop();
});
