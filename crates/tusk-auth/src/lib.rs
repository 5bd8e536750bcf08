//! Pachyderm's auth plane (`auth_v2`) as a service over the store, in
//! domain types. Layout:
//! - `service`: tokens, activation, role bindings, groups, configuration.
//! - `login`: GetOIDCLogin, the `/authorization-code/callback` leg, and
//!   Authenticate by OIDC state or ID token.
//! - `cache`: the in-memory caches that keep checks off the database.
//! - `error`: the reference's error texts.
//!
//! Invariant: no transport types here; tusk-server maps gRPC and HTTP onto
//! these calls and these errors onto statuses.

pub mod cache;
pub mod enterprise;
pub mod error;
pub mod identity;
pub mod login;
pub mod service;

pub use cache::TOKEN_RECHECK_SECONDS;
pub use error::AuthError;
pub use identity::{ConnectorInput, Managed};
pub use service::{AuthService, AuthSettings, Caller, OidcConfig, ROOT, TokenInfo, new_token};
