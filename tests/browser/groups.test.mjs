// Issue 14, "groups that grant", proven through the official client: a
// Chromium login through the Okta stand-in with Pachyderm's own login flow
// (GetOIDCLogin -> browser -> Authenticate(oidc_state), all driven by
// pachyderm-sdk 2.12.2 in Python, lib/pach_sdk.py), then the SDK sees the
// IdP group (GetGroups) and a `group:` role binding grant (GetPermissions,
// Authorize). When the stand-in's groups change (`setGroups`), the grant is
// gone (a) after a downstream refresh through tusk by another relying party
// of the same user (npm openid-client), and (b) after a new login.
//
// Run: cargo build -p tusk-cli && tests/browser/run.sh
// The SDK comes from tests/sdk/.venv (run.sh creates it through
// tests/sdk/venv.sh); $TUSK_SDK_PYTHON overrides its python.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';

import * as oidc from 'openid-client';

import { startStandin } from './okta-standin.mjs';
import { browserLogin, openBrowser, standinLogin } from './lib/browser.mjs';
import {
  HERE, REPO, authUrl, exchangeCode, freePort, relyingParty, startTusk, upstreamYaml, valuesYaml,
  waitForConnector,
} from './lib/tusk.mjs';

const PYTHON = process.env.TUSK_SDK_PYTHON || join(REPO, 'tests', 'sdk', '.venv', 'bin', 'python');
const SDK = join(HERE, 'lib', 'pach_sdk.py');
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
 * Runs lib/pach_sdk.py with `args` (the token in $PACH_TOKEN). Returns the
 * process, an async iterator of its JSON lines, and its exit.
 */
function sdkProcess(args, token) {
  const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  delete env.PACH_TOKEN;
  if (token) env.PACH_TOKEN = token;
  const child = spawn(PYTHON, [SDK, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exit = new Promise((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
    child.once('error', (error) => res({ error }));
  });
  const fail = (what) => new Error(`pachyderm-sdk ${args[0]}: ${what}\n--- stderr ---\n${stderr}`);
  return {
    child,
    exit,
    async next() {
      const r = await Promise.race([lines.next(), exit.then((e) => ({ done: true, exit: e }))]);
      if (r.done) throw fail(`ended without output (${JSON.stringify(r.exit ?? {})})`);
      return JSON.parse(r.value);
    },
    async done() {
      const e = await exit;
      if (e.error || e.code !== 0) throw fail(`exited ${JSON.stringify(e.error?.message ?? e)}`);
    },
  };
}

async function sdk(args, token) {
  const p = sdkProcess(args, token);
  const out = await p.next();
  await p.done();
  return out;
}

/**
 * Pachyderm's login as the SDK does it: GetOIDCLogin, the browser to its
 * URL (the stand-in's forms, back to tusk's /authorization-code/callback),
 * while Authenticate(oidc_state) waits; returns the session token.
 */
async function pachydermLogin(address, standin, login) {
  const p = sdkProcess(['login', address]);
  try {
    const { url, state } = await p.next();
    assert.ok(url.startsWith(`http://${address}/dex/auth?`), url);
    assert.match(state, /^[A-Za-z0-9]{30}$/);
    const browser = await openBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(url);
      await standinLogin(page, standin, login);
      await page.waitForURL((u) => u.pathname === '/authorization-code/callback', { timeout: 30_000 });
      // The reference's sentence, in the pages' one design (issue 15).
      assert.equal((await page.locator('p[role=status]').innerText()).trim(),
        'You are now logged in. Go back to the terminal to use Pachyderm!');
    } finally {
      await browser.close();
    }
    const { token } = await p.next();
    await p.done();
    assert.match(token, /^[0-9a-f]{32}$/);
    return token;
  } finally {
    p.child.kill();
  }
}

test('h. IdP groups grant through a group: binding, seen by pachyderm-sdk, and stop after a refresh and after a new login', { timeout: 300_000 }, async (t) => {
  const keep = cleanup(t);
  const tuskPort = await freePort();
  const address = `127.0.0.1:${tuskPort}`;
  const rp = relyingParty(await freePort());
  const op = keep(await startStandin({ redirectUris: [callbackOf(tuskPort)], groupsClaim: 'always', groups: ['ml-team'] }));
  // The document's connector fields (no `scopes` key); values activate auth.
  const upstream = upstreamYaml({ id: 'okta', name: 'Okta', issuer: op.issuer, clientSecret: op.clientSecret, redirectURI: callbackOf(tuskPort), scopes: null });
  const rootToken = rand();
  const tusk = keep(await startTusk({
    port: tuskPort,
    values: [{ name: 'values.yaml', text: `${valuesYaml([], rp).replace('  upstreamIDPs:\n', `  upstreamIDPs:\n${upstream}\n`)}pachd:\n  rootToken: ${rootToken}\n` }],
  }));
  const dir = await mkdtemp(join(tmpdir(), 'tusk-groups-h-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  await withLog(tusk, async () => {
    await waitForConnector(tusk, 'okta', (c) => c.ok === true);
    // As PFS does when a project is created, tell tusk about one (the
    // SDK's PFS calls have no server here); root owns it.
    const env = { ...process.env, PACH_CONFIG: join(dir, 'root.json'), TUSK_ADDRESS: `grpc://${address}` };
    for (const k of Object.keys(env)) if (k.startsWith('TUSK_') && k !== 'TUSK_ADDRESS') delete env[k];
    for (const [args, input] of [[['auth', 'use-auth-token'], `${rootToken}\n`], [['resource', 'create', 'project', 'research']]]) {
      const r = spawnSync(tusk.bin, args, { env, input, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `tusk ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    const state = (token) => sdk(['state', address, 'research'], token);

    // 1. Pachyderm's login flow through the SDK and Chromium: the IdP group
    //    is in the auth plane; a binding to it grants.
    const first = await pachydermLogin(address, op, 'dana');
    let s = await state(first);
    assert.equal(s.who, 'user:dana@example.com');
    assert.deepEqual(s.groups, ['group:ml-team']);
    assert.equal(s.authorized, false, 'nothing grants before the binding');
    await sdk(['bind', address, 'research', 'group:ml-team', 'projectViewer'], rootToken);
    s = await state(first);
    assert.ok(s.roles.includes('projectViewer'), JSON.stringify(s));
    assert.equal(s.authorized, true, 'group:ml-team grants PROJECT_LIST_REPO');

    // Another relying party of the same user holds a refresh token.
    const browser = await openBrowser();
    let got;
    try {
      got = await browserLogin({ browser, rp, standin: op, login: 'dana', url: authUrl(tusk, rp, { state: rand(), nonce: rand(), scope: 'openid email profile groups offline_access' }) });
    } finally {
      await browser.close();
    }
    const tokens = await exchangeCode(tusk, rp, got.code);
    assert.ok(tokens.refresh_token, 'a refresh token for offline_access');
    const config = await oidc.discovery(new URL(tusk.issuer), rp.id, rp.secret, undefined, { execute: [oidc.allowInsecureRequests] });

    // 2a. The IdP moves dana out of ml-team; that relying party refreshes
    //     through tusk: the auth plane's groups are replaced, the grant goes.
    op.setGroups(['other-team']);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.deepEqual(refreshed.claims().groups, ['other-team']);
    s = await state(first);
    assert.deepEqual(s.groups, ['group:other-team'], 'replaced on refresh, not merged');
    assert.ok(!s.roles.includes('projectViewer'), JSON.stringify(s));
    assert.equal(s.authorized, false, 'the grant is gone after the refresh');

    // Back in ml-team: the next refresh grants again.
    op.setGroups(['ml-team']);
    await oidc.refreshTokenGrant(config, refreshed.refresh_token);
    s = await state(first);
    assert.deepEqual(s.groups, ['group:ml-team']);
    assert.equal(s.authorized, true);

    // 2b. Out of ml-team again, and a new Pachyderm login (no refresh).
    op.setGroups(['qa-team']);
    const second = await pachydermLogin(address, op, 'dana');
    for (const token of [second, first]) {
      s = await state(token);
      assert.deepEqual(s.groups, ['group:qa-team'], 'replaced on login');
      assert.equal(s.authorized, false, 'the grant is gone after the new login');
    }
    assert.deepEqual(tusk.panics(), []);
  });
});
