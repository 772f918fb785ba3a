// Step 2 「驗證身份」 (SPEC R6, seed steps 12-14) over real HTTP, against govsim's DSI: after 「下一步」 the
// portal compares DSI's ID-card data with the registration data (WONG matches; CHEONG was renamed LAM at DSI;
// HO's card has expired), then 「上傳近照」 (multipart, streamed, judged by content), the preview,
// 「確定使用照片」 (DSI's face comparison, tries counted per application and per holder) and step 3.
// DSI failing (closed port, invalid JSON, an HTML 500 page, too slow) changes nothing. Uploads that are not
// usable photos are refused each with its own message; over the cap they are answered before being read.
// The sealed evidence, access by another holder, CSRF, the retention purge and coming back after logout.
// Each case gets its own system unless it says otherwise; every wait is bounded. The database (SQLite or
// PostgreSQL with CR_TEST_DB=postgres) is read through the harness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  System, startSystem, freePort, run, CERTRENEW, WONG, CHAN, TEST_TIMEOUT, textOf, elements, startTags, forms,
} from '../lib/harness.mjs';
import { P, dbOf, q, assertStep, flashOf, errorMessage } from '../lib/verify.mjs';
import {
  holder, step1, toIdentity, upload, faceCheck, preview, shownMessage, face, fixture, pngClaiming, tiffPages,
  jpegWithGps, jpegSegments, GPS_MARK, REFUSED_SIGNATURES,
} from '../lib/identity.mjs';
import { demoPerson } from '../lib/demo.mjs';

const T = { timeout: TEST_TIMEOUT };
const HO = { sub: 'govid-1000003' };
const CHEONG = { sub: 'govid-1000004' };

// locale/zh-Hant.json
const MSG = {
  uploaded: '近照已上傳。請確認照片無誤後點選「確定使用照片」。',
  faceLow: (n) => `近照與閣下於身份證明局登記的臉容相似度不足。請上傳另一張清晰的正面近照再試（尚餘 ${n} 次機會）。`,
  triesLeft: '尚餘檢測次數：',
  faceTries: '近照檢測未能通過，且檢測次數已用完，未能於網上完成身份鑑別。',
  idMismatch: '身份證明局之身份證資料與閣下的證書登記資料不符，未能於網上完成身份鑑別。',
  cardInvalid: '閣下的身份證已過期或不是有效證件，未能於網上完成身份鑑別。',
  dsiDown: '暫時未能連接身份證明局的系統，閣下的申請未有改變。',
  certInvalid: '申請中的證書已失效或已被撤銷，不能於網上續期。',
  passed: '已通過個人近照檢測。',
  empty: '所選檔案是空的。請選擇近照檔案（JPG、JPEG、PNG 或 TIFF）。',
  notImage: '所選檔案不是圖像檔案。系統只支援 JPG、JPEG、PNG 及 TIFF 格式的檔案。',
  unsupported: '不支援此檔案格式（例如 HEIC、WebP、GIF 或 PDF）。系統只支援 JPG、JPEG、PNG 及 TIFF 格式的檔案。',
  tooManyPixels: '圖像尺寸過大，請上傳較小的照片（最多 4000 萬像素）。',
  multiPage: 'TIFF 檔案含多於一頁。請只上傳一張近照。',
  corrupt: '檔案已損壞或不完整，無法讀取。請重新上傳。',
  tooBig: /^檔案太大：近照檔案不可超過 /,
  tooBig64k: '檔案太大：近照檔案不可超過 64 KB。',
  badForm: '提交的表格資料無效。',
  csrf: '表格已失效，請重新載入頁面後再試。',
  notFound: '找不到此證書續期申請。',
  phone: '28330338',
};
const FORMATS = 'JPG、JPEG、PNG 及 TIFF';

/** A fresh system with govsim's DSI; env overrides the portal's configuration. */
async function setup(t, env = {}) {
  const sys = await System.prepare();
  t.after(() => sys.stop());
  sys.env = { ...sys.env, ...env };
  await sys.startGovsim();
  await sys.startPortal();
  return { sys, sql: dbOf(sys) };
}

const appRow = (sql, id) => sql(`SELECT * FROM applications WHERE id = ${id}`)[0];
const count = (sql, table, where = '1 = 1') => Number(sql(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)[0].n);
const auditActions = (sql, app) => sql(`SELECT action FROM audit_log WHERE object = ${q(`application:${app}`)} ORDER BY id`)
  .map((r) => r.action);

/** Everything step 2 could change. */
function snapshot(sql) {
  return {
    apps: sql('SELECT id, state, counter_reason, updated_at FROM applications ORDER BY id'),
    renewals: sql('SELECT cert_id, state, application_id FROM renewals ORDER BY cert_id'),
    idChecks: sql('SELECT id, application_id, outcome FROM identity_checks ORDER BY id'),
    photos: sql('SELECT id, application_id, file, sha256, replaced_at, purged_at FROM photos ORDER BY id'),
    faces: sql('SELECT id, application_id, passed FROM face_checks ORDER BY id'),
  };
}

/** The evidence files on disk. */
const evidenceFiles = (sys) => {
  const dir = path.join(sys.varDir, 'evidence');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
};

function assertRedirect(res, url, what) {
  assert.ok([302, 303].includes(res.status), `${what}: status ${res.status}\n${textOf(res.html).slice(0, 500)}`);
  assert.equal(res.location, url, `${what}: redirect target`);
}

/** A refusal rendered in place with its message (a flash or the error page's). */
function assertRefused(res, status, text, what) {
  assert.equal(res.status, status, `${what}: status\n${textOf(res.html).slice(0, 600)}`);
  assert.equal(res.location, null, `${what}: no redirect`);
  const shown = shownMessage(res.html);
  if (text instanceof RegExp) assert.match(shown, text, `${what}: message`);
  else assert.equal(shown, text, `${what}: message`);
  const f = flashOf(res.html);
  if (f && f.text === shown) assert.equal(f.ok, false, `${what}: shown as a problem`);
}

/** The compared fields of a counter page: { label: 'ok' | 'differs' }. */
function compared(html) {
  const ul = elements(html, 'ul').find((u) => (u.attrs.class || '').split(/\s+/).includes('compared'));
  if (!ul) return null;
  const out = {};
  for (const li of elements(ul.inner, 'li')) {
    const [label, verdict] = li.text.split('：');
    out[label] = verdict === '相符' ? 'ok' : verdict === '不符' ? 'differs' : verdict;
  }
  return out;
}

/** The identity page's preview image src, or null. */
const previewSrc = (html) => startTags(html, 'img').find((i) => (i.src || '').startsWith(`${P}/identity/photo?`))?.src ?? null;

function assertJpegClean(bytes, what) {
  assert.equal(bytes.subarray(0, 3).toString('hex'), 'ffd8ff', `${what}: starts with FFD8FF`);
  const segs = jpegSegments(bytes);
  assert.ok(segs.some((s) => s.marker === 0xda), `${what}: a scan`);
  assert.deepEqual(segs.filter((s) => s.marker === 0xe1), [], `${what}: no APP1 (Exif/XMP) segment`);
  assert.equal(bytes.indexOf('Exif'), -1, `${what}: no Exif`);
  assert.equal(bytes.indexOf(GPS_MARK), -1, `${what}: no GPS text`);
}

// ------------------------------------------------------------------------------ the way through

test('WONG: 下一步 → DSI match → 上傳近照 → preview (clean JPEG, no-store) → 確定使用照片 → step 3 確認續期', T, async (t) => {
  const { sys, sql } = await setup(t);
  const { w, app, next } = await toIdentity(sys, WONG.sub);
  assertRedirect(next, w.url(`${P}/identity?app=${app}`), '下一步');
  assert.equal(appRow(sql, app).state, 'identity');
  const checks = sql(`SELECT * FROM identity_checks WHERE application_id = ${app}`);
  assert.equal(checks.length, 1, 'one DSI check on record');
  const k = checks[0];
  assert.equal(k.outcome, 'match');
  for (const f of ['name_ok', 'name_zh_ok', 'id_number_ok', 'card_valid']) assert.equal(Number(k[f]), 1, f);
  assert.match(k.dsi_transaction_id, /^dsi-[0-9a-f]{32}$/);
  assert.match(k.answer_sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(auditActions(sql, app).slice(-2), ['emails_verified', 'identity_matched']);

  // The page: step 2 current, the DSI result, 上傳近照, no preview and no 確定使用照片 yet.
  const page = await w.get(`${P}/identity?app=${app}`);
  assert.equal(page.status, 200);
  assertStep(page.html, 2, 'identity');
  assert.ok(textOf(page.html).includes('已通過身份證明局之身份證資料檢測。'));
  const up = forms(page.html).find((f) => f.attrs.action === `${P}/identity/photo?app=${app}`);
  assert.ok(up, 'the upload form posts to identity/photo?app=N');
  assert.equal(up.attrs.enctype, 'multipart/form-data');
  assert.deepEqual(startTags(up.inner, 'input').filter((i) => i.type === 'file').map((i) => i.name), ['photo']);
  assert.ok(textOf(up.inner).includes('上傳近照') && textOf(page.html).includes(FORMATS), 'the button and the formats');
  assert.ok(!textOf(page.html).includes('確定使用照片'), 'no 確定使用照片 before a photo');
  assert.equal(previewSrc(page.html), null);

  // 上傳近照 wong.jpg.
  const r = await upload(w, app, face('wong.jpg'));
  assertRedirect(r, w.url(`${P}/identity?app=${app}&msg=photo_uploaded`), '上傳近照');
  const shown = await w.get(`${P}/identity?app=${app}&msg=photo_uploaded`);
  assert.deepEqual(flashOf(shown.html), { text: MSG.uploaded, ok: true });
  const src = previewSrc(shown.html);
  assert.ok(src && new URL(src, sys.base).searchParams.get('app') === String(app), `the preview is shown: ${src}`);
  assert.ok(textOf(shown.html).includes('重新上傳') && textOf(shown.html).includes('確定使用照片'));
  const photos = sql(`SELECT * FROM photos WHERE application_id = ${app}`);
  assert.equal(photos.length, 1);
  assert.equal(photos[0].source_format, 'jpeg');

  // The preview: the re-encoded JPEG, nothing but pixels, never cached.
  const pv = await preview(w, app);
  assert.equal(pv.status, 200);
  assert.equal(pv.headers.get('content-type'), 'image/jpeg');
  assert.match(pv.headers.get('cache-control') || '', /no-store/);
  assertJpegClean(pv.bytes, 'preview');
  assert.equal(pv.bytes.length, Number(photos[0].bytes));
  const viaSrc = await preview(w, app);
  assert.ok(viaSrc.bytes.equals(pv.bytes));

  // 確定使用照片 → step 3.
  const fc = await faceCheck(w, app);
  assertRedirect(fc, w.url(`${P}/confirm?app=${app}`), '確定使用照片');
  assert.equal(appRow(sql, app).state, 'confirm');
  const faces = sql(`SELECT * FROM face_checks WHERE application_id = ${app}`);
  assert.equal(faces.length, 1);
  assert.equal(Number(faces[0].passed), 1);
  assert.equal(Number(faces[0].threshold_ppm), 800000, 'the default threshold 0.80');
  assert.ok(Number(faces[0].score_ppm) >= 850000, `score ${faces[0].score_ppm}`);
  assert.equal(faces[0].algorithm, 'govsim-ncc');
  assert.equal(faces[0].algorithm_version, '1.0');
  assert.equal(Number(faces[0].photo_id), Number(photos[0].id));
  assert.ok(auditActions(sql, app).includes('face_passed'));
  const confirm = await w.get(`${P}/confirm?app=${app}`);
  assert.equal(confirm.status, 200);
  assertStep(confirm.html, 3, 'confirm');
  assert.ok(textOf(confirm.html).includes(MSG.passed));
  // The list and step 2 now lead to step 3.
  assertRedirect(await w.get(`${P}/verify`), w.url(`${P}/confirm?app=${app}`), 'the list after step 2');
  assertRedirect(await w.get(`${P}/identity?app=${app}`), w.url(`${P}/confirm?app=${app}`), 'identity after step 2');
});

test('the registered face re-encoded as PNG (and a PNG named .jpg) passes: judged by content', T, async (t) => {
  const { sys, sql } = await setup(t);
  const { w, app } = await toIdentity(sys, WONG.sub);
  const r = await upload(w, app, fixture('wong.png'), { filename: 'wong.jpg', type: 'image/jpeg' });
  assertRedirect(r, w.url(`${P}/identity?app=${app}&msg=photo_uploaded`), 'PNG named .jpg');
  assert.equal(sql(`SELECT source_format FROM photos WHERE application_id = ${app}`)[0].source_format, 'png');
  assertJpegClean((await preview(w, app)).bytes, 'preview of the PNG');
  assertRedirect(await faceCheck(w, app), w.url(`${P}/confirm?app=${app}`), '確定使用照片');
  assert.equal(appRow(sql, app).state, 'confirm');
});

// ------------------------------------------------------------------------------ tries

test('another face fails with the tries left; the 3rd failure sends the application to the counter', T, async (t) => {
  const { sys, sql } = await setup(t);
  const { w, app } = await toIdentity(sys, WONG.sub);
  for (const left of [2, 1]) {
    assertRedirect(await upload(w, app, face('chan.jpg')), w.url(`${P}/identity?app=${app}&msg=photo_uploaded`), 'upload');
    const r = await faceCheck(w, app);
    assertRefused(r, 400, MSG.faceLow(left), `failure with ${left} left`);
    assert.ok(textOf(r.html).includes(`${MSG.triesLeft} ${left}`), 'the page counts the tries');
    assert.equal(appRow(sql, app).state, 'identity');
    const page = await w.get(`${P}/identity?app=${app}`);
    assert.ok(textOf(page.html).includes(`${MSG.triesLeft} ${left}`), 'the tries left are shown on the page');
  }
  // Retrying the same photo counts too; the third failure is the last.
  const last = await faceCheck(w, app);
  assertRedirect(last, w.url(`${P}/identity?app=${app}`), 'the third failure');
  const row = appRow(sql, app);
  assert.equal(row.state, 'counter');
  assert.equal(row.counter_reason, 'face_tries');
  const fails = sql(`SELECT passed, score_ppm FROM face_checks WHERE application_id = ${app}`);
  assert.equal(fails.length, 3);
  assert.ok(fails.every((f) => Number(f.passed) === 0 && Number(f.score_ppm) < 600000), JSON.stringify(fails));
  const page = await w.get(`${P}/identity?app=${app}`);
  assert.equal(page.status, 200);
  const text = textOf(page.html);
  assert.ok(text.includes(MSG.faceTries), text);
  assert.ok(text.includes(MSG.phone), 'the registry\'s phone number');
  assert.ok(!text.includes('確定使用照片') && !text.includes('上傳近照'), 'no more online tries offered');
  // Nothing more can be tried on it.
  const snap = snapshot(sql);
  assertRedirect(await faceCheck(w, app), w.url(`${P}/identity?app=${app}`), '確定使用照片 at the counter');
  assertRedirect(await upload(w, app, face('wong.jpg')), w.url(`${P}/identity?app=${app}`), 'upload at the counter');
  assert.deepEqual(snapshot(sql), snap, 'nothing changed at the counter');
  assert.ok(auditActions(sql, app).includes('identity_to_counter'));
});

test('the holder\'s limit is not reset by a new application (per application 2, per holder 3)', T, async (t) => {
  const { sys, sql } = await setup(t, {
    CERTRENEW_IDENTITY_FACE_TRIES_PER_APPLICATION: '2', CERTRENEW_IDENTITY_FACE_TRIES_PER_HOLDER: '3',
  });
  const { w, app } = await toIdentity(sys, WONG.sub);
  await upload(w, app, face('chan.jpg'));
  assertRefused(await faceCheck(w, app), 400, MSG.faceLow(1), 'first failure');
  assertRedirect(await faceCheck(w, app), w.url(`${P}/identity?app=${app}`), 'second failure: the application\'s limit');
  assert.equal(appRow(sql, app).counter_reason, 'face_tries');

  // The registry cancels it; its certificates become verifiable again (renewals back to pending_verification,
  // which is what the store's verifiable query looks for).
  sql(`BEGIN; UPDATE applications SET state = 'cancelled' WHERE id = ${app};
    UPDATE renewals SET state = 'pending_verification', application_id = NULL WHERE application_id = ${app}; COMMIT;`);
  // The address's 60 s resend wait would hold the new application's code back: the old code is made older.
  sql('UPDATE email_codes SET created_at = created_at - 120, expires_at = expires_at - 120');
  assert.equal((await w.list()).certs.length, demoPerson(WONG.sub).certificates.length, 'the certificates are listed again');
  const app2 = await step1(w);
  assert.notEqual(app2, app);
  assertRedirect(await w.next(app2), w.url(`${P}/identity?app=${app2}`), '下一步 on the new application');
  await upload(w, app2, face('chan.jpg'));
  // Only one try was left for the holder (3 - 2): this failure is the last.
  assertRedirect(await faceCheck(w, app2), w.url(`${P}/identity?app=${app2}`), 'the holder\'s last try');
  const row = appRow(sql, app2);
  assert.equal(row.state, 'counter');
  assert.equal(row.counter_reason, 'face_tries');
  assert.equal(count(sql, 'face_checks', `application_id = ${app2}`), 1, 'one comparison on the new application');
  assert.ok(textOf((await w.get(`${P}/identity?app=${app2}`)).html).includes(MSG.faceTries));
});

// ------------------------------------------------------------------------------ DSI says no

test('CHEONG (renamed at DSI) → counter id_mismatch naming the fields, never DSI\'s name; HO (card expired) → card_invalid', T, async (t) => {
  const { sys, sql } = await setup(t);
  const cheong = await toIdentity(sys, CHEONG.sub);
  assertRedirect(cheong.next, cheong.w.url(`${P}/identity?app=${cheong.app}`), 'CHEONG 下一步');
  let row = appRow(sql, cheong.app);
  assert.equal(row.state, 'counter');
  assert.equal(row.counter_reason, 'id_mismatch');
  const k = sql(`SELECT * FROM identity_checks WHERE application_id = ${cheong.app}`)[0];
  assert.equal(k.outcome, 'mismatch');
  assert.deepEqual([k.name_ok, k.name_zh_ok, k.id_number_ok, k.card_valid].map(Number), [0, 0, 1, 1]);
  let page = await cheong.w.get(`${P}/identity?app=${cheong.app}`);
  assert.equal(page.status, 200);
  assertStep(page.html, 2, 'CHEONG at the counter');
  let text = textOf(page.html);
  assert.ok(text.includes(MSG.idMismatch), text);
  assert.deepEqual(compared(page.html), { 外文姓名: 'differs', 中文姓名: 'differs', 身份證號碼: 'ok', 身份證有效期: 'ok' });
  assert.ok(text.includes('外文姓名：不符') && text.includes('中文姓名：不符'));
  assert.ok(text.includes(MSG.phone));
  const dsi = demoPerson(CHEONG.sub).dsi;
  for (const s of [dsi.surname, dsi.name_zh, `${dsi.surname} ${dsi.given_names}`, dsi.card_number]) {
    assert.ok(!page.html.includes(s), `DSI's ${s} is not on the page`);
  }
  assert.ok(!/\bLAM\b/.test(page.html) && !page.html.includes('林美玲'));
  assert.ok(!text.includes('上傳近照'), 'no upload at the counter');
  assert.ok(auditActions(sql, cheong.app).includes('identity_mismatch'));
  // The counter application refuses an upload.
  const before = count(sql, 'photos');
  assertRedirect(await upload(cheong.w, cheong.app, face('cheong.jpg')), cheong.w.url(`${P}/identity?app=${cheong.app}`),
    'upload at the counter');
  assert.equal(count(sql, 'photos'), before);

  const ho = await toIdentity(sys, HO.sub);
  assertRedirect(ho.next, ho.w.url(`${P}/identity?app=${ho.app}`), 'HO 下一步');
  row = appRow(sql, ho.app);
  assert.equal(row.state, 'counter');
  assert.equal(row.counter_reason, 'card_invalid');
  page = await ho.w.get(`${P}/identity?app=${ho.app}`);
  text = textOf(page.html);
  assert.ok(text.includes(MSG.cardInvalid), text);
  assert.deepEqual(compared(page.html), { 外文姓名: 'ok', 中文姓名: 'ok', 身份證號碼: 'ok', 身份證有效期: 'differs' });
  assert.ok(text.includes(MSG.phone));
});

// ------------------------------------------------------------------------------ DSI failing

/** 下一步 answered 503 with the dsi_down text; state still emails, nothing recorded but the audit row. */
async function assertDsiDown(sql, w, app, what) {
  const before = snapshot(sql);
  const audits = count(sql, 'audit_log', "action = 'dsi_unavailable'");
  const t0 = Date.now();
  const r = await w.next(app);
  assert.equal(r.status, 503, `${what}: status\n${textOf(r.html).slice(0, 400)}`);
  assert.equal(errorMessage(r.html), MSG.dsiDown, `${what}: message`);
  assert.equal(appRow(sql, app).state, 'emails', `${what}: still at step 1`);
  assert.deepEqual(snapshot(sql), before, `${what}: nothing changed`);
  assert.equal(count(sql, 'audit_log', "action = 'dsi_unavailable'"), audits + 1, `${what}: audited`);
  return Date.now() - t0;
}

test('DSI unreachable (closed port): 下一步 → 503 dsi_down, still at step 1, audited', T, async (t) => {
  const closed = await freePort();
  const { sys, sql } = await setup(t, { CERTRENEW_DSI_BASE_URL: `http://127.0.0.1:${closed}` });
  const w = await holder(sys, WONG.sub);
  const app = await step1(w);
  await assertDsiDown(sql, w, app, 'closed port');
  // Still offered: 下一步 again is allowed (and fails the same way).
  assert.equal((await w.emails(app)).next, true);
});

test('DSI answering invalid JSON, an HTML 500 page, or too slowly (timeout 1.5 s): each 503, nothing changed', T, async (t) => {
  let mode = 'json';
  const timers = new Set();
  const fake = http.createServer((req, res) => {
    req.resume();
    if (mode === 'json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"transaction_id": "dsi-1", "resident": {"surname": "WONG", ');
    } else if (mode === 'html500') {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<!doctype html><html><body><h1>500 Internal Server Error</h1></body></html>');
    } else {
      const tm = setTimeout(() => { timers.delete(tm); res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); }, 30_000);
      timers.add(tm);
    }
  });
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  const stopFake = () => {
    for (const tm of timers) clearTimeout(tm);
    fake.closeAllConnections();
    return new Promise((r) => fake.close(r));
  };
  t.after(stopFake);
  const lifetime = setTimeout(() => { stopFake(); }, TEST_TIMEOUT);
  lifetime.unref();
  t.after(() => clearTimeout(lifetime));

  const { sys, sql } = await setup(t, {
    CERTRENEW_DSI_BASE_URL: `http://127.0.0.1:${fake.address().port}`, CERTRENEW_DSI_TIMEOUT_MS: '1500',
  });
  const w = await holder(sys, WONG.sub);
  const app = await step1(w);
  mode = 'json';
  await assertDsiDown(sql, w, app, 'invalid JSON');
  mode = 'html500';
  await assertDsiDown(sql, w, app, 'HTML 500');
  mode = 'slow';
  const ms = await assertDsiDown(sql, w, app, '30 s delay');
  assert.ok(ms >= 1_000 && ms < 10_000, `the timeout fired (${ms} ms)`);
  t.diagnostic(`slow DSI answered by the portal in ${ms} ms`);
});

test('a certificate revoked since the application started: 下一步 → 409 cert_invalid, nothing changed', T, async (t) => {
  const { sys, sql } = await setup(t);
  const w = await holder(sys, WONG.sub);
  const app = await step1(w);
  sql(`UPDATE certificates SET status = 'revoked' WHERE id = (SELECT min(cert_id) FROM application_certs WHERE application_id = ${app})`);
  const before = snapshot(sql);
  const r = await w.next(app);
  assertRefused(r, 409, MSG.certInvalid, '下一步');
  assert.equal(appRow(sql, app).state, 'emails');
  assert.deepEqual(snapshot(sql), before, 'nothing changed');
  assert.equal(count(sql, 'identity_checks'), 0, 'DSI was not asked');
});

// ------------------------------------------------------------------------------ uploads

test('uploads that are not a usable photo: each 400 with its own message, nothing stored; GPS EXIF is stripped', T, async (t) => {
  const { sys, sql } = await setup(t);
  const { w, app } = await toIdentity(sys, WONG.sub);
  const wong = face('wong.jpg');
  const cases = [
    ['a text file named photo.jpg', Buffer.from('This is not a photo, just some text.\n'.repeat(50)), MSG.notImage],
    ['a truncated JPEG (first half of wong.jpg)', wong.subarray(0, Math.floor(wong.length / 2)), MSG.corrupt],
    ['a PNG claiming 100000×100000 pixels', pngClaiming(100000, 100000), MSG.tooManyPixels],
    ['a zero-byte file', Buffer.alloc(0), MSG.empty],
    ['a two-page TIFF', tiffPages(2), MSG.multiPage],
    ['a HEIC file', REFUSED_SIGNATURES.heic, MSG.unsupported],
    ['a WebP file', REFUSED_SIGNATURES.webp, MSG.unsupported],
    ['a GIF file', REFUSED_SIGNATURES.gif, MSG.unsupported],
    ['a PDF file', REFUSED_SIGNATURES.pdf, MSG.unsupported],
  ];
  const before = snapshot(sql);
  const files = evidenceFiles(sys);
  for (const [what, data, msg] of cases) {
    const r = await upload(w, app, data, { filename: 'photo.jpg' });
    assertRefused(r, 400, msg, what);
    assertStep(r.html, 2, what);
    if (msg === MSG.notImage || msg === MSG.unsupported) assert.ok(msg.includes(FORMATS), `${what}: the formats are named`);
    assert.ok(forms(r.html).some((f) => f.attrs.action === `${P}/identity/photo?app=${app}`), `${what}: the form is offered again`);
    assert.deepEqual(snapshot(sql), before, `${what}: nothing stored`);
    assert.deepEqual(evidenceFiles(sys), files, `${what}: no file written`);
  }
  assert.equal(count(sql, 'photos'), 0);

  // Two file parts, or a repeated small field: the form is malformed.
  const twice = async (extra, what) => {
    const fd = new FormData();
    fd.append('csrf', w.csrf);
    fd.append('app', String(app));
    fd.append('photo', new Blob([wong], { type: 'image/jpeg' }), 'a.jpg');
    extra(fd);
    const r = await w.jar.fetch(w.url(`${P}/identity/photo?app=${app}`), { method: 'POST', body: fd });
    assertRefused(r, 400, MSG.badForm, what);
    assert.deepEqual(snapshot(sql), before, `${what}: nothing stored`);
  };
  await twice((fd) => fd.append('photo', new Blob([wong], { type: 'image/jpeg' }), 'b.jpg'), 'two photo parts');
  await twice((fd) => fd.append('app', String(app)), 'app twice');
  await twice((fd) => fd.append('csrf', w.csrf), 'csrf twice');

  // A one-page TIFF is one of the accepted formats.
  assertRedirect(await upload(w, app, tiffPages(1), { filename: 'photo.tif', type: 'image/tiff' }),
    w.url(`${P}/identity?app=${app}&msg=photo_uploaded`), 'one-page TIFF');
  assert.equal(sql(`SELECT source_format FROM photos WHERE application_id = ${app}`)[0].source_format, 'tiff');

  // GPS EXIF: accepted (重新上傳), the kept copy has no Exif and no GPS.
  const gps = jpegWithGps(wong);
  assert.ok(gps.indexOf('Exif') > 0 && gps.indexOf(GPS_MARK) > 0, 'the test file carries Exif with GPS');
  assert.ok(jpegSegments(gps).some((s) => s.marker === 0xe1), 'an APP1 segment');
  assertRedirect(await upload(w, app, gps), w.url(`${P}/identity?app=${app}&msg=photo_uploaded`), 'JPEG with GPS');
  const cur = sql(`SELECT * FROM photos WHERE application_id = ${app} AND replaced_at IS NULL`);
  assert.equal(cur.length, 1, 'one current photo');
  assert.equal(cur[0].source_format, 'jpeg');
  assert.equal(count(sql, 'photos', `application_id = ${app}`), 2, 'the replaced one is kept as a row');
  assert.deepEqual(evidenceFiles(sys), [cur[0].file], 'the replaced photo\'s file is deleted');
  assertJpegClean((await preview(w, app)).bytes, 'the preview of the GPS JPEG');
  // And it is still WONG's face.
  assertRedirect(await faceCheck(w, app), w.url(`${P}/confirm?app=${app}`), '確定使用照片');
});

/**
 * A raw multipart POST with node:http: `total` bytes of file content; `declared` sends a Content-Length, else
 * chunked. Writes `head` bytes, then waits up to 10 s for an answer before writing the rest. Resolves with
 * { status, body, sentBeforeAnswer, total }.
 */
function rawUpload(sys, w, app, { total, declared }) {
  const boundary = `----certrenew${Date.now()}`;
  const url = new URL(w.url(`${P}/identity/photo?app=${app}`));
  const pre = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n${w.csrf}\r\n`
    + `--${boundary}\r\nContent-Disposition: form-data; name="app"\r\n\r\n${app}\r\n`
    + `--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
  const post = Buffer.from(`\r\n--${boundary}--\r\n`);
  const fileBytes = Buffer.concat([face('wong.jpg'), Buffer.alloc(Math.max(0, total - face('wong.jpg').length), 0x41)]).subarray(0, total);
  const body = Buffer.concat([pre, fileBytes, post]);
  const headers = { 'content-type': `multipart/form-data; boundary=${boundary}`, cookie: w.jar.header(url.href) };
  if (declared) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers,
      timeout: 20_000 });
    const guard = setTimeout(() => { req.destroy(new Error('no answer in 20 s')); }, 20_000);
    req.on('response', (res) => {
      answered = true;
      const sentBeforeAnswer = sent;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(guard);
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sentBeforeAnswer,
          total: body.length });
        req.destroy();
      });
      res.on('error', reject);
    });
    req.on('error', (e) => { clearTimeout(guard); if (!answered) reject(e); });
    req.on('timeout', () => req.destroy(new Error('socket timeout')));
    const head = 16 * 1024;
    req.write(body.subarray(0, head));
    sent = head;
    const later = async () => {
      // Give the server the chance to answer before the rest is sent (it should, for a declared length).
      for (let i = 0; i < 100 && !answered; i++) await new Promise((r) => setTimeout(r, 20));
      if (answered) return;
      for (let o = head; o < body.length && !answered; o += 16 * 1024) {
        const piece = body.subarray(o, Math.min(body.length, o + 16 * 1024));
        if (!req.write(piece)) await new Promise((r) => req.once('drain', r));
        sent = o + piece.length;
      }
      if (!answered) req.end();
    };
    later().catch(() => {});
  });
}

test('over the cap (65536 bytes): 200 KB declared → 413 before the body is read; chunked → 413; nothing stored', T, async (t) => {
  const { sys, sql } = await setup(t, { CERTRENEW_IDENTITY_PHOTO_MAX_BYTES: '65536' });
  const { w, app } = await toIdentity(sys, WONG.sub);
  const before = snapshot(sql);

  const declared = await rawUpload(sys, w, app, { total: 200 * 1024, declared: true });
  assert.equal(declared.status, 413, declared.body.slice(0, 400));
  assert.ok(declared.sentBeforeAnswer < declared.total, `answered after ${declared.sentBeforeAnswer} of ${declared.total} bytes`);
  assert.equal(shownMessage(declared.body), MSG.tooBig64k, 'the cap in KB (not "0 MB")');
  t.diagnostic(`declared: ${shownMessage(declared.body)} (after ${declared.sentBeforeAnswer} of ${declared.total} bytes)`);
  assert.deepEqual(snapshot(sql), before, 'declared: nothing stored');

  const chunked = await rawUpload(sys, w, app, { total: 200 * 1024, declared: false });
  assert.equal(chunked.status, 413, chunked.body.slice(0, 400));
  assert.equal(shownMessage(chunked.body), MSG.tooBig64k);
  assert.deepEqual(snapshot(sql), before, 'chunked: nothing stored');
  assert.deepEqual(evidenceFiles(sys), [], 'no file written');

  // Under the cap it works (wong_resized60.jpg is 23 KB).
  assertRedirect(await upload(w, app, fixture('wong_resized60.jpg')), w.url(`${P}/identity?app=${app}&msg=photo_uploaded`),
    'a small photo');
  // The portal is still well after the refused uploads.
  assert.equal((await w.get(`${P}/identity?app=${app}`)).status, 200);
});

// ------------------------------------------------------------------------------ evidence and access

test('the sealed photo file is not a JPEG; another holder gets 404; a forged CSRF token 403; nothing stored', T, async (t) => {
  const { sys, sql } = await setup(t);
  const { w, app } = await toIdentity(sys, WONG.sub);
  assertRedirect(await upload(w, app, face('wong.jpg')), w.url(`${P}/identity?app=${app}&msg=photo_uploaded`), 'upload');
  const [file] = evidenceFiles(sys);
  assert.ok(file, 'a file under var/evidence/');
  assert.equal(sql(`SELECT file FROM photos WHERE application_id = ${app}`)[0].file, file);
  const sealedPath = path.join(sys.varDir, 'evidence', file);
  const sealed = readFileSync(sealedPath);
  // Not a JPEG: no JPEG start at the beginning. (Three bytes FF D8 FF occur by chance in about 1% of
  // 200 KB ciphertexts, so "nowhere in the file" was a flaky check; the 64-byte run below is not.)
  assert.notDeepEqual(sealed.subarray(0, 3), Buffer.from('ffd8ff', 'hex'), 'not a JPEG');
  assert.equal(sealed.indexOf('JFIF'), -1);
  const pv = await preview(w, app);
  assert.equal(sealed.indexOf(pv.bytes.subarray(100, 164)), -1, 'no run of the photo\'s bytes');
  const py = spawnSync('/usr/bin/python3', ['-c', 'import sys\nfrom PIL import Image\ntry:\n  Image.open(sys.argv[1]).load()\n  print("decoded")\nexcept Exception as e:\n  print("no:", type(e).__name__)', sealedPath],
    { encoding: 'utf8', timeout: 15_000 });
  if (py.status === 0) assert.match(py.stdout, /^no:/, `PIL cannot decode the sealed file: ${py.stdout}`);
  else t.diagnostic(`python3 PIL not usable here: ${py.stderr.slice(0, 200)}`);

  // CHAN, logged in separately.
  const chan = await holder(sys, CHAN.sub);
  const before = snapshot(sql);
  const files = evidenceFiles(sys);
  const res = await preview(chan, app);
  assert.equal(res.status, 404, 'CHAN: WONG\'s preview');
  assert.ok(!(res.headers.get('content-type') || '').startsWith('image/'), 'no image for CHAN');
  assert.equal(errorMessage((await chan.get(`${P}/identity?app=${app}`)).html), MSG.notFound, 'CHAN: WONG\'s step 2 page');
  assertRefused(await upload(chan, app, face('chan.jpg')), 404, MSG.notFound, 'CHAN uploads on WONG\'s application');
  assertRefused(await faceCheck(chan, app), 404, MSG.notFound, 'CHAN compares on WONG\'s application');
  assert.deepEqual(snapshot(sql), before, 'nothing changed by CHAN');
  assert.deepEqual(evidenceFiles(sys), files);

  // A forged CSRF token (or none) on WONG's own forms.
  for (const csrf of ['forged-token', null, chan.csrf]) {
    assertRefused(await upload(w, app, face('wong.jpg'), { csrf }), 403, MSG.csrf, `upload with csrf ${csrf}`);
    assertRefused(await faceCheck(w, app, csrf ?? ''), 403, MSG.csrf, `確定使用照片 with csrf ${csrf}`);
  }
  assert.deepEqual(snapshot(sql), before, 'nothing stored with a forged token');
  assert.deepEqual(evidenceFiles(sys), files);
  assert.equal(count(sql, 'face_checks'), 0);
});

test('retention: jobs --once with retention 1 day purges 2-day-old evidence: file gone, sealed answers NULL, hashes kept', T, async (t) => {
  const { sys, sql } = await setup(t);
  const { w, app } = await toIdentity(sys, WONG.sub);
  await upload(w, app, face('chan.jpg'));
  assertRefused(await faceCheck(w, app), 400, MSG.faceLow(2), 'a failed comparison (evidence of it)');
  const [file] = evidenceFiles(sys);
  assert.ok(file);
  const hashes = {
    photo: sql(`SELECT sha256 FROM photos WHERE application_id = ${app}`)[0].sha256,
    id: sql(`SELECT answer_sha256 FROM identity_checks WHERE application_id = ${app}`)[0].answer_sha256,
    face: sql(`SELECT answer_sha256 FROM face_checks WHERE application_id = ${app}`)[0].answer_sha256,
  };
  assert.equal(count(sql, 'identity_checks', 'answer_sealed IS NOT NULL'), 1);
  assert.equal(count(sql, 'face_checks', 'answer_sealed IS NOT NULL'), 1);

  // A first run with the evidence fresh purges nothing.
  const env = { ...sys.env, CERTRENEW_IDENTITY_EVIDENCE_RETENTION_DAYS: '1' };
  run(CERTRENEW, ['jobs', '--once'], env);
  assert.deepEqual(evidenceFiles(sys), [file], 'fresh evidence is kept');
  assert.equal(count(sql, 'audit_log', "action = 'evidence_purged'"), 0);

  const d = 2 * 86400;
  sql(`BEGIN; UPDATE photos SET uploaded_at = uploaded_at - ${d}; UPDATE identity_checks SET at = at - ${d};
    UPDATE face_checks SET at = at - ${d}; COMMIT;`);
  const out = run(CERTRENEW, ['jobs', '--once'], env);
  assert.deepEqual(evidenceFiles(sys), [], `the photo file is gone\n${out}`);
  const p = sql(`SELECT * FROM photos WHERE application_id = ${app}`)[0];
  assert.equal(p.sha256, hashes.photo, 'the photo\'s hash is kept');
  assert.ok(p.purged_at !== null, 'marked purged');
  const k = sql(`SELECT * FROM identity_checks WHERE application_id = ${app}`)[0];
  assert.equal(k.answer_sealed, null);
  assert.equal(k.answer_sha256, hashes.id);
  assert.equal(k.outcome, 'match', 'the result stays');
  const f = sql(`SELECT * FROM face_checks WHERE application_id = ${app}`)[0];
  assert.equal(f.answer_sealed, null);
  assert.equal(f.answer_sha256, hashes.face);
  assert.equal(Number(f.passed), 0);
  const audit = sql("SELECT actor, object, detail FROM audit_log WHERE action = 'evidence_purged'");
  assert.equal(audit.length, 1, JSON.stringify(audit));
  t.diagnostic(`evidence_purged: ${audit[0].detail}`);
  // The page still answers (no photo to show), and the preview URL is now a 404, not a 500.
  const page = await w.get(`${P}/identity?app=${app}`);
  assert.equal(page.status, 200);
  assert.notEqual((await preview(w, app)).status, 500, 'the preview of a purged photo is no 500');
  run(CERTRENEW, ['audit-verify'], sys.env);
});

test('leaving and logging in again: /verify leads to step 2 with the photo still shown and the tries counted', T, async (t) => {
  const { sys, sql } = await setup(t);
  const { w, app } = await toIdentity(sys, WONG.sub);
  await upload(w, app, face('chan.jpg'));
  assertRefused(await faceCheck(w, app), 400, MSG.faceLow(2), 'one failed try');
  const logout = await w.post('/logout', { csrf: w.csrf });
  assertRedirect(logout, w.url('/'), 'logout');
  assert.notEqual((await w.get(`${P}/identity?app=${app}`)).status, 200, 'logged out');

  const again = await holder(sys, WONG.sub);
  assertRedirect(await again.get(`${P}/verify`), again.url(`${P}/identity?app=${app}`), '/verify after logging in again');
  const page = await again.get(`${P}/identity?app=${app}`);
  assert.equal(page.status, 200);
  assertStep(page.html, 2, 'identity');
  const src = previewSrc(page.html);
  assert.ok(src, 'the photo is still shown');
  const img = await fetch(new URL(src, sys.base), { headers: { cookie: again.jar.header(sys.base + src) }, signal: AbortSignal.timeout(15_000) });
  assert.equal(img.status, 200);
  assert.equal(img.headers.get('content-type'), 'image/jpeg');
  assert.ok(textOf(page.html).includes(`${MSG.triesLeft} 2`), 'the tries are counted');
  assert.ok(textOf(page.html).includes('確定使用照片') && textOf(page.html).includes('重新上傳'));
  // And it goes on from there.
  await upload(again, app, face('wong.jpg'));
  assertRedirect(await faceCheck(again, app), again.url(`${P}/confirm?app=${app}`), '確定使用照片 after coming back');
  assert.equal(appRow(sql, app).state, 'confirm');
});
