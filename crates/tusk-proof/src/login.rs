//! One browser-less login, as a relying party with a browser would do it:
//! `GET <issuer>/auth` with PKCE, follow the redirects to the mock password
//! form, post the form, read the code from the redirect to the client, and
//! redeem it at `<issuer>/token`.

use crate::client::Client;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use std::fmt;
use url::Url;
use url::form_urlencoded::Serializer;

/// Why a login did not complete: the step, and the HTTP status when there
/// was one (so 5xx answers are told apart from refusals and dropped
/// connections).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Failure {
    pub step: &'static str,
    pub status: Option<u16>,
}

impl Failure {
    fn http(step: &'static str, status: reqwest::StatusCode) -> Failure {
        Failure {
            step,
            status: Some(status.as_u16()),
        }
    }

    fn io(step: &'static str) -> Failure {
        Failure { step, status: None }
    }

    pub fn is_5xx(&self) -> bool {
        self.status.is_some_and(|s| s >= 500)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "{}: HTTP {s}", self.step),
            None => write!(
                f,
                "{}: no HTTP answer (connection refused, reset or timed out)",
                self.step
            ),
        }
    }
}

/// A client that never follows redirects: each hop is inspected, and the
/// redirect to the relying party is never visited.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()
        .unwrap_or_default()
}

fn pkce() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// An authorization code and the PKCE verifier that redeems it.
pub struct Code {
    pub code: String,
    pub verifier: String,
}

/// From `GET /auth` to the code in the redirect back to the client.
pub async fn code(http: &reqwest::Client, issuer: &str, c: &Client) -> Result<Code, Failure> {
    code_via(http, issuer, c, c.connector.as_deref()).await
}

/// As `code`, through the named connector (`connector_id`, as in Dex) when
/// there are several.
pub async fn code_via(
    http: &reqwest::Client,
    issuer: &str,
    c: &Client,
    connector: Option<&str>,
) -> Result<Code, Failure> {
    let (verifier, challenge) = pkce();
    let state = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
    let query = Serializer::new(String::new())
        .append_pair("client_id", &c.client_id)
        .append_pair("redirect_uri", &c.redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", &c.scope)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(connector.map(|c| ("connector_id", c)))
        .finish();
    let url = Url::parse(&format!("{}/auth?{query}", issuer.trim_end_matches('/')))
        .map_err(|_| Failure::io("authorize URL"))?;
    let back = follow(http, url, c, &c.redirect_uri).await?;
    let pairs: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("state").as_deref() != Some(state.as_str()) {
        return Err(Failure::io("state mismatch in redirect"));
    }
    match get("code") {
        Some(code) => Ok(Code { code, verifier }),
        None => Err(Failure::io("redirect without code")),
    }
}

/// Follows a login from an authorization URL through the connector and the
/// password form, and returns the redirect to `back` (not visited).
pub async fn follow(
    http: &reqwest::Client,
    mut url: Url,
    c: &Client,
    back: &str,
) -> Result<Url, Failure> {
    let mut posted = false;
    // The cookies the server set during this login, sent back as a browser
    // does: each login step must come from the browser that started it
    // (the login-binding cookie).
    let mut jar = Jar::default();
    // /auth → /auth/<connector> → the form → (post) → the client: a few
    // hops; more means the server loops.
    for _ in 0..8 {
        let resp = jar
            .send(http.get(url.clone()))
            .await
            .map_err(|_| Failure::io("authorize"))?;
        let status = resp.status();
        if status.is_redirection() {
            url = next(&url, &resp, "authorize")?;
        } else if status == reqwest::StatusCode::OK && !posted {
            // The password form: post the credentials to the same URL.
            posted = true;
            let body = Serializer::new(String::new())
                .append_pair("login", &c.username)
                .append_pair("password", &c.password)
                .finish();
            let post = http
                .post(url.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            let resp = jar
                .send(post)
                .await
                .map_err(|_| Failure::io("password form"))?;
            if !resp.status().is_redirection() {
                return Err(Failure::http("password form", resp.status()));
            }
            url = next(&url, &resp, "password form")?;
        } else {
            return Err(Failure::http("authorize", status));
        }
        if url.as_str().starts_with(back) {
            return Ok(url);
        }
    }
    Err(Failure::io("too many redirects"))
}

/// The cookies of one login, as `name=value` pairs: enough of a browser's
/// jar for one host (no paths or expiry; a login is over in seconds).
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    /// Sends `req` with the cookies so far and keeps those it sets.
    async fn send(&mut self, req: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
        let req = match self.header() {
            Some(h) => req.header("cookie", h),
            None => req,
        };
        let resp = req.send().await?;
        for set in resp.headers().get_all("set-cookie") {
            let Some((name, value)) = set
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .and_then(|p| p.split_once('='))
            else {
                continue;
            };
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            self.0.retain(|(n, _)| *n != name);
            if !value.is_empty() {
                self.0.push((name, value));
            }
        }
        Ok(resp)
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

fn next(base: &Url, resp: &reqwest::Response, step: &'static str) -> Result<Url, Failure> {
    resp.headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| base.join(l).ok())
        .ok_or_else(|| Failure::http(step, resp.status()))
}

/// `POST <issuer>/token` with the code and verifier; Ok with the HTTP status
/// when the server answered (200 means tokens were issued).
pub async fn exchange(
    http: &reqwest::Client,
    issuer: &str,
    c: &Client,
    code: &Code,
) -> Result<reqwest::StatusCode, Failure> {
    let body = Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code.code)
        .append_pair("redirect_uri", &c.redirect_uri)
        .append_pair("code_verifier", &code.verifier)
        .finish();
    let basic = STANDARD.encode(format!("{}:{}", c.client_id, c.client_secret));
    let resp = http
        .post(format!("{}/token", issuer.trim_end_matches('/')))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|_| Failure::io("token"))?;
    let status = resp.status();
    if status == reqwest::StatusCode::OK {
        // Tokens issued means an ID token in the body, not just a 200.
        let json: serde_json::Value = resp.json().await.map_err(|_| Failure::io("token body"))?;
        if json.get("id_token").and_then(|t| t.as_str()).is_none() {
            return Err(Failure::io("token answer without id_token"));
        }
    }
    Ok(status)
}

/// `POST <issuer>/<path>` with a form body and the client's Basic
/// credentials; the status and the body, whatever they are.
pub async fn post_form(
    http: &reqwest::Client,
    url: &str,
    basic: Option<(&str, &str)>,
    pairs: &[(&str, &str)],
) -> Result<(u16, String), Failure> {
    let mut body = Serializer::new(String::new());
    for (k, v) in pairs {
        body.append_pair(k, v);
    }
    let mut req = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.finish());
    if let Some((id, secret)) = basic {
        req = req.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    let resp = req.send().await.map_err(|_| Failure::io("form post"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await.unwrap_or_default()))
}
