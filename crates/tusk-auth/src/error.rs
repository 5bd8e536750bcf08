//! Auth-plane errors. The texts are the reference's, byte for byte, because
//! clients match on them (docs/wire-api.md §2); the gRPC codes are assigned in
//! tusk-server, the one place errors become statuses.

use tusk_core::wire_text;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("{}", wire_text::NOT_ACTIVATED)]
    NotActivated,
    #[error("{}", wire_text::ALREADY_ACTIVATED)]
    AlreadyActivated,
    #[error("{}", wire_text::NO_TOKEN)]
    NotSignedIn,
    #[error("multiple authentication token keys found in context")]
    MultipleTokens,
    #[error("{}", wire_text::BAD_TOKEN)]
    BadToken,
    /// The reference's prefix, with tusk's hint as a suffix only.
    #[error("{}; log in again", wire_text::EXPIRED_TOKEN)]
    ExpiredToken,
    /// license_v2's ErrNotActivated.
    #[error("cluster does not have enterprise features enabled")]
    NotEnterprise,
    /// The full ErrNotAuthorized sentence.
    #[error("{0}")]
    NotAuthorized(String),
    #[error("{} {kind} {name}", wire_text::NO_ROLE_BINDING)]
    NoRoleBinding { kind: String, name: String },
    /// A malformed field (gRPC INVALID_ARGUMENT), naming the field.
    #[error("{0}")]
    InvalidArgument(String),
    /// The request is refused because configuration owns the data.
    #[error("{0}")]
    FailedPrecondition(String),
    /// An error the reference sends as INTERNAL (identity's ErrInvalidID
    /// and ErrAlreadyExists), with its text.
    #[error("{0}")]
    Internal(String),
    /// A plain error in the reference (gRPC UNKNOWN), with its text.
    #[error("{0}")]
    Other(String),
    /// A call the reference answers UNIMPLEMENTED, with its text (the
    /// license server's calls for other clusters, which tusk does not serve).
    #[error("{0}")]
    Unsupported(String),
    /// Storage is unreachable; retrying later may work.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
}

impl AuthError {
    pub fn other(text: impl Into<String>) -> AuthError {
        AuthError::Other(text.into())
    }
}

impl From<tusk_store::Error> for AuthError {
    fn from(e: tusk_store::Error) -> Self {
        match e {
            tusk_store::Error::Backend(_) | tusk_store::Error::Conflict { .. } => {
                AuthError::Unavailable(e.to_string())
            }
            other => AuthError::Other(other.to_string()),
        }
    }
}

impl From<tusk_core::auth::EvalError> for AuthError {
    fn from(e: tusk_core::auth::EvalError) -> Self {
        match e {
            tusk_core::auth::EvalError::NotActivated => AuthError::NotActivated,
            tusk_core::auth::EvalError::NoRoleBinding { kind, name } => AuthError::NoRoleBinding {
                kind: kind.to_owned(),
                name,
            },
        }
    }
}
