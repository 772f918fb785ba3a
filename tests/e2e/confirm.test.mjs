// Browser test of step 3 「確認續期」 to step 4 (SPEC R7, R8; seed steps 15-19), Debian's chromium driven by
// playwright-core: WONG through steps 1 and 2, the summary and the declaration, 「進行電子身份識別並簽署申請文件」
// without the tick (the page explains) and with it, govsim's e-ID page with its QR code, 「模擬手機掃描」 opening
// the phone's view in a second page where 「確認」 is pressed, the first page noticing by itself and coming
// back to 「簽署申請文件成功」, 「繼續」, 「確認提交證書續期申請」 and step 4. At desktop and phone width, each on
// a fresh system; axe-core on every portal page. Screenshots: tests/e2e/out/confirm-*.png (gitignored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, WONG } from '../lib/harness.mjs';
import { dbOf } from '../lib/verify.mjs';
import { axeViolations } from '../lib/axe.mjs';
import {
  VIEWPORTS, launch, portalPage, currentStep, overflowX, throughStep1, throughStep2, signWithEid, continueAfterSigning,
  submitApplication,
} from '../lib/browser.mjs';

for (const [label, viewport] of VIEWPORTS) {
  test(`WONG signs his application with the e-ID and submits it (${label}, ${viewport.width} px)`, { timeout: 240_000 }, async (t) => {
    const sys = await startSystem();
    t.after(() => sys.stop());
    const browser = await launch(t);
    const sql = dbOf(sys);
    const { context, page, problems, shot } = await portalPage(browser, sys, label, viewport, 'confirm');

    try {
      const app = await throughStep1(page, context, sys, WONG);
      await throughStep2(page);

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

      // With it: GovID's e-ID page, a QR code and 「模擬手機掃描」; the phone's view in a second page: what is
      // approved, then 「確認」.
      await signWithEid(page, context, sys, {
        position: 'Tecnico superior principal',
        onQr: () => shot('2-eid-qr'),
        onPhone: async (phone) => {
          assert.ok(await phone.getByText(WONG.name).first().isVisible(), 'the phone names the holder');
          assert.ok(await phone.getByText(/R\d{4}-\d{6}/).first().isVisible(), 'the phone names the application');
          await shot('3-phone', phone);
        },
      });

      // The first page notices by itself and comes back: 簽署申請文件成功.
      const dialog = page.getByRole('dialog');
      assert.ok(await dialog.getByText('簽署申請文件成功').isVisible());
      assert.ok(await dialog.getByText('請點擊“繼續”，並確認所有申請資料無誤後確認提交已簽署之證書續期申請文件').isVisible());
      assert.equal(await overflowX(page), false, 'no horizontal overflow (dialog)');
      await shot('4-signed-dialog');
      assert.deepEqual(await axeViolations(page), [], 'WCAG 2.1 A/AA (axe-core): 4-signed-dialog');
      await continueAfterSigning(page);
      assert.ok(await page.getByText('Tecnico superior principal').first().isVisible());

      // 確認提交證書續期申請 → 激活證書.
      await submitApplication(page);
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
      await shot('failure').catch(() => {});
      throw e;
    } finally {
      await context.close();
    }
  });
}
