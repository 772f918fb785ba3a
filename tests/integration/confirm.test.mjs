// Step 3 「確認續期」 and submission (SPEC R7, R8; seed steps 15-19) over real HTTP against govsim's
// very-high e-ID and e-signature service: the summary and the declaration, 「進行電子身份識別並簽署申請文件」,
// the phone's answer, the signature kept and valid for `openssl cms -verify`, the success dialog,
// 「確認提交證書續期申請」 and step 4's groups. Every refusal the issue names, one by one, with govsim's
// armed faults: each gets its message and leaves the application at step 3 without a valid signature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { System, WONG, CHAN, TEST_TIMEOUT, textOf, startTags, CookieJar, login, parsePending } from '../lib/harness.mjs';
import { P, dbOf, q, assertStep, flashOf, errorMessage } from '../lib/verify.mjs';
import { toIdentity, upload, faceCheck, face } from '../lib/identity.mjs';
import { eidApprove } from '../lib/eid.mjs';

const DECL_FIRST = '本人確認上述提交之所有資料真實及正確。';
const MSG = {
  declaration: '請勾選「同意並接受申請人／登記人協定及聲明」。',
  position: '所選之職務/職級/職位不在清單內，請重新選擇。',
  notSigned: '申請文件尚未簽署，請先點選「進行電子身份識別並簽署申請文件」。',
  state: '電子身份識別的結果無效或已使用，請重新點選「進行電子身份識別並簽署申請文件」。',
  expired: '電子身份識別已逾時，請重新點選「進行電子身份識別並簽署申請文件」。',
  refused: '電子身份識別已被拒絕，申請文件未有簽署。如需繼續，請重新點選「進行電子身份識別並簽署申請文件」。',
  invalid: '電子身份識別未能確認閣下的身份（須為本人之非常高級別面容識別），申請文件未有簽署。',
  signDown: '暫時未能連接公務通「電子簽名服務」，申請文件未有簽署，請稍後再試。',
  signInvalid: '電子簽名未能通過驗證，申請文件未有簽署。請重新進行電子身份識別；如問題持續，請聯絡 eSignTrust。',
};

const shown = (html) => flashOf(html)?.text ?? errorMessage(html);
const count = (sql, table, where = '1 = 1') => Number(sql(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)[0].n);
const appRow = (sql, id) => sql(`SELECT * FROM applications WHERE id = ${id}`)[0];

async function arm(sys, name) {
  const r = await fetch(`${sys.govsim}/sim/faults`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ next: name }).toString(), signal: AbortSignal.timeout(5000),
  });
  assert.equal(r.status, 200, `arming ${name}`);
}

/** WONG at step 3: step 1, 下一步, the photo and 確定使用照片. */
async function toConfirm(sys) {
  const { w, app } = await toIdentity(sys, WONG.sub);
  assert.equal((await upload(w, app, face('wong.jpg'))).status, 302);
  assert.equal((await faceCheck(w, app)).status, 302);
  return { w, app };
}

const declare = (w, app, fields = {}) =>
  w.post(`${P}/confirm/declare`, { csrf: w.csrf, app: String(app), agree: '1', position: 'Tecnico superior', ...fields });

/** 「進行電子身份識別並簽署申請文件」 then the phone: the callback URL GovID sends the browser back to. */
async function declareAndAnswer(sys, w, app, opts = {}) {
  const d = await declare(w, app);
  assert.equal(d.status, 302, `declare: ${textOf(d.html).slice(0, 300)}`);
  const auth = new URL(d.location);
  assert.equal(auth.origin, new URL(sys.govsim).origin);
  return { authorize: auth, callback: await eidApprove(sys, d.location, opts) };
}

/** The callback in the holder's browser: the portal's answer (a redirect to the page, or a page). */
async function callback(w, url) {
  return w.jar.fetch(url);
}

function assertStillAtStep3(sql, app, label) {
  assert.equal(appRow(sql, app).state, 'confirm', `${label}: still at step 3`);
  const docs = sql(`SELECT id FROM app_documents WHERE application_id = ${app} AND superseded_at IS NULL`);
  if (docs.length > 0)
    assert.equal(count(sql, 'signatures', `document_id = ${docs[0].id} AND passed = 1`), 0, `${label}: no valid signature`);
}

function pdftotext(buf) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cr-pdf-'));
  try {
    writeFileSync(path.join(dir, 'a.pdf'), buf);
    const r = spawnSync('pdftotext', ['-enc', 'UTF-8', path.join(dir, 'a.pdf'), '-'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.replace(/\s+/g, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function download(w, app, name) {
  const url = w.url(`${P}/confirm/${name}?app=${app}`);
  const res = await fetch(url, { headers: { cookie: w.jar.header(url) }, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

test('step 3: declaration, e-ID, e-signature, submission; every refusal changes nothing', { timeout: TEST_TIMEOUT * 4 }, async (t) => {
  const sys = await System.prepare();
  t.after(() => sys.stop());
  await sys.startGovsim();
  await sys.startPortal();
  const sql = dbOf(sys);
  const { w, app } = await toConfirm(sys);

  // The summary: the certificates, the renewal data with 職務/職級/職位 preselected, the declaration word for word.
  const page = await w.get(`${P}/confirm?app=${app}`);
  assert.equal(page.status, 200);
  assertStep(page.html, 3, 'confirm');
  const text = textOf(page.html);
  for (const s of ['申請人／登記人協定及聲明', '本人現聲明', DECL_FIRST, '同意並接受申請人／登記人協定及聲明',
    '進行電子身份識別並簽署申請文件', '職務/職級/職位', WONG.email])
    assert.ok(text.includes(s), `the page shows ${s}`);
  const selected = startTags(page.html, 'option').filter((o) => 'selected' in o).map((o) => o.value);
  assert.deepEqual(selected, ['Tecnico superior'], 'the current position is preselected');
  assert.ok(startTags(page.html, 'option').length >= 5, 'the imported positions are choices');

  // Refused before anything is made: no tick, an unknown position, submit or callback before the declaration.
  let r = await declare(w, app, { agree: '' });
  assert.equal(r.status, 400);
  assert.equal(shown(r.html), MSG.declaration);
  r = await declare(w, app, { position: 'Emperor' });
  assert.equal(r.status, 400);
  assert.equal(shown(r.html), MSG.position);
  r = await w.post(`${P}/confirm/submit`, { csrf: w.csrf, app: String(app) });
  assert.equal(r.status, 400);
  assert.equal(shown(r.html), MSG.notSigned);
  r = await callback(w, w.url(`${P}/eid/callback?state=forged${'x'.repeat(40)}&code=abc`));
  assert.equal(r.status, 400);
  assert.equal(shown(r.html), MSG.state);
  r = await w.post(`${P}/confirm/declare`, { app: String(app), agree: '1', position: 'Tecnico superior' });
  assert.equal(r.status, 403, 'no CSRF token');
  assert.equal(count(sql, 'app_documents', `application_id = ${app}`), 0, 'nothing was made');
  assert.equal(appRow(sql, app).declared_at, null);

  // The authorization request: very-high, prompt=login, the holder's subject, the application number.
  const first = await declareAndAnswer(sys, w, app, { decision: 'refuse' });
  const ap = first.authorize.searchParams;
  assert.equal(ap.get('acr_values'), 'govid:very-high');
  assert.equal(ap.get('prompt'), 'login');
  assert.equal(ap.get('login_hint'), WONG.sub);
  assert.match(ap.get('binding_message'), /^R\d{4}-0*\d+$/);
  assert.equal(ap.get('code_challenge_method'), 'S256');
  assert.equal(ap.get('redirect_uri'), `${sys.base}/ecmp/certrenewal/eid/callback`);
  assert.equal(count(sql, 'app_documents', `application_id = ${app}`), 1, 'the document is kept');
  assert.equal(appRow(sql, app).declaration_version, 'decl-2026-1');

  // The phone said 「拒絕」.
  r = await callback(w, first.callback);
  assert.equal(r.status, 400);
  assert.equal(shown(r.html), MSG.refused);
  assertStillAtStep3(sql, app, 'refused');

  // Another person's phone answered; GovID's token below very-high, stale or of another resident.
  for (const [label, opts, fault] of [
    ['another person', { as: CHAN.sub }, null],
    ['acr substantial', {}, 'eid_acr_substantial'],
    ['stale auth_time', {}, 'eid_stale_auth_time'],
    ['other resident number', {}, 'eid_other_resident'],
  ]) {
    if (fault) await arm(sys, fault);
    const a = await declareAndAnswer(sys, w, app, opts);
    r = await callback(w, a.callback);
    assert.equal(r.status, 400, label);
    assert.equal(shown(r.html), MSG.invalid, label);
    assertStillAtStep3(sql, app, label);
  }

  // The signing service down or answering garbage: try again later.
  for (const fault of ['csc_down']) {
    await arm(sys, fault);
    const a = await declareAndAnswer(sys, w, app);
    r = await callback(w, a.callback);
    assert.equal(r.status, 503, fault);
    assert.equal(shown(r.html), MSG.signDown, fault);
    assertStillAtStep3(sql, app, fault);
  }
  // A signature that is not a valid one of this document by this holder from the GovID CA.
  // csc_garbage: a 200 whose signature is not DER (docs/internals/esign.md) fails validation like a truncated one.
  for (const fault of ['csc_garbage', 'csc_truncated', 'csc_wrong_digest', 'csc_untrusted', 'csc_other_person', 'csc_expired']) {
    await arm(sys, fault);
    const a = await declareAndAnswer(sys, w, app);
    r = await callback(w, a.callback);
    assert.equal(r.status, 400, fault);
    assert.equal(shown(r.html), MSG.signInvalid, fault);
    assertStillAtStep3(sql, app, fault);
  }
  const failed = sql(`SELECT why FROM signatures WHERE application_id = ${app} AND passed = 0 ORDER BY id`).map((x) => x.why);
  console.log('FAILED ' + JSON.stringify(failed) + ' SIG ' + JSON.stringify(sql(`SELECT why, signer_subject, acr FROM signatures`)).slice(0, 1500));
  assert.equal(failed.length, 6, `each failed validation is kept as evidence: ${failed}`);
  assert.ok(failed.every((x) => x && x !== 'ok'));

  // Expired: the answer arrives after the request's lifetime.
  {
    const d = await declare(w, app);
    const cb = await eidApprove(sys, d.location);
    sql(`UPDATE eid_requests SET created_at = created_at - 700 WHERE application_id = ${app} AND used_at IS NULL`);
    r = await callback(w, cb);
    assert.equal(r.status, 400);
    assert.equal(shown(r.html), MSG.expired);
  }
  // Another holder's browser brings WONG's answer; and an answer for a superseded document.
  {
    const d = await declare(w, app);
    const cb = await eidApprove(sys, d.location);
    const chanJar = new CookieJar();
    await login(chanJar, CHAN.sub, sys.base);
    r = await chanJar.fetch(cb);
    assert.equal(r.status, 400, "another holder's browser");
    const old = await declare(w, app);
    const oldCb = await eidApprove(sys, old.location);
    await declare(w, app);
    r = await callback(w, oldCb);
    assert.equal(r.status, 400, 'superseded document');
    assert.equal(shown(r.html), MSG.state);
    assertStillAtStep3(sql, app, 'superseded');
  }

  // The pass path, with a changed position.
  const d = await declare(w, app, { position: 'Tecnico superior principal' });
  assert.equal(d.status, 302);
  const cb = await eidApprove(sys, d.location);
  r = await callback(w, cb);
  assert.equal(r.status, 302, `signed: ${textOf(r.html).slice(0, 300)}`);
  assert.equal(r.location, w.url(`${P}/confirm?app=${app}&msg=signed`));
  const done = await w.get(`${P}/confirm?app=${app}&msg=signed`);
  const dt = textOf(done.html);
  assert.ok(dt.includes('簽署申請文件成功'), 'the dialog');
  assert.ok(dt.includes('請點擊“繼續”，並確認所有申請資料無誤後確認提交已簽署之證書續期申請文件'));
  assert.ok(dt.includes('確認提交證書續期申請'));
  assert.ok(dt.includes('Tecnico superior principal'));
  const sig = sql(`SELECT * FROM signatures WHERE application_id = ${app} AND passed = 1`);
  assert.equal(sig.length, 1);
  assert.equal(sig[0].acr, 'govid:very-high');
  assert.match(sig[0].signer_subject, /IDCMO-/);
  assert.ok(sig[0].cms_sealed && sig[0].validation_sealed && sig[0].id_token_sealed, 'the evidence is kept');
  assert.equal(appRow(sql, app).position, 'Tecnico superior principal');

  // Replaying the callback: refused, nothing new.
  r = await callback(w, cb);
  assert.equal(r.status, 400);
  assert.equal(shown(r.html), MSG.state);
  assert.equal(count(sql, 'signatures', `application_id = ${app} AND passed = 1`), 1);

  // The signed application: the PDF says what was signed, and openssl accepts the signature.
  const pdf = await download(w, app, 'app.pdf');
  assert.equal(pdf.res.status, 200);
  assert.equal(pdf.res.headers.get('content-type'), 'application/pdf');
  const words = pdftotext(pdf.bytes);
  assert.ok(words.includes('WONG'), 'the holder');
  assert.ok(words.includes(DECL_FIRST), 'the declaration');
  assert.ok(words.includes('Tecnicosuperiorprincipal'), 'the chosen position');
  for (const c of sql(`SELECT c.serial_hex FROM certificates c JOIN renewals r ON r.cert_id = c.id WHERE r.application_id = ${app}`))
    assert.ok(words.includes(c.serial_hex), `serial ${c.serial_hex}`);
  const p7s = await download(w, app, 'app.p7s');
  assert.equal(p7s.res.status, 200);
  const dir = mkdtempSync(path.join(tmpdir(), 'cr-sig-'));
  try {
    writeFileSync(path.join(dir, 'app.pdf'), pdf.bytes);
    writeFileSync(path.join(dir, 'app.p7s'), p7s.bytes);
    const v = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', path.join(dir, 'app.p7s'),
      '-content', path.join(dir, 'app.pdf'), '-CAfile', path.join(sys.varDir, 'govsim', 'govid-ca.pem'),
      '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(v.status, 0, `openssl cms -verify: ${v.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Another holder cannot download it.
  const other = new CookieJar();
  await login(other, CHAN.sub, sys.base);
  const stolen = await fetch(w.url(`${P}/confirm/app.pdf?app=${app}`), { headers: { cookie: other.header(w.url('/')) }, redirect: 'manual' });
  assert.equal(stolen.status, 404);

  // 「確認提交證書續期申請」, twice: one submission, the second lands on step 4.
  r = await w.post(`${P}/confirm/submit`, { csrf: w.csrf, app: String(app) });
  assert.equal(r.status, 302);
  r = await w.post(`${P}/confirm/submit`, { csrf: w.csrf, app: String(app) });
  assert.equal(r.status, 302, 'the second press is harmless');
  assert.equal(appRow(sql, app).state, 'submitted');
  assert.equal(count(sql, 'audit_log', `object = ${q(`application:${app}`)} AND action = 'submitted'`), 1);
  const step4 = await w.get(`${P}/confirm?app=${app}`);
  assertStep(step4.html, 4, 'confirm');
  const s4 = textOf(step4.html);
  assert.ok(s4.includes('已確認並成功提交證書續期申請'));
  const types = sql(`SELECT c.type, r.state FROM certificates c JOIN renewals r ON r.cert_id = c.id WHERE r.application_id = ${app}`);
  if (types.some((x) => x.type === 'cloudsign')) assert.ok(s4.includes('待線上激活之證書'));
  if (types.some((x) => x.type !== 'cloudsign')) {
    assert.ok(s4.includes('待線下辦理之證書'));
    assert.ok(s4.includes('系統暫不支援非“雲簽”證書之線上激活，通過身份鑑別後需聯繫eSignTrust預約線下辦理。'));
  }
  // The pending page (R8): cloudsign waits for online activation, the others for the registry.
  const pending = parsePending((await w.get(P)).html);
  const byType = (want) => types.filter((x) => (want ? x.type === 'cloudsign' : x.type !== 'cloudsign')).length;
  const sum = (g) => Object.values(pending[g]?.counts || {}).reduce((a, b) => a + b, 0);
  assert.equal(sum('activate'), byType(true), `待線上激活之證書: ${JSON.stringify(pending.activate)}`);
  assert.equal(sum('offline'), byType(false), `待線下辦理之證書: ${JSON.stringify(pending.offline)}`);
  assert.equal(sum('verify'), 0, 'nothing left to verify');

  // Declaring again after submission is the wrong step: back to step 4, nothing made.
  const before = count(sql, 'app_documents', `application_id = ${app}`);
  r = await declare(w, app);
  assert.equal(r.status, 302);
  assert.equal(r.location, w.url(`${P}/confirm?app=${app}`));
  assert.equal(count(sql, 'app_documents', `application_id = ${app}`), before);
});
