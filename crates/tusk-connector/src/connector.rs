//! The connector interfaces: what a login yields (`Identity`), what it asks
//! for (`Scopes`, `UpstreamParams`), and the traits: one `Connector` with
//! optional password, callback and refresh capabilities.

use crate::error::Error;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use tusk_core::Secret;

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
    /// The upstream ID token of a login (the `oidc` connector's), kept
    /// with the provider's browser session to send as `id_token_hint` to
    /// the upstream's `end_session_endpoint` on logout. Not refreshed.
    #[serde(default)]
    pub upstream_id_token: Option<Secret<String>>,
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
            .field(
                "upstream_id_token",
                &self.upstream_id_token.as_ref().map(|_| "***"),
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
    /// The service-provider metadata XML an IdP admin imports (the `saml`
    /// connector's); `None` for connectors that have none.
    fn sp_metadata(&self) -> Option<String> {
        None
    }
    /// The upstream's RP-initiated logout endpoint (OIDC RP-Initiated
    /// Logout 1.0 `end_session_endpoint`), when it advertises one: the
    /// provider's logout continues there. `None` for connectors without.
    fn end_session_endpoint(&self) -> Option<String> {
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

    /// Whether `login` hashes the password on the [`crate::HashPool`]
    /// (`local`); the provider then refuses at once, before any storage
    /// read, while that pool is full. Connectors that check elsewhere
    /// (an upstream directory) keep the default.
    fn hashes(&self) -> bool {
        false
    }
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

    /// Whether a refresh only reads tusk's own configuration and calls
    /// nothing upstream. The token endpoint then refreshes before it
    /// claims the presented token, so the claim and the successor commit
    /// as one transaction. Otherwise it claims first, so that of
    /// concurrent presentations only the winner refreshes upstream (an
    /// upstream that rotates its own refresh tokens must see one refresh).
    fn is_local(&self) -> bool {
        false
    }
}
