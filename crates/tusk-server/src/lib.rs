//! tusk's network edge: one port that speaks HTTP/1.1, HTTP/2 and gRPC,
//! with or without TLS.
//!
//! Layout, one concern per module:
//! - `serve`: [`run`], the accept loop, per-connection tasks and graceful shutdown.
//! - `client`: the client address, from the peer or a trusted proxy.
//! - `tls`: PEM parsing and the rustls acceptor (aws-lc-rs only).
//! - `http`: [`router`], the HTTP routes, the gRPC routes and the
//!   content-type switch between them.
//! - `metrics`: the process-wide Prometheus recorder and the request counter.
//! - `errors`: [`Error`] for start-up failures, [`errors::ApiError`], the one
//!   place where failures become HTTP and gRPC statuses.
//!
//! Invariant: nothing here logs request headers or bodies, because bearer
//! tokens and client secrets travel in them.

mod bootstrap;
pub mod client;
pub mod errors;
pub mod grpc;
mod http;
mod metrics;
pub mod oidc;
pub mod pages;
pub mod ratelimit;
pub mod reload;
mod serve;
mod tls;

pub use bootstrap::{AuthBootstrap, auth_from_config, provider_from_config};
pub use errors::Error;
pub use http::{AppState, AuthPlane, Readiness, grpc_routes, router};
pub use serve::{ConnectionLimits, run};

use tusk_core::Secret;

/// What [`run`] needs besides the store, the listener and the shutdown signal.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `None` serves plain HTTP (h1 and h2c) on the port.
    pub tls: Option<TlsPem>,
    /// The OIDC issuer URL, reported by `/readyz` and in logs.
    pub issuer: String,
    /// What `/readyz` reports as the loaded configuration; the caller masks
    /// secrets before handing it over.
    pub config_summary: serde_json::Value,
    /// The OpenID provider, mounted under the issuer's path; `None` serves
    /// only health, readiness and metrics.
    pub provider: Option<std::sync::Arc<tusk_oidc::Provider>>,
    pub theme: pages::Theme,
    pub rate_limits: ratelimit::RateLimits,
    /// Pachyderm's auth plane over gRPC; `None` serves none of it.
    pub auth: Option<http::AuthPlane>,
    /// Hot reload of the configuration; `None` turns it off.
    pub reload: Option<reload::Reload>,
    /// Timeouts and the connection cap of the accept loop.
    pub connections: ConnectionLimits,
    /// Peers whose forwarding headers name the client.
    pub trusted_proxies: client::TrustedProxies,
}

/// A certificate chain and its private key, both PEM-encoded.
#[derive(Debug, Clone)]
pub struct TlsPem {
    pub cert_chain: Vec<u8>,
    pub private_key: Secret<Vec<u8>>,
}
