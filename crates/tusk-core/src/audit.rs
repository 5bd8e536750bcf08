//! The audit trail's vocabulary: every security-relevant event as one typed
//! value, with the stable name operators filter and alert on.
//!
//! Invariant: no variant has a field that can hold a token, a password, a
//! client secret or a key. Events name who and what, never with what
//! credential, so a record can be logged and kept without masking.

use serde::{Deserialize, Serialize};

/// What a configuration reload ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    Accepted,
    Rejected,
}

/// What happened to a connector or a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

/// What happened to a user's consent to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentChange {
    /// Allow on the consent page.
    Granted,
    /// Deny on the consent page.
    Denied,
    /// Removed: by an administrator (`tusk auth revoke-consent`, gRPC
    /// `tusk.consent.v1`), or with the user's tokens.
    Revoked,
}

/// One security-relevant event. The JSON form carries the variant's
/// [`AuditEvent::name`] in an `event` field, which is what the log line and
/// the stored record both expose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditEvent {
    LoginSucceeded {
        user: String,
        connector: String,
        client: String,
        address: Option<String>,
    },
    LoginFailed {
        user: String,
        connector: String,
        client: String,
        address: Option<String>,
        reason: String,
    },
    /// `kind` says how it was minted: `code`, `refresh` or `device` (the
    /// provider's token endpoint, by grant), `session` (a Pachyderm
    /// login or a minted token), `robot` or `root`.
    TokenMinted {
        actor: Option<String>,
        subject: String,
        kind: String,
        client: Option<String>,
    },
    TokenRevoked {
        actor: Option<String>,
        subject: Option<String>,
        count: i64,
    },
    RefreshReuseDetected {
        user: String,
        client: String,
    },
    /// `before` and `after` are the principal's roles on the resource.
    RoleBindingChanged {
        actor: String,
        resource: String,
        principal: String,
        before: Vec<String>,
        after: Vec<String>,
    },
    ConnectorChanged {
        actor: String,
        connector: String,
        change: Change,
    },
    ClientChanged {
        actor: String,
        client: String,
        change: Change,
    },
    Activated {
        actor: Option<String>,
    },
    Deactivated {
        actor: String,
    },
    RootTokenRotated {
        actor: String,
    },
    /// `actor` is `None` when auth is off and anyone may set a license.
    LicenseChanged {
        actor: Option<String>,
    },
    /// Settings changed over the API: `auth` (the auth plane's OIDC client
    /// settings, `SetConfiguration`) or `identity` (the identity server's,
    /// `SetIdentityServerConfig`). The values are not kept: one is a secret.
    SettingsChanged {
        actor: String,
        settings: String,
    },
    /// A user's consent to a client. `actor` is the user on the consent
    /// page, the administrator for a revocation, and `None` when the
    /// revocation followed `RevokeAuthTokensForUser` (whose
    /// `token_revoked` names who). `client` is empty when every grant of
    /// the user went; `scopes` are those asked (granted or denied);
    /// `count` is how many grants a revocation removed.
    ConsentChanged {
        actor: Option<String>,
        subject: String,
        client: String,
        change: ConsentChange,
        scopes: Vec<String>,
        count: u64,
    },
    /// `problems` counts the validation errors of a rejected reload.
    ConfigReloaded {
        outcome: ReloadOutcome,
        problems: usize,
    },
}

/// The most characters an audit field keeps of a value an outsider chose
/// (a login name typed into the form).
pub const MAX_FIELD_CHARS: usize = 256;

/// `text`, cut to [`MAX_FIELD_CHARS`] characters (with `…` when cut), so
/// failed attempts with huge names cannot fill the store through the trail.
pub fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_FIELD_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Every event name, in declaration order, for documentation and tests.
pub const EVENT_NAMES: &[&str] = &[
    "login_succeeded",
    "login_failed",
    "token_minted",
    "token_revoked",
    "refresh_reuse_detected",
    "role_binding_changed",
    "connector_changed",
    "client_changed",
    "activated",
    "deactivated",
    "root_token_rotated",
    "license_changed",
    "settings_changed",
    "consent_changed",
    "config_reloaded",
];

impl AuditEvent {
    /// The stable `event` name.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::LoginSucceeded { .. } => "login_succeeded",
            AuditEvent::LoginFailed { .. } => "login_failed",
            AuditEvent::TokenMinted { .. } => "token_minted",
            AuditEvent::TokenRevoked { .. } => "token_revoked",
            AuditEvent::RefreshReuseDetected { .. } => "refresh_reuse_detected",
            AuditEvent::RoleBindingChanged { .. } => "role_binding_changed",
            AuditEvent::ConnectorChanged { .. } => "connector_changed",
            AuditEvent::ClientChanged { .. } => "client_changed",
            AuditEvent::Activated { .. } => "activated",
            AuditEvent::Deactivated { .. } => "deactivated",
            AuditEvent::RootTokenRotated { .. } => "root_token_rotated",
            AuditEvent::LicenseChanged { .. } => "license_changed",
            AuditEvent::SettingsChanged { .. } => "settings_changed",
            AuditEvent::ConsentChanged { .. } => "consent_changed",
            AuditEvent::ConfigReloaded { .. } => "config_reloaded",
        }
    }

    /// Who acted, where someone did: the filter `actor` matches this.
    pub fn actor(&self) -> Option<&str> {
        match self {
            AuditEvent::TokenMinted { actor, .. }
            | AuditEvent::TokenRevoked { actor, .. }
            | AuditEvent::ConsentChanged { actor, .. }
            | AuditEvent::Activated { actor }
            | AuditEvent::LicenseChanged { actor } => actor.as_deref(),
            AuditEvent::RoleBindingChanged { actor, .. }
            | AuditEvent::ConnectorChanged { actor, .. }
            | AuditEvent::ClientChanged { actor, .. }
            | AuditEvent::Deactivated { actor }
            | AuditEvent::RootTokenRotated { actor }
            | AuditEvent::SettingsChanged { actor, .. } => Some(actor),
            // A user logging in acts for themselves.
            AuditEvent::LoginSucceeded { user, .. } | AuditEvent::LoginFailed { user, .. } => {
                Some(user)
            }
            AuditEvent::RefreshReuseDetected { .. } | AuditEvent::ConfigReloaded { .. } => None,
        }
    }

    /// Whom the event is about: the filter `subject` matches this.
    pub fn subject(&self) -> Option<&str> {
        match self {
            AuditEvent::LoginSucceeded { user, .. }
            | AuditEvent::LoginFailed { user, .. }
            | AuditEvent::RefreshReuseDetected { user, .. } => Some(user),
            AuditEvent::TokenMinted { subject, .. }
            | AuditEvent::ConsentChanged { subject, .. } => Some(subject),
            AuditEvent::TokenRevoked { subject, .. } => subject.as_deref(),
            AuditEvent::RoleBindingChanged { principal, .. } => Some(principal),
            _ => None,
        }
    }

    /// What the event changed: the filter `resource` matches this.
    pub fn resource(&self) -> Option<&str> {
        match self {
            AuditEvent::RoleBindingChanged { resource, .. } => Some(resource),
            AuditEvent::ConnectorChanged { connector, .. } => Some(connector),
            AuditEvent::ClientChanged { client, .. } => Some(client),
            AuditEvent::ConsentChanged { client, .. } if !client.is_empty() => Some(client),
            AuditEvent::LoginSucceeded { connector, .. }
            | AuditEvent::LoginFailed { connector, .. } => Some(connector),
            _ => None,
        }
    }
}

/// One stored event. `id` is assigned by the store, increasing with time
/// of writing; `at` is Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// A query over stored events. Every set filter must match (exactly);
/// `since` and `until` are inclusive Unix seconds. Results are newest
/// first, at most `limit` of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub resource: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: usize,
}

/// The most events one query returns, so a listing cannot exhaust memory.
pub const MAX_LIMIT: usize = 1000;

impl AuditQuery {
    /// The limit the store applies: 0 means the default of 100, and no
    /// query gets more than [`MAX_LIMIT`].
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => 100,
            n => n.min(MAX_LIMIT),
        }
    }
}
