// A throw-away PostgreSQL 15 for tests: initdb in a mkdtemp directory, started with pg_ctl on a free
// loopback port (Unix socket in the same directory), trust authentication for the `postgres` role, one
// database per system under test. Stopped and removed at the end, and on process exit in any case.
//
// As root (the CI machines), initdb and pg_ctl run as the `postgres` system user (initdb refuses root)
// in a directory chowned to it; as another user they run as that user.
//
//   const pg = await PgServer.start();        // or sharedPg(): one per process, started on first use
//   const url = pg.createDatabase();          // postgresql://postgres@127.0.0.1:PORT/crtest_...
//   pg.sql(url, 'SELECT 1 AS n')              // rows as objects, like `sqlite3 -json`
//   await pg.restart(); await pg.stop();
//
// CLI: `node tests/lib/postgres.mjs run -- CMD ARGS...` runs CMD with CR_TEST_DATABASE_URL set to the
// server's `postgres` database (where the store's unit tests create their own), then stops the server
// and exits with CMD's status.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PG_BIN = process.env.CR_PG_BIN || '/usr/lib/postgresql/15/bin';
const PSQL = existsSync(path.join(PG_BIN, 'psql')) ? path.join(PG_BIN, 'psql') : 'psql';
const CMD_TIMEOUT = 60_000;

function freePort() {
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

/** uid/gid of the `postgres` system user when we are root, else null (run as ourselves). */
function pgUser() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root but there is no postgres system user (apt-get install postgresql)');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function runAs(user, bin, args, { allowFail = false, timeout = CMD_TIMEOUT } = {}) {
  const cmd = user ? 'runuser' : bin;
  const argv = user ? ['-u', 'postgres', '--', bin, ...args] : args;
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout, cwd: '/' });
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  if (!allowFail && (r.error || r.status !== 0)) {
    throw new Error(`${path.basename(bin)} ${args.join(' ')}: ${r.error ? r.error.message : `exit ${r.status}`}\n${out}`);
  }
  return { status: r.status, out };
}

/** The same, without blocking the event loop (HTTP traffic goes on meanwhile); bounded by timeout. */
function runAsAsync(user, bin, args, timeout = 90_000) {
  const cmd = user ? 'runuser' : bin;
  const argv = user ? ['-u', 'postgres', '--', bin, ...args] : args;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => { out += b; });
    child.stderr.on('data', (b) => { out += b; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(bin)} ${args.join(' ')}: exit ${code ?? signal}\n${out}`));
    });
  });
}

const servers = new Set();
process.on('exit', () => {
  for (const s of servers) s.stopSync();
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const s of servers) s.stopSync();
    process.exit(130);
  });
}

let dbSeq = 0;

export class PgServer {
  static async start() {
    const s = new PgServer();
    s.user = pgUser();
    s.dir = mkdtempSync(path.join(os.tmpdir(), 'cr-pg-'));
    s.data = path.join(s.dir, 'data');
    s.log = path.join(s.dir, 'postgres.log');
    if (s.user) chownSync(s.dir, s.user.uid, s.user.gid);
    servers.add(s);
    try {
      runAs(s.user, path.join(PG_BIN, 'initdb'), ['-D', s.data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8',
        '--no-locale', '--no-sync'], { timeout: 120_000 });
      s.port = await freePort();
      s.startSync();
    } catch (e) {
      s.stopSync();
      throw e;
    }
    return s;
  }

  get opts() {
    // fsync off: a test server need not survive a power cut, and tests run faster without it.
    return `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`
      + ' -c full_page_writes=off -c max_connections=200';
  }

  startSync() {
    runAs(this.user, path.join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-l', this.log, '-w', '-t', '60', '-o', this.opts,
      'start'], { timeout: 90_000 });
  }

  /** The URL of a database on this server (default: the maintenance database). */
  url(db = 'postgres') {
    return `postgresql://postgres@127.0.0.1:${this.port}/${db}`;
  }

  /** Creates a fresh database and returns its URL. */
  createDatabase(prefix = 'crtest') {
    dbSeq += 1;
    const name = `${prefix}_${process.pid}_${dbSeq}`;
    this.psql(this.url(), `CREATE DATABASE ${name}`);
    return this.url(name);
  }

  dropDatabase(url) {
    const name = new URL(url).pathname.slice(1);
    this.psql(this.url(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }

  /** psql -c SQL on url; returns the unaligned, tuples-only output (columns joined by |, as sqlite3 prints). */
  psql(url, sql) {
    return execFileSync(PSQL, ['-X', '-q', '-A', '-t', '-F', '|', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql],
      { encoding: 'utf8', timeout: CMD_TIMEOUT, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Rows as objects (like `sqlite3 -json`) for a query; other statements run and give []. */
  sql(url, query) {
    return pgRows(url, query);
  }

  /** pg_ctl restart (fast shutdown: open sessions are terminated). */
  restart() {
    runAs(this.user, path.join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-l', this.log, '-w', '-t', '60', '-m', 'fast',
      '-o', this.opts, 'restart'], { timeout: 90_000 });
  }

  /** pg_ctl restart / stop / start without blocking the event loop. */
  restartAsync() {
    return runAsAsync(this.user, path.join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-l', this.log, '-w', '-t', '60', '-m',
      'fast', '-o', this.opts, 'restart']);
  }

  stopAsync() {
    return runAsAsync(this.user, path.join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-w', '-t', '60', '-m', 'fast', 'stop']);
  }

  startAsync() {
    return runAsAsync(this.user, path.join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-l', this.log, '-w', '-t', '60', '-o',
      this.opts, 'start']);
  }

  stopFast() {
    runAs(this.user, path.join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-w', '-t', '60', '-m', 'fast', 'stop'],
      { timeout: 90_000 });
  }

  stopSync() {
    if (!servers.has(this)) return;
    servers.delete(this);
    if (existsSync(path.join(this.data, 'postmaster.pid'))) {
      runAs(this.user, path.join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-w', '-t', '30', '-m', 'immediate', 'stop'],
        { allowFail: true, timeout: 40_000 });
    }
    if (!process.env.CR_KEEP_VAR) rmSync(this.dir, { recursive: true, force: true });
  }

  async stop() {
    this.stopSync();
  }
}

let shared = null;
/** One server per process (per test file), started on first use, stopped on exit. */
export async function sharedPg() {
  if (!shared) shared = PgServer.start();
  return shared;
}

/** Rows of a query on a PostgreSQL URL, as objects (json_agg); statements that are not queries give []. */
export function pgRows(url, query) {
  const q = query.trim().replace(/;\s*$/, '');
  const isQuery = /^(select|with|values)\b/i.test(q) && !/;\s*\S/.test(q);
  const sql = isQuery ? `SELECT coalesce(json_agg(t), '[]'::json) FROM (${q}) t` : q;
  const out = execFileSync(PSQL, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql],
    { encoding: 'utf8', timeout: CMD_TIMEOUT, stdio: ['ignore', 'pipe', 'pipe'] });
  return isQuery ? JSON.parse(out.trim() || '[]') : [];
}

// ---------------------------------------------------------------- CLI
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [verb, sep, ...cmd] = process.argv.slice(2);
  if (verb !== 'run' || sep !== '--' || cmd.length === 0) {
    process.stderr.write('usage: node tests/lib/postgres.mjs run -- CMD [ARGS...]\n');
    process.exit(2);
  }
  let status = 1;
  let pg = null;
  try {
    pg = await PgServer.start();
    const r = spawnSync(cmd[0], cmd.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, CR_TEST_DATABASE_URL: pg.url() },
      timeout: Number(process.env.CR_PG_RUN_TIMEOUT_MS || 600_000),
    });
    status = r.status ?? 1;
    if (r.error) process.stderr.write(`postgres.mjs: ${r.error.message}\n`);
  } catch (e) {
    process.stderr.write(`postgres.mjs: ${e.message}\n`);
  } finally {
    pg?.stopSync();
  }
  process.exit(status);
}

