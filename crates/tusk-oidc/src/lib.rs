//! The OpenID provider's protocol logic, without HTTP.
//!
//! The server crate turns requests into calls here and results into
//! responses; nothing here knows axum or HTML. Layout:
//! - `provider`: the provider's state and lifecycle (creation, periodic
//!   work, static clients); it re-exports the parts below under its path.
//! - `settings`: issuer, lifetimes, policies, and the discovery document.
//! - `slots`: connector slots and their states; `connectors`: opening them,
//!   each independently, retried in the background.
//! - `keys`: the in-memory key ring, signing and verification, rotation;
//!   `verified`: tokens whose signature the ring already checked.
//! - `cache`: client records and the revocation deny-list in memory, kept
//!   current through the store's change feed.
//! - `redirect`: redirect URI matching; `claims`: scope-gated identity
//!   claims; `audit_context`: the client address and user audit records name.
//! - `authorize`: `/auth`, connector selection, password and callback
//!   logins, codes.
//! - `token`: client authentication and the code, refresh and device grants.
//! - `observer`: the hook the provider tells of identities a refresh
//!   re-read upstream (the server wires the auth plane to it).
//! - `backchannel`: OpenID Connect Back-Channel Logout: the logout token
//!   and telling an ended session's clients; `logout_delivery`: the hook
//!   the server wires to POST them (a leaf the provider holds).
//! - `browser`: browser sessions (single sign-on): lookup, start, end.
//! - `consent`: the consent rule, remembered grants, the Allow/Deny answer.
//! - `device_confirm`: a device login's "Sign in to … with code …?" step.
//! - `prompts`: what those two pages show (a leaf `authorize::Next` carries).
//! - `session`: userinfo, introspection, revocation, logout, device codes.
//! - `throttle`: per-account password-guessing back-off, kept in the store.
//! - `params`, `scopes`, `pkce`, `subject`, `error`: protocol rules as types.

mod audit_context;
pub mod authorize;
pub mod backchannel;
pub mod browser;
mod cache;
mod claims;
mod connectors;
pub mod consent;
pub mod device_confirm;
pub mod error;
mod form_answer;
mod keys;
pub mod logout_delivery;
pub mod observer;
pub mod params;
pub mod pkce;
pub mod prompts;
pub mod provider;
mod redirect;
pub mod relying;
pub mod scopes;
pub mod session;
mod settings;
mod sid;
mod slots;
pub mod subject;
pub mod throttle;
pub mod token;
mod verified;

pub use authorize::{AuthorizeError, Next, PasswordForm, PasswordOutcome};
pub use backchannel::{EndedSession, Unsent};
pub use browser::{Browser, LoginBinding, SessionCookie, SessionInfo};
/// How long a replica answers from its in-memory deny-list and client
/// records without reading them again (the bound across replicas when the
/// change feed is lost).
pub use cache::RECHECK_SECONDS as CACHE_RECHECK_SECONDS;
pub use error::{ErrorCode, Fault, Link, Links, OAuthError, PageError};
pub use logout_delivery::{LogoutDelivery, LogoutMessage, NotSent};
pub use observer::{IdentityObserver, RefreshedIdentity};
pub use params::Params;
pub use prompts::{ConsentPage, DeviceConfirm, ScopeWords};
pub use provider::{
    ConnectorConfig, ConnectorSlot, Provider, RefreshPolicy, SessionPolicy, Settings,
    with_client_address,
};
pub use session::LogoutOutcome;
pub use token::TokenResponse;
/// The pool password checks run on, sized by [`Settings::password_hashing`].
pub use tusk_connector::{HashPool, HashPoolSize};
