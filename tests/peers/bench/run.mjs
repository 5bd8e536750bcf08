// Orchestrates scripts/bench-oidc: tusk vs npm oidc-provider on loopback
// (BENCH_MODE=compare), or tusk quiet vs under a password storm (storm).
// Started by the bash script (pinned to the load-generator core); it pins the
// servers to BENCH_SERVER_CPU, logs in to each through the browserless helper,
// then measures discovery GETs and refresh-token chains with wrk (or a Node
// keep-alive loop when wrk is missing). Every child PID goes to BENCH_PIDFILE
// so the bash trap can clean up even if this process dies.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import { Browser } from '../lib/browser.mjs';
import { startTusk } from '../lib/tusk.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const DURATION = Number(env.BENCH_DURATION || 10);
const WARMUP = Number(env.BENCH_WARMUP || 2);
const CONNS = Number(env.BENCH_CONNS || 4);
const SERVER_CPU = env.BENCH_SERVER_CPU || '';
const PIDFILE = env.BENCH_PIDFILE || '';
const TUSK_KIND = env.BENCH_TUSK_KIND || '';
// compare: tusk next to oidc-provider; storm: tusk with and without a password storm.
const MODE = env.BENCH_MODE || 'compare';
const ROUNDS = Number(env.BENCH_ROUNDS || 3);
const STORM_RATE = Number(env.BENCH_STORM_RATE || 50);
// BENCH_ONLY=jwks,userinfo runs only those rows of the comparison.
const ONLY = (env.BENCH_ONLY || '').split(',').filter(Boolean);
// The refresh ceiling (crates/tusk-store-sql/examples/refresh_ceiling.rs),
// run on the server core after the comparison; empty: not measured.
const CEILING = env.BENCH_CEILING_BIN || '';
const LOGIN_CONNS = Number(env.BENCH_LOGIN_CONNS || 8);
// tusk-proof, whose `bare-http` is the transport baseline: a bare hyper
// server on the server core; empty: that row is not measured.
const BARE = env.BENCH_BARE_BIN || '';

// sqlite (default): tusk's embedded store in its data directory; postgres:
// a database created for the run on BENCH_POSTGRES and dropped after it.
const STORE = env.BENCH_STORE || 'sqlite';
const POSTGRES = env.BENCH_POSTGRES || 'postgres://postgres@127.0.0.1:5432';
if (!['sqlite', 'postgres'].includes(STORE)) {
  console.error(`BENCH_STORE=${STORE}: expected sqlite or postgres`);
  process.exit(2);
}

/**
 * The `tusk serve` arguments and environment of the store BENCH_STORE
 * picks, and what removes it afterwards. PostgreSQL gets a fresh database
 * (created with the `createdb` client) and a fresh encryption key.
 */
function benchStore() {
  if (STORE === 'sqlite') return { extraArgs: [], extraEnv: {}, drop: () => {} };
  const url = new URL(POSTGRES);
  const name = `tusk_bench_${process.pid}`;
  const conn = ['-h', url.hostname, '-p', url.port || '5432', '-U', decodeURIComponent(url.username || 'postgres')];
  const made = spawnSync('createdb', [...conn, name], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (made.status !== 0) throw new Error(`BENCH_STORE=postgres: createdb ${name} on ${url.host} failed: ${made.stderr || made.error}`);
  url.pathname = `/${name}`;
  return {
    extraArgs: ['--database-url', url.toString()],
    extraEnv: { TUSK_ENCRYPTION_KEYS: randomBytes(32).toString('base64') },
    drop: () => spawnSync('dropdb', [...conn, '--if-exists', '--force', name], { stdio: 'ignore' }),
  };
}
const USE_WRK = (env.BENCH_LOADGEN || 'wrk') === 'wrk' && spawnSync('wrk', ['--version']).error === undefined;

const RP = { id: 'rp-confidential', secret: 'rp-secret-0123456789', redirect: 'http://127.0.0.1:9999/cb' };
const ALG = env.BENCH_ALG || ''; // empty: tusk's default, and oidc-provider follows it
// tusk's per-address rate limits (token endpoint 1200/min by default) are
// turned off: oidc-provider has none, and all load comes from 127.0.0.1.
const VALUES = `oidc:
  RotationTokenExpiry: 48h
  additionalClients:
  - id: ${RP.id}
    secret: ${RP.secret}
    name: Confidential RP
    trusted: true
    redirect_uris: ["${RP.redirect}"]
tusk:
  rateLimit:
    passwordPerMinute: 0
    tokenPerMinute: 0
    authorizePerMinute: 0
${ALG ? `  signing:\n    algorithm: ${ALG}\n` : ''}`;
const pin = SERVER_CPU ? ['taskset', '-c', SERVER_CPU] : [];
const log = (...a) => console.error('[bench]', ...a);
const children = [];

function track(child) {
  children.push(child);
  if (PIDFILE) appendFileSync(PIDFILE, `${child.pid}\n`);
  return child;
}

async function cleanup() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await Promise.race([new Promise((r) => c.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address();
  await new Promise((res) => srv.close(res));
  return port;
}

function basic(id, secret) {
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

async function startOidcProvider(alg) {
  const [file, ...args] = [...pin, process.execPath, join(HERE, 'op-server.mjs')];
  const child = track(spawn(file, args, {
    env: { ...env, BENCH_ALG: alg, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  const errLines = [];
  createInterface({ input: child.stderr }).on('line', (l) => errLines.push(l));
  const line = await new Promise((res, rej) => {
    createInterface({ input: child.stdout }).once('line', res);
    child.once('exit', (code) => rej(new Error(`oidc-provider exited (${code}):\n${errLines.join('\n')}`)));
  });
  return { child, issuer: JSON.parse(line).issuer, errLines };
}

/** Logs in once (code flow + PKCE) and returns a refresh token. */
async function refreshToken(issuer, { consent, login }) {
  const config = await client.discovery(new URL(issuer), RP.id, { client_secret: RP.secret },
    client.ClientSecretBasic(), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params = {
    redirect_uri: RP.redirect, scope: 'openid email profile offline_access', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  };
  if (consent) params.prompt = 'consent'; // oidc-provider drops offline_access without it
  const b = new Browser();
  const out = await b.browse(client.buildAuthorizationUrl(config, params).href, {
    fill: login, stopAt: RP.redirect, submitAnyForm: consent,
  });
  if (!out.redirect) throw new Error(`login at ${issuer} did not finish:\n${b.traceText()}\n${out.page.body.slice(0, 1000)}`);
  const tokens = await client.authorizationCodeGrant(config, new URL(out.redirect),
    { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  if (!tokens.refresh_token) throw new Error(`no refresh token from ${issuer}`);
  return { token: tokens.refresh_token, access: tokens.access_token, tokenEndpoint: config.serverMetadata().token_endpoint };
}

/** N refresh tokens, each checked by one refresh (whose new token is kept). */
async function refreshTokens(server, n) {
  const got = [];
  for (let i = 0; i < n; i++) got.push(await refreshToken(server.issuer, server.loginOpts));
  const alive = [];
  let access = got[0]?.access;
  for (const { token, tokenEndpoint } of got) {
    const res = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: { authorization: basic(RP.id, RP.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.ok && body.refresh_token) {
      alive.push(body.refresh_token);
      access = body.access_token ?? access;
    }
    else log(`${server.name}: a refresh token from an earlier login no longer works (${res.status} ${body.error ?? ''}: ${body.error_description ?? ''})`);
  }
  return { tokens: alive, access, tokenEndpoint: got[0].tokenEndpoint };
}

function runWrk(args, extraEnv) {
  return new Promise((resolve, reject) => {
    const child = track(spawn('wrk', args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.once('exit', (code) => {
      const m = out.match(/BENCH_JSON (\{.*\})/);
      if (code !== 0 || !m) reject(new Error(`wrk failed (${code}):\n${out}`));
      else resolve(JSON.parse(m[1]));
    });
  });
}

/** Node fallback: `conns` keep-alive loops, each its own chain. */
async function runNode({ url, method, headers, body, onResponse, conns, seconds }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  const lat = [];
  let requests = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  async function loop(i) {
    const state = {};
    while (performance.now() < end) {
      const s = performance.now();
      const payload = body ? body(i, state) : undefined;
      const { status, text } = await new Promise((res) => {
        const req = http.request(url, { method, agent, headers: payload ? { ...headers, 'content-length': Buffer.byteLength(payload) } : headers }, (r) => {
          let t = '';
          r.setEncoding('utf8');
          r.on('data', (d) => { t += d; });
          r.on('end', () => res({ status: r.statusCode, text: t }));
        });
        req.on('error', (e) => res({ status: 0, text: String(e) }));
        req.end(payload);
      });
      lat.push((performance.now() - s) * 1000);
      requests++;
      if (!(onResponse ? onResponse(i, state, status, text) : status === 200)) errors++;
    }
  }
  await Promise.all(Array.from({ length: conns }, (_, i) => loop(i)));
  const duration = (performance.now() - t0) * 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  const pct = (p) => Math.round(lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? 0);
  return {
    requests, duration_us: Math.round(duration), ok: requests - errors, failed: errors,
    p50_us: pct(50), p90_us: pct(90), p99_us: pct(99), max_us: Math.round(lat.at(-1) ?? 0),
  };
}

async function benchDiscovery(server, seconds) {
  return benchGet(`${server.issuer}/.well-known/openid-configuration`, seconds);
}

async function benchJwks(server, seconds) {
  return benchGet(server.meta.jwks_uri, seconds);
}

/** GETs of one URL (status 200 counts as ok). */
function benchGet(url, seconds) {
  if (USE_WRK) {
    return runWrk(['-t', String(CONNS), '-c', String(CONNS), '-d', `${seconds}s`, '--timeout', '10s',
      '-s', join(HERE, 'get.lua'), url]);
  }
  return runNode({ url, method: 'GET', headers: {}, conns: CONNS, seconds });
}

/** Starts `tusk-proof bare-http` on the server core; its base URL. */
async function startBare() {
  const [file, ...args] = [...pin, BARE, 'bare-http', '--listen', '127.0.0.1:0'];
  const child = track(spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const line = await new Promise((res, rej) => {
    createInterface({ input: child.stdout }).once('line', res);
    child.once('exit', (code) => rej(new Error(`tusk-proof bare-http exited (${code}) before it listened`)));
  });
  const m = line.match(/^listening: (\S+)/);
  if (!m) throw new Error(`tusk-proof bare-http printed ${JSON.stringify(line)}, not its address`);
  return m[1];
}

/** One fixed request with wrk's request.lua (or the Node loop); ok = 200 whose body holds `expect`. */
function benchFixed({ url, method, headers, body, expect }, seconds) {
  if (USE_WRK) {
    const u = new URL(url);
    return runWrk(['-t', String(CONNS), '-c', String(CONNS), '-d', `${seconds}s`, '--timeout', '10s',
      '-s', join(HERE, 'request.lua'), `${u.origin}/`], {
      BENCH_METHOD: method, BENCH_PATH: `${u.pathname}${u.search}`, BENCH_BODY: body ?? '',
      BENCH_HEADERS: Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n'), BENCH_EXPECT: expect,
    });
  }
  return runNode({
    url, method, headers, conns: CONNS, seconds,
    body: body ? () => body : undefined,
    onResponse: (_i, _st, status, text) => status === 200 && text.includes(expect),
  });
}

/**
 * An access token of a fresh login, one per run: oidc-provider stops
 * accepting an earlier login's token once later runs have logged in again.
 */
async function accessToken(server) {
  const got = await refreshTokens(server, 1);
  if (!got.access) throw new Error(`${server.name}: no access token from a login`);
  return got.access;
}

async function benchUserinfo(server, seconds) {
  const token = await accessToken(server);
  return benchFixed({
    url: server.meta.userinfo_endpoint, method: 'GET',
    headers: { authorization: `Bearer ${token}` }, expect: '"sub"',
  }, seconds);
}

async function benchIntrospection(server, seconds) {
  const token = await accessToken(server);
  return benchFixed({
    url: server.meta.introspection_endpoint, method: 'POST',
    headers: { authorization: basic(RP.id, RP.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${encodeURIComponent(token)}`, expect: '"active":true',
  }, seconds);
}

/**
 * The full browser-less code flow, LOGIN_CONNS at a time, each login a new
 * user agent with no cookies: GET /auth, the server's login (and, at
 * oidc-provider, consent) forms, the redirect with the code, then POST /token
 * with the PKCE verifier. ok = a token response with an ID token. The load
 * generator is Node on one core, so this row is capped by the client too.
 */
async function benchLogin(server, seconds) {
  server.config ??= await client.discovery(new URL(server.issuer), RP.id, { client_secret: RP.secret },
    client.ClientSecretBasic(), { execute: [client.allowInsecureRequests] });
  const auth = basic(RP.id, RP.secret);
  const lat = [];
  let ok = 0;
  let failed = 0;
  let lastError = '';
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  async function loop() {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        const verifier = client.randomPKCECodeVerifier();
        const params = {
          redirect_uri: RP.redirect, scope: 'openid email profile', state: client.randomState(),
          code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        };
        const b = new Browser();
        const out = await b.browse(client.buildAuthorizationUrl(server.config, params).href, {
          fill: server.loginOpts.login, stopAt: RP.redirect, submitAnyForm: server.loginOpts.consent,
        });
        const code = out.redirect && new URL(out.redirect).searchParams.get('code');
        if (!code) throw new Error(`no code: ${b.traceText()}`);
        const res = await fetch(server.meta.token_endpoint, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP.redirect, code_verifier: verifier }),
        });
        const body = await res.json().catch(() => ({}));
        if (res.ok && body.id_token) ok++;
        else throw new Error(`token answered ${res.status} ${body.error ?? ''}`);
      } catch (e) {
        failed++;
        lastError = String(e).slice(0, 500);
      }
      lat.push((performance.now() - s) * 1000);
    }
  }
  await Promise.all(Array.from({ length: LOGIN_CONNS }, loop));
  if (failed > 0) log(`${server.name} login: ${failed} failed; last: ${lastError}`);
  lat.sort((a, b) => a - b);
  const pct = (p) => Math.round(lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? 0);
  return {
    requests: ok + failed, duration_us: Math.round((performance.now() - t0) * 1000), ok, failed,
    p50_us: pct(50), p90_us: pct(90), p99_us: pct(99), max_us: Math.round(lat.at(-1) ?? 0),
  };
}

async function benchRefresh(server, seconds, tmp) {
  return runRefresh(server, await prepareRefresh(server), seconds, tmp);
}

/** Fresh rotation chains (logins first, so a storm run can start after them). */
async function prepareRefresh(server) {
  const got = await refreshTokens(server, server.chains);
  if (got.tokens.length === 0) throw new Error(`${server.name}: no working refresh token`);
  return got;
}

async function runRefresh(server, { tokens, tokenEndpoint }, seconds, tmp) {
  const auth = basic(RP.id, RP.secret);
  const u = new URL(tokenEndpoint);
  if (USE_WRK) {
    const file = join(tmp, `${server.name}-tokens.txt`);
    await writeFile(file, `${tokens.join('\n')}\n`);
    const n = tokens.length;
    const r = await runWrk(['-t', String(n), '-c', String(n), '-d', `${seconds}s`, '--timeout', '10s',
      '-s', join(HERE, 'refresh.lua'), `${u.origin}/`],
    { BENCH_TOKENS: file, BENCH_TOKEN_PATH: u.pathname, BENCH_AUTH: auth });
    return { ...r, chains: n };
  }
  const r = await runNode({
    url: tokenEndpoint,
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    conns: tokens.length,
    seconds,
    body: (i, st) => `grant_type=refresh_token&refresh_token=${encodeURIComponent(st.token ?? tokens[i])}`,
    onResponse: (i, st, status, text) => {
      if (status !== 200) return false;
      try {
        const t = JSON.parse(text).refresh_token;
        if (!t || t === (st.token ?? tokens[i])) return false;
        st.token = t;
        return true;
      } catch { return false; }
    },
  });
  return { ...r, chains: tokens.length };
}

/** Runs the ceiling example on the server core; its CEILING_JSON line. */
async function ceiling() {
  const [file, ...args] = [...pin, CEILING, String(DURATION)];
  log(`refresh ceiling: ${DURATION}s${pin.length ? ` on CPU ${SERVER_CPU}` : ''}`);
  const child = track(spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const code = await new Promise((res) => child.once('exit', res));
  const m = out.match(/CEILING_JSON (\{.*\})/);
  if (code !== 0 || !m) {
    log(`the ceiling example failed (${code}): ${out}`);
    return null;
  }
  return JSON.parse(m[1]);
}

function algOf(jwks) {
  const k = jwks.keys?.[0] ?? {};
  if (k.alg) return k.alg;
  if (k.kty === 'EC') return { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[k.crv] ?? 'ES256';
  if (k.kty === 'OKP') return 'EdDSA';
  return 'RS256';
}

/** Requests that did not succeed: bad status or body, no rotation, socket errors. */
function failures(x) {
  const socket = (x.errors_connect ?? 0) + (x.errors_read ?? 0) + (x.errors_write ?? 0) + (x.errors_timeout ?? 0);
  return (x.failed ?? x.errors_status ?? 0) + (x.not_rotated ?? 0) + socket;
}

function fmtRate(r) { return r.ok / (r.duration_us / 1e6); }
function ms(us) { return (us / 1000).toFixed(2); }

// ---- storm mode -----------------------------------------------------------
// tusk alone, with a `local` connector: discovery and refresh throughput
// measured quiet and under a password storm (storm.mjs, a process of its
// own on the load core), alternating, ROUNDS times each; medians and the
// storm/quiet ratio are printed (issue 16's goal: at least 80%).

/** Dex's example bcrypt hash, of the password `password`. */
const STORM_USER = { email: 'admin@example.com', password: 'password', hash: '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W' };
const STORM_VALUES = `oidc:
  RotationTokenExpiry: 48h
  upstreamIDPs:
  - id: local
    name: Local
    type: local
    config:
      users:
      - email: ${STORM_USER.email}
        hash: "${STORM_USER.hash}"
  additionalClients:
  - id: ${RP.id}
    secret: ${RP.secret}
    name: Confidential RP
    trusted: true
    redirect_uris: ["${RP.redirect}"]
tusk:
  rateLimit:
    passwordPerMinute: 0
    tokenPerMinute: 0
    authorizePerMinute: 0
${ALG ? `  signing:\n    algorithm: ${ALG}\n` : ''}`;

/**
 * A pending login at tusk: the password form's URL (with its state) and the
 * login-binding cookie (`name=value`) /auth set, which every later step of
 * the login must send back, as the browser that started it would.
 */
async function passwordForm(issuer) {
  const q = new URLSearchParams({ client_id: RP.id, redirect_uri: RP.redirect, response_type: 'code', scope: 'openid' });
  const res = await fetch(`${issuer}/auth?${q}`, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 303 || !location) throw new Error(`GET /auth answered ${res.status}, not a redirect to the password form`);
  const req = new URL(location, issuer).searchParams.get('req');
  if (!req) throw new Error(`GET /auth redirected to ${location}, which names no login request`);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.includes('tusk_login='));
  if (!cookie) throw new Error('GET /auth set no login-binding cookie (tusk_login)');
  return { url: `${issuer}/auth/local/login?state=${encodeURIComponent(req)}`, cookie };
}

function postLogin(form, login, password) {
  return fetch(form.url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie },
    body: new URLSearchParams({ login, password }),
  });
}

/** Starts storm.mjs on this process's core(s); `stop()` returns its counts. */
async function startStorm(form) {
  const child = track(spawn(process.execPath, [join(HERE, 'storm.mjs')], {
    env: { ...env, STORM_FORM: form.url, STORM_COOKIE: form.cookie, STORM_RATE: String(STORM_RATE) },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  const lines = createInterface({ input: child.stdout });
  const summary = new Promise((res) => {
    lines.on('line', (l) => {
      const m = l.match(/^STORM_JSON (\{.*\})/);
      if (m) res(JSON.parse(m[1]));
    });
    child.once('exit', () => res(null));
  });
  await new Promise((res, rej) => {
    lines.once('line', res);
    child.once('exit', (code) => rej(new Error(`the storm process exited (${code}) before it started`)));
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      const got = await summary;
      if (!got) throw new Error('the storm process ended without its summary');
      return got;
    },
  };
}

/** A real login while the storm runs: retried after each 429's Retry-After. */
async function loginUnderStorm(issuer) {
  const form = await passwordForm(issuer);
  const t0 = performance.now();
  let refused = 0;
  for (;;) {
    const res = await postLogin(form, STORM_USER.email, STORM_USER.password);
    await res.arrayBuffer();
    if (res.status === 303 && (res.headers.get('location') ?? '').startsWith(`${RP.redirect}?code=`)) {
      return { ms: performance.now() - t0, refused };
    }
    if (res.status !== 429) throw new Error(`a real login during the storm answered ${res.status}`);
    refused++;
    // On one core the pool checks about four passwords a second against
    // the storm's fifty, and a refusal is blind to who asks, so a login
    // retrying once a second gets in after some 25 tries on average.
    if (refused > 240) throw new Error('a real login was refused 240 times in a row during the storm');
    const wait = Number(res.headers.get('retry-after') || 1);
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function mainStorm() {
  tmp = await mkdtemp(join(tmpdir(), 'bench-storm-'));
  let tusk;
  try {
    log(`starting tusk (${TUSK_KIND || 'binary'} ${env.TUSK_BIN})${pin.length ? ` on CPU ${SERVER_CPU}` : ''}`);
    tusk = await startTusk({ values: STORM_VALUES, command: pin, listen: `127.0.0.1:${await freePort()}` });
    track(tusk.child);
    const server = {
      name: 'tusk', issuer: tusk.issuer, chains: CONNS,
      loginOpts: { consent: false, login: { login: STORM_USER.email, password: STORM_USER.password } },
    };
    // The storm's form must answer a wrong password with 401 before we trust its counts.
    const form = await passwordForm(tusk.issuer);
    const probe = await postLogin(form, 'nobody@storm.example', 'wrong');
    if (probe.status !== 401) throw new Error(`a wrong password answered ${probe.status}, not 401`);
    const workloads = [
      ['discovery', (secs) => benchDiscovery(server, secs), async () => null],
      ['refresh', (secs, prepared) => runRefresh(server, prepared, secs, tmp), () => prepareRefresh(server)],
    ];
    if (WARMUP > 0) {
      for (const [what, run, prepare] of workloads) {
        log(`${what}: warm-up ${WARMUP}s`);
        await run(WARMUP, await prepare());
      }
    }
    const results = { discovery: { quiet: [], storm: [] }, refresh: { quiet: [], storm: [] } };
    const storms = [];
    let realLogin = null;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [what, run, prepare] of workloads) {
        for (const kind of round % 2 ? ['quiet', 'storm'] : ['storm', 'quiet']) {
          const prepared = await prepare();
          let storm = null;
          let login = null;
          if (kind === 'storm') {
            storm = await startStorm(form);
            // Let the queue fill before measuring.
            await new Promise((r) => setTimeout(r, 1000));
            if (!realLogin && what === 'discovery') login = loginUnderStorm(tusk.issuer);
          }
          log(`round ${round}/${ROUNDS} ${what} ${kind}: ${DURATION}s`);
          const r = await run(DURATION, prepared);
          if (login) realLogin = await login;
          if (storm) storms.push(await storm.stop());
          if (failures(r) > 0) log(`${what} ${kind}: ${failures(r)} failed request(s)`);
          results[what][kind].push({ rate: fmtRate(r), p99_us: r.p99_us, failed: failures(r) });
        }
      }
    }
    const out = [''];
    out.push(`tusk: ${TUSK_KIND} build ${env.TUSK_BIN}; load: ${USE_WRK ? 'wrk' : 'Node keep-alive loop'}, ${CONNS} connection(s); ` +
      `${DURATION}s per run, ${ROUNDS} round(s) alternating quiet and storm; ${pin.length ? `server on CPU ${SERVER_CPU}, load and storm on CPU ${env.BENCH_LOAD_CPU}` : 'no CPU pinning'}`);
    out.push(`storm: ${STORM_RATE} wrong passwords/s offered by a separate process (storm.mjs), each for a new unknown email ` +
      '(a full argon2id hash each; per-address limits off)');
    const head = ['workload', 'quiet req/s', 'storm req/s', 'storm/quiet', 'quiet p99 ms', 'storm p99 ms'];
    const rows = [];
    const ratios = {};
    for (const what of ['discovery', 'refresh']) {
      const q = median(results[what].quiet.map((x) => x.rate));
      const st = median(results[what].storm.map((x) => x.rate));
      ratios[what] = q > 0 ? st / q : 0;
      rows.push([what, q.toFixed(0), st.toFixed(0), `${(ratios[what] * 100).toFixed(0)}%`,
        ms(median(results[what].quiet.map((x) => x.p99_us))), ms(median(results[what].storm.map((x) => x.p99_us)))]);
    }
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((l) => l[i].length)));
    const fmt = (cols) => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    out.push('', fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt), '');
    const sum = (k) => storms.reduce((a, x) => a + (x[k] ?? 0), 0);
    const secs = storms.reduce((a, x) => a + x.seconds, 0) || 1;
    out.push(`storm outcome over ${storms.length} run(s): offered ${(sum('sent') / secs).toFixed(1)}/s; ` +
      `checked (401) ${(sum('checked') / secs).toFixed(1)}/s; refused at once (429) ${(sum('refused') / secs).toFixed(1)}/s; ` +
      `other ${sum('other')}; socket errors ${sum('errors')}`);
    if (realLogin) {
      out.push(`a real login during the storm: in after ${realLogin.ms.toFixed(0)} ms, ${realLogin.refused} refusal(s) (429) first`);
    }
    if (sum('other') > 0 || sum('errors') > 0) {
      throw new Error(`the storm got answers other than 401 and 429: ${JSON.stringify(storms.map((x) => x.statuses))}, ${sum('errors')} socket error(s)\n${out.join('\n')}`);
    }
    const worst = Math.min(ratios.discovery, ratios.refresh);
    out.push(`goal: the other endpoints keep >= 80% under the storm: ${worst >= 0.8 ? 'met' : 'NOT met'} (worst ${(worst * 100).toFixed(0)}%)`);
    console.log(out.join('\n'));
    if (env.BENCH_JSON_OUT) await writeFile(env.BENCH_JSON_OUT, JSON.stringify({ mode: 'storm', tusk: TUSK_KIND, results, storms, realLogin }, null, 2));
  } finally {
    await cleanup();
    await tusk?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

let tmp;

async function main() {
  if (MODE === 'storm') return mainStorm();
  tmp = await mkdtemp(join(tmpdir(), 'bench-oidc-'));
  let tusk;
  let store;
  try {
    log(`starting tusk (${TUSK_KIND || 'binary'} ${env.TUSK_BIN})${pin.length ? ` on CPU ${SERVER_CPU}` : ''}`);
    // A port chosen here rather than :0, so the issuer tusk derives from
    // --listen is the address it serves even where it does not resolve :0.
    store = benchStore();
    log(`tusk's store: ${STORE}`);
    tusk = await startTusk({ values: VALUES, command: pin, listen: `127.0.0.1:${await freePort()}`, extraArgs: store.extraArgs, extraEnv: store.extraEnv });
    track(tusk.child);
    const disc = await fetch(`${tusk.issuer}/.well-known/openid-configuration`);
    if (disc.status !== 200) throw new Error(`tusk discovery answered ${disc.status}: the provider endpoints are not there yet`);
    const meta = await disc.json();
    const alg = algOf(await (await fetch(meta.jwks_uri)).json());
    log(`tusk serves ${tusk.issuer}, signs ${alg}`);

    const op = await startOidcProvider(alg);
    const opVersion = JSON.parse(readFileSync(join(HERE, '..', 'node_modules', 'oidc-provider', 'package.json'), 'utf8')).version;
    log(`oidc-provider ${opVersion} serves ${op.issuer}, signs ${alg}`);

    const servers = [
      { name: 'tusk', issuer: tusk.issuer, loginOpts: { consent: false, login: { login: 'admin', password: 'password' } }, chains: CONNS },
      { name: 'oidc-provider', issuer: op.issuer, loginOpts: { consent: true, login: { login: 'kilgore', password: 'any' } }, chains: CONNS },
    ];

    // Fail fast on broken logins before spending time on load.
    const probe = await refreshTokens(servers[0], CONNS);
    if (probe.tokens.length < CONNS) {
      log(`tusk kept only ${probe.tokens.length} of ${CONNS} refresh tokens of one user+client (Dex keeps one per user, connector and client); ` +
        `running ${Math.max(1, probe.tokens.length)} chain(s) on both servers`);
      for (const s of servers) s.chains = Math.max(1, probe.tokens.length);
    }

    for (const srv of servers) {
      srv.meta = await (await fetch(`${srv.issuer}/.well-known/openid-configuration`)).json();
    }
    const workloads = [
      ['discovery', 'GET discovery', benchDiscovery],
      ['jwks', 'GET JWKS', benchJwks],
      ['refresh', 'POST /token refresh', benchRefresh],
      ['userinfo', 'GET userinfo', benchUserinfo],
      ['introspection', 'POST introspection', benchIntrospection],
      ['login', 'code-flow login', benchLogin],
    ].filter(([what]) => ONLY.length === 0 || ONLY.includes(what));
    // Alternating rounds: in odd rounds tusk runs first, in even rounds
    // oidc-provider, so a drift in the shared machine's load hits both.
    // The transport baseline (tusk alone), measured with discovery or JWKS:
    // a no-op route through tusk's whole stack (router, middleware, accept
    // loop: GET <issuer>/healthz), and a bare hyper server on the same core.
    const baselines = [];
    if (ONLY.length === 0 || ['discovery', 'jwks', 'transport'].some((w) => ONLY.includes(w))) {
      const healthz = `${tusk.issuer}/healthz`;
      const check = await fetch(healthz);
      if (check.status !== 200) throw new Error(`tusk ${healthz} answered ${check.status}, not 200`);
      baselines.push(['healthz', 'tusk no-op route (GET <issuer>/healthz)', (secs) => benchGet(healthz, secs)]);
      if (BARE) {
        const bare = await startBare();
        log(`bare hyper server (tusk-proof bare-http) at ${bare}`);
        baselines.push(['bare', 'bare hyper (tusk-proof bare-http)', (secs) => benchGet(`${bare}/`, secs)]);
      }
    }
    const results = {};
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [what, , run] of baselines) {
        if (round === 1 && WARMUP > 0) await run(WARMUP);
        log(`round ${round}/${ROUNDS} baseline ${what}: ${DURATION}s`);
        (results[`baseline/${what}`] ??= []).push(await run(DURATION));
      }
      for (const [what, , fn] of workloads) {
        const order = round % 2 ? servers : [...servers].reverse();
        for (const srv of order) {
          if (round === 1 && WARMUP > 0) {
            log(`${srv.name} ${what}: warm-up ${WARMUP}s`);
            await fn(srv, WARMUP, tmp);
          }
          log(`round ${round}/${ROUNDS} ${srv.name} ${what}: ${DURATION}s`);
          const r = await fn(srv, DURATION, tmp);
          (results[`${srv.name}/${what}`] ??= []).push(r);
        }
      }
    }
    // The median run of each (by rate), whose latencies are shown with it.
    const pick = (runs) => [...runs].sort((a, b) => fmtRate(a) - fmtRate(b))[Math.floor((runs.length - 1) / 2)];
    const rows = workloads.map(([what, label]) => {
      const t = results[`tusk/${what}`];
      const o = results[`oidc-provider/${what}`];
      const tm = median(t.map(fmtRate));
      const om = median(o.map(fmtRate));
      return { what, label, t: pick(t), o: pick(o), tm, om, ratio: om > 0 ? tm / om : 0, tf: t.reduce((a, x) => a + failures(x), 0), of: o.reduce((a, x) => a + failures(x), 0) };
    });
    const head = ['benchmark', 'server', 'req/s (median)', 'runs', 'failed', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'];
    const lines = [];
    for (const r of rows) {
      for (const [name, x, m, f] of [['tusk', r.t, r.tm, r.tf], ['oidc-provider', r.o, r.om, r.of]]) {
        const runs = results[`${name}/${r.what}`].map((y) => fmtRate(y).toFixed(0)).join('/');
        lines.push([r.label, name, m.toFixed(0), runs, String(f),
          ms(x.p50_us), ms(x.p90_us), ms(x.p99_us), ms(x.max_us)]);
      }
    }
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const fmt = (cols) => cols.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    const out = [];
    out.push('');
    out.push(`tusk: ${TUSK_KIND} build ${env.TUSK_BIN}; oidc-provider ${opVersion} on Node ${process.versions.node} (in-memory adapter)`);
    out.push(`signing: ${alg} on both; load: ${USE_WRK ? 'wrk' : 'Node keep-alive loop'}, ${CONNS} connection(s) ` +
      `(login: ${LOGIN_CONNS} Node user agents), ${DURATION}s per run, ${ROUNDS} alternating round(s), ${WARMUP}s warm-up; ` +
      `${pin.length ? `servers on CPU ${SERVER_CPU}, load on CPU ${env.BENCH_LOAD_CPU}` : 'no CPU pinning'}`);
    out.push(`tusk rate limits off for the run (tusk.rateLimit.*PerMinute: 0); tusk stores in ${STORE === 'postgres' ? 'PostgreSQL' : 'SQLite'}, oidc-provider in memory`);
    out.push(`refresh: ${servers[0].chains} independent rotation chain(s) per server, one per connection; "ok" = 200 with a new refresh token`);
    out.push('userinfo/introspection: one access token of a login, sent again and again; ok = 200 with "sub" / "active":true');
    out.push('login: GET /auth, the login (and oidc-provider\'s consent) form, the code, POST /token with PKCE; a new cookie jar each time');
    out.push('');
    out.push(fmt(head));
    out.push(fmt(widths.map((w) => '-'.repeat(w))));
    for (const l of lines) out.push(fmt(l));
    out.push('');
    for (const r of rows) out.push(`${r.what.padEnd(13)} tusk/oidc-provider = ${r.ratio.toFixed(2)}x`);
    if (baselines.length > 0) {
      out.push('');
      out.push('transport baseline (tusk\'s core, same load; medians):');
      const base = {};
      for (const [what, label] of baselines) {
        const runs = results[`baseline/${what}`];
        base[what] = median(runs.map(fmtRate));
        const f = runs.reduce((a, x) => a + failures(x), 0);
        out.push(`  ${label}: ${base[what].toFixed(0)} req/s (${runs.map((y) => fmtRate(y).toFixed(0)).join('/')}; failed ${f}; p99 ${ms(pick(runs).p99_us)} ms)`);
      }
      for (const r of rows.filter((x) => ['discovery', 'jwks'].includes(x.what))) {
        const of = Object.entries(base).map(([w, v]) => `${((r.tm / v) * 100).toFixed(0)}% of ${w}`).join(', ');
        out.push(`  ${r.what}: ${of}`);
      }
    }
    const refresh = rows.find((r) => r.what === 'refresh');
    if (CEILING && refresh) {
      const c = await ceiling();
      if (c) {
        out.push('');
        out.push(`ceiling (what a refresh must do at minimum, ${c.what}): ${c.per_second.toFixed(0)}/s ` +
          `(signatures ${c.sign_us.toFixed(1)} us, transaction ${c.commit_us.toFixed(1)} us per refresh)`);
        out.push(`refresh at ${((refresh.tm / c.per_second) * 100).toFixed(0)}% of its ceiling`);
      }
    }
    console.log(out.join('\n'));
    if (env.BENCH_JSON_OUT) await writeFile(env.BENCH_JSON_OUT, JSON.stringify({ alg, tusk: TUSK_KIND, results }, null, 2));
  } finally {
    await cleanup();
    await tusk?.stop(); // already stopped by cleanup(); removes its data directory
    store?.drop();
    await rm(tmp, { recursive: true, force: true });
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup().finally(() => {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  });
}
main().then(() => process.exit(0), async (err) => {
  console.error(`[bench] failed: ${err.stack ?? err}`);
  await cleanup();
  process.exit(1);
});
