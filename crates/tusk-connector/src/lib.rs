//! Upstream identity connectors, after Dex's connector interfaces.
//!
//! A connector is one small trait, [`Connector`], with optional
//! capabilities: a password form ([`PasswordConnector`]), a browser
//! round trip ([`CallbackConnector`]) and refresh ([`RefreshConnector`]).
//! The provider only ever holds an `Arc<dyn Connector>` from [`open`], so it
//! never knows the concrete type.
//!
//! Layout: `mock` holds Dex's `mockPassword` and `mockCallback`; `local` the
//! static password database; `oidc` the upstream OpenID Connect relying
//! party (Okta and friends). Configs arrive already validated by
//! `tusk_core::config::connector`, as JSON.
//!
//! Opening has two steps. [`open`] parses the config, synchronously and
//! without I/O: its errors are configuration errors that no retry fixes.
//! [`Connector::open`] then does whatever network work the connector needs
//! before it can serve (discovery and key fetch for `oidc`); the provider
//! calls it in the background, retrying with backoff, and hands out only
//! connectors whose last `open` succeeded.

mod local;
mod mock;
pub mod oidc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use tusk_core::Secret;

pub use local::hash_password;

/// Who logged in, as a connector reports it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user_id: String,
    pub username: String,
    pub preferred_username: String,
    pub email: String,
    pub email_verified: bool,
    pub groups: Vec<String>,
    /// Opaque per-connector state for refresh, e.g. an upstream refresh
    /// token. Serialised as is, because the provider stores it.
    pub connector_data: Option<Secret<String>>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("preferred_username", &self.preferred_username)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("groups", &self.groups)
            .field(
                "connector_data",
                &self.connector_data.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

/// What the downstream client asked for, as far as connectors care.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes {
    pub offline_access: bool,
    pub groups: bool,
}

/// Per-request secrets the provider stores with an auth request and hands
/// to a callback connector on both legs of the round trip.
///
/// The `oidc` connector never sends `nonce` itself: it sends
/// `base64url(SHA-256("tusk-oidc-nonce:" + nonce))` as the upstream nonce and
/// uses `base64url(SHA-256("tusk-oidc-pkce:" + nonce))` as the PKCE verifier
/// unless `pkce_verifier` is set, so one stored random value binds both.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UpstreamParams {
    pub nonce: String,
    pub pkce_verifier: Option<String>,
}

impl fmt::Debug for UpstreamParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamParams")
            .field("nonce", &"***")
            .field("pkce_verifier", &self.pkce_verifier.as_ref().map(|_| "***"))
            .finish()
    }
}

/// One opened connector. `Debug` is required so the provider can log which
/// connector failed; implementations must never print secrets in it.
#[async_trait]
pub trait Connector: Send + Sync + fmt::Debug {
    fn id(&self) -> &str;
    /// The config `type`, e.g. `"mockPassword"`.
    fn kind(&self) -> &'static str;
    /// Readiness: the I/O the connector needs before it can serve (the
    /// `oidc` connector fetches the discovery document and the signing
    /// keys). Called again after a failure, so it must be safe to repeat;
    /// a success replaces what an earlier call loaded. Connectors that need
    /// no I/O keep the default, which is ready at once.
    async fn open(&self) -> Result<(), Error> {
        Ok(())
    }
    fn password(&self) -> Option<&dyn PasswordConnector> {
        None
    }
    fn callback(&self) -> Option<&dyn CallbackConnector> {
        None
    }
    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        None
    }
}

/// A connector that takes a login name and password on tusk's own form.
#[async_trait]
pub trait PasswordConnector: Send + Sync {
    /// Label for the login field, e.g. "Username" or "Email Address".
    fn prompt(&self) -> &str;
    /// `Ok(None)` means wrong credentials; `Err` means the connector could
    /// not decide.
    async fn login(
        &self,
        scopes: &Scopes,
        username: &str,
        password: &Secret<String>,
    ) -> Result<Option<Identity>, Error>;
}

/// A connector that sends the browser elsewhere and handles its return.
#[async_trait]
pub trait CallbackConnector: Send + Sync {
    /// URL to send the browser to. `state` is the provider's auth request
    /// id; `upstream` carries per-request secrets (the upstream `oidc`
    /// connector uses them; mocks ignore them).
    fn login_url(
        &self,
        scopes: &Scopes,
        callback_url: &str,
        state: &str,
        upstream: &UpstreamParams,
    ) -> Result<String, Error>;

    /// Handles the browser's return at `callback_url` with the raw query
    /// pairs.
    async fn handle_callback(
        &self,
        scopes: &Scopes,
        callback_url: &str,
        query: &[(String, String)],
        upstream: &UpstreamParams,
    ) -> Result<Identity, Error>;
}

/// A connector that can renew an identity without the user.
#[async_trait]
pub trait RefreshConnector: Send + Sync {
    async fn refresh(&self, scopes: &Scopes, identity: Identity) -> Result<Identity, Error>;
}

/// Every failure of this crate. Messages name the thing, the cause and the
/// fix, and never contain a password, hash or token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stored config cannot be used; fix the connector's config.
    #[error("connector `{connector}`: invalid config: {reason}")]
    Config { connector: String, reason: String },

    /// tusk has no implementation of this connector type yet.
    #[error(
        "tusk cannot open connectors of type `{kind}` yet; logins through it fail until the connector is replaced by one of type {}",
        SUPPORTED_KINDS.join(", ")
    )]
    Unsupported { kind: String },

    /// The connector cannot serve yet: discovery, key fetch or the HTTP
    /// client failed. The provider retries in the background.
    #[error("connector `{connector}`: unable to open connector: {reason}")]
    Unavailable { connector: String, reason: String },

    /// The upstream identity provider refused or failed the login.
    #[error("connector `{connector}`: the upstream identity provider failed the login: {reason}")]
    Upstream { connector: String, reason: String },

    /// The upstream identity provider refused or failed a refresh.
    #[error(
        "connector `{connector}`: the upstream identity provider failed the refresh: {reason}; the user must log in again"
    )]
    Refresh { connector: String, reason: String },

    /// Refresh of a user that no longer exists upstream.
    #[error(
        "connector `{connector}`: user `{user}` no longer exists, so the session cannot be refreshed; the user must log in again"
    )]
    UserGone { connector: String, user: String },

    /// A bug or an environment failure (e.g. a blocking task panicked).
    #[error("internal connector error: {0}")]
    Internal(String),
}

/// The connector types [`open`] can build.
pub const SUPPORTED_KINDS: &[&str] = &["mockPassword", "mockCallback", "local", "oidc"];

/// Builds a connector from a stored, validated config.
pub fn open(id: &str, kind: &str, config: &serde_json::Value) -> Result<Arc<dyn Connector>, Error> {
    Ok(match kind {
        "mockPassword" => Arc::new(mock::MockPassword::open(id, config)?),
        "mockCallback" => Arc::new(mock::MockCallback::new(id)),
        "local" => Arc::new(local::Local::open(id, config)?),
        "oidc" => Arc::new(oidc::Oidc::open(id, config)?),
        other => {
            return Err(Error::Unsupported {
                kind: other.to_owned(),
            });
        }
    })
}

/// Reads an optional string field of a config object. The message never
/// echoes the value, which may be a secret.
fn opt_str<'a>(
    connector: &str,
    obj: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, Error> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(config_err(
            connector,
            format!("`{path}{key}` must be a string"),
        )),
    }
}

/// Like [`opt_str`], but the field must be present and non-empty.
fn req_str<'a>(
    connector: &str,
    obj: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
    key: &str,
) -> Result<&'a str, Error> {
    match opt_str(connector, obj, path, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(config_err(
            connector,
            format!("no {key} supplied: set `{path}{key}`"),
        )),
    }
}

fn as_object<'a>(
    connector: &str,
    value: &'a serde_json::Value,
    what: &str,
) -> Result<&'a serde_json::Map<String, serde_json::Value>, Error> {
    value
        .as_object()
        .ok_or_else(|| config_err(connector, format!("{what} must be a map")))
}

/// Cuts text that comes from outside (a browser, an upstream) before it
/// goes into an error message.
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The value of one callback query parameter.
pub(crate) fn query_param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// An OAuth error the upstream sent back to the callback (RFC 6749
/// §4.1.2.1): `error` and, when present, `error_description`, both cut.
pub(crate) fn callback_error(query: &[(String, String)]) -> Option<String> {
    let error = query_param(query, "error")?;
    let detail = query_param(query, "error_description")
        .map(|d| format!(": {}", truncate(d, 200)))
        .unwrap_or_default();
    Some(format!("{}{detail}", truncate(error, 100)))
}

fn config_err(connector: &str, reason: String) -> Error {
    Error::Config {
        connector: connector.to_owned(),
        reason,
    }
}
