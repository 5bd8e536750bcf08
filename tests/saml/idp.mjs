// A small SAML 2.0 identity provider for tusk's tests, built on npm samlify
// (signing through xml-crypto, schema validation through xmllint). It makes
// a fresh RSA key and self-signed certificate per run (openssl), serves a
// login page at /sso for AuthnRequests (HTTP-Redirect binding), and answers
// with a signed Response POSTed to the SP's ACS (HTTP-POST binding).
//
// The SP is read from the SP's own metadata URL (tusk's
// <issuer>/saml/<connector>/metadata), so the test proves that document
// too. `signing` chooses what is signed: 'assertion' (default), 'both',
// 'response' (a signed response wrapping an unsigned assertion).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as validator from '@authenio/samlify-node-xmllint';
import * as samlify from 'samlify';

samlify.setSchemaValidator(validator);

const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

export const USERS = {
  jane: {
    password: 'jane-pass',
    nameID: 'jane-0001',
    email: 'jane@example.com',
    uid: 'jane',
    groups: ['admins', 'data-team'],
  },
  joe: {
    password: 'joe-pass',
    nameID: 'joe-0002',
    email: 'joe@example.com',
    uid: 'joe',
    groups: ['viewers'],
  },
};

/** A fresh RSA-2048 key and a self-signed certificate, as PEM. */
export function makeKeyPair(cn = 'tusk-test-idp', days = 2) {
  const dir = mkdtempSync(join(tmpdir(), 'tusk-saml-key-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', String(days),
      '-subj', `/CN=${cn}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'pipe' });
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;',
}[c]));

const TEMPLATE = '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}"><saml:Issuer>{Issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}"><saml:Issuer>{Issuer}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{NameID}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{NotOnOrAfter}" Recipient="{Recipient}" InResponseTo="{InResponseTo}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{NotBefore}" NotOnOrAfter="{NotOnOrAfter}"><saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{IssueInstant}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>{Attributes}</saml:Assertion></samlp:Response>';

function attributes(user) {
  const attr = (name, values) => `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${
    values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
  return `<saml:AttributeStatement>${attr('email', [user.email])}${attr('uid', [user.uid])}${attr('groups', user.groups)}</saml:AttributeStatement>`;
}

/** A samlify IdP entity for `entityID`, with its SSO endpoint at `ssoURL`. */
export function identityProvider({ entityID, ssoURL, key, cert }) {
  return samlify.IdentityProvider({
    entityID,
    privateKey: key,
    signingCert: cert,
    wantAuthnRequestsSigned: false,
    singleSignOnService: [{ Binding: REDIRECT, Location: ssoURL }],
    singleLogoutService: [{ Binding: REDIRECT, Location: ssoURL.replace(/sso$/, 'slo') }],
    nameIDFormat: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
    loginResponseTemplate: { context: TEMPLATE, attributes: [] },
  });
}

/** A samlify SP entity from settings (entity id, ACS) and the signing choice. */
export function serviceProvider({ entityID, acs, metadata, signing = 'assertion' }) {
  const flags = {
    assertion: { wantAssertionsSigned: true, wantMessageSigned: false },
    both: { wantAssertionsSigned: true, wantMessageSigned: true },
    response: { wantAssertionsSigned: false, wantMessageSigned: true },
  }[signing];
  if (!flags) throw new Error(`unknown signing mode ${signing}`);
  if (metadata) {
    // samlify takes WantAssertionsSigned from the metadata (tusk's says
    // "true"); an IdP admin who signs the response only overrides it.
    const md = flags.wantAssertionsSigned ? metadata : metadata.replace('WantAssertionsSigned="true"', 'WantAssertionsSigned="false"');
    return samlify.ServiceProvider({ metadata: md, wantMessageSigned: flags.wantMessageSigned });
  }
  return samlify.ServiceProvider({
    entityID,
    assertionConsumerService: [{ Binding: POST, Location: acs }],
    ...flags,
  });
}

/**
 * A signed login response from `idp` to `sp` answering request `requestID`
 * for `user`, valid for five minutes from `now`; returns the base64
 * SAMLResponse.
 */
export async function loginResponse(idp, sp, { requestID, user, now = new Date(), audience }) {
  const later = new Date(now.getTime() + 5 * 60 * 1000);
  const acs = sp.entityMeta.getAssertionConsumerService('post');
  const replace = (template) => {
    const values = {
      ID: `_${crypto.randomUUID()}`,
      AssertionID: `_${crypto.randomUUID()}`,
      IssueInstant: now.toISOString(),
      Destination: acs,
      InResponseTo: requestID,
      Issuer: idp.entityMeta.getEntityID(),
      NameID: user.nameID,
      NotBefore: now.toISOString(),
      NotOnOrAfter: later.toISOString(),
      Recipient: acs,
      Audience: audience ?? sp.entityMeta.getEntityID(),
    };
    let context = template.replace(/\{(\w+)\}/g, (_, k) => (k === 'Attributes' ? '{Attributes}' : esc(values[k] ?? '')));
    context = context.replace('{Attributes}', attributes(user));
    return { id: values.ID, context };
  };
  const { context } = await idp.createLoginResponse(sp, {}, 'post', user, replace);
  return context;
}

const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;

/**
 * Starts the IdP on 127.0.0.1:`port` (0 = any). `spMetadataURL` is fetched
 * on each login, so the IdP always sees tusk's current metadata.
 */
export async function startIdp({ port = 0, spMetadataURL, signing = 'assertion', users = USERS, keyPair = makeKeyPair() }) {
  const server = createServer();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const entityID = `${base}/metadata`;
  const idp = identityProvider({ entityID, ssoURL: `${base}/sso`, key: keyPair.key, cert: keyPair.cert });
  const state = { signing, logins: 0, lastResponse: null };
  const sp = async () => serviceProvider({
    metadata: await (await fetch(spMetadataURL)).text(),
    signing: state.signing,
  });
  const pending = new Map();

  server.on('request', async (req, res) => {
    const url = new URL(req.url, base);
    const send = (status, html) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    };
    try {
      if (req.method === 'GET' && url.pathname === '/metadata') {
        res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
        res.end(idp.getMetadata());
        return;
      }
      if (req.method === 'GET' && url.pathname === '/sso') {
        const query = Object.fromEntries(url.searchParams);
        const parsed = await idp.parseLoginRequest(await sp(), 'redirect', { query, octetString: '' });
        const ticket = crypto.randomUUID();
        pending.set(ticket, { requestID: parsed.extract.request.id, relayState: query.RelayState ?? '' });
        send(200, page('Sign in to the test IdP', `<form method="post" action="/login">
<input type="hidden" name="ticket" value="${esc(ticket)}">
<label>Username <input name="username" id="username"></label>
<label>Password <input name="password" id="password" type="password"></label>
<button type="submit" id="submit">Sign in</button></form>`));
        return;
      }
      if (req.method === 'POST' && url.pathname === '/login') {
        let body = '';
        for await (const chunk of req) body += chunk;
        const form = new URLSearchParams(body);
        const login = pending.get(form.get('ticket'));
        const user = users[form.get('username')];
        if (!login) return send(400, page('Unknown login', '<p>start again</p>'));
        if (!user || user.password !== form.get('password')) {
          return send(401, page('Wrong username or password', '<p>go back and try again</p>'));
        }
        pending.delete(form.get('ticket'));
        const target = await sp();
        const response = await loginResponse(idp, target, { requestID: login.requestID, user });
        state.logins += 1;
        state.lastResponse = { response, relayState: login.relayState };
        const acs = target.entityMeta.getAssertionConsumerService('post');
        send(200, page('Signing you in', `<form method="post" action="${esc(acs)}" id="saml">
<input type="hidden" name="SAMLResponse" value="${esc(response)}">
<input type="hidden" name="RelayState" value="${esc(login.relayState)}">
<button type="submit">Continue</button></form>
<script>document.getElementById('saml').submit()</script>`));
        return;
      }
      send(404, page('Not found', ''));
    } catch (e) {
      send(500, page('IdP error', `<pre>${esc(e.stack ?? e)}</pre>`));
    }
  });

  return {
    base,
    entityID,
    ssoURL: `${base}/sso`,
    cert: keyPair.cert,
    state,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}
