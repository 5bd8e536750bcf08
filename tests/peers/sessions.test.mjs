// Browser sessions at tusk (issue 15), driven by openid-client 6 against a
// real `tusk serve` with the mock IdP: one password login signs a second
// client in; prompt=none answers from the session or says login_required;
// max_age=0 forces a login; RP-initiated logout ends single sign-on and the
// refresh tokens of both clients. Run: node --test tests/peers/

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { Browser } from './lib/browser.mjs';
import { startTusk } from './lib/tusk.mjs';

const A = { id: 'rp-a', secret: 'rp-a-secret-0123456789', redirect: 'http://127.0.0.1:9998/a' };
const B = { id: 'rp-b', secret: 'rp-b-secret-0123456789', redirect: 'http://127.0.0.1:9998/b' };
const VALUES = `oidc:
  RotationTokenExpiry: 48h
  additionalClients:
${[A, B].map((c) => `  - id: ${c.id}
    secret: ${c.secret}
    name: ${c.id}
    redirect_uris: ["${c.redirect}"]
    trusted: true`).join('\n')}
`;
const TEST_TIMEOUT = 120_000; // a hang guard, not a timing assertion
const insecure = { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] };

let tusk;
let issuer;

function test(name, fn) {
  return it(name, { timeout: TEST_TIMEOUT }, async (t) => {
    const from = tusk ? tusk.log.length : 0;
    try {
      await fn(t);
    } catch (err) {
      if (tusk && tusk.log.length > from) console.error(tusk.logSince(from).split('\n').slice(-100).join('\n'));
      throw err;
    }
  });
}

async function config(c) {
  return client.discovery(new URL(issuer), c.id, { client_secret: c.secret }, client.ClientSecretBasic(), insecure);
}

/**
 * An authorization request of client `c` from browser `b`; `password`
 * fills the login form if one is shown. Returns the redirect back to the
 * client, the PKCE verifier, state and nonce, and whether a form was sent.
 */
async function authorize(b, c, cfg, { params = {}, password } = {}) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(cfg, {
    redirect_uri: c.redirect,
    scope: 'openid email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  const before = b.trace.length;
  const fill = password ? { login: 'admin', password } : {};
  const out = await b.browse(String(url), { fill, stopAt: c.redirect });
  const posted = b.trace.slice(before).some((l) => l.startsWith('POST'));
  return { out, codeVerifier, state, nonce, posted };
}

async function exchange(cfg, got) {
  assert.ok(got.out.redirect, `expected a redirect back, got a page:\n${got.out.page?.body?.slice(0, 500)}`);
  return client.authorizationCodeGrant(cfg, new URL(got.out.redirect), {
    pkceCodeVerifier: got.codeVerifier,
    expectedState: got.state,
    expectedNonce: got.nonce,
    idTokenExpected: true,
  });
}

function errorOf(got) {
  assert.ok(got.out.redirect, 'expected a redirect back to the client');
  return new URL(got.out.redirect).searchParams.get('error');
}

describe('browser sessions, driven by openid-client', () => {
  before(async () => {
    tusk = await startTusk({ values: VALUES });
    issuer = tusk.issuer;
  });
  after(async () => {
    await tusk?.stop();
  });

  test('one login signs a second client in; prompt=none; max_age=0; logout ends both', async () => {
    const [cfgA, cfgB] = [await config(A), await config(B)];
    const meta = cfgA.serverMetadata();
    assert.deepEqual(meta.prompt_values_supported, ['none', 'login', 'select_account']);
    assert.ok(meta.claims_supported.includes('auth_time'));

    // Without a session, prompt=none comes back with login_required.
    const stranger = new Browser();
    assert.equal(errorOf(await authorize(stranger, A, cfgA, { params: { prompt: 'none' } })), 'login_required');

    // Log in once at client A, with the password.
    const b = new Browser();
    const first = await authorize(b, A, cfgA, { password: 'password' });
    assert.ok(first.posted, 'the first login submits the password form');
    const tokA = await exchange(cfgA, first);
    const idA = tokA.claims();

    // Client B: back with a code and no form, and the same browser session.
    const second = await authorize(b, B, cfgB);
    assert.equal(second.posted, false, 'no password for the second client');
    const tokB = await exchange(cfgB, second);
    const idB = tokB.claims();
    assert.equal(idB.sub, idA.sub);
    assert.equal(idB.sid, idA.sid, 'one browser session, one sid');
    assert.equal(idB.auth_time, idA.auth_time, 'auth_time is the login\'s');

    // prompt=none answers silently from the session.
    const silent = await authorize(b, B, cfgB, { params: { prompt: 'none' } });
    assert.equal(silent.posted, false);
    await exchange(cfgB, silent);

    // max_age=0 forces a login: the password form comes back.
    const forced = await authorize(b, A, cfgA, { params: { max_age: '0' } });
    assert.ok(forced.out.page, 'max_age=0 shows the login form');
    assert.match(forced.out.page.body, /name="password"/);

    // RP-initiated logout from client A ends the session for both clients.
    const logoutUrl = client.buildEndSessionUrl(cfgA, {
      id_token_hint: tokA.id_token,
      post_logout_redirect_uri: A.redirect,
      state: 'bye',
    });
    const out = await b.browse(String(logoutUrl), { stopAt: A.redirect });
    assert.ok(out.redirect, 'logout comes back to the client');
    assert.equal(new URL(out.redirect).searchParams.get('state'), 'bye');
    for (const [c, cfg] of [[A, cfgA], [B, cfgB]]) {
      assert.equal(errorOf(await authorize(b, c, cfg, { params: { prompt: 'none' } })), 'login_required', c.id);
    }
    for (const [tok, cfg] of [[tokA, cfgA], [tokB, cfgB]]) {
      await assert.rejects(client.refreshTokenGrant(cfg, tok.refresh_token), (err) => {
        assert.equal(err?.error, 'invalid_grant');
        return true;
      });
    }
  });
});
