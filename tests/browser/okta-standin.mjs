// An OpenID Provider standing in for Okta in tusk's browser tests: npm
// `oidc-provider` 9 (OpenID certified) on loopback, set up like an Okta
// "OIDC - OpenID Connect / Web Application" app integration.
//
// - One client (default `tusk`) with the secret given, accepted by
//   client_secret_basic AND client_secret_post (oidc-provider binds a client
//   to one method; a small middleware turns a POSTed secret into a Basic
//   header, and `tokenAuth` records which one the caller used).
// - Claims: `sub` (the login name), `email` (`<login>@example.com`),
//   `email_verified` (true), `name`, `preferred_username`, `groups`
//   (["data-scientists", "admins"]) for scopes openid/profile/email/groups.
//   The claims go into the ID token itself (conformIdTokenClaims off), as
//   Okta does for its app integrations. `groupsClaim: 'always'` sends
//   `groups` without the `groups` scope, like an Okta app with a groups claim
//   filter on the ID token.
// - Like Okta, a refresh token only for `offline_access` (oidc-provider's
//   default `issueRefreshToken`, which also needs `prompt=consent`), and
//   `offline_access` listed in discovery's `scopes_supported`.
// - Its development interactions are on: the login form accepts any login
//   name and any password, then a consent form ("Continue").
// - `trailingSlash: true` runs it with the issuer `http://127.0.0.1:<port>/`
//   (oidc-provider keeps the issuer string exactly as given, so discovery,
//   `iss` in tokens and the RFC 9207 `iss` parameter all carry the slash);
//   the default is `http://127.0.0.1:<port>` like Okta's org issuer.
// - `port` may be fixed in advance so it can be started later than tusk
//   (the "provider unreachable at start" case); `startStandin` then binds it.
//
// Library use:   import { startStandin } from './okta-standin.mjs'
// Command line:  node okta-standin.mjs --port 4000 \
//                  --redirect-uri http://127.0.0.1:30650/dex/callback \
//                  [--client-id tusk] [--client-secret s] [--trailing-slash]
//                  [--groups-claim always] [--start-after-ms 5000]
//   prints one JSON line {"issuer": ..., "port": ...} once it listens.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as jose from 'jose';

// oidc-provider warns once per process about the Node 20 runtime and its
// development defaults; those lines are noise in test output.
const originalWarn = console.warn;
let Provider;
async function loadProvider() {
  if (!Provider) {
    console.warn = (...args) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING')) return;
      originalWarn(...args);
    };
    ({ default: Provider } = await import('oidc-provider'));
  }
  return Provider;
}

export const DEFAULT_GROUPS = ['data-scientists', 'admins'];

/** The claims the stand-in knows for a login name. */
export function claimsFor(login, groups = DEFAULT_GROUPS) {
  return {
    sub: login,
    email: `${login}@example.com`,
    email_verified: true,
    name: `${login[0].toUpperCase()}${login.slice(1)} Example`,
    preferred_username: login,
    groups,
  };
}

/**
 * Starts the stand-in and resolves once it listens.
 * @param {object} o
 * @param {string[]} o.redirectUris  the client's registered redirect URIs (tusk's `<issuer>/callback`)
 * @param {number} [o.port]          0 (default) picks a free port
 * @param {string} [o.host]          default 127.0.0.1
 * @param {boolean} [o.trailingSlash] issuer `http://host:port/` instead of `http://host:port`
 * @param {string} [o.clientId]      default `tusk`
 * @param {string} [o.clientSecret]  default a random string (read it from the result)
 * @param {'scope'|'always'} [o.groupsClaim] default 'scope'
 * @param {string[]} [o.groups]
 * @param {string[]} [o.postLogoutRedirectUris] where RP-initiated logout may return (tusk's `<issuer>/logout/callback`)
 */
export async function startStandin({
  redirectUris,
  port = 0,
  host = '127.0.0.1',
  trailingSlash = false,
  clientId = 'tusk',
  clientSecret = randomBytes(18).toString('base64url'),
  groupsClaim = 'scope',
  groups = DEFAULT_GROUPS,
  postLogoutRedirectUris = [],
} = {}) {
  if (!redirectUris?.length) throw new Error('startStandin: redirectUris is required');
  const P = await loadProvider();
  // The upstream groups can change while it runs (`setGroups`), like an Okta
  // admin moving a user; the next login or refresh reads the new ones.
  let currentGroups = groups;

  // The issuer depends on the port, and a port of 0 is only known once
  // bound: bind first, then build the provider and attach it.
  const server = createServer();
  await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => { server.off('error', rej); res(); });
  });
  const bound = server.address().port;
  const origin = `http://${host}:${bound}`;
  const issuer = trailingSlash ? `${origin}/` : origin;

  // Own RS256 signing key (Okta signs with RS256), not the quick-start keys.
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(privateKey)), kid: `standin-${bound}`, alg: 'RS256', use: 'sig' };

  const claimsByScope = {
    openid: groupsClaim === 'always' ? ['sub', 'groups'] : ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  };

  const provider = new P(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      post_logout_redirect_uris: postLogoutRedirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: claimsByScope,
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    conformIdTokenClaims: false,
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => claimsFor(sub, currentGroups),
    }),
    features: {
      devInteractions: { enabled: true },
    },
    // tusk sends S256 when discovery advertises it; do not insist, so a
    // connector with `pkceChallenge` off still works.
    pkce: { required: () => false },
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    ttl: { IdToken: 300, AccessToken: 300, RefreshToken: 600, AuthorizationCode: 60, Session: 600, Interaction: 600, Grant: 600 },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><title>stand-in error</title><h1>${out.error}</h1><p>${out.error_description ?? ''}</p>`;
    },
  });
  provider.proxy = false;

  const tokenAuth = [];
  const authRequests = [];
  // Record what each authorization request carried (nonce, PKCE, scope).
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/auth') authRequests.push(Object.fromEntries(new URLSearchParams(ctx.querystring)));
    await next();
  });
  // Accept client_secret_post as well as Basic: move a POSTed secret into a
  // Basic header before oidc-provider's strict client authentication.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/token') {
      const chunks = [];
      for await (const c of ctx.req) chunks.push(c);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const secret = form.get('client_secret');
      if (secret !== null && !ctx.get('authorization')) {
        const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
        const id = form.get('client_id') ?? '';
        ctx.req.headers.authorization = `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
        form.delete('client_secret');
        form.delete('client_id');
        tokenAuth.push('client_secret_post');
      } else if (ctx.get('authorization').startsWith('Basic ')) {
        tokenAuth.push('client_secret_basic');
      } else {
        tokenAuth.push('none');
      }
      const body = form.toString();
      ctx.req.body = body;
      ctx.request.body = body;
      ctx.req.headers['content-length'] = String(Buffer.byteLength(body));
    }
    await next();
  });
  // The body was read above, so oidc-provider falls back to req.body and
  // says so once; that line is expected here.
  server.on('request', provider.callback());

  return {
    issuer,
    origin,
    port: bound,
    clientId,
    clientSecret,
    provider,
    /** Which client authentication each token request used, in order. */
    tokenAuth,
    /** The query of each authorization request, in order. */
    authRequests,
    /** Changes the groups every user has from now on. */
    setGroups(g) { currentGroups = g; },
    async stop() {
      server.closeAllConnections?.();
      await new Promise((res) => server.close(() => res()));
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'redirect-uri': { type: 'string', multiple: true },
      'client-id': { type: 'string', default: 'tusk' },
      'client-secret': { type: 'string' },
      'trailing-slash': { type: 'boolean', default: false },
      'groups-claim': { type: 'string', default: 'scope' },
      'start-after-ms': { type: 'string', default: '0' },
    },
  });
  const wait = Number(values['start-after-ms']);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const s = await startStandin({
    redirectUris: values['redirect-uri'],
    port: Number(values.port),
    host: values.host,
    trailingSlash: values['trailing-slash'],
    clientId: values['client-id'],
    clientSecret: values['client-secret'],
    groupsClaim: values['groups-claim'],
  });
  console.log(JSON.stringify({ issuer: s.issuer, port: s.port, clientId: s.clientId, clientSecret: s.clientSecret }));
  const stop = () => s.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
