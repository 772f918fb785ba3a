// govsim's DSI service (docs/internals/dsi.md): resident lookup, face comparison, authentication
// and the limits, against the real binary started alone (its own temp dir, a loopback port).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { Daemon, GOVSIM, PEOPLE, FACES_DIR, ROOT, freePort, waitHealthy, TEST_TIMEOUT } from '../lib/harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const FIXTURES = path.join(ROOT, 'tests', 'fixtures', 'faces');
const KEY = 'k'.repeat(20) + Math.random().toString(16).slice(2);
const WONG_ID = '1234567(8)';

let dir;
let base;
let sim;

function govsimArgs(port, extra) {
  return [
    '--listen', `127.0.0.1:${port}`,
    '--issuer', `http://127.0.0.1:${port}`,
    '--data-dir', path.join(dir, `govsim-${port}`),
    '--people', PEOPLE,
    '--client-id', 'certrenew',
    '--client-secret-file', path.join(dir, 'client_secret'),
    '--redirect-uri', 'http://127.0.0.1:1/auth/callback',
    ...extra,
  ];
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'govsim-dsi-'));
  writeFileSync(path.join(dir, 'client_secret'), 'client-secret\n', { mode: 0o600 });
  writeFileSync(path.join(dir, 'dsi_api_key'), `${KEY}\n`, { mode: 0o600 });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  sim = new Daemon('govsim', GOVSIM,
    govsimArgs(port, ['--dsi-api-key-file', path.join(dir, 'dsi_api_key'), '--faces-dir', FACES_DIR]),
    process.env, path.join(dir, 'govsim.log'));
  await waitHealthy(`${base}/healthz`, sim);
}, { timeout: 60_000 });

after(async () => {
  if (sim) await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

const auth = (key = KEY) => ({ authorization: `Bearer ${key}` });

async function getJson(url, headers = auth()) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), body: text ? JSON.parse(text) : null };
}

async function resident(id, headers) {
  return getJson(`${base}/dsi/v1/residents/${encodeURIComponent(id)}`, headers);
}

async function compare(id, bytes, headers = auth()) {
  const res = await fetch(`${base}/dsi/v1/face/compare`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ id_number: id, image: Buffer.from(bytes).toString('base64') }),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: await res.json() };
}

// Macau date n days from now (YYYY-MM-DD).
function macauDate(days) {
  return new Date(Date.now() + 8 * 3600_000 + days * 86400_000).toISOString().slice(0, 10);
}

const personalField = /^(id_number|surname|given_names|name_zh|card_number|card_issued_on|card_expires_on|card_status)$/;

function checkEnvelope(body) {
  assert.match(body.transaction_id, /^dsi-[0-9a-f]{32}$/);
  assert.match(body.queried_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(body.queried_at) - Date.now()) < 60_000, 'queried_at is now');
  for (const [k, v] of Object.entries(body.resident)) {
    assert.match(k, personalField, `unexpected member ${k}`);
    assert.equal(typeof v, 'string', `${k} is a string`);
    assert.ok(Buffer.byteLength(v) <= 256, `${k} at most 256 bytes`);
  }
}

test('resident lookup: WONG, every member with its type', T, async () => {
  const r = await resident(WONG_ID);
  assert.equal(r.status, 200);
  assert.match(r.type, /^application\/json/);
  assert.deepEqual(Object.keys(r.body).sort(), ['queried_at', 'resident', 'transaction_id']);
  checkEnvelope(r.body);
  assert.deepEqual(r.body.resident, {
    id_number: WONG_ID,
    surname: 'WONG',
    given_names: 'xxxx xexx',
    name_zh: '黃小華',
    card_number: 'MO1234567A',
    card_issued_on: macauDate(-1500),
    card_expires_on: macauDate(2150),
    card_status: 'valid',
  });
  const pct = await getJson(`${base}/dsi/v1/residents/1234567%288%29`);
  assert.equal(pct.status, 200, 'percent-encoded as the contract shows');
  assert.equal(pct.body.resident.id_number, WONG_ID);
  assert.equal((await getJson(`${base}/dsi/v1/residents/1234567%25288%2529`)).status, 404, 'decoded once only');
  const again = await resident(WONG_ID);
  assert.notEqual(again.body.transaction_id, r.body.transaction_id, 'a fresh transaction id each time');
});

test('resident lookup: the expired card and the changed name', T, async () => {
  const ho = await resident('1567890(1)');
  assert.equal(ho.status, 200);
  checkEnvelope(ho.body);
  assert.equal(ho.body.resident.surname, 'HO');
  assert.equal(ho.body.resident.name_zh, '何永傑');
  assert.equal(ho.body.resident.card_status, 'expired');
  assert.equal(ho.body.resident.card_expires_on, macauDate(-20));
  assert.ok(ho.body.resident.card_expires_on < macauDate(0));

  const lam = await resident('1678901(2)');
  assert.equal(lam.status, 200);
  checkEnvelope(lam.body);
  assert.equal(lam.body.resident.surname, 'LAM');
  assert.equal(lam.body.resident.given_names, 'Mei Ling');
  assert.equal(lam.body.resident.name_zh, '林美玲');
  assert.equal(lam.body.resident.card_status, 'valid');
});

test('resident lookup: unknown number is 404 not_found', T, async () => {
  for (const id of ['9999999(9)', '1234567(9)', '1234567', 'x']) {
    const r = await resident(id);
    assert.equal(r.status, 404, id);
    assert.deepEqual(r.body, { error: 'not_found' });
  }
});

test('a missing or wrong bearer key is 401 unauthorized, before any lookup', T, async () => {
  for (const headers of [{}, auth('wrong'), auth(`${KEY}x`), auth(''), { authorization: `Basic ${KEY}` }]) {
    const r = await resident(WONG_ID, headers);
    assert.equal(r.status, 401, JSON.stringify(headers));
    assert.deepEqual(r.body, { error: 'unauthorized' });
    const c = await compare(WONG_ID, readFileSync(path.join(FACES_DIR, 'wong.jpg')), headers);
    assert.equal(c.status, 401);
    assert.deepEqual(c.body, { error: 'unauthorized' });
  }
  assert.equal((await resident('9999999(9)', {})).status, 401, 'no 404 oracle without the key');
});

test('the request log does not hold the resident number', T, async () => {
  await resident(WONG_ID);
  assert.ok(!sim.output.includes('1234567'), 'id number in the log');
  assert.match(sim.output, /GET \/dsi\/v1\/residents\/\{id\} 200/);
});

// The score table: the registered face's variants must match, every other face must not.
const SAME = ['wong.png', 'wong_resized60.jpg', 'wong_cropped6.jpg', 'wong_rot_plus4.jpg', 'wong_rot_minus4.jpg',
  'wong_q70.jpg'];
const OTHERS = ['chan.jpg', 'lei.jpg', 'ctt03.jpg', 'ho.jpg', 'cheong.jpg'];
const FACE_OF = { '1234567(8)': 'wong.jpg', '5123456(7)': 'chan.jpg', '1345678(9)': 'lei.jpg',
  '1456789(0)': 'ctt03.jpg', '1567890(1)': 'ho.jpg', '1678901(2)': 'cheong.jpg' };

test('face compare: WONG\'s registered face and its variants score >= 0.85, others < 0.6', T, async (t) => {
  const rows = [];
  const probes = [
    ...[['sim/faces/wong.jpg', path.join(FACES_DIR, 'wong.jpg')]].map(([n, p]) => ({ n, p, same: true })),
    ...SAME.map((f) => ({ n: `fixtures/${f}`, p: path.join(FIXTURES, f), same: true })),
    ...OTHERS.map((f) => ({ n: `sim/faces/${f}`, p: path.join(FACES_DIR, f), same: false })),
    { n: 'fixtures/unrelated.jpg', p: path.join(FIXTURES, 'unrelated.jpg'), same: false },
  ];
  for (const { n, p, same } of probes) {
    const t0 = Date.now();
    const r = await compare(WONG_ID, readFileSync(p));
    assert.equal(r.status, 200, `${n}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(Object.keys(r.body).sort(), ['algorithm', 'algorithm_version', 'score', 'transaction_id']);
    assert.match(r.body.transaction_id, /^dsi-[0-9a-f]{32}$/);
    assert.equal(r.body.algorithm, 'govsim-ncc');
    assert.equal(r.body.algorithm_version, '1.0');
    assert.equal(typeof r.body.score, 'number');
    assert.ok(r.body.score >= 0 && r.body.score <= 1, `${n}: score ${r.body.score} in [0, 1]`);
    rows.push(`${n.padEnd(34)} ${r.body.score.toFixed(4)}  (${Date.now() - t0} ms)`);
    if (same) assert.ok(r.body.score >= 0.85, `${n}: ${r.body.score} should be >= 0.85`);
    else assert.ok(r.body.score < 0.6, `${n}: ${r.body.score} should be < 0.6`);
  }
  t.diagnostic(`scores against WONG (${WONG_ID}):\n${rows.join('\n')}`);
});

test('face compare: every pair of distinct demo faces scores < 0.6, each face itself >= 0.85', T, async (t) => {
  const rows = [];
  for (const [id, own] of Object.entries(FACE_OF)) {
    const line = [];
    for (const face of Object.values(FACE_OF)) {
      const r = await compare(id, readFileSync(path.join(FACES_DIR, face)));
      assert.equal(r.status, 200);
      if (face === own) assert.ok(r.body.score >= 0.85, `${own} vs itself: ${r.body.score}`);
      else assert.ok(r.body.score < 0.6, `${own} vs ${face}: ${r.body.score}`);
      line.push(r.body.score.toFixed(2));
    }
    rows.push(`${own.padEnd(11)} ${line.join(' ')}`);
  }
  t.diagnostic(`registered \\ probe: ${Object.values(FACE_OF).join(' ')}\n${rows.join('\n')}`);
});

test('face compare: unknown resident 404, bad JSON 400, undecodable image 400 bad_image', T, async () => {
  const wong = readFileSync(path.join(FACES_DIR, 'wong.jpg'));
  let r = await compare('9999999(9)', wong);
  assert.equal(r.status, 404);
  assert.deepEqual(r.body, { error: 'not_found' });

  for (const body of ['not json', '{"id_number":"1234567(8)"}', '[1,2]', '{"id_number":1,"image":"AAAA"}', '']) {
    const res = await fetch(`${base}/dsi/v1/face/compare`, {
      method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body,
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.status, 400, body);
    assert.match(res.headers.get('content-type'), /^application\/json/);
  }

  r = await compare(WONG_ID, Buffer.from('This is a text file, not a photo.\n'.repeat(20)));
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { error: 'bad_image' });
  r = await compare(WONG_ID, wong.subarray(0, 2000));  // a truncated JPEG
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { error: 'bad_image' });

  const res = await fetch(`${base}/dsi/v1/face/compare`, {
    method: 'POST', headers: { ...auth(), 'content-type': 'application/json' },
    body: JSON.stringify({ id_number: WONG_ID, image: '***not base64***' }), signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { error: 'bad_image' });
});

// A request that announces a body and sends none of it: the status line comes back at once.
function announce(pathname, length, headers = auth(), at = base) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${at}${pathname}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(length) },
      timeout: 10_000,
    }, (res) => {
      resolve(res.statusCode);
      res.resume();
      req.destroy();
    });
    req.on('timeout', () => { req.destroy(); reject(new Error('no answer')); });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    req.flushHeaders();
  });
}

test('body caps: 16 MiB for a face compare (413 above, before reading), 8 KiB elsewhere', T, async () => {
  assert.equal(await announce('/dsi/v1/face/compare', 16 * 1024 * 1024 + 1), 413);
  assert.equal(await announce('/dsi/v1/face/compare', 1e12), 413);
  assert.equal(await announce('/token', 8193, {}), 413);
  assert.equal(await announce('/dsi/v1/face/compare', 100_000, {}), 401, 'no upload without the key');
  // A body over 8 KiB but within 16 MiB is read: the image of a large PNG.
  const r = await compare(WONG_ID, readFileSync(path.join(FIXTURES, 'wong.png')));
  assert.equal(r.status, 200);
});

test('without --dsi-api-key-file DSI is off: 404, and the log says so', T, async () => {
  const port = await freePort();
  const off = new Daemon('govsim (no DSI)', GOVSIM, govsimArgs(port, []), process.env, path.join(dir, 'off.log'));
  try {
    await waitHealthy(`http://127.0.0.1:${port}/healthz`, off);
    const res = await fetch(`http://127.0.0.1:${port}/dsi/v1/residents/${encodeURIComponent(WONG_ID)}`,
      { headers: auth(), signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 404);
    assert.equal(await announce('/dsi/v1/face/compare', 100_000, auth(), `http://127.0.0.1:${port}`), 413,
      'the 16 MiB cap only while DSI is on');
    assert.match(off.output, /DSI off/);
  } finally {
    await off.stop();
  }
});

test('a bad registry entry fails start-up with a message', T, async () => {
  const people = JSON.parse(readFileSync(PEOPLE, 'utf8'));
  const cases = [
    ['card_status', (d) => { d.card_status = 'stolen'; }, /card_status/],
    ['unknown member', (d) => { d.colour = 'blue'; }, /unknown member/],
    ['missing face file', (d) => { d.face = 'nobody.jpg'; }, /nobody\.jpg/],
    ['face path', (d) => { d.face = '../wong.jpg'; }, /face/],
    ['surname type', (d) => { d.surname = 7; }, /surname/],
    ['valid but expired', (d) => { d.card_expires_in_days = -1; }, /expired/],
  ];
  for (const [name, mutate, re] of cases) {
    const copy = structuredClone(people);
    mutate(copy.people[0].dsi);
    const file = path.join(dir, 'bad-people.json');
    writeFileSync(file, JSON.stringify(copy));
    const port = await freePort();
    const args = govsimArgs(port, ['--dsi-api-key-file', path.join(dir, 'dsi_api_key'), '--faces-dir', FACES_DIR]);
    args[args.indexOf('--people') + 1] = file;
    const r = spawnSync(GOVSIM, args, { encoding: 'utf8', timeout: 15_000 });
    assert.notEqual(r.status, 0, `${name}: govsim started`);
    assert.equal(r.signal, null, `${name}: killed (${r.signal}), it did not exit`);
    assert.match(r.stderr + r.stdout, re, name);
  }
});
