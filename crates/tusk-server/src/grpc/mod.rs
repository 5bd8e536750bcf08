//! Pachyderm's gRPC services on tusk's one port. Each handler extracts the
//! caller from `authn-token`, checks the RPC's access level, calls
//! tusk-auth, and maps the result. This module is the one place a failure
//! becomes a gRPC status: [`code`]/[`status`] for an auth error, and
//! `From<ApiError>` for a failure described for HTTP.

pub mod audit;
pub mod auth;
pub mod consent;
pub mod enterprise;
pub mod identity;
pub mod resources;
pub mod sessions;
pub mod version;

use http::StatusCode;
use tonic::{Code, Request, Status};

use crate::errors::ApiError;
use tusk_auth::{AuthError, AuthService, Caller};
use tusk_core::auth::Permission;

/// AuthError → gRPC code: the reference's codes (the Python SDK keys on
/// UNIMPLEMENTED for "not activated"), except that tusk sends a refusal as
/// PERMISSION_DENIED and a missing binding as NOT_FOUND, as the spec asks.
pub fn code(e: &AuthError) -> Code {
    match e {
        AuthError::NotActivated
        | AuthError::AlreadyActivated
        | AuthError::NotEnterprise
        | AuthError::Unsupported(_) => Code::Unimplemented,
        AuthError::NotSignedIn | AuthError::BadToken => Code::Unauthenticated,
        AuthError::ExpiredToken | AuthError::Internal(_) => Code::Internal,
        AuthError::MultipleTokens | AuthError::Other(_) => Code::Unknown,
        AuthError::NotAuthorized(_) => Code::PermissionDenied,
        AuthError::NoRoleBinding { .. } => Code::NotFound,
        AuthError::FailedPrecondition(_) => Code::FailedPrecondition,
        AuthError::InvalidArgument(_) => Code::InvalidArgument,
        AuthError::Unavailable(_) => Code::Unavailable,
    }
}

/// AuthError → gRPC status, with the error's own text.
pub fn status(e: AuthError) -> Status {
    Status::new(code(&e), e.to_string())
}

/// The gRPC code of a failure described for HTTP ([`ApiError`]), so a
/// failure a handler shares with the HTTP side is answered alike on both.
fn api_error_code(e: &ApiError) -> Code {
    match e.status() {
        StatusCode::BAD_REQUEST => Code::InvalidArgument,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::CONFLICT => Code::AlreadyExists,
        StatusCode::PRECONDITION_FAILED => Code::FailedPrecondition,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
        StatusCode::NOT_IMPLEMENTED | StatusCode::METHOD_NOT_ALLOWED => Code::Unimplemented,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        StatusCode::GATEWAY_TIMEOUT => Code::DeadlineExceeded,
        s if s.is_client_error() => Code::InvalidArgument,
        _ => Code::Internal,
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Self {
        Status::new(api_error_code(&e), e.to_string())
    }
}

/// The token from `authn-token` metadata: exactly one value, or none.
pub fn token<T>(req: &Request<T>) -> Result<Option<String>, AuthError> {
    let mut values = req.metadata().get_all("authn-token").iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::MultipleTokens);
    }
    Ok(first.and_then(|v| v.to_str().ok()).map(str::to_owned))
}

/// `authn` access: auth active and a valid token.
pub async fn caller<T>(svc: &AuthService, req: &Request<T>) -> Result<Caller, Status> {
    let token = token(req).map_err(status)?;
    svc.authenticate(token.as_deref()).await.map_err(status)
}

/// `perm:X` access.
pub async fn permitted<T>(
    svc: &AuthService,
    req: &Request<T>,
    permission: Permission,
) -> Result<Caller, Status> {
    let c = caller(svc, req).await?;
    svc.require(&c, permission).await.map_err(status)?;
    Ok(c)
}

/// `off∨L` access: nothing while auth is off, else the level's check.
pub async fn off_or_permitted<T>(
    svc: &AuthService,
    req: &Request<T>,
    permission: Permission,
) -> Result<Option<Caller>, Status> {
    if !svc.is_active().await.map_err(status)? {
        return Ok(None);
    }
    permitted(svc, req, permission).await.map(Some)
}

/// An administrator: a valid token whose subject holds
/// `CLUSTER_MODIFY_BINDINGS`, which only `clusterAdmin` (and so the root
/// token) has; anyone with it could grant themselves every other right.
/// Used for what only operators may see: the audit trail and `/readyz`'s
/// detail.
pub async fn admin(svc: &AuthService, token: Option<&str>) -> Result<Caller, AuthError> {
    let caller = svc.authenticate(token).await?;
    svc.require(&caller, Permission::CLUSTER_MODIFY_BINDINGS)
        .await?;
    Ok(caller)
}

pub fn timestamp(secs: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    }
}

#[cfg(test)]
mod tests {
    use tusk_core::auth::{PERMISSIONS, Permission};
    use tusk_proto::auth_v2 as pb;

    /// Every `Permission::NAME` the handlers check is the proto enum's
    /// value of that name, both ways: a renumbered or misspelt constant
    /// would deny (or grant) the wrong thing on the wire.
    #[test]
    fn every_permission_constant_round_trips_to_the_proto_enum() {
        for &(num, name) in PERMISSIONS {
            let wire = pb::Permission::from_str_name(name).map(|p| p as i32);
            assert_eq!(wire, Some(num), "{name} is not {num} in auth_v2.proto");
            let back = pb::Permission::try_from(num).map(|p| p.as_str_name());
            assert_eq!(back, Ok(name), "{num} is not {name} in auth_v2.proto");
            assert_eq!(Permission(num).name(), name);
            assert_eq!(Permission::from_name(name), Some(Permission(num)));
        }
        assert_eq!(
            Permission::CLUSTER_AUTH_DEACTIVATE.name(),
            "CLUSTER_AUTH_DEACTIVATE"
        );
    }
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn http_and_grpc_statuses_agree() {
        let table = [
            (ApiError::invalid_request("x"), 400, Code::InvalidArgument),
            (ApiError::not_found("x"), 404, Code::NotFound),
            (ApiError::method_not_allowed("x"), 405, Code::Unimplemented),
            (ApiError::unavailable("x"), 503, Code::Unavailable),
            (ApiError::internal("x"), 500, Code::Internal),
            (
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "x"),
                401,
                Code::Unauthenticated,
            ),
            (
                ApiError::new(StatusCode::IM_A_TEAPOT, "teapot", "x"),
                418,
                Code::InvalidArgument,
            ),
        ];
        for (err, http, grpc) in table {
            assert_eq!(err.status().as_u16(), http, "{err}");
            let status = Status::from(err.clone());
            assert_eq!(status.code(), grpc, "{err}");
            assert!(status.message().contains(err.error()));
        }
    }
}
