// Issue 15 in Chromium: single sign-on across two relying parties through
// tusk's upstream `oidc` connector (oidc-provider as Okta), then a logout
// that follows the upstream's end_session_endpoint (its confirmation form
// submitted) and comes back through tusk to the client's
// post_logout_redirect_uri; afterwards neither tusk nor the upstream
// signs the browser in silently.
//
// Run: cargo build -p tusk-cli && tests/browser/run.sh
//  or: node --test tests/browser/sessions.test.mjs   (after `npm ci` in tests/browser)

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { test } from 'node:test';

import { startStandin } from './okta-standin.mjs';
import { browserLogin, catchRedirect, openBrowser } from './lib/browser.mjs';
import { authUrl, exchangeCode, freePort, relyingParty, startTusk, valuesYaml, waitForConnector } from './lib/tusk.mjs';

const rand = () => randomBytes(12).toString('base64url');

/**
 * A relying party's redirect URI that really listens (a redirect straight
 * from tusk's /auth is not one playwright's routes intercept), recording
 * each URL the browser arrives with; `next()` resolves with the next one.
 */
async function landingPage(redirectUri) {
  const u = new URL(redirectUri);
  const waiting = [];
  const arrived = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, u.origin);
    // Only the redirect URI counts: Chromium also asks for /favicon.ico,
    // which would otherwise be taken for the next landing.
    if (url.pathname !== u.pathname) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><title>RP</title><h1>relying party reached</h1>');
    const w = waiting.shift();
    if (w) w(url.href); else arrived.push(url.href);
  });
  await new Promise((res) => server.listen(Number(u.port), u.hostname, res));
  return {
    next: () => (arrived.length ? Promise.resolve(arrived.shift()) : new Promise((r) => waiting.push(r))),
    stop: () => new Promise((r) => server.close(r)),
  };
}

test('SSO across two clients, and logout through the upstream end_session_endpoint', { timeout: 240_000 }, async (t) => {
  const stops = [];
  t.after(async () => { for (const s of stops.reverse()) await s().catch(() => {}); });
  const tuskPort = await freePort();
  const tuskIssuer = `http://127.0.0.1:${tuskPort}/dex`;
  const rp = relyingParty(await freePort());
  const rp2 = { ...relyingParty(await freePort()), id: 'rp2', secret: 'rp2-secret-0123456789', name: 'Second RP' };
  const op = await startStandin({
    redirectUris: [`${tuskIssuer}/callback`],
    postLogoutRedirectUris: [`${tuskIssuer}/logout/callback`],
  });
  stops.push(() => op.stop());
  const values = valuesYaml([{ id: 'okta', name: 'Okta', issuer: op.issuer, clientSecret: op.clientSecret, redirectURI: `${tuskIssuer}/callback` }], rp)
    + [`  - id: ${rp2.id}`, `    secret: ${rp2.secret}`, `    name: ${rp2.name}`, `    trusted: true`, `    redirect_uris: ["${rp2.redirectUri}"]`, ''].join('\n');
  const tusk = await startTusk({ port: tuskPort, values: [{ name: 'values.yaml', text: values }] });
  stops.push(() => tusk.stop());
  const browser = await openBrowser();
  stops.push(() => browser.close());
  try {
    await waitForConnector(tusk, 'okta', (c) => c.ok === true);
    // First client: the full upstream login.
    const nonce = rand();
    const first = await browserLogin({ browser, url: authUrl(tusk, rp, { state: rand(), nonce }), rp, standin: op, login: 'ada' });
    const tokens = await exchangeCode(tusk, rp, first.code);
    assert.equal(op.authRequests.length, 1);

    // Second client, same browser: straight back with a code, nobody asked.
    const rp2Landing = await landingPage(rp2.redirectUri);
    stops.push(() => rp2Landing.stop());
    const page = await browser.context.newPage();
    await page.goto(authUrl(tusk, rp2, { state: 'two', nonce: rand() }));
    const landed = new URL(await rp2Landing.next());
    assert.ok(landed.searchParams.get('code'), `a code for the second client: ${landed}`);
    assert.equal(op.authRequests.length, 1, 'the upstream was not asked again');
    await page.close();

    // Logout at tusk continues upstream; its confirmation is submitted;
    // the browser comes back to the first client with its state.
    const out = await browser.context.newPage();
    const back = await catchRedirect(out, rp.redirectUri);
    const logout = new URL(`${tusk.issuer}/logout`);
    logout.search = new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: rp.redirectUri, state: 'bye' }).toString();
    await out.goto(logout.href);
    await out.waitForURL((u) => u.href.startsWith(op.origin), { timeout: 30_000 });
    await out.locator('button[name="logout"][value="yes"]').click();
    const done = new URL(await back.landed);
    assert.equal(done.searchParams.get('state'), 'bye', `${done}`);
    await out.close();

    // tusk's session is over: prompt=none says login_required.
    const silent = await browser.context.newPage();
    await silent.goto(authUrl(tusk, rp2, { state: 'three', nonce: rand(), extra: { prompt: 'none' } }));
    assert.equal(new URL(await rp2Landing.next()).searchParams.get('error'), 'login_required');
    await silent.close();

    // And the upstream's: a new login shows its login form again.
    const again = await browser.context.newPage();
    await again.goto(authUrl(tusk, rp, { state: rand(), nonce: rand() }));
    await again.waitForURL((u) => u.href.startsWith(op.origin), { timeout: 30_000 });
    await again.locator('input[name="login"]').waitFor({ state: 'visible', timeout: 20_000 });
    await again.close();
  } catch (e) {
    e.message += `\n--- tusk log (last 40 lines) ---\n${tusk.log.slice(-40).join('\n')}`;
    throw e;
  }
});
