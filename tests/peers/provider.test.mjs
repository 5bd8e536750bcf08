// tusk's OpenID provider driven by a certified relying party (openid-client 6)
// against a real `tusk serve` with the mock IdP. Run:
//   node --test tests/peers/            (or: npm test --prefix tests/peers)
// TUSK_BIN picks the binary (default target/debug/tusk; scripts/test builds it).
// tusk rate-limits password logins per address (30/min by default); the
// browserless user waits out a 429's Retry-After like a person would, so a
// run takes a few seconds longer than its requests. No timing is asserted.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { Browser, decodeEntities, loginThroughTusk } from './lib/browser.mjs';
import { startTusk } from './lib/tusk.mjs';

const VALUES = `oidc:
  RotationTokenExpiry: 48h
  additionalClients:
  - id: rp-confidential
    secret: rp-secret-0123456789
    name: Confidential RP
    trusted: true
    redirect_uris: ["http://127.0.0.1:9999/cb"]
  - id: rp-public
    public: true
    name: Public RP
    trusted: true
    redirect_uris: ["http://127.0.0.1/cb"]
  - id: rp-third
    secret: rp-third-secret-0123456789
    name: Third Party RP
    redirect_uris: ["http://127.0.0.1:9999/third"]
`;

const CONFIDENTIAL = { id: 'rp-confidential', secret: 'rp-secret-0123456789', redirect: 'http://127.0.0.1:9999/cb' };
const PUBLIC = { id: 'rp-public' };
// Not trusted: its logins ask for consent.
const THIRD = { id: 'rp-third', secret: 'rp-third-secret-0123456789', redirect: 'http://127.0.0.1:9999/third' };
// The mock IdP's one user, and its `sub` in Dex's encoding
// (base64url of protobuf {1: "0-385-28089-0", 2: "test"}).
const USER = {
  email: 'kilgore@kilgore.trout',
  name: 'Kilgore Trout',
  sub: 'Cg0wLTM4NS0yODA4OS0wEgR0ZXN0',
};
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
// Words a device-approval page uses to tell the user it worked.
const APPROVED = /approved|success|connected/i;
const TEST_TIMEOUT = 120_000; // a hang guard, not a timing assertion

let tusk;
let issuer;
let meta; // the discovery document as served

/** Wraps a test body so a failure also prints what tusk logged meanwhile. */
function withLog(fn) {
  return async (t) => {
    const from = tusk ? tusk.log.length : 0;
    try {
      await fn(t);
    } catch (err) {
      if (tusk && tusk.log.length > from) {
        console.error(`--- tusk log during "${t.name}" ---\n${tusk.logSince(from).split('\n').slice(-200).join('\n')}\n--- end of tusk log ---`);
      }
      throw err;
    }
  };
}

function test(name, fn) {
  return it(name, { timeout: TEST_TIMEOUT }, withLog(fn));
}

const insecure = { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] };

async function confidentialConfig() {
  return client.discovery(new URL(issuer), CONFIDENTIAL.id, { client_secret: CONFIDENTIAL.secret },
    client.ClientSecretBasic(), insecure);
}

async function publicConfig() {
  return client.discovery(new URL(issuer), PUBLIC.id, {}, client.None(), insecure);
}

/** A loopback port nobody listens on (for the public client's redirect). */
async function freePort() {
  const srv = createServer();
  await new Promise((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address();
  await new Promise((res) => srv.close(res));
  return port;
}

/** Code flow with PKCE S256 through the mock password form; returns tokens and checks. */
async function codeFlow(config, redirectUri, scope) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callback = await loginThroughTusk(authUrl, redirectUri);
  assert.equal(callback.searchParams.get('state'), state, 'state echoed unchanged');
  assert.ok(callback.searchParams.get('code'), `a code in ${callback}`);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { tokens, nonce, callback, codeVerifier };
}

function assertUserClaims(claims, clientId, nonce) {
  assert.equal(claims.iss, issuer);
  assert.equal(claims.sub, USER.sub, 'sub in Dex encoding');
  assert.equal(claims.aud, clientId, 'aud is the client id (a string when there is one audience)');
  assert.equal(claims.email, USER.email);
  assert.equal(claims.email_verified, true);
  assert.equal(claims.name, USER.name);
  if (nonce !== undefined) assert.equal(claims.nonce, nonce, 'nonce echoed');
}

/** Asserts a rejected openid-client call failed with the OAuth error `code`. */
async function rejectsWithOAuthError(promise, code, what) {
  await assert.rejects(promise, (err) => {
    assert.equal(err?.error, code, `${what}: expected OAuth error ${code}, got ${err?.name}: ${err?.message} ` +
      `(status ${err?.status}, body ${JSON.stringify(err?.cause)})`);
    return true;
  });
}

/** POSTs a form with plain fetch; returns {status, headers, text, json}. */
async function postForm(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    redirect: 'manual',
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

function basic(id, secret) {
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

function assertOAuthError(res, status, code, what) {
  assert.ok(res.status < 500, `${what}: never a 5xx, got ${res.status}: ${res.text.slice(0, 500)}`);
  if (Array.isArray(status)) {
    assert.ok(status.includes(res.status), `${what}: status ${res.status}, want one of ${status}: ${res.text.slice(0, 500)}`);
  } else {
    assert.equal(res.status, status, `${what}: status (body ${res.text.slice(0, 500)})`);
  }
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${what}: JSON error body`);
  assert.ok(res.json && typeof res.json === 'object', `${what}: body is JSON: ${res.text.slice(0, 500)}`);
  assert.equal(typeof res.json.error, 'string', `${what}: has "error": ${res.text}`);
  assert.equal(typeof res.json.error_description, 'string', `${what}: has "error_description": ${res.text}`);
  if (code) assert.equal(res.json.error, code, `${what}: error code (body ${res.text})`);
}

/** GET a browser endpoint and expect a 400 HTML error page naming `needle`, not a redirect. */
async function assertHtmlErrorPage(url, needle, what, { never = [] } = {}) {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(30_000), headers: { accept: 'text/html' } });
  const text = await res.text();
  assert.ok(res.status < 500, `${what}: never a 5xx, got ${res.status}: ${text.slice(0, 500)}`);
  assert.equal(res.headers.get('location'), null, `${what}: must not redirect (Location: ${res.headers.get('location')})`);
  assert.equal(res.status, 400, `${what}: status (body ${text.slice(0, 500)})`);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/, `${what}: an HTML page`);
  assert.ok(decodeEntities(text).includes(needle), `${what}: the page says ${needle}:\n${text.slice(0, 2000)}`);
  for (const n of never) assert.ok(!decodeEntities(text).includes(n), `${what}: the page must not show ${n}:\n${text.slice(0, 2000)}`);
  // Issue 15: plain words and a reference id, the detail only in the log.
  assert.match(decodeEntities(text), /Reference <code>[a-z0-9]{4}-[a-z0-9]{4}<\/code>/, `${what}: a reference id`);
}

/** Runs a code flow and returns the raw pieces (no token exchange). */
async function codeOnly(config, redirectUri, scope = 'openid email') {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce: client.randomNonce(),
  });
  const callback = await loginThroughTusk(authUrl, redirectUri);
  return { code: callback.searchParams.get('code'), codeVerifier, state, callback };
}

describe('tusk OpenID provider, driven by openid-client', () => {
  before(async () => {
    tusk = await startTusk({ values: VALUES });
    issuer = tusk.issuer;
  });

  after(async () => {
    if (tusk) {
      const exit = await tusk.stop();
      if (exit?.code !== 0 && exit?.signal == null) {
        console.error(`tusk exited with ${JSON.stringify(exit)}\n--- tusk log ---\n${tusk.logSince(Math.max(0, tusk.log.length - 100))}`);
      }
    }
  });

  test('1. discovery: issuer byte for byte, every endpoint, and a public JWKS', async () => {
    if (tusk.loggedIssuer !== undefined) {
      assert.equal(tusk.loggedIssuer, issuer, 'the issuer tusk logs is the one it serves');
    }
    const res = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(30_000) });
    const raw = await res.text();
    assert.equal(res.status, 200, raw.slice(0, 500));
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    meta = JSON.parse(raw);
    assert.equal(meta.issuer, issuer, 'issuer byte-identical');
    const want = {
      authorization_endpoint: '/auth',
      token_endpoint: '/token',
      jwks_uri: '/keys',
      userinfo_endpoint: '/userinfo',
      device_authorization_endpoint: '/device/code',
      introspection_endpoint: '/token/introspect',
      revocation_endpoint: '/token/revoke',
      end_session_endpoint: '/logout',
    };
    for (const [k, path] of Object.entries(want)) {
      assert.equal(meta[k], `${issuer}${path}`, `discovery ${k}`);
    }
    for (const g of ['authorization_code', 'refresh_token', DEVICE_GRANT]) {
      assert.ok(meta.grant_types_supported?.includes(g), `grant_types_supported has ${g}`);
    }
    assert.ok(meta.code_challenge_methods_supported?.includes('S256'), 'S256 PKCE');
    assert.ok(meta.id_token_signing_alg_values_supported?.length, 'id_token_signing_alg_values_supported');

    // openid-client does its own discovery and issuer check.
    const config = await confidentialConfig();
    assert.equal(config.serverMetadata().issuer, issuer);

    const keys = await fetch(meta.jwks_uri, { signal: AbortSignal.timeout(30_000) });
    const jwksText = await keys.text();
    assert.equal(keys.status, 200, jwksText.slice(0, 500));
    assert.match(keys.headers.get('content-type') ?? '', /json/);
    const jwks = JSON.parse(jwksText);
    assert.ok(Array.isArray(jwks.keys) && jwks.keys.length > 0, `a JWKS with keys: ${jwksText}`);
    for (const k of jwks.keys) {
      assert.ok(k.kty && k.kid, `key has kty and kid: ${JSON.stringify(k)}`);
      assert.equal(k.use, 'sig');
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
        assert.ok(!(priv in k), `public JWKS must not carry private member "${priv}"`);
      }
    }
  });

  test('2a. code flow + PKCE S256, confidential client (client_secret_basic), ID token verified against the JWKS', async () => {
    const config = await confidentialConfig();
    const { tokens, nonce, callback } = await codeFlow(config, CONFIDENTIAL.redirect, 'openid email profile');
    assert.equal(callback.searchParams.get('iss'), issuer, 'RFC 9207 iss on the redirect');
    assert.equal(tokens.token_type?.toLowerCase(), 'bearer');
    assert.ok(tokens.access_token, 'access token');
    assert.ok(tokens.id_token, 'ID token');
    assertUserClaims(tokens.claims(), CONFIDENTIAL.id, nonce);

    // 3. UserInfo with the access token: same sub and email.
    const info = await client.fetchUserInfo(config, tokens.access_token, USER.sub);
    assert.equal(info.sub, USER.sub);
    assert.equal(info.email, USER.email);
  });

  test('2b. code flow + PKCE S256, public client on a loopback redirect with any port (RFC 8252)', async () => {
    const config = await publicConfig();
    const redirect = `http://127.0.0.1:${await freePort()}/cb`;
    const { tokens, nonce } = await codeFlow(config, redirect, 'openid email profile');
    assert.ok(tokens.access_token, 'access token');
    assertUserClaims(tokens.claims(), PUBLIC.id, nonce);

    const info = await client.fetchUserInfo(config, tokens.access_token, USER.sub);
    assert.equal(info.sub, USER.sub);
    assert.equal(info.email, USER.email);
  });

  test('2c. harness check: the RP rejects an ID token whose signature was altered in transit', async () => {
    // Proves the non-repudiation checks above are on: the same flow with one
    // signature character changed on the way back must fail at the RP.
    const config = await confidentialConfig();
    const tokenEndpoint = config.serverMetadata().token_endpoint;
    config[client.customFetch] = async (url, options) => {
      const res = await fetch(url, options);
      if (url !== tokenEndpoint || res.status !== 200) return res;
      const body = await res.json();
      const [h, p, s] = body.id_token.split('.');
      body.id_token = [h, p, (s[0] === 'A' ? 'B' : 'A') + s.slice(1)].join('.');
      const headers = new Headers(res.headers);
      headers.delete('content-length');
      return new Response(JSON.stringify(body), { status: res.status, headers });
    };
    await assert.rejects(codeFlow(config, CONFIDENTIAL.redirect, 'openid email'), (err) => {
      assert.match(`${err?.message} / ${err?.cause?.message}`, /signature verification failed/i);
      return true;
    });
  });

  test('3. UserInfo rejects a missing or forged bearer token', async () => {
    const config = await confidentialConfig();
    const endpoint = config.serverMetadata().userinfo_endpoint;
    const none = await fetch(endpoint, { signal: AbortSignal.timeout(30_000) });
    await none.text();
    assert.equal(none.status, 401, 'no token');
    const forged = await fetch(endpoint, { headers: { authorization: 'Bearer not-a-token' }, signal: AbortSignal.timeout(30_000) });
    await forged.text();
    assert.equal(forged.status, 401, 'garbage token');
  });

  test('4. refresh rotation with reuse detection: old token fails, then the whole family is revoked', async () => {
    const config = await confidentialConfig();
    const { tokens } = await codeFlow(config, CONFIDENTIAL.redirect, 'openid email profile offline_access');
    const rt0 = tokens.refresh_token;
    assert.ok(rt0, 'offline_access yields a refresh token');

    const refreshed = await client.refreshTokenGrant(config, rt0);
    const rt1 = refreshed.refresh_token;
    assert.ok(rt1, 'refresh returns a refresh token');
    assert.notEqual(rt1, rt0, 'rotation: a NEW refresh token');
    assert.ok(refreshed.access_token, 'refresh returns an access token');
    if (refreshed.id_token) {
      const c = refreshed.claims();
      assert.equal(c.sub, USER.sub);
      assert.equal(c.aud, CONFIDENTIAL.id);
    }

    await rejectsWithOAuthError(client.refreshTokenGrant(config, rt0), 'invalid_grant', 'reusing the rotated-out token');
    await rejectsWithOAuthError(client.refreshTokenGrant(config, rt1), 'invalid_grant',
      'the current token after a reuse (family revoked)');
  });

  test('5. introspection and revocation', async () => {
    const config = await confidentialConfig();
    const { tokens } = await codeFlow(config, CONFIDENTIAL.redirect, 'openid email offline_access');
    assert.ok(tokens.refresh_token, 'refresh token');

    const at = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(at.active, true, `access token active: ${JSON.stringify(at)}`);
    assert.equal(at.sub, USER.sub);
    assert.equal(at.client_id, CONFIDENTIAL.id);

    const garbage = await client.tokenIntrospection(config, 'garbage-' + client.randomState());
    assert.deepEqual({ ...garbage }, { active: false }, 'inactive → only {"active": false} (RFC 7662)');

    await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    await rejectsWithOAuthError(client.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant',
      'refresh with a revoked token');
    const rt = await client.tokenIntrospection(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    assert.equal(rt.active, false, `revoked refresh token inactive: ${JSON.stringify(rt)}`);

    // RFC 7009: revoking an unknown token is still 200.
    await client.tokenRevocation(config, 'unknown-' + client.randomState());
  });

  test('6. device flow: openid-client polls while a browserless user approves', async () => {
    const config = await publicConfig();
    const scope = 'openid email profile';
    const dar = await client.initiateDeviceAuthorization(config, { scope });
    for (const k of ['device_code', 'user_code', 'verification_uri', 'verification_uri_complete']) {
      assert.equal(typeof dar[k], 'string', `device authorization response has ${k}: ${JSON.stringify(dar)}`);
    }
    assert.equal(typeof dar.expires_in, 'number');
    assert.equal(typeof dar.interval, 'number');
    assert.equal(new URL(dar.verification_uri).href, `${issuer}/device`, 'verification_uri is the /device page');

    const abort = new AbortController();
    const polling = client.pollDeviceAuthorizationGrant(config, dar, undefined, { signal: abort.signal });
    polling.catch(() => {}); // observed below
    try {
      // RFC 8628 §5.4: the link first shows the client and the code, and
      // asks before any credentials.
      const b = new Browser();
      const first = await b.browse(dar.verification_uri_complete, { fill: {} });
      assert.equal(first.page?.status, 200, b.traceText());
      const shown = decodeEntities(first.page.body);
      assert.ok(shown.includes(`Sign in to Public RP with code ${dar.user_code}?`), shown.slice(0, 2000));
      assert.ok(!/type="password"/.test(shown), 'no credentials asked before the confirmation');
      const out = await b.browse(dar.verification_uri_complete, {
        fill: { decision: 'continue', user_code: dar.user_code, login: 'admin', password: 'password' },
      });
      assert.ok(out.page, 'the approval ends on a page');
      assert.equal(out.page.status, 200, `device approved page is a 200\n${b.traceText()}\n${out.page.body.slice(0, 1000)}`);
      assert.match(decodeEntities(out.page.body), APPROVED, `the page says the device is approved:\n${out.page.body.slice(0, 2000)}`);
    } catch (err) {
      abort.abort();
      throw err;
    }
    const tokens = await polling;
    assert.ok(tokens.access_token);
    assertUserClaims(tokens.claims(), PUBLIC.id);
  });

  test('6b. device flow via GET /device and the user_code form', async () => {
    const config = await publicConfig();
    const dar = await client.initiateDeviceAuthorization(config, { scope: 'openid email profile' });
    const b = new Browser();
    const out = await b.browse(dar.verification_uri, {
      fill: { user_code: dar.user_code, decision: 'continue', login: 'admin', password: 'password' },
    });
    assert.ok(out.page, 'the approval ends on a page');
    assert.equal(out.page.status, 200, `${b.traceText()}\n${out.page.body.slice(0, 1000)}`);
    assert.match(decodeEntities(out.page.body), APPROVED, out.page.body.slice(0, 2000));
    const tokens = await client.pollDeviceAuthorizationGrant(config, dar);
    assertUserClaims(tokens.claims(), PUBLIC.id);
  });

  test('6c. device flow: Cancel on the confirmation page makes the poll fail with access_denied', async () => {
    const config = await publicConfig();
    const dar = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const b = new Browser();
    const out = await b.browse(dar.verification_uri_complete, { fill: { decision: 'cancel' } });
    assert.equal(out.page?.status, 200, b.traceText());
    assert.match(decodeEntities(out.page.body), /cancelled/i, out.page.body.slice(0, 2000));
    await rejectsWithOAuthError(client.pollDeviceAuthorizationGrant(config, dar), 'access_denied', 'a cancelled device login');
  });

  test('6d. consent: an untrusted client asks once; Deny gives access_denied, Allow a code', async () => {
    const config = await client.discovery(new URL(issuer), THIRD.id, { client_secret: THIRD.secret },
      client.ClientSecretBasic(), insecure);
    const start = async (decision) => {
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const authUrl = client.buildAuthorizationUrl(config, {
        redirect_uri: THIRD.redirect, scope: 'openid email offline_access', state, nonce,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
      });
      const b = new Browser();
      const fill = { login: 'admin', password: 'password' };
      if (decision) fill.decision = decision;
      const out = await b.browse(String(authUrl), { fill, stopAt: THIRD.redirect });
      return { out, b, state, nonce, codeVerifier };
    };
    // The page: the client's name and the scopes in words.
    const seen = await start(undefined);
    assert.equal(seen.out.page?.status, 200, seen.b.traceText());
    const page = decodeEntities(seen.out.page.body);
    for (const words of ['Allow Third Party RP to use your account?', 'Know your email address', 'Stay signed in (offline access)']) {
      assert.ok(page.includes(words), `${words} in\n${page.slice(0, 2000)}`);
    }
    // Deny: openid-client sees access_denied with the state it sent.
    const denied = await start('deny');
    assert.ok(denied.out.redirect, denied.b.traceText());
    await rejectsWithOAuthError(
      client.authorizationCodeGrant(config, new URL(denied.out.redirect), {
        pkceCodeVerifier: denied.codeVerifier, expectedState: denied.state, expectedNonce: denied.nonce,
      }),
      'access_denied', 'a denied consent');
    // Allow: a code that openid-client exchanges.
    const allowed = await start('allow');
    assert.ok(allowed.out.redirect, allowed.b.traceText());
    const tokens = await client.authorizationCodeGrant(config, new URL(allowed.out.redirect), {
      pkceCodeVerifier: allowed.codeVerifier, expectedState: allowed.state, expectedNonce: allowed.nonce, idTokenExpected: true,
    });
    const idClaims = tokens.claims();
    assert.equal(idClaims.sub, USER.sub);
    assert.equal(idClaims.aud, THIRD.id);
    assert.equal(idClaims.email, USER.email);
    assert.equal(idClaims.nonce, allowed.nonce);
    assert.ok(tokens.refresh_token, 'offline_access was allowed');
    // Remembered: the next login goes straight back with a code.
    const again = await loginThroughTusk(client.buildAuthorizationUrl(config, {
      redirect_uri: THIRD.redirect, scope: 'openid email', state: 's', nonce: 'n',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    }), THIRD.redirect);
    assert.ok(again.searchParams.get('code'), String(again));
  });

  describe('bad input: 4xx with an OAuth error or an HTML error page, never a 5xx', () => {
    let config;
    let tokenEndpoint;
    let authEndpoint;
    const auth = basic(CONFIDENTIAL.id, CONFIDENTIAL.secret);

    // Set up inside each test (not in a hook) so each one fails for its own reason.
    async function setup() {
      config ??= await confidentialConfig();
      tokenEndpoint = config.serverMetadata().token_endpoint;
      authEndpoint = config.serverMetadata().authorization_endpoint;
    }

    test('replayed code: the second exchange is invalid_grant', async () => {
      await setup();
      const { code, codeVerifier } = await codeOnly(config, CONFIDENTIAL.redirect);
      const body = () => new URLSearchParams({
        grant_type: 'authorization_code', code, redirect_uri: CONFIDENTIAL.redirect, code_verifier: codeVerifier,
      }).toString();
      const first = await postForm(tokenEndpoint, body(), { authorization: auth });
      assert.equal(first.status, 200, `first exchange: ${first.text}`);
      assert.ok(first.json?.access_token);
      assert.match(first.headers.get('cache-control') ?? '', /no-store/, 'token responses are Cache-Control: no-store');
      const second = await postForm(tokenEndpoint, body(), { authorization: auth });
      assertOAuthError(second, 400, 'invalid_grant', 'replayed code');
    });

    test('wrong PKCE verifier: invalid_grant', async () => {
      await setup();
      const { code } = await codeOnly(config, CONFIDENTIAL.redirect);
      const res = await postForm(tokenEndpoint, new URLSearchParams({
        grant_type: 'authorization_code', code, redirect_uri: CONFIDENTIAL.redirect,
        code_verifier: client.randomPKCECodeVerifier(),
      }).toString(), { authorization: auth });
      assertOAuthError(res, 400, 'invalid_grant', 'wrong code_verifier');
    });

    test('wrong client secret: 401 invalid_client', async () => {
      await setup();
      const { code, codeVerifier } = await codeOnly(config, CONFIDENTIAL.redirect);
      const res = await postForm(tokenEndpoint, new URLSearchParams({
        grant_type: 'authorization_code', code, redirect_uri: CONFIDENTIAL.redirect, code_verifier: codeVerifier,
      }).toString(), { authorization: basic(CONFIDENTIAL.id, 'not-the-secret') });
      assertOAuthError(res, 401, 'invalid_client', 'wrong secret');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/i, 'WWW-Authenticate for Basic (RFC 6749 §5.2)');
    });

    test('unknown client at /auth: 400 HTML error page, not a redirect', async () => {
      await setup();
      const u = new URL(authEndpoint);
      u.search = new URLSearchParams({
        client_id: 'no-such-client', redirect_uri: CONFIDENTIAL.redirect, response_type: 'code',
        scope: 'openid', state: 's', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).toString();
      await assertHtmlErrorPage(u.href, 'Unknown application', 'unknown client');
    });

    test('unregistered redirect_uri at /auth: 400 HTML error page that echoes no URI, not a redirect', async () => {
      await setup();
      const evil = 'https://evil.example/cb';
      const u = new URL(authEndpoint);
      u.search = new URLSearchParams({
        client_id: CONFIDENTIAL.id, redirect_uri: evil, response_type: 'code', scope: 'openid', state: 's',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).toString();
      // Issue 15: neither the requested URI nor the registered ones.
      await assertHtmlErrorPage(u.href, "return address isn't registered", 'unregistered redirect_uri', { never: [evil, CONFIDENTIAL.redirect] });
    });

    test('1 MB form body at /token: 413 or 400, never a 5xx', async () => {
      await setup();
      const body = `grant_type=authorization_code&redirect_uri=${encodeURIComponent(CONFIDENTIAL.redirect)}&code=${'a'.repeat(1 << 20)}`;
      const res = await postForm(tokenEndpoint, body, { authorization: auth });
      assertOAuthError(res, [400, 413], undefined, '1 MB body');
    });

    test('non-UTF-8 bytes in the form at /token: 400 invalid_request', async () => {
      await setup();
      const raw = Buffer.concat([
        Buffer.from(`grant_type=authorization_code&redirect_uri=${encodeURIComponent(CONFIDENTIAL.redirect)}&code=abc`),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
      ]);
      const res = await postForm(tokenEndpoint, raw, { authorization: auth });
      assertOAuthError(res, 400, 'invalid_request', 'raw non-UTF-8 bytes');
    });

    test('percent-encoded non-UTF-8 bytes in the form at /token: 400 invalid_request', async () => {
      await setup();
      const body = `grant_type=authorization_code&redirect_uri=${encodeURIComponent(CONFIDENTIAL.redirect)}&code=abc%FF%FE%C3%28`;
      const res = await postForm(tokenEndpoint, body, { authorization: auth });
      assertOAuthError(res, 400, 'invalid_request', 'percent-encoded non-UTF-8 bytes');
    });
  });
});
