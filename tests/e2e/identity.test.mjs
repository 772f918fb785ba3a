// Browser test of step 2 「驗證身份」 (SPEC R6, seed steps 12-14), Debian's chromium driven by playwright-core as a
// person would click: login as WONG through govsim, step 1 through 下一步, then on 驗證身份 a text file named
// photo.jpg (refused, the message on screen), sim/faces/wong.jpg (preview), 重新上傳 once more, 確定使用照片 →
// 確認續期 is the current step. At desktop width and at phone width (390), each on a fresh system.
// Screenshots: tests/e2e/out/identity-*.png (gitignored).
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
const NOT_IMAGE = '所選檔案不是圖像檔案。系統只支援 JPG、JPEG、PNG 及 TIFF 格式的檔案。';

const VIEWPORTS = [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]];

for (const [label, viewport] of VIEWPORTS) {
  test(`WONG uploads his photo and reaches 確認續期 (${label}, ${viewport.width} px)`, { timeout: 180_000 }, async (t) => {
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
    const shot = (name) => page.screenshot({ path: path.join(OUT, `identity-${label}-${name}.png`), fullPage: true });
    const problems = [];
    let expected400 = 0;
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/favicon|status of 400/.test(`${msg.location()?.url} ${msg.text()}`)) problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('response', (res) => {
      const u = new URL(res.url());
      if (u.origin !== sys.base || u.pathname === '/favicon.ico' || res.status() < 400) return;
      if (res.status() === 400 && u.pathname === `${P}/identity/photo` && expected400 > 0) { expected400--; return; }
      problems.push(`${res.status()} ${res.url()}`);
    });

    try {
      const app = await throughStep1(page, context, sys, WONG);

      // 驗證身份: DSI's check passed, 上傳近照.
      await page.waitForURL((u) => u.pathname === `${P}/identity`);
      assert.deepEqual(await currentStep(page), ['驗證身份']);
      assert.ok(await page.getByText('已通過身份證明局之身份證資料檢測。').isVisible());
      assert.ok(await page.getByText('系統支援 JPG、JPEG、PNG 及 TIFF 格式的檔案。').isVisible());
      assert.equal(await page.getByRole('button', { name: '確定使用照片' }).count(), 0, 'nothing to confirm yet');
      assert.equal(await overflowX(page), false, 'no horizontal overflow');
      await shot('1-identity');
      assert.deepEqual(await axeViolations(page), [], 'WCAG 2.1 A/AA (axe-core): 1-identity');

      // A text file named photo.jpg: refused, the message on screen.
      expected400 = 1;
      await page.locator('input[type="file"][name="photo"]').setInputFiles({
        name: 'photo.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a photo at all\n'.repeat(40)),
      });
      await page.getByRole('button', { name: '上傳近照' }).click();
      const refusal = page.locator('p.flash.bad', { hasText: NOT_IMAGE });
      await refusal.waitFor({ state: 'visible' });
      assert.equal(expected400, 0, 'the refusal was a 400');
      assert.equal(Number(sql('SELECT count(*) AS n FROM photos')[0].n), 0, 'nothing stored');
      assert.equal(await overflowX(page), false, 'no horizontal overflow (refusal)');
      await shot('2-refused');
      assert.deepEqual(await axeViolations(page), [], 'WCAG 2.1 A/AA (axe-core): 2-refused');

      // wong.jpg: the preview.
      await page.locator('input[type="file"][name="photo"]').setInputFiles(path.join(FACES, 'wong.jpg'));
      await page.getByRole('button', { name: '上傳近照' }).click();
      await page.waitForURL((u) => u.pathname === `${P}/identity` && u.searchParams.get('msg') === 'photo_uploaded');
      const img = page.locator('figure.photo-preview img');
      await img.waitFor({ state: 'visible' });
      await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), { timeout: STEP });
      const box = await img.boundingBox();
      assert.ok(box && box.width > 50 && box.x >= 0 && box.x + box.width <= viewport.width, `the preview fits: ${JSON.stringify(box)}`);
      assert.ok(await page.getByText('近照已上傳。請確認照片無誤後點選「確定使用照片」。').isVisible());
      assert.equal(await overflowX(page), false, 'no horizontal overflow (preview)');
      await shot('3-preview');
      assert.deepEqual(await axeViolations(page), [], 'WCAG 2.1 A/AA (axe-core): 3-preview');

      // 重新上傳 with the same face once more.
      const firstSrc = await img.getAttribute('src');
      await page.locator('input[type="file"][name="photo"]').setInputFiles(path.join(FACES, 'wong.jpg'));
      await page.getByRole('button', { name: '重新上傳' }).click();
      await page.waitForURL((u) => u.searchParams.get('msg') === 'photo_uploaded');
      await img.waitFor({ state: 'visible' });
      assert.ok(await img.getAttribute('src'), `preview after 重新上傳 (was ${firstSrc})`);
      assert.equal(Number(sql(`SELECT count(*) AS n FROM photos WHERE application_id = ${app} AND replaced_at IS NULL`)[0].n), 1);

      // 確定使用照片 → 確認續期.
      await page.getByRole('button', { name: '確定使用照片' }).click();
      await page.waitForURL((u) => u.pathname === `${P}/confirm`);
      assert.deepEqual(await currentStep(page), ['確認續期'], 'step 3 is current');
      assert.ok(await page.getByText('已通過個人近照檢測。').isVisible());
      assert.equal(sql(`SELECT state FROM applications WHERE id = ${app}`)[0].state, 'confirm');
      assert.equal(await overflowX(page), false, 'no horizontal overflow (confirm)');
      await shot('4-confirm');
      assert.deepEqual(await axeViolations(page), [], 'WCAG 2.1 A/AA (axe-core): 4-confirm');

      assert.deepEqual(problems, [], 'no console errors, CSP violations or failed requests');
    } catch (e) {
      await page.screenshot({ path: path.join(OUT, `identity-${label}-failure.png`), fullPage: true }).catch(() => {});
      throw e;
    } finally {
      await context.close();
    }
  });
}

// The stop of step 2 as its holder sees it: CHEONG's name changed at DSI, so the page names what differs and
// points to the registry. Both widths on one system (each its own browser context).
test('CHEONG sees why step 2 stopped and where to go (both widths, axe-core)', { timeout: 180_000 }, async (t) => {
  mkdirSync(OUT, { recursive: true });
  const sys = await startSystem();
  t.after(() => sys.stop());
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  t.after(() => browser.close().catch(() => {}));
  const cheong = { sub: 'govid-1000004', email: 'cheong.demo@ctt.gov.mo' };
  let app = 0;
  for (const [label, viewport] of VIEWPORTS) {
    const context = await browser.newContext({ locale: 'zh-TW', viewport, isMobile: label === 'phone', hasTouch: label === 'phone' });
    context.setDefaultTimeout(STEP);
    context.setDefaultNavigationTimeout(STEP);
    const page = await context.newPage();
    try {
      if (app === 0) {
        app = await throughStep1(page, context, sys, cheong);
      } else {
        // Coming back on another device: login, and the verify list leads to the same stop.
        await page.goto(`${sys.base}/`);
        await page.getByRole('link', { name: '以公務通帳戶登入' }).click();
        await page.locator(`button[name="sub"][value="${cheong.sub}"]`).click();
        await page.waitForURL((u) => u.origin === sys.base && u.pathname === '/home');
        await page.goto(`${sys.base}${P}/verify`);
      }
      await page.waitForURL((u) => u.pathname === `${P}/identity` && Number(u.searchParams.get('app')) === app);
      assert.deepEqual(await currentStep(page), ['驗證身份']);
      assert.ok(await page.getByText('身份證明局之身份證資料與閣下的證書登記資料不符').isVisible());
      assert.ok(await page.getByText('28330338').first().isVisible());
      assert.equal(await page.getByRole('button', { name: '上傳近照' }).count(), 0, 'no upload at the counter');
      assert.equal(await overflowX(page), false, 'no horizontal overflow');
      await page.screenshot({ path: path.join(OUT, `identity-${label}-counter.png`), fullPage: true });
      assert.deepEqual(await axeViolations(page), [], `WCAG 2.1 A/AA (axe-core): counter, ${label}`);
    } finally {
      await context.close();
    }
  }
});
