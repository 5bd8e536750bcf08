// Issue 14, SAML: headless Debian Chromium logs in to a relying party
// through tusk's `saml` connector against a real SAML 2.0 IdP (samlify,
// idp.mjs) that reads tusk's SP metadata from its URL. Then: the same
// response replayed (to its own login and to a new one) is refused, and an
// IdP that signs only the response (not the assertion) gets no login.
//
// Run: cargo build -p tusk-cli && tests/saml/run.sh
// $TUSK_BIN overrides target/debug/tusk; $CHROMIUM_PATH overrides /usr/bin/chromium.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { catchRedirect, openBrowser } from '../browser/lib/browser.mjs';
import {
  authUrl, exchangeCode, freePort, htmlText, loggedDetail, pageReference, relyingParty, startTusk, verifyIdToken,
  waitForConnector,
} from '../browser/lib/tusk.mjs';
import { startIdp } from './idp.mjs';

const rand = () => randomBytes(12).toString('base64url');

function samlValues({ port, idp, rp }) {
  const callback = `http://127.0.0.1:${port}/dex/callback`;
  const cert = idp.cert.trim().split('\n').map((l) => `        ${l}`).join('\n');
  return [
    'oidc:',
    '  upstreamIDPs:',
    '  - type: saml',
    '    id: corp',
    '    name: Corp SSO',
    '    config:',
    `      ssoURL: ${idp.ssoURL}`,
    `      entityIssuer: http://127.0.0.1:${port}/dex/saml/corp/metadata`,
    `      ssoIssuer: ${idp.entityID}`,
    `      redirectURI: ${callback}`,
    '      usernameAttr: uid',
    '      emailAttr: email',
    '      groupsAttr: groups',
    '      caData: |',
    cert,
    '  additionalClients:',
    `  - id: ${rp.id}`,
    `    secret: ${rp.secret}`,
    `    name: ${rp.name}`,
    '    trusted: true',
    `    redirect_uris: ["${rp.redirectUri}"]`,
    '',
  ].join('\n');
}

/** Fails with the server log attached, so a red test says what tusk said. */
async function withLog(tusk, fn) {
  try {
    return await fn();
  } catch (e) {
    e.message += `\n--- tusk log (last 40 lines) ---\n${tusk.log.slice(-40).join('\n')}`;
    throw e;
  }
}

/** Drives the browser from the RP's auth URL through the IdP's login page. */
async function samlLogin(browser, url, rp, user, password) {
  const page = await browser.context.newPage();
  const visited = [];
  page.on('request', (r) => { if (r.isNavigationRequest()) visited.push(r.url()); });
  const { landed } = await catchRedirect(page, rp.redirectUri);
  await page.goto(url);
  const chooser = page.getByRole('link', { name: 'Log in with Corp SSO' });
  const idpForm = page.locator('#username');
  await Promise.race([chooser.waitFor(), idpForm.waitFor()]);
  if (await chooser.isVisible()) await chooser.click();
  await idpForm.fill(user);
  await page.locator('#password').fill(password);
  await page.locator('#submit').click();
  return { page, landed, visited };
}

/**
 * The RelayState tusk sends with a new login's AuthnRequest (no browser,
 * but the login-binding cookie /auth sets is sent back, as a browser does).
 */
async function newLoginRelayState(tusk, rp, idp) {
  let next = authUrl(tusk, rp, { state: rand(), nonce: rand() });
  const jar = new Map();
  for (let hop = 0; hop < 5; hop++) {
    if (next.startsWith(idp.ssoURL)) return new URL(next).searchParams.get('RelayState');
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(next, { redirect: 'manual', signal: AbortSignal.timeout(10_000), headers: cookie ? { cookie } : {} });
    for (const c of r.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0].split('=');
      jar.set(k, v);
    }
    const location = r.headers.get('location');
    if (location) {
      next = new URL(location, next).toString();
      continue;
    }
    const html = await r.text();
    const link = html.match(/href="([^"]*\/auth\/corp[^"]*)"/);
    if (!link) throw new Error(`no redirect to the IdP from ${next}: ${r.status} ${htmlText(html).slice(0, 300)}`);
    next = new URL(link[1].replace(/&amp;/g, '&'), next).toString();
  }
  throw new Error('tusk never sent the browser to the IdP');
}

const postCallback = (tusk, response, relayState) => fetch(`${tusk.issuer}/callback`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ SAMLResponse: response, RelayState: relayState }).toString(),
  redirect: 'manual',
  signal: AbortSignal.timeout(10_000),
});

test('SAML login in Chromium through a samlify IdP; replays and response-only signatures refused', { timeout: 180_000 }, async (t) => {
  const port = await freePort();
  const rp = relyingParty(await freePort());
  const idp = await startIdp({ spMetadataURL: `http://127.0.0.1:${port}/dex/saml/corp/metadata` });
  t.after(() => idp.close());
  const tusk = await startTusk({ port, values: [{ name: 'values.yaml', text: samlValues({ port, idp, rp }) }] });
  t.after(() => tusk.stop());
  const browser = await openBrowser();
  t.after(() => browser.close());

  await withLog(tusk, async () => {
    await waitForConnector(tusk, 'corp', (c) => c.ok === true);

    // The SP metadata the IdP imports.
    const md = await fetch(`${tusk.issuer}/saml/corp/metadata`);
    assert.equal(md.status, 200);
    assert.match(md.headers.get('content-type'), /samlmetadata\+xml/);
    const mdText = await md.text();
    assert.match(mdText, new RegExp(`entityID="http://127.0.0.1:${port}/dex/saml/corp/metadata"`));
    assert.match(mdText, new RegExp(`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://127.0.0.1:${port}/dex/callback"`));

    // 1. The happy path: an ID token with the IdP user's email and groups.
    const state = rand();
    const nonce = rand();
    const { page, landed, visited } = await samlLogin(browser, authUrl(tusk, rp, { state, nonce }), rp, 'jane', 'jane-pass');
    const final = new URL(await landed);
    await page.close();
    // Issue 15: the IdP's cross-site POST carries no SameSite=Lax cookie,
    // so the code comes only after the same-site GET that checks the
    // browser's login binding.
    assert.ok(visited.some((u) => u.startsWith(`${tusk.issuer}/callback/corp/finish?`)), visited.join('\n'));
    assert.equal(final.searchParams.get('state'), state);
    const tokens = await exchangeCode(tusk, rp, final.searchParams.get('code'));
    const { payload } = await verifyIdToken(tusk, rp, tokens.id_token, nonce);
    assert.equal(payload.email, 'jane@example.com');
    assert.equal(payload.email_verified, true);
    assert.deepEqual(payload.groups, ['admins', 'data-team']);
    assert.equal(payload.name, 'jane');
    assert.equal(idp.state.logins, 1);

    // 2. The same response again, to its own (finished) login: refused.
    const { response, relayState } = idp.state.lastResponse;
    const again = await postCallback(tusk, response, relayState);
    assert.equal(again.status, 400);
    const againText = htmlText(await again.text());
    assert.match(againText, /This sign-in has expired/);
    assert.match(loggedDetail(tusk, pageReference(againText)), /expired or was already used/);

    // 3. The same response carried into a new login: refused, it answers
    // another AuthnRequest.
    const fresh = await newLoginRelayState(tusk, rp, idp);
    assert.notEqual(fresh, relayState);
    const replay = await postCallback(tusk, response, fresh);
    assert.equal(replay.status, 400);
    // Issue 15: plain words on the page, the cause in the log.
    const replayText = htmlText(await replay.text());
    // Not a setup fault (issue 15): the user starts again.
    assert.match(replayText, /This Corp SSO sign-in has expired/);
    assert.doesNotMatch(replayText, /isn't set up correctly/);
    assert.match(loggedDetail(tusk, pageReference(replayText)), /not the one tusk sent for this login/);

    // 4. An IdP that signs the response but not the assertion: no login.
    idp.state.signing = 'response';
    // prompt=login: the browser still holds jane's session from step 1,
    // which would answer without going to the IdP at all.
    const bad = await samlLogin(browser, authUrl(tusk, rp, { state: rand(), nonce: rand(), extra: { prompt: 'login' } }), rp, 'joe', 'joe-pass');
    await bad.page.waitForURL((u) => u.href.startsWith(`${tusk.issuer}/callback`)).catch(async (e) => {
      throw new Error(`${e.message}; browser at ${bad.page.url()}`);
    });
    const text = await bad.page.locator('body').innerText();
    await bad.page.close();
    assert.match(text, /isn't set up correctly/);
    assert.match(loggedDetail(tusk, pageReference(text)), /the assertion is not signed/);
    assert.equal(idp.state.logins, 2);

    assert.deepEqual(tusk.panics(), []);
  });
});
