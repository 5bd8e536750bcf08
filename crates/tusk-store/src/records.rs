//! The persisted records. Plain data: rules live in tusk-core and the server.
//!
//! Every field defaults when absent so that records written by an older
//! tusk still decode after fields are added. Records addressed by a bearer
//! token or code never store it: their id is [`crate::hash_token`] of it.

use crate::backend::Record;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tusk_core::Secret;

/// An upstream identity provider (Dex connector).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Connector {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    /// Pachyderm's `configVersion`, used to reconcile config-file connectors.
    pub config_version: i64,
    /// Connector-specific JSON text; may contain an upstream client secret.
    pub config: String,
}

/// The config holds client secrets and passwords; `Debug` leaves it out.
impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("id", &self.id)
            .field("type", &self.type_)
            .field("config_version", &self.config_version)
            .finish_non_exhaustive()
    }
}

/// A downstream OAuth client of the embedded provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcClient {
    pub id: String,
    pub secret: Secret<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub trusted_peers: Vec<String>,
    pub public: bool,
    pub logo_url: String,
    /// First-party: logins skip the consent page (`pachd`, `console`,
    /// `trusted: true` in `oidc.additionalClients`). Not Dex's
    /// `trusted_peers`, which is about audiences.
    pub trusted: bool,
    /// Pins the client's ID and access tokens to one algorithm (`RS256`
    /// for clients that cannot verify ES256); empty means the default.
    pub id_token_signing_alg: String,
    /// OpenID Connect Back-Channel Logout: where the provider POSTs a
    /// logout token when a session of this client ends; empty for none.
    pub backchannel_logout_uri: String,
    /// The client wants `sid` in every logout token: one whose session id
    /// is unknown is not sent to it.
    pub backchannel_logout_session_required: bool,
}

/// The provider's signing key set: the JSON of `tusk_jose::KeySetState`,
/// kept opaque here so storage knows nothing of JOSE. It holds private
/// keys, hence `Secret`. Singleton with id [`SigningKeys::ID`]; replaced by
/// compare-and-swap so exactly one replica rotates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SigningKeys {
    pub id: String,
    pub state: Secret<String>,
}

impl SigningKeys {
    pub const ID: &'static str = "signing";
}

/// Claims obtained from a connector at login.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Claims {
    pub user_id: String,
    pub username: String,
    pub preferred_username: String,
    pub email: String,
    pub email_verified: bool,
    pub groups: Vec<String>,
}

/// A pending `/auth` request while the user logs in upstream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthRequest {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub prompt: String,
    pub max_age: Option<i64>,
    pub connector_id: String,
    /// Nonce/state sent to the upstream IdP for this request.
    /// Upstream nonce and PKCE verifier derive from it: a secret.
    pub upstream_nonce: Secret<String>,
    pub claims: Option<Claims>,
    pub logged_in: bool,
    /// Set when the login approves a device request (RFC 8628): the hash
    /// id of that request. Such a request has no redirect URI.
    pub device: String,
    /// The id (cookie hash) of the browser session the browser held when
    /// the request began, which a successful login replaces.
    pub prior_session: String,
    /// A device request's user confirmed its code ("Sign in to … with code
    /// …?", RFC 8628 §5.4); no login step runs on a device request before.
    pub device_confirmed: bool,
    /// `hash_token` of the single-use token the page now shown for this
    /// request (device confirmation or consent) posts back, so a form
    /// forged elsewhere cannot answer it; empty when no form is pending.
    pub form_token: String,
    /// The connector's state after the login, kept while consent is asked.
    pub connector_data: Secret<String>,
    /// The upstream ID token of that login (for the upstream logout's
    /// `id_token_hint`), kept with it while consent is asked; empty if none.
    pub upstream_id_token: Secret<String>,
    /// `hash_token` of the login-binding cookie of the browser that
    /// started the request: every later step must come from a browser
    /// presenting that cookie, so a forwarded link does not sign in
    /// someone else. Empty matches no browser.
    pub binding: String,
    /// The upstream's answer arrived by a cross-site POST (SAML), which
    /// carries no cookie: the identity waits in `claims` and
    /// `connector_data` until the browser's own GET to the finish URL
    /// (answered with `form_token`), where the binding is checked.
    pub answered: bool,
    pub expires_at: i64,
}

/// An authorization code. `id` is `hash_token(code)`; the code itself is
/// never stored. Consume it with `Store::take` so it is single-use.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthCode {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub connector_id: String,
    pub claims: Claims,
    pub connector_data: Secret<String>,
    pub auth_time: i64,
    /// Codes are marked used rather than deleted, so a replay is recognised
    /// and the tokens issued from the code revoked (RFC 6749 §4.1.2).
    pub used: bool,
    /// The session (refresh token family) the code's tokens belong to.
    pub family: String,
    /// The browser session the login came through: its record id (the
    /// cookie's hash, to record the client and family on exchange) and
    /// its public `sid`. Empty for a login without a browser session.
    pub browser_session: String,
    pub sid: String,
    pub expires_at: i64,
}

/// A downstream refresh token. `id` is `hash_token` of the token's secret
/// part. All rotations of one login share `family` (the owner), so reuse of
/// a rotated token revokes the family with `delete_by_owner`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshToken {
    pub id: String,
    pub family: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub nonce: String,
    pub connector_id: String,
    pub claims: Claims,
    /// Connector state needed to refresh upstream (e.g. its refresh token).
    pub connector_data: Secret<String>,
    pub created_at: i64,
    pub last_used: i64,
    /// Id of the token that replaced this one; set means presenting this
    /// token again is reuse.
    pub obsoleted_by: Option<String>,
    pub obsoleted_at: i64,
    pub expires_at: Option<i64>,
    /// The `sid` of the browser session this family was issued through
    /// (the same for every client of that session), empty when the login
    /// had none (device flow, sessions off): then `sid` is the family.
    pub session: String,
}

/// An RFC 8628 device authorization. `id` is `hash_token(device_code)`;
/// the owner is the user code, so the verification page finds the request
/// with `list_by_owner`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceRequest {
    pub id: String,
    pub user_code: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// `pending`, `approved` or `denied`.
    pub status: String,
    pub connector_id: String,
    pub claims: Option<Claims>,
    pub connector_data: Secret<String>,
    /// Seconds the client must wait between polls (grows on `slow_down`).
    pub interval: i64,
    pub last_poll: i64,
    pub expires_at: i64,
}

/// A browser session at the provider (single sign-on). `id` is
/// `hash_token` of the cookie value, which is never stored; the owner is
/// the Pachyderm subject (`user:<email>`), so revoking a user's tokens
/// removes it with `delete_by_owner`. Sealed: it holds the upstream's
/// refresh state and ID token.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrowserSession {
    pub id: String,
    /// The public id: `sid` in ID tokens, what `tusk auth list-sessions`
    /// shows and revokes by. Random, unrelated to the cookie.
    pub sid: String,
    /// Earlier `sid`s this session replaced on a re-login by the same
    /// user; their clients' tokens end with this session.
    pub previous_sids: Vec<String>,
    pub owner: String,
    /// The issuer the session belongs to: a cookie presented to another
    /// issuer sharing the store is ignored.
    pub issuer: String,
    pub connector_id: String,
    pub claims: Claims,
    pub connector_data: Secret<String>,
    /// The upstream ID token, sent as `id_token_hint` to its
    /// `end_session_endpoint` on logout.
    pub upstream_id_token: Secret<String>,
    pub upstream_end_session: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen: i64,
    /// Absolute end; the idle end is `last_seen + idle_timeout`.
    pub absolute_expiry: i64,
    pub idle_expiry: i64,
    /// Clients that received tokens through the session.
    pub clients: Vec<String>,
    /// The refresh-token families issued through the session.
    pub families: Vec<String>,
}

/// A logout waiting for the upstream IdP's logout to come back to
/// `<issuer>/logout/callback`. `id` is `hash_token` of the `state` sent
/// upstream; `target` is where the browser goes then (the client's
/// registered `post_logout_redirect_uri` with its `state`, or empty for
/// the "logged out" page). Taken once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PendingLogout {
    pub id: String,
    pub target: String,
    pub expires_at: i64,
}

/// A Pachyderm auth token. `id` is `hash_token(token)` (the reference's
/// `token_hash`); the owner is the subject so revoke-by-user is
/// `delete_by_owner`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthToken {
    pub id: String,
    pub subject: String,
    /// `None` never expires.
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// Role binding of one resource; `id` is the binding key (`CLUSTER:`,
/// `PROJECT:<p>`, `REPO:<p>/<r>`), entries map principal → roles.
/// A revoked access-token id (`jti`) or session (`sid`), kept until the
/// last token it covers has expired. Access tokens are JWTs, so revocation
/// is a deny list consulted by userinfo and introspection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Revocation {
    pub id: String,
    pub expires_at: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleBinding {
    pub id: String,
    pub entries: BTreeMap<String, BTreeSet<String>>,
}

/// Groups of one subject; `id` is the principal. Group → members is
/// derived by listing, so the two directions cannot drift apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupMembership {
    pub id: String,
    pub groups: BTreeSet<String>,
}

/// The identity service config, a singleton (id [`IdentityConfig::ID`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityConfig {
    pub id: String,
    pub issuer: String,
    /// Go duration text as Pachyderm sends it, e.g. `24h`.
    pub id_token_expiry: String,
    pub rotation_token_expiry: String,
}

impl IdentityConfig {
    pub const ID: &'static str = "identity";
}

/// Pachyderm's OIDCConfig, a singleton (id [`AuthConfig::ID`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    pub id: String,
    /// JSON text of the OIDCConfig; contains the client secret.
    pub config: Secret<String>,
}

impl AuthConfig {
    pub const ID: &'static str = "auth";
}

/// Enterprise/license state, a singleton (id [`EnterpriseState::ID`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnterpriseState {
    pub id: String,
    pub state: String,
    /// The activation code (base64 JSON with its signature).
    pub license: Secret<String>,
    /// Unix seconds the license expires at.
    pub expires: i64,
    /// `enterprise_v2.Activate` was called and not deactivated since.
    pub enterprise_active: bool,
    pub last_heartbeat: i64,
}

impl EnterpriseState {
    pub const ID: &'static str = "enterprise";
}

/// A CLI login waiting for its browser half. `id` is `hash_token(state)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PendingLogin {
    pub id: String,
    pub nonce: String,
    /// The minted Pachyderm token once the callback succeeded.
    pub token: Option<Secret<String>>,
    /// Why the login failed, for the blocked `Authenticate` call.
    pub error: Option<String>,
    pub expires_at: i64,
}

/// What a user allowed a client: the scopes granted so far (OIDC Core
/// §3.1.2.4 consent). `id` is `hash_token` of the subject and client id;
/// the owner is the user's subject (`user:<email>`, as Pachyderm names
/// users) so revoking a user's tokens removes their grants too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsentGrant {
    pub id: String,
    pub subject: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub granted_at: i64,
}

impl ConsentGrant {
    /// The record id of `subject`'s grant to `client_id`.
    pub fn id_for(subject: &str, client_id: &str) -> String {
        crate::backend::hash_token(&format!("{subject}\n{client_id}"))
    }
}

/// Kinds whose records hold a secret (a key, a client or upstream secret,
/// an upstream token, a code's upstream state) and are therefore sealed at
/// rest when the store has a keyring. `tusk store reencrypt` walks these.
pub const SEALED_KINDS: &[&str] = &[
    Connector::KIND,
    OidcClient::KIND,
    SigningKeys::KIND,
    AuthRequest::KIND,
    AuthCode::KIND,
    RefreshToken::KIND,
    DeviceRequest::KIND,
    AuthConfig::KIND,
    EnterpriseState::KIND,
    PendingLogin::KIND,
    BrowserSession::KIND,
];
/// Failed password logins counted for throttling, per account or per
/// (account, client address) pair. Kept in the store so every replica
/// sees the same counts. `id` is [`crate::hash_token`] of the key, so a
/// login name of any length costs the same and is not stored in clear.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginFailures {
    pub id: String,
    pub failures: u32,
    pub last_failure: i64,
    pub expires_at: i64,
}

macro_rules! record {
    ($ty:ty, $kind:literal $(, sealed = $sealed:literal)? $(, owner = |$o:ident| $owner:expr)? $(, expires = |$e:ident| $exp:expr)?) => {
        impl Record for $ty {
            const KIND: &'static str = $kind;
            $(const SEALED: bool = $sealed;)?
            fn id(&self) -> String {
                self.id.clone()
            }
            $(fn owner(&self) -> Option<String> {
                let $o = self;
                $owner
            })?
            $(fn expires_at(&self) -> Option<i64> {
                let $e = self;
                $exp
            })?
        }
    };
}

record!(Connector, "connector", sealed = true);
record!(OidcClient, "oidc_client", sealed = true);
record!(SigningKeys, "signing_keys", sealed = true);
record!(
    AuthRequest,
    "auth_request",
    sealed = true,
    expires = |r| Some(r.expires_at)
);
record!(
    AuthCode,
    "auth_code",
    sealed = true,
    expires = |r| Some(r.expires_at)
);
record!(
    RefreshToken,
    "refresh_token",
    sealed = true,
    owner = |r| Some(r.family.clone()),
    expires = |r| r.expires_at
);
record!(
    DeviceRequest,
    "device_request",
    sealed = true,
    owner = |r| Some(r.user_code.clone()),
    expires = |r| Some(r.expires_at)
);
record!(
    AuthToken,
    "auth_token",
    owner = |r| Some(r.subject.clone()),
    expires = |r| r.expires_at
);
record!(
    BrowserSession,
    "browser_session",
    sealed = true,
    owner = |r| Some(r.owner.clone()),
    expires = |r| Some(r.absolute_expiry.min(r.idle_expiry))
);
record!(
    PendingLogout,
    "pending_logout",
    expires = |r| Some(r.expires_at)
);
record!(RoleBinding, "role_binding");
record!(
    ConsentGrant,
    "consent_grant",
    owner = |r| Some(r.subject.clone())
);
record!(Revocation, "revocation", expires = |r| Some(r.expires_at));
record!(GroupMembership, "group_membership");
record!(IdentityConfig, "identity_config");
record!(AuthConfig, "auth_config", sealed = true);
record!(EnterpriseState, "enterprise_state", sealed = true);
record!(
    LoginFailures,
    "login_failures",
    expires = |r| Some(r.expires_at)
);
record!(
    PendingLogin,
    "pending_login",
    sealed = true,
    expires = |r| Some(r.expires_at)
);
