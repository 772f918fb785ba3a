// Browser test of identity verification step 1 「驗證帳戶」 (issue 4, seed steps 6-11), Debian's chromium driven by
// playwright-core as a person would click: landing → govsim (WONG) → 證書續期 → 待身份鑑別之證書 → 開始鑑別 →
// 同意 (first without the tick) → 驗證 → 獲取驗證碼 (countdown) → the code from /dev/mail in a second tab →
// 驗證電郵地址 → 已驗證 → 下一步 → step 2. Screenshots: tests/e2e/out/verify-*.png (gitignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startSystem, ROOT, WONG, sleep } from '../lib/harness.mjs';
import { dbOf, P, STEP_LABELS } from '../lib/verify.mjs';

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
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30_000,
  });
}, { timeout: 120_000 });
after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (sys) await sys.stop().catch(() => {});
});

const shot = (page, name) => page.screenshot({ path: path.join(OUT, `verify-${name}.png`), fullPage: true });

/** The wizard header as shown: the labels and the current one. */
async function steps(page) {
  const labels = (await page.locator('ol.steps li .step-label').allInnerTexts()).map((s) => s.trim());
  const current = (await page.locator('ol.steps li.current .step-label').allInnerTexts()).map((s) => s.trim());
  return { labels, current };
}

test('WONG verifies his email address in the browser and reaches step 2', { timeout: 180_000 }, async () => {
  const sql = dbOf(sys);
  const context = await browser.newContext({ locale: 'zh-TW', viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(STEP);
  context.setDefaultNavigationTimeout(STEP);
  const page = await context.newPage();
  const problems = [];
  const watch = (p) => {
    p.on('console', (msg) => {
      if (msg.type() === 'error' && !/favicon/.test(`${msg.location()?.url} ${msg.text()}`)) problems.push(`console: ${msg.text()}`);
    });
    p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    p.on('response', (res) => {
      const u = new URL(res.url());
      if (res.status() >= 400 && u.origin === sys.base && u.pathname !== '/favicon.ico') problems.push(`${res.status()} ${res.url()}`);
    });
  };
  watch(page);
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST') posts.push(new URL(r.url()).pathname); });

  try {
    // Landing → govsim → home → 證書續期.
    await page.goto(`${sys.base}/`);
    await page.getByRole('link', { name: '以公務通帳戶登入' }).click();
    await page.waitForURL((u) => u.origin === sys.govsim);
    await page.locator(`button[name="sub"][value="${WONG.sub}"]`).click();
    await page.waitForURL((u) => u.origin === sys.base && u.pathname === '/home');
    await page.getByRole('link', { name: '證書續期' }).click();
    await page.waitForURL((u) => u.pathname === P);

    // 待身份鑑別之證書 → the certificates.
    await page.locator('#group-verify h2 a').filter({ hasText: '待身份鑑別之證書' }).click();
    await page.waitForURL((u) => u.pathname === `${P}/verify`);
    const cards = page.locator('article.cert');
    await cards.first().waitFor({ state: 'visible' });
    assert.equal(await cards.count(), 3, 'three certificate cards');
    const qualified = page.locator('article.cert[data-type="qualified"]');
    assert.ok(await qualified.getByText('交易限額', { exact: true }).isVisible(), '交易限額 on the qualified card');
    assert.equal(await page.locator('article.cert[data-type="encryption"] dt', { hasText: '交易限額' }).count(), 0);
    let s = await steps(page);
    assert.deepEqual(s.labels, STEP_LABELS);
    assert.deepEqual(s.current, ['驗證帳戶']);
    await shot(page, '1-list');

    // 開始鑑別 → the consent.
    await page.getByRole('button', { name: '開始鑑別' }).click();
    await page.waitForURL((u) => u.pathname === `${P}/consent`);
    const app = Number(new URL(page.url()).searchParams.get('app'));
    assert.ok(app > 0, 'the application id is in the URL');
    await shot(page, '2-consent');

    // 同意 without the tick: the page explains and stays (nothing is posted).
    const consentUrl = page.url();
    const postsBefore = posts.length;
    await page.getByRole('button', { name: '同意', exact: true }).click();
    const explain = page.locator('form.needs-tick .explain');
    await explain.waitFor({ state: 'visible' });
    assert.match(await explain.innerText(), /請先勾選「同意並接受個人資料收集協定及聲明」/);
    await sleep(500);
    assert.equal(page.url(), consentUrl, 'still on the consent');
    assert.equal(posts.length, postsBefore, 'nothing was posted');
    assert.equal(sql(`SELECT state FROM applications WHERE id = ${app}`)[0].state, 'consent');
    await shot(page, '3-consent-explain');

    // Tick, 同意 → the addresses.
    await page.getByLabel('同意並接受個人資料收集協定及聲明').check();
    await page.getByRole('button', { name: '同意', exact: true }).click();
    await page.waitForURL((u) => u.pathname === `${P}/emails`);
    const row = page.locator('li.email-row', { hasText: WONG.email });
    await row.waitFor({ state: 'visible' });
    assert.equal(await row.getByText('已驗證').count(), 0, 'not verified yet');
    assert.equal(await page.getByRole('button', { name: '下一步' }).count(), 0, 'no 下一步 yet');
    await shot(page, '4-emails');

    // 驗證 → 獲取驗證碼 → a countdown from the server.
    await row.getByRole('link', { name: '驗證', exact: true }).click();
    await page.waitForURL((u) => u.pathname === `${P}/email`);
    assert.ok(await page.getByText(WONG.email).first().isVisible());
    await shot(page, '5-email');
    await page.getByRole('button', { name: '獲取驗證碼' }).click();
    await page.waitForURL((u) => u.pathname === `${P}/email` && u.searchParams.get('msg') === 'code_sent');
    const secs = page.locator('.countdown .secs');
    await secs.waitFor({ state: 'visible' });
    const n1 = Number((await secs.innerText()).trim());
    assert.ok(Number.isInteger(n1) && n1 > 0 && n1 <= 300, `countdown ${n1} ≤ 300`);
    await sleep(2_300);
    const n2 = Number((await secs.innerText()).trim());
    assert.ok(n2 < n1 && n2 >= n1 - 4, `the countdown decreases (${n1} → ${n2})`);
    await shot(page, '6-code-sent');

    // The code, read from /dev/mail in a second tab.
    const mail = await context.newPage();
    watch(mail);
    await mail.goto(`${sys.base}/dev/mail`);
    const link = mail.locator('tr[data-kind="code"]', { hasText: WONG.email }).first().locator('a').first();
    await link.click();
    await mail.waitForURL((u) => u.pathname === '/dev/mail/message');
    const body = await mail.locator('pre.mail-body').innerText();
    const m = /驗證碼 : (\d{6})/.exec(body);
    assert.ok(m, `the mail has the code\n${body}`);
    await shot(mail, '7-devmail');
    await mail.close();

    // Type it, 驗證電郵地址 → 已驗證 and 下一步.
    await page.bringToFront();
    await page.locator('#code').fill(m[1]);
    await page.getByRole('button', { name: '驗證電郵地址' }).click();
    await page.waitForURL((u) => u.pathname === `${P}/emails`);
    await row.getByText('已驗證').waitFor({ state: 'visible' });
    const next = page.getByRole('button', { name: '下一步' });
    await next.waitFor({ state: 'visible' });
    await shot(page, '8-verified');

    // 下一步 → step 2.
    await next.click();
    await page.waitForURL((u) => u.pathname === `${P}/identity`);
    s = await steps(page);
    assert.deepEqual(s.current, ['驗證身份'], 'step 2 is current');
    assert.equal(sql(`SELECT state FROM applications WHERE id = ${app}`)[0].state, 'identity');
    await shot(page, '9-identity');

    assert.deepEqual(problems, [], 'no console errors, CSP violations or failed requests');
  } catch (e) {
    await page.screenshot({ path: path.join(OUT, 'verify-failure.png'), fullPage: true }).catch(() => {});
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
