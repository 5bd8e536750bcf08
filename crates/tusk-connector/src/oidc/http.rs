//! The upstream HTTP client and its error messages.
//!
//! One client per successful `open`: rustls on aws-lc-rs (reqwest's
//! `rustls` feature), the platform's roots plus `rootCAs`, redirects off
//! (a back-channel answer that redirects is an error, never followed with
//! our credentials), connect timeout 5 s, whole-request timeout 15 s, and
//! response bodies capped at 1 MiB.

use super::config::Config;
use crate::query::{snippet, truncate};
use base64::Engine;
use std::net::SocketAddr;
use std::time::Duration;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Discovery documents, JWKS and token responses are a few KiB.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// Builds the client. `resolve` pins host names to addresses (tests only).
pub(crate) async fn client(
    cfg: &Config,
    resolve: &[(String, SocketAddr)],
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("tusk/", env!("CARGO_PKG_VERSION")));
    let mut certs = Vec::new();
    for (i, entry) in cfg.root_cas.iter().enumerate() {
        let pem = root_ca_pem(entry)
            .await
            .map_err(|why| format!("rootCAs[{i}]: {why}"))?;
        let parsed = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!("rootCAs[{i}]: not a PEM certificate bundle ({e}); give a file path or the PEM text of the CA certificate")
        })?;
        if parsed.is_empty() {
            return Err(format!(
                "rootCAs[{i}]: holds no certificate; give a file path or the PEM text of the CA certificate"
            ));
        }
        certs.extend(parsed);
    }
    if !certs.is_empty() {
        builder = builder.tls_certs_merge(certs);
    }
    if cfg.insecure_skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    for (host, addr) in resolve {
        builder = builder.resolve(host, *addr);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))
}

/// A `rootCAs` entry: inline PEM, base64 of PEM, or a file path.
async fn root_ca_pem(entry: &str) -> Result<Vec<u8>, String> {
    let trimmed = entry.trim();
    if trimmed.starts_with("-----BEGIN") {
        return Ok(trimmed.as_bytes().to_vec());
    }
    match tokio::fs::read(trimmed).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            // Later Dex accepts base64-encoded PEM in the same list.
            let compact: String = trimmed.split_whitespace().collect();
            match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
                Ok(bytes) if bytes.starts_with(b"-----BEGIN") => Ok(bytes),
                _ => Err(format!(
                    "cannot read the file `{trimmed}` ({e}); give a readable file path, or the PEM text itself"
                )),
            }
        }
    }
}

/// A response read in full (up to [`MAX_BODY`]).
pub(crate) struct Body {
    pub status: reqwest::StatusCode,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Body {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// `<status>: <body>` as Go's oauth2 and go-oidc print it, shortened.
    pub fn status_line(&self, secret: &str) -> String {
        let text = snippet(&self.bytes, secret);
        if text.is_empty() {
            self.status.to_string()
        } else {
            format!("{}: {text}", self.status)
        }
    }
}

/// Sends a request and reads the body. `method` and `url` are only for the
/// message: `GET https://...: <cause>`.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    method: &str,
    url: &str,
) -> Result<Body, String> {
    let fail = |e: reqwest::Error| format!("{method} {url}: {}", chain(&e));
    let mut resp = req.send().await.map_err(fail)?;
    let status = resp.status();
    if status.is_redirection() {
        let to = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return Err(format!(
            "{method} {url}: the provider answered {status} redirecting to `{}`; back-channel requests do not follow redirects, so configure the final URL",
            truncate(to, 200)
        ));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(fail)? {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(format!(
                "{method} {url}: the response is larger than {MAX_BODY} bytes; this is not an OpenID provider answer"
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body {
        status,
        content_type,
        bytes,
    })
}

/// An error and its causes, `a: b: c`, without repeats. reqwest's own
/// message is terse ("error sending request"); the cause says "connection
/// refused" or "invalid peer certificate".
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
