// Identity verification step 1 「驗證帳戶」 (SPEC R5, issue 4, seed steps 6-11) over HTTP: the due certificates,
// 開始鑑別, the personal-data consent and the email codes read from the real outbox through /dev/mail.
// Every refusal is its own test and checks, with SQL (either backend), that nothing changed.
// Each test gets a fresh system (a quarter of a second), so the per-address code limits never leak between tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSystem, CookieJar, login, forms, elements, textOf, run, CERTRENEW, WONG, CHAN, TEST_TIMEOUT,
} from '../lib/harness.mjs';
import { checkPending, LABELS } from '../lib/checks.mjs';
import {
  P, CERT_LABELS, QUALIFIED_LABELS, dbOf, q, parseCerts, assertStep, flashOf, hasNext, countdownOf,
  errorMessage, readCode, wrongCode, Wizard,
} from '../lib/verify.mjs';

const T = { timeout: TEST_TIMEOUT };
const CTT_NAME = 'Direccao dos Servicos de Correios e Telecomunicacoes';
const MSG = {
  consent: '請先勾選「同意並接受個人資料收集協定及聲明」。',
  sent: '系統已發送驗證碼到台端之電郵地址，請前往查收並輸入驗證碼以完成驗證。',
  verified: '電郵地址已驗證。',
  pending: '尚有電郵地址未通過驗證。',
  setChanged: '待續期之證書記錄已有更新，請重新確認。',
  wrong: (n) => `驗證碼不正確，尚餘 ${n} 次機會。`,
  expired: '驗證碼已過期，請重新獲取驗證碼。',
  used: '此驗證碼已使用，請重新獲取驗證碼。',
  dead: '驗證碼錯誤次數過多，已失效，請重新獲取驗證碼。',
  none: '請先點選「獲取驗證碼」。',
  malformed: '請輸入 6 位數字的驗證碼。',
  tooSoon: /^請於 (\d+) 秒後再獲取驗證碼。$/,
  hourly: '此電郵地址於一小時內獲取驗證碼的次數已達上限，請稍後再試。',
  csrf: '表格已失效，請重新載入頁面後再試。',
  notFound: '找不到此證書續期申請。',
};

/**
 * A fresh system. `emails` (type → address) rewrites WONG's certificates' addresses before anything starts,
 * so an application can have two addresses.
 */
async function setup(t, { emails } = {}) {
  const sys = await startSystem();
  // stop() throws on a crash or a sanitizer report, which fails the test.
  t.after(() => sys.stop());
  const sql = dbOf(sys);
  for (const [type, addr] of Object.entries(emails || {})) {
    sql(`UPDATE certificates SET email = ${q(addr)} WHERE type = ${q(type)}
      AND holder_id = (SELECT id FROM people WHERE govid_sub = ${q(WONG.sub)})`);
  }
  const as = async (sub) => {
    const jar = new CookieJar();
    await login(jar, sub, sys.base);
    const w = new Wizard(sys, jar);
    const home = await w.get('/home');
    assert.equal(home.status, 200);
    return w;
  };
  return { sys, sql, as, url: (p) => `${sys.base}${p}` };
}

/** Everything this step could change. */
function snapshot(sql) {
  return {
    apps: sql('SELECT id, holder_id, state, consent_at, consent_version, created_at, updated_at FROM applications ORDER BY id'),
    appCerts: sql('SELECT application_id, cert_id FROM application_certs ORDER BY 1, 2'),
    checks: sql('SELECT application_id, email, verified_at FROM email_checks ORDER BY 1, 2'),
    codes: sql(`SELECT id, application_id, email, ${sql.dialect.hex('code_hash')} AS h, created_at, expires_at, attempts, used_at FROM email_codes ORDER BY id`),
    outbox: sql('SELECT id, kind, to_addr FROM outbox ORDER BY id'),
    renewals: sql('SELECT cert_id, state, application_id FROM renewals ORDER BY cert_id'),
    confirmations: sql('SELECT cert_id, decision FROM confirmations ORDER BY cert_id'),
    audit: sql("SELECT id, action, object, detail FROM audit_log WHERE action NOT IN ('login', 'logout') ORDER BY id"),
  };
}

const latestCode = (sql, app, email) => sql(`SELECT * FROM email_codes WHERE application_id = ${app}
  AND email = ${q(email)} ORDER BY id DESC LIMIT 1`)[0];
const appRow = (sql, id) => sql(`SELECT * FROM applications WHERE id = ${id}`)[0];
const checkRow = (sql, app, email) => sql(`SELECT * FROM email_checks WHERE application_id = ${app} AND email = ${q(email)}`)[0];
const sqlNow = (sql) => sql(`SELECT ${sql.dialect.now} AS n`)[0].n;

/** A refusal rendered in place (no redirect) with its message. */
function assertRefused(res, status, text, what) {
  assert.equal(res.status, status, `${what}: status\n${res.html.slice(0, 600)}`);
  assert.equal(res.location, null, `${what}: no redirect`);
  if (text !== undefined) {
    const f = flashOf(res.html);
    const shown = f ? f.text : errorMessage(res.html);
    if (text instanceof RegExp) assert.match(shown, text, `${what}: message`);
    else assert.equal(shown, text, `${what}: message`);
    if (f) assert.equal(f.ok, false, `${what}: shown as a problem`);
  }
}

function assertRedirect(res, url, what) {
  assert.equal(res.status, 302, `${what}: status\n${res.html.slice(0, 400)}`);
  assert.equal(res.location, url, `${what}: redirect target`);
}

/** WONG through 開始鑑別 and, unless `consent` is false, the consent. */
async function wongApp(env, { consent = true } = {}) {
  const w = await env.as(WONG.sub);
  const app = await w.start();
  if (consent) await w.consent(app);
  return { w, app };
}

// ------------------------------------------------------------------------------------------ the whole step

test('the whole step: certificates, 開始鑑別, consent, code from /dev/mail, 已驗證, 下一步, step 2', T, async (t) => {
  const env = await setup(t);
  const { sql, url } = env;
  const w = await env.as(WONG.sub);
  const wongId = sql(`SELECT id FROM people WHERE govid_sub = ${q(WONG.sub)}`)[0].id;

  // The pending page links 待身份鑑別之證書 to the list.
  const pending = await w.get(P);
  assert.equal(pending.status, 200);
  checkPending(pending.html, { qualified: 1, encryption: 1, cloudsign: 1 });
  const link = elements(pending.html, 'section').find((s) => s.attrs.id === 'group-verify');
  assert.ok(elements(link.inner, 'a').some((a) => a.attrs.href === `${P}/verify` && a.text.includes('待身份鑑別之證書')),
    'the group heading links the verify list');

  // The list: three cards with every field of R5.1.
  const { res: list, certs, set } = await w.list();
  assertStep(list.html, 1, 'verify list');
  assert.ok(list.html.includes('開始鑑別'));
  assert.ok(set, 'the 開始鑑別 form carries the set');
  assert.equal(certs.length, 3, 'three cards');
  const rows = sql(`SELECT c.id, c.serial_hex, c.type, c.not_after, c.email FROM certificates c
    WHERE c.holder_id = ${wongId} ORDER BY c.id`);
  assert.deepEqual(certs.map((c) => c.id).sort(), rows.map((r) => r.id).sort(), 'the cards are WONG\'s certificates');
  for (const c of certs) {
    const r = rows.find((x) => x.id === c.id);
    const qualified = r.type === 'qualified';
    assert.deepEqual(c.labels, qualified ? [...CERT_LABELS, ...QUALIFIED_LABELS] : CERT_LABELS,
      `${r.type}: the R5.1 labels (交易限額/代理資格 only on the qualified card)`);
    const macau = new Date((r.not_after + 8 * 3600) * 1000).toISOString().slice(0, 10);
    assert.equal(c.fields['證書序號'].replace(/\s/g, ''), r.serial_hex, `${r.type}: serial`);
    assert.equal(c.fields['證書到期日'], macau, `${r.type}: expiry date (Macau)`);
    assert.equal(c.fields['證書狀態'], 'Issued', `${r.type}: status`);
    assert.equal(c.fields['證書類型'], LABELS[r.type], `${r.type}: type label`);
    assert.equal(c.title, LABELS[r.type]);
    assert.equal(c.fields['證書持有人'], WONG.name);
    assert.equal(c.fields['電郵地址'], WONG.email);
    assert.equal(c.fields['機構名稱'], CTT_NAME);
    assert.equal(c.fields['部門/分部'], 'n/a');
    assert.equal(c.fields['職務/職級/職位'], 'Tecnico superior');
    if (qualified) {
      assert.equal(c.fields['交易限額'], '0');
      assert.equal(c.fields['代理資格'], 'n/a');
    }
  }
  assert.equal(sql('SELECT count(*) AS n FROM applications')[0].n, 0, 'looking creates nothing');

  // 開始鑑別 → the application and the consent page.
  const t0 = sqlNow(sql);
  const app = await w.start();
  const a0 = appRow(sql, app);
  assert.equal(a0.holder_id, wongId);
  assert.equal(a0.state, 'consent');
  assert.equal(a0.consent_at, null);
  assert.equal(sql(`SELECT count(*) AS n FROM application_certs WHERE application_id = ${app}`)[0].n, 3);
  assert.deepEqual(sql(`SELECT email, verified_at FROM email_checks WHERE application_id = ${app}`),
    [{ email: WONG.email, verified_at: null }], 'one address to verify');
  assert.equal(sql(`SELECT count(*) AS n FROM audit_log WHERE action = 'verification_started' AND object = 'application:${app}'`)[0].n, 1);

  const consentPage = await w.get(`${P}/consent?app=${app}`);
  assert.equal(consentPage.status, 200);
  assertStep(consentPage.html, 1, 'consent');
  assert.ok(consentPage.html.includes('同意並接受個人資料收集協定及聲明'));
  const cf = forms(consentPage.html).find((f) => f.attrs.action === `${P}/consent`);
  assert.equal(cf.fields.app, String(app));

  // 同意 without the tick: refused, still on the consent.
  const before = snapshot(sql);
  const noTick = await w.post(`${P}/consent`, { csrf: w.csrf, app: String(app) });
  assertRefused(noTick, 400, MSG.consent, 'consent without the tick');
  assert.ok(noTick.html.includes('同意並接受個人資料收集協定及聲明'), 'the consent page again');
  assert.deepEqual(snapshot(sql), before, 'nothing changed');

  // With the tick.
  await w.consent(app);
  const t1 = sqlNow(sql);
  const a1 = appRow(sql, app);
  assert.equal(a1.state, 'emails');
  assert.ok(a1.consent_at >= t0 && a1.consent_at <= t1, `consent_at ${a1.consent_at} in [${t0}, ${t1}]`);
  assert.ok(a1.consent_version && a1.consent_version.length > 0, `consent_version stored (${a1.consent_version})`);
  const audits = sql(`SELECT actor, object, detail FROM audit_log WHERE action = 'consent'`);
  assert.equal(audits.length, 1, 'the consent is audited once');
  assert.equal(audits[0].actor, `person:${wongId}`);
  assert.equal(audits[0].object, `application:${app}`);
  assert.ok(audits[0].detail.includes(a1.consent_version), `the audit names the version: ${audits[0].detail}`);

  // The emails page: the address, not verified, no 下一步.
  let em = await w.emails(app);
  assertStep(em.res.html, 1, 'emails');
  assert.deepEqual(em.rows.map((r) => [r.email, r.verified]), [[WONG.email, false]]);
  assert.equal(em.rows[0].href, `${P}/email?app=${app}&i=0`);
  assert.equal(em.next, false, 'no 下一步 yet');
  assert.ok(!em.res.html.includes('下一步'), 'no 下一步 text');
  assert.equal(parseCerts(em.res.html).length, 3, 'the certificates being renewed are listed too');

  // The pending page still lists the three certificates while they are verified.
  checkPending((await w.get(P)).html, { qualified: 1, encryption: 1, cloudsign: 1 });

  // 驗證 → the email page, no code yet.
  const ep = await w.get(em.rows[0].href);
  assert.equal(ep.status, 200);
  assertStep(ep.html, 1, 'email');
  assert.ok(ep.html.includes(WONG.email) && ep.html.includes('獲取驗證碼') && ep.html.includes('驗證電郵地址'));
  assert.equal(countdownOf(ep.html), null, 'no countdown before a code is sent');

  // 獲取驗證碼 → a mail with the code (through the outbox), a countdown from the server's expiry.
  const sent = await w.send(app, 0);
  assertRedirect(sent, url(`${P}/email?app=${app}&i=0&msg=code_sent`), '獲取驗證碼');
  const mail = await readCode(env.sys.base, WONG.email);
  assert.equal(mail.count, 1);
  assert.equal(mail.subject, 'eSignTrust 電子證書服務（政府機關） - 驗證電郵地址');
  assert.ok(mail.body.includes(url(`${P}/email?app=${app}&i=0`)), `the mail links the page\n${mail.body}`);
  const row = latestCode(sql, app, WONG.email);
  assert.equal(row.attempts, 0);
  assert.equal(row.used_at, null);
  assert.equal(row.expires_at - row.created_at, 300, 'valid 5 minutes');
  assert.equal(sql(`SELECT length(code_hash) AS n FROM email_codes WHERE id = ${row.id}`)[0].n, 32, 'a keyed hash');
  const D = sql.dialect;
  assert.equal(sql(`SELECT count(*) AS n FROM email_codes WHERE ${D.blobHas('code_hash', q(mail.code))} = 1`
    + ` OR ${D.hexHas('code_hash', q(mail.code))} = 1`)[0].n, 0, 'the code is not stored in clear');
  const ob = sql(`SELECT kind, to_addr, ${D.blobHas('sealed', q(mail.code))} AS clear FROM outbox WHERE id = ${mail.id}`)[0];
  assert.deepEqual(ob, { kind: 'code', to_addr: WONG.email, clear: 0 }, 'the outbox row is a sealed code mail');

  const after = await w.get(new URL(sent.location).pathname + new URL(sent.location).search);
  assert.equal(after.status, 200);
  // The page says the code was sent once, beside the countdown (as in the seed), whether as flash or note.
  assert.equal(textOf(after.html).split(MSG.sent).length - 1, 1, 'the code-sent message, once');
  const secs = countdownOf(after.html);
  assert.ok(secs > 290 && secs <= 300, `countdown ${secs} s from the server's expiry`);

  // 驗證電郵地址 → 已驗證, 下一步.
  const ok = await w.check(app, 0, mail.code);
  assertRedirect(ok, url(`${P}/emails?app=${app}&msg=email_verified`), '驗證電郵地址');
  assert.ok(checkRow(sql, app, WONG.email).verified_at, 'verified_at stored');
  assert.ok(latestCode(sql, app, WONG.email).used_at, 'the code is used');
  assert.equal(sql(`SELECT count(*) AS n FROM audit_log WHERE action = 'email_verified'`)[0].n, 1);
  const back = await w.get(`${P}/emails?app=${app}&msg=email_verified`);
  assert.equal(back.status, 200);
  assert.deepEqual(flashOf(back.html), { text: MSG.verified, ok: true }, 'back on the account step, with the message');
  em = await w.emails(app);
  assert.deepEqual(em.rows.map((r) => [r.email, r.verified]), [[WONG.email, true]]);
  assert.ok(em.rows[0].text.includes('已驗證'));
  assert.equal(em.rows[0].href, null, 'no 驗證 link for a verified address');
  assert.equal(em.next, true, '下一步 shown');

  // 下一步 → step 2.
  const nx = await w.next(app);
  assertRedirect(nx, url(`${P}/identity?app=${app}`), '下一步');
  assert.equal(appRow(sql, app).state, 'identity');
  assert.equal(sql(`SELECT count(*) AS n FROM audit_log WHERE action = 'emails_verified'`)[0].n, 1);
  const id = await w.get(`${P}/identity?app=${app}`);
  assert.equal(id.status, 200);
  assertStep(id.html, 2, 'identity');
  assertRedirect(await w.get(`${P}/verify`), url(`${P}/identity?app=${app}`), 'the list now goes to step 2');
  checkPending((await w.get(P)).html, { qualified: 1, encryption: 1, cloudsign: 1 });

  // The audit chain still verifies.
  assert.match(run(CERTRENEW, ['audit-verify'], env.sys.env), /audit log OK/);
});

// ------------------------------------------------------------------------------------------ code refusals

test('a wrong code is refused with the tries left; the 5th kills the code, then even the right one is dead', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w, app } = await wongApp(env);
  const { code } = await w.sendAndRead(app, 0, WONG.email);
  const bad = wrongCode(code);
  for (let k = 1; k <= 4; k++) {
    const res = await w.check(app, 0, bad);
    assertRefused(res, 400, MSG.wrong(5 - k), `wrong try ${k}`);
    assert.equal(latestCode(sql, app, WONG.email).attempts, k, `try ${k} counted`);
    assert.ok(countdownOf(res.html) > 0, 'the code is still live: countdown shown');
  }
  const fifth = await w.check(app, 0, bad);
  assertRefused(fifth, 400, MSG.dead, '5th wrong try');
  assert.equal(latestCode(sql, app, WONG.email).attempts, 5);
  assert.equal(countdownOf(fifth.html), null, 'a dead code has no countdown');
  assert.equal(sql("SELECT count(*) AS n FROM audit_log WHERE action = 'code_wrong'")[0].n, 5, 'every wrong try audited');

  const before = snapshot(sql);
  const right = await w.check(app, 0, code);
  assertRefused(right, 400, MSG.dead, 'the right code after 5 wrong tries');
  assert.deepEqual(snapshot(sql), before, 'nothing changed');
  assert.equal(checkRow(sql, app, WONG.email).verified_at, null, 'not verified');

  // A new code (allowed after 60 s: backdated here) replaces the dead one; the old code is no longer the live one.
  sql(`UPDATE email_codes SET created_at = created_at - 61 WHERE application_id = ${app}`);
  const second = await w.sendAndRead(app, 0, WONG.email);
  if (second.code !== code) {
    assertRefused(await w.check(app, 0, code), 400, MSG.wrong(4), 'the old code against the new one');
  }
  assertRedirect(await w.check(app, 0, second.code), env.url(`${P}/emails?app=${app}&msg=email_verified`), 'the new code');
});

test('an expired code is refused and nothing changes', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w, app } = await wongApp(env);
  const { code } = await w.sendAndRead(app, 0, WONG.email);
  const row = latestCode(sql, app, WONG.email);
  sql(`UPDATE email_codes SET expires_at = ${sqlNow(sql) - 1} WHERE id = ${row.id}`);
  const before = snapshot(sql);
  const res = await w.check(app, 0, code);
  assertRefused(res, 400, MSG.expired, 'expired code');
  assert.equal(countdownOf(res.html), null, 'no countdown for an expired code');
  assert.deepEqual(snapshot(sql), before, 'nothing changed (not even a try counted)');
  assert.equal(countdownOf((await w.get(`${P}/email?app=${app}&i=0`)).html), null);
});

test('a used code is refused when replayed, and nothing changes', T, async (t) => {
  const X = 'x.wong@ctt.gov.mo';
  const Y = 'y.wong@ctt.gov.mo';
  const env = await setup(t, { emails: { qualified: X, encryption: X, cloudsign: Y } });
  const { sql } = env;
  const { w, app } = await wongApp(env);
  let em = await w.emails(app);
  assert.deepEqual(em.rows.map((r) => r.email), [X, Y], 'two addresses, sorted');
  const { code } = await w.sendAndRead(app, 0, X);
  assertRedirect(await w.check(app, 0, code), env.url(`${P}/emails?app=${app}&msg=email_verified`), 'first use');
  const before = snapshot(sql);
  const replay = await w.check(app, 0, code);
  assertRefused(replay, 400, MSG.used, 'replayed code');
  assert.deepEqual(snapshot(sql), before, 'nothing changed');
  em = await w.emails(app);
  assert.deepEqual(em.rows.map((r) => [r.email, r.verified]), [[X, true], [Y, false]]);
  assert.equal(em.next, false, 'no 下一步 while Y is not verified');
});

test('a resend within 60 s is refused (429) with the seconds to wait; at 60 s it is allowed', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w, app } = await wongApp(env);
  await w.sendAndRead(app, 0, WONG.email);
  const before = snapshot(sql);
  const res = await w.send(app, 0);
  assertRefused(res, 429, MSG.tooSoon, 'resend at once');
  const wait = Number(MSG.tooSoon.exec(flashOf(res.html).text)[1]);
  assert.ok(wait >= 55 && wait <= 60, `seconds to wait: ${wait}`);
  assert.ok(countdownOf(res.html) > 0, 'the live code keeps its countdown');
  assert.deepEqual(snapshot(sql), before, 'no new code, no mail');

  sql(`UPDATE email_codes SET created_at = ${sqlNow(sql) - 60} WHERE application_id = ${app}`);
  const again = await w.sendAndRead(app, 0, WONG.email);
  assert.equal(again.count, 2, 'a second mail after 60 s');
});

test('the hourly cap: the 5th code of the hour is sent, the 6th refused (429); older codes do not count', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w, app } = await wongApp(env);
  const now = sqlNow(sql);
  const insert = (ages) => sql(`INSERT INTO email_codes (application_id, email, code_hash, created_at, expires_at)
    VALUES ${ages.map((a) => `(${app}, ${q(WONG.email)}, ${sql.dialect.random32}, ${now - a}, ${now - a + 300})`).join(', ')}`);
  insert([3000, 2400, 1800, 1200]); // four in the last hour, none in the last minute
  await w.sendAndRead(app, 0, WONG.email); // the 5th
  sql(`UPDATE email_codes SET created_at = created_at - 61 WHERE id = (SELECT max(id) FROM email_codes)`);
  const before = snapshot(sql);
  const res = await w.send(app, 0);
  assertRefused(res, 429, MSG.hourly, '6th code of the hour');
  assert.deepEqual(snapshot(sql), before, 'no new code, no mail');

  // Once the oldest leaves the hour, a code may be sent again.
  sql(`UPDATE email_codes SET created_at = ${now - 3601} WHERE created_at = ${now - 3000}`);
  const ok = await w.send(app, 0);
  assertRedirect(ok, env.url(`${P}/email?app=${app}&i=0&msg=code_sent`), 'a code once one left the hour');
});

test('a code for address X does not verify address Y', T, async (t) => {
  const X = 'x.wong@ctt.gov.mo';
  const Y = 'y.wong@ctt.gov.mo';
  const env = await setup(t, { emails: { qualified: X, encryption: Y, cloudsign: X } });
  const { sql } = env;
  const { w, app } = await wongApp(env);
  const em = await w.emails(app);
  assert.deepEqual(em.rows.map((r) => r.email), [X, Y]);
  const x = await w.sendAndRead(app, 0, X);

  // Y has no code at all: X's code is refused.
  let before = snapshot(sql);
  assertRefused(await w.check(app, 1, x.code), 400, MSG.none, "X's code for Y (no code for Y)");
  assert.deepEqual(snapshot(sql), before, 'nothing changed');

  // Y has its own code: X's code is a wrong try on Y's.
  const y = await w.sendAndRead(app, 1, Y);
  if (y.code !== x.code) {
    before = snapshot(sql);
    assertRefused(await w.check(app, 1, x.code), 400, MSG.wrong(4), "X's code for Y");
    assert.equal(checkRow(sql, app, Y).verified_at, null, 'Y not verified');
    assert.equal(checkRow(sql, app, X).verified_at, null, 'X not verified either');
    assert.equal(latestCode(sql, app, Y).attempts, 1, 'a wrong try on Y');
    assert.equal(latestCode(sql, app, X).attempts, 0, "X's code untouched");
    assert.equal(latestCode(sql, app, X).used_at, null);
  }
  // X's code still verifies X only; 下一步 stays closed.
  assertRedirect(await w.check(app, 0, x.code), env.url(`${P}/emails?app=${app}&msg=email_verified`), "X's code for X");
  const rows = (await w.emails(app)).rows;
  assert.deepEqual(rows.map((r) => [r.email, r.verified]), [[X, true], [Y, false]]);
  before = snapshot(sql);
  assertRedirect(await w.next(app), env.url(`${P}/emails?app=${app}&msg=emails_pending`), '下一步 with Y unverified');
  assert.deepEqual(snapshot(sql), before, 'state unchanged');
});

test('a malformed code is refused without counting a try', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w, app } = await wongApp(env);
  const { code } = await w.sendAndRead(app, 0, WONG.email);
  const before = snapshot(sql);
  for (const bad of ['abc', code.slice(0, 5), `${code}0`, '12 345', '', '１２３４５６', '-12345', ' 12345', '12345\n']) {
    assertRefused(await w.check(app, 0, bad), 400, MSG.malformed, `code ${JSON.stringify(bad)}`);
  }
  const noField = await w.post(`${P}/email/verify`, { csrf: w.csrf, app: String(app), i: '0' });
  assertRefused(noField, 400, MSG.malformed, 'no code field');
  assert.deepEqual(snapshot(sql), before, 'no try counted, nothing changed');
  assertRedirect(await w.check(app, 0, code), env.url(`${P}/emails?app=${app}&msg=email_verified`), 'the right code still works');
});

// ------------------------------------------------------------------------------------------ access

test("another holder's application id in the URL or the form is not found (404); nothing changes", T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w: wong, app } = await wongApp(env, { consent: false });
  const chan = await env.as(CHAN.sub);
  const chanApp = await chan.start();
  assert.notEqual(chanApp, app);

  const probe = async (state) => {
    const before = snapshot(sql);
    for (const p of [`consent?app=${app}`, `emails?app=${app}`, `email?app=${app}&i=0`, `identity?app=${app}`]) {
      const res = await chan.get(`${P}/${p}`);
      assertRefused(res, 404, MSG.notFound, `CHAN GET ${p} (WONG in ${state.name})`);
    }
    const posts = [
      ['consent', { app: String(app), agree: '1' }],
      ['email/send', { app: String(app), i: '0' }],
      ['email/verify', { app: String(app), i: '0', code: state.code || '123456' }],
      ['emails/next', { app: String(app) }],
    ];
    for (const [p, form] of posts) {
      const res = await chan.post(`${P}/${p}`, { csrf: chan.csrf, ...form });
      assertRefused(res, 404, MSG.notFound, `CHAN POST ${p} (WONG in ${state.name})`);
    }
    assert.deepEqual(snapshot(sql), before, `nothing changed (WONG in ${state.name})`);
  };
  await probe({ name: 'consent' });
  assert.equal(appRow(sql, app).state, 'consent');

  await wong.consent(app);
  const { code } = await wong.sendAndRead(app, 0, WONG.email);
  await probe({ name: 'emails', code }); // even with WONG's right code
  assert.equal(checkRow(sql, app, WONG.email).verified_at, null);

  // Ids that are no application at all.
  const before = snapshot(sql);
  for (const id of ['0', '-1', 'abc', `${app}x`, ` ${app}`, '1e3', `0${app}`, String(app + 1000), '']) {
    const res = await wong.get(`${P}/emails?app=${encodeURIComponent(id)}`);
    assertRefused(res, 404, MSG.notFound, `GET emails?app=${JSON.stringify(id)}`);
  }
  assertRefused(await wong.get(`${P}/emails`), 404, MSG.notFound, 'GET emails without app');
  for (const i of ['1', '-1', '01', 'x', '']) {
    assertRefused(await wong.get(`${P}/email?app=${app}&i=${i}`), 404, MSG.notFound, `email i=${JSON.stringify(i)}`);
    assertRefused(await wong.send(app, i), 404, MSG.notFound, `send i=${JSON.stringify(i)}`);
  }
  assert.deepEqual(snapshot(sql), before, 'nothing changed');
  // WONG himself still goes on.
  assertRedirect(await wong.check(app, 0, code), env.url(`${P}/emails?app=${app}&msg=email_verified`), 'WONG verifies');
});

test('a POST without (or with a wrong) csrf token is refused (403); nothing changes', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const w = await env.as(WONG.sub);
  const chan = await env.as(CHAN.sub);
  const anon = new CookieJar();
  const { set } = await w.list();

  const refused = async (path, form, what) => {
    const before = snapshot(sql);
    for (const [csrf, how] of [[undefined, 'no csrf'], ['', 'empty csrf'], [chan.csrf, "CHAN's csrf"],
      [`${w.csrf.slice(0, -1)}${w.csrf.endsWith('A') ? 'B' : 'A'}`, 'altered csrf']]) {
      const body = csrf === undefined ? form : { ...form, csrf };
      assertRefused(await w.post(path, body), 403, MSG.csrf, `${what}: ${how}`);
    }
    // Without a session at all, nothing happens either.
    const res = await anon.fetch(env.url(path), { form: { ...form, csrf: w.csrf } });
    assert.ok([302, 403].includes(res.status), `${what} without a session: ${res.status}`);
    assert.deepEqual(snapshot(sql), before, `${what}: nothing changed`);
  };

  await refused(`${P}/start`, { set }, '開始鑑別');
  assert.equal(sql('SELECT count(*) AS n FROM applications')[0].n, 0, 'no application created');
  const app = await w.start();
  await refused(`${P}/consent`, { app: String(app), agree: '1' }, 'consent');
  assert.equal(appRow(sql, app).state, 'consent');
  await w.consent(app);
  await refused(`${P}/email/send`, { app: String(app), i: '0' }, '獲取驗證碼');
  assert.equal(sql('SELECT count(*) AS n FROM email_codes')[0].n, 0, 'no code created');
  const { code } = await w.sendAndRead(app, 0, WONG.email);
  await refused(`${P}/email/verify`, { app: String(app), i: '0', code }, '驗證電郵地址');
  assert.equal(checkRow(sql, app, WONG.email).verified_at, null);
  await w.check(app, 0, code);
  await refused(`${P}/emails/next`, { app: String(app) }, '下一步');
  assert.equal(appRow(sql, app).state, 'emails');
  assertRedirect(await w.next(app), env.url(`${P}/identity?app=${app}`), 'with the token');
});

test('nothing of step 2 is reachable before every address is verified', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w, app } = await wongApp(env, { consent: false });
  let before = snapshot(sql);
  assertRedirect(await w.get(`${P}/identity?app=${app}`), env.url(`${P}/consent?app=${app}`), 'identity while in consent');
  assert.deepEqual(snapshot(sql), before);

  await w.consent(app);
  before = snapshot(sql);
  assertRedirect(await w.get(`${P}/identity?app=${app}`), env.url(`${P}/emails?app=${app}`), 'identity while in emails');
  const nx = await w.next(app);
  assertRedirect(nx, env.url(`${P}/emails?app=${app}&msg=emails_pending`), '下一步 with an unverified address');
  const page = await w.get(new URL(nx.location).pathname + new URL(nx.location).search);
  assert.deepEqual(flashOf(page.html), { text: MSG.pending, ok: false });
  assert.equal(hasNext(page.html), false);
  assertRedirect(await w.get(`${P}/verify`), env.url(`${P}/emails?app=${app}`), 'the list goes to the emails');
  assert.deepEqual(snapshot(sql), before, 'state unchanged');
  assert.equal(appRow(sql, app).state, 'emails');
});

test('the consent comes before anything else', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w, app } = await wongApp(env, { consent: false });
  const consent = env.url(`${P}/consent?app=${app}`);
  const before = snapshot(sql);
  assertRedirect(await w.get(`${P}/emails?app=${app}`), consent, 'GET emails');
  assertRedirect(await w.get(`${P}/email?app=${app}&i=0`), consent, 'GET email');
  assertRedirect(await w.send(app, 0), consent, 'POST email/send');
  assertRedirect(await w.check(app, 0, '123456'), consent, 'POST email/verify');
  assertRedirect(await w.next(app), consent, 'POST emails/next');
  assertRedirect(await w.get(`${P}/verify`), consent, 'GET verify');
  for (const agree of [undefined, '0', 'on', '']) {
    const form = { csrf: w.csrf, app: String(app) };
    if (agree !== undefined) form.agree = agree;
    assertRefused(await w.post(`${P}/consent`, form), 400, MSG.consent, `consent with agree=${agree}`);
  }
  assert.deepEqual(snapshot(sql), before, 'nothing changed');
  assert.equal(sql('SELECT count(*) AS n FROM email_codes')[0].n, 0, 'no code row');
  assert.equal(sql("SELECT count(*) AS n FROM outbox WHERE kind = 'code'")[0].n, 0, 'no code mail');
});

// ------------------------------------------------------------------------------------------ resume, 開始鑑別

test('leaving and logging in again lands on the same step with the same state (R11.2)', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const logout = async (w) => {
    const res = await w.post('/logout', { csrf: w.csrf });
    assertRedirect(res, env.url('/'), 'logout');
    assertRedirect(await w.get(`${P}/verify`), env.url('/'), 'the old session is gone');
  };

  let w = await env.as(WONG.sub);
  const app = await w.start();
  await logout(w);
  w = await env.as(WONG.sub);
  assertRedirect(await w.get(`${P}/verify`), env.url(`${P}/consent?app=${app}`), 'back in consent');
  await w.consent(app);
  const { code } = await w.sendAndRead(app, 0, WONG.email);
  const before = snapshot(sql);
  await logout(w);

  w = await env.as(WONG.sub);
  assertRedirect(await w.get(`${P}/verify`), env.url(`${P}/emails?app=${app}`), 'back in emails');
  const em = await w.emails(app);
  assert.deepEqual(em.rows.map((r) => [r.email, r.verified]), [[WONG.email, false]]);
  const ep = await w.get(`${P}/email?app=${app}&i=0`);
  const secs = countdownOf(ep.html);
  assert.ok(secs > 0 && secs <= 300, `the live code's countdown is still there (${secs})`);
  const { audit: a1, ...s1 } = snapshot(sql);
  const { audit: a0, ...s0 } = before;
  assert.deepEqual(s1, s0, 'same state after logging in again');
  assert.deepEqual(a1.slice(0, a0.length), a0);

  assertRedirect(await w.check(app, 0, code), env.url(`${P}/emails?app=${app}&msg=email_verified`), 'the code mailed before');
  assertRedirect(await w.next(app), env.url(`${P}/identity?app=${app}`), '下一步');
  assertRedirect(await w.get(`${P}/verify`), env.url(`${P}/identity?app=${app}`), 'the list goes to step 2');
  await logout(w);
  w = await env.as(WONG.sub);
  assertRedirect(await w.get(`${P}/verify`), env.url(`${P}/identity?app=${app}`), 'step 2 after logging in again');
  assertStep((await w.get(`${P}/identity?app=${app}`)).html, 2, 'identity');
  assert.equal(sql('SELECT count(*) AS n FROM applications')[0].n, 1, 'one application all along');
});

test('開始鑑別 with a forged or stale set is sent back with set_changed; no application is created', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const w = await env.as(WONG.sub);
  const { set, certs } = await w.list();
  const changed = env.url(`${P}/verify?msg=set_changed`);
  const before = snapshot(sql);
  for (const forged of ['forged', '', `${set.slice(0, -1)}${set.endsWith('A') ? 'B' : 'A'}`, `${set}x`]) {
    assertRedirect(await w.post(`${P}/start`, { csrf: w.csrf, set: forged }), changed, `set ${JSON.stringify(forged)}`);
  }
  assertRedirect(await w.post(`${P}/start`, { csrf: w.csrf }), changed, 'no set');
  assert.deepEqual(snapshot(sql), before, 'nothing created');
  const page = await w.get(`${P}/verify?msg=set_changed`);
  assert.deepEqual(flashOf(page.html), { text: MSG.setChanged, ok: false });

  // Stale: the coordinator withdraws one certificate after the page was shown.
  const cloud = certs.find((c) => c.type === 'cloudsign');
  sql(`UPDATE confirmations SET decision = 'declined' WHERE cert_id = ${cloud.id}`);
  const stale = snapshot(sql);
  assertRedirect(await w.post(`${P}/start`, { csrf: w.csrf, set }), changed, 'stale set');
  assert.deepEqual(snapshot(sql), stale, 'nothing created');
  const again = await w.list();
  assert.equal(again.certs.length, 2, 'the list shows the current set');
  assert.notEqual(again.set, set);
  const r = await w.post(`${P}/start`, { csrf: w.csrf, set: again.set });
  assert.equal(r.status, 302);
  const app = Number(new URL(r.location).searchParams.get('app'));
  assert.deepEqual(sql(`SELECT cert_id FROM application_certs WHERE application_id = ${app} ORDER BY 1`).map((x) => x.cert_id),
    again.certs.map((c) => c.id).sort((a, b) => a - b), 'the application holds exactly the set shown');
});

test('concurrent 開始鑑別 posts create exactly one application', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const w = await env.as(WONG.sub);
  const { set } = await w.list();
  const res = await Promise.all(Array.from({ length: 6 }, () => w.post(`${P}/start`, { csrf: w.csrf, set })));
  const apps = sql('SELECT id, state FROM applications');
  assert.equal(apps.length, 1, `exactly one application\n${JSON.stringify(apps)}`);
  const app = apps[0].id;
  assert.equal(sql(`SELECT count(*) AS n FROM application_certs WHERE application_id = ${app}`)[0].n, 3);
  assert.equal(sql(`SELECT count(*) AS n FROM email_checks WHERE application_id = ${app}`)[0].n, 1);
  assert.equal(sql("SELECT count(*) AS n FROM renewals WHERE state = 'verifying'")[0].n, 3);
  assert.equal(sql("SELECT count(*) AS n FROM audit_log WHERE action = 'verification_started'")[0].n, 1);
  for (const r of res) assert.equal(r.status, 302, `every post answers with a redirect (${r.status})\n${r.html.slice(0, 300)}`);
  assert.ok(res.some((r) => r.location === env.url(`${P}/consent?app=${app}`)), 'the winner goes to the consent');
  // Whatever the losers were told, the list now leads to that application.
  assertRedirect(await w.get(`${P}/verify`), env.url(`${P}/consent?app=${app}`), 'the list follows the application');
});

test('the pending page keeps the three certificates in 待身份鑑別之證書 during verification', T, async (t) => {
  const env = await setup(t);
  const w = await env.as(WONG.sub);
  const expect = { qualified: 1, encryption: 1, cloudsign: 1 };
  checkPending((await w.get(P)).html, expect);
  const app = await w.start();
  checkPending((await w.get(P)).html, expect);
  await w.consent(app);
  checkPending((await w.get(P)).html, expect);
  const { code } = await w.sendAndRead(app, 0, WONG.email);
  await w.check(app, 0, code);
  checkPending((await w.get(P)).html, expect);
  // CHAN's page is his own.
  const chan = await env.as(CHAN.sub);
  const g = (await chan.get(P)).html;
  checkPending(g, { qualified: 1, cloudsign: 1 });
});


// ------------------------------------------------------------------------------------------ races (bugs found and fixed)

const tally = (list) => list.reduce((m, r) => ({ ...m, [r.status]: (m[r.status] || 0) + 1 }), {});

test('concurrent 獲取驗證碼 posts send at most one code per 60 s and at most 5 per hour', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w, app } = await wongApp(env);
  // The window is a few microseconds: up to 30 rounds of 40 parallel posts, stopping at the first breach.
  const rounds = [];
  for (let round = 0; round < 30; round++) {
    const before = sql('SELECT count(*) AS n FROM email_codes')[0].n;
    const res = await Promise.all(Array.from({ length: 40 }, () => w.send(app, 0)));
    const codes = sql('SELECT count(*) AS n FROM email_codes')[0].n - before;
    rounds.push({ ...tally(res), codes });
    if (codes > 1) break;
    // Next round: every code so far is out of the hour (so neither limit applies before the posts).
    sql(`UPDATE email_codes SET created_at = created_at - 3601 WHERE application_id = ${app}`);
  }
  assert.ok(rounds.every((r) => r.codes <= 1 && (r[302] || 0) <= 1),
    `at most one code per round of 40 parallel posts: ${JSON.stringify(rounds)}`);
});

test('a double-submitted 同意 or 下一步 answers with the next step, never a 500', T, async (t) => {
  const env = await setup(t);
  const { sql } = env;
  const { w, app } = await wongApp(env, { consent: false });
  const only302 = (r) => Object.keys(r).every((st) => st === '302');
  const consentRounds = [];
  for (let round = 0; round < 20; round++) {
    // Each round starts again from the consent (reset directly: the race is what is tested).
    sql(`UPDATE applications SET state = 'consent', consent_at = NULL WHERE id = ${app}`);
    consentRounds.push(tally(await Promise.all(Array.from({ length: 20 },
      () => w.post(`${P}/consent`, { csrf: w.csrf, app: String(app), agree: '1' })))));
    if (!only302(consentRounds.at(-1))) break;
  }
  const { code } = await w.sendAndRead(app, 0, WONG.email);
  await w.check(app, 0, code);
  const nextRounds = [];
  for (let round = 0; round < 20; round++) {
    sql(`UPDATE applications SET state = 'emails' WHERE id = ${app}`);
    nextRounds.push(tally(await Promise.all(Array.from({ length: 20 }, () => w.next(app)))));
    if (!only302(nextRounds.at(-1))) break;
  }
  assert.ok(nextRounds.every(only302), `下一步: only redirects ${JSON.stringify(nextRounds)}`);
  assert.ok(consentRounds.every(only302), `同意: only redirects ${JSON.stringify(consentRounds)}`);
});
