// nginx in front of portal instances, for tests: a throw-away self-signed certificate (openssl CLI), a
// config derived from deploy/nginx.conf (the lines marked `# test:` get free ports, paths inside a temp dir
// and the certificate; `daemon off;`), nginx run as a child (harness Daemon: killed at the end), and a cookie
// jar that speaks HTTPS trusting only that certificate, optionally from another loopback source address.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';

import { CookieJar, Daemon, ROOT, sleep } from './harness.mjs';

export const NGINX = process.env.CR_NGINX || (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');
const FETCH_TIMEOUT = Number(process.env.CR_FETCH_TIMEOUT_MS || 15_000);

/** A self-signed EC P-256 certificate for 127.0.0.1 (SAN IP) in dir: { cert, key, pem }. */
export function makeCert(dir) {
  mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE'],
  { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}

/**
 * deploy/nginx.conf with the `# test:` lines replaced. Every marked line must be found (a renamed marker
 * fails here rather than testing a different configuration).
 */
export function nginxConfig({ dir, httpPort, httpsPort, upstreams, cert, key }) {
  let conf = readFileSync(path.join(ROOT, 'deploy', 'nginx.conf'), 'utf8');
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const swaps = [
    ['user', /^(\s*)user .*# test: user$/m, asRoot ? '$1user root;' : '$1# user: not root'],
    ['pid', /^(\s*)pid .*# test: pid$/m, `$1pid ${dir}/nginx.pid;`],
    ['error_log', /^(\s*)error_log .*# test: error_log$/m, `$1error_log ${dir}/error.log info;`],
    ['access_log', /^(\s*)access_log (\S+) (\w+);.*# test: access_log$/m, `$1access_log ${dir}/access.log $3;`],
    ['instance A', /^(\s*)server \S+ (.*;)\s*# test: instance A$/m, `$1server ${upstreams[0]} $2`],
    ['instance B', /^(\s*)server \S+ (.*;)\s*# test: instance B$/m, `$1server ${upstreams[1]} $2`],
    ['http listen', /^(\s*)listen 80 (.*;)\s*# test: http listen$/m, `$1listen 127.0.0.1:${httpPort} $2`],
    ['https listen', /^(\s*)listen 443 (.*;)\s*# test: https listen$/m, `$1listen 127.0.0.1:${httpsPort} $2`],
    ['redirect', /^(\s*)return 301 https:\/\/\$host\$request_uri;\s*# test: redirect$/m,
      `$1return 301 https://$$host:${httpsPort}$$request_uri;`],
    ['certificate', /^(\s*)ssl_certificate\s+\S+;\s*# test: certificate$/m, `$1ssl_certificate ${cert};`],
    ['key', /^(\s*)ssl_certificate_key\s+\S+;\s*# test: key$/m, `$1ssl_certificate_key ${key};`],
  ];
  for (const [name, re, to] of swaps) {
    if (!re.test(conf)) throw new Error(`deploy/nginx.conf: the "# test: ${name}" line is missing or changed`);
    conf = conf.replace(re, to);
  }
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `    ${t}_temp_path ${dir}/${t}_temp;`).join('\n');
  conf = conf.replace(/^http \{$/m, `http {\n${temps}`);
  return `daemon off;\n${conf}`;
}

/** Starts nginx with that config in dir; resolves to the Daemon once the HTTPS port answers. */
export async function startNginx(opts) {
  const { dir } = opts;
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, nginxConfig(opts));
  const args = ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', file];
  execFileSync(NGINX, ['-t', '-q', ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  const d = new Daemon('nginx', NGINX, args, process.env, path.join(dir, 'nginx.out'));
  const jar = new TlsJar({ ca: opts.pem });
  const deadline = Date.now() + 15_000;
  let last = '';
  while (Date.now() < deadline) {
    if (d.exited) throw new Error(`nginx exited early: ${JSON.stringify(d.exited)}\n${d.tail()}\n${errorLog(dir)}`);
    try {
      const r = await jar.fetch(`https://127.0.0.1:${opts.httpsPort}/healthz`, { timeout: 2_000 });
      if (r.status === 200) return d;
      last = `status ${r.status}`;
    } catch (e) {
      last = e.message;
    }
    await sleep(100);
  }
  throw new Error(`nginx not answering on ${opts.httpsPort} (${last})\n${errorLog(dir)}`);
}

export function errorLog(dir) {
  try { return readFileSync(path.join(dir, 'error.log'), 'utf8').split('\n').slice(-30).join('\n'); } catch { return ''; }
}

/**
 * A CookieJar whose fetch goes through node:http / node:https, so that HTTPS trusts exactly `ca` (the test
 * certificate: verification stays on) and requests can leave from another loopback address (`localAddress`,
 * e.g. 127.0.0.2). Same result shape as CookieJar.fetch: status, headers.get(), html, setCookies, location.
 */
export class TlsJar extends CookieJar {
  constructor({ ca = null, localAddress = undefined } = {}) {
    super();
    this.ca = ca;
    this.localAddress = localAddress;
  }

  fetch(url, opts = {}) {
    const u = new URL(url);
    const headers = {};
    for (const [k, v] of Object.entries(opts.headers || {})) headers[k.toLowerCase()] = v;
    const cookie = this.header(url);
    if (cookie && !headers.cookie) headers.cookie = cookie;
    let body = opts.body;
    if (opts.form) {
      body = new URLSearchParams(opts.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const mod = u.protocol === 'https:' ? https : http;
    const timeout = opts.timeout || FETCH_TIMEOUT;
    return new Promise((resolve, reject) => {
      const req = mod.request(u, {
        method: opts.method || (body !== undefined ? 'POST' : 'GET'),
        headers,
        agent: false,
        ca: this.ca || undefined,
        localAddress: opts.localAddress || this.localAddress,
        minVersion: opts.minVersion,
        maxVersion: opts.maxVersion,
      }, (res) => {
        const tls = typeof res.socket.getProtocol === 'function'
          ? { protocol: res.socket.getProtocol(), cipher: res.socket.getCipher()?.name } : null;
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const setCookies = [].concat(res.headers['set-cookie'] || []);
          this.store(url, setCookies);
          const loc = res.headers.location;
          resolve({
            status: res.statusCode,
            headers: {
              get: (n) => { const v = res.headers[n.toLowerCase()]; return v === undefined ? null : [].concat(v).join(', '); },
              raw: res.headers,
              rawHeaders: res.rawHeaders,
            },
            html: Buffer.concat(chunks).toString('utf8'),
            setCookies,
            location: loc ? new URL(loc, url).toString() : null,
            tls,
          });
        });
      });
      const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeout} ms: ${url}`)), timeout);
      req.on('error', (e) => { clearTimeout(timer); reject(e); });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
}
