// Step 4 helpers: a holder's application carried to submission through the real steps 1-3 (govsim's
// DSI, face comparison, very-high e-ID and signing service), then the step 4 forms.
import assert from 'node:assert/strict';

import { forms, textOf } from './harness.mjs';
import { P } from './verify.mjs';
import { toIdentity, upload, faceCheck, face } from './identity.mjs';
import { eidApprove } from './eid.mjs';

export const DEMO_SIGNING_PASSWORD = 'Demo-Sign-2026';
export const GOOD_PASSPHRASE = 'kestrel lantern harbour 7f3';

/** Arms a govsim fault for its next use (POST /sim/faults). */
export async function arm(sys, name) {
  const r = await fetch(`${sys.govsim}/sim/faults`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ next: name }).toString(), signal: AbortSignal.timeout(5000),
  });
  assert.equal(r.status, 200, `arming ${name}`);
}

/** `sub`'s application through steps 1-3 and 「確認提交證書續期申請」; returns { w, app }. */
export async function toSubmitted(sys, sub, { face: photo = 'wong.jpg', position = 'Tecnico superior' } = {}) {
  const { w, app } = await toIdentity(sys, sub);
  assert.equal((await upload(w, app, face(photo))).status, 302, 'photo');
  assert.equal((await faceCheck(w, app)).status, 302, 'face');
  const d = await w.post(`${P}/confirm/declare`, { csrf: w.csrf, app: String(app), agree: '1', position });
  assert.equal(d.status, 302, `declare: ${textOf(d.html).slice(0, 300)}`);
  const cb = await eidApprove(sys, d.location, {});
  const back = await w.jar.fetch(cb);
  assert.equal(back.status, 302, `e-ID callback: ${textOf(back.html).slice(0, 300)}`);
  const s = await w.post(`${P}/confirm/submit`, { csrf: w.csrf, app: String(app) });
  assert.equal(s.status, 302, 'submit');
  return { w, app };
}

/** The cloudsign certificate ids offered 「激活」 on the step 4 page. */
export async function activatable(w, app) {
  const r = await w.get(`${P}/confirm?app=${app}`);
  assert.equal(r.status, 200);
  return forms(r.html).filter((f) => f.attrs.action === `${P}/activate/open`).map((f) => Number(f.fields.cert));
}

/** 「激活」: the form page (or the refusal). */
export const openForm = (w, app, cert, csrf = w.csrf) =>
  w.post(`${P}/activate/open`, { csrf, app: String(app), cert: String(cert) });

/** 「激活證書」. */
export const activate = (w, app, cert, { password = DEMO_SIGNING_PASSWORD, passphrase = GOOD_PASSPHRASE,
  again = passphrase, csrf = w.csrf } = {}) =>
  w.post(`${P}/activate`, { csrf, app: String(app), cert: String(cert), password, passphrase, again });
