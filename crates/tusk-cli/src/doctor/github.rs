//! `tusk doctor` for a `github` connector: the config opens; `redirectURI`
//! is tusk's callback; the REST API answers (`GET /rate_limit`, which
//! GitHub does not count against the rate limit) over TLS verified with
//! `rootCA`; and the OAuth app accepts the client credentials: the token
//! endpoint answers a made-up code with `bad_verification_code` when
//! `clientID` and `clientSecret` are right, `incorrect_client_credentials`
//! when they are not, and `redirect_uri_mismatch` when the app's callback
//! URL is another. GitHub answers those errors with status 200.

use crate::client::{self, Conn, Target};
use crate::error::chain;
use serde_json::Value;

/// The `github` connectors of a running server: full configs from the
/// identity API when the session may read them, else the masked ones from
/// `/readyz` (the OAuth client check is then skipped).
pub(super) async fn from_server(target: &Target) -> Vec<(String, Value)> {
    if let Ok(conn) = Conn::new(target)
        && conn.has_token()
        && let Ok(req) = conn.request(tusk_proto::identity_v2::ListIdpConnectorsRequest {})
        && let Ok(resp) = conn.identity().list_idp_connectors(req).await
    {
        return resp
            .into_inner()
            .connectors
            .iter()
            .filter(|c| c.r#type == "github")
            .map(|c| {
                let config = c.config.as_ref().map_or_else(
                    || serde_json::from_str(&c.json_config).unwrap_or(Value::Null),
                    tusk_proto::structs::struct_to_json,
                );
                (c.id.clone(), config)
            })
            .collect();
    }
    let Ok(http) = client::http_client(target.ca_pem.as_deref()) else {
        return Vec::new();
    };
    let Ok(resp) = client::readyz(&http, target).send().await else {
        return Vec::new();
    };
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    body["checks"]["config"]["connectors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "github")
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_owned(),
                c["config"].clone(),
            )
        })
        .collect()
}

/// One check's result; doctor.rs turns these into its report lines (this
/// module never reaches back into its parent: no module cycle).
pub(super) enum Finding {
    Ok(String, String),
    Fail(String, String, String),
    Skip(String, String),
}

/// The findings of one connector, in order.
#[derive(Default)]
pub(super) struct Findings(pub Vec<Finding>);

impl Findings {
    fn ok(&mut self, name: String, detail: impl Into<String>) {
        self.0.push(Finding::Ok(name, detail.into()));
    }
    fn fail(&mut self, name: String, detail: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Finding::Fail(name, detail.into(), fix.into()));
    }
    fn skip(&mut self, name: String, detail: impl Into<String>) {
        self.0.push(Finding::Skip(name, detail.into()));
    }
}

/// Upstream text fit for a line: one line, cut.
fn snippet(body: &str) -> String {
    let flat: String = body
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

pub(super) async fn check(id: &str, config: &Value, tusk_issuer: Option<&str>) -> Findings {
    let mut report = Findings::default();
    run(id, config, tusk_issuer, &mut report).await;
    report
}

async fn run(id: &str, config: &Value, tusk_issuer: Option<&str>, report: &mut Findings) {
    let name = |what: &str| format!("{id}: {what}");
    let endpoints = match tusk_connector::github::endpoints(id, config) {
        Ok(e) => e,
        Err(e) => {
            return report.fail(
                name("config"),
                e.to_string(),
                "fix the connector's config as the message says (`tusk config check` shows the line)",
            );
        }
    };
    let text = |k: &str| {
        config
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let redirect = text("redirectURI");
    if let Some(issuer) = tusk_issuer {
        let want = format!("{}/callback", issuer.trim_end_matches('/'));
        if redirect == want {
            report.ok(
                name("redirectURI"),
                format!("{redirect} is tusk's callback"),
            );
        } else {
            report.fail(
                name("redirectURI"),
                format!("redirectURI is {redirect}, but tusk's callback is {want}"),
                format!("set config.redirectURI to {want}, and make it the OAuth app's Authorization callback URL at GitHub"),
            );
        }
    }
    let root_ca = text("rootCA");
    let pem = if root_ca.trim().is_empty() {
        None
    } else {
        match tusk_connector::github::root_ca_pem(&root_ca) {
            Ok(p) => Some(p),
            Err(e) => {
                return report.fail(
                    name("API"),
                    e,
                    "give rootCA as a readable file path or the PEM text of the CA that signed the GitHub Enterprise server's certificate",
                );
            }
        }
    };
    let http = match crate::client::http_client(pem.as_deref()) {
        Ok(h) => h,
        Err(f) => return report.fail(name("API"), f.message, f.help.unwrap_or_default()),
    };

    // 1. The REST API, over TLS verified as the connector verifies it.
    let api_url = format!("{}/rate_limit", endpoints.api);
    let reachable = match http
        .get(&api_url)
        .header("accept", "application/vnd.github+json")
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => {
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let remaining = body["rate"]["remaining"]
                .as_i64()
                .map(|n| format!("; {n} unauthenticated requests left this hour"))
                .unwrap_or_default();
            report.ok(name("API"), format!("{api_url} answered{remaining}"));
            true
        }
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            report.fail(
                name("API"),
                format!("{api_url} answered {status}: {}", snippet(&body)),
                "hostName must be the GitHub Enterprise server's host (its API is at https://<hostName>/api/v3); leave it unset for github.com",
            );
            false
        }
        Err(e) => {
            let why = chain(&e);
            let fix = if why.to_lowercase().contains("certificate") {
                "the server's certificate is not trusted: set rootCA to the CA certificate that signed it (a file path or PEM text)"
            } else {
                "check hostName, DNS and that this machine (and tusk) can reach the server over HTTPS; a proxy must let it through"
            };
            report.fail(name("API"), format!("{api_url}: {why}"), fix);
            false
        }
    };
    if !reachable {
        return report.skip(
            name("OAuth client"),
            "the API is not reachable; fix that first",
        );
    }

    // 2. The OAuth app's credentials, with a code that cannot be valid.
    if text("clientSecret") == "***" {
        return report.skip(
            name("OAuth client"),
            "the client secret is masked; log in as an admin (or use --values) to check it",
        );
    }
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", text("clientID").as_str()),
            ("client_secret", text("clientSecret").as_str()),
            ("code", "tusk-doctor-not-a-real-code"),
            ("redirect_uri", redirect.as_str()),
        ])
        .finish();
    let token_url = &endpoints.token;
    match http
        .post(token_url)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let code = body["error"].as_str().unwrap_or("");
            let desc = body["error_description"].as_str().unwrap_or("");
            match code {
                "bad_verification_code" => report.ok(
                    name("OAuth client"),
                    format!("{token_url} accepted clientID and clientSecret; the made-up code was refused as expected"),
                ),
                "incorrect_client_credentials" => report.fail(
                    name("OAuth client"),
                    format!("{token_url} refused the client: {code}: {desc}"),
                    "copy the Client ID and a current client secret from the OAuth app (GitHub: Settings → Developer settings → OAuth Apps) into clientID and clientSecret",
                ),
                "redirect_uri_mismatch" => report.fail(
                    name("OAuth client"),
                    format!("{token_url}: {code}: {desc}"),
                    format!("set the OAuth app's Authorization callback URL to {redirect}"),
                ),
                _ => report.fail(
                    name("OAuth client"),
                    format!("{token_url} answered {status} with {code:?} {desc:?}, not bad_verification_code"),
                    "the credentials could not be confirmed: check that clientID belongs to an OAuth app on this GitHub",
                ),
            }
        }
        Err(e) => report.fail(
            name("OAuth client"),
            format!("{token_url}: {}", chain(&e)),
            "the token endpoint must be reachable from tusk",
        ),
    }
}
