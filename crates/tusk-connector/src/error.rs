//! The crate's one error type.

use crate::kinds::SUPPORTED_KINDS;

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

    /// A SAML response that fails a check (signature, audience, time,
    /// request binding...); `reason` says which and what to do.
    #[error("connector `{connector}`: the SAML response was refused: {reason}")]
    SamlRefused { connector: String, reason: String },
    /// Every password-hashing worker is busy and the queue is full: the
    /// check is refused at once (global back-pressure, never per account);
    /// the login form answers 429 with `Retry-After`.
    #[error(
        "password checks are at capacity ({workers} hashing workers busy, {queue} waiting); the login was refused without checking the password, so retry in a moment; if real logins see this, raise tusk.passwordHashing.workers or .queue"
    )]
    Busy { workers: usize, queue: usize },

    /// A bug or an environment failure (e.g. a blocking task panicked).
    #[error("internal connector error: {0}")]
    Internal(String),
}

pub(crate) fn config_err(connector: &str, reason: String) -> Error {
    Error::Config {
        connector: connector.to_owned(),
        reason,
    }
}
