//! Start-up errors, and the single mapping from failures to HTTP and gRPC
//! statuses so both protocols answer the same failure the same way.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

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

    fn grpc_code(&self) -> tonic::Code {
        use tonic::Code;
        match self.status {
            StatusCode::BAD_REQUEST => Code::InvalidArgument,
            StatusCode::UNAUTHORIZED => Code::Unauthenticated,
            StatusCode::FORBIDDEN => Code::PermissionDenied,
            StatusCode::NOT_FOUND => Code::NotFound,
            StatusCode::CONFLICT => Code::AlreadyExists,
            StatusCode::PRECONDITION_FAILED => Code::FailedPrecondition,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => {
                Code::ResourceExhausted
            }
            StatusCode::NOT_IMPLEMENTED | StatusCode::METHOD_NOT_ALLOWED => Code::Unimplemented,
            StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
            StatusCode::GATEWAY_TIMEOUT => Code::DeadlineExceeded,
            s if s.is_client_error() => Code::InvalidArgument,
            _ => Code::Internal,
        }
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

impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        tonic::Status::new(e.grpc_code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_grpc_statuses_agree() {
        let table = [
            (
                ApiError::invalid_request("x"),
                400,
                tonic::Code::InvalidArgument,
            ),
            (ApiError::not_found("x"), 404, tonic::Code::NotFound),
            (
                ApiError::method_not_allowed("x"),
                405,
                tonic::Code::Unimplemented,
            ),
            (ApiError::unavailable("x"), 503, tonic::Code::Unavailable),
            (ApiError::internal("x"), 500, tonic::Code::Internal),
            (
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "x"),
                401,
                tonic::Code::Unauthenticated,
            ),
            (
                ApiError::new(StatusCode::IM_A_TEAPOT, "teapot", "x"),
                418,
                tonic::Code::InvalidArgument,
            ),
        ];
        for (err, http, grpc) in table {
            assert_eq!(err.status().as_u16(), http, "{err}");
            let status = tonic::Status::from(err.clone());
            assert_eq!(status.code(), grpc, "{err}");
            assert!(status.message().contains(err.error()));
            assert_eq!(err.into_response().status().as_u16(), http);
        }
    }
}
