// Settings that fall back to the unsafe choice (issue 13 item 3): `certrenew serve` and `certrenew jobs`
// refuse to start, exit non-zero and name the key, when
//   - DEV listens beyond loopback or its base_url is not a loopback URL (a DEV portal has demo pages and
//     the mail viewer: it must never be reachable from elsewhere);
//   - production has an external URL on plain http (base_url, govid.issuer, dsi.base_url, signing.base_url),
//     an empty smtp.url (mail, verification codes included, written as clear .eml files) or smtp:// without
//     STARTTLS, unless smtp.allow_plain = true;
//   - the mode is neither dev nor prod, or a configuration file does not say it (that means prod).
// One var dir (init + demo-data); no daemon is meant to start. Every child is bounded in time: before the
// fix the DEV cases started a portal, which the timeout ends (status null, so the test fails).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { System, CERTRENEW, ROOT, freePort } from '../lib/harness.mjs';

const T = { timeout: 120_000 };
const CHILD_TIMEOUT = 10_000;

let sys;
let prod; // a production environment that passes every rule of the mode
before(async () => {
  sys = await System.prepare();
  prod = {
    ...sys.env,
    CERTRENEW_MODE: 'prod',
    CERTRENEW_LISTEN: `127.0.0.1:${await freePort()}`,
    CERTRENEW_BASE_URL: 'https://certrenew.invalid',
    CERTRENEW_GOVID_ISSUER: 'https://govid.invalid',
    CERTRENEW_DSI_BASE_URL: 'https://dsi.invalid',
    CERTRENEW_SIGNING_BASE_URL: 'https://signing.invalid',
    CERTRENEW_SMTP_URL: 'smtp://smtp.invalid:587',
    CERTRENEW_SMTP_STARTTLS: 'true',
  };
}, { timeout: 120_000 });
after(async () => { if (sys) await sys.stop().catch(() => {}); });

/** Runs `certrenew ARGS` with env (bounded); returns { status, out }. */
function cr(args, env, pre = []) {
  const r = spawnSync(CERTRENEW, [...pre, ...args], {
    env, cwd: ROOT, encoding: 'utf8', timeout: CHILD_TIMEOUT, killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, out: `${r.stdout || ''}${r.stderr || ''}` };
}

const COMMANDS = [['serve'], ['jobs', '--once', '--only', 'purge']];

/** Asserts that serve and jobs both refuse env, exiting 1 with a message naming `key`. */
function refused(label, env, key, pre = []) {
  for (const args of COMMANDS) {
    const r = cr(args, env, pre);
    assert.equal(r.status, 1, `${label}: certrenew ${args[0]} refuses (${r.status ?? r.signal})\n${r.out}`);
    assert.ok(r.out.includes(`config key '${key}'`), `${label}: certrenew ${args[0]} names ${key}\n${r.out}`);
  }
}

test('DEV refuses to listen beyond loopback or to have a non-loopback base_url', T, async () => {
  const dev = { ...sys.env, CERTRENEW_MODE: 'dev' };
  const port = await freePort();
  for (const listen of [`0.0.0.0:${port}`, `10.1.2.3:${port}`, `127.0.0.2:${port}`]) {
    refused(`listen = ${listen}`, { ...dev, CERTRENEW_LISTEN: listen }, 'listen');
  }
  for (const url of ['https://eservices.example.test', 'http://10.1.2.3:8080', 'http://127.0.0.1.example.test',
    'http://localhost@example.test']) {
    refused(`base_url = ${url}`, { ...dev, CERTRENEW_BASE_URL: url }, 'base_url');
  }
  // Loopback on https (a local TLS proxy) is still loopback: jobs runs.
  const ok = cr(['jobs', '--once', '--only', 'purge'], { ...dev, CERTRENEW_BASE_URL: 'https://127.0.0.1:8443' });
  assert.equal(ok.status, 0, ok.out);
});

test('production refuses an external URL on plain http, naming the key', T, () => {
  const ok = cr(['jobs', '--once', '--only', 'purge'], prod);
  assert.equal(ok.status, 0, `the production environment of this test passes\n${ok.out}`);
  for (const [key, env] of [
    ['base_url', 'CERTRENEW_BASE_URL'],
    ['govid.issuer', 'CERTRENEW_GOVID_ISSUER'],
    ['dsi.base_url', 'CERTRENEW_DSI_BASE_URL'],
    ['signing.base_url', 'CERTRENEW_SIGNING_BASE_URL'],
  ]) {
    refused(`${key} on http`, { ...prod, [env]: 'http://remote.invalid' }, key);
  }
});

test('production refuses clear .eml files and SMTP without TLS unless smtp.allow_plain', T, () => {
  refused('empty smtp.url', { ...prod, CERTRENEW_SMTP_URL: '' }, 'smtp.url');
  const noSmtp = { ...prod };
  delete noSmtp.CERTRENEW_SMTP_URL;
  refused('no smtp.url', noSmtp, 'smtp.url');
  const plain = { ...prod, CERTRENEW_SMTP_STARTTLS: 'false' };
  refused('smtp:// without STARTTLS', plain, 'smtp.url');
  const allowed = cr(['jobs', '--once', '--only', 'purge'], { ...plain, CERTRENEW_SMTP_ALLOW_PLAIN: 'true' });
  assert.equal(allowed.status, 0, `smtp.allow_plain = true accepts it\n${allowed.out}`);
  const smtps = cr(['jobs', '--once', '--only', 'purge'], { ...plain, CERTRENEW_SMTP_URL: 'smtps://smtp.invalid' });
  assert.equal(smtps.status, 0, `smtps:// needs no STARTTLS\n${smtps.out}`);
});

test('an odd mode is refused; a configuration file without a mode line is production', T, () => {
  for (const mode of ['', 'Dev', 'development', 'production']) {
    refused(`mode = ${JSON.stringify(mode)}`, { ...sys.env, CERTRENEW_MODE: mode }, 'mode');
  }
  // The file names DEV's loopback settings but no mode: production's rules apply (base_url is http).
  const file = path.join(sys.varDir, 'no-mode.conf');
  writeFileSync(file, `var_dir = ${sys.varDir}\nlisten = 127.0.0.1:${sys.port}\nbase_url = http://127.0.0.1:${sys.port}\n`);
  const env = { ...sys.env };
  delete env.CERTRENEW_MODE;
  refused('a file without mode', env, 'base_url', ['-c', file]);
  // Saying `mode = dev` in the file keeps DEV.
  writeFileSync(file, `mode = dev\nvar_dir = ${sys.varDir}\nlisten = 127.0.0.1:${sys.port}\nbase_url = http://127.0.0.1:${sys.port}\n`);
  const dev = cr(['jobs', '--once', '--only', 'purge'], env, ['-c', file]);
  assert.equal(dev.status, 0, dev.out);
});
