// Request paths are untrusted text (issue 13): a page never links to what a visitor put in its path
// (the language links of an unmatched path lead to "/"), and a path that is not UTF-8 is a plain
// 404, not a 500 with a false "out of memory" in the log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startSystem, elements, TEST_TIMEOUT, sleep } from '../lib/harness.mjs';

let sys;
before(async () => { sys = await startSystem(); }, { timeout: 120_000 });
after(async () => { if (sys) await sys.stop().catch(() => {}); });

const T = { timeout: TEST_TIMEOUT };

// fetch() would normalise `\` to `/` and resolve `//host`: the path goes on the wire as written.
function rawGet(path) {
  const u = new URL(sys.base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'GET', timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, html: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

// The portal's log line for a request: it arrives through a pipe, so wait for it (bounded). The line
// has the decoded path: an escape (%xx) of the request stands for whatever byte the log shows.
async function logLine(path, status) {
  const esc = path.split(/%[0-9a-f]{2}/i).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^ ]*');
  const re = new RegExp(`^.* info http: GET ${esc} ${status} .*$`, 'm');
  for (let i = 0; i < 50 && !re.test(sys.portal.output); i += 1) await sleep(100);
  return re.exec(sys.portal.output)?.[0];
}

test('a path naming another host: 404, and no link of the page leaves the site', T, async () => {
  for (const path of ['//evil.example/', '/\\evil.example/', '/%2F%2Fevil.example/', '/%5Cevil.example/']) {
    const res = await rawGet(path);
    assert.equal(res.status, 404, `${path} is not found`);
    const hrefs = elements(res.html, 'a').map((a) => a.attrs.href).filter((h) => h !== undefined);
    assert.ok(hrefs.length > 0, `${path}: the page has links (language switch)`);
    for (const h of hrefs) {
      assert.ok(!h.startsWith('//') && !h.startsWith('/\\') && !h.includes('evil.example'),
        `${path}: link ${h} stays on the site`);
    }
    const langs = hrefs.filter((h) => /[?&]lang=/.test(h));
    assert.equal(langs.length, 2, `${path}: two other languages offered`);
    for (const h of langs) assert.match(h, /^\/\?lang=(en|pt)$/, `${path}: ${h} leads to the start page`);
  }
});

test('a path that is not UTF-8: 404, and at most an info line in the log', T, async () => {
  for (const path of ['/%ff', '/%c3%28', '/static/%c0%ae%c0%ae/x']) {
    const before = sys.portal.output.length;
    const res = await rawGet(path);
    assert.equal(res.status, 404, `${path} is not found (${res.html.slice(0, 200)})`);
    assert.match(res.html, /<html lang="zh-Hant">/, `${path}: the portal's own 404 page`);
    const line = await logLine(path, 404);
    assert.ok(line, `${path}: its request line is logged`);
    const since = sys.portal.output.slice(before);
    assert.doesNotMatch(since, / (warn|error) /, `${path}: nothing above info logged:\n${since}`);
    assert.doesNotMatch(since, /out of memory/i, `${path}: no false out of memory`);
  }
});
