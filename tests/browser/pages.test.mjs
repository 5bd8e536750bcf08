// Issue 15, item 5: every page a person sees, in light and dark, at desktop
// (1280x800) and phone (390x844) size: a screenshot of each under
// tests/browser/artifacts/pages/ (gitignored; the path is printed), and
// axe-core (npm, injected into the page) finding no serious or critical
// accessibility violation. Every page must also fit a 390 px screen
// without sideways scrolling and load nothing from anywhere but tusk.
//
// The pages are one table, PAGES: a new page (a consent page, a device
// confirmation) is one more row.
//
// Run: cargo build -p tusk-cli && node --test tests/browser/pages.test.mjs

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS } from './lib/browser.mjs';
import { HERE, authUrl, freePort, relyingParty, startTusk, waitForConnector } from './lib/tusk.mjs';

const require = createRequire(import.meta.url);
const AXE = require('axe-core').source;
const ARTIFACTS = join(HERE, 'artifacts', 'pages');

const SCHEMES = ['light', 'dark'];
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
];

/**
 * Submits the password form that `page` shows. A wrong password goes with
 * a fresh user name each time: failures back off per account, and this
 * test shows the error page eight times.
 */
async function logIn(page, password, user = 'admin') {
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/**
 * Each page state: how to reach it from a fresh page, and the heading it
 * must show. `ctx` holds the server and a fresh device code.
 */
const PAGES = [
  { name: 'chooser', heading: /Log in to Acme Data/, open: (p, c) => p.goto(c.auth()) },
  { name: 'password', heading: /Log in with Password/, open: (p, c) => p.goto(c.auth({ connector_id: 'local' })) },
  {
    name: 'password-error', heading: /Log in with Password/,
    open: async (p, c) => { await p.goto(c.auth({ connector_id: 'local' })); await logIn(p, 'wrong', `nobody-${Math.random().toString(36).slice(2)}`); },
    check: async (p) => assert.equal(await p.getByRole('alert').count(), 1, 'the error is announced'),
  },
  { name: 'device-entry', heading: /Connect a device/, open: (p, c) => p.goto(`${c.tusk.issuer}/device`) },
  {
    name: 'device-confirm', heading: /Sign in to .* with code [A-Z]{4}-[A-Z]{4}\?/,
    open: async (p, c) => p.goto(`${c.tusk.issuer}/device?user_code=${encodeURIComponent(await c.userCode())}`),
  },
  {
    // The test's client is not trusted, and no row before allows it.
    name: 'consent', heading: /Allow .* to use your account\?/,
    open: async (p, c) => { await p.goto(c.auth({ connector_id: 'local' })); await logIn(p, 'password'); },
  },
  {
    name: 'device-approved', heading: /Device connected/,
    open: async (p, c) => {
      await p.goto(`${c.tusk.issuer}/device?user_code=${encodeURIComponent(await c.userCode())}`);
      await p.getByRole('button', { name: 'Continue' }).click();
      await p.getByRole('link', { name: 'Log in with Password' }).click();
      await logIn(p, 'password');
      // An untrusted client asks consent after a device login too; the
      // grant is remembered, so only the first of these runs sees it.
      await p.getByRole('heading', { level: 1, name: /Allow .* to use your account|Device connected/ }).waitFor();
      const allow = p.getByRole('button', { name: 'Allow' });
      if (await allow.count()) await allow.click();
    },
  },
  {
    name: 'logged-out', heading: /Logged out/,
    open: async (p, c) => { await p.goto(`${c.tusk.issuer}/logout`); await p.getByRole('button', { name: 'Log out' }).click(); },
  },
  {
    name: 'error-unknown-client', heading: /Unknown application/, error: true,
    open: (p, c) => p.goto(`${c.tusk.issuer}/auth?client_id=ghost&redirect_uri=${encodeURIComponent(c.rp.redirectUri)}&response_type=code&scope=openid`),
  },
  {
    name: 'error-unregistered-redirect', heading: /return address isn't registered/, error: true,
    open: (p, c) => p.goto(`${c.tusk.issuer}/auth?client_id=${c.rp.id}&redirect_uri=${encodeURIComponent('https://evil.example/steal')}&response_type=code&scope=openid`),
    check: async (p, c) => {
      const html = await p.content();
      assert.doesNotMatch(html, /evil\.example/, 'the requested URI is not echoed');
      assert.ok(!html.includes(c.rp.redirectUri), 'no registered URI is listed');
    },
  },
  {
    name: 'error-connector-unavailable', heading: /Okta sign-in isn't set up correctly/, error: true,
    open: (p, c) => p.goto(c.auth({ connector_id: 'okta' })),
    check: async (p) => {
      const text = await p.locator('body').innerText();
      assert.doesNotMatch(text, /issuer did not match|unable to open|oidc:/, 'no internal chain');
      assert.match(text, /Use another sign-in method/);
    },
  },
  {
    name: 'cli-login-failed', heading: /Login failed/, error: true,
    open: (p, c) => p.goto(`${c.tusk.base}/authorization-code/callback`),
  },
];

/** An upstream whose discovery names another issuer: a setup mistake. */
async function wrongIssuer() {
  const srv = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ issuer: 'https://somewhere-else.example', authorization_endpoint: 'https://x/a', token_endpoint: 'https://x/t', jwks_uri: 'https://x/k' }));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) };
}

test('every page, light and dark, desktop and 390 px: screenshots and no serious axe violation', { timeout: 600_000 }, async (t) => {
  const upstream = await wrongIssuer();
  t.after(() => upstream.close());
  const port = await freePort();
  const rp = relyingParty(await freePort());
  const values = [
    'tusk:',
    // Every page is shown 4 times (2 schemes × 2 sizes): more password
    // posts a minute than the default limit lets one address make.
    '  rateLimit:',
    '    passwordPerMinute: 0',
    '  branding:',
    '    productName: Acme Data',
    '    accentColor: "#0f766e"',
    'pachd:',
    `  oauthRedirectURI: http://127.0.0.1:${port}/authorization-code/callback`,
    'oidc:',
    '  upstreamIDPs:',
    '  - {id: local, name: Password, type: mockPassword, config: {username: admin, password: password}}',
    `  - {id: okta, name: Okta, type: oidc, config: {issuer: "${upstream.url}", clientID: tusk, clientSecret: s3cret-upstream, redirectURI: "http://127.0.0.1:${port}/dex/callback"}}`,
    '  additionalClients:',
    `  - {id: ${rp.id}, secret: ${rp.secret}, name: ${rp.name}, redirect_uris: ["${rp.redirectUri}"]}`,
    '',
  ].join('\n');
  const tusk = await startTusk({ port, values: [{ name: 'values.yaml', text: values }] });
  t.after(() => tusk.stop());
  await waitForConnector(tusk, 'okta', (c) => c.ok === false && !/^connecting/.test(c.error ?? ''));

  const ctx = {
    tusk, rp,
    auth: (extra = {}) => authUrl(tusk, rp, { state: 'st', nonce: 'no', extra }),
    async userCode() {
      const r = await fetch(`${tusk.issuer}/device/code`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${rp.id}:${rp.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'scope=openid',
      });
      assert.equal(r.status, 200, await r.clone().text());
      return (await r.json()).user_code;
    },
  };

  await mkdir(ARTIFACTS, { recursive: true });
  t.diagnostic(`screenshots: ${ARTIFACTS}`);
  const userDataDir = await mkdtemp(join(tmpdir(), 'tusk-pages-'));
  t.after(() => rm(userDataDir, { recursive: true, force: true }));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  t.after(() => browser.close());

  const failures = [];
  for (const row of PAGES) {
    for (const scheme of SCHEMES) {
      for (const vp of VIEWPORTS) {
        const label = `${row.name} ${scheme} ${vp.name}`;
        // The pages' CSP forbids inline scripts, which is how axe gets in;
        // only the test's own context bypasses it.
        const context = await browser.newContext({ viewport: { width: vp.width, height: vp.height }, colorScheme: scheme, bypassCSP: true });
        const foreign = [];
        await context.route(() => true, (route) => {
          const u = new URL(route.request().url());
          if (u.host !== `127.0.0.1:${port}`) {
            foreign.push(u.href);
            return route.abort();
          }
          return route.continue();
        });
        const page = await context.newPage();
        page.setDefaultTimeout(20_000);
        try {
          await page.emulateMedia({ colorScheme: scheme });
          await row.open(page, ctx);
          await page.getByRole('heading', { level: 1, name: row.heading }).waitFor();
          assert.equal(await page.getAttribute('html', 'lang'), 'en', `${label}: lang`);
          assert.ok((await page.title()).length > 0, `${label}: a title`);
          if (row.error) assert.match(await page.locator('.ref code').innerText(), /^[a-z0-9]{4}-[a-z0-9]{4}$/, `${label}: a reference id`);
          await row.check?.(page, ctx);
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          assert.ok(overflow <= 0, `${label}: ${overflow}px wider than the screen`);
          const shot = join(ARTIFACTS, `${row.name}-${scheme}-${vp.name}.png`);
          await page.screenshot({ path: shot, fullPage: true });
          await page.evaluate(AXE);
          const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
          const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
          for (const v of bad) failures.push(`${label}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
          assert.deepEqual(foreign, [], `${label}: requests outside tusk`);
        } catch (e) {
          e.message = `${label}: ${e.message}\n--- tusk log (last 20 lines) ---\n${tusk.log.slice(-20).join('\n')}`;
          throw e;
        } finally {
          await context.close();
        }
      }
    }
  }
  assert.deepEqual(failures, [], failures.join('\n'));
  assert.deepEqual(tusk.panics(), []);
  t.diagnostic(`${PAGES.length * SCHEMES.length * VIEWPORTS.length} screenshots in ${ARTIFACTS}`);
});
