//! tusk's domain and protocol rules, with no I/O.
//!
//! Layout, one concern per module:
//! - `audit`: the audit trail's typed events and queries.
//! - `certificate`: X.509 certificates in PEM text (the `saml` connector's
//!   IdP certificate), with line numbers in errors.
//! - `clock`: the injected `Clock`, the system clock and a `FakeClock`.
//! - `secret`: the `Secret<T>` wrapper that never prints its contents, and
//!   constant-time comparison.
//! - `yaml`: a YAML/JSON reader that keeps line numbers for every node.
//! - `config`: the configuration model, its sources, dialects and validation.
//! - `wire_text`: the error texts clients match on.
//!
//! Invariant: nothing here reads the environment, the filesystem or the
//! clock. Callers hand in bytes, variables and `now`. The one exception is
//! `clock::SystemClock`, which only the server and the binaries construct.

pub mod audit;
pub mod auth;
pub mod certificate;
pub mod clock;
pub mod config;
pub mod secret;
pub mod wire_text;
pub mod yaml;

pub use secret::{Secret, ct_eq};
