//! The `saml` connector: a SAML 2.0 service provider in Dex's `saml`
//! dialect, field for field. The browser goes to the IdP's `ssoURL` with an
//! `AuthnRequest` (HTTP-Redirect binding, `RelayState` = the auth request
//! id) and comes back with a `Response` POSTed to the ACS, `<issuer>/callback`.
//!
//! Submodules: `xml` reads the response into a namespace-aware tree and
//! refuses DTDs; `c14n` is exclusive canonicalisation; `dsig` verifies one
//! enveloped signature with the configured keys (`ca`/`caData`, read by
//! `tusk_core::certificate`);
//! `response` holds every validation rule, pure, the time passed in.
//! docs/saml-connector.md states the rules for admins.
//!
//! Each assertion is accepted once: the request id it must answer
//! (`InResponseTo`) is derived from the provider's auth request, which the
//! provider consumes when the login finishes (`Store::take`, atomic across
//! replicas), so the same response cannot finish a second login.

mod c14n;
mod dsig;
mod response;
mod xml;

use crate::connector::{
    CallbackConnector, Connector, Identity, RefreshConnector, Scopes, UpstreamParams,
};
use crate::error::{Error, config_err};
use crate::fields::{as_object, opt_str, req_str};
use crate::now::Now;
use async_trait::async_trait;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tusk_core::clock::Clock;

pub use response::{MAX_RESPONSE_CHARS, SKEW_SECS};
pub use tusk_core::certificate::{Certificate, parse_pem, pem_text as ca_data_text};

const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

/// The NameID formats `nameIDPolicyFormat` may name, in full or by their
/// last `:` component (Dex's list).
const NAME_ID_FORMATS: &[&str] = &[
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos",
    PERSISTENT,
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
];

/// The connector's config, parsed.
#[derive(Debug, Clone)]
pub struct Config {
    pub sso_url: String,
    pub entity_issuer: Option<String>,
    pub sso_issuer: Option<String>,
    pub redirect_uri: String,
    pub username_attr: String,
    pub email_attr: String,
    pub groups_attr: Option<String>,
    pub groups_delim: Option<String>,
    pub allowed_groups: Vec<String>,
    pub filter_groups: bool,
    pub name_id_policy_format: String,
    /// Empty only with `insecureSkipSignatureValidation`.
    pub certificates: Vec<Certificate>,
    pub insecure_skip_signature_validation: bool,
}

impl Config {
    /// Parses a `saml` config. Reads the `ca` file when that is set.
    pub fn parse(id: &str, config: &serde_json::Value) -> Result<Config, Error> {
        let obj = as_object(id, config, "the saml config")?;
        let err = |reason: String| config_err(id, reason);
        let string = |key: &str| -> Result<Option<String>, Error> {
            Ok(opt_str(id, obj, "", key)?
                .filter(|s| !s.is_empty())
                .map(str::to_owned))
        };
        let boolean = |key: &str| -> Result<bool, Error> {
            match obj.get(key) {
                None | Some(serde_json::Value::Null) => Ok(false),
                Some(serde_json::Value::Bool(b)) => Ok(*b),
                Some(_) => Err(err(format!("`{key}` must be true or false"))),
            }
        };
        let sso_url = req_str(id, obj, "", "ssoURL")?.to_owned();
        let redirect_uri = req_str(id, obj, "", "redirectURI")?.to_owned();
        let username_attr = req_str(id, obj, "", "usernameAttr")?.to_owned();
        let email_attr = req_str(id, obj, "", "emailAttr")?.to_owned();
        for (key, value) in [("ssoURL", &sso_url), ("redirectURI", &redirect_uri)] {
            match url::Url::parse(value) {
                Ok(u) if u.scheme() == "https" || u.scheme() == "http" => {}
                _ => return Err(err(format!("`{key}` must be an absolute http(s) URL"))),
            }
        }
        let allowed_groups = match obj.get("allowedGroups") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| err("`allowedGroups` must be a list of strings".into()))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(err("`allowedGroups` must be a list of strings".into())),
        };
        let name_id_policy_format = match string("nameIDPolicyFormat")? {
            None => PERSISTENT.to_owned(),
            Some(f) => NAME_ID_FORMATS
                .iter()
                .find(|full| **full == f || full.rsplit(':').next() == Some(f.as_str()))
                .map(|s| (*s).to_owned())
                .ok_or_else(|| {
                    err(format!(
                        "invalid nameIDPolicyFormat `{f}`: use one of {}, or its full URN",
                        NAME_ID_FORMATS
                            .iter()
                            .filter_map(|s| s.rsplit(':').next())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
        };
        let insecure = boolean("insecureSkipSignatureValidation")?;
        let ca = string("ca")?;
        let ca_data = string("caData")?;
        let certificates = match (ca, ca_data) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "both `ca` and `caData` are set; keep one: `ca` is a file path, `caData` the PEM (or its base64)".into(),
                ));
            }
            (None, None) if insecure => Vec::new(),
            (None, None) => {
                return Err(err(
                    "no IdP certificate: set `ca` (a PEM file) or `caData` (the PEM, or its base64) to the IdP's signing certificate".into(),
                ));
            }
            (Some(path), None) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| err(format!("cannot read `ca` file {path}: {e}")))?;
                parse_pem(&text).map_err(|e| err(format!("`ca` ({path}): {e}")))?
            }
            (None, Some(data)) => {
                parse_pem(&ca_data_text(&data)).map_err(|e| err(format!("`caData`: {e}")))?
            }
        };
        if insecure {
            tracing::warn!(
                connector = %id,
                "insecureSkipSignatureValidation is set: SAML signatures are NOT checked, so anyone can forge a login through this connector; never use it outside a test"
            );
        }
        Ok(Config {
            sso_url,
            entity_issuer: string("entityIssuer")?,
            sso_issuer: string("ssoIssuer")?,
            redirect_uri,
            username_attr,
            email_attr,
            groups_attr: string("groupsAttr")?,
            groups_delim: string("groupsDelim")?,
            allowed_groups,
            filter_groups: boolean("filterGroups")?,
            name_id_policy_format,
            certificates,
            insecure_skip_signature_validation: insecure,
        })
    }

    /// The SP's entity id: `entityIssuer`, else `redirectURI` (Dex's
    /// expected audience).
    pub fn entity_id(&self) -> &str {
        self.entity_issuer.as_deref().unwrap_or(&self.redirect_uri)
    }
}

/// An opened `saml` connector.
pub struct Saml {
    id: String,
    cfg: Config,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Saml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saml")
            .field("id", &self.id)
            .field("sso_url", &self.cfg.sso_url)
            .field("entity_id", &self.cfg.entity_id())
            .finish()
    }
}

impl Saml {
    pub fn open(id: &str, config: &serde_json::Value) -> Result<Saml, Error> {
        Saml::with_clock(id, config, Arc::new(Now))
    }

    pub fn with_clock(
        id: &str,
        config: &serde_json::Value,
        clock: Arc<dyn Clock>,
    ) -> Result<Saml, Error> {
        Ok(Saml {
            id: id.to_owned(),
            cfg: Config::parse(id, config)?,
            clock,
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn refused(&self, reason: String) -> Error {
        Error::SamlRefused {
            connector: self.id.clone(),
            reason,
        }
    }

    /// The SP metadata document for the IdP admin to import.
    pub fn metadata(&self) -> String {
        let cfg = &self.cfg;
        format!(
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">\n",
                "  <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n",
                "    <md:NameIDFormat>{format}</md:NameIDFormat>\n",
                "    <md:AssertionConsumerService Binding=\"{binding}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\n",
                "  </md:SPSSODescriptor>\n",
                "</md:EntityDescriptor>\n"
            ),
            entity = escape(cfg.entity_id()),
            format = escape(&cfg.name_id_policy_format),
            binding = BINDING_POST,
            acs = escape(&cfg.redirect_uri),
        )
    }

    /// The `AuthnRequest` XML for a request id, at the connector's time.
    fn authn_request(&self, request_id: &str) -> String {
        let cfg = &self.cfg;
        format!(
            concat!(
                "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ",
                "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" ",
                "IssueInstant=\"{instant}\" Destination=\"{dest}\" ProtocolBinding=\"{binding}\" ",
                "AssertionConsumerServiceURL=\"{acs}\">",
                "<saml:Issuer>{issuer}</saml:Issuer>",
                "<samlp:NameIDPolicy Format=\"{format}\" AllowCreate=\"true\"/>",
                "</samlp:AuthnRequest>"
            ),
            id = escape(request_id),
            instant = response::format_time(self.clock.now()),
            dest = escape(&cfg.sso_url),
            binding = BINDING_POST,
            acs = escape(&cfg.redirect_uri),
            issuer = escape(cfg.entity_id()),
            format = escape(&cfg.name_id_policy_format),
        )
    }

    fn identity(&self, scopes: &Scopes, v: response::Verified) -> Result<Identity, Error> {
        let cfg = &self.cfg;
        let names = || {
            v.attributes
                .iter()
                .map(|(n, _)| format!("`{}`", crate::query::truncate(n, 80)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let first = |name: &str| -> Result<String, Error> {
            // Like Dex: the first value of the attributes with this name.
            v.attributes
                .iter()
                .filter(|(n, _)| n == name)
                .find_map(|(_, vals)| vals.first())
                .filter(|s| !s.is_empty())
                .cloned()
                .ok_or_else(|| {
                    self.refused(format!(
                        "the assertion has no attribute `{name}` (it has {}): map it at the IdP or change the connector's attribute names",
                        names()
                    ))
                })
        };
        let mut identity = Identity {
            user_id: v.name_id.clone(),
            email: first(&cfg.email_attr)?,
            email_verified: true,
            username: first(&cfg.username_attr)?,
            ..Identity::default()
        };
        let wants_groups = scopes.groups || !cfg.allowed_groups.is_empty();
        let Some(groups_attr) = cfg.groups_attr.as_deref().filter(|_| wants_groups) else {
            if !cfg.allowed_groups.is_empty() {
                return Err(self.refused(
                    "the user is not a member of allowedGroups: no groups are read (set `groupsAttr`)".into(),
                ));
            }
            return Ok(identity);
        };
        // Like Dex: the values of every attribute with this name (some IdPs
        // send one attribute per group).
        let matching: Vec<&Vec<String>> = v
            .attributes
            .iter()
            .filter(|(n, _)| n == groups_attr)
            .map(|(_, vals)| vals)
            .collect();
        let values: Vec<String> = (!matching.is_empty())
            .then(|| matching.into_iter().flatten().cloned().collect())
            .ok_or_else(|| {
                self.refused(format!(
                    "the assertion has no attribute `{groups_attr}` (groupsAttr; it has {})",
                    names()
                ))
            })?;
        let mut groups: Vec<String> = match cfg.groups_delim.as_deref() {
            Some(delim) => values
                .first()
                .map(|s| s.split(delim).map(str::to_owned).collect())
                .unwrap_or_default(),
            None => values,
        };
        if !cfg.allowed_groups.is_empty() {
            let matched: Vec<String> = groups
                .iter()
                .filter(|g| cfg.allowed_groups.contains(g))
                .cloned()
                .collect();
            if matched.is_empty() {
                return Err(self.refused("the user is not a member of allowedGroups".into()));
            }
            if cfg.filter_groups {
                groups = matched;
            }
        }
        identity.groups = if scopes.groups { groups } else { Vec::new() };
        Ok(identity)
    }
}

/// The `AuthnRequest` ID for a login: derived from the provider's
/// per-request secret, so only the login that sent it can be answered.
pub fn request_id(upstream: &UpstreamParams) -> String {
    let digest = Sha256::digest(format!("tusk-saml-request:{}", upstream.nonce).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("_{hex}")
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Raw DEFLATE (RFC 1951) in stored blocks: valid input for every
/// inflater, and all the HTTP-Redirect binding needs for a request of a
/// few hundred bytes.
fn deflate_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5 * (data.len() / 65_535 + 1));
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

#[async_trait]
impl Connector for Saml {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "saml"
    }

    async fn open(&self) -> Result<(), Error> {
        if self.cfg.insecure_skip_signature_validation {
            tracing::warn!(
                connector = %self.id,
                "insecureSkipSignatureValidation is set: SAML signatures are NOT checked, so anyone can forge a login through this connector; never use it outside a test"
            );
        }
        Ok(())
    }

    fn callback(&self) -> Option<&dyn CallbackConnector> {
        Some(self)
    }

    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }

    fn sp_metadata(&self) -> Option<String> {
        Some(self.metadata())
    }
}

#[async_trait]
impl CallbackConnector for Saml {
    fn login_url(
        &self,
        _scopes: &Scopes,
        callback_url: &str,
        state: &str,
        upstream: &UpstreamParams,
    ) -> Result<String, Error> {
        if self.cfg.redirect_uri != callback_url {
            return Err(config_err(
                &self.id,
                format!(
                    "`redirectURI` is \"{}\" but tusk receives SAML responses at \"{callback_url}\"; set `redirectURI` to \"{callback_url}\" and use that as the ACS URL at the IdP",
                    self.cfg.redirect_uri
                ),
            ));
        }
        if upstream.nonce.is_empty() {
            return Err(Error::Internal(
                "the auth request has no per-request secret to derive the SAML request id from"
                    .into(),
            ));
        }
        let xml = self.authn_request(&request_id(upstream));
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(deflate_stored(xml.as_bytes()));
        let mut url = url::Url::parse(&self.cfg.sso_url)
            .map_err(|e| config_err(&self.id, format!("`ssoURL` does not parse: {e}")))?;
        url.query_pairs_mut()
            .append_pair("SAMLRequest", &encoded)
            .append_pair("RelayState", state);
        Ok(url.into())
    }

    async fn handle_callback(
        &self,
        scopes: &Scopes,
        _callback_url: &str,
        query: &[(String, String)],
        upstream: &UpstreamParams,
    ) -> Result<Identity, Error> {
        let saml_response = crate::query::query_param(query, "SAMLResponse").ok_or_else(|| {
            self.refused(
                "the callback carries no SAMLResponse: the IdP must POST the response to the ACS URL (HTTP-POST binding)".into(),
            )
        })?;
        let now = self.clock.now();
        // Only certificates valid now (with the skew) sign; an expired
        // one is named, so the admin knows to install the IdP's new one.
        let keys: Vec<dsig::PublicKey> = self
            .cfg
            .certificates
            .iter()
            .filter(|c| c.not_before - SKEW_SECS <= now && now <= c.not_after + SKEW_SECS)
            .map(|c| dsig::PublicKey(c.rsa_public_key.clone()))
            .collect();
        if keys.is_empty() && !self.cfg.insecure_skip_signature_validation {
            let expiry = self
                .cfg
                .certificates
                .iter()
                .map(|c| {
                    format!(
                        "`{}` valid {} to {}",
                        c.subject,
                        response::format_time(c.not_before),
                        response::format_time(c.not_after)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            return Err(self.refused(format!(
                "no configured IdP certificate is valid now ({expiry}): put the IdP's current signing certificate in `ca`/`caData`"
            )));
        }
        let rules = response::Rules {
            keys: if self.cfg.insecure_skip_signature_validation {
                None
            } else {
                Some(&keys)
            },
            audience: self.cfg.entity_id(),
            recipient: &self.cfg.redirect_uri,
            sso_issuer: self.cfg.sso_issuer.as_deref(),
        };
        let verified = response::validate(saml_response, &rules, &request_id(upstream), now)
            .map_err(|reason| self.refused(reason))?;
        self.identity(scopes, verified)
    }
}

/// SAML has no refresh: the identity stored at login stands until the
/// session's absolute lifetime ends.
#[async_trait]
impl RefreshConnector for Saml {
    async fn refresh(&self, scopes: &Scopes, mut identity: Identity) -> Result<Identity, Error> {
        if !scopes.groups {
            identity.groups.clear();
        }
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn stored_deflate_frames_blocks() {
        assert_eq!(deflate_stored(b""), vec![1, 0, 0, 0xff, 0xff]);
        assert_eq!(deflate_stored(b"ab"), vec![1, 2, 0, 0xfd, 0xff, b'a', b'b']);
        let big = vec![7u8; 70_000];
        let out = deflate_stored(&big);
        assert_eq!(out[0], 0);
        assert_eq!(out[5 + 65_535], 1);
        assert_eq!(out.len(), 70_000 + 10);
    }
}
