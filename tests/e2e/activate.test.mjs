// Browser test of step 4 「激活證書」 (SPEC R9; seed steps 19-22), Debian's chromium driven by playwright-core as a
// person would click: WONG through steps 1-3 as confirm.test.mjs clicks them, then on step 4 「激活」 for the
// cloudsign certificate, the form (雲簽用户名稱 wong.ctt, 雲簽簽名密碼, 證書撤銷短語 twice, 「激活證書」), a wrong
// password (the page says so, with the tries left; the expected 400), a weak passphrase (its message; a 400 too),
// then the demo signing password and a good passphrase → 「成功激活」 with the new serial; then the home tile
// 本系統簽發之證書 with the new certificate, its download and the 撤銷證書 form opened. At desktop and phone width,
// each on a fresh system; axe-core and the overflow check on every page shown. Screenshots:
// tests/e2e/out/activate-*.png (gitignored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, WONG } from '../lib/harness.mjs';
import { dbOf, P } from '../lib/verify.mjs';
import { axeViolations } from '../lib/axe.mjs';
import { DEMO_SIGNING_PASSWORD, GOOD_PASSPHRASE } from '../lib/activate.mjs';
import { VIEWPORTS, launch, portalPage, currentStep, overflowX, throughStep3 } from '../lib/browser.mjs';

const WEAK_PASSPHRASE = 'WongCloudsign2026'; // long enough, but made of the holder's own words

for (const [label, viewport] of VIEWPORTS) {
  test(`WONG activates his cloudsign certificate and finds it under 本系統簽發之證書 (${label}, ${viewport.width} px)`, { timeout: 240_000 }, async (t) => {
    const sys = await startSystem();
    t.after(() => sys.stop());
    const browser = await launch(t);
    const sql = dbOf(sys);
    const { context, page, problems, expect, unmet, shot } = await portalPage(browser, sys, label, viewport, 'activate');

    /** The page as a user sees it: no horizontal overflow, a full-page screenshot, no WCAG 2.1 A/AA violation. */
    const look = async (name) => {
      assert.equal(await overflowX(page), false, `no horizontal overflow (${name})`);
      await shot(name);
      assert.deepEqual(await axeViolations(page), [], `WCAG 2.1 A/AA (axe-core): ${name}`);
    };
    /** The form filled as a person types it, then 「激活證書」. */
    const submitForm = async ({ password, passphrase, again = passphrase }) => {
      await page.getByLabel('雲簽簽名密碼').fill(password);
      await page.getByLabel(/^\*?\s*證書撤銷短語/).fill(passphrase);
      await page.getByLabel('再次輸入證書撤銷短語').fill(again);
      await page.getByRole('button', { name: '激活證書', exact: true }).click();
      await page.waitForLoadState();
    };

    try {
      const app = await throughStep3(page, context, sys, WONG);

      // Step 4: the cloudsign certificate waits for 「激活」.
      assert.deepEqual(await currentStep(page), ['激活證書'], 'step 4 is current');
      const old = sql(`SELECT c.id, c.serial_hex FROM certificates c JOIN renewals r ON r.cert_id = c.id
        WHERE r.application_id = ${app} AND c.type = 'cloudsign'`);
      assert.equal(old.length, 1, 'one cloudsign certificate in the application');
      const row = page.locator(`div.activation[data-cert="${old[0].id}"]`);
      assert.ok(await row.getByText(old[0].serial_hex).isVisible(), 'the old serial on its row');
      const activateButton = row.getByRole('button', { name: /^激活/ });
      assert.equal(await activateButton.innerText(), '激活');
      await look('1-step4');

      // 「激活」: the form of seed step 21.
      await activateButton.click();
      await page.waitForURL((u) => u.pathname === `${P}/activate/open`);
      assert.deepEqual(await currentStep(page), ['激活證書']);
      assert.ok(await page.getByText('雲簽用户名稱').isVisible());
      assert.equal((await page.locator('.account').innerText()).trim(), 'wong.ctt');
      for (const field of [page.getByLabel('雲簽簽名密碼'), page.getByLabel(/^\*?\s*證書撤銷短語/), page.getByLabel('再次輸入證書撤銷短語')]) {
        assert.ok(await field.isVisible());
        assert.equal(await field.getAttribute('type'), 'password');
      }
      assert.ok(await page.getByRole('button', { name: '激活證書', exact: true }).isVisible());
      assert.ok(await page.getByText(/餘下嘗試次數：\s*5/).isVisible(), 'the tries left before any mistake');
      await look('2-form');

      // A wrong password: the page says so with the tries left; nothing issued.
      expect(400, `${P}/activate`);
      await submitForm({ password: 'Not-The-Password-1', passphrase: GOOD_PASSPHRASE });
      const flash = page.locator('#form-error[role="alert"]');
      assert.match(await flash.innerText(), /雲簽簽名密碼不正確.*餘下嘗試次數：4/);
      assert.equal(await page.locator('#password').getAttribute('aria-invalid'), 'true', 'the field is marked');
      assert.match(await page.locator('#password').getAttribute('aria-describedby'), /form-error/);
      assert.equal((await page.locator('.account').innerText()).trim(), 'wong.ctt', 'still the form');
      assert.equal(Number(sql(`SELECT count(*) AS n FROM certificates WHERE issued_here = 1`)[0].n), 0);
      await look('3-wrong-password');

      // A weak passphrase: its message, and the password is not counted against.
      expect(400, `${P}/activate`);
      await submitForm({ password: DEMO_SIGNING_PASSWORD, passphrase: WEAK_PASSPHRASE });
      assert.match(await flash.innerText(), /證書撤銷短語太容易被猜中/);
      assert.equal(await page.locator('#passphrase').getAttribute('aria-invalid'), 'true');
      assert.equal(await page.locator('#password').getAttribute('aria-invalid'), null);
      assert.ok(await page.getByText(/餘下嘗試次數：\s*4/).isVisible(), 'the weak passphrase cost no try');
      await look('4-weak-passphrase');

      // The demo signing password and a good passphrase twice: 「成功激活」 with the new serial.
      await submitForm({ password: DEMO_SIGNING_PASSWORD, passphrase: GOOD_PASSPHRASE });
      await page.waitForURL((u) => u.pathname === `${P}/confirm` && u.searchParams.get('msg') === 'activated');
      const issued = sql(`SELECT id, serial_hex FROM certificates WHERE issued_here = 1`);
      assert.equal(issued.length, 1, 'one new certificate');
      const [nc] = issued;
      assert.notEqual(nc.serial_hex, old[0].serial_hex);
      assert.ok(await row.getByText('成功激活', { exact: true }).isVisible());
      assert.equal((await row.locator('dd.new-serial').innerText()).trim(), nc.serial_hex, 'the new serial shown');
      assert.equal(await row.getByRole('button', { name: /^激活/ }).count(), 0, 'no 「激活」 any more');
      await look('5-activated');

      // The home tile 本系統簽發之證書: the new certificate, its download, 撤銷證書.
      await page.goto(`${sys.base}/home`);
      await page.getByRole('link', { name: /^本系統簽發之證書/ }).click();
      await page.waitForURL((u) => u.pathname === `${P}/certificates`);
      const card = page.locator('section.card', { has: page.locator(`article[data-cert="${nc.id}"]`) });
      assert.equal((await card.locator('dd.serial').innerText()).trim(), nc.serial_hex, 'the new serial on the certificates page');
      const download = card.getByRole('link', { name: '下載證書（PEM）' });
      assert.equal(await download.getAttribute('href'), `${P}/certificate.pem?cert=${nc.id}`);
      const pem = await context.request.get(`${sys.base}${P}/certificate.pem?cert=${nc.id}`);
      assert.equal(pem.status(), 200);
      assert.match(await pem.text(), /^-----BEGIN CERTIFICATE-----\n/);
      const details = card.locator('details.revoke');
      assert.equal(await details.evaluate((d) => d.open), false, '撤銷證書 starts closed');
      await details.locator('summary', { hasText: '撤銷證書' }).click();
      assert.equal(await details.evaluate((d) => d.open), true);
      assert.ok(await details.getByLabel(/證書撤銷短語/).isVisible());
      assert.ok(await details.getByRole('radio', { name: '不再需要' }).isChecked());
      assert.ok(await details.getByRole('button', { name: '確認撤銷證書' }).isVisible());
      await look('6-certificates');

      assert.deepEqual(unmet(), [], 'the two refusals were 400s');
      assert.deepEqual(problems, [], 'no console errors, CSP violations or failed requests');
    } catch (e) {
      await shot('failure').catch(() => {});
      throw e;
    } finally {
      await context.close();
    }
  });
}
