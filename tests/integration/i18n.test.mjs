// Languages (SPEC R11.3): Traditional Chinese by default, Portuguese and English on request; the
// switch keeps the page's own arguments, so changing language mid-step does not lose the step.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, CookieJar, login, WONG, TEST_TIMEOUT } from '../lib/harness.mjs';

let sys;
before(async () => { sys = await startSystem(); }, { timeout: 120_000 });
after(async () => { if (sys) await sys.stop().catch(() => {}); });

const T = { timeout: TEST_TIMEOUT };

function langLinks(html) {
  return [...html.matchAll(/<ul class="langs">(.*?)<\/ul>/gs)].flatMap((m) =>
    [...m[1].matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)].map((a) => ({ href: a[1].replaceAll('&#61;', '=').replaceAll('&amp;', '&'), label: a[2] })));
}

test('zh-Hant by default; ?lang= switches and is remembered by a cookie', T, async () => {
  const jar = new CookieJar();
  const zh = await jar.fetch(`${sys.base}/`);
  assert.match(zh.html, /<html lang="zh-Hant">/);
  assert.match(zh.html, /以公務通帳戶登入/);
  const en = await jar.fetch(`${sys.base}/?lang=en`);
  assert.match(en.html, /<html lang="en">/);
  assert.match(en.html, /Sign in with GovID/);
  const again = await jar.fetch(`${sys.base}/`);
  assert.match(again.html, /<html lang="en">/, 'the choice is kept');
  const pt = await jar.fetch(`${sys.base}/?lang=pt`);
  assert.match(pt.html, /<html lang="pt">/);
  const bogus = await jar.fetch(`${sys.base}/?lang=xx`);
  assert.match(bogus.html, /<html lang="pt">/, 'an unknown language changes nothing');
});

test('the language links keep the step (app=, i=) and nothing else of the URL', T, async () => {
  const jar = new CookieJar();
  await login(jar, WONG.sub, sys.base);
  const list = await jar.fetch(`${sys.base}/ecmp/certrenewal/verify`);
  const set = /name="set" value="([^"]*)"/.exec(list.html)[1];
  const csrf = /name="csrf" value="([^"]*)"/.exec(list.html)[1];
  const start = await jar.fetch(`${sys.base}/ecmp/certrenewal/start`, { form: { csrf, set } });
  const consent = new URL(start.location, sys.base);
  const app = consent.searchParams.get('app');
  assert.ok(/^[0-9]+$/.test(app), `an application was created (${start.location})`);
  const page = await jar.fetch(`${sys.base}/ecmp/certrenewal/consent?app=${app}&msg=set_changed&x=%3Cb%3E`);
  assert.equal(page.status, 200);
  const links = langLinks(page.html);
  assert.equal(links.length, 2, 'two other languages offered');
  for (const l of links) {
    const u = new URL(l.href, sys.base);
    assert.equal(u.pathname, '/ecmp/certrenewal/consent');
    assert.equal(u.searchParams.get('app'), app, `${l.href} keeps app`);
    assert.equal(u.searchParams.get('x'), null, `${l.href} drops other arguments`);
    assert.equal(u.searchParams.get('msg'), null, `${l.href} drops msg`);
    assert.ok(['en', 'pt'].includes(u.searchParams.get('lang')), `${l.href} sets lang`);
  }
  const en = await jar.fetch(new URL(links.find((l) => l.href.includes('lang=en')).href, sys.base).href);
  assert.equal(en.status, 200, 'the same step in English');
  assert.match(en.html, /<html lang="en">/);
  assert.match(en.html, /name="app" value="/);
});

test('govsim\'s own address (printed by make run) answers with a page pointing back to the portal', T, async () => {
  const res = await fetch(`${sys.govsim}/`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /text\/html/);
  assert.match(await res.text(), /以公務通帳戶登入/);
});
