// The very-high e-ID on govsim (docs/internals/eid.md), driven as a browser and a phone would:
// the computer's page (QR code, 「模擬手機掃描」, 「我已在手機上完成確認」), the phone's view and its form,
// then /eid/continue back to the client. Also the PKCE pieces and the /token exchange the tests need.
import { createHash, randomBytes } from 'node:crypto';

import { CookieJar, elements, forms, startTags } from './harness.mjs';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** A fresh PKCE pair { verifier, challenge } (S256). */
export function pkce() {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

/**
 * govsim's /authorize URL for a very-high e-ID. `params` overrides or (with value null) removes
 * parameters. Returns { url, state, nonce, verifier }.
 */
export function eidAuthorizeUrl(issuer, { redirectUri, clientId = 'certrenew', loginHint, binding = 'R2026-000001', params = {} }) {
  const { verifier, challenge } = pkce();
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const q = {
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'openid',
    state, nonce, code_challenge: challenge, code_challenge_method: 'S256',
    acr_values: 'govid:very-high', prompt: 'login', login_hint: loginHint, binding_message: binding,
    ...params,
  };
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries(q)) if (v !== null && v !== undefined) u.searchParams.set(k, v);
  return { url: u.toString(), state, nonce, verifier };
}

/**
 * Opens the e-ID page at authorizeUrl (govsim's /authorize). Returns { res, scanUrl, qrUrl, statusUrl,
 * continueUrl, scriptUrl } (absolute URLs read from the page). Throws when it is not the e-ID page.
 */
export async function eidPage(jar, authorizeUrl) {
  const res = await jar.fetch(authorizeUrl);
  if (res.status !== 200) throw new Error(`e-ID page: ${res.status} ${res.location || ''}\n${res.html.slice(0, 500)}`);
  const abs = (u) => (u ? new URL(u, authorizeUrl).toString() : null);
  const links = elements(res.html, 'a');
  const scan = links.find((a) => a.text.includes('模擬手機掃描'));
  const cont = links.find((a) => /\/eid\/continue\//.test(a.attrs.href || ''));
  const img = startTags(res.html, 'img').find((i) => /\/eid\/qr\//.test(i.src || ''));
  const box = startTags(res.html, 'div').find((d) => d['data-status']);
  const script = startTags(res.html, 'script').find((s) => s.src);
  if (!scan || !cont || !img || !box) throw new Error(`not the e-ID page\n${res.html.slice(0, 1500)}`);
  return {
    res,
    scan: scan.attrs,
    scanUrl: abs(scan.attrs.href),
    qrUrl: abs(img.src),
    statusUrl: abs(box['data-status']),
    continueUrl: abs(cont.attrs.href),
    scriptUrl: abs(script && script.src),
  };
}

/**
 * The phone: opens scanUrl (the one view), posts the decision from its form (`as`: another account's
 * phone, DEV). Returns { view, post } (the two responses). Throws when the view has no form.
 */
export async function eidPhone(scanUrl, { as, decision = 'approve' } = {}) {
  const phone = new CookieJar();
  const view = await phone.fetch(scanUrl);
  const form = forms(view.html).find((f) => /\/eid\/scan\//.test(f.attrs.action || ''));
  if (view.status !== 200 || !form) throw new Error(`phone view: ${view.status}\n${view.html.slice(0, 800)}`);
  const fields = { ...form.fields, decision };
  if (as) fields.as = as;
  const post = await phone.fetch(new URL(form.attrs.action, scanUrl).toString(), { form: fields });
  return { view, post };
}

/**
 * Approves (or refuses) the e-ID of govsim's /authorize URL as the phone would, then follows
 * /eid/continue: returns the final redirect Location (the client's redirect_uri with code and state,
 * or error=access_denied and state). `sys` is unused by govsim itself (kept for the helpers' shape).
 */
export async function eidApprove(sys, authorizeUrl, { as, decision = 'approve' } = {}) {
  const jar = sys && typeof sys.jar === 'function' ? sys.jar() : new CookieJar();
  const page = await eidPage(jar, authorizeUrl);
  const { post } = await eidPhone(page.scanUrl, { as, decision });
  if (post.status !== 200) throw new Error(`phone decision: ${post.status}\n${post.html.slice(0, 800)}`);
  const res = await jar.fetch(page.continueUrl);
  if (res.status !== 303 && res.status !== 302) throw new Error(`/eid/continue: ${res.status}\n${res.html.slice(0, 800)}`);
  return res.location;
}

/** POST /token (client_secret_post) for code; returns { status, body }. */
export async function redeem(issuer, { code, redirectUri, verifier, clientId = 'certrenew', secret }) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier,
      client_id: clientId, client_secret: secret,
    }).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: await res.json() };
}

/** The claims of a compact JWS (not verified: the tests look at what govsim put in). */
export function jwtClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** authorize + phone + continue + /token: { tokens, claims, callback } of a very-high e-ID. */
export async function eidLogin(issuer, { redirectUri, secret, loginHint, as, binding }) {
  const a = eidAuthorizeUrl(issuer, { redirectUri, loginHint, binding });
  const callback = new URL(await eidApprove(null, a.url, { as }));
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback}`);
  const t = await redeem(issuer, { code, redirectUri, verifier: a.verifier, secret });
  if (t.status !== 200) throw new Error(`/token: ${t.status} ${JSON.stringify(t.body)}`);
  return { tokens: t.body, claims: jwtClaims(t.body.id_token), callback, request: a };
}
