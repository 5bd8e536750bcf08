// OpenID Connect Back-Channel Logout, checked by an independent JOSE
// library: a relying party registered with a `backchannel_logout_uri`
// (in the values, the only place it can be registered) logs in with
// openid-client, revokes its refresh token, and the logout token tusk POSTs
// to its receiver is verified with npm `jose` against tusk's JWKS: typ,
// iss, aud, events, sid and sub of the session, and no nonce. Run:
//   node --test tests/peers/backchannel.test.mjs

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as client from 'openid-client';
import { loginThroughTusk } from './lib/browser.mjs';
import { startTusk } from './lib/tusk.mjs';

const RP = { id: 'rp-backchannel', secret: 'rp-backchannel-secret-0123', redirect: 'http://127.0.0.1:9999/cb' };
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const TEST_TIMEOUT = 120_000; // a hang guard, not a timing assertion

let tusk;
let receiver;
const posts = []; // every POST the receiver got
let waiting = null; // resolves with the next POST

function nextPost() {
  if (posts.length) return Promise.resolve(posts.shift());
  return new Promise((res) => { waiting = res; });
}

describe('back-channel logout, verified with jose', () => {
  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const post = { method: req.method, url: req.url, type: req.headers['content-type'], body };
        if (waiting) { const w = waiting; waiting = null; w(post); } else posts.push(post);
        res.writeHead(200, { 'cache-control': 'no-store' });
        res.end();
      });
    });
    await new Promise((res) => receiver.listen(0, '127.0.0.1', res));
    const { port } = receiver.address();
    tusk = await startTusk({
      values: `oidc:
  additionalClients:
  - id: ${RP.id}
    secret: ${RP.secret}
    name: Back-channel RP
    redirect_uris: ["${RP.redirect}"]
    backchannel_logout_uri: "http://127.0.0.1:${port}/backchannel?rp=1"
    backchannel_logout_session_required: true
    trusted: true
`,
    });
  });

  after(async () => {
    if (tusk) await tusk.stop();
    if (receiver) await new Promise((res) => receiver.close(res));
  });

  it('a revoked refresh family reaches the RP as a logout token jose verifies', { timeout: TEST_TIMEOUT }, async () => {
    const config = await client.discovery(new URL(tusk.issuer), RP.id, { client_secret: RP.secret },
      client.ClientSecretBasic(), { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] });
    const meta = config.serverMetadata();
    assert.equal(meta.backchannel_logout_supported, true, 'discovery: backchannel_logout_supported');
    assert.equal(meta.backchannel_logout_session_supported, true, 'discovery: backchannel_logout_session_supported');

    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: RP.redirect,
      scope: 'openid email offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const callback = await loginThroughTusk(url, RP.redirect);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    });
    const id = tokens.claims();
    assert.ok(tokens.refresh_token, 'offline_access yields a refresh token');
    assert.equal(typeof id.sid, 'string', 'the ID token carries sid');

    await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    const post = await nextPost();
    assert.equal(post.method, 'POST');
    assert.equal(post.url, '/backchannel?rp=1', 'the registered URI, query kept');
    assert.match(post.type ?? '', /^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(post.body);
    assert.deepEqual([...form.keys()], ['logout_token']);
    const token = form.get('logout_token');

    // The independent check: jose, tusk's published JWKS, explicit typing.
    const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
    const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
      issuer: tusk.issuer,
      audience: RP.id,
      typ: 'logout+jwt',
      requiredClaims: ['iat', 'exp', 'jti', 'events'],
    });
    assert.equal(protectedHeader.typ, 'logout+jwt');
    assert.deepEqual(payload.events, { [EVENT]: {} }, 'exactly the back-channel logout event');
    assert.equal(payload.sid, id.sid, 'sid of the ended session');
    assert.equal(payload.sub, id.sub, 'sub of the ended session');
    assert.equal(payload.aud, RP.id);
    assert.ok(!('nonce' in payload), 'a logout token never has a nonce');
    assert.ok(payload.exp > payload.iat && payload.exp - payload.iat <= 300, `short-lived: ${payload.iat}..${payload.exp}`);

    // The same token is refused where an ID token is expected (typ).
    await assert.rejects(jose.jwtVerify(token, jwks, { issuer: tusk.issuer, audience: RP.id, typ: 'JWT' }));
  });
});
