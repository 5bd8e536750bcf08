//! The configuration model: the inputs `load` reads and the `Config` it
//! builds, with `config show`'s masked view of it.

use super::cidr::Cidr;
use super::connector::{self, ConnectorSpec};
use super::diag::Diagnostic;
use crate::Secret;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Reads one key of a named secret (a Kubernetes secret volume: the
/// directory `DIR/<name>` with one file per key). Implemented outside the
/// core, which does no I/O.
pub trait SecretSource {
    fn read(&self, name: &str, key: &str) -> Result<String, String>;
    /// Where the key lives, for messages (`/etc/secrets/okta/upstream-idps`).
    fn locate(&self, name: &str, key: &str) -> String;
}

/// A named input text. Bytes, not a string: deciding that a file is not
/// UTF-8 is validation, and belongs here with the other messages.
pub struct SourceText {
    pub name: String,
    pub bytes: Vec<u8>,
}

pub struct Input<'a> {
    pub files: Vec<SourceText>,
    /// Only Pachyderm's variables are read; the caller may pass the whole
    /// environment.
    pub env: BTreeMap<String, String>,
    pub secrets: Option<&'a dyn SecretSource>,
    /// `host:port` tusk listens on; the issuer falls back to it.
    pub listen: String,
}

/// The effective configuration. `Debug` is written by hand: `auth_config`
/// is JSON that may hold a client secret, so it is shown masked.
#[derive(Clone)]
pub struct Config {
    pub issuer: String,
    /// Which rule produced the issuer, for `config show` and readiness.
    pub issuer_origin: &'static str,
    /// True when the mock IdP is on: no upstream configured and
    /// `oidc.mockIDP` not false.
    pub mock_idp: bool,
    pub connectors: Vec<ConnectorSpec>,
    /// Where the connector list came from; set means the identity API must
    /// refuse to edit connectors, as the reference does.
    pub connectors_origin: Option<String>,
    pub clients: Vec<ClientSpec>,
    pub id_token_expiry: Duration,
    pub rotation_token_expiry: Option<Duration>,
    pub require_verified_email: bool,
    pub user_accessible_issuer_host: String,
    pub activate_auth: bool,
    pub root_token: Option<Secret<String>>,
    /// principal → roles, reconciled at start (docs/auth-model.md §6).
    pub cluster_role_bindings: BTreeMap<String, Vec<String>>,
    /// `AUTH_CONFIG` as given (OIDCConfig without the secret).
    pub auth_config: Option<serde_json::Value>,
    pub session_duration: Duration,
    pub license_key: Option<Secret<String>>,
    pub tls: Option<TlsPem>,
    pub pachd_redirect_uri: String,
    pub provider: ProviderSettings,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be left out unnoticed.
        let Config {
            issuer,
            issuer_origin,
            mock_idp,
            connectors,
            connectors_origin,
            clients,
            id_token_expiry,
            rotation_token_expiry,
            require_verified_email,
            user_accessible_issuer_host,
            activate_auth,
            root_token,
            cluster_role_bindings,
            auth_config,
            session_duration,
            license_key,
            tls,
            pachd_redirect_uri,
            provider,
        } = self;
        f.debug_struct("Config")
            .field("issuer", issuer)
            .field("issuer_origin", issuer_origin)
            .field("mock_idp", mock_idp)
            .field("connectors", connectors)
            .field("connectors_origin", connectors_origin)
            .field("clients", clients)
            .field("id_token_expiry", id_token_expiry)
            .field("rotation_token_expiry", rotation_token_expiry)
            .field("require_verified_email", require_verified_email)
            .field("user_accessible_issuer_host", user_accessible_issuer_host)
            .field("activate_auth", activate_auth)
            .field("root_token", root_token)
            .field("cluster_role_bindings", cluster_role_bindings)
            .field(
                "auth_config",
                &auth_config.as_ref().map(|c| connector::mask_config("", c)),
            )
            .field("session_duration", session_duration)
            .field("license_key", license_key)
            .field("tls", tls)
            .field("pachd_redirect_uri", pachd_redirect_uri)
            .field("provider", provider)
            .finish()
    }
}

/// tusk's own provider settings (values section `tusk`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// `ES256` (default), `RS256` or `EdDSA`.
    pub signing_algorithm: String,
    pub key_rotation_period: Duration,
    pub refresh_reuse_interval: Duration,
    pub refresh_valid_if_not_used_for: Option<Duration>,
    /// Per client address; 0 turns the limit off.
    pub password_per_minute: u32,
    pub token_per_minute: u32,
    /// `/auth` requests per minute per client address (each one that
    /// validates is stored until it expires); 0 turns the limit off.
    pub authorize_per_minute: u32,
    /// Peers whose `X-Forwarded-For`/`Forwarded` is believed; from anyone
    /// else those headers are ignored.
    pub trusted_proxies: Vec<Cidr>,
    /// Open connections above this are closed as soon as they are accepted.
    pub max_connections: u32,
    /// The longest a request waits for a database connection before it is
    /// answered 503.
    pub database_acquire_timeout: Duration,
    /// The login pages' product name: `tusk.branding.productName`, else
    /// `tusk.theme.title`, else "Pachyderm".
    pub theme_title: String,
    /// `tusk.branding.logo` (a `data:` URL), else `tusk.theme.logoURL`.
    pub theme_logo_url: Option<String>,
    /// `tusk.branding.accentColor`, `#rgb` or `#rrggbb`.
    pub brand_accent: Option<String>,
    /// PEM RSA public key that verifies license activation codes.
    pub license_public_key: Option<String>,
    /// How long audit events are kept (`tusk.audit.retention`, 30 days).
    pub audit_retention: Duration,
    /// Password-hashing worker threads (`tusk.passwordHashing.workers`);
    /// `None`: one fewer than the cores, at least one.
    pub password_hash_workers: Option<u32>,
    /// Password checks that may wait for a worker before new ones are
    /// refused with 429 (`tusk.passwordHashing.queue`); `None`: 16 per worker.
    pub password_hash_queue: Option<u32>,
    /// Browser sessions at the provider (`tusk.sessions`); `None` when
    /// `enabled: false`.
    pub sessions: Option<SessionSettings>,
}

/// `tusk.sessions`: how long a browser stays signed in at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// From the login, however active (`absoluteLifetime`, 24h).
    pub absolute_lifetime: Duration,
    /// Without a sign-in through the session (`idleTimeout`, 8h).
    pub idle_timeout: Duration,
}

#[derive(Clone)]
pub struct TlsPem {
    pub cert_chain: String,
    pub private_key: Secret<String>,
    pub origin: String,
}

impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPem")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientSpec {
    pub id: String,
    /// `None`: generate one at bootstrap and keep it in the store.
    #[serde(skip)]
    pub secret: Option<Secret<String>>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub trusted_peers: Vec<String>,
    pub public: bool,
    /// First-party: logins skip the consent page. `pachd` and `console`
    /// (and the clients of `IDP_CLIENTS`, which replace them) always are.
    pub trusted: bool,
    pub logo_url: String,
    /// `id_token_signed_response_alg`: `RS256` for a client that cannot
    /// verify the default ES256; empty for the default.
    pub id_token_signing_alg: String,
    /// `backchannel_logout_uri`: an https URL (http only on loopback)
    /// without fragment; empty for none.
    pub backchannel_logout_uri: String,
    /// `backchannel_logout_session_required`.
    pub backchannel_logout_session_required: bool,
}

pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Shortest client secret `config check` accepts.
pub const MIN_CLIENT_SECRET_BYTES: usize = 16;

/// The environment variables tusk reads, as in Pachyderm (docs/identity-and-config.md §6).
pub const ENV_VARS: &[&str] = &[
    "IDP_CONNECTORS",
    "IDP_CONFIG",
    "IDP_CLIENTS",
    "IDP_ADDITIONAL_CLIENTS",
    "TRUSTED_PEERS",
    "ACTIVATE_AUTH",
    "AUTH_ROOT_TOKEN",
    "AUTH_CONFIG",
    "AUTH_CLIENT_SECRET",
    "AUTH_CLUSTER_RBAC",
    "CONSOLE_OAUTH_ID",
    "CONSOLE_OAUTH_SECRET",
    "SESSION_DURATION_MINUTES",
    "LICENSE_KEY",
];

pub(super) const DEFAULT_ID_TOKEN_EXPIRY: Duration = Duration::from_secs(24 * 3600);
pub(super) const DEFAULT_SESSION_MINUTES: u64 = 43_200;

impl Config {
    /// The effective config as JSON for `tusk config show` and readiness,
    /// with every secret masked.
    pub fn show(&self) -> serde_json::Value {
        let mask = |s: &Option<Secret<String>>| match s {
            Some(s) if !s.is_empty() => serde_json::Value::String("***".into()),
            _ => serde_json::Value::Null,
        };
        serde_json::json!({
            "issuer": self.issuer,
            "issuerOrigin": self.issuer_origin,
            "mockIDP": self.mock_idp,
            "connectorsOrigin": self.connectors_origin,
            "connectors": self.connectors.iter().map(|c| serde_json::json!({
                "id": c.id, "name": c.name, "type": c.type_,
                "configVersion": c.config_version,
                "config": connector::mask_config(&c.type_, &c.config),
            })).collect::<Vec<_>>(),
            "clients": self.clients.iter().map(|c| {
                let mut shown = serde_json::json!({
                    "id": c.id, "name": c.name, "secret": mask(&c.secret),
                    "redirect_uris": c.redirect_uris, "trusted_peers": c.trusted_peers,
                    "public": c.public, "trusted": c.trusted,
                });
                // Only a client registered for back-channel logout shows it.
                if !c.backchannel_logout_uri.is_empty() {
                    shown["backchannel_logout_uri"] = c.backchannel_logout_uri.clone().into();
                    shown["backchannel_logout_session_required"] =
                        c.backchannel_logout_session_required.into();
                }
                shown
            }).collect::<Vec<_>>(),
            "idTokenExpirySeconds": self.id_token_expiry.as_secs(),
            "rotationTokenExpirySeconds": self.rotation_token_expiry.map(|d| d.as_secs()),
            "requireVerifiedEmail": self.require_verified_email,
            "userAccessibleOauthIssuerHost": self.user_accessible_issuer_host,
            "activateAuth": self.activate_auth,
            "rootToken": mask(&self.root_token),
            "clusterRoleBindings": self.cluster_role_bindings,
            "authConfig": self.auth_config.as_ref().map(|c| connector::mask_config("", c)),
            "sessionDurationMinutes": self.session_duration.as_secs() / 60,
            "enterpriseLicenseKey": mask(&self.license_key),
            "tls": self.tls.as_ref().map(|t| serde_json::json!({"origin": t.origin, "privateKey": "***"})),
            "pachdRedirectURI": self.pachd_redirect_uri,
            "auditRetentionSeconds": self.provider.audit_retention.as_secs(),
            "sessions": self.provider.sessions.map(|s| serde_json::json!({
                "absoluteLifetimeSeconds": s.absolute_lifetime.as_secs(),
                "idleTimeoutSeconds": s.idle_timeout.as_secs(),
            })),
        })
    }
}
