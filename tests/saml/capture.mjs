// Writes signed SAML responses made by the samlify IdP (idp.mjs) with a
// fresh key, for the Rust tests of tusk's saml connector
// (crates/tusk-connector/tests/connectors/saml.rs), which mutate them into
// the bad inputs. Usage: node tests/saml/capture.mjs OUT.json
//
// The request id is the one tusk derives for the per-request secret
// NONCE: "_" + hex(SHA-256("tusk-saml-request:" + NONCE)).

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

import { USERS, identityProvider, loginResponse, makeKeyPair, serviceProvider } from './idp.mjs';

const out = process.argv[2];
if (!out) {
  console.error('usage: node tests/saml/capture.mjs OUT.json');
  process.exit(2);
}
const NONCE = 'fixture-nonce';
const ACS = 'http://127.0.0.1:5556/dex/callback';
const SP = 'https://tusk.example.com/saml-sp';
const requestID = `_${createHash('sha256').update(`tusk-saml-request:${NONCE}`).digest('hex')}`;
// Ten minutes after the certificates start, so a clock set a little
// before a response's NotBefore still finds the certificate valid.
const now = new Date(Date.now() + 10 * 60 * 1000);
// Ten years: the committed capture must stay usable; the key is thrown away.
const keys = makeKeyPair('tusk-test-idp', 3650);
const other = makeKeyPair('some-other-idp', 3650);
const idp = identityProvider({ entityID: 'https://idp.example.com/metadata', ssoURL: 'https://idp.example.com/sso', ...keys });
const sp = (signing) => serviceProvider({ entityID: SP, acs: ACS, signing });
const make = (signing, extra = {}) => loginResponse(idp, sp(signing), { requestID, user: USERS.jane, now, ...extra });

const fixture = {
  note: 'made by tests/saml/capture.mjs with samlify; regenerate, never edit by hand',
  nonce: NONCE,
  request_id: requestID,
  acs: ACS,
  sp_entity_id: SP,
  idp_entity_id: 'https://idp.example.com/metadata',
  now: Math.floor(now.getTime() / 1000),
  cert: keys.cert,
  other_cert: other.cert,
  responses: {
    assertion_signed: await make('assertion'),
    both_signed: await make('both'),
    response_signed_only: await make('response'),
    wrong_audience: await make('assertion', { audience: 'https://someone-else.example.com/sp' }),
  },
};
writeFileSync(out, JSON.stringify(fixture, null, 2) + '\n');
console.log(`wrote ${out}`);
