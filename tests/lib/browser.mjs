// What the browser tests share: the wizard's current step, the phone-layout check, and a holder taken
// through step 1 as a person would click it (login through govsim, 開始鑑別, consent, the code from
// /dev/mail in a second tab, 下一步).
import assert from 'node:assert/strict';
import { P } from './verify.mjs';

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

