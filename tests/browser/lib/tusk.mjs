// Starts a real `tusk serve` for the browser tests, and small helpers to
// talk to it: free ports, /readyz polling, the token endpoint, ID tokens.
//
// The server listens on a port picked here (the upstream redirect URI
// `<issuer>/callback` must be known before tusk starts), logs JSON, and we
// read its stderr until the "tusk is serving" line. Every log line is kept
// so a failing test can show what the server said.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';

export const HERE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(HERE, '..', '..');

// Pachyderm's environment variables that tusk reads: a developer's shell
// must not leak them into the server under test.
const PACHYDERM_ENV = [
  'IDP_CONNECTORS', 'IDP_CONFIG', 'IDP_CLIENTS', 'IDP_ADDITIONAL_CLIENTS', 'TRUSTED_PEERS',
  'ACTIVATE_AUTH', 'AUTH_ROOT_TOKEN', 'AUTH_CONFIG', 'AUTH_CLIENT_SECRET', 'AUTH_CLUSTER_RBAC',
  'CONSOLE_OAUTH_ID', 'CONSOLE_OAUTH_SECRET', 'SESSION_DURATION_MINUTES', 'LICENSE_KEY',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort() {
  const srv = createServer();
  await new Promise((res, rej) => { srv.once('error', rej); srv.listen(0, '127.0.0.1', res); });
  const { port } = srv.address();
  await new Promise((res) => srv.close(res));
  return port;
}

/**
 * Spawns `tusk serve --listen 127.0.0.1:<port>` and resolves once it serves.
 * @param {object} o
 * @param {number} o.port
 * @param {{name: string, text: string}[]} o.values  values files, in order (`--values` each)
 */
export async function startTusk({ port, values, bin = process.env.TUSK_BIN || join(REPO, 'target', 'debug', 'tusk'), startTimeoutMs = 60_000 }) {
  const dir = await mkdtemp(join(tmpdir(), 'tusk-browser-'));
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--log-format', 'json', '--data-dir', join(dir, 'data')];
  for (const v of values) {
    const file = join(dir, v.name);
    await writeFile(file, v.text);
    args.push('--values', file);
  }
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('TUSK_') || PACHYDERM_ENV.includes(k)) delete env[k];
  }
  env.RUST_LOG ??= 'info';
  env.RUST_BACKTRACE ??= '1';

  const child = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let exited = null;
  const reap = () => {
    if (!exited) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', reap);
  const exitPromise = new Promise((res) => {
    child.once('exit', (code, signal) => { exited = { code, signal }; res(exited); });
    child.once('error', (error) => { exited = { error }; res(exited); });
  });
  const log = [];
  const serving = new Promise((res, rej) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      log.push(line);
      let v;
      try { v = JSON.parse(line); } catch { return; }
      if (v?.fields?.message === 'tusk is serving') res(v.fields);
    });
    exitPromise.then((e) => rej(new Error(
      `tusk exited before serving (${e.error ? e.error.message : `code ${e.code}, signal ${e.signal}`}); binary ${bin}\n--- tusk log ---\n${log.join('\n')}`)));
  });
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`tusk did not log "tusk is serving" within ${startTimeoutMs} ms\n--- tusk log ---\n${log.join('\n')}`)), startTimeoutMs);
  });
  let fields;
  try {
    fields = await Promise.race([serving, timeout]);
  } catch (err) {
    process.removeListener('exit', reap);
    if (!exited) child.kill('SIGKILL');
    await exitPromise;
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const base = `http://${fields.listen}`;
  return {
    base,
    bin,
    issuer: `${base}/dex`,
    loggedIssuer: fields.issuer,
    log,
    get exited() { return exited; },
    /** Log lines that mention a panic or a backtrace: must stay empty. */
    panics() { return log.filter((l) => /panicked|stack backtrace|RUST_BACKTRACE/i.test(l)); },
    async stop({ timeoutMs = 15_000 } = {}) {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, timeoutMs);
        await exitPromise;
        clearTimeout(t);
      }
      process.removeListener('exit', reap);
      await rm(dir, { recursive: true, force: true });
      return exited;
    },
  };
}

/** GET /readyz (it answers JSON with 200 or 503). */
export async function readyz(tusk) {
  const r = await fetch(`${tusk.base}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return r.json();
}

export function connectorCheck(body, id) {
  return (body?.checks?.connectors ?? []).find((c) => c.id === id);
}

/**
 * Polls /readyz until `pred(connectorEntry)` holds for connector `id`.
 * Resolves with the entry; rejects with the last body after `timeoutMs`.
 */
export async function waitForConnector(tusk, id, pred, { timeoutMs = 30_000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await readyz(tusk);
      const c = connectorCheck(last, id);
      if (c && pred(c)) return c;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline) {
      throw new Error(`connector ${id} did not reach the expected state within ${timeoutMs} ms; last /readyz: ${JSON.stringify(last)}`);
    }
    await sleep(intervalMs);
  }
}

/** The downstream relying party: a client registered in tusk. */
export function relyingParty(port) {
  return { id: 'rp', secret: 'rp-secret-0123456789', name: 'Test RP', redirectUri: `http://127.0.0.1:${port}/cb` };
}

export function rpClientYaml(rp) {
  return [
    'oidc:',
    '  additionalClients:',
    `  - id: ${rp.id}`,
    `    secret: ${rp.secret}`,
    `    name: ${rp.name}`,
    '    trusted: true',
    `    redirect_uris: ["${rp.redirectUri}"]`,
    '',
  ].join('\n');
}

/** YAML for one upstream `oidc` connector entry (list item, 2-space indent). */
export function upstreamYaml({ id, name, issuer, clientID = 'tusk', clientSecret, redirectURI, scopes = ['openid', 'profile', 'email', 'groups'], extra = {} }) {
  const lines = [
    `  - type: oidc`,
    `    id: ${id}`,
    `    name: ${name}`,
    `    config:`,
    `      issuer: ${issuer}`,
    `      clientID: ${clientID}`,
    `      clientSecret: ${clientSecret}`,
    `      redirectURI: ${redirectURI}`,
    `      insecureEnableGroups: true`,
    `      insecureSkipEmailVerified: true`,
    `      insecureSkipIssuerCallbackDomainCheck: false`,
  ];
  // `scopes: null` leaves the key out, as the document's config does.
  if (scopes) lines.push(`      scopes: [${scopes.join(', ')}]`);
  for (const [k, v] of Object.entries(extra)) lines.push(`      ${k}: ${JSON.stringify(v)}`);
  return lines.join('\n');
}

/** Values with the given upstream entries and the rp client. */
export function valuesYaml(upstreams, rp) {
  return [
    'oidc:',
    '  upstreamIDPs:',
    ...upstreams.map(upstreamYaml),
    '  additionalClients:',
    `  - id: ${rp.id}`,
    `    secret: ${rp.secret}`,
    `    name: ${rp.name}`,
    '    trusted: true',
    `    redirect_uris: ["${rp.redirectUri}"]`,
    '',
  ].join('\n');
}

/** The authorization request the relying party sends the browser to. */
export function authUrl(tusk, rp, { state, nonce, scope = 'openid email groups profile', extra = {} }) {
  const u = new URL(`${tusk.issuer}/auth`);
  u.search = new URLSearchParams({
    client_id: rp.id, redirect_uri: rp.redirectUri, response_type: 'code', scope, state, nonce, ...extra,
  }).toString();
  return u.toString();
}

/** Exchanges a code at tusk's /token with client_secret_basic. */
export async function exchangeCode(tusk, rp, code) {
  const r = await fetch(`${tusk.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(rp.id)}:${encodeURIComponent(rp.secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri }).toString(),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`token endpoint answered ${r.status}: ${text}`);
  return JSON.parse(text);
}

/**
 * Verifies tusk's ID token against its JWKS (from discovery) and returns
 * the payload; also checks iss, aud and nonce.
 */
export async function verifyIdToken(tusk, rp, idToken, nonce) {
  const disco = await (await fetch(`${tusk.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) })).json();
  const jwks = jose.createRemoteJWKSet(new URL(disco.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(idToken, jwks, { issuer: tusk.issuer, audience: rp.id });
  if (payload.nonce !== nonce) throw new Error(`ID token nonce ${payload.nonce} != ${nonce}`);
  return { payload, protectedHeader, jwksUri: disco.jwks_uri };
}

/** Decodes the HTML entities tusk's templates (minijinja) produce. */
export function decodeEntities(html) {
  return html
    .replace(/&quot;|&#34;|&#x22;/g, '"')
    .replace(/&#39;|&#x27;|&apos;/g, "'")
    .replace(/&#96;|&#x60;/g, '`')
    .replace(/&#x2f;|&#47;/gi, '/')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The visible text of one of tusk's pages, roughly (styles and tags removed). */
export function htmlText(html) {
  return decodeEntities(html.replace(/<style[\s\S]*?<\/style>/g, ' ').replace(/<[^>]*>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The reference id an error page shows (issue 15: "Reference xxxx-xxxx"),
 * from its HTML or its visible text.
 */
export function pageReference(htmlOrText) {
  return htmlText(htmlOrText).match(/Reference ([a-z0-9]{4}-[a-z0-9]{4})/)?.[1];
}

/**
 * The detail tusk logged for an error page's reference: the internal chain
 * the page keeps back. Throws when no log line carries the reference.
 */
export function loggedDetail(tusk, reference) {
  for (const line of tusk.log) {
    let v;
    try { v = JSON.parse(line); } catch { continue; }
    if (v?.fields?.reference === reference) return String(v.fields.detail ?? '');
  }
  throw new Error(`no log line carries reference ${reference}`);
}
