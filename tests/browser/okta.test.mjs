// Issue 3, "Log in through Okta", end to end with real peers: headless
// Debian Chromium (playwright-core) logs in to a relying party through tusk,
// whose upstream `oidc` connector points at npm oidc-provider standing in
// for Okta (okta-standin.mjs). Bad upstream tokens come from a hand-written
// fake provider (lib/fake-op.mjs).
//
// Run: cargo build -p tusk-cli && tests/browser/run.sh
//  or: node --test tests/browser/   (after `npm ci` in tests/browser)
// $TUSK_BIN overrides target/debug/tusk; $CHROMIUM_PATH overrides /usr/bin/chromium.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as oidc from 'openid-client';

import { startStandin, DEFAULT_GROUPS } from './okta-standin.mjs';
import { browserLogin, openBrowser } from './lib/browser.mjs';
import { followLogin, SCENARIOS, startFakeOp } from './lib/fake-op.mjs';
import {
  HERE, authUrl, connectorCheck, decodeEntities, exchangeCode, freePort, htmlText, loggedDetail, pageReference,
  readyz, relyingParty, rpClientYaml, sleep, startTusk, upstreamYaml, valuesYaml, verifyIdToken, waitForConnector,
} from './lib/tusk.mjs';

const ARTIFACTS = join(HERE, 'artifacts');
const rand = () => randomBytes(12).toString('base64url');
const callbackOf = (port) => `http://127.0.0.1:${port}/dex/callback`;

/** Stops everything a test started, newest first, even when it fails. */
function cleanup(t) {
  const stack = [];
  t.after(async () => {
    for (const f of stack.reverse()) await f().catch(() => {});
  });
  return (thing) => { stack.push(() => thing.stop ? thing.stop() : thing.close()); return thing; };
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

/**
 * Logs `login` in through the browser, exchanges the code at tusk's /token
 * and checks the ID token: signature against tusk's JWKS, iss, aud, nonce,
 * and the upstream user's email, email_verified, name and groups.
 */
async function loginAndVerify({ tusk, rp, standin, login, connectorName, onChooser, groups = DEFAULT_GROUPS }) {
  const state = rand();
  const nonce = rand();
  const browser = await openBrowser();
  let got;
  try {
    got = await browserLogin({ browser, url: authUrl(tusk, rp, { state, nonce }), rp, standin, login, connectorName, onChooser });
  } finally {
    await browser.close();
  }
  assert.equal(got.state, state, 'tusk returns the relying party its state');
  assert.equal(got.iss, tusk.issuer, 'tusk names itself in the RFC 9207 iss parameter');
  const tokens = await exchangeCode(tusk, rp, got.code);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.access_token, 'an access token');
  const { payload } = await verifyIdToken(tusk, rp, tokens.id_token, nonce);
  assert.equal(payload.email, `${login}@example.com`, 'the upstream user\'s email');
  assert.equal(payload.email_verified, true);
  assert.deepEqual(payload.groups, groups, 'the upstream groups (insecureEnableGroups)');
  assert.equal(payload.name, `${login[0].toUpperCase()}${login.slice(1)} Example`);
  assert.equal(payload.preferred_username, login);
  return payload;
}

test('a. full browser login: relying party -> tusk -> Okta stand-in -> tusk -> relying party', { timeout: 180_000 }, async (t) => {
  const keep = cleanup(t);
  const tuskPort = await freePort();
  const rp = relyingParty(await freePort());
  const op = keep(await startStandin({ redirectUris: [callbackOf(tuskPort)] }));
  const tusk = keep(await startTusk({
    port: tuskPort,
    values: [{
      name: 'values.yaml',
      text: valuesYaml([{ id: 'okta', name: 'Okta', issuer: op.issuer, clientSecret: op.clientSecret, redirectURI: callbackOf(tuskPort) }], rp),
    }],
  }));
  await withLog(tusk, async () => {
    assert.equal(tusk.loggedIssuer, `http://127.0.0.1:${tuskPort}/dex`);
    await waitForConnector(tusk, 'okta', (c) => c.ok === true);
    const payload = await loginAndVerify({ tusk, rp, standin: op, login: 'ada' });
    assert.ok(payload.sub, 'a subject');

    // What went upstream: one authorization request with tusk's callback,
    // the configured scopes, a nonce and a PKCE S256 challenge; the code
    // was redeemed with client_secret_basic (the stand-in is not okta.com).
    assert.equal(op.authRequests.length, 1);
    const up = op.authRequests[0];
    assert.equal(up.client_id, 'tusk');
    assert.equal(up.redirect_uri, callbackOf(tuskPort));
    assert.equal(up.scope, 'openid profile email groups');
    assert.ok(up.nonce && up.nonce.length >= 16, 'tusk sends a nonce upstream');
    assert.equal(up.code_challenge_method, 'S256', 'tusk uses PKCE S256 when discovery advertises it');
    assert.deepEqual(op.tokenAuth, ['client_secret_basic']);
    assert.deepEqual(tusk.panics(), []);
  });
});

test('a2. client_secret_post when configured (basicAuthUnsupported, the rule tusk applies to Okta hosts)', { timeout: 180_000 }, async (t) => {
  const keep = cleanup(t);
  const tuskPort = await freePort();
  const rp = relyingParty(await freePort());
  const op = keep(await startStandin({ redirectUris: [callbackOf(tuskPort)] }));
  const tusk = keep(await startTusk({
    port: tuskPort,
    values: [{
      name: 'values.yaml',
      text: valuesYaml([{
        id: 'okta', name: 'Okta', issuer: op.issuer, clientSecret: op.clientSecret, redirectURI: callbackOf(tuskPort),
        extra: { basicAuthUnsupported: true },
      }], rp),
    }],
  }));
  await withLog(tusk, async () => {
    await waitForConnector(tusk, 'okta', (c) => c.ok === true);
    await loginAndVerify({ tusk, rp, standin: op, login: 'katherine' });
    assert.deepEqual(op.tokenAuth, ['client_secret_post']);
  });
});

test('b. issuer differs by a trailing slash: tusk starts, reports it, and the other upstream still logs in', { timeout: 240_000 }, async (t) => {
  const keep = cleanup(t);
  const tuskPort = await freePort();
  const fixedPort = await freePort(); // the second tusk, configured as the hint says
  const rp = relyingParty(await freePort());
  const callbacks = [callbackOf(tuskPort), callbackOf(fixedPort)];
  // A reports `http://127.0.0.1:<a>/`; B reports `http://127.0.0.1:<b>`.
  const opA = keep(await startStandin({ redirectUris: callbacks, trailingSlash: true }));
  const opB = keep(await startStandin({ redirectUris: callbacks }));
  assert.ok(opA.issuer.endsWith('/') && !opB.issuer.endsWith('/'));
  const upstreams = [
    // The config lacks the slash the provider reports.
    { id: 'okta-slash', name: 'Okta Slash', issuer: opA.issuer.replace(/\/$/, ''), clientSecret: opA.clientSecret, redirectURI: callbackOf(tuskPort) },
    // The seed's own case: the config has a slash the provider does not report.
    { id: 'okta-seed', name: 'Okta Seed', issuer: `${opB.issuer}/`, clientSecret: opB.clientSecret, redirectURI: callbackOf(tuskPort) },
    // Healthy.
    { id: 'okta', name: 'Okta', issuer: opB.issuer, clientSecret: opB.clientSecret, redirectURI: callbackOf(tuskPort) },
  ];
  const tusk = keep(await startTusk({ port: tuskPort, values: [{ name: 'values.yaml', text: valuesYaml(upstreams, rp) }] }));

  await withLog(tusk, async () => {
    const slash = await waitForConnector(tusk, 'okta-slash', (c) => c.ok === false && /trailing slash/.test(c.error ?? ''));
    const seed = await waitForConnector(tusk, 'okta-seed', (c) => c.ok === false && /trailing slash/.test(c.error ?? ''));
    await waitForConnector(tusk, 'okta', (c) => c.ok === true);
    t.diagnostic(`/readyz okta-slash: ${slash.error}`);
    t.diagnostic(`/readyz okta-seed: ${seed.error}`);

    // The go-oidc message an operator searches for, then the fix with the
    // exact value.
    assert.match(slash.error, /issuer did not match the issuer returned by provider/);
    assert.ok(slash.error.includes(`expected "${opA.issuer.replace(/\/$/, '')}" got "${opA.issuer}"`), slash.error);
    assert.ok(slash.error.includes(`reports its issuer with a trailing slash; set issuer to "${opA.issuer}"`), slash.error);
    assert.ok(seed.error.includes(`expected "${opB.issuer}/" got "${opB.issuer}"`), seed.error);
    assert.ok(seed.error.includes(`reports its issuer without a trailing slash; set issuer to "${opB.issuer}"`), seed.error);

    // A broken connector does not make tusk unready or crash it.
    const body = await readyz(tusk);
    assert.equal(body.ready, true, JSON.stringify(body));
    assert.equal(connectorCheck(body, 'okta').ok, true);
    assert.equal(tusk.exited, null);

    // A direct visit to the broken connector gets a clear page, not a 5xx trace.
    const chooser = await fetch(authUrl(tusk, rp, { state: rand(), nonce: rand() }), { signal: AbortSignal.timeout(10_000) });
    assert.equal(chooser.status, 200);
    const html = await chooser.text();
    const href = decodeEntities(html).match(/href="([^"]*\/auth\/okta\?req=[^"]+)"/)?.[1];
    assert.ok(href, `the chooser links the healthy connector: ${htmlText(html)}`);
    // The login-binding cookie /auth set: the same "browser" goes on.
    const cookie = chooser.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const direct = await fetch(new URL(href.replace('/auth/okta?', '/auth/okta-slash?'), tusk.base), { redirect: 'manual', signal: AbortSignal.timeout(10_000), headers: { cookie } });
    const directText = htmlText(await direct.text());
    assert.equal(direct.status, 503, directText);
    assert.match(direct.headers.get('content-type'), /text\/html/);
    // Issue 15: a wrong issuer is a setup fault, said in plain words; the
    // cause and the fix are in the log under the page's reference.
    assert.match(directText, /Okta Slash sign-in isn't set up correctly/);
    assert.doesNotMatch(directText, /issuer did not match|temporarily/);
    assert.match(loggedDetail(tusk, pageReference(directText)), /issuer did not match.*trailing slash/);

    // The browser: the chooser shows both broken connectors as not set up
    // correctly (no button; the cause and the hint are in /readyz and the
    // log, not on the page), and the healthy one logs a user in.
    await loginAndVerify({
      tusk, rp, standin: opB, login: 'grace', connectorName: 'Okta',
      onChooser: async (page) => {
        const notes = page.locator('.method.off');
        await notes.first().waitFor();
        const texts = await notes.allInnerTexts();
        assert.equal(texts.length, 2, texts.join('\n'));
        for (const name of ['Okta Slash', 'Okta Seed']) {
          assert.ok(texts.some((s) => s.startsWith(name) && /isn't set up correctly/i.test(s) && !s.includes('issuer did not match')), texts.join('\n'));
        }
        assert.equal(await page.getByRole('link', { name: /Okta Slash|Okta Seed/ }).count(), 0, 'no login button for a broken connector');
        await mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, 'chooser-unavailable.png'), fullPage: true });
      },
    });
    assert.deepEqual(tusk.panics(), []);
  });

  // The hint's value is the fix: a tusk configured with it logs in through A.
  const fixed = keep(await startTusk({
    port: fixedPort,
    values: [{
      name: 'values.yaml',
      text: valuesYaml([{ id: 'okta', name: 'Okta', issuer: opA.issuer, clientSecret: opA.clientSecret, redirectURI: callbackOf(fixedPort) }], rp),
    }],
  }));
  await withLog(fixed, async () => {
    await waitForConnector(fixed, 'okta', (c) => c.ok === true);
    await loginAndVerify({ tusk: fixed, rp, standin: opA, login: 'linus' });
  });
});

test('c. upstream unreachable at start recovers without a restart', { timeout: 180_000 }, async (t) => {
  const keep = cleanup(t);
  const tuskPort = await freePort();
  const opPort = await freePort(); // nothing listens here yet
  const rp = relyingParty(await freePort());
  const secret = rand();
  const tusk = keep(await startTusk({
    port: tuskPort,
    values: [{
      name: 'values.yaml',
      text: valuesYaml([{ id: 'okta', name: 'Okta', issuer: `http://127.0.0.1:${opPort}`, clientSecret: secret, redirectURI: callbackOf(tuskPort) }], rp),
    }],
  }));
  await withLog(tusk, async () => {
    // The first attempt failed (not merely "connecting").
    const down = await waitForConnector(tusk, 'okta', (c) => c.ok === false && !/^connecting/.test(c.error ?? ''));
    t.diagnostic(`/readyz okta while down: ${down.error}`);
    assert.ok(down.error.includes(`127.0.0.1:${opPort}`), `the error names the provider: ${down.error}`);
    // Its only connector cannot log anyone in: not ready (issue 12), so a
    // load balancer sends logins elsewhere, but alive, so Kubernetes does
    // not restart it for an upstream outage.
    const body = await readyz(tusk);
    assert.equal(body.ready, false, JSON.stringify(body));
    assert.equal(body.reason, 'no_connector_available', JSON.stringify(body));
    const healthz = await fetch(`${tusk.base}/healthz`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(healthz.status, 200);

    // Meanwhile a user gets a clear "unavailable right now" page.
    const during = await followLogin(authUrl(tusk, rp, { state: rand(), nonce: rand() }), rp.redirectUri);
    const text = htmlText(during.body ?? '');
    assert.equal(during.status, 503, text);
    assert.match(during.contentType, /text\/html/);
    assert.match(text, /Okta sign-in is unavailable right now/);
    assert.match(loggedDetail(tusk, pageReference(text)), new RegExp(`127\\.0\\.0\\.1:${opPort}`));

    // A short outage: the stand-in comes up a few seconds later.
    await sleep(3_000);
    const op = keep(await startStandin({ port: opPort, clientSecret: secret, redirectUris: [callbackOf(tuskPort)] }));
    assert.equal(op.port, opPort);
    await waitForConnector(tusk, 'okta', (c) => c.ok === true, { timeoutMs: 75_000, intervalMs: 500 });
    assert.equal((await readyz(tusk)).ready, true, 'ready again once the upstream answers');
    await loginAndVerify({ tusk, rp, standin: op, login: 'barbara' });
    assert.deepEqual(tusk.panics(), []);
  });
});

/**
 * Asserts `r` (a followLogin result) is tusk's 4xx HTML login error page:
 * plain words (`title`) and a reference, with the cause (`pattern`) in the
 * log under that reference, never on the page (issue 15).
 */
function assertLoginErrorPage(tusk, r, pattern, { title = /isn't set up correctly/, diag } = {}) {
  assert.equal(r.redirectedTo, undefined, 'no one may be logged in');
  const text = htmlText(r.body);
  const reference = pageReference(text);
  assert.ok(reference, `a reference id: ${text}`);
  const detail = loggedDetail(tusk, reference);
  diag?.(`${r.status}: ${text.replace(/^.*? · \S+ /, '')} | log: ${detail}`);
  assert.ok(r.status >= 400 && r.status < 500, `expected a 4xx, got ${r.status}: ${text}`);
  assert.match(r.contentType, /text\/html/);
  assert.match(text, title);
  assert.match(detail, pattern);
  assert.doesNotMatch(text, /connector `|oidc:|failed to/, 'no internal chain on the page');
  assert.doesNotMatch(text, /panicked|stack backtrace|RUST_BACKTRACE/);
  assert.equal(tusk.exited, null, 'tusk is still running');
}

test('d. bad upstream ID tokens end on a tusk login error page (4xx HTML), never a 5xx or a panic', { timeout: 180_000 }, async (t) => {
  const keep = cleanup(t);
  const tuskPort = await freePort();
  const rp = relyingParty(await freePort());
  const fake = keep(await startFakeOp());
  const tusk = keep(await startTusk({
    port: tuskPort,
    values: [{
      name: 'values.yaml',
      text: valuesYaml([
        { id: 'fake', name: 'Fake OP', issuer: fake.issuer, clientID: fake.clientId, clientSecret: fake.clientSecret, redirectURI: callbackOf(tuskPort) },
        { id: 'fake-wrong-secret', name: 'Fake OP (wrong secret)', issuer: fake.issuer, clientID: fake.clientId, clientSecret: 'not-the-secret', redirectURI: callbackOf(tuskPort) },
      ], rp),
    }],
  }));
  await waitForConnector(tusk, 'fake', (c) => c.ok === true);
  await waitForConnector(tusk, 'fake-wrong-secret', (c) => c.ok === true);
  // Two connectors: `connector_id` preselects one, skipping the chooser.
  const start = (connector = 'fake', nonce = rand()) => authUrl(tusk, rp, { state: rand(), nonce, extra: { connector_id: connector } });

  // What each bad property must be reported as (the page's text).
  const expected = {
    'wrong-aud': /expected audience "tusk" got \["someone-else"\]/,
    expired: /failed to verify ID token: token expired at/,
    'bad-signature': /failed to verify ID token: token signature does not verify/,
    'missing-nonce': /the ID token has no nonce although the login sent one/,
    'wrong-nonce': /the ID token's nonce does not match the one this login sent/,
    'wrong-iss': /id token issued by a different provider/,
    'alg-none': /"alg": "none" \(unsigned\); unsigned tokens are never accepted/,
    denied: /access_denied: User is not assigned to the client application/,
  };

  await t.test('control: a correct token from the fake provider logs in; replaying its callback does not', async (st) => {
    await withLog(tusk, async () => {
      fake.scenario = 'good';
      const nonce = rand();
      const r = await followLogin(start('fake', nonce), rp.redirectUri);
      assert.ok(r.redirectedTo, `expected a redirect to the relying party, got ${r.status}: ${htmlText(r.body ?? '')}`);
      const code = new URL(r.redirectedTo).searchParams.get('code');
      const tokens = await exchangeCode(tusk, rp, code);
      const { payload } = await verifyIdToken(tusk, rp, tokens.id_token, nonce);
      assert.equal(payload.email, 'mallory@example.com');
      assert.deepEqual(payload.groups, ['data-scientists']);

      // The browser's back button or an attacker replays the upstream's
      // redirect to tusk's callback: the login was used up.
      const callback = r.hops.find((u) => u.startsWith(`${tusk.issuer}/callback`));
      assert.ok(callback, r.hops.join('\n'));
      const again = await followLogin(callback, rp.redirectUri, { jar: r.jar });
      assertLoginErrorPage(tusk, again, /expired|already/i, { title: /This sign-in has expired/, diag: (m) => st.diagnostic(m) });
    });
  });

  for (const [scenario, pattern] of Object.entries(expected)) {
    await t.test(`${scenario} (${SCENARIOS[scenario]})`, async (st) => {
      await withLog(tusk, async () => {
        fake.scenario = scenario;
        const r = await followLogin(start(), rp.redirectUri);
        assert.ok(r.url?.startsWith(`${tusk.issuer}/callback`), `the error is tusk's callback page: ${r.url ?? r.redirectedTo}`);
        const title = scenario === 'denied' ? /Fake OP did not let you sign in/ : /Fake OP sign-in isn't set up correctly/;
        assertLoginErrorPage(tusk, r, pattern, { title, diag: (m) => st.diagnostic(m) });
        assert.match(loggedDetail(tusk, pageReference(r.body)), /the login through connector `fake` failed/);
      });
    });
  }

  await t.test('the upstream refuses tusk\'s client secret (invalid_client at its token endpoint)', async (st) => {
    await withLog(tusk, async () => {
      fake.scenario = 'good';
      const r = await followLogin(start('fake-wrong-secret'), rp.redirectUri);
      assertLoginErrorPage(tusk, r, /failed to get token: .*invalid_client/, { diag: (m) => st.diagnostic(m) });
      assert.doesNotMatch(htmlText(r.body), /not-the-secret/, 'the client secret never shows');
    });
  });

  assert.deepEqual(tusk.panics(), []);
  // Every bad token was minted for a login that carried a nonce and PKCE.
  assert.ok(fake.seen.every((s) => s.nonce && s.pkce === 'S256'), JSON.stringify(fake.seen));
});

// The seed document's examples (Pachyderm's Okta guide), verbatim apart from
// the placeholders: issuer -> the stand-in (run with a trailing-slash issuer,
// the form the guide's value has), redirectURI -> tusk's callback. The client
// id and secret stay the guide's; the stand-in registers them. The relying
// party client comes from a second values file, layered like `helm -f`.
const SEED_YAML = `oidc:
  upstreamIDPs:
  - type: oidc
    id: okta
    name: Okta
    config:
        issuer: https://trial-1839456.okta.com/
        clientID: 0oa74mh2scJf29qOD697
        clientSecret: VNwbzOBltNcaotD2CU5iRyTuqOPpwLR-RC16ai7wakta95W00p7X5HYkEgS_5UWH
        redirectURI: https://<proxy.host.value.com>/dex/callback 
        insecureEnableGroups: true
        insecureSkipEmailVerified: true
        insecureSkipIssuerCallbackDomainCheck: false
`;
const SEED_JSON = `{
  "oidc": {
    "upstreamIDPs": [
      {
        "type": "oidc",
        "id": "okta",
        "name": "Okta",
        "config": {
          "issuer": "https://trial-1839456.okta.com/",
          "clientID": "0oa74mh2scJf29qOD697",
          "clientSecret": "VNwbzOBltNcaotD2CU5iRyTuqOPpwLR-RC16ai7wakta95W00p7X5HYkEgS_5UWH",
          "redirectURI": "https://<proxy.host.value.com>/dex/callback",
          "insecureEnableGroups": true,
          "insecureSkipEmailVerified": true,
          "insecureSkipIssuerCallbackDomainCheck": false
        }
      }
    ]
  }
}
`;

test('e. the seed\'s YAML and JSON configs, pointed at the stand-in, log a user in', { timeout: 240_000 }, async (t) => {
  const keep = cleanup(t);
  const ports = { yaml: await freePort(), json: await freePort() };
  const rp = relyingParty(await freePort());
  // The seed sets no `scopes`, so tusk asks for openid profile email; the
  // groups then come from the app's groups claim, as an Okta app with a
  // groups claim filter sends them (groupsClaim 'always').
  const op = keep(await startStandin({
    redirectUris: Object.values(ports).map(callbackOf),
    trailingSlash: true,
    clientId: '0oa74mh2scJf29qOD697',
    clientSecret: 'VNwbzOBltNcaotD2CU5iRyTuqOPpwLR-RC16ai7wakta95W00p7X5HYkEgS_5UWH',
    groupsClaim: 'always',
  }));
  const fill = (text, port) => text
    .replaceAll('https://trial-1839456.okta.com/', op.issuer)
    .replaceAll('https://<proxy.host.value.com>/dex/callback', callbackOf(port));

  for (const [kind, seed, file] of [['yaml', SEED_YAML, 'okta-values.yaml'], ['json', SEED_JSON, 'okta-values.json']]) {
    await t.test(`${kind}`, async () => {
      const text = fill(seed, ports[kind]);
      assert.ok(text.includes(op.issuer) && !text.includes('<'), text);
      if (kind === 'json') JSON.parse(text);
      const tusk = await startTusk({ port: ports[kind], values: [{ name: file, text }, { name: 'rp-client.yaml', text: rpClientYaml(rp) }] });
      try {
        await withLog(tusk, async () => {
          await waitForConnector(tusk, 'okta', (c) => c.ok === true);
          const before = op.authRequests.length;
          await loginAndVerify({ tusk, rp, standin: op, login: kind === 'yaml' ? 'yolanda' : 'jason' });
          assert.equal(op.authRequests[before].scope, 'openid profile email', 'the default scopes');
          assert.deepEqual(tusk.panics(), []);
        });
      } finally {
        await tusk.stop();
      }
    });
  }
});

// Issue 5's doctor check against the real stand-in: `tusk doctor --values`
// first with the seed's trailing-slash mismatch (the hint and the exact
// value must be printed, exit 1), then fixed (every connector check passes).
test('f. tusk doctor against the Okta stand-in: trailing-slash hint, then fixed', { timeout: 120_000 }, async (t) => {
  const { execFile } = await import('node:child_process');
  const { writeFile, mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const keep = cleanup(t);
  // doctor checks the redirect URI against the issuer tusk would derive
  // from its default --listen, so register that callback at the stand-in.
  const callback = 'http://127.0.0.1:30650/dex/callback';
  const op = keep(await startStandin({ redirectUris: [callback], trailingSlash: true }));
  const dir = await mkdtemp(join(tmpdir(), 'tusk-doctor-'));
  const bin = process.env.TUSK_BIN || join(HERE, '..', '..', 'target', 'debug', 'tusk');
  const doctor = async (issuer) => {
    const file = join(dir, `values-${rand()}.yaml`);
    await writeFile(file, [
      'oidc:',
      '  upstreamIDPs:',
      `  - {type: oidc, id: okta, name: Okta, config: {issuer: "${issuer}", clientID: ${op.clientId}, clientSecret: ${op.clientSecret}, redirectURI: "${callback}", insecureEnableGroups: true}}`,
      '',
    ].join('\n'));
    return await new Promise((resolve) => {
      execFile(bin, ['doctor', '--values', file], { timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (err.code ?? 1) : 0, out: `${stdout}${stderr}` });
      });
    });
  };
  const withoutSlash = op.issuer.replace(/\/$/, '');
  const broken = await doctor(withoutSlash);
  t.diagnostic(`doctor with the mismatch (exit ${broken.code}):\n${broken.out}`);
  assert.equal(broken.code, 1, broken.out);
  assert.match(broken.out, /trailing slash/, broken.out);
  assert.ok(broken.out.includes(op.issuer), `the exact value ${op.issuer} must be printed:\n${broken.out}`);
  const fixed = await doctor(op.issuer);
  t.diagnostic(`doctor after the fix (exit ${fixed.code}):\n${fixed.out}`);
  assert.doesNotMatch(fixed.out, /FAIL/, fixed.out);
  assert.equal(fixed.code, 0, fixed.out);
  assert.doesNotMatch(fixed.out, new RegExp(op.clientSecret), 'doctor must never print the client secret');
});

// Issue 14's two Okta-path gaps, with the document's connector fields (no
// `scopes` key) against the stand-in, which like Okta issues an upstream
// refresh token only for `offline_access`:
// 1. the relying party asks for offline_access, tusk asks it upstream, and a
//    certified relying party (openid-client) refreshes through tusk;
// 2. the login's groups reach the auth plane (`tusk auth login --id-token`
//    with an ID token issued to pachd through the trusted-peer scope), a
//    `group:data-team` binding grants, and after the upstream groups change
//    a refresh and a new login replace the groups and the grant is gone.
test('g. document config: offline_access goes upstream, openid-client refreshes, IdP groups grant and stop granting', { timeout: 240_000 }, async (t) => {
  const keep = cleanup(t);
  const tuskPort = await freePort();
  const rp = relyingParty(await freePort());
  const op = keep(await startStandin({ redirectUris: [callbackOf(tuskPort)], groupsClaim: 'always', groups: ['data-team'] }));
  const upstream = upstreamYaml({ id: 'okta', name: 'Okta', issuer: op.issuer, clientSecret: op.clientSecret, redirectURI: callbackOf(tuskPort), scopes: null });
  // Values activate auth (as Pachyderm's chart does) with this root token.
  const rootToken = rand();
  assert.ok(!upstream.includes('scopes'), upstream);
  const tusk = keep(await startTusk({
    port: tuskPort,
    values: [{ name: 'values.yaml', text: `${valuesYaml([], rp).replace('  upstreamIDPs:\n', `  upstreamIDPs:\n${upstream}\n`)}pachd:\n  rootToken: ${rootToken}\n  additionalTrustedPeers: [${rp.id}]\n` }],
  }));
  const dir = await mkdtemp(join(tmpdir(), 'tusk-okta-g-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const address = `grpc://127.0.0.1:${tuskPort}`;
  const cli = async (config, args, input) => {
    const env = { ...process.env, PACH_CONFIG: join(dir, `${config}.json`), TUSK_ADDRESS: address };
    for (const k of Object.keys(env)) if (k.startsWith('TUSK_') && k !== 'TUSK_ADDRESS') delete env[k];
    const r = spawnSync(tusk.bin, args, { env, input, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const ok = async (config, args, input) => {
    const r = await cli(config, args, input);
    assert.equal(r.code, 0, `tusk ${args.join(' ')}: ${r.out}`);
    return r.out;
  };

  await withLog(tusk, async () => {
    await waitForConnector(tusk, 'okta', (c) => c.ok === true);
    const state = rand();
    const nonce = rand();
    const browser = await openBrowser();
    let got;
    try {
      got = await browserLogin({
        browser, rp, standin: op, login: 'dana',
        url: authUrl(tusk, rp, { state, nonce, scope: 'openid email profile groups offline_access audience:server:client_id:pachd' }),
      });
    } finally {
      await browser.close();
    }
    assert.equal(op.authRequests.at(-1).scope, 'openid profile email offline_access', 'tusk asks offline_access upstream');
    const tokens = await exchangeCode(tusk, rp, got.code);
    assert.ok(tokens.refresh_token, 'tusk issues a refresh token for offline_access');

    // A certified relying party refreshes through tusk, which refreshes upstream.
    const config = await oidc.discovery(new URL(tusk.issuer), rp.id, rp.secret, undefined, { execute: [oidc.allowInsecureRequests] });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.id_token && refreshed.refresh_token, JSON.stringify(Object.keys(refreshed)));
    assert.deepEqual(refreshed.claims().groups, ['data-team']);
    assert.ok([refreshed.claims().aud].flat().includes('pachd'), 'the ID token is issued to pachd too');

    // The auth plane (activated by the values): bind group:data-team as
    // root, then log the user in.
    await ok('root', ['auth', 'use-auth-token'], `${rootToken}\n`);
    await ok('root', ['auth', 'set', 'project', 'default', 'projectViewer', 'group:data-team']);
    await ok('user', ['auth', 'login', '--id-token', refreshed.id_token]);
    assert.match(await ok('user', ['auth', 'whoami']), /user:dana@example\.com/);
    assert.match(await ok('user', ['auth', 'get-groups']), /group:data-team/);
    assert.match(await ok('user', ['auth', 'check', 'project', 'default']), /projectViewer/);

    // The upstream moves the user out of data-team: the next refresh brings
    // the new groups, and the next login replaces them in the auth plane.
    op.setGroups(['other-team']);
    const again = await oidc.refreshTokenGrant(config, refreshed.refresh_token);
    assert.deepEqual(again.claims().groups, ['other-team']);
    await ok('user', ['auth', 'login', '--id-token', again.id_token]);
    const groups = await ok('user', ['auth', 'get-groups']);
    assert.match(groups, /group:other-team/);
    assert.doesNotMatch(groups, /data-team/);
    assert.doesNotMatch(await ok('user', ['auth', 'check', 'project', 'default']), /projectViewer/);
    assert.deepEqual(tusk.panics(), []);
  });
});
