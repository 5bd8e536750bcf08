//! Pachyderm's auth plane (`auth_v2`) as a service over the store, in
//! domain types. Layout:
//! - `service`: the `AuthService` itself: authentication of a token and
//!   permission checks. Its operations are spread by concern:
//!   `activation` (activate, deactivate, root token), `bindings` (role
//!   bindings and permissions), `tokens`, `groups`, and `oidc_config`
//!   (Get/SetConfiguration).
//! - `login`: GetOIDCLogin, the `/authorization-code/callback` leg, and
//!   Authenticate by OIDC state or ID token.
//! - `group_sync`: the provider's observer of refreshed identities, which
//!   replaces a known user's groups on every refresh through a connector.
//! - `sessions`: the provider's browser sessions: ended with the user's
//!   tokens, auth, their connector or the license; listed and revoked.
//! - `cache`: the in-memory caches that keep checks off the database.
//! - `error`: the reference's error texts.
//!
//! Invariant: no server transport types here; tusk-server maps gRPC and
//! HTTP onto these calls and these errors onto statuses. Two exceptions,
//! both on purpose: `login::CallbackPage` carries the status of the page
//! it describes, and `oidc_config` fetches an external issuer's discovery
//! document itself (reqwest), because its answer decides SetConfiguration.

mod activation;
mod bindings;
pub mod cache;
pub mod enterprise;
pub mod error;
mod group_sync;
mod groups;
pub mod identity;
pub mod login;
mod oidc_config;
pub mod service;
mod sessions;
mod tokens;

pub use cache::TOKEN_RECHECK_SECONDS;
pub use error::AuthError;
pub use group_sync::RefreshSync;
pub use identity::{ConnectorInput, Managed};
pub use oidc_config::OidcConfig;
pub use service::{AuthService, AuthSettings, Caller, ROOT};
pub use tokens::{TokenInfo, new_token};
