//! `oidc`: log in through an upstream OpenID Provider (Okta first), as
//! docs/oidc-connector.md describes, with the "tusk should" items in.
//!
//! - [`Connector::open`] fetches `<issuer>/.well-known/openid-configuration`,
//!   checks its `issuer` byte for byte (with a hint when only a trailing `/`
//!   differs), applies `providerDiscoveryOverrides`, and loads the JWKS.
//!   Until it succeeds, [`CallbackConnector::login_url`] fails; the provider
//!   retries `open` in the background.
//! - The login URL carries a nonce and, when the provider supports it, a
//!   PKCE S256 challenge. Both derive from the per-request secret the
//!   provider stores with the auth request ([`UpstreamParams::nonce`]):
//!   `nonce = base64url(SHA-256("tusk-oidc-nonce:" + secret))` and
//!   `code_verifier = base64url(SHA-256("tusk-oidc-pkce:" + secret))`, unless
//!   the provider passes its own `pkce_verifier`. So the callback recomputes
//!   both from what it already has, and the verifier cannot be computed from
//!   anything the front channel carries (the nonce is a one-way function of
//!   the secret, not the secret).
//! - The callback exchanges the code (client_secret_basic, or
//!   client_secret_post for `basicAuthUnsupported` and Okta, with Go
//!   oauth2's fallback from Basic to POST when the provider refuses Basic),
//!   verifies the ID token (algorithm from discovery, never `none` or HMAC;
//!   signature with the cached JWKS, refetched at most once per 10 s when a
//!   `kid` is unknown; `iss`, `aud`, `azp`, `exp`/`nbf`/`iat` with 60 s
//!   leeway, `nonce`), optionally merges userinfo, and maps the claims.
//! - Refresh uses the upstream refresh token kept as `connector_data`.

mod claims;
mod config;
mod http;

use crate::connector::{
    CallbackConnector, Connector, Identity, RefreshConnector, Scopes, UpstreamParams,
};
use crate::error::Error;
use crate::now::unix_now;
use crate::query::snippet;
use crate::query::truncate;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use config::{Config, PkceSetting};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tusk_core::Secret;
use tusk_jose::{Alg, VerifyError, VerifyingKeys};

pub use config::is_okta;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 60;
/// A JWKS refetch for an unknown `kid` happens at most this often, so
/// tokens with made-up key ids cannot make tusk hammer the provider.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// Opens an `oidc` connector whose HTTP client resolves the given host
/// names to fixed addresses. For tests that need a provider under a real
/// host name (Okta's client_secret_post rule) on a loopback port.
#[doc(hidden)]
pub fn open_resolving(
    id: &str,
    config: &Value,
    resolve: &[(&str, SocketAddr)],
) -> Result<Arc<dyn Connector>, Error> {
    let mut c = Oidc::open(id, config)?;
    c.resolve = resolve.iter().map(|(h, a)| ((*h).to_owned(), *a)).collect();
    Ok(Arc::new(c))
}

pub(crate) struct Oidc {
    id: String,
    cfg: Config,
    resolve: Vec<(String, SocketAddr)>,
    upstream: RwLock<Option<Arc<Upstream>>>,
}

/// What a successful `open` loaded.
struct Upstream {
    http: reqwest::Client,
    /// The `issuer` of the discovery document (RFC 9207's `iss` parameter).
    discovered_issuer: String,
    /// The `iss` ID tokens must carry: the discovered issuer, or `issuerAlias`.
    expected_iss: String,
    auth_url: String,
    token_url: String,
    jwks_url: String,
    userinfo_url: Option<String>,
    /// RP-Initiated Logout, when discovery advertises it (an http(s) URL,
    /// like the other endpoints).
    end_session_url: Option<String>,
    algs: Vec<Alg>,
    pkce: Option<Pkce>,
    /// Whether discovery lists `offline_access` in `scopes_supported`.
    offline_access_supported: bool,
    /// [`AUTH_BASIC`], [`AUTH_POST`] or [`AUTH_UNKNOWN`] (try Basic, fall
    /// back to POST and remember).
    auth_style: AtomicU8,
    keys: RwLock<Arc<VerifyingKeys>>,
    /// When the last unknown-`kid` refetch happened; the lock also makes
    /// concurrent refetches wait for one another.
    refetched: tokio::sync::Mutex<Option<Instant>>,
}

const AUTH_UNKNOWN: u8 = 0;
const AUTH_BASIC: u8 = 1;
const AUTH_POST: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pkce {
    S256,
    Plain,
}

impl fmt::Debug for Oidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oidc")
            .field("id", &self.id)
            .field("issuer", &self.cfg.issuer)
            .field("client_id", &self.cfg.client_id)
            .field("client_secret", &self.cfg.client_secret)
            .field("redirect_uri", &self.cfg.redirect_uri)
            .field("scopes", &self.cfg.scopes)
            .field(
                "opened",
                &self.upstream.read().map(|u| u.is_some()).unwrap_or(false),
            )
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer; only what tusk reads.
#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    end_session_endpoint: Option<String>,
}

impl Oidc {
    pub(crate) fn open(id: &str, config: &Value) -> Result<Oidc, Error> {
        let cfg = Config::parse(id, config)?;
        if cfg.skip_callback_check {
            tracing::warn!(
                connector = %id,
                "insecureSkipIssuerCallbackDomainCheck is set: the broker's callback URL is not compared with redirectURI; make sure redirectURI routes back to the broker's /callback"
            );
        }
        if cfg.insecure_skip_verify {
            tracing::warn!(
                connector = %id,
                "insecureSkipVerify is set: the upstream provider's TLS certificate is not verified"
            );
        }
        if cfg.overrides.any() {
            tracing::warn!(
                connector = %id,
                "providerDiscoveryOverrides replace endpoints of the discovery document"
            );
        }
        Ok(Oidc {
            id: id.to_owned(),
            cfg,
            resolve: Vec::new(),
            upstream: RwLock::new(None),
        })
    }

    fn upstream(&self) -> Option<Arc<Upstream>> {
        self.upstream.read().ok().and_then(|g| g.clone())
    }

    /// The loaded upstream, opening first if no `open` has succeeded yet.
    async fn ready(&self) -> Result<Arc<Upstream>, Error> {
        if let Some(up) = self.upstream() {
            return Ok(up);
        }
        Connector::open(self).await?;
        self.upstream()
            .ok_or_else(|| self.unavailable("the connector is not open".into()))
    }

    fn unavailable(&self, reason: String) -> Error {
        Error::Unavailable {
            connector: self.id.clone(),
            reason,
        }
    }

    fn upstream_err(&self, reason: String) -> Error {
        Error::Upstream {
            connector: self.id.clone(),
            reason,
        }
    }

    fn refresh_err(&self, reason: String) -> Error {
        Error::Refresh {
            connector: self.id.clone(),
            reason,
        }
    }

    fn secret(&self) -> &str {
        self.cfg.client_secret.expose()
    }

    /// Discovery and the issuer check. Errors read like go-oidc's.
    async fn discover(&self, http: &reqwest::Client) -> Result<Discovery, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.cfg.issuer.trim_end_matches('/')
        );
        let body = http::send(
            http.get(&url).header("accept", "application/json"),
            "GET",
            &url,
        )
        .await?;
        if !body.ok() {
            return Err(body.status_line(self.secret()));
        }
        let doc: Discovery = serde_json::from_slice(&body.bytes)
            .map_err(|e| format!("oidc: failed to decode provider discovery object: {e}"))?;
        if self.cfg.issuer_alias.is_none() && doc.issuer != self.cfg.issuer {
            return Err(issuer_mismatch(&self.cfg.issuer, &doc.issuer));
        }
        Ok(doc)
    }

    async fn fetch_jwks(&self, http: &reqwest::Client, url: &str) -> Result<VerifyingKeys, String> {
        let body = http::send(
            http.get(url).header("accept", "application/json"),
            "GET",
            url,
        )
        .await?;
        if !body.ok() {
            return Err(format!(
                "fetching keys from {url}: {}",
                body.status_line(self.secret())
            ));
        }
        let doc: Value = serde_json::from_slice(&body.bytes)
            .map_err(|e| format!("the JWKS at {url} is not JSON: {e}"))?;
        let keys = VerifyingKeys::from_jwks(&doc).map_err(|e| format!("the JWKS at {url}: {e}"))?;
        if keys.is_empty() {
            return Err(format!(
                "the JWKS at {url} holds no signing key tusk can use (RS256 RSA, ES256 P-256 or EdDSA Ed25519)"
            ));
        }
        Ok(keys)
    }

    /// Verifies an upstream ID token and returns its claims. `nonce` is the
    /// value sent in the login URL; refresh passes `None`.
    async fn verify_id_token(
        &self,
        up: &Upstream,
        raw: &str,
        nonce: Option<&str>,
    ) -> Result<Map<String, Value>, String> {
        let failed = |e: VerifyError| format!("oidc: failed to verify ID token: {e}");
        let keys = up.keys.read().map(|k| k.clone()).map_err(|_| {
            "oidc: the key cache is poisoned (a thread panicked); restart tusk".to_owned()
        })?;
        let claims = match keys.verify(raw, &up.algs) {
            Ok(c) => c,
            Err(e @ (VerifyError::UnknownKid { .. } | VerifyError::BadSignature { .. })) => {
                match self.refetch_keys(up, &keys).await? {
                    Some(fresh) => fresh.verify(raw, &up.algs).map_err(failed)?,
                    None => return Err(failed(e)),
                }
            }
            Err(e) => return Err(failed(e)),
        };
        let Value::Object(claims) = claims else {
            return Err("oidc: the ID token's claims are not a JSON object".into());
        };

        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        if iss != up.expected_iss {
            return Err(format!(
                "oidc: id token issued by a different provider, expected \"{}\" got \"{}\"",
                up.expected_iss,
                truncate(iss, 200)
            ));
        }
        let aud: Vec<&str> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !aud.contains(&self.cfg.client_id.as_str()) {
            let got: Vec<String> = aud
                .iter()
                .map(|a| format!("\"{}\"", truncate(a, 100)))
                .collect();
            return Err(format!(
                "oidc: expected audience \"{}\" got [{}]; the token was issued to another client: check `clientID`",
                self.cfg.client_id,
                got.join(" ")
            ));
        }
        match claims.get("azp").and_then(Value::as_str) {
            Some(azp) if azp != self.cfg.client_id => {
                return Err(format!(
                    "oidc: the ID token's authorized party (azp) is \"{}\", not this client \"{}\"",
                    truncate(azp, 100),
                    self.cfg.client_id
                ));
            }
            None if aud.len() > 1 => {
                return Err(format!(
                    "oidc: the ID token has {} audiences but no authorized party (azp) claim, so it may have been issued to another client",
                    aud.len()
                ));
            }
            _ => {}
        }
        tusk_jose::check_time(&Value::Object(claims.clone()), unix_now(), LEEWAY_SECS)
            .map_err(failed)?;
        if let Some(expected) = nonce {
            match claims.get("nonce").and_then(Value::as_str) {
                None => {
                    return Err(
                        "oidc: the ID token has no nonce although the login sent one; the provider must return the nonce of the authorization request (a replayed or injected token?)".into(),
                    );
                }
                Some(got) if !tusk_core::ct_eq(got.as_bytes(), expected.as_bytes()) => {
                    return Err(
                        "oidc: the ID token's nonce does not match the one this login sent (a replayed or injected token?); start the login again".into(),
                    );
                }
                Some(_) => {}
            }
        }
        Ok(claims)
    }

    /// Refetches the JWKS after an unknown `kid`, unless someone just did.
    /// `Some(keys)` when there is a newer key set than `seen` to try.
    async fn refetch_keys(
        &self,
        up: &Upstream,
        seen: &Arc<VerifyingKeys>,
    ) -> Result<Option<Arc<VerifyingKeys>>, String> {
        let mut last = up.refetched.lock().await;
        let current = up.keys.read().map(|k| k.clone()).ok();
        if let Some(current) = current
            && !Arc::ptr_eq(&current, seen)
        {
            return Ok(Some(current));
        }
        if last.is_some_and(|t| t.elapsed() < JWKS_REFETCH_INTERVAL) {
            return Ok(None);
        }
        *last = Some(Instant::now());
        let fresh = Arc::new(self.fetch_jwks(&up.http, &up.jwks_url).await.map_err(|e| {
            format!("oidc: the ID token's key is unknown and refetching the keys failed: {e}")
        })?);
        tracing::info!(connector = %self.id, keys = fresh.len(), "refetched the upstream signing keys");
        if let Ok(mut guard) = up.keys.write() {
            *guard = fresh.clone();
        }
        Ok(Some(fresh))
    }

    /// A grant at the token endpoint, with client authentication.
    async fn token_request(
        &self,
        up: &Upstream,
        params: &[(&str, &str)],
    ) -> Result<TokenResponse, String> {
        let secret = self.secret();
        let style = match up.auth_style.load(Ordering::Relaxed) {
            _ if secret.is_empty() => AUTH_POST,
            s => s,
        };
        let first = if style == AUTH_UNKNOWN {
            AUTH_BASIC
        } else {
            style
        };
        let body = self.post_token(up, params, first).await?;
        let body = if style == AUTH_UNKNOWN
            && (body.status == reqwest::StatusCode::UNAUTHORIZED
                || body.status == reqwest::StatusCode::BAD_REQUEST)
        {
            // Go oauth2's auto-detection: Basic refused, try the body.
            let retry = self.post_token(up, params, AUTH_POST).await?;
            if retry.ok() {
                up.auth_style.store(AUTH_POST, Ordering::Relaxed);
                tracing::info!(connector = %self.id, "the provider refuses client_secret_basic; using client_secret_post from now on");
            }
            retry
        } else {
            if style == AUTH_UNKNOWN && body.ok() {
                up.auth_style.store(AUTH_BASIC, Ordering::Relaxed);
            }
            body
        };
        if !body.ok() {
            return Err(token_error(&body, secret));
        }
        if body
            .content_type
            .contains("application/x-www-form-urlencoded")
            || body.content_type.contains("text/plain")
        {
            // Some OAuth servers answer form-encoded; Go's oauth2 reads both.
            let mut out = TokenResponse {
                access_token: None,
                refresh_token: None,
                id_token: None,
            };
            for (k, v) in url::form_urlencoded::parse(&body.bytes) {
                match k.as_ref() {
                    "access_token" => out.access_token = Some(v.into_owned()),
                    "refresh_token" => out.refresh_token = Some(v.into_owned()),
                    "id_token" => out.id_token = Some(v.into_owned()),
                    _ => {}
                }
            }
            return Ok(out);
        }
        let parsed: TokenResponse = serde_json::from_slice(&body.bytes)
            .map_err(|e| format!("the token response is not valid JSON: {e}"))?;
        if parsed.access_token.as_deref().is_none_or(str::is_empty) {
            return Err("server response missing access_token".into());
        }
        Ok(parsed)
    }

    async fn post_token(
        &self,
        up: &Upstream,
        params: &[(&str, &str)],
        style: u8,
    ) -> Result<http::Body, String> {
        let mut req = up
            .http
            .post(&up.token_url)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded");
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(params);
            if style == AUTH_BASIC {
                // RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = format!("{}:{}", enc(&self.cfg.client_id), enc(self.secret()));
                req = req.header("authorization", format!("Basic {}", STANDARD.encode(pair)));
            } else {
                form.append_pair("client_id", &self.cfg.client_id);
                if !self.secret().is_empty() {
                    form.append_pair("client_secret", self.secret());
                }
            }
            form.finish()
        };
        http::send(req.body(body), "POST", &up.token_url).await
    }

    /// Calls userinfo with the access token and merges its claims over
    /// `claims` (userinfo wins), refusing another subject.
    async fn merge_userinfo(
        &self,
        up: &Upstream,
        access_token: &str,
        claims: &mut Map<String, Value>,
    ) -> Result<(), String> {
        let Some(url) = &up.userinfo_url else {
            return Err("oidc: user info endpoint is not supported by this provider; remove `getUserInfo` or set `providerDiscoveryOverrides.userInfoURL`".into());
        };
        let body = http::send(
            up.http
                .get(url)
                .header("accept", "application/json")
                .bearer_auth(access_token),
            "GET",
            url,
        )
        .await
        .map_err(|e| format!("oidc: failed to get userinfo: {e}"))?;
        if !body.ok() {
            return Err(format!(
                "oidc: failed to get userinfo: {}",
                body.status_line(self.secret())
            ));
        }
        if body.content_type.starts_with("application/jwt") {
            return Err("oidc: the provider answers userinfo as a signed JWT, which tusk does not read; configure the provider to answer JSON, or remove `getUserInfo`".into());
        }
        let info: Map<String, Value> = serde_json::from_slice(&body.bytes)
            .map_err(|e| format!("oidc: failed to decode userinfo: {e}"))?;
        let id_sub = claims.get("sub").and_then(Value::as_str);
        let info_sub = info.get("sub").and_then(Value::as_str);
        if let (Some(a), Some(b)) = (id_sub, info_sub)
            && a != b
        {
            return Err("oidc: userinfo describes another subject than the ID token (OIDC Core 5.3.2); refused".into());
        }
        claims.extend(info);
        Ok(())
    }
}

#[async_trait]
impl Connector for Oidc {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "oidc"
    }

    fn callback(&self) -> Option<&dyn CallbackConnector> {
        Some(self)
    }

    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }

    fn end_session_endpoint(&self) -> Option<String> {
        self.upstream().and_then(|u| u.end_session_url.clone())
    }

    async fn open(&self) -> Result<(), Error> {
        let cfg = &self.cfg;
        let http = http::client(cfg, &self.resolve)
            .await
            .map_err(|e| self.unavailable(e))?;
        let doc = self
            .discover(&http)
            .await
            .map_err(|e| self.unavailable(format!("failed to get provider: {e}")))?;
        let endpoint = |over: &Option<String>, found: &Option<String>, name: &str| {
            over.clone()
                .or_else(|| found.clone().filter(|u| !u.is_empty()))
                .ok_or_else(|| {
                    self.unavailable(format!(
                        "failed to get provider: the discovery document has no {name}; the provider is not a complete OpenID provider, or set it in `providerDiscoveryOverrides`"
                    ))
                })
        };
        let auth_url = endpoint(
            &cfg.overrides.auth,
            &doc.authorization_endpoint,
            "authorization_endpoint",
        )?;
        let token_url = endpoint(&cfg.overrides.token, &doc.token_endpoint, "token_endpoint")?;
        let jwks_url = endpoint(&cfg.overrides.jwks, &doc.jwks_uri, "jwks_uri")?;
        for (name, u) in [
            ("authorization_endpoint", &auth_url),
            ("token_endpoint", &token_url),
            ("jwks_uri", &jwks_url),
        ] {
            if !url::Url::parse(u).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http") {
                return Err(self.unavailable(format!(
                    "failed to get provider: {name} `{}` is not an http(s) URL",
                    truncate(u, 200)
                )));
            }
        }
        let userinfo_url = cfg
            .overrides
            .userinfo
            .clone()
            .or_else(|| doc.userinfo_endpoint.clone().filter(|u| !u.is_empty()));
        if cfg.get_user_info && userinfo_url.is_none() {
            return Err(self.unavailable(
                "`getUserInfo` is set but the provider advertises no userinfo_endpoint; remove `getUserInfo` or set `providerDiscoveryOverrides.userInfoURL`".into(),
            ));
        }

        let algs = match &doc.id_token_signing_alg_values_supported {
            Some(listed) if !listed.is_empty() => {
                let usable: Vec<Alg> = listed.iter().filter_map(|a| Alg::parse(a)).collect();
                if usable.is_empty() {
                    return Err(self.unavailable(format!(
                        "the provider signs ID tokens only with {}, and tusk verifies RS256, ES256 and EdDSA; configure the provider's client to sign with RS256",
                        listed.iter().map(|a| truncate(a, 20)).collect::<Vec<_>>().join(", ")
                    )));
                }
                usable
            }
            _ => vec![Alg::RS256],
        };
        let methods = doc
            .code_challenge_methods_supported
            .clone()
            .unwrap_or_default();
        let pkce = match cfg.pkce {
            PkceSetting::S256 => Some(Pkce::S256),
            PkceSetting::Plain => Some(Pkce::Plain),
            PkceSetting::Auto if methods.iter().any(|m| m == "S256") => Some(Pkce::S256),
            PkceSetting::Auto if methods.iter().any(|m| m == "plain") => Some(Pkce::Plain),
            PkceSetting::Auto => None,
        };
        let auth_style = if cfg.forces_client_secret_post() {
            AUTH_POST
        } else {
            match &doc.token_endpoint_auth_methods_supported {
                Some(m)
                    if m.iter().any(|x| x == "client_secret_post")
                        && !m.iter().any(|x| x == "client_secret_basic") =>
                {
                    AUTH_POST
                }
                _ => AUTH_UNKNOWN,
            }
        };

        let keys = self.fetch_jwks(&http, &jwks_url).await.map_err(|e| {
            self.unavailable(format!("failed to fetch the provider's signing keys: {e}"))
        })?;

        let expected_iss = cfg
            .issuer_alias
            .clone()
            .unwrap_or_else(|| doc.issuer.clone());
        let up = Upstream {
            http,
            discovered_issuer: doc.issuer,
            expected_iss,
            auth_url,
            token_url,
            jwks_url,
            userinfo_url,
            end_session_url: doc
                .end_session_endpoint
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            algs,
            pkce,
            offline_access_supported: doc
                .scopes_supported
                .as_ref()
                .is_some_and(|s| s.iter().any(|x| x == "offline_access")),
            auth_style: AtomicU8::new(auth_style),
            keys: RwLock::new(Arc::new(keys)),
            refetched: tokio::sync::Mutex::new(None),
        };
        match self.upstream.write() {
            Ok(mut guard) => {
                *guard = Some(Arc::new(up));
                Ok(())
            }
            Err(_) => Err(Error::Internal(format!(
                "connector `{}`: state lock poisoned",
                self.id
            ))),
        }
    }
}

/// The scopes asked upstream. Okta (like most providers) issues a refresh
/// token only for `offline_access`, so a client that asked for offline
/// access would otherwise get a tusk refresh token that cannot refresh
/// upstream. It is added only when discovery lists it (a provider that does
/// not know the scope may refuse the whole request) and never when the admin
/// wrote `scopes` (their list is sent as written).
fn upstream_scopes<'a>(cfg: &'a Config, scopes: &Scopes, supported: bool) -> Vec<&'a str> {
    let mut out: Vec<&str> = cfg.scopes.iter().map(String::as_str).collect();
    if scopes.offline_access
        && supported
        && !cfg.scopes_explicit
        && !cfg.has_scope("offline_access")
    {
        out.push("offline_access");
    }
    out
}

#[async_trait]
impl CallbackConnector for Oidc {
    fn login_url(
        &self,
        scopes: &Scopes,
        callback_url: &str,
        state: &str,
        upstream: &UpstreamParams,
    ) -> Result<String, Error> {
        let cfg = &self.cfg;
        if cfg.redirect_uri != callback_url && !cfg.skip_callback_check {
            return Err(crate::error::config_err(
                &self.id,
                format!(
                    "expected callback URL \"{callback_url}\" did not match the URL in the config \"{}\"; set `redirectURI` to \"{callback_url}\" and register that URL at the upstream provider",
                    cfg.redirect_uri
                ),
            ));
        }
        let up = self.upstream().ok_or_else(|| {
            self.unavailable("the provider's discovery document is not loaded yet".into())
        })?;
        let secrets = Derived::new(&self.id, upstream)?;
        let mut url = url::Url::parse(&up.auth_url).map_err(|e| {
            self.unavailable(format!(
                "the authorization endpoint `{}` does not parse: {e}",
                up.auth_url
            ))
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &cfg.client_id)
                .append_pair("redirect_uri", &cfg.redirect_uri)
                .append_pair("response_type", "code")
                .append_pair(
                    "scope",
                    &upstream_scopes(cfg, scopes, up.offline_access_supported).join(" "),
                )
                .append_pair("state", state)
                .append_pair("nonce", &secrets.nonce);
            match up.pkce {
                Some(Pkce::S256) => {
                    let challenge =
                        URL_SAFE_NO_PAD.encode(Sha256::digest(secrets.verifier.as_bytes()));
                    q.append_pair("code_challenge", &challenge)
                        .append_pair("code_challenge_method", "S256");
                }
                Some(Pkce::Plain) => {
                    q.append_pair("code_challenge", &secrets.verifier)
                        .append_pair("code_challenge_method", "plain");
                }
                None => {}
            }
            if scopes.offline_access {
                q.append_pair("access_type", "offline")
                    .append_pair("prompt", &cfg.prompt_type);
            }
            if !cfg.acr_values.is_empty() {
                q.append_pair("acr_values", &cfg.acr_values.join(" "));
            }
        }
        Ok(url.into())
    }

    async fn handle_callback(
        &self,
        _scopes: &Scopes,
        _callback_url: &str,
        query: &[(String, String)],
        upstream: &UpstreamParams,
    ) -> Result<Identity, Error> {
        let get = |key: &str| crate::query::query_param(query, key);
        if let Some(error) = crate::query::callback_error(query) {
            return Err(self.upstream_err(error));
        }
        let up = self.ready().await?;
        if let Some(iss) = get("iss")
            && iss != up.discovered_issuer
        {
            // RFC 9207: the answer comes from another provider (mix-up).
            return Err(self.upstream_err(format!(
                "the callback's iss parameter is \"{}\", not this provider's issuer \"{}\"",
                truncate(iss, 200),
                up.discovered_issuer
            )));
        }
        let code = get("code").filter(|c| !c.is_empty()).ok_or_else(|| {
            self.upstream_err("the callback has neither a code nor an error parameter".into())
        })?;
        let secrets = Derived::new(&self.id, upstream)?;
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.cfg.redirect_uri.as_str()),
        ];
        if up.pkce.is_some() {
            params.push(("code_verifier", secrets.verifier.as_str()));
        }
        let token = self
            .token_request(&up, &params)
            .await
            .map_err(|e| self.upstream_err(format!("oidc: failed to get token: {e}")))?;
        let raw = token
            .id_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.upstream_err("oidc: no id_token in token response".into()))?;
        let mut claims = self
            .verify_id_token(&up, raw, Some(&secrets.nonce))
            .await
            .map_err(|e| self.upstream_err(e))?;
        if self.cfg.get_user_info {
            self.merge_userinfo(
                &up,
                token.access_token.as_deref().unwrap_or(""),
                &mut claims,
            )
            .await
            .map_err(|e| self.upstream_err(e))?;
        }
        let mut identity =
            claims::identity(&self.cfg, &claims).map_err(|e| self.upstream_err(e))?;
        identity.connector_data = token
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        identity.upstream_id_token = Some(Secret::new(raw.to_owned()));
        Ok(identity)
    }
}

#[async_trait]
impl RefreshConnector for Oidc {
    /// Refreshes upstream with the stored refresh token and re-reads the
    /// claims. Without a new ID token (optional on refresh) and without
    /// `getUserInfo`, the stored claims stay as they were. The user id never
    /// changes: an upstream that now names another subject fails the
    /// refresh.
    async fn refresh(&self, _scopes: &Scopes, identity: Identity) -> Result<Identity, Error> {
        let Some(stored) = identity
            .connector_data
            .as_ref()
            .filter(|d| !d.is_empty())
            .cloned()
        else {
            return Err(self.refresh_err(
                "no upstream refresh token is stored for this session, because the provider issued none at login; most providers (Okta included) issue one only for the `offline_access` scope: add `offline_access` to the connector's `scopes` (listing `profile` and `email` too, since a list replaces the defaults)".into(),
            ));
        };
        let up = self.ready().await?;
        let token = self
            .token_request(
                &up,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", stored.expose()),
                ],
            )
            .await
            .map_err(|e| self.refresh_err(format!("oidc: failed to get refresh token: {e}")))?;
        let mut claims = match token.id_token.as_deref().filter(|t| !t.is_empty()) {
            Some(raw) => Some(
                self.verify_id_token(&up, raw, None)
                    .await
                    .map_err(|e| self.refresh_err(e))?,
            ),
            None => None,
        };
        if self.cfg.get_user_info {
            let mut merged = claims.take().unwrap_or_default();
            self.merge_userinfo(
                &up,
                token.access_token.as_deref().unwrap_or(""),
                &mut merged,
            )
            .await
            .map_err(|e| self.refresh_err(e))?;
            claims = Some(merged);
        }
        let data = token
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .or(Some(stored));
        let Some(claims) = claims else {
            return Ok(Identity {
                connector_data: data,
                ..identity
            });
        };
        let fresh = claims::identity(&self.cfg, &claims).map_err(|e| self.refresh_err(e))?;
        if fresh.user_id != identity.user_id {
            return Err(self.refresh_err(format!(
                "the provider now identifies the user as \"{}\" instead of \"{}\"",
                truncate(&fresh.user_id, 100),
                truncate(&identity.user_id, 100)
            )));
        }
        Ok(Identity {
            connector_data: data,
            ..fresh
        })
    }
}

/// The nonce and PKCE verifier of one login, from the provider's stored
/// per-request secret (see the module docs).
struct Derived {
    nonce: String,
    verifier: String,
}

impl Derived {
    fn new(connector: &str, upstream: &UpstreamParams) -> Result<Derived, Error> {
        if upstream.nonce.len() < 8 {
            return Err(Error::Internal(format!(
                "connector `{connector}`: the provider passed no per-request secret (UpstreamParams.nonce), so the login cannot be bound to this request"
            )));
        }
        let derive = |label: &str| {
            let mut h = Sha256::new();
            h.update(label.as_bytes());
            h.update(b":");
            h.update(upstream.nonce.as_bytes());
            URL_SAFE_NO_PAD.encode(h.finalize())
        };
        Ok(Derived {
            nonce: derive("tusk-oidc-nonce"),
            verifier: upstream
                .pkce_verifier
                .clone()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| derive("tusk-oidc-pkce")),
        })
    }
}

/// go-oidc's mismatch message, plus tusk's hint when only a trailing slash
/// differs.
fn issuer_mismatch(configured: &str, discovered: &str) -> String {
    let discovered_shown = truncate(discovered, 200);
    let mut msg = format!(
        "oidc: issuer did not match the issuer returned by provider, expected \"{configured}\" got \"{discovered_shown}\""
    );
    if configured.trim_end_matches('/') == discovered.trim_end_matches('/') {
        let how = if discovered.ends_with('/') {
            "with"
        } else {
            "without"
        };
        msg.push_str(&format!(
            "; hint: the provider reports its issuer {how} a trailing slash; set issuer to \"{discovered_shown}\""
        ));
    } else {
        msg.push_str("; set `issuer` to exactly the value the provider reports, or use `issuerAlias` if the provider reports a different issuer on purpose");
    }
    msg
}

/// The token endpoint's error, like Go's oauth2: `oauth2: "invalid_grant"
/// "description"`, with the HTTP status.
fn token_error(body: &http::Body, secret: &str) -> String {
    #[derive(Deserialize)]
    struct OAuthErr {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthErr>(&body.bytes) {
        Ok(e) => {
            let desc = e
                .error_description
                .map(|d| format!(" \"{}\"", snippet(d.as_bytes(), secret)))
                .unwrap_or_default();
            format!(
                "oauth2: \"{}\"{desc} ({})",
                snippet(e.error.as_bytes(), secret),
                body.status
            )
        }
        Err(_) => format!("oauth2: cannot fetch token: {}", body.status_line(secret)),
    }
}
