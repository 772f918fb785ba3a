// DSI over mutual TLS (dsi.client_cert / dsi.client_key / dsi.ca_file, no API key): a TLS gateway on
// loopback (node:https) that accepts only clients whose certificate its own test CA issued, and forwards
// to govsim's DSI adding govsim's bearer key, as a government gateway would. The portal, given its client
// certificate, passes 下一步 (DSI's resident check); given none, the gateway refuses the handshake and the
// holder sees the "DSI is not reachable" page with nothing changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { System, CookieJar, login, freePort, TEST_TIMEOUT, WONG } from '../lib/harness.mjs';
import { Wizard, dbOf, P } from '../lib/verify.mjs';

const T = { timeout: TEST_TIMEOUT * 2 };

function openssl(args) {
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
}

/** A test CA, a server certificate for 127.0.0.1 and a client certificate, all issued by the CA. */
function makePki(dir) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n) => path.join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=DSI test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  for (const [name, cn, ext] of [['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', 'certrenew portal', 'extendedKeyUsage=clientAuth']]) {
    openssl(['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
    execFileSync('sh', ['-c', `printf '%b' "${ext.replace(/\n/g, '\\n')}" > ${f(`${name}.ext`)}`]);
    openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`)]);
  }
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

/** The gateway: mutual TLS in front, govsim's DSI behind. Counts the requests that got through. */
async function startGateway(pki, upstream, bearer) {
  const port = await freePort();
  const seen = { forwarded: 0, subjects: [] };
  const server = https.createServer({
    key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert), ca: readFileSync(pki.ca),
    requestCert: true, rejectUnauthorized: true,
  }, (req, res) => {
    seen.forwarded++;
    seen.subjects.push(req.socket.getPeerCertificate()?.subject?.CN);
    const u = new URL(req.url, upstream);
    const headers = { ...req.headers, host: u.host, authorization: `Bearer ${bearer}` };
    const up = http.request(u, { method: req.method, headers, timeout: 10_000 }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${port}`, seen, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

async function throughStep1(sys) {
  const jar = new CookieJar();
  await login(jar, WONG.sub, sys.base);
  const w = new Wizard(sys, jar);
  const app = await w.start();
  await w.consent(app);
  const mail = await w.sendAndRead(app, 0, WONG.email);
  const ok = await w.check(app, 0, mail.code);
  assert.equal(ok.status, 302);
  return { w, app };
}

for (const withCert of [true, false]) {
  test(`DSI over mutual TLS, ${withCert ? 'with the portal\'s client certificate: 下一步 passes' : 'without a client certificate: refused, nothing changes'}`, T, async () => {
    const sys = await System.prepare();
    let gw;
    try {
      await sys.startGovsim();
      const pki = makePki(path.join(sys.varDir, 'mtls'));
      gw = await startGateway(pki, sys.govsim, readFileSync(sys.dsiKeyFile, 'utf8').trim());
      sys.env = { ...sys.env, CERTRENEW_DSI_BASE_URL: gw.url, CERTRENEW_DSI_CA_FILE: pki.ca };
      delete sys.env.CERTRENEW_DSI_API_KEY_FILE;
      if (withCert) {
        sys.env.CERTRENEW_DSI_CLIENT_CERT = pki.clientCert;
        sys.env.CERTRENEW_DSI_CLIENT_KEY = pki.clientKey;
      } else {
        // An API key the gateway ignores: the handshake itself is what fails.
        sys.env.CERTRENEW_DSI_API_KEY_FILE = sys.dsiKeyFile;
      }
      await sys.startPortal();
      const sql = dbOf(sys);
      const { w, app } = await throughStep1(sys);
      const nx = await w.next(app);
      if (withCert) {
        assert.equal(nx.status, 302, nx.html.slice(0, 400));
        assert.equal(new URL(nx.location).pathname, `${P}/identity`);
        assert.equal(sql(`SELECT state FROM applications WHERE id = ${app}`)[0].state, 'identity');
        assert.equal(sql(`SELECT outcome FROM identity_checks WHERE application_id = ${app}`)[0].outcome, 'match');
        assert.equal(gw.seen.forwarded, 1, 'one request reached DSI through the gateway');
        assert.deepEqual(gw.seen.subjects, ['certrenew portal'], 'with the portal\'s certificate');
      } else {
        assert.equal(nx.status, 503, nx.html.slice(0, 400));
        assert.match(nx.html, /暫時未能連接身份證明局的系統/);
        assert.equal(sql(`SELECT state FROM applications WHERE id = ${app}`)[0].state, 'emails', 'nothing changed');
        assert.equal(sql(`SELECT count(*) AS n FROM identity_checks`)[0].n, 0);
        assert.equal(sql(`SELECT count(*) AS n FROM audit_log WHERE action = 'dsi_unavailable'`)[0].n, 1);
        assert.equal(gw.seen.forwarded, 0, 'the gateway let nothing through');
      }
    } finally {
      if (gw) await gw.close();
      await sys.stop();
    }
  });
}
