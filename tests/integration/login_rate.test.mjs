// Anonymous logins are limited per client address (issue 13): every GET /login writes a login flow
// row, so one address may start only login.max_per_address of them in 10 minutes; the next gets a
// clear 429 page and writes nothing; another address is not affected. Counted in the database, so the
// limit holds across instances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { System, TEST_TIMEOUT, textOf } from '../lib/harness.mjs';

/** GET path on the portal from a given loopback source address; resolves { status, html }. */
function get(base, path, localAddress) {
  return new Promise((resolve, reject) => {
    const u = new URL(path, base);
    const req = http.get({ host: u.hostname, port: u.port, path: u.pathname, localAddress, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, html: body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test('an address may start login.max_per_address logins in 10 minutes; then a 429 that writes nothing', { timeout: TEST_TIMEOUT * 2 }, async () => {
  const sys = await System.prepare();
  sys.env.CERTRENEW_LOGIN_MAX_PER_ADDRESS = '3';
  try {
    await sys.startGovsim();
    await sys.startPortal();
    const rows = () => Number(sys.sql('SELECT count(*) AS n FROM login_flows')[0].n);
    for (let i = 0; i < 3; i += 1) assert.equal((await get(sys.base, '/login', '127.0.0.1')).status, 302, `login ${i + 1}`);
    const refused = await get(sys.base, '/login', '127.0.0.1');
    assert.equal(refused.status, 429);
    assert.match(textOf(refused.html), /過多登入要求/);
    assert.equal(rows(), 3, 'the refused login wrote nothing');
    assert.equal((await get(sys.base, '/login', '127.0.0.2')).status, 302, 'another address is not limited');
    assert.equal(rows(), 4);
    // The window slides: flows older than 10 minutes do not count.
    sys.sql('UPDATE login_flows SET created_at = created_at - 601');
    assert.equal((await get(sys.base, '/login', '127.0.0.1')).status, 302, 'after the window');
  } finally {
    await sys.stop();
  }
});
