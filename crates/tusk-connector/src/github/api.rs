//! The `github` connector's HTTP half: the OAuth token endpoint and the
//! REST API calls, each with the connector's timeouts, redirects off, and
//! bodies capped. Messages never hold the client secret or a token.

use super::membership::next_link;
use crate::query::{snippet, truncate};
use serde::de::DeserializeOwned;
use std::time::Duration;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// GitHub's answers here are a few KiB; a page of 100 teams is ~100 KiB.
const MAX_BODY: usize = 4 << 20;
/// Pages followed per list before tusk gives up: 100 per page (tusk asks
/// for that) times this is far more teams than any user has, and a
/// `Link` loop cannot hold a login forever.
const MAX_PAGES: usize = 50;
/// The REST API version tusk's reading of the answers is written for.
const API_VERSION: &str = "2022-11-28";

/// Where a GitHub lives: github.com, or GitHub Enterprise Server at
/// `hostName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The REST API root, without a trailing `/`.
    pub api: String,
    pub authorize: String,
    pub token: String,
}

impl Endpoints {
    /// github.com, or `https://<host>/api/v3` and `https://<host>/login/oauth/...`.
    pub fn new(host_name: Option<&str>) -> Endpoints {
        match host_name {
            None => Endpoints::at("https://github.com", "https://api.github.com"),
            Some(h) => Endpoints::at(&format!("https://{h}"), &format!("https://{h}/api/v3")),
        }
    }

    /// The endpoints under a web root and an API root.
    pub fn at(web: &str, api: &str) -> Endpoints {
        let web = web.trim_end_matches('/');
        Endpoints {
            api: api.trim_end_matches('/').to_owned(),
            authorize: format!("{web}/login/oauth/authorize"),
            token: format!("{web}/login/oauth/access_token"),
        }
    }
}

/// Why an API call failed, told apart because login and refresh answer
/// them differently.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 401: the access token is revoked or expired.
    Unauthorized(String),
    /// Unreachable, timed out, 5xx, or rate-limited: worth a retry later.
    Transient(String),
    /// Anything else: a wrong answer no retry fixes.
    Other(String),
}

impl ApiError {
    pub fn text(&self) -> &str {
        match self {
            ApiError::Unauthorized(s) | ApiError::Transient(s) | ApiError::Other(s) => s,
        }
    }
}

/// A `rootCA` value: a file path, else base64 of PEM, else PEM text
/// (Dex's order).
pub fn root_ca_pem(value: &str) -> Result<Vec<u8>, String> {
    let trimmed = value.trim();
    if trimmed.starts_with("-----BEGIN") {
        return Ok(trimmed.as_bytes().to_vec());
    }
    match std::fs::read(trimmed) {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            use base64::Engine;
            let compact: String = trimmed.split_whitespace().collect();
            match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
                Ok(bytes) if bytes.starts_with(b"-----BEGIN") => Ok(bytes),
                _ => Err(format!(
                    "`rootCA`: cannot read the file `{}` ({e}), and it is neither PEM nor base64 of PEM; give a readable file path or the CA certificate's PEM text",
                    truncate(trimmed, 200)
                )),
            }
        }
    }
}

/// The HTTP client: rustls, the platform's roots plus `rootCA`, no
/// redirects, the given timeouts.
pub(crate) fn client(root_ca: Option<&str>, timeout: Duration) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .user_agent(concat!("tusk/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = root_ca {
        let pem = root_ca_pem(ca)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!(
                "`rootCA` is not a PEM certificate bundle ({e}); give the CA certificate in PEM"
            )
        })?;
        if certs.is_empty() {
            return Err("`rootCA` holds no certificate; give the CA certificate in PEM".into());
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))
}

/// The token endpoint's answer; GitHub answers errors with 200 and an
/// `error` field.
#[derive(serde::Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds; only GitHub Apps with expiring user tokens send it.
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

pub(crate) struct Api {
    pub http: reqwest::Client,
    pub endpoints: Endpoints,
}

impl Api {
    /// POSTs a grant to the token endpoint (client id and secret in the
    /// body, as GitHub documents) and reads the answer.
    pub async fn token(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, ApiError> {
        let url = &self.endpoints.token;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = self
            .http
            .post(url)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let (status, headers, bytes) = send(req, "POST", url).await?;
        let answer: Option<TokenAnswer> = serde_json::from_slice(&bytes).ok();
        match answer {
            Some(a) if a.error.is_some() => {
                let code = a.error.as_deref().unwrap_or("");
                let desc = a.error_description.as_deref().unwrap_or("");
                Err(ApiError::Other(format!(
                    "{url} refused the grant: {}{}{}",
                    truncate(code, 60),
                    if desc.is_empty() { "" } else { ": " },
                    truncate(desc, 200)
                )))
            }
            Some(a) if status.is_success() => match a.access_token.as_deref() {
                Some(t) if !t.is_empty() => Ok(a),
                _ => Err(ApiError::Other(format!(
                    "{url} answered without an access_token"
                ))),
            },
            _ if status.is_success() => Err(ApiError::Other(format!(
                "{url} answered 200 with something other than GitHub's JSON token answer: {}",
                snippet(&bytes, "")
            ))),
            _ => Err(classify("POST", url, status, &headers, &bytes)),
        }
    }

    /// GETs one API document.
    pub async fn get<T: DeserializeOwned>(&self, token: &str, path: &str) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.endpoints.api);
        let (status, headers, bytes) = send(self.authed(token, &url), "GET", &url).await?;
        if !status.is_success() {
            return Err(classify("GET", &url, status, &headers, &bytes));
        }
        decode(&url, &bytes)
    }

    /// GETs every page of a list, following `Link: rel="next"` only within
    /// the API's own origin (the token must never go elsewhere).
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<Vec<T>, ApiError> {
        let origin = url::Url::parse(&self.endpoints.api)
            .map_err(|e| ApiError::Other(format!("the API URL does not parse: {e}")))?
            .origin();
        let mut url = format!("{}{path}?per_page=100", self.endpoints.api);
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let (status, headers, bytes) = send(self.authed(token, &url), "GET", &url).await?;
            if !status.is_success() {
                return Err(classify("GET", &url, status, &headers, &bytes));
            }
            let link = headers.get("link").and_then(|v| v.to_str().ok());
            let page: Vec<T> = decode(&url, &bytes)?;
            out.extend(page);
            let Some(next) = link.and_then(next_link) else {
                return Ok(out);
            };
            match url::Url::parse(&next) {
                Ok(u) if u.origin() == origin => url = next,
                _ => {
                    return Err(ApiError::Other(format!(
                        "GET {url}: the next page's link `{}` leaves the API at {}; refused, so the access token goes nowhere else",
                        truncate(&next, 200),
                        self.endpoints.api
                    )));
                }
            }
        }
        Err(ApiError::Other(format!(
            "GET {}{path}: more than {MAX_PAGES} pages; refused",
            self.endpoints.api
        )))
    }

    /// `GET /orgs/{org}/members/{user}`: 204 when a member; 404 (or 302,
    /// when the token may not see the org's members) when not.
    pub async fn is_member(&self, token: &str, org: &str, user: &str) -> Result<bool, ApiError> {
        let mut u = url::Url::parse(&self.endpoints.api)
            .map_err(|e| ApiError::Other(format!("the API URL does not parse: {e}")))?;
        u.path_segments_mut()
            .map_err(|()| ApiError::Other("the API URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(["orgs", org, "members", user]);
        let url = u.to_string();
        let req = self.authed(token, &url);
        let resp = req.send().await.map_err(|e| transport("GET", &url, &e))?;
        match resp.status().as_u16() {
            204 => Ok(true),
            302 | 404 => Ok(false),
            _ => {
                let status = resp.status();
                let headers = resp.headers().clone();
                let bytes = resp.bytes().await.unwrap_or_default();
                Err(classify("GET", &url, status, &headers, &bytes))
            }
        }
    }

    fn authed(&self, token: &str, url: &str) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .bearer_auth(token)
    }
}

fn decode<T: DeserializeOwned>(url: &str, bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::Other(format!(
            "GET {url}: the answer is not what GitHub's REST API documents ({e})"
        ))
    })
}

/// Sends and reads the whole body (capped); the caller tells the status
/// apart ([`classify`] for failures).
async fn send(
    req: reqwest::RequestBuilder,
    method: &str,
    url: &str,
) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), ApiError> {
    let mut resp = req.send().await.map_err(|e| transport(method, url, &e))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(method, url, &e))? {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::Other(format!(
                "{method} {url}: the answer is larger than {MAX_BODY} bytes; refused"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((status, headers, bytes))
}

fn transport(method: &str, url: &str, e: &reqwest::Error) -> ApiError {
    let why = if e.is_timeout() {
        format!("no answer within the timeout ({})", chain(e))
    } else {
        chain(e)
    };
    ApiError::Transient(format!("{method} {url}: {why}"))
}

/// A non-success answer, classified: 401 → the token is bad; 5xx, 429
/// and a 403 with the rate limit exhausted → transient.
fn classify(
    method: &str,
    url: &str,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    bytes: &[u8],
) -> ApiError {
    let text = snippet(bytes, "");
    let line = if text.is_empty() {
        format!("{method} {url}: {status}")
    } else {
        format!("{method} {url}: {status}: {text}")
    };
    let exhausted = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        == Some("0");
    if status == reqwest::StatusCode::UNAUTHORIZED {
        ApiError::Unauthorized(line)
    } else if status.is_server_error() || status.as_u16() == 429 {
        ApiError::Transient(line)
    } else if let (reqwest::StatusCode::FORBIDDEN, Some(sso)) =
        (status, headers.get("x-github-sso"))
    {
        // An organization with SAML SSO enforced refuses tokens not yet
        // authorized for it; GitHub names the authorization page.
        let url = sso
            .to_str()
            .ok()
            .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("url=")))
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
        ApiError::Other(format!(
            "{line} (the organization enforces SAML single sign-on; the user must authorize this OAuth app for it{}, then log in again)",
            url.map(|u| format!(" at {}", truncate(u, 300)))
                .unwrap_or_default()
        ))
    } else if status == reqwest::StatusCode::FORBIDDEN && exhausted {
        ApiError::Transient(format!(
            "{line} (GitHub's API rate limit for this user is used up; it resets within the hour)"
        ))
    } else if status.is_redirection() {
        ApiError::Other(format!(
            "{line}; back-channel requests do not follow redirects: check `hostName`"
        ))
    } else {
        ApiError::Other(line)
    }
}

/// An error and its causes, `a: b: c`, without repeats.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn github_com_and_enterprise_endpoints() {
        let rows: &[(Option<&str>, [&str; 3])] = &[
            (
                None,
                [
                    "https://api.github.com",
                    "https://github.com/login/oauth/authorize",
                    "https://github.com/login/oauth/access_token",
                ],
            ),
            (
                Some("github.example.com"),
                [
                    "https://github.example.com/api/v3",
                    "https://github.example.com/login/oauth/authorize",
                    "https://github.example.com/login/oauth/access_token",
                ],
            ),
            (
                Some("ghe.example:8443"),
                [
                    "https://ghe.example:8443/api/v3",
                    "https://ghe.example:8443/login/oauth/authorize",
                    "https://ghe.example:8443/login/oauth/access_token",
                ],
            ),
        ];
        for (host, [api, authorize, token]) in rows {
            let e = Endpoints::new(*host);
            assert_eq!(
                (e.api.as_str(), e.authorize.as_str(), e.token.as_str()),
                (*api, *authorize, *token)
            );
        }
    }

    #[test]
    fn failures_are_classified() {
        use reqwest::StatusCode;
        let mut limited = reqwest::header::HeaderMap::new();
        limited.insert("x-ratelimit-remaining", "0".parse().unwrap());
        let none = reqwest::header::HeaderMap::new();
        let mut sso = reqwest::header::HeaderMap::new();
        sso.insert(
            "x-github-sso",
            "required; url=https://github.com/orgs/acme/sso?authorization_request=A1"
                .parse()
                .unwrap(),
        );
        let mut sso_bare = reqwest::header::HeaderMap::new();
        sso_bare.insert("x-github-sso", "required".parse().unwrap());
        // Status, headers, kind, a fragment the message must hold.
        let rows: &[(StatusCode, &reqwest::header::HeaderMap, &str, &str)] = &[
            (StatusCode::UNAUTHORIZED, &none, "unauthorized", "401"),
            (StatusCode::BAD_GATEWAY, &none, "transient", "502"),
            (StatusCode::TOO_MANY_REQUESTS, &none, "transient", "429"),
            (StatusCode::FORBIDDEN, &limited, "transient", "rate limit"),
            (StatusCode::FORBIDDEN, &none, "other", "403"),
            (StatusCode::FOUND, &none, "other", "check `hostName`"),
            (StatusCode::NOT_FOUND, &none, "other", "404"),
            (
                StatusCode::FORBIDDEN,
                &sso,
                "other",
                "enforces SAML single sign-on; the user must authorize this OAuth app for it at https://github.com/orgs/acme/sso?authorization_request=A1",
            ),
            (
                StatusCode::FORBIDDEN,
                &sso_bare,
                "other",
                "enforces SAML single sign-on; the user must authorize this OAuth app for it",
            ),
        ];
        for (status, headers, want, fragment) in rows {
            let e = classify(
                "GET",
                "https://x/user",
                *status,
                headers,
                b"{\"message\":\"m\"}",
            );
            let got = match e {
                ApiError::Unauthorized(_) => "unauthorized",
                ApiError::Transient(_) => "transient",
                ApiError::Other(_) => "other",
            };
            assert_eq!(got, *want, "{status}");
            assert!(e.text().contains(fragment), "{status}: {}", e.text());
        }
    }
}
