// A tiny hand-written OpenID Provider that mints deliberately bad ID tokens
// (oidc-provider will not). It serves discovery, a JWKS, an authorization
// endpoint that redirects straight back with a code and the given state
// (no login), and a token endpoint answering an ID token crafted for the
// scenario chosen with `fake.scenario = '...'` before the login starts.
//
// The authorization endpoint remembers the nonce and the PKCE challenge
// tusk sent; the token endpoint checks the client secret and the PKCE
// verifier like a real provider, so the only thing wrong in a scenario is
// the property it names.

import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import * as jose from 'jose';

export const SCENARIOS = {
  good: 'a correct token (control)',
  'wrong-aud': 'aud names another client',
  expired: 'exp one hour in the past',
  'bad-signature': 'signed by another key under the published kid',
  'missing-nonce': 'no nonce claim',
  'wrong-nonce': 'a nonce other than the one sent',
  'wrong-iss': 'iss names another provider',
  'alg-none': 'an unsigned token (alg none)',
  denied: 'the user refused: the provider redirects back with error=access_denied',
};

export async function startFakeOp({ clientId = 'tusk', clientSecret = 'fake-secret', kid = 'fake-key-1' } = {}) {
  const good = await jose.generateKeyPair('RS256', { extractable: true });
  const rogue = await jose.generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await jose.exportJWK(good.publicKey)), kid, alg: 'RS256', use: 'sig' };

  const codes = new Map(); // code -> { scenario, nonce, challenge }
  const state = { scenario: 'good', seen: [] };
  let issuer;

  async function idToken({ scenario, nonce }) {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: 'mallory', email: 'mallory@example.com', email_verified: true, name: 'Mallory Example',
      preferred_username: 'mallory', groups: ['data-scientists'], nonce,
    };
    let iss = issuer;
    let aud = clientId;
    let iat = now;
    let exp = now + 300;
    let key = good.privateKey;
    switch (scenario) {
      case 'good': break;
      case 'wrong-aud': aud = 'someone-else'; break;
      case 'expired': iat = now - 7200; exp = now - 3600; break;
      case 'bad-signature': key = rogue.privateKey; break;
      case 'missing-nonce': delete claims.nonce; break;
      case 'wrong-nonce': claims.nonce = randomBytes(16).toString('base64url'); break;
      case 'wrong-iss': iss = 'http://127.0.0.1:1/not-this-provider'; break;
      case 'alg-none':
        return new jose.UnsecuredJWT({ ...claims }).setIssuer(iss).setAudience(aud)
          .setIssuedAt(iat).setExpirationTime(exp).encode();
      default: throw new Error(`unknown scenario ${scenario}`);
    }
    return new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(iss).setAudience(aud).setIssuedAt(iat).setExpirationTime(exp)
      .sign(key);
  }

  const send = (res, status, body, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
        return send(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          scopes_supported: ['openid', 'email', 'profile', 'groups'],
        });
      }
      if (req.method === 'GET' && url.pathname === '/jwks') {
        return send(res, 200, { keys: [publicJwk] });
      }
      if (req.method === 'GET' && url.pathname === '/authorize') {
        const p = url.searchParams;
        if (p.get('client_id') !== clientId) return send(res, 400, 'unknown client', 'text/plain');
        const code = randomBytes(12).toString('base64url');
        codes.set(code, {
          scenario: state.scenario,
          nonce: p.get('nonce'),
          challenge: p.get('code_challenge'),
          redirectUri: p.get('redirect_uri'),
        });
        state.seen.push({ scenario: state.scenario, nonce: p.get('nonce'), pkce: p.get('code_challenge_method') });
        const back = new URL(p.get('redirect_uri'));
        if (state.scenario === 'denied') {
          back.searchParams.set('error', 'access_denied');
          back.searchParams.set('error_description', 'User is not assigned to the client application.');
        } else {
          back.searchParams.set('code', code);
        }
        back.searchParams.set('state', p.get('state') ?? '');
        res.writeHead(302, { location: back.toString() });
        return res.end();
      }
      if (req.method === 'POST' && url.pathname === '/token') {
        const chunks = [];
        for await (const c of req) chunks.push(c);
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        let id = form.get('client_id');
        let secret = form.get('client_secret');
        const auth = req.headers.authorization ?? '';
        if (auth.startsWith('Basic ')) {
          const [a, b] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
          id = decodeURIComponent(a.replace(/\+/g, ' '));
          secret = decodeURIComponent((b ?? '').replace(/\+/g, ' '));
        }
        if (id !== clientId || secret !== clientSecret) return send(res, 401, { error: 'invalid_client' });
        const grant = codes.get(form.get('code'));
        codes.delete(form.get('code'));
        if (!grant || form.get('grant_type') !== 'authorization_code' || form.get('redirect_uri') !== grant.redirectUri) {
          return send(res, 400, { error: 'invalid_grant' });
        }
        if (grant.challenge) {
          const v = form.get('code_verifier') ?? '';
          if (createHash('sha256').update(v).digest('base64url') !== grant.challenge) {
            return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
          }
        }
        return send(res, 200, {
          access_token: randomBytes(16).toString('base64url'),
          token_type: 'Bearer',
          expires_in: 300,
          id_token: await idToken(grant),
        });
      }
      return send(res, 404, { error: 'not_found' });
    } catch (e) {
      return send(res, 500, { error: 'server_error', error_description: String(e) });
    }
  });
  await new Promise((res, rej) => { server.once('error', rej); server.listen(0, '127.0.0.1', res); });
  issuer = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer,
    clientId,
    clientSecret,
    get scenario() { return state.scenario; },
    set scenario(s) {
      if (!(s in SCENARIOS)) throw new Error(`unknown scenario ${s}`);
      state.scenario = s;
    },
    seen: state.seen,
    async stop() {
      server.closeAllConnections?.();
      await new Promise((res) => server.close(() => res()));
    },
  };
}

/**
 * Follows a login with plain HTTP (no browser): GET each Location until the
 * relying party's redirect URI or a non-redirect answer, keeping cookies per
 * host as a browser does (tusk refuses a login step from a user agent
 * without the login-binding cookie its /auth set). Pass a result's `jar` to
 * go on in the same "browser".
 * Resolves with { status, url, contentType, body, hops, jar } of the last
 * answer, or { redirectedTo, hops, jar } when the relying party's URI was
 * reached; `hops` lists every URL requested.
 */
export async function followLogin(startUrl, rpRedirectUri, { maxHops = 10, jar = new Map() } = {}) {
  let url = startUrl;
  const hops = [];
  for (let i = 0; i < maxHops; i++) {
    if (url.startsWith(rpRedirectUri)) return { redirectedTo: url, hops, jar };
    hops.push(url);
    const host = new URL(url).host;
    const cookies = jar.get(host) ?? new Map();
    const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(15_000), headers: cookie ? { cookie } : {} });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    jar.set(host, cookies);
    if (r.status >= 300 && r.status < 400 && r.headers.get('location')) {
      url = new URL(r.headers.get('location'), url).toString();
      await r.arrayBuffer();
      continue;
    }
    return { status: r.status, url, contentType: r.headers.get('content-type') ?? '', body: await r.text(), hops, jar };
  }
  throw new Error(`more than ${maxHops} redirects from ${startUrl}`);
}
