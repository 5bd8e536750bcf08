//! What [`crate::run`] is given: [`ServerOptions`] and the accept loop's
//! [`ConnectionLimits`].

use std::sync::Arc;
use std::time::Duration;

use crate::backchannel::BackchannelLimits;
use crate::client::TrustedProxies;
use crate::pages::Theme;
use crate::ratelimit::RateLimits;
use crate::reload::Reload;
use crate::state::AuthPlane;
use crate::tls::TlsPem;
use tusk_core::config::Config;

/// What [`crate::run`] needs besides the store, the listener and the shutdown signal.
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
    /// How back-channel logout tokens are sent (attempts, bounds).
    pub backchannel: BackchannelLimits,
}

impl ServerOptions {
    /// Everything a `Config` decides: issuer, the running configuration's
    /// summary, theme, rate limits, connection cap, trusted proxies and the
    /// certificate of `proxy.tls`. The one place these are read from a
    /// `Config`, so `tusk serve`, the tests and the examples cannot drift
    /// apart; callers set what a `Config` does not hold (a certificate from
    /// `--tls-cert`, the reload trigger) on the result.
    pub fn from_config(
        config: &Config,
        provider: Option<Arc<tusk_oidc::Provider>>,
        auth: Option<AuthPlane>,
    ) -> ServerOptions {
        let p = &config.provider;
        ServerOptions {
            tls: crate::reload::tls_of(config).map(|(pem, _)| pem),
            issuer: config.issuer.clone(),
            config_summary: config.show(),
            provider,
            theme: Theme {
                title: p.theme_title.clone(),
                logo_url: p.theme_logo_url.clone(),
                accent: p
                    .brand_accent
                    .clone()
                    .unwrap_or_else(|| crate::pages::DEFAULT_ACCENT.to_owned()),
            },
            rate_limits: RateLimits {
                password_per_minute: p.password_per_minute,
                token_per_minute: p.token_per_minute,
                authorize_per_minute: p.authorize_per_minute,
            },
            auth,
            reload: None,
            connections: ConnectionLimits {
                max_connections: usize::try_from(p.max_connections)
                    .unwrap_or(ConnectionLimits::default().max_connections),
                ..Default::default()
            },
            trusted_proxies: TrustedProxies(p.trusted_proxies.clone()),
            backchannel: BackchannelLimits::default(),
        }
    }

    /// A server with no `Config` behind it: plain HTTP, health, readiness
    /// and metrics only, default limits. Tests that exercise the transport
    /// start from this and set the one field they test.
    pub fn new(issuer: impl Into<String>) -> ServerOptions {
        ServerOptions {
            tls: None,
            issuer: issuer.into(),
            config_summary: serde_json::Value::Null,
            provider: None,
            theme: Theme::default(),
            rate_limits: RateLimits::default(),
            auth: None,
            reload: None,
            connections: ConnectionLimits::default(),
            trusted_proxies: TrustedProxies::default(),
            backchannel: BackchannelLimits::default(),
        }
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tusk_core::config::{Input, SourceText, load};

    fn config(values: &str) -> Config {
        let input = Input {
            files: vec![SourceText {
                name: "values.yaml".into(),
                bytes: values.as_bytes().to_vec(),
            }],
            env: Default::default(),
            secrets: None,
            listen: "127.0.0.1:30650".into(),
        };
        load(&input).unwrap().config
    }

    /// Each setting a `Config` holds reaches the server, so a caller that
    /// uses `from_config` cannot forget one.
    #[test]
    fn from_config_carries_every_config_derived_setting() {
        let config = config(
            "tusk:\n  rateLimit: {passwordPerMinute: 7, tokenPerMinute: 8, authorizePerMinute: 9}\n  theme: {title: Acme, logoURL: 'https://acme.example/logo.png'}\n  trustedProxies: ['10.0.0.0/8']\n  server: {maxConnections: 17}\n",
        );
        let options = ServerOptions::from_config(&config, None, None);
        assert_eq!(options.issuer, config.issuer);
        assert_eq!(options.config_summary, config.show());
        assert_eq!(options.theme.title, "Acme");
        assert_eq!(
            options.theme.logo_url.as_deref(),
            Some("https://acme.example/logo.png")
        );
        let limits = options.rate_limits;
        assert_eq!(
            (
                limits.password_per_minute,
                limits.token_per_minute,
                limits.authorize_per_minute
            ),
            (7, 8, 9)
        );
        assert_eq!(options.connections.max_connections, 17);
        assert_eq!(
            options.trusted_proxies,
            TrustedProxies(config.provider.trusted_proxies.clone())
        );
        assert_eq!(options.trusted_proxies.0.len(), 1);
        assert!(options.tls.is_none() && options.reload.is_none());
    }
}
