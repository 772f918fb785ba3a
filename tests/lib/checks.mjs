// Shared assertions about the product's pages (SPEC R4, seed step 5).
import assert from 'node:assert/strict';
import { parsePending, textOf } from './harness.mjs';

export const LABELS = { qualified: '政府機關合格證書', encryption: '政府機關加密證書', cloudsign: '政府“雲簽”帳戶' };
// The seed writes 政府“雲簽”帳戶 with curly quotes, SPEC.md with straight ones: accept either.
const sameLabel = (a, b) => a.replace(/["“”＂]/g, '"') === b.replace(/["“”＂]/g, '"');

/** Checks the pending page: three groups, the verify group's counts, the two empty groups, footer, DEV badge. */
export function checkPending(html, expectedVerify) {
  const g = parsePending(html);
  assert.deepEqual(Object.keys(g).sort(), ['activate', 'offline', 'verify'], 'three groups');
  assert.ok(g.verify.title && g.verify.title.includes('待身份鑑別之證書'), `verify title: ${g.verify.title}`);
  assert.ok(g.activate.title && g.activate.title.includes('待線上激活之證書'), `activate title: ${g.activate.title}`);
  assert.ok(g.offline.title && g.offline.title.includes('待線下辦理之證書'), `offline title: ${g.offline.title}`);
  assert.deepEqual(g.verify.counts, expectedVerify, 'verify group counts');
  assert.equal(g.verify.empty, null, 'verify group is not empty');
  for (const [type, label] of Object.entries(g.verify.labels)) {
    assert.ok(LABELS[type] && sameLabel(label, LABELS[type]), `label of ${type}: ${label}`);
  }
  assert.deepEqual(g.activate.counts, {});
  assert.equal(g.activate.empty, '暫無待線上激活證書');
  assert.deepEqual(g.offline.counts, {});
  assert.equal(g.offline.empty, '暫無待線下辦理證書');
  checkChrome(html);
  return g;
}

/** Footer `© 澳門郵電電子認證服務 <year>` and the DEV badge. */
export function checkChrome(html) {
  const text = textOf(html);
  assert.ok(text.includes(`© 澳門郵電電子認證服務 ${new Date().getFullYear()}`), 'footer with the current year');
  assert.ok(/<[a-z0-9]+\s[^>]*class\s*=\s*"[^"]*\bdev-badge\b[^"]*"[^>]*>\s*DEV\s*</i.test(html), 'DEV badge');
}
