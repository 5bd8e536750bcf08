//! Start-up errors, and the one place where a failure becomes an HTTP
//! status: route errors ([`ApiError`]), the OAuth 2.0 error JSON of every
//! provider endpoint ([`oauth_error`], [`rate_limited`]), and the status of
//! a page for people ([`page_status`], the form re-render statuses). The
//! gRPC side has its own one place, `grpc::status`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use tusk_oidc::{ErrorCode, OAuthError};

/// Why [`crate::run`] could not start. Each message names the thing, the
/// cause and the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot read the TLS certificate chain: {cause}\n\
         fix: give a PEM file holding the server certificate first, then any \
         intermediates, each in a '-----BEGIN CERTIFICATE-----' block"
    )]
    TlsCertificate { cause: String },

    #[error(
        "cannot read the TLS private key: {cause}\n\
         fix: give an unencrypted PEM key ('BEGIN PRIVATE KEY', \
         'BEGIN EC PRIVATE KEY' or 'BEGIN RSA PRIVATE KEY')"
    )]
    TlsPrivateKey { cause: String },

    #[error(
        "cannot use the TLS certificate and private key together: {0}\n\
         fix: check that the key belongs to the first certificate in the chain \
         and is RSA, ECDSA (P-256/P-384) or Ed25519"
    )]
    TlsConfig(rustls::Error),

    #[error(
        "cannot read the local address of the server's listener: {0}\n\
         fix: pass a TCP listener that is bound and open"
    )]
    Listener(std::io::Error),
}

/// A failure answered to a client: JSON over HTTP in the OAuth 2.0 error
/// shape, or a `tonic::Status` over gRPC.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl ApiError {
    /// `error` is a short machine-readable code (`invalid_request`,
    /// `not_found`, ...); `description` is for humans and must hold no secret.
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    pub fn method_not_allowed(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            description,
        )
    }

    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            description,
        )
    }

    /// A body over the limit: OAuth clients expect the error JSON of RFC
    /// 6749 §5.2 from every endpoint they call, even for this.
    pub fn payload_too_large(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            description,
        )
    }

    pub fn internal(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn error(&self) -> &'static str {
        self.error
    }

    pub fn description(&self) -> &str {
        &self.description
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        (self.status, Json(body)).into_response()
    }
}

/// The HTTP status of an OAuth error code (RFC 6749 §5.2, RFC 6750 §3.1).
pub fn oauth_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// OAuth error JSON (RFC 6749 §5.2), never cached. `invalid_client` is
/// 401, with a `WWW-Authenticate` challenge when the client tried Basic.
pub fn oauth_error(e: &OAuthError, basic: bool) -> Response {
    let mut r =
        ApiError::new(oauth_status(e.code), e.code.as_str(), e.description.clone()).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if e.code == ErrorCode::InvalidClient && basic {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tusk\""),
        );
    }
    r
}

/// A request over a client address's rate limit: 429 with `Retry-After`,
/// in the OAuth error shape (`temporarily_unavailable`, the nearest RFC
/// 6749 code) because OAuth clients parse every error body as one.
pub fn rate_limited(wait_secs: u64) -> Response {
    let e = OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        format!("too many requests from this address; retry in {wait_secs} s"),
    );
    let mut r = oauth_error(&e, false);
    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Ok(v) = HeaderValue::from_str(&wait_secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The status a page for people is answered with, as the provider
/// (`PageError::status`) or the auth plane's login callback chose it. A
/// number that is no HTTP status is our own bug, so it reads as 500.
pub fn page_status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The password form shown again after a wrong password: 401, so a
/// client that posts credentials without reading the page sees the failure.
pub const WRONG_PASSWORD: StatusCode = StatusCode::UNAUTHORIZED;

/// The device form shown again after an unknown or expired user code.
pub const BAD_USER_CODE: StatusCode = StatusCode::BAD_REQUEST;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_errors_answer_their_status_in_the_oauth_shape() {
        let table = [
            (ApiError::invalid_request("x"), 400),
            (ApiError::not_found("x"), 404),
            (ApiError::method_not_allowed("x"), 405),
            (ApiError::unavailable("x"), 503),
            (ApiError::internal("x"), 500),
            (ApiError::payload_too_large("x"), 413),
            (
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "x"),
                401,
            ),
        ];
        for (err, http) in table {
            assert_eq!(err.status().as_u16(), http, "{err}");
            assert_eq!(err.into_response().status().as_u16(), http);
        }
    }

    #[test]
    fn oauth_codes_map_to_their_rfc_statuses() {
        let table = [
            (ErrorCode::InvalidRequest, 400),
            (ErrorCode::InvalidClient, 401),
            (ErrorCode::InvalidToken, 401),
            (ErrorCode::ServerError, 500),
            (ErrorCode::TemporarilyUnavailable, 503),
        ];
        for (code, http) in table {
            assert_eq!(oauth_status(code).as_u16(), http, "{}", code.as_str());
        }
        let limited = rate_limited(7);
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn a_page_status_that_is_no_http_status_is_a_500() {
        assert_eq!(page_status(404), StatusCode::NOT_FOUND);
        assert_eq!(page_status(1000), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
