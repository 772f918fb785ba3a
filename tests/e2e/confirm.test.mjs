// Browser test of step 3 「確認續期」 to step 4 (SPEC R7, R8; seed steps 15-19), Debian's chromium driven by
// playwright-core: WONG through steps 1 and 2, the summary and the declaration, 「進行電子身份識別並簽署申請文件」
// without the tick (the page explains) and with it, govsim's e-ID page with its QR code, 「模擬手機掃描」 opening
// the phone's view in a second page where 「確認」 is pressed, the first page noticing by itself and coming
// back to 「簽署申請文件成功」, 「繼續」, 「確認提交證書續期申請」 and step 4. At desktop and phone width, each on
// a fresh system; axe-core on every portal page. Screenshots: tests/e2e/out/confirm-*.png (gitignored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startSystem, ROOT, WONG } from '../lib/harness.mjs';
import { dbOf, P } from '../lib/verify.mjs';
import { FACES } from '../lib/identity.mjs';
import { axeViolations } from '../lib/axe.mjs';
import { currentStep, overflowX, throughStep1 } from '../lib/browser.mjs';

const OUT = path.join(ROOT, 'tests', 'e2e', 'out');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP = 15_000; // every browser wait is bounded
const VIEWPORTS = [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]];

for (const [label, viewport] of VIEWPORTS) {
  test(`WONG signs his application with the e-ID and submits it (${label}, ${viewport.width} px)`, { timeout: 240_000 }, async (t) => {
    mkdirSync(OUT, { recursive: true });
    const sys = await startSystem();
    t.after(() => sys.stop());
    const browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true, timeout: 30_000,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    t.after(() => browser.close().catch(() => {}));
    const sql = dbOf(sys);
    const context = await browser.newContext({ locale: 'zh-TW', viewport, isMobile: label === 'phone', hasTouch: label === 'phone' });
    context.setDefaultTimeout(STEP);
    context.setDefaultNavigationTimeout(STEP);
    const page = await context.newPage();
    const shot = (name, p = page) => p.screenshot({ path: path.join(OUT, `confirm-${label}-${name}.png`), fullPage: true });
    const problems = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/favicon/.test(`${msg.location()?.url} ${msg.text()}`)) problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('response', (res) => {
      const u = new URL(res.url());
      if (u.origin === sys.base && u.pathname !== '/favicon.ico' && res.status() >= 400) problems.push(`${res.status()} ${res.url()}`);
    });

    try {
      const app = await throughStep1(page, context, sys, WONG);
      await page.waitForURL((u) => u.pathname === `${P}/identity`);
      await page.locator('input[type="file"][name="photo"]').setInputFiles(path.join(FACES, 'wong.jpg'));
      await page.getByRole('button', { name: '上傳近照' }).click();
      await page.waitForURL((u) => u.searchParams.get('msg') === 'photo_uploaded');
      await page.getByRole('button', { name: '確定使用照片' }).click();
      await page.waitForURL((u) => u.pathname === `${P}/confirm`);

      // The summary and the declaration.
      assert.deepEqual(await currentStep(page), ['確認續期']);
      assert.ok(await page.getByRole('heading', { name: '申請人／登記人協定及聲明' }).isVisible());
      assert.ok(await page.getByText('本人確認上述提交之所有資料真實及正確。').isVisible());
      assert.equal(await page.getByLabel('職務/職級/職位').inputValue(), 'Tecnico superior', 'preselected');
      assert.equal(await overflowX(page), false, 'no horizontal overflow (summary)');
      await shot('1-summary');
      assert.deepEqual(await axeViolations(page), [], 'WCAG 2.1 A/AA (axe-core): 1-summary');

      // Without the tick the page explains and nothing is sent.
      await page.getByRole('button', { name: '進行電子身份識別並簽署申請文件' }).click();
      await page.getByText('請勾選「同意並接受申請人／登記人協定及聲明」。').waitFor({ state: 'visible' });
      assert.equal(Number(sql(`SELECT count(*) AS n FROM app_documents WHERE application_id = ${app}`)[0].n), 0);

      // With it: GovID's e-ID page, a QR code and 「模擬手機掃描」.
      await page.getByLabel('職務/職級/職位').selectOption('Tecnico superior principal');
      await page.getByLabel('同意並接受申請人／登記人協定及聲明').check();
      await page.getByRole('button', { name: '進行電子身份識別並簽署申請文件' }).click();
      await page.waitForURL((u) => u.origin === sys.govsim);
      const qr = page.locator('img[src*="/eid/qr/"]');
      await qr.waitFor({ state: 'visible' });
      await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await qr.elementHandle(), { timeout: STEP });
      await shot('2-eid-qr');

      // The phone's view in a second page: what is approved, then 「確認」.
      const [phone] = await Promise.all([context.waitForEvent('page'), page.getByRole('link', { name: '模擬手機掃描' }).click()]);
      await phone.waitForLoadState();
      assert.ok(await phone.getByText(WONG.name).first().isVisible(), 'the phone names the holder');
      assert.ok(await phone.getByText(/R\d{4}-\d{6}/).first().isVisible(), 'the phone names the application');
      await shot('3-phone', phone);
      await phone.getByRole('button', { name: '確認', exact: true }).click();

      // The first page notices by itself and comes back: 簽署申請文件成功.
      await page.waitForURL((u) => u.origin === sys.base && u.pathname === `${P}/confirm` && u.searchParams.get('msg') === 'signed', { timeout: 30_000 });
      const dialog = page.getByRole('dialog');
      await dialog.waitFor({ state: 'visible' });
      assert.ok(await dialog.getByText('簽署申請文件成功').isVisible());
      assert.ok(await dialog.getByText('請點擊“繼續”，並確認所有申請資料無誤後確認提交已簽署之證書續期申請文件').isVisible());
      assert.equal(await overflowX(page), false, 'no horizontal overflow (dialog)');
      await shot('4-signed-dialog');
      assert.deepEqual(await axeViolations(page), [], 'WCAG 2.1 A/AA (axe-core): 4-signed-dialog');
      await dialog.getByRole('button', { name: '繼續' }).click();
      await dialog.waitFor({ state: 'hidden' });
      assert.ok(await page.getByText('Tecnico superior principal').first().isVisible());

      // 確認提交證書續期申請 → 激活證書.
      await page.getByRole('button', { name: '確認提交證書續期申請' }).click();
      await page.waitForURL((u) => u.pathname === `${P}/confirm` && u.searchParams.get('msg') === 'submitted');
      assert.deepEqual(await currentStep(page), ['激活證書'], 'step 4 is current');
      assert.ok(await page.getByText('已確認並成功提交證書續期申請').isVisible());
      assert.ok(await page.getByRole('heading', { name: '待線上激活之證書' }).isVisible());
      assert.ok(await page.getByRole('heading', { name: '待線下辦理之證書' }).isVisible());
      assert.equal(sql(`SELECT state FROM applications WHERE id = ${app}`)[0].state, 'submitted');
      assert.equal(await overflowX(page), false, 'no horizontal overflow (step 4)');
      await shot('5-submitted');
      assert.deepEqual(await axeViolations(page), [], 'WCAG 2.1 A/AA (axe-core): 5-submitted');

      assert.deepEqual(problems, [], 'no console errors, CSP violations or failed requests');
    } catch (e) {
      await page.screenshot({ path: path.join(OUT, `confirm-${label}-failure.png`), fullPage: true }).catch(() => {});
      throw e;
    } finally {
      await context.close();
    }
  });
}
