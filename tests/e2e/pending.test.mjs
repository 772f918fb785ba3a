// Browser test (seed steps 2-5): Debian's chromium driven by playwright-core, as a person would click.
// Landing → 以公務通帳戶登入 → govsim → WONG → home → 證書續期 → the three groups, footer, DEV badge.
// Screenshots go to tests/e2e/out/ (gitignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startSystem, ROOT, WONG } from '../lib/harness.mjs';
import { checkPending } from '../lib/checks.mjs';

const OUT = path.join(ROOT, 'tests', 'e2e', 'out');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP = 15_000; // every browser wait is bounded

let sys;
let browser;
before(async () => {
  mkdirSync(OUT, { recursive: true });
  sys = await startSystem();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright-core gives chromium a fresh temporary profile of its own on every launch.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30_000,
  });
}, { timeout: 120_000 });
after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (sys) await sys.stop().catch(() => {});
});

test('WONG logs in with the browser and sees his pending certificates', { timeout: 120_000 }, async () => {
  const context = await browser.newContext({ locale: 'zh-TW', viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(STEP);
  context.setDefaultNavigationTimeout(STEP);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    // The browser's own favicon probe is not the page's doing.
    if (msg.type() === 'error' && !/favicon/.test(`${msg.location()?.url} ${msg.text()}`)) problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('response', (res) => {
    const u = new URL(res.url());
    if (res.status() >= 400 && u.origin === sys.base && u.pathname !== '/favicon.ico') problems.push(`${res.status()} ${res.url()}`);
  });

  try {
    await page.goto(`${sys.base}/`);
    const loginLink = page.getByRole('link', { name: '以公務通帳戶登入' });
    await loginLink.waitFor({ state: 'visible' });
    await page.screenshot({ path: path.join(OUT, 'landing.png'), fullPage: true });

    await loginLink.click();
    await page.waitForURL((u) => u.origin === sys.govsim);
    const wong = page.locator(`button[name="sub"][value="${WONG.sub}"]`);
    await wong.waitFor({ state: 'visible' });
    assert.ok((await wong.innerText()).includes(WONG.name), 'the govsim button shows WONG\'s name');
    await page.screenshot({ path: path.join(OUT, 'govsim-login.png'), fullPage: true });

    await wong.click();
    await page.waitForURL((u) => u.origin === sys.base && u.pathname === '/home');
    const renew = page.getByRole('link', { name: '證書續期' });
    await renew.waitFor({ state: 'visible' });
    await page.screenshot({ path: path.join(OUT, 'home.png'), fullPage: true });

    await renew.click();
    await page.waitForURL((u) => u.pathname === '/ecmp/certrenewal');
    await page.locator('#group-verify').waitFor({ state: 'visible' });
    await page.screenshot({ path: path.join(OUT, 'pending.png'), fullPage: true });

    // What the markup says ...
    checkPending(await page.content(), { qualified: 1, encryption: 1, cloudsign: 1 });
    // ... and what a person sees.
    for (const [id, text] of [
      ['#group-verify', '待身份鑑別之證書'],
      ['#group-activate', '待線上激活之證書'],
      ['#group-offline', '待線下辦理之證書'],
    ]) {
      await page.locator(`${id} h2`).filter({ hasText: text }).waitFor({ state: 'visible' });
    }
    for (const type of ['qualified', 'encryption', 'cloudsign']) {
      const li = page.locator(`#group-verify li[data-type="${type}"]`);
      assert.ok(await li.isVisible(), `${type} line visible`);
      assert.equal((await li.locator('.count').innerText()).trim(), '1', `${type} count`);
    }
    assert.equal((await page.locator('#group-activate .empty').innerText()).trim(), '暫無待線上激活證書');
    assert.equal((await page.locator('#group-offline .empty').innerText()).trim(), '暫無待線下辦理證書');
    assert.ok(await page.locator('#group-activate .empty').isVisible());
    assert.ok(await page.locator('#group-offline .empty').isVisible());

    const badge = page.locator('.dev-badge');
    assert.ok(await badge.first().isVisible(), 'DEV badge visible');
    assert.equal((await badge.first().innerText()).trim(), 'DEV');
    const footer = page.getByText(`© 澳門郵電電子認證服務 ${new Date().getFullYear()}`);
    assert.ok(await footer.first().isVisible(), 'footer visible');

    // The stylesheet applied (not blocked by CSP or a wrong content type): the badge is styled.
    const css = await page.evaluate(() => [...document.styleSheets].filter((s) => s.href).length);
    assert.ok(css >= 1, 'a stylesheet loaded');

    assert.deepEqual(problems, [], 'no console errors, CSP violations or failed requests');
  } catch (e) {
    await page.screenshot({ path: path.join(OUT, 'failure.png'), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

test('servers shut down cleanly (no crash, no sanitizer report)', { timeout: 30_000 }, async () => {
  const s = sys;
  sys = null;
  await s.stop();
});
