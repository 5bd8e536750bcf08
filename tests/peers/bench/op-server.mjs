// npm oidc-provider configured like tusk for scripts/bench-oidc: one
// confidential client (client_secret_basic), refresh tokens with rotation
// (reuse of a rotated token is refused), dev login + consent interactions,
// userinfo, introspection and revocation, an
// in-memory store, ID tokens signed with BENCH_ALG (ES256 or RS256, matched to
// what tusk signs with). Prints one JSON line {"issuer": ...} on stdout when
// it listens on 127.0.0.1:<random port>.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const alg = process.env.BENCH_ALG || 'ES256';
const client = {
  client_id: process.env.BENCH_CLIENT_ID || 'rp-confidential',
  client_secret: process.env.BENCH_CLIENT_SECRET || 'rp-secret-0123456789',
  redirect_uris: [process.env.BENCH_REDIRECT_URI || 'http://127.0.0.1:9999/cb'],
};

function signingKey() {
  let pair;
  if (alg.startsWith('ES')) {
    const namedCurve = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg];
    pair = generateKeyPairSync('ec', { namedCurve });
  } else if (alg.startsWith('RS') || alg.startsWith('PS')) {
    pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  } else if (alg === 'EdDSA' || alg === 'Ed25519') {
    pair = generateKeyPairSync('ed25519');
  } else {
    throw new Error(`unsupported BENCH_ALG ${alg}`);
  }
  return { ...pair.privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg };
}

const server = createServer();
await new Promise((res) => server.listen(0, '127.0.0.1', res));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    ...client,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
  }],
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Put the scope's claims in the ID token as Dex and tusk do.
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: 'kilgore@kilgore.trout', email_verified: true, name: 'Kilgore Trout' };
      },
    };
  },
  features: { devInteractions: { enabled: true }, revocation: { enabled: true }, introspection: { enabled: true } },
  // Always rotate, like tusk (Dex's default, Pachyderm's setting).
  rotateRefreshToken: () => true,
  ttl: {
    AccessToken: 24 * 3600,
    IdToken: 24 * 3600,
    AuthorizationCode: 600,
    RefreshToken: 48 * 3600,
    Grant: 48 * 3600,
    Session: 48 * 3600,
    Interaction: 3600,
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
server.on('request', provider.callback());

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
}
process.stdout.write(`${JSON.stringify({ issuer, alg })}\n`);
