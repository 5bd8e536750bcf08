//! The provider's settings: issuer, lifetimes, refresh policy, key
//! rotation and connector retry, and the discovery document built from them.

use serde_json::{Value, json};
use std::time::Duration;
use tusk_jose::{Alg, RotationPolicy};

/// Refresh-token policy (docs/provider.md §6).
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// From the first token of a session; Helm `oidc.RotationTokenExpiry`.
    pub absolute_lifetime: Option<i64>,
    /// Idle limit: a token unused this long is dead (Dex `validIfNotUsedFor`).
    pub valid_if_not_used_for: Option<i64>,
    /// A rotated token still works this long, for clients that race two
    /// refreshes; outside it, reuse revokes the whole session.
    pub reuse_interval: i64,
}

/// Browser sessions (single sign-on): `None` turns them off, and every
/// `/auth` logs in afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Seconds from the login after which the session ends regardless.
    pub absolute_lifetime: i64,
    /// Seconds without an `/auth` through the session after which it ends.
    pub idle_timeout: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            absolute_lifetime: 24 * 3600,
            idle_timeout: 8 * 3600,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// No trailing slash; byte-identical in discovery and tokens.
    pub issuer: String,
    pub id_token_ttl: i64,
    /// RFC 6749 recommends at most 10 minutes.
    pub code_ttl: i64,
    /// Bounded, because every `/auth` hit creates one (Dex kept them 24 h
    /// and load-balancer probes filled storage).
    pub auth_request_ttl: i64,
    pub device_ttl: i64,
    pub device_interval: i64,
    pub refresh: RefreshPolicy,
    pub alg: Alg,
    pub rotation: RotationPolicy,
    /// How a connector that cannot open (an unreachable upstream) is
    /// retried in the background.
    pub connector_retry: ConnectorRetry,
    /// Seconds audit events are kept; [`Provider::tick`] purges older ones.
    pub audit_retention: i64,
    /// Workers and queue of the pool password hashes run on; read when the
    /// provider is created.
    pub password_hashing: tusk_connector::HashPoolSize,
    /// Browser sessions; on by default.
    pub sessions: Option<SessionPolicy>,
}

/// Exponential backoff for opening connectors: `initial`, doubling up to
/// `max`, each wait shortened by up to a quarter at random so replicas do
/// not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectorRetry {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for ConnectorRetry {
    fn default() -> Self {
        ConnectorRetry {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Settings {
    pub fn new(issuer: &str) -> Settings {
        Settings {
            issuer: issuer.trim_end_matches('/').to_owned(),
            id_token_ttl: 24 * 3600,
            code_ttl: 600,
            auth_request_ttl: 30 * 60,
            device_ttl: 300,
            device_interval: 5,
            refresh: RefreshPolicy {
                absolute_lifetime: Some(48 * 3600),
                valid_if_not_used_for: None,
                reuse_interval: 0,
            },
            alg: Alg::ES256,
            rotation: RotationPolicy::default(),
            connector_retry: ConnectorRetry::default(),
            audit_retention: 30 * 24 * 3600,
            password_hashing: tusk_connector::HashPoolSize::default(),
            sessions: Some(SessionPolicy::default()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The discovery document advertises exactly what is implemented.
pub(crate) fn discovery(s: &Settings) -> Value {
    json!({
        "issuer": s.issuer,
        "authorization_endpoint": s.url("/auth"),
        "token_endpoint": s.url("/token"),
        "jwks_uri": s.url("/keys"),
        "userinfo_endpoint": s.url("/userinfo"),
        "device_authorization_endpoint": s.url("/device/code"),
        "introspection_endpoint": s.url("/token/introspect"),
        "revocation_endpoint": s.url("/token/revoke"),
        "end_session_endpoint": s.url("/logout"),
        "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": Alg::discovery_values(),
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "groups", "profile", "offline_access", "federated:id"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "at_hash", "azp", "email", "email_verified", "groups", "name", "preferred_username", "federated_claims"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        // OpenID Connect Back-Channel Logout 1.0 (`backchannel`): logout
        // tokens, with `sid` (also in every ID token).
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "prompt_values_supported": ["none", "login", "select_account"],
    })
}
