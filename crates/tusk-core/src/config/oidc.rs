//! The `oidc` section (with `IDP_CONFIG` and `IDP_CONNECTORS` over it):
//! the issuer, token lifetimes, the upstream connectors and the mock IdP.

use super::connector::{self, ConnectorSpec};
use super::duration;
use super::loader::Loader;
use super::lookup::Values;
use super::model::{DEFAULT_ID_TOKEN_EXPIRY, Input};
use super::proxy::Endpoint;
use super::schema::check_map;
use super::tables::IDP_CONFIG_ENV;
use crate::yaml::{Node, Pos, Value};
use std::time::Duration;

pub(super) struct Oidc {
    pub(super) issuer: String,
    pub(super) issuer_origin: &'static str,
    pub(super) id_token_expiry: Duration,
    pub(super) rotation_token_expiry: Option<Duration>,
    pub(super) connectors: Vec<ConnectorSpec>,
    pub(super) connectors_origin: Option<String>,
    pub(super) mock_idp: bool,
    pub(super) require_verified_email: bool,
    pub(super) user_accessible_issuer_host: String,
}

impl Loader<'_> {
    pub(super) fn oidc(
        &mut self,
        input: &Input<'_>,
        v: Values<'_>,
        e: &Endpoint,
        env_start: usize,
        secret_start: usize,
    ) -> Oidc {
        // Environment IDP_CONFIG.
        let idp_config = self
            .env_node(input, env_start, "IDP_CONFIG")
            .and_then(|mut n| check_map(&mut self.ctx, &mut n, "", &IDP_CONFIG_ENV).then_some(n));
        let env_str = |node: &Option<Node>, key: &str| -> Option<String> {
            match node.as_ref().and_then(|n| n.get(key)).map(|n| &n.value) {
                Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            }
        };

        let (issuer, issuer_origin) = if let Some(i) = env_str(&idp_config, "issuer") {
            (i, "environment IDP_CONFIG.issuer")
        } else if let Some(i) = v.str_at(&["oidc", "issuerURI"]) {
            (i, "oidc.issuerURI")
        } else if let Some(h) = e.host.as_deref() {
            (
                format!("{}://{h}/dex", e.proto),
                if e.ingress {
                    "ingress.host"
                } else {
                    "proxy.host"
                },
            )
        } else {
            (format!("{}/dex", e.local), "the --listen address")
        };
        let issuer = issuer.trim_end_matches('/').to_owned();
        if issuer.starts_with("http://") && e.host.is_some() {
            self.ctx.warn(
                v.get(&["proxy", "host"]).map_or(Pos::default(), |n| n.pos),
                "proxy.tls.enabled",
                format!("the issuer `{issuer}` is plain http, so tokens and passwords cross the network unencrypted"),
                Some("enable TLS (proxy.tls.enabled: true) as the Okta guide requires".into()),
            );
        }

        let id_token_expiry = env_str(&idp_config, "id_token_expiry")
            .and_then(|s| duration::parse(&s).ok())
            .or_else(|| v.dur_at(&["oidc", "IDTokenExpiry"]))
            .unwrap_or(DEFAULT_ID_TOKEN_EXPIRY);
        let rotation_token_expiry = env_str(&idp_config, "rotation_token_expiry")
            .and_then(|s| duration::parse(&s).ok())
            .or_else(|| v.dur_at(&["oidc", "RotationTokenExpiry"]))
            .or(Some(Duration::from_secs(48 * 3600)));

        // Connectors: env > secret > inline values.
        let mut connectors = Vec::new();
        let mut connectors_origin = None;
        if let Some(mut node) = self.env_node(input, env_start, "IDP_CONNECTORS") {
            connectors = connector::parse_list(&mut self.ctx, &mut node, "");
            connectors_origin = Some("environment variable IDP_CONNECTORS".to_owned());
        } else if let Some(name) = v.str_at(&["oidc", "upstreamIDPsSecretName"]) {
            let pos = v
                .get(&["oidc", "upstreamIDPsSecretName"])
                .map_or(Pos::default(), |n| n.pos);
            if let Some(text) = self.secret(
                input,
                secret_start,
                "oidc.upstreamIDPsSecretName",
                &name,
                "upstream-idps",
                pos,
            ) && let Some(Some(mut node)) = self.parse_text(text.as_bytes(), secret_start)
            {
                connectors = connector::parse_list(&mut self.ctx, &mut node, "");
            }
            connectors_origin = Some(format!("secret {name}, key upstream-idps"));
        } else if let Some(node) = v.get(&["oidc", "upstreamIDPs"]) {
            let mut node = node.clone();
            connectors = connector::parse_list(&mut self.ctx, &mut node, "oidc.upstreamIDPs");
            if !connectors.is_empty() || matches!(&node.value, Value::Seq(s) if !s.is_empty()) {
                connectors_origin = Some("values oidc.upstreamIDPs".to_owned());
            }
        }
        let upstream_configured = connectors_origin.is_some();
        let mock_idp = !upstream_configured && v.bool_at(&["oidc", "mockIDP"], true);
        for c in &connectors {
            self.check_redirect(c, &issuer, issuer_origin);
        }
        if mock_idp {
            connectors.push(connector::mock_idp());
        }
        let user_accessible_issuer_host = v
            .str_at(&["oidc", "userAccessibleOauthIssuerHost"])
            .map(|h| {
                if h.starts_with("http") {
                    h
                } else {
                    format!("{}://{h}", e.proto)
                }
            })
            .or_else(|| e.host.as_ref().map(|h| format!("{}://{h}", e.proto)))
            .unwrap_or_else(|| e.local.clone());
        Oidc {
            issuer,
            issuer_origin,
            id_token_expiry,
            rotation_token_expiry,
            connectors,
            connectors_origin,
            mock_idp,
            require_verified_email: v.bool_at(&["oidc", "requireVerifiedEmail"], false),
            user_accessible_issuer_host,
        }
    }

    /// The upstream must send users back to our `/callback`; the reference
    /// only finds out at login time, with a 500.
    fn check_redirect(&mut self, c: &ConnectorSpec, issuer: &str, issuer_origin: &str) {
        if c.type_ != "oidc" {
            return;
        }
        let skip = c.config.get("insecureSkipIssuerCallbackDomainCheck")
            == Some(&serde_json::Value::Bool(true));
        let Some(redirect) = c.config.get("redirectURI").and_then(|v| v.as_str()) else {
            return;
        };
        let expected = format!("{issuer}/callback");
        if skip || redirect.trim_end_matches('/') == expected {
            return;
        }
        let message = format!(
            "connector `{}`: redirectURI `{redirect}` is not this server's callback `{expected}`",
            c.id
        );
        if issuer_origin == "the --listen address" {
            // The seed document's values carry only the oidc section; the
            // host usually arrives in another values file. Say how to
            // connect the two rather than refuse.
            // The hint keeps the redirect's scheme and port: `proxy.host`
            // only yields `https://<host>/dex`, so it fits only that URI;
            // anything else (a port, plain http, another path) is matched
            // by `oidc.issuerURI`, or by pointing the redirect at this
            // listener's own callback.
            let redirect = redirect.trim_end_matches('/');
            let implied = redirect.strip_suffix("/callback");
            let host = url::Url::parse(redirect)
                .ok()
                .and_then(|u| u.host_str().map(String::from));
            let hint = match (implied, host) {
                (Some(implied), Some(h)) if implied == format!("https://{h}/dex") => format!(
                    "set `proxy.host: {h}` and `proxy.tls.enabled: true` so the issuer becomes {implied}, or set redirectURI to `{expected}` (this listener's callback)"
                ),
                (Some(implied), Some(_)) => format!(
                    "set `oidc.issuerURI: {implied}` if users reach tusk there, or set redirectURI to `{expected}` (this listener's callback) and register it at the IdP"
                ),
                _ => format!(
                    "set redirectURI to `{expected}` (this listener's callback) and register it at the IdP, or set oidc.issuerURI to where users reach tusk"
                ),
            };
            self.ctx.warn(
                Pos {
                    source: usize::MAX,
                    line: 0,
                },
                "oidc.upstreamIDPs",
                message,
                Some(hint),
            );
        } else {
            self.ctx.error(
                Pos { source: usize::MAX, line: 0 },
                "oidc.upstreamIDPs",
                message,
                Some(format!(
                    "set redirectURI to `{expected}` and register it at the IdP, or set insecureSkipIssuerCallbackDomainCheck: true if a proxy rewrites it"
                )),
            );
        }
    }
}
