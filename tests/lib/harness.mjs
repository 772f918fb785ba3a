// Test harness: starts a fresh, isolated certrenew system (its own var dir and loopback ports),
// drives it over HTTP with a small cookie jar, and tears everything down at the end.
//
// Binaries come from $CR_BIN_DIR (default build/), so the same suites run against build-asan/.
// The database is SQLite in the var dir, or with CR_TEST_DB=postgres a fresh database per system on a
// throw-away PostgreSQL 15 (tests/lib/postgres.mjs, one server per test file), so the same suites run
// against both backends. Tests read and arrange the database through sys.sql() / sys.sqlText(), whichever it is.
// Every wait is bounded; every child is killed when the test file ends or the process exits.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { sharedPg, pgRows } from './postgres.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN_DIR = path.resolve(ROOT, process.env.CR_BIN_DIR || 'build');
export const CERTRENEW = path.join(BIN_DIR, 'certrenew');
export const GOVSIM = path.join(BIN_DIR, 'govsim');
export const PEOPLE = path.join(ROOT, 'demo', 'people.json');
export const FACES_DIR = path.join(ROOT, 'sim', 'faces');
export const CLIENT_ID = 'certrenew';
/** Which database the systems under test use: 'sqlite' (default) or 'postgres' (CR_TEST_DB=postgres). */
export const DB_KIND = process.env.CR_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';

// Demo accounts (demo/people.json).
export const WONG = { sub: 'govid-1000001', name: 'xxxx xexx WONG', email: 'wong.demo@ctt.gov.mo' };
export const CHAN = { sub: 'govid-1000002', name: 'CHAN Tai Man', email: 'chan.demo@dsf.gov.mo' };
export const LEI = { sub: 'govid-2000001', name: 'LEI Ka Man' };
export const OFFICER = { sub: 'govid-3000003', name: 'CTT員工03' };

/** Hard timeout for one test (ms): pass as `{ timeout: TEST_TIMEOUT }` to node:test. */
export const TEST_TIMEOUT = Number(process.env.CR_TEST_TIMEOUT_MS || 60_000);
const HEALTH_TIMEOUT = Number(process.env.CR_HEALTH_TIMEOUT_MS || 15_000);
const CMD_TIMEOUT = Number(process.env.CR_CMD_TIMEOUT_MS || 120_000);
const FETCH_TIMEOUT = Number(process.env.CR_FETCH_TIMEOUT_MS || 15_000);

const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:|SUMMARY: (Address|Leak|Undefined)/;

// ---------------------------------------------------------------- processes

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const child of live) {
      try { child.kill('SIGKILL'); } catch { /* already gone */ }
    }
    process.exit(130);
  });
}

/** A loopback port that was free a moment ago (bind :0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function checkBinaries() {
  for (const b of [CERTRENEW, GOVSIM]) {
    if (!existsSync(b)) throw new Error(`binary missing: ${b} (run make${BIN_DIR.endsWith('build-asan') ? ' asan' : ''})`);
  }
}

/** Runs a command to completion (bounded); throws with its output when it fails. */
export function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: CMD_TIMEOUT, cwd: ROOT });
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  if (r.error) throw new Error(`${path.basename(cmd)} ${args.join(' ')}: ${r.error.message}\n${out}`);
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${r.status ?? r.signal}\n${out}`);
  if (SANITIZER_RE.test(out)) throw new Error(`${path.basename(cmd)} ${args.join(' ')}: sanitizer report\n${out}`);
  return out;
}

/** A long-running child with its output in a log file; stop() kills it and checks for sanitizer reports.
    Exported for tests that run extra processes (a second portal instance, nginx). */
export class Daemon {
  constructor(name, cmd, args, env, logFile) {
    this.name = name;
    this.logFile = logFile;
    this.output = '';
    this.exited = null;
    const log = createWriteStream(logFile);
    this.child = spawn(cmd, args, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    const keep = (buf) => {
      if (!log.writableEnded) log.write(buf);
      if (this.output.length < 1_000_000) this.output += buf.toString('utf8');
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    // 'close' (not 'exit'): output may still arrive between the two, and the log must take it all.
    // Should a grandchild keep the pipes open, they are cut 2 s after the exit so that 'close' comes.
    this.child.on('exit', () => {
      setTimeout(() => { this.child.stdout.destroy(); this.child.stderr.destroy(); }, 2_000).unref();
    });
    this.done = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        live.delete(this.child);
        this.exited = { code, signal };
        resolve(this.exited);
      });
      this.child.on('error', (err) => {
        live.delete(this.child);
        this.exited = { code: -1, signal: null, error: err };
        resolve(this.exited);
      });
    });
    this.done.then(() => log.end());
    log.on('error', () => { /* a full disk must not crash the test run; output is kept in memory too */ });
  }

  tail(n = 40) {
    return this.output.split('\n').slice(-n).join('\n');
  }

  async stop() {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => { try { this.child.kill('SIGKILL'); } catch { /* gone */ } }, 5_000);
      await this.done;
      clearTimeout(t);
    }
    const problems = [];
    if (SANITIZER_RE.test(this.output)) problems.push('sanitizer report');
    const { code, signal } = this.exited;
    if (signal && signal !== 'SIGTERM') problems.push(`died by ${signal}`);
    if (code !== null && code !== 0 && code !== 143) problems.push(`exited ${code}`);
    if (problems.length) {
      throw new Error(`${this.name}: ${problems.join(', ')}\n--- ${this.logFile} (tail) ---\n${this.tail(80)}`);
    }
  }
}

/** GET url until it answers 200 or the deadline passes (bounded). */
export async function waitHealthy(url, daemon, timeoutMs = HEALTH_TIMEOUT) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (daemon && daemon.exited) {
      throw new Error(`${daemon.name} exited early (${JSON.stringify(daemon.exited)})\n${daemon.tail()}`);
    }
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1_000), redirect: 'manual' });
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (e) {
      last = e.message;
    }
    await sleep(100);
  }
  throw new Error(`${url} not healthy after ${timeoutMs} ms (${last})${daemon ? `\n${daemon.tail()}` : ''}`);
}

/**
 * A fresh system. Stages can be used one by one (interop swaps govsim for another provider):
 *   const sys = await System.prepare();   // var dir, ports, init + demo-data
 *   await sys.startGovsim();
 *   await sys.startPortal();              // or startPortal({ issuer })
 *   ... await sys.stop();
 * or simply `const sys = await startSystem();`
 */
export class System {
  static async prepare({ demoData = true, db = DB_KIND, pg = null } = {}) {
    checkBinaries();
    const sys = new System();
    sys.varDir = mkdtempSync(path.join(os.tmpdir(), 'certrenew-test-'));
    sys.dbKind = db;
    if (db === 'postgres') {
      sys.pg = pg || await sharedPg();
      sys.dbUrl = sys.pg.createDatabase();
    } else {
      sys.dbFile = path.join(sys.varDir, 'certrenew.db');
    }
    sys.port = await freePort();
    sys.simPort = await freePort();
    while (sys.simPort === sys.port) sys.simPort = await freePort();
    sys.base = `http://127.0.0.1:${sys.port}`;
    sys.govsim = `http://127.0.0.1:${sys.simPort}`;
    sys.issuer = sys.govsim;
    sys.secretFile = path.join(sys.varDir, 'secrets', 'govid_client_secret');
    // govsim's DSI API key (docs/internals/dsi.md); DSI lives under govsim's base URL.
    sys.dsiKeyFile = path.join(sys.varDir, 'secrets', 'dsi_api_key');
    sys.dsiBase = sys.govsim;
    sys.daemons = [];
    sys.env = sys.envFor(sys.issuer);
    run(CERTRENEW, ['init'], sys.env);
    // `certrenew init` made the DEV DSI key (0600) that govsim is given too.
    if (demoData) run(CERTRENEW, ['demo-data'], sys.env);
    return sys;
  }

  envFor(issuer) {
    const env = {
      ...process.env,
      CERTRENEW_MODE: 'dev',
      CERTRENEW_VAR_DIR: this.varDir,
      CERTRENEW_LISTEN: `127.0.0.1:${this.port}`,
      CERTRENEW_BASE_URL: this.base,
      CERTRENEW_GOVID_ISSUER: issuer,
      CERTRENEW_GOVID_CLIENT_ID: CLIENT_ID,
      CERTRENEW_GOVID_CLIENT_SECRET_FILE: this.secretFile,
      CERTRENEW_DSI_BASE_URL: this.dsiBase || issuer,
      CERTRENEW_DSI_API_KEY_FILE: this.dsiKeyFile,
      // GovID's e-signature service lives under govsim's base URL too (docs/internals/esign.md).
      CERTRENEW_SIGNING_BASE_URL: this.signingBase || issuer,
      // Test files log in from 127.0.0.1 far more often than a person would; login_rate.test.mjs
      // sets the real limit.
      CERTRENEW_LOGIN_MAX_PER_ADDRESS: '100000',
    };
    if (this.dbUrl) env.CERTRENEW_DATABASE_URL = this.dbUrl;
    else delete env.CERTRENEW_DATABASE_URL;
    if (!env.ASAN_OPTIONS && BIN_DIR.endsWith('build-asan')) env.ASAN_OPTIONS = 'detect_leaks=1:abort_on_error=1';
    if (!env.UBSAN_OPTIONS && BIN_DIR.endsWith('build-asan')) env.UBSAN_OPTIONS = 'halt_on_error=1:print_stacktrace=1';
    // cairo's own per-document allocations (tests/lsan.supp says what and why).
    if (!env.LSAN_OPTIONS && BIN_DIR.endsWith('build-asan')) env.LSAN_OPTIONS = `suppressions=${path.join(ROOT, 'tests', 'lsan.supp')}:print_suppressions=0`;
    return env;
  }

  /** Rows of a query on this system's database, as objects (sqlite3 -json / json_agg); other statements give []. */
  sql(query) {
    if (this.dbKind === 'postgres') return pgRows(this.dbUrl, query);
    const out = execFileSync('sqlite3', ['-cmd', '.timeout 10000', '-json', this.dbFile, query],
      { encoding: 'utf8', timeout: 15_000 });
    return out.trim() ? JSON.parse(out) : [];
  }

  /** The plain text output of a query: columns joined by |, one row a line (sqlite3's list mode, psql -A -t). */
  sqlText(query) {
    if (this.dbKind === 'postgres') return this.pg.psql(this.dbUrl, query);
    return execFileSync('sqlite3', ['-cmd', '.timeout 10000', this.dbFile, query], { encoding: 'utf8', timeout: 15_000 });
  }

  /** SQL fragments that differ between the dialects. */
  get dialect() {
    const pg = this.dbKind === 'postgres';
    return {
      /** A blob column as lower-case hex text. */
      hex: (expr) => (pg ? `encode(${expr}, 'hex')` : `lower(hex(${expr}))`),
      /** The current Unix time as an integer (truncated, as time(NULL) and strftime('%s') are). */
      now: pg ? 'CAST(floor(extract(epoch FROM now())) AS BIGINT)' : "CAST(strftime('%s', 'now') AS INTEGER)",
      /** Does blob expr contain the text s (a quoted SQL string)? As 1 or 0. */
      blobHas: (expr, s) => (pg ? `CAST(position(convert_to(${s}, 'UTF8') IN ${expr}) > 0 AS INTEGER)`
        : `CAST(instr(${expr}, CAST(${s} AS BLOB)) > 0 AS INTEGER)`),
      /** Does the hex text of blob expr contain the text s (a quoted SQL string)? As 1 or 0. */
      hexHas: (expr, s) => (pg ? `CAST(position(${s} IN encode(${expr}, 'hex')) > 0 AS INTEGER)`
        : `CAST(instr(hex(${expr}), ${s}) > 0 AS INTEGER)`),
      /** 32 random bytes. */
      random32: pg ? "decode(md5(random()::text) || md5(random()::text), 'hex')" : 'randomblob(32)',
      /** A blob literal from hex digits. */
      blob: (hexDigits) => (pg ? `'\\x${hexDigits}'::bytea` : `x'${hexDigits}'`),
    };
  }

  get clientSecret() {
    return readFileSync(this.secretFile, 'utf8').trim();
  }

  /** The DSI API key govsim expects as `Authorization: Bearer`. */
  get dsiKey() {
    return readFileSync(this.dsiKeyFile, 'utf8').trim();
  }

  get redirectUri() {
    return `${this.base}/auth/callback`;
  }

  async startGovsim() {
    const d = new Daemon('govsim', GOVSIM, [
      '--listen', `127.0.0.1:${this.simPort}`,
      '--issuer', this.govsim,
      '--data-dir', path.join(this.varDir, 'govsim'),
      '--people', PEOPLE,
      '--client-id', CLIENT_ID,
      '--client-secret-file', this.secretFile,
      '--redirect-uri', this.redirectUri,
      '--redirect-uri', `${this.base}/ecmp/certrenewal/eid/callback`,
      '--dsi-api-key-file', this.dsiKeyFile,
      '--faces-dir', FACES_DIR,
      // Tests arm GovID's failures one request at a time (POST /sim/faults; never in `make run`).
      '--test-faults',
    ], this.env, path.join(this.varDir, 'govsim.log'));
    this.daemons.push(d);
    this.govsimDaemon = d;
    await waitHealthy(`${this.govsim}/healthz`, d);
    return d;
  }

  async startPortal({ issuer } = {}) {
    if (issuer) {
      this.issuer = issuer;
      this.env = this.envFor(issuer);
    }
    const d = new Daemon('certrenew serve', CERTRENEW, ['serve'], this.env, path.join(this.varDir, 'serve.log'));
    this.daemons.push(d);
    this.portal = d;
    await waitHealthy(`${this.base}/healthz`, d);
    return d;
  }

  /** Stops every child (newest first); throws if one crashed or reported a sanitizer error. */
  async stop() {
    const errors = [];
    for (const d of [...this.daemons].reverse()) {
      try { await d.stop(); } catch (e) { errors.push(e.message); }
    }
    this.daemons = [];
    if (!errors.length && !process.env.CR_KEEP_VAR) {
      rmSync(this.varDir, { recursive: true, force: true });
    }
    if (errors.length) throw new Error(`${errors.join('\n')}\n(var dir kept: ${this.varDir})`);
  }

  jar() {
    return new CookieJar();
  }
}

export async function startSystem() {
  const sys = await System.prepare();
  try {
    await sys.startGovsim();
    await sys.startPortal();
  } catch (e) {
    await sys.stop().catch(() => {});
    throw e;
  }
  return sys;
}

// ---------------------------------------------------------------- cookies + fetch

/**
 * A tiny browser-like cookie jar: cookies are scoped by host and path, not by port (as browsers do),
 * expire with Max-Age/Expires, and are sent on every request made through jar.fetch().
 */
export class CookieJar {
  constructor() {
    this.cookies = []; // { name, value, host, path, expires, httpOnly, sameSite }
  }

  store(url, setCookieHeaders) {
    const u = new URL(url);
    for (const line of setCookieHeaders) {
      const parts = line.split(';').map((s) => s.trim());
      const eq = parts[0].indexOf('=');
      if (eq <= 0) continue;
      const c = {
        name: parts[0].slice(0, eq),
        value: parts[0].slice(eq + 1),
        host: u.hostname,
        path: u.pathname.replace(/\/[^/]*$/, '') || '/',
        expires: null,
        httpOnly: false,
        sameSite: null,
        raw: line,
      };
      for (const attr of parts.slice(1)) {
        const [k, ...v] = attr.split('=');
        const key = k.toLowerCase();
        const val = v.join('=');
        if (key === 'path' && val.startsWith('/')) c.path = val;
        else if (key === 'max-age') c.expires = Date.now() + Number(val) * 1000;
        else if (key === 'expires' && c.expires === null) c.expires = Date.parse(val);
        else if (key === 'httponly') c.httpOnly = true;
        else if (key === 'samesite') c.sameSite = val;
      }
      this.cookies = this.cookies.filter((o) => !(o.name === c.name && o.host === c.host && o.path === c.path));
      if (c.expires === null || c.expires > Date.now()) this.cookies.push(c);
    }
  }

  /** The cookies that a request to url would carry. */
  matching(url) {
    const u = new URL(url);
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expires === null || c.expires > now);
    return this.cookies
      .filter((c) => c.host === u.hostname
        && (u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .sort((a, b) => b.path.length - a.path.length);
  }

  header(url) {
    return this.matching(url).map((c) => `${c.name}=${c.value}`).join('; ');
  }

  get(name, url) {
    const list = url ? this.matching(url) : this.cookies;
    return list.find((c) => c.name === name);
  }

  delete(name) {
    this.cookies = this.cookies.filter((c) => c.name !== name);
  }

  clone() {
    const j = new CookieJar();
    j.cookies = this.cookies.map((c) => ({ ...c }));
    return j;
  }

  /**
   * fetch with redirect: 'manual' and this jar's cookies. Adds `res.html` (the body text, read once)
   * and `res.setCookies` (the raw Set-Cookie lines).
   */
  async fetch(url, opts = {}) {
    const headers = new Headers(opts.headers || {});
    const cookie = this.header(url);
    if (cookie && !headers.has('cookie')) headers.set('cookie', cookie);
    let body = opts.body;
    if (opts.form) {
      body = new URLSearchParams(opts.form).toString();
      headers.set('content-type', 'application/x-www-form-urlencoded');
    }
    const res = await fetch(url, {
      method: opts.method || (body !== undefined ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeout || FETCH_TIMEOUT),
    });
    res.setCookies = res.headers.getSetCookie();
    this.store(url, res.setCookies);
    res.html = await res.text();
    res.location = res.headers.get('location') ? new URL(res.headers.get('location'), url).toString() : null;
    return res;
  }
}

/** Does this response set a non-empty, non-expired cr_session cookie? */
export function setsSession(res) {
  return res.setCookies.some((line) => {
    const m = /^cr_session=([^;]*)/.exec(line);
    if (!m || m[1] === '' || m[1] === '""') return false;
    if (/;\s*max-age=(0|-\d+)/i.test(line)) return false;
    const exp = /;\s*expires=([^;]+)/i.exec(line);
    if (exp && Date.parse(exp[1]) <= Date.now()) return false;
    return true;
  });
}

// ---------------------------------------------------------------- HTML helpers

const NAMED = {
  quot: '"', apos: "'", lt: '<', gt: '>', amp: '&', nbsp: '\u00a0', copy: '©',
  ldquo: '“', rdquo: '”', lsquo: '‘', rsquo: '’', middot: '·', hellip: '…', ndash: '–', mdash: '—', times: '×',
};
export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, e) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return NAMED[e.toLowerCase()] ?? all;
  });
}

/** Attributes of a start tag's text (`<a href="x" class=y>`), names lower-cased, values decoded. */
export function attrs(tag) {
  const out = {};
  const re = /([^\s=<>/"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  const body = tag.replace(/^<\s*[\w-]+/, '').replace(/\/?>$/, '');
  let m;
  while ((m = re.exec(body))) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** Elements `<name ...>inner</name>` (not nested in each other), each { attrs, inner, text, tag }. */
export function elements(html, name) {
  const re = new RegExp(`<${name}(\\s[^>]*)?>([\\s\\S]*?)</${name}\\s*>`, 'gi');
  const out = [];
  let m;
  while ((m = re.exec(html))) {
    out.push({ tag: m[0], attrs: attrs(`<${name}${m[1] || ''}>`), inner: m[2], text: textOf(m[2]) });
  }
  return out;
}

/** Void/start tags `<name ...>` (input, meta, link), each as attrs. */
export function startTags(html, name) {
  const re = new RegExp(`<${name}(\\s[^>]*)?/?>`, 'gi');
  const out = [];
  let m;
  while ((m = re.exec(html))) out.push(attrs(`<${name}${m[1] || ''}>`));
  return out;
}

export function textOf(html) {
  return decodeEntities(html.replace(/<script[\s\S]*?<\/script>/gi, '').replace(/<[^>]*>/g, ''))
    .replace(/\s+/g, ' ').trim();
}

/** The forms of a page: { attrs, inner, fields: {name: value} (hidden/text inputs) }. */
export function forms(html) {
  return elements(html, 'form').map((f) => {
    const fields = {};
    for (const i of startTags(f.inner, 'input')) if (i.name) fields[i.name] = i.value ?? '';
    return { ...f, fields };
  });
}

/**
 * The pending page's groups: { verify: {title, counts: {type: n}, labels: {type: label}, empty}, activate, offline }.
 * `empty` is the text of <p class="empty"> or null.
 */
export function parsePending(html) {
  const groups = {};
  for (const s of elements(html, 'section')) {
    const id = s.attrs.id || '';
    const cls = (s.attrs.class || '').split(/\s+/);
    const m = /^group-(verify|activate|offline)$/.exec(id);
    if (!m || !cls.includes('group')) continue;
    const g = { title: null, counts: {}, labels: {}, empty: null };
    const h2 = elements(s.inner, 'h2')[0];
    if (h2) g.title = h2.text;
    for (const li of elements(s.inner, 'li')) {
      const type = li.attrs['data-type'];
      if (!type) continue;
      const span = elements(li.inner, 'span').find((x) => (x.attrs.class || '').split(/\s+/).includes('count'));
      g.counts[type] = span ? Number(span.text) : NaN;
      g.labels[type] = li.text.replace(/[:：]\s*\d+\s*$/, '').trim();
    }
    const p = elements(s.inner, 'p').find((x) => (x.attrs.class || '').split(/\s+/).includes('empty'));
    if (p) g.empty = p.text;
    groups[m[1]] = g;
  }
  return groups;
}

// ---------------------------------------------------------------- login through govsim

/** Landing → /login: returns the provider's authorization URL (the jar now holds the pre-login cookie). */
export async function beginLogin(jar, base) {
  const res = await jar.fetch(`${base}/login`);
  if (res.status !== 302 && res.status !== 303) throw new Error(`GET /login: ${res.status}\n${res.html.slice(0, 500)}`);
  return res.location;
}

/** On govsim: open the authorization URL, press the account's button; returns the portal callback URL. */
export async function govsimApprove(jar, authorizeUrl, sub) {
  const page = await jar.fetch(authorizeUrl);
  if (page.status !== 200) throw new Error(`govsim authorize: ${page.status}\n${page.html.slice(0, 500)}`);
  const form = forms(page.html).find((f) => /\/login$/.test(f.attrs.action || ''));
  if (!form) throw new Error(`govsim authorize: no login form\n${page.html.slice(0, 1000)}`);
  const buttons = startTags(form.inner, 'button').filter((b) => b.name === 'sub');
  if (!buttons.some((b) => b.value === sub)) throw new Error(`govsim: no button for ${sub}`);
  const action = new URL(form.attrs.action, authorizeUrl).toString();
  const res = await jar.fetch(action, { form: { ...form.fields, sub } });
  if (res.status !== 302 && res.status !== 303) throw new Error(`govsim POST /login: ${res.status}\n${res.html.slice(0, 500)}`);
  return res.location;
}

/** Full login as `sub`; returns the callback response (302 to /home on success). Throws on failure. */
export async function login(jar, sub, base) {
  const land = await jar.fetch(`${base}/`);
  if (land.status !== 200) throw new Error(`GET /: ${land.status}`);
  const authorizeUrl = await beginLogin(jar, base);
  const callback = await govsimApprove(jar, authorizeUrl, sub);
  const res = await jar.fetch(callback);
  if (res.status !== 302 && res.status !== 303) throw new Error(`callback: ${res.status}\n${res.html.slice(0, 800)}`);
  if (new URL(res.location).pathname !== '/home') throw new Error(`callback redirected to ${res.location}`);
  if (!jar.get('cr_session')) throw new Error('callback set no cr_session cookie');
  res.callbackUrl = callback;
  return res;
}
