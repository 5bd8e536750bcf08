//! The OpenID provider's protocol logic, without HTTP.
//!
//! The server crate turns requests into calls here and results into
//! responses; nothing here knows axum or HTML. Layout:
//! - `provider`: settings, clock, clients, connectors, the in-memory key ring
//!   and key rotation, discovery.
//! - `authorize`: `/auth`, connector selection, password and callback
//!   logins, codes.
//! - `token`: client authentication and the code, refresh and device grants.
//! - `session`: userinfo, introspection, revocation, logout, device codes.
//! - `throttle`: per-account password-guessing back-off, kept in the store.
//! - `params`, `scopes`, `pkce`, `subject`, `error`: protocol rules as types.

pub mod authorize;
pub mod error;
pub mod params;
pub mod pkce;
pub mod provider;
pub mod relying;
pub mod scopes;
pub mod session;
pub mod subject;
pub mod throttle;
pub mod token;

pub use authorize::{AuthorizeError, Next, PasswordForm, PasswordOutcome};
pub use error::{ErrorCode, OAuthError, PageError};
pub use params::Params;
pub use provider::{
    ConnectorConfig, ConnectorSlot, Provider, RefreshPolicy, Settings, with_client_address,
};
pub use session::LogoutOutcome;
pub use token::TokenResponse;
