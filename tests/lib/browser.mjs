// What the browser tests share: Debian's chromium launched with bounded waits, a portal page whose console
// errors, page errors and failed requests are collected as problems (a test names the refusals it expects),
// the wizard's current step, the phone-layout check, and a holder taken through steps 1-3 as a person would
// click them (login through govsim, 開始鑑別, consent, the code from /dev/mail in a second tab, 下一步; the
// photo and 確定使用照片; the declaration, govsim's e-ID page and its phone view, 繼續, 確認提交證書續期申請).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from './harness.mjs';
import { FACES } from './identity.mjs';
import { P } from './verify.mjs';

export const OUT = path.join(ROOT, 'tests', 'e2e', 'out');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const STEP = 15_000; // every browser wait is bounded
export const VIEWPORTS = [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]];

/** Headless chromium, closed when the test ends. */
export async function launch(t) {
  mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  t.after(() => browser.close().catch(() => {}));
  return browser;
}

/**
 * A zh-TW context at `viewport` (touch on the phone) and its first page, every wait bounded. `problems` collects
 * console errors, page errors and 4xx/5xx answers of the portal; `expect(status, pathname)` announces one refusal
 * the test is about to cause, which is then not a problem (nor is the console line chromium writes for it);
 * `unmet()` lists announced refusals that did not come. `shot(name, p)` writes OUT/<prefix>-<label>-<name>.png.
 */
export async function portalPage(browser, sys, label, viewport, prefix) {
  const context = await browser.newContext({ locale: 'zh-TW', viewport, isMobile: label === 'phone', hasTouch: label === 'phone' });
  context.setDefaultTimeout(STEP);
  context.setDefaultNavigationTimeout(STEP);
  const page = await context.newPage();
  const problems = [];
  const expected = [];
  let quietConsole = []; // statuses whose one console line is expected
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = `${msg.location()?.url} ${msg.text()}`;
    if (/favicon/.test(text)) return;
    const i = quietConsole.findIndex((s) => text.includes(`status of ${s}`));
    if (i >= 0) { quietConsole.splice(i, 1); return; }
    problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('response', (res) => {
    const u = new URL(res.url());
    if (u.origin !== sys.base || u.pathname === '/favicon.ico' || res.status() < 400) return;
    const i = expected.findIndex((e) => e.status === res.status() && e.pathname === u.pathname);
    if (i >= 0) {
      expected.splice(i, 1);
      quietConsole.push(res.status());
      return;
    }
    problems.push(`${res.status()} ${res.url()}`);
  });
  return {
    context, page, problems,
    expect: (status, pathname) => { expected.push({ status, pathname }); },
    unmet: () => expected.map((e) => `${e.status} ${e.pathname} (announced, not seen)`),
    shot: (name, p = page) => p.screenshot({ path: path.join(OUT, `${prefix}-${label}-${name}.png`), fullPage: true }),
  };
}

export async function currentStep(page) {
  return (await page.locator('ol.steps li.current .step-label').allInnerTexts()).map((s) => s.trim());
}

/** Whether any element overflows the viewport horizontally (a phone layout problem). */
export const overflowX = (page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);

/** As a person would: login through govsim, 開始鑑別, consent, the code from /dev/mail, 下一步. */
export async function throughStep1(page, context, sys, who) {
  // Login through govsim, 證書續期 → 待身份鑑別之證書 → 開始鑑別 → consent.
  await page.goto(`${sys.base}/`);
  await page.getByRole('link', { name: '以公務通帳戶登入' }).click();
  await page.waitForURL((u) => u.origin === sys.govsim);
  await page.locator(`button[name="sub"][value="${who.sub}"]`).click();
  await page.waitForURL((u) => u.origin === sys.base && u.pathname === '/home');
  await page.goto(`${sys.base}${P}/verify`);
  await page.getByRole('button', { name: '開始鑑別' }).click();
  await page.waitForURL((u) => u.pathname === `${P}/consent`);
  const app = Number(new URL(page.url()).searchParams.get('app'));
  await page.getByLabel('同意並接受個人資料收集協定及聲明').check();
  await page.getByRole('button', { name: '同意', exact: true }).click();
  await page.waitForURL((u) => u.pathname === `${P}/emails`);

  // 驗證 → 獲取驗證碼 → the code from /dev/mail in a second tab → 驗證電郵地址 → 下一步.
  const row = page.locator('li.email-row', { hasText: who.email });
  await row.getByRole('link', { name: '驗證', exact: true }).click();
  await page.waitForURL((u) => u.pathname === `${P}/email`);
  await page.getByRole('button', { name: '獲取驗證碼' }).click();
  await page.waitForURL((u) => u.searchParams.get('msg') === 'code_sent');
  const mail = await context.newPage();
  await mail.goto(`${sys.base}/dev/mail`);
  await mail.locator('tr[data-kind="code"]', { hasText: who.email }).first().locator('a').first().click();
  await mail.waitForURL((u) => u.pathname === '/dev/mail/message');
  const code = /驗證碼 : (\d{6})/.exec(await mail.locator('pre.mail-body').innerText())?.[1];
  assert.ok(code, 'the code mail');
  await mail.close();
  await page.bringToFront();
  await page.locator('#code').fill(code);
  await page.getByRole('button', { name: '驗證電郵地址' }).click();
  await page.waitForURL((u) => u.pathname === `${P}/emails`);
  await page.getByRole('button', { name: '下一步' }).click();
  return app;
}


/** Step 2 as a person would: the photo (sim/faces/<photo>), 上傳近照, 確定使用照片 → 確認續期. */
export async function throughStep2(page, photo = 'wong.jpg') {
  await page.waitForURL((u) => u.pathname === `${P}/identity`);
  await page.locator('input[type="file"][name="photo"]').setInputFiles(path.join(FACES, photo));
  await page.getByRole('button', { name: '上傳近照' }).click();
  await page.waitForURL((u) => u.searchParams.get('msg') === 'photo_uploaded');
  await page.getByRole('button', { name: '確定使用照片' }).click();
  await page.waitForURL((u) => u.pathname === `${P}/confirm`);
}

/**
 * Step 3's signature: 職務/職級/職位 (when given), the tick, 進行電子身份識別並簽署申請文件, govsim's e-ID page with
 * its QR code (onQr(page) then), 「模擬手機掃描」 opening the phone's view in a second page (onPhone(phone) then),
 * 「確認」 there, and the first page back by itself on the portal with 「簽署申請文件成功」 (the dialog still open).
 */
export async function signWithEid(page, context, sys, { position, onQr, onPhone } = {}) {
  if (position) await page.getByLabel('職務/職級/職位').selectOption(position);
  await page.getByLabel('同意並接受申請人／登記人協定及聲明').check();
  await page.getByRole('button', { name: '進行電子身份識別並簽署申請文件' }).click();
  await page.waitForURL((u) => u.origin === sys.govsim);
  const qr = page.locator('img[src*="/eid/qr/"]');
  await qr.waitFor({ state: 'visible' });
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await qr.elementHandle(), { timeout: STEP });
  if (onQr) await onQr(page);
  const [phone] = await Promise.all([context.waitForEvent('page'), page.getByRole('link', { name: '模擬手機掃描' }).click()]);
  await phone.waitForLoadState();
  if (onPhone) await onPhone(phone);
  await phone.getByRole('button', { name: '確認', exact: true }).click();
  await page.waitForURL((u) => u.origin === sys.base && u.pathname === `${P}/confirm` && u.searchParams.get('msg') === 'signed', { timeout: 30_000 });
  await page.getByRole('dialog').waitFor({ state: 'visible' });
  return phone;
}

/** 「繼續」 in the 「簽署申請文件成功」 dialog. */
export async function continueAfterSigning(page) {
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: '繼續' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

/** 確認提交證書續期申請 → step 4 (?msg=submitted). */
export async function submitApplication(page) {
  await page.getByRole('button', { name: '確認提交證書續期申請' }).click();
  await page.waitForURL((u) => u.pathname === `${P}/confirm` && u.searchParams.get('msg') === 'submitted');
}

/** Steps 1-3 through 確認提交證書續期申請, as confirm.test.mjs clicks them; returns the application id. */
export async function throughStep3(page, context, sys, who, { photo = 'wong.jpg', position } = {}) {
  const app = await throughStep1(page, context, sys, who);
  await throughStep2(page, photo);
  const phone = await signWithEid(page, context, sys, { position });
  await phone.close();
  await continueAfterSigning(page);
  await submitApplication(page);
  return app;
}
