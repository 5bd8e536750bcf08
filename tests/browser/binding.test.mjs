// Issue 15 in Chromium: every step of a login belongs to the browser that
// started it. Browser A confirms a device code and gets the sign-in link
// that follows; the link forwarded to browser B (another context, so
// another cookie jar) shows the "started in another browser" page and
// changes nothing; A then finishes and the device gets its tokens.
//
// Run: cargo build -p tusk-cli && tests/browser/run.sh
//  or: node --test tests/browser/binding.test.mjs   (after `npm ci` in tests/browser)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS } from './lib/browser.mjs';
import { freePort, htmlText, loggedDetail, pageReference, relyingParty, startTusk } from './lib/tusk.mjs';

test('a forwarded device sign-in link is refused in another browser; the confirming one finishes', { timeout: 180_000 }, async (t) => {
  const port = await freePort();
  const rp = relyingParty(await freePort());
  const values = [
    'pachd:',
    `  oauthRedirectURI: http://127.0.0.1:${port}/authorization-code/callback`,
    'oidc:',
    '  upstreamIDPs:',
    '  - {id: local, name: Password, type: mockPassword, config: {username: admin, password: password}}',
    '  additionalClients:',
    `  - {id: ${rp.id}, secret: ${rp.secret}, name: ${rp.name}, trusted: true, redirect_uris: ["${rp.redirectUri}"]}`,
    '',
  ].join('\n');
  const tusk = await startTusk({ port, values: [{ name: 'values.yaml', text: values }] });
  t.after(() => tusk.stop());
  const basic = `Basic ${Buffer.from(`${rp.id}:${rp.secret}`).toString('base64')}`;
  const form = { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' };
  const r = await fetch(`${tusk.issuer}/device/code`, { method: 'POST', headers: form, body: 'scope=openid' });
  assert.equal(r.status, 200, await r.clone().text());
  const device = await r.json();

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  t.after(() => browser.close());
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  for (const p of [a, b]) p.setDefaultTimeout(20_000);

  // A: the confirmation page, Continue, then the password form (one
  // connector, so straight to it).
  await a.goto(`${tusk.issuer}/device?user_code=${encodeURIComponent(device.user_code)}`);
  await a.getByRole('button', { name: 'Continue' }).click();
  await a.getByLabel('Password').waitFor();
  const state = new URL(a.url()).searchParams.get('state');
  assert.ok(state, `the password form names its login: ${a.url()}`);
  const cookies = await a.context().cookies(tusk.issuer);
  const binding = cookies.find((c) => c.name === 'tusk_login');
  assert.ok(binding, `A holds the login binding: ${JSON.stringify(cookies.map((c) => c.name))}`);
  assert.equal(binding.httpOnly, true);
  assert.equal(binding.sameSite, 'Lax');
  assert.equal(binding.path, '/dex');

  // B: each forwarded link is refused, in plain words with a reference.
  for (const link of [`${tusk.issuer}/auth/local?req=${state}`, `${tusk.issuer}/auth/local/login?state=${state}`]) {
    const resp = await b.goto(link);
    assert.equal(resp.status(), 403, link);
    await b.getByRole('heading', { level: 1, name: /another browser/ }).waitFor();
    const text = htmlText(await b.content());
    assert.match(text, /This sign-in was started in another browser or the link was shared\. Start again from the application\./);
    const reference = pageReference(await b.content());
    assert.ok(reference, `a reference id: ${text}`);
    assert.match(loggedDetail(tusk, reference), /login-binding cookie/);
  }
  // B posting the password form of A's login is refused too.
  const posted = await b.request.post(`${tusk.issuer}/auth/local/login?state=${state}`, {
    form: { login: 'admin', password: 'password' }, maxRedirects: 0,
  });
  assert.equal(posted.status(), 403);
  const poll = () => fetch(`${tusk.issuer}/token`, {
    method: 'POST', headers: form,
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: device.device_code }),
  });
  const pending = await poll();
  assert.equal((await pending.json()).error, 'authorization_pending', 'nothing B did approved the device');

  // A finishes its own login.
  await a.getByLabel('Username').fill('admin');
  await a.getByLabel('Password').fill('password');
  await a.getByRole('button', { name: 'Log in' }).click();
  await a.getByRole('heading', { level: 1, name: /Device connected/ }).waitFor();
  let tokens;
  for (let i = 0; i < 20; i++) {
    const res = await poll();
    const body = await res.json();
    if (res.status === 200) { tokens = body; break; }
    assert.ok(['authorization_pending', 'slow_down'].includes(body.error), JSON.stringify(body));
    await new Promise((res) => setTimeout(res, 1000 * (device.interval ?? 5)));
  }
  assert.ok(tokens?.id_token, 'the device got its tokens');
  assert.deepEqual(tusk.panics(), []);
});
