// A real, certified OpenID provider (npm oidc-provider) on a loopback port, for interop tests of the
// portal's relying-party code. Login and consent are completed without a browser through the provider's
// default dev interactions: POST prompt=login&login=<accountId>, then prompt=consent, to /interaction/{uid}.
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import Provider from 'oidc-provider';

const ACCOUNTS = {
  'govid-1000001': { name: 'xxxx xexx WONG', email: 'wong.demo@ctt.gov.mo' },
  'govid-1000002': { name: 'CHAN Tai Man', email: 'chan.demo@dsf.gov.mo' },
  // A genuine GovID user who holds no certificate here: the portal must not let them in.
  'govid-9999999': { name: 'NOBODY Here', email: 'nobody@example.gov.mo' },
};

/**
 * Starts oidc-provider at http://127.0.0.1:port with one confidential client.
 * Returns { issuer, provider, events, close() }. `events` records grant/token errors for diagnostics.
 */
export async function startOP({ port, clientId, clientSecret, redirectUri }) {
  const issuer = `http://127.0.0.1:${port}`;
  // The key comes from the openssl CLI, not generateKeyPairSync: in Node 20 a key-generation job that the
  // garbage collector destroys while its key is being exported (privateKey.export) waits on the mutex the
  // export holds, and the process hangs for good (seen here; gdb: ~KeyGenJob in uv_mutex_lock under
  // ExportJWK).
  const pem = execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
    { timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const privateKey = createPrivateKey(pem);
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', use: 'sig', alg: 'RS256' };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    jwks: { keys: [jwk] },
    cookies: { keys: ['interop-test-cookie-key-0123456789'] },
    ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    conformIdTokenClaims: false, // put the scope's claims in the ID token, as GovID does
    async findAccount(ctx, sub) {
      const a = ACCOUNTS[sub];
      if (!a) return undefined;
      return { accountId: sub, async claims() { return { sub, ...a }; } };
    },
  });
  const events = [];
  for (const ev of ['grant.error', 'server_error', 'authorization.error', 'userinfo.error', 'jwks.error']) {
    provider.on(ev, (ctx, err) => events.push(`${ev}: ${err?.message} ${err?.error_description || ''}`));
  }
  provider.on('grant.success', () => events.push('grant.success'));
  const server = http.createServer(provider.callback());
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const close = () => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
  return { issuer, provider, events, close };
}

/**
 * Walks the provider from an authorization URL to the redirect back to the client: follows redirects on the
 * provider's origin, answers the login and consent prompts, and returns the client callback URL. Bounded.
 */
export async function opLogin(jar, authorizeUrl, accountId) {
  const origin = new URL(authorizeUrl).origin;
  let url = authorizeUrl;
  for (let step = 0; step < 20; step++) {
    if (new URL(url).origin !== origin) return url;
    const res = await jar.fetch(url);
    if (res.status >= 300 && res.status < 400) {
      url = res.location;
      continue;
    }
    if (res.status !== 200) throw new Error(`provider ${url}: ${res.status}\n${res.html.slice(0, 800)}`);
    const m = /\/interaction\/([^/?#]+)$/.exec(new URL(url).pathname);
    if (!m) throw new Error(`provider: unexpected page ${url}\n${res.html.slice(0, 800)}`);
    const form = /name="prompt" value="login"/.test(res.html)
      ? { prompt: 'login', login: accountId, password: 'unused' }
      : { prompt: 'consent' };
    const post = await jar.fetch(`${origin}/interaction/${m[1]}`, { form });
    if (post.status < 300 || post.status >= 400) throw new Error(`provider interaction: ${post.status}\n${post.html.slice(0, 800)}`);
    url = post.location;
  }
  throw new Error('provider: too many steps');
}
