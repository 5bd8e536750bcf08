//! The `ldap` connector's config, in Dex's dialect (same keys, defaults and
//! meanings), parsed without I/O. Where Dex silently ignores a setting or
//! fails later at login, tusk refuses here with the fix: both
//! `insecureNoSSL` and `startTLS`, `rootCA` with `rootCAData`, half a
//! client certificate, a `bindDN` without `bindPW` (or the reverse), a
//! `host` written as a URL, `emailSuffix` without `nameAttr`, and a group
//! search without a name attribute or a user matcher.

use crate::error::{Error, config_err};
use crate::fields::{as_object, opt_str, req_str};
use base64::Engine;
use serde_json::{Map, Value};
use tusk_core::Secret;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `ldaps://`: TLS from the first byte (Dex's default, port 636).
    Ldaps,
    /// `ldap://` then the StartTLS extended operation (port 389).
    StartTls,
    /// `ldap://` in clear text (`insecureNoSSL`, port 389).
    Plain,
}

/// Search scope; Dex accepts `sub` (the default) and `one`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Sub,
    One,
}

/// Where the trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCa {
    /// The system trust store.
    System,
    /// `rootCA`: a PEM file read when the connector opens.
    File(String),
    /// `rootCAData`: PEM bytes (base64 in the config, as Dex's `[]byte`).
    Data(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSearch {
    pub base_dn: String,
    /// The admin's filter, e.g. `(objectClass=person)`, or `None`.
    pub filter: Option<String>,
    /// The attributes the login name is matched against, e.g. `uid` (Dex
    /// takes one name or a list; any of them may match).
    pub username: Vec<String>,
    pub scope: Scope,
    pub id_attr: String,
    pub email_attr: String,
    pub name_attr: Option<String>,
    pub preferred_username_attr: Option<String>,
    pub email_suffix: Option<String>,
}

/// One way a group names its members: the group's `group_attr` holds the
/// user's `user_attr` (`DN` means the user's distinguished name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMatcher {
    pub user_attr: String,
    pub group_attr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSearch {
    pub base_dn: String,
    pub filter: Option<String>,
    pub scope: Scope,
    pub matchers: Vec<UserMatcher>,
    pub name_attr: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `host:port`, with the port defaulted as Dex does.
    pub host: String,
    /// The name the server's certificate must carry (the host without port).
    pub server_name: String,
    pub transport: Transport,
    pub insecure_skip_verify: bool,
    pub root_ca: RootCa,
    /// `clientCert` and `clientKey` file paths.
    pub client_cert: Option<(String, String)>,
    /// Empty DN and password mean an anonymous service bind, as in Dex.
    pub bind_dn: String,
    pub bind_pw: Secret<String>,
    pub prompt: String,
    pub user: UserSearch,
    pub group: Option<GroupSearch>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("transport", &self.transport)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("system_roots", &matches!(self.root_ca, RootCa::System))
            .field("client_cert", &self.client_cert.as_ref().map(|(c, _)| c))
            .field("bind_dn", &self.bind_dn)
            .field("bind_pw", &self.bind_pw)
            .field("user", &self.user)
            .field("group", &self.group)
            .finish()
    }
}

impl Config {
    /// The URL ldap3 dials.
    pub fn url(&self) -> String {
        match self.transport {
            Transport::Ldaps => format!("ldaps://{}", self.host),
            Transport::StartTls | Transport::Plain => format!("ldap://{}", self.host),
        }
    }
}

fn opt_bool(connector: &str, obj: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(config_err(
            connector,
            format!("`{key}` must be true or false"),
        )),
    }
}

/// A non-empty optional string.
fn nonempty<'a>(
    connector: &str,
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, Error> {
    Ok(opt_str(connector, obj, path, key)?
        .map(str::trim)
        .filter(|s| !s.is_empty()))
}

fn scope(connector: &str, obj: &Map<String, Value>, path: &str) -> Result<Scope, Error> {
    match opt_str(connector, obj, path, "scope")?.map(str::trim) {
        None | Some("") | Some("sub") => Ok(Scope::Sub),
        Some("one") => Ok(Scope::One),
        Some(other) => Err(config_err(
            connector,
            format!(
                "`{path}scope` is `{other}`; use `sub` (the whole subtree, the default) or `one` (one level below baseDN)"
            ),
        )),
    }
}

/// A filter the admin wrote: it must be one parenthesised filter that
/// parses, because tusk wraps it as `(&<filter>(<attr>=<value>))`.
fn filter(connector: &str, obj: &Map<String, Value>, path: &str) -> Result<Option<String>, Error> {
    let Some(f) = nonempty(connector, obj, path, "filter")? else {
        return Ok(None);
    };
    if !f.starts_with('(') || !f.ends_with(')') || ldap3::parse_filter(f).is_err() {
        return Err(config_err(
            connector,
            format!(
                "`{path}filter` `{f}` is not an LDAP search filter (RFC 4515); write one filter in parentheses, e.g. `(objectClass=person)`"
            ),
        ));
    }
    Ok(Some(f.to_owned()))
}

/// An attribute description: letters, digits and `-` (RFC 4512), or an OID.
fn attr(connector: &str, path: &str, key: &str, value: &str) -> Result<String, Error> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ';');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(config_err(
            connector,
            format!(
                "`{path}{key}` `{value}` is not an attribute name; use a name such as `uid`, `mail` or `member`"
            ),
        ))
    }
}

/// Splits `host` into `host:port` and the TLS server name, defaulting the
/// port as Dex does: 389 with `insecureNoSSL`, else 636.
fn host(connector: &str, raw: &str, no_ssl: bool) -> Result<(String, String), Error> {
    let raw = raw.trim();
    if raw.contains("://") || raw.contains('/') {
        return Err(config_err(
            connector,
            format!(
                "`host` `{raw}` is a URL; write only the host and optional port, e.g. `ldap.example.com:636`, and choose TLS with `startTLS` or `insecureNoSSL`"
            ),
        ));
    }
    let default_port = if no_ssl { "389" } else { "636" };
    let bad = || {
        config_err(
            connector,
            format!(
                "`host` `{raw}` is not a host name or `host:port`; e.g. `ldap.example.com:636` or `[2001:db8::1]:636`"
            ),
        )
    };
    let (name, port) = if let Some(rest) = raw.strip_prefix('[') {
        let (name, after) = rest.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (name, default_port),
            p => (name, p.strip_prefix(':').ok_or_else(bad)?),
        }
    } else if raw.matches(':').count() > 1 {
        // A bare IPv6 address.
        (raw, default_port)
    } else {
        match raw.split_once(':') {
            Some((n, p)) => (n, p),
            None => (raw, default_port),
        }
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(bad()),
    }
    let joined = if name.contains(':') {
        format!("[{name}]:{port}")
    } else {
        format!("{name}:{port}")
    };
    Ok((joined, name.to_owned()))
}

/// `rootCAData`: Dex reads it as Go `[]byte`, i.e. base64 of the PEM; PEM
/// text itself is accepted too.
fn root_ca_data(connector: &str, data: &str) -> Result<Vec<u8>, Error> {
    let trimmed = data.trim();
    if trimmed.starts_with("-----BEGIN") {
        return Ok(trimmed.as_bytes().to_vec());
    }
    let compact: String = trimmed.split_whitespace().collect();
    match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
        Ok(bytes) if bytes.starts_with(b"-----BEGIN") => Ok(bytes),
        _ => Err(config_err(
            connector,
            "`rootCAData` is neither base64 of a PEM certificate nor PEM text; encode the CA file with `base64 -w0 ca.pem`".into(),
        )),
    }
}

/// Parses a validated config. No I/O: files named in it are read by
/// [`crate::Connector::open`].
pub fn parse(connector: &str, value: &Value) -> Result<Config, Error> {
    let obj = as_object(connector, value, "the ldap config")?;
    let no_ssl = opt_bool(connector, obj, "insecureNoSSL")?;
    let start_tls = opt_bool(connector, obj, "startTLS")?;
    if no_ssl && start_tls {
        return Err(config_err(
            connector,
            "both `insecureNoSSL` and `startTLS` are set; StartTLS encrypts the connection, so remove `insecureNoSSL` (or remove `startTLS` for clear text)".into(),
        ));
    }
    let transport = match (no_ssl, start_tls) {
        (true, _) => Transport::Plain,
        (false, true) => Transport::StartTls,
        (false, false) => Transport::Ldaps,
    };
    let (host, server_name) = host(connector, req_str(connector, obj, "", "host")?, no_ssl)?;
    let root_ca = match (
        nonempty(connector, obj, "", "rootCA")?,
        nonempty(connector, obj, "", "rootCAData")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(config_err(
                connector,
                "both `rootCA` and `rootCAData` are set; keep one (a file path, or the base64 of the PEM)".into(),
            ));
        }
        (Some(file), None) => RootCa::File(file.to_owned()),
        (None, Some(data)) => RootCa::Data(root_ca_data(connector, data)?),
        (None, None) => RootCa::System,
    };
    let client_cert = match (
        nonempty(connector, obj, "", "clientCert")?,
        nonempty(connector, obj, "", "clientKey")?,
    ) {
        (Some(c), Some(k)) => Some((c.to_owned(), k.to_owned())),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(config_err(
                connector,
                "only one of `clientCert` and `clientKey` is set; a client certificate needs both files".into(),
            ));
        }
    };
    let bind_dn = nonempty(connector, obj, "", "bindDN")?.unwrap_or_default();
    let bind_pw = opt_str(connector, obj, "", "bindPW")?.unwrap_or_default();
    match (bind_dn.is_empty(), bind_pw.is_empty()) {
        (false, true) => {
            return Err(config_err(
                connector,
                "`bindDN` is set but `bindPW` is empty; set the service account's password in `bindPW`".into(),
            ));
        }
        (true, false) => {
            return Err(config_err(
                connector,
                "`bindPW` is set but `bindDN` is empty; set the service account's DN in `bindDN`"
                    .into(),
            ));
        }
        _ => {}
    }
    let prompt = nonempty(connector, obj, "", "usernamePrompt")?
        .unwrap_or("Username")
        .to_owned();

    let us = match obj.get("userSearch") {
        Some(v) => as_object(connector, v, "`userSearch`")?,
        None => {
            return Err(config_err(
                connector,
                "no userSearch supplied: set `userSearch.baseDN` and `userSearch.username`".into(),
            ));
        }
    };
    let p = "userSearch.";
    let name_attr = nonempty(connector, us, p, "nameAttr")?
        .map(|a| attr(connector, p, "nameAttr", a))
        .transpose()?;
    let email_suffix = nonempty(connector, us, p, "emailSuffix")?.map(str::to_owned);
    if email_suffix.is_some() && name_attr.is_none() {
        return Err(config_err(
            connector,
            "`userSearch.emailSuffix` makes the email `<nameAttr value>@<suffix>`, but `userSearch.nameAttr` is not set; set it (e.g. `uid`)".into(),
        ));
    }
    let user = UserSearch {
        base_dn: req_str(connector, us, p, "baseDN")?.trim().to_owned(),
        filter: filter(connector, us, p)?,
        username: username(connector, us)?,
        scope: scope(connector, us, p)?,
        id_attr: attr(
            connector,
            p,
            "idAttr",
            nonempty(connector, us, p, "idAttr")?.unwrap_or("uid"),
        )?,
        email_attr: attr(
            connector,
            p,
            "emailAttr",
            nonempty(connector, us, p, "emailAttr")?.unwrap_or("mail"),
        )?,
        name_attr,
        preferred_username_attr: nonempty(connector, us, p, "preferredUsernameAttr")?
            .map(|a| attr(connector, p, "preferredUsernameAttr", a))
            .transpose()?,
        email_suffix,
    };

    let group = match obj.get("groupSearch") {
        None | Some(Value::Null) => None,
        Some(v) => group_search(connector, as_object(connector, v, "`groupSearch`")?)?,
    };
    Ok(Config {
        host,
        server_name,
        transport,
        insecure_skip_verify: opt_bool(connector, obj, "insecureSkipVerify")?,
        root_ca,
        client_cert,
        bind_dn: bind_dn.to_owned(),
        bind_pw: Secret::from(bind_pw),
        prompt,
        user,
        group,
    })
}

/// `userSearch.username`: one attribute name, or a list of them (later Dex).
fn username(connector: &str, us: &Map<String, Value>) -> Result<Vec<String>, Error> {
    let p = "userSearch.";
    let names: Vec<&str> = match us.get("username") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::trim))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                config_err(
                    connector,
                    "`userSearch.username` must be an attribute name or a list of them".into(),
                )
            })?,
        _ => vec![req_str(connector, us, p, "username")?.trim()],
    };
    if names.is_empty() {
        return Err(config_err(
            connector,
            "no username supplied: set `userSearch.username` (e.g. `uid`)".into(),
        ));
    }
    names
        .into_iter()
        .map(|n| attr(connector, p, "username", n))
        .collect()
}

fn group_search(connector: &str, gs: &Map<String, Value>) -> Result<Option<GroupSearch>, Error> {
    let p = "groupSearch.";
    // Dex searches no groups without a base DN.
    let Some(base_dn) = nonempty(connector, gs, p, "baseDN")? else {
        return Ok(None);
    };
    let mut matchers = Vec::new();
    match gs.get("userMatchers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("{p}userMatchers[{i}].");
                let m = as_object(connector, item, &format!("`{p}userMatchers[{i}]`"))?;
                matchers.push(UserMatcher {
                    user_attr: attr(
                        connector,
                        &path,
                        "userAttr",
                        req_str(connector, m, &path, "userAttr")?.trim(),
                    )?,
                    group_attr: attr(
                        connector,
                        &path,
                        "groupAttr",
                        req_str(connector, m, &path, "groupAttr")?.trim(),
                    )?,
                });
            }
        }
        Some(_) => {
            return Err(config_err(
                connector,
                "`groupSearch.userMatchers` must be a list of `{userAttr, groupAttr}` maps".into(),
            ));
        }
    }
    // The legacy single pair, used when no userMatchers are given (as Dex).
    let legacy_user = nonempty(connector, gs, p, "userAttr")?;
    let legacy_group = nonempty(connector, gs, p, "groupAttr")?;
    if matchers.is_empty() {
        match (legacy_user, legacy_group) {
            (Some(u), Some(g)) => matchers.push(UserMatcher {
                user_attr: attr(connector, p, "userAttr", u)?,
                group_attr: attr(connector, p, "groupAttr", g)?,
            }),
            _ => {
                return Err(config_err(
                    connector,
                    "`groupSearch.baseDN` is set but no user matcher is: add `userMatchers: [{userAttr: DN, groupAttr: member}]` (or your directory's attributes)".into(),
                ));
            }
        }
    }
    let name_attr = nonempty(connector, gs, p, "nameAttr")?.ok_or_else(|| {
        config_err(
            connector,
            "`groupSearch.baseDN` is set but `groupSearch.nameAttr` is not; set the attribute that holds a group's name, e.g. `cn`".into(),
        )
    })?;
    Ok(Some(GroupSearch {
        base_dn: base_dn.to_owned(),
        filter: filter(connector, gs, p)?,
        scope: scope(connector, gs, p)?,
        matchers,
        name_attr: attr(connector, p, "nameAttr", name_attr)?,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "host": "ldap.example.com",
            "bindDN": "cn=svc,dc=example,dc=org",
            "bindPW": "bind-s3cret",
            "userSearch": {"baseDN": "ou=people,dc=example,dc=org", "username": "uid"},
        })
    }

    fn with(patch: Value) -> Value {
        let mut v = base();
        for (k, val) in patch.as_object().unwrap() {
            if val.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = val.clone();
            }
        }
        v
    }

    #[test]
    fn defaults_follow_dex() {
        let c = parse("l", &base()).unwrap();
        assert_eq!(c.host, "ldap.example.com:636");
        assert_eq!(c.server_name, "ldap.example.com");
        assert_eq!(c.transport, Transport::Ldaps);
        assert_eq!(c.url(), "ldaps://ldap.example.com:636");
        assert_eq!(c.prompt, "Username");
        assert_eq!(c.user.id_attr, "uid");
        assert_eq!(c.user.email_attr, "mail");
        assert_eq!(c.user.scope, Scope::Sub);
        assert_eq!(c.root_ca, RootCa::System);
        assert!(c.group.is_none());
        assert!(!format!("{c:?}").contains("bind-s3cret"));
    }

    /// One row: a config patch, and the transport, `host:port` and server
    /// name it yields.
    #[test]
    fn hosts_and_transports() {
        let rows = [
            (
                json!({}),
                Transport::Ldaps,
                "ldap.example.com:636",
                "ldap.example.com",
            ),
            (
                json!({"insecureNoSSL": true}),
                Transport::Plain,
                "ldap.example.com:389",
                "ldap.example.com",
            ),
            (
                json!({"startTLS": true}),
                Transport::StartTls,
                "ldap.example.com:636",
                "ldap.example.com",
            ),
            (
                json!({"host": "10.0.0.1:1389", "startTLS": true}),
                Transport::StartTls,
                "10.0.0.1:1389",
                "10.0.0.1",
            ),
            (
                json!({"host": "[::1]:10636"}),
                Transport::Ldaps,
                "[::1]:10636",
                "::1",
            ),
            (
                json!({"host": "[::1]"}),
                Transport::Ldaps,
                "[::1]:636",
                "::1",
            ),
            (
                json!({"host": "2001:db8::1", "insecureNoSSL": true}),
                Transport::Plain,
                "[2001:db8::1]:389",
                "2001:db8::1",
            ),
        ];
        for (patch, transport, hostport, name) in rows {
            let c = parse("l", &with(patch.clone())).unwrap();
            assert_eq!(
                (c.transport, c.host.as_str(), c.server_name.as_str()),
                (transport, hostport, name),
                "{patch}"
            );
        }
    }

    /// One row: a config patch and words the refusal must contain.
    #[test]
    fn refusals_name_the_field_and_the_fix() {
        let pem_b64 = base64::engine::general_purpose::STANDARD
            .encode("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
        let rows: Vec<(Value, &[&str])> = vec![
            (json!({"host": null}), &["no host supplied", "`host`"]),
            (
                json!({"host": "ldaps://ldap.example.com"}),
                &["is a URL", "startTLS"],
            ),
            (
                json!({"host": "ldap.example.com:notaport"}),
                &["not a host name"],
            ),
            (json!({"host": "ldap.example.com:0"}), &["not a host name"]),
            (json!({"host": "[::1"}), &["not a host name"]),
            (
                json!({"insecureNoSSL": true, "startTLS": true}),
                &["both `insecureNoSSL` and `startTLS`"],
            ),
            (
                json!({"startTLS": "yes"}),
                &["`startTLS` must be true or false"],
            ),
            (
                json!({"rootCA": "/ca.pem", "rootCAData": pem_b64}),
                &["both `rootCA` and `rootCAData`"],
            ),
            (
                json!({"rootCAData": "not base64!"}),
                &["rootCAData", "base64 -w0"],
            ),
            (
                json!({"clientCert": "/c.pem"}),
                &["clientCert", "clientKey", "both files"],
            ),
            (json!({"bindPW": ""}), &["`bindPW` is empty"]),
            (json!({"bindDN": null}), &["`bindDN` is empty"]),
            (json!({"userSearch": null}), &["no userSearch supplied"]),
            (
                json!({"userSearch": {"username": "uid"}}),
                &["userSearch.baseDN"],
            ),
            (
                json!({"userSearch": {"baseDN": "dc=x"}}),
                &["userSearch.username"],
            ),
            (
                json!({"userSearch": {"baseDN": "dc=x", "username": "uid", "scope": "base"}}),
                &["`userSearch.scope` is `base`", "`one`"],
            ),
            (
                json!({"userSearch": {"baseDN": "dc=x", "username": "uid", "filter": "objectClass=person"}}),
                &["userSearch.filter", "RFC 4515"],
            ),
            (
                json!({"userSearch": {"baseDN": "dc=x", "username": "uid", "filter": "(objectClass=person"}}),
                &["userSearch.filter"],
            ),
            (
                json!({"userSearch": {"baseDN": "dc=x", "username": "uid)(cn=*"}}),
                &["not an attribute name"],
            ),
            (
                json!({"userSearch": {"baseDN": "dc=x", "username": []}}),
                &["no username supplied"],
            ),
            (
                json!({"userSearch": {"baseDN": "dc=x", "username": ["uid", 7]}}),
                &["attribute name or a list"],
            ),
            (
                json!({"userSearch": {"baseDN": "dc=x", "username": ["uid", "cn=*"]}}),
                &["not an attribute name"],
            ),
            (
                json!({"userSearch": {"baseDN": "dc=x", "username": "uid", "emailSuffix": "example.com"}}),
                &["emailSuffix", "nameAttr"],
            ),
            (
                json!({"groupSearch": {"baseDN": "ou=groups", "nameAttr": "cn"}}),
                &["no user matcher", "userMatchers"],
            ),
            (
                json!({"groupSearch": {"baseDN": "ou=groups", "userMatchers": [{"userAttr": "DN", "groupAttr": "member"}]}}),
                &["groupSearch.nameAttr"],
            ),
            (
                json!({"groupSearch": {"baseDN": "ou=groups", "nameAttr": "cn", "userMatchers": [{"userAttr": "DN"}]}}),
                &["groupSearch.userMatchers[0].groupAttr"],
            ),
            (
                json!({"groupSearch": {"baseDN": "ou=groups", "nameAttr": "cn", "userMatchers": "DN"}}),
                &["must be a list"],
            ),
        ];
        for (patch, want) in rows {
            let err = parse("l", &with(patch.clone())).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, Error::Config { .. }), "{patch}: {err:?}");
            for w in want {
                assert!(msg.contains(w), "{patch}: `{msg}` lacks `{w}`");
            }
            assert!(!msg.contains("bind-s3cret"), "{msg}");
        }
    }

    #[test]
    fn group_search_matchers() {
        let legacy = parse("l", &with(json!({"groupSearch": {"baseDN": "ou=g", "userAttr": "uid", "groupAttr": "memberUid", "nameAttr": "cn", "scope": "one"}}))).unwrap();
        let g = legacy.group.unwrap();
        assert_eq!(
            g.matchers,
            vec![UserMatcher {
                user_attr: "uid".into(),
                group_attr: "memberUid".into()
            }]
        );
        assert_eq!(g.scope, Scope::One);
        // userMatchers win over the legacy pair, as in Dex.
        let both = parse("l", &with(json!({"groupSearch": {"baseDN": "ou=g", "userAttr": "uid", "groupAttr": "memberUid", "nameAttr": "cn",
            "userMatchers": [{"userAttr": "DN", "groupAttr": "member"}, {"userAttr": "uid", "groupAttr": "memberUid"}]}}))).unwrap();
        assert_eq!(both.group.unwrap().matchers.len(), 2);
        // No base DN: no group search (Dex).
        let none = parse("l", &with(json!({"groupSearch": {"nameAttr": "cn"}}))).unwrap();
        assert!(none.group.is_none());
    }

    #[test]
    fn root_ca_data_takes_base64_or_pem() {
        let pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
        for data in [b64.as_str(), pem] {
            let c = parse("l", &with(json!({"rootCAData": data}))).unwrap();
            match c.root_ca {
                RootCa::Data(d) => assert_eq!(String::from_utf8(d).unwrap().trim(), pem.trim()),
                other => panic!("{other:?}"),
            }
        }
    }
}
