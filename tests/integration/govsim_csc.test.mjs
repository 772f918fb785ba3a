// govsim's e-signature service (docs/internals/esign.md): the test CA in the data directory, the three CSC
// calls with a very-high e-ID access token, a detached CAdES-B-B CMS that `openssl cms -verify` accepts for
// the file whose hash was sent, the refusals, and the csc_* test failures (checked with openssl).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CookieJar, Daemon, GOVSIM, PEOPLE, freePort, waitHealthy, forms, TEST_TIMEOUT } from '../lib/harness.mjs';
import { eidLogin, pkce, redeem } from '../lib/eid.mjs';

const T = { timeout: TEST_TIMEOUT };
const SECRET = 'client-secret';
const REDIRECT = 'http://127.0.0.1:1/eid/callback';
const WONG = { sub: 'govid-1000001', name: 'xxxx xexx WONG', id: '1234567(8)' };
const CRED = `eid-sign-${WONG.sub}`;

let dir;
let base;
let sim;
let caFile;
let n = 0;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'govsim-csc-'));
  writeFileSync(path.join(dir, 'client_secret'), `${SECRET}\n`, { mode: 0o600 });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  sim = new Daemon('govsim', GOVSIM, [
    '--listen', `127.0.0.1:${port}`, '--issuer', base, '--data-dir', path.join(dir, 'govsim'),
    '--people', PEOPLE, '--client-id', 'certrenew', '--client-secret-file', path.join(dir, 'client_secret'),
    '--redirect-uri', REDIRECT, '--test-faults',
  ], process.env, path.join(dir, 'govsim.log'));
  await waitHealthy(`${base}/healthz`, sim);
  caFile = path.join(dir, 'govsim', 'govid-ca.pem');
}, { timeout: 60_000 });

after(async () => {
  if (sim) await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

const veryHigh = async (sub = WONG.sub) =>
  (await eidLogin(base, { redirectUri: REDIRECT, secret: SECRET, loginHint: sub })).tokens.access_token;

async function csc(token, op, body) {
  const res = await fetch(`${base}/csc/v2/${op}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* left null: the test looks at text */ }
  return { status: res.status, json, text, type: res.headers.get('content-type') };
}

const signBody = (hash, extra = {}) => ({
  credentialID: CRED, hashes: [hash.toString('base64')],
  hashAlgorithmOID: '2.16.840.1.101.3.4.2.1', signAlgo: '1.2.840.10045.4.3.2', ...extra,
});

/** A document (random bytes, PDF-ish) and its SHA-256. */
function documentFile() {
  const doc = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2000), Buffer.from('\n%%EOF\n')]);
  const file = path.join(dir, `doc-${++n}.pdf`);
  writeFileSync(file, doc);
  return { file, hash: createHash('sha256').update(doc).digest() };
}

function openssl(args) {
  return spawnSync('openssl', args, { encoding: 'utf8', timeout: 20_000 });
}

/** Writes the CMS and runs the verification the brief names; { ok, out, sigFile, signerFile }. */
function verify(cmsDer, docFile) {
  const sigFile = path.join(dir, `sig-${++n}.p7s`);
  const signerFile = path.join(dir, `signer-${n}.pem`);
  writeFileSync(sigFile, cmsDer);
  const r = openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', sigFile, '-content', docFile,
    '-CAfile', caFile, '-purpose', 'any', '-out', '/dev/null', '-signer', signerFile]);
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`, sigFile, signerFile };
}

/** The signer certificate of a CMS (without verifying it): subject, issuer, dates, text. */
function signerOf(sigFile, docFile) {
  const pem = path.join(dir, `any-signer-${++n}.pem`);
  const r = openssl(['cms', '-verify', '-noverify', '-binary', '-inform', 'DER', '-in', sigFile,
    '-content', docFile, '-out', '/dev/null', '-signer', pem]);
  const x = openssl(['x509', '-in', pem, '-noout', '-subject', '-issuer', '-enddate', '-nameopt', 'RFC2253']);
  return { cmsOk: r.status === 0, cmsOut: `${r.stdout}${r.stderr}`, text: x.stdout };
}

async function signOnce(hash, token) {
  const r = await csc(token || await veryHigh(), 'signatures/signHash', signBody(hash));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.signatures.length, 1);
  return Buffer.from(r.json.signatures[0], 'base64');
}

async function arm(name) {
  const res = await fetch(`${base}/sim/faults`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `next=${name}`,
  });
  assert.equal(res.status, 200, `arm ${name}`);
}

test('the test CA: govid-ca.pem (a CA, keyCertSign) and govid-ca.key 0600 in the data directory', T, async () => {
  assert.equal(statSync(path.join(dir, 'govsim', 'govid-ca.key')).mode & 0o777, 0o600);
  const x = openssl(['x509', '-in', caFile, '-noout', '-text']);
  assert.equal(x.status, 0, x.stderr);
  assert.match(x.stdout, /CA:TRUE/);
  assert.match(x.stdout, /Certificate Sign/);
  assert.match(x.stdout, /prime256v1|P-256/);
});

test('list, info, signHash with a very-high token: openssl cms -verify accepts the CMS for the file', T, async () => {
  const token = await veryHigh();
  const list = await csc(token, 'credentials/list', {});
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json, { credentialIDs: [CRED] });

  const info = await csc(token, 'credentials/info', { credentialID: CRED, certificates: 'chain', certInfo: true });
  assert.equal(info.status, 200, info.text);
  assert.deepEqual(info.json.key, { status: 'enabled', algo: ['1.2.840.10045.4.3.2'], len: 256, curve: '1.2.840.10045.3.1.7' });
  assert.equal(info.json.authMode, 'oauth2code');
  assert.equal(info.json.SCAL, '2');
  const c = info.json.cert;
  assert.equal(c.status, 'valid');
  assert.equal(c.certificates.length, 2);
  assert.match(c.subjectDN, /serialNumber=IDCMO-1234567\(8\)/);
  assert.match(c.subjectDN, new RegExp(`CN=${WONG.name}`));
  assert.match(c.issuerDN, /O=GovID/);
  assert.match(c.validFrom, /^\d{14}Z$/);
  assert.match(c.serialNumber, /^[0-9A-F]+$/);
  const years = (Number(c.validTo.slice(0, 4)) - Number(c.validFrom.slice(0, 4)));
  assert.equal(years, 2);
  const caDer = openssl(['x509', '-in', caFile, '-outform', 'DER']);
  assert.equal(caDer.status, 0);
  const signerPem = path.join(dir, 'info-signer.der');
  writeFileSync(signerPem, Buffer.from(c.certificates[0], 'base64'));
  const sx = openssl(['x509', '-inform', 'DER', '-in', signerPem, '-noout', '-text']);
  assert.match(sx.stdout, /Digital Signature, Non Repudiation/);
  assert.match(sx.stdout, /CA:FALSE/);

  const { file, hash } = documentFile();
  const cms = await signOnce(hash, token);
  const v = verify(cms, file);
  assert.ok(v.ok, v.out);
  const s = openssl(['x509', '-in', v.signerFile, '-noout', '-subject', '-nameopt', 'RFC2253']);
  assert.match(s.stdout, /serialNumber=IDCMO-1234567\(8\),CN=xxxx xexx WONG,O=GovID,C=MO/);
  const dump = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', v.sigFile]).stdout;
  for (const attr of ['contentType', 'messageDigest', 'signingTime', 'id-smime-aa-signingCertificateV2']) {
    assert.match(dump, new RegExp(`object: ${attr} `), attr);
  }
  assert.doesNotMatch(dump, /SMIMECapabilities/);
  assert.match(dump, /eContent: <ABSENT>/, 'detached');

  // The same CMS does not verify another file.
  const other = documentFile();
  assert.equal(verify(cms, other.file).ok, false);

  // One signHash per token.
  const again = await csc(token, 'signatures/signHash', signBody(hash));
  assert.equal(again.status, 401);
  assert.equal(again.json.error, 'invalid_token');
});

test('refused: a substantial login\'s token, no token, another\'s credential, bad bodies', T, async () => {
  // A plain login (the account list) buys a substantial token.
  const { verifier, challenge } = pkce();
  const u = new URL(`${base}/authorize`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: 'certrenew', redirect_uri: REDIRECT,
    scope: 'openid', state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' })) u.searchParams.set(k, v);
  const page = await new CookieJar().fetch(u.toString());
  const form = forms(page.html).find((f) => /\/login$/.test(f.attrs.action));
  const back = await new CookieJar().fetch(`${base}/login`, { form: { ...form.fields, sub: WONG.sub } });
  const t = await redeem(base, { code: new URL(back.location).searchParams.get('code'), redirectUri: REDIRECT, verifier, secret: SECRET });
  assert.equal(t.status, 200);
  const { hash } = documentFile();
  for (const op of ['credentials/list', 'credentials/info', 'signatures/signHash']) {
    const r = await csc(t.body.access_token, op, op === 'signatures/signHash' ? signBody(hash) : { credentialID: CRED });
    assert.equal(r.status, 401, `${op} with a substantial token`);
    assert.equal(r.json.error, 'invalid_token');
  }
  assert.equal((await csc('x'.repeat(43), 'credentials/list', {})).status, 401);

  const token = await veryHigh();
  const info = await csc(token, 'credentials/info', { credentialID: 'eid-sign-govid-1000002' });
  assert.equal(info.status, 400);
  assert.equal(info.json.error, 'invalid_request');
  for (const body of [
    signBody(hash, { credentialID: 'eid-sign-govid-1000002' }),
    signBody(hash, { hashes: [hash.toString('base64'), hash.toString('base64')] }),
    signBody(hash, { hashes: [hash.subarray(0, 20).toString('base64')] }),
    signBody(hash, { hashAlgorithmOID: '1.3.14.3.2.26' }),
    '{"credentialID":',
  ]) {
    const r = await csc(token, 'signatures/signHash', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error, 'invalid_request');
  }
  // The bad bodies did not use up the token's one signHash.
  await signOnce(hash, token);
  const res = await fetch(`${base}/csc/v2/credentials/list`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 405);
});

test('csc_down: 503, and the token still signs afterwards', T, async () => {
  const token = await veryHigh();
  const { file, hash } = documentFile();
  await arm('csc_down');
  const r = await csc(token, 'signatures/signHash', signBody(hash));
  assert.equal(r.status, 503);
  assert.ok(verify(await signOnce(hash, token), file).ok);
});

test('csc_garbage: 200 with a signature that is not DER', T, async () => {
  const { file, hash } = documentFile();
  await arm('csc_garbage');
  const der = await signOnce(hash);
  const v = verify(der, file);
  assert.equal(v.ok, false);
  assert.notEqual(openssl(['asn1parse', '-inform', 'DER', '-in', v.sigFile]).status, 0, 'not DER');
});

test('csc_truncated: the CMS cut in half does not parse', T, async () => {
  const { file, hash } = documentFile();
  const whole = await signOnce(hash);
  await arm('csc_truncated');
  const half = await signOnce(hash);
  assert.ok(Math.abs(half.length - whole.length / 2) < 40, `${half.length} vs ${whole.length}`);
  const v = verify(half, file);
  assert.equal(v.ok, false);
  assert.notEqual(openssl(['cms', '-cmsout', '-inform', 'DER', '-in', v.sigFile, '-noout']).status, 0);
});

test('csc_wrong_digest: signs another hash (digest check fails, the chain is fine)', T, async () => {
  const { file, hash } = documentFile();
  await arm('csc_wrong_digest');
  const v = verify(await signOnce(hash), file);
  assert.equal(v.ok, false);
  assert.match(v.out, /digest|content verify error/i);
});

test('csc_untrusted: a certificate from another CA of the same name', T, async () => {
  const { file, hash } = documentFile();
  await arm('csc_untrusted');
  const v = verify(await signOnce(hash), file);
  assert.equal(v.ok, false);
  assert.match(v.out, /certificate|verify error/i);
  const s = signerOf(v.sigFile, file);
  assert.ok(s.cmsOk, s.cmsOut);
  assert.match(s.text, /subject=serialNumber=IDCMO-1234567\(8\)/);
  const caSubject = openssl(['x509', '-in', caFile, '-noout', '-subject', '-nameopt', 'RFC2253']).stdout.replace('subject=', 'issuer=');
  assert.ok(s.text.includes(caSubject.trim()), 'same issuer name as the real CA');
});

test('csc_other_person: another account\'s certificate (verifies, other resident number)', T, async () => {
  const { file, hash } = documentFile();
  await arm('csc_other_person');
  const v = verify(await signOnce(hash), file);
  assert.ok(v.ok, v.out);
  const s = openssl(['x509', '-in', v.signerFile, '-noout', '-subject', '-nameopt', 'RFC2253']).stdout;
  assert.match(s, /serialNumber=IDCMO-/);
  assert.doesNotMatch(s, /IDCMO-1234567\(8\)/);
});

test('csc_expired: a certificate whose validity ended yesterday', T, async () => {
  const { file, hash } = documentFile();
  await arm('csc_expired');
  const v = verify(await signOnce(hash), file);
  assert.equal(v.ok, false);
  assert.match(v.out, /expired/i);
  const s = signerOf(v.sigFile, file);
  const end = Date.parse(/notAfter=(.*)/.exec(s.text)[1]);
  assert.ok(end < Date.now() && end > Date.now() - 2 * 86400_000, s.text);
  assert.match(s.text, /IDCMO-1234567\(8\)/);
});

test('the CA survives a restart (same govid-ca.pem)', T, async () => {
  const before = readFileSync(caFile, 'utf8');
  await sim.stop();
  const port = Number(new URL(base).port);
  sim = new Daemon('govsim', GOVSIM, [
    '--listen', `127.0.0.1:${port}`, '--issuer', base, '--data-dir', path.join(dir, 'govsim'),
    '--people', PEOPLE, '--client-id', 'certrenew', '--client-secret-file', path.join(dir, 'client_secret'),
    '--redirect-uri', REDIRECT, '--test-faults',
  ], process.env, path.join(dir, 'govsim2.log'));
  await waitHealthy(`${base}/healthz`, sim);
  assert.equal(readFileSync(caFile, 'utf8'), before);
  const { file, hash } = documentFile();
  assert.ok(verify(await signOnce(hash), file).ok);
});
