// A real SMTP server for mail tests: Debian's python3-aiosmtpd on a loopback port, storing every message it
// accepts in a Maildir (messages land in DIR/new/ before the server answers 250 to DATA, so a finished
// `certrenew jobs --once` run has all its mail on disk). Every server is killed on stop(), when the test
// process exits, and at the latest after `lifetimeMs` (default 120 s), so none outlives its test.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from './harness.mjs';
import { PYTHON, readMaildir } from './maildir.mjs';

export { PYTHON };
const LIB_DIR = path.dirname(fileURLToPath(import.meta.url));

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** Does something accept TCP connections on 127.0.0.1:port? (one bounded attempt) */
export function accepts(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export class SmtpServer {
  /**
   * Starts aiosmtpd (Mailbox handler) on `port` (default: a free one) and waits until it accepts
   * connections. `dir` is the Maildir; it must not exist yet (aiosmtpd creates it with its
   * cur/new/tmp subfolders; a pre-existing empty folder makes every delivery fail). `delaySeconds` > 0
   * makes a slow server: each message waits that long at the end of DATA (tests/lib/slow_smtp.py).
   */
  static async start({ port, dir, lifetimeMs = 120_000, startTimeoutMs = 15_000, delaySeconds = 0 } = {}) {
    const s = new SmtpServer();
    s.ownDir = !dir;
    s.root = dir ? null : mkdtempSync(path.join(os.tmpdir(), 'certrenew-smtp-'));
    s.dir = dir || path.join(s.root, 'Maildir');
    s.port = port || await freePort();
    s.url = `smtp://127.0.0.1:${s.port}`;
    s.output = '';
    const handler = delaySeconds > 0 ? ['slow_smtp.Slow', s.dir, String(delaySeconds)] : ['aiosmtpd.handlers.Mailbox', s.dir];
    s.child = spawn(PYTHON, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${s.port}`, '-c', ...handler], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONPATH: LIB_DIR },
    });
    live.add(s.child);
    const keep = (b) => { if (s.output.length < 200_000) s.output += b.toString('utf8'); };
    s.child.stdout.on('data', keep);
    s.child.stderr.on('data', keep);
    s.exited = null;
    s.done = new Promise((resolve) => {
      s.child.on('exit', (code, signal) => { live.delete(s.child); s.exited = { code, signal }; resolve(s.exited); });
      s.child.on('error', (e) => { live.delete(s.child); s.exited = { code: -1, error: e }; resolve(s.exited); });
    });
    s.killer = setTimeout(() => { try { s.child.kill('SIGKILL'); } catch { /* gone */ } }, lifetimeMs);
    s.killer.unref();
    const deadline = Date.now() + startTimeoutMs;
    while (!(await accepts(s.port))) {
      if (s.exited || Date.now() > deadline) {
        await s.stop();
        throw new Error(`aiosmtpd on port ${s.port} did not start (${JSON.stringify(s.exited)})\n${s.output.slice(-2000)}`);
      }
      await sleep(50);
    }
    return s;
  }

  /** The messages received so far, parsed (see maildir.mjs), oldest first. */
  messages() {
    return existsSync(path.join(this.dir, 'new')) ? readMaildir(this.dir) : [];
  }

  /** Stops the server (SIGTERM, then SIGKILL after 3 s); removes its Maildir when the server created it. */
  async stop() {
    clearTimeout(this.killer);
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => { try { this.child.kill('SIGKILL'); } catch { /* gone */ } }, 3_000);
      await this.done;
      clearTimeout(t);
    }
    if (this.ownDir && !process.env.CR_KEEP_VAR) rmSync(this.root, { recursive: true, force: true });
  }
}
