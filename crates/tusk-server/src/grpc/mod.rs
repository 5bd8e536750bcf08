//! Pachyderm's gRPC services on tusk's one port. Each handler extracts the
//! caller from `authn-token`, checks the RPC's access level, calls
//! tusk-auth, and maps the result; `status` is the one place an auth error
//! becomes a gRPC status.

pub mod audit;
pub mod auth;
pub mod enterprise;
pub mod identity;
pub mod resources;
pub mod version;

use tonic::{Code, Request, Status};
use tusk_auth::{AuthError, AuthService, Caller};

/// AuthError → gRPC status: the reference's codes (the Python SDK keys on
/// UNIMPLEMENTED for "not activated"), except that tusk sends a refusal as
/// PERMISSION_DENIED and a missing binding as NOT_FOUND, as the spec asks.
pub fn status(e: AuthError) -> Status {
    let code = match &e {
        AuthError::NotActivated | AuthError::AlreadyActivated | AuthError::NotEnterprise => {
            Code::Unimplemented
        }
        AuthError::NotSignedIn | AuthError::BadToken => Code::Unauthenticated,
        AuthError::ExpiredToken | AuthError::Internal(_) => Code::Internal,
        AuthError::MultipleTokens | AuthError::Other(_) => Code::Unknown,
        AuthError::NotAuthorized(_) => Code::PermissionDenied,
        AuthError::NoRoleBinding { .. } => Code::NotFound,
        AuthError::FailedPrecondition(_) => Code::FailedPrecondition,
        AuthError::InvalidArgument(_) => Code::InvalidArgument,
        AuthError::Unavailable(_) => Code::Unavailable,
    };
    Status::new(code, e.to_string())
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
    permission: &str,
) -> Result<Caller, Status> {
    let c = caller(svc, req).await?;
    let p = tusk_core::auth::Permission::from_name(permission)
        .unwrap_or(tusk_core::auth::Permission(0));
    svc.require(&c, p).await.map_err(status)?;
    Ok(c)
}

/// `off∨L` access: nothing while auth is off, else the level's check.
pub async fn off_or_permitted<T>(
    svc: &AuthService,
    req: &Request<T>,
    permission: &str,
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
    let p = tusk_core::auth::Permission::from_name("CLUSTER_MODIFY_BINDINGS")
        .unwrap_or(tusk_core::auth::Permission(0));
    svc.require(&caller, p).await?;
    Ok(caller)
}

pub fn timestamp(secs: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    }
}
