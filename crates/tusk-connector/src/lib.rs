//! Upstream identity connectors, after Dex's connector interfaces.
//!
//! A connector is one small trait, [`Connector`], with optional
//! capabilities: a password form ([`PasswordConnector`]), a browser
//! round trip ([`CallbackConnector`]) and refresh ([`RefreshConnector`]).
//! The provider only ever holds an `Arc<dyn Connector>` from [`open`], so it
//! never knows the concrete type.
//!
//! Layout: `connector` holds the interfaces, `error` the one error type,
//! `open` builds a connector by type; `mock` holds Dex's `mockPassword` and
//! `mockCallback`; `local` the static password database, whose hashes run
//! on `hashing`'s bounded pool; `ldap` the LDAP directory (service bind,
//! user search, user bind, group search); `oidc` the upstream OpenID
//! Connect relying party (Okta and friends); `github` the GitHub OAuth app
//! login; `saml` the SAML 2.0 service provider (its XML, c14n and signature
//! checks in submodules; it reads one local file, the `ca` certificate);
//! `fields` and `query` read config fields and callback parameters. This
//! file only declares modules and re-exports, so no module depends on logic
//! here. Configs arrive already validated by `tusk_core::config::connector`,
//! as JSON.
//!
//! Opening has two steps. [`open`] parses the config, synchronously and
//! without I/O: its errors are configuration errors that no retry fixes.
//! [`Connector::open`] then does whatever network work the connector needs
//! before it can serve (discovery and key fetch for `oidc`, connecting and
//! the service bind for `ldap`); the provider
//! calls it in the background, retrying with backoff, and hands out only
//! connectors whose last `open` succeeded.

mod connector;
mod error;
mod fields;
pub mod github;
mod hashing;
mod kinds;
pub mod ldap;
mod local;
mod mock;
mod now;
pub mod oidc;
mod open;
mod query;
pub mod saml;

pub use connector::{
    CallbackConnector, Connector, Identity, PasswordConnector, RefreshConnector, Scopes,
    UpstreamParams,
};
pub use error::Error;
pub use hashing::{HashPool, HashPoolSize, Pending};
pub use kinds::SUPPORTED_KINDS;
pub use local::hash_password;
pub use open::open;
