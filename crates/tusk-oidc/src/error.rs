//! OAuth 2.0 / OIDC errors as types. Each code's wire form is the RFC
//! string; an `OAuthError`'s HTTP status is chosen in tusk-server. A
//! `PageError` carries its status as a number, because whether a page says
//! "bad request" or "try again later" is part of the login logic (the
//! token grant tells an unavailable connector from a missing one by it).

use std::fmt;

/// Error codes from RFC 6749 §4.1.2.1 and §5.2, RFC 8628 §3.5, RFC 7009
/// §2.2.1 and OIDC Core §3.1.2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    UnsupportedTokenType,
    InvalidToken,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidToken => "invalid_token",
        }
    }
}

/// An error for a client (token endpoint, device endpoint, redirect back to
/// the client). `description` is shown to developers, so it says what was
/// wrong; it never contains a secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code,
            description: description.into(),
        }
    }

    pub fn server(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::ServerError, description)
    }
}

/// A failure shown to a person in the browser, never sent to a redirect
/// URI: either the redirect URI itself is in doubt, or the user must act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{title}: {detail}")]
pub struct PageError {
    /// HTTP status to answer with.
    pub status: u16,
    pub title: String,
    /// What went wrong, for the user.
    pub detail: String,
    /// What an administrator should check.
    pub admin_hint: String,
}

impl PageError {
    pub fn bad_request(
        title: &str,
        detail: impl Into<String>,
        admin_hint: impl Into<String>,
    ) -> PageError {
        PageError {
            status: 400,
            title: title.into(),
            detail: detail.into(),
            admin_hint: admin_hint.into(),
        }
    }

    pub fn internal(detail: impl Into<String>) -> PageError {
        PageError {
            status: 500,
            title: "Login error".into(),
            detail: detail.into(),
            admin_hint: "see tusk's log for the cause".into(),
        }
    }
}

impl From<tusk_store::Error> for PageError {
    fn from(e: tusk_store::Error) -> Self {
        tracing::error!(error = %e, "storage failure during login");
        PageError {
            status: 503,
            title: "Temporarily unavailable".into(),
            detail: "the login service cannot reach its storage right now; try again in a moment"
                .into(),
            admin_hint: "check that the database is reachable (`/readyz` says more)".into(),
        }
    }
}

impl From<tusk_store::Error> for OAuthError {
    fn from(e: tusk_store::Error) -> Self {
        tracing::error!(error = %e, "storage failure at a protocol endpoint");
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "storage is unavailable; retry later",
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
