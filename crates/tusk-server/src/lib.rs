//! tusk's network edge: one port that speaks HTTP/1.1, HTTP/2 and gRPC,
//! with or without TLS.
//!
//! Layout, one concern per module:
//! - `options`: [`ServerOptions`] and [`ConnectionLimits`], what [`run`] is given.
//! - `serve`: [`run`], the accept loop, per-connection tasks and graceful shutdown.
//! - `state`: [`AppState`], what every handler shares, and readiness.
//! - `client`: the client address, from the peer or a trusted proxy.
//! - `tls`: [`TlsPem`], PEM parsing and the rustls acceptor (aws-lc-rs only).
//! - `http`: [`router`], the HTTP routes, the gRPC routes and the
//!   content-type switch between them.
//! - `oidc`, `pages`, `ratelimit`: the provider's HTTP endpoints;
//!   `cookies`: its browser cookies (session, last login method).
//!   `prebuilt`: discovery and the JWKS as ready bodies with ETags.
//! - `grpc`: the auth plane's services.
//! - `backchannel`: POSTs the provider's back-channel logout tokens to
//!   the clients, off the request path, retried and bounded.
//! - `bootstrap`: a running provider and auth plane from a `Config`.
//! - `reload`: a reloaded configuration and certificate, applied whole.
//! - `metrics`: the process-wide Prometheus recorder and the request counter.
//! - `errors`: [`Error`] for start-up failures, and the one place a failure
//!   becomes an HTTP status ([`errors::ApiError`], the OAuth error JSON,
//!   page statuses); `grpc::status` is the one place for gRPC.
//!
//! The modules form no cycle: `state` and `options` hold the shared types,
//! so `http`, `reload` and `bootstrap` depend on them and not on each other;
//! the crate root only declares and re-exports.
//!
//! Invariant: nothing here logs request headers or bodies, because bearer
//! tokens and client secrets travel in them.

mod backchannel;
mod bootstrap;
pub mod client;
mod cookies;
pub mod errors;
pub mod grpc;
mod http;
mod metrics;
pub mod oidc;
mod options;
pub mod pages;
mod prebuilt;
pub mod ratelimit;
pub mod reload;
mod serve;
mod state;
mod tls;

pub use backchannel::BackchannelLimits;
pub use bootstrap::{AuthBootstrap, auth_from_config, provider_from_config};
pub use errors::Error;
pub use http::{grpc_routes, router};
pub use options::{ConnectionLimits, ServerOptions};
pub use serve::run;
pub use state::{AppState, AuthPlane, Readiness};
pub use tls::TlsPem;
