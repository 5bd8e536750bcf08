//! What [`crate::run`] is given: [`ServerOptions`] and the accept loop's
//! [`ConnectionLimits`].

use std::sync::Arc;
use std::time::Duration;

use crate::client::TrustedProxies;
use crate::pages::Theme;
use crate::ratelimit::RateLimits;
use crate::reload::Reload;
use crate::state::AuthPlane;
use crate::tls::TlsPem;

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
    pub provider: Option<Arc<tusk_oidc::Provider>>,
    pub theme: Theme,
    pub rate_limits: RateLimits,
    /// Pachyderm's auth plane over gRPC; `None` serves none of it.
    pub auth: Option<AuthPlane>,
    /// Hot reload of the configuration; `None` turns it off.
    pub reload: Option<Reload>,
    /// Timeouts and the connection cap of the accept loop.
    pub connections: ConnectionLimits,
    /// Peers whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
}

/// Limits that keep a client from holding sockets and tasks (issue 11,
/// defect 3: idle sockets, HTTP/2 preface-only connections and slow bodies
/// stayed open indefinitely).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Accepted connections above this are closed at once.
    pub max_connections: usize,
    /// An HTTP/1 request's headers must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed; this
    /// includes one that never completes a first request (an HTTP/2
    /// preface and nothing else). Checked every `idle_timeout`, so such a
    /// connection is closed after between one and two of them.
    pub idle_timeout: Duration,
    /// A request body must be read completely within this of the request's
    /// start.
    pub body_timeout: Duration,
    /// HTTP/2 pings on a connection that has been quiet this long; a ping
    /// not answered within `h2_keep_alive_timeout` closes it.
    pub h2_keep_alive_interval: Duration,
    pub h2_keep_alive_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            h2_keep_alive_interval: Duration::from_secs(30),
            h2_keep_alive_timeout: Duration::from_secs(10),
        }
    }
}
