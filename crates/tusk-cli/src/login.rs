//! `tusk auth login`: three ways to get a session token.
//!
//! - Browser (pachctl's flow): `GetOIDCLogin` gives a login URL and a
//!   state; the browser logs in at the provider, which redirects to
//!   `/authorization-code/callback`; `Authenticate(oidc_state)` waits for
//!   that and returns the session token.
//! - Device (RFC 8628), for machines without a browser: the CLI asks the
//!   provider's `/device/code` for a user code as the *public* client
//!   `tusk-cli` (a CLI cannot keep a secret, so it must not use pachd's
//!   confidential client), with the scope
//!   `audience:server:client_id:pachd` so the ID token is also issued to
//!   pachd, polls `/token`, then trades the ID token for a session token
//!   with `Authenticate(id_token)`. The operator registers the client
//!   (`oidc.additionalClients`) and makes pachd trust it
//!   (`pachd.additionalTrustedPeers`); the error messages say so.
//! - An ID token the user already has (`--id-token`).

use crate::client::{Conn, Target};
use crate::error::{Failure, Outcome, chain};
use serde_json::Value;
use std::io::IsTerminal;
use std::time::{Duration, Instant};
use tusk_core::wire_text;
use tusk_proto::auth_v2 as pb;

/// Longest wait for a browser login; the server's state lives 180 s.
const BROWSER_WAIT: Duration = Duration::from_secs(200);

/// A spinner on stderr while waiting, only when stderr is a terminal (a
/// spinner in a log file or a pipe is noise).
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    pub fn start(message: &str) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner(Some(bar))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Opens `url` with the desktop's opener, if there is one and a display
/// to show it on (on a headless Linux box `xdg-open` may start a text
/// browser that takes over the terminal).
fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
        if !has_display {
            return false;
        }
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// The browser flow; returns the session token.
pub async fn browser(conn: &Conn, open: bool) -> Outcome<String> {
    let resp = conn
        .auth()
        .get_oidc_login(conn.request_with(
            pb::GetOidcLoginRequest {},
            None,
            Some(crate::client::CALL_TIMEOUT),
        )?)
        .await;
    let login = match resp {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(conn.fail("GetOIDCLogin", s).await),
    };
    let opened = open && open_browser(&login.login_url);
    if opened {
        eprintln!("Opened the login page in your browser. If it did not appear, open:");
    } else {
        eprintln!("Open this URL in a browser to log in:");
    }
    eprintln!("  {}", login.login_url);
    let _spinner = Spinner::start("waiting for the browser login to finish…");
    let resp = conn
        .auth()
        .authenticate(conn.request_with(
            pb::AuthenticateRequest {
                oidc_state: login.state,
                id_token: String::new(),
            },
            None,
            Some(BROWSER_WAIT),
        )?)
        .await;
    match resp {
        Ok(r) => Ok(r.into_inner().pach_token),
        Err(s) => Err(conn.fail("Authenticate", s).await.help(
            "the login was not finished in the browser within 3 minutes, or it failed there; run `tusk auth login` again (`--device` works without a local browser)",
        )),
    }
}

/// Trades an ID token for a session token.
pub async fn id_token(conn: &Conn, token: &str) -> Outcome<String> {
    let resp = conn
        .auth()
        .authenticate(conn.request_with(
            pb::AuthenticateRequest {
                oidc_state: String::new(),
                id_token: token.trim().to_owned(),
            },
            None,
            Some(crate::client::CALL_TIMEOUT),
        )?)
        .await;
    match resp {
        Ok(r) => Ok(r.into_inner().pach_token),
        Err(s) => {
            let f = conn.fail("Authenticate", s).await;
            if f.message.contains(wire_text::CANNOT_VERIFY_TOKEN) && f.help.is_none() {
                Err(f.help("the ID token must come from tusk's provider, be unexpired, and have pachd among its audiences (scope audience:server:client_id:pachd)"))
            } else {
                Err(f)
            }
        }
    }
}

pub struct DeviceOptions {
    pub issuer: String,
    pub client_id: String,
    pub audience: String,
}

fn oauth_error(body: &Value) -> (String, String) {
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    (text("error"), text("error_description"))
}

fn registration_help(client_id: &str, audience: &str) -> String {
    format!(
        "register the CLI as a public client and let {audience} trust it, in the values: `oidc.additionalClients: [{{id: {client_id}, name: tusk CLI, public: true}}]` and `pachd.additionalTrustedPeers: [{client_id}]`, then restart tusk (or pass --client-id for another public client)"
    )
}

/// The device flow against the provider; returns an ID token.
pub async fn device(http: &reqwest::Client, o: &DeviceOptions) -> Outcome<String> {
    let issuer = o.issuer.trim_end_matches('/');
    let discovery_url = format!("{issuer}/.well-known/openid-configuration");
    let unreachable = |what: &str, e: reqwest::Error| {
        Failure::run(format!(
            "cannot reach the provider at {what}: {}",
            chain(&e)
        ))
        .help("is tusk running, and is --issuer (default: the address with /dex) right?")
    };
    let discovery: Value = match http.get(&discovery_url).send().await {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or(Value::Null),
        Ok(r) => {
            return Err(Failure::run(format!(
                "{discovery_url} answered {}",
                r.status()
            ))
            .help("pass the provider's issuer with --issuer, e.g. --issuer https://pach.example.com/dex"));
        }
        Err(e) => return Err(unreachable(&discovery_url, e)),
    };
    let endpoint = |key: &str, fallback: &str| {
        discovery
            .get(key)
            .and_then(Value::as_str)
            .map_or_else(|| format!("{issuer}{fallback}"), str::to_owned)
    };
    let device_url = endpoint("device_authorization_endpoint", "/device/code");
    let token_url = endpoint("token_endpoint", "/token");
    let scope = format!(
        "openid email profile groups audience:server:client_id:{}",
        o.audience
    );
    let body = form(&[("client_id", &o.client_id), ("scope", &scope)]);
    let resp = http
        .post(&device_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| unreachable(&device_url, e))?;
    let status = resp.status();
    let start: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let (code, desc) = oauth_error(&start);
        let head = format!(
            "the provider refused a device login for client `{}`: {code}: {desc}",
            o.client_id
        );
        return Err(match code.as_str() {
            "invalid_client" | "unauthorized_client" | "invalid_scope" => {
                Failure::run(head).help(registration_help(&o.client_id, &o.audience))
            }
            _ => Failure::run(head),
        });
    }
    let text = |k: &str| {
        start
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (device_code, user_code) = (text("device_code"), text("user_code"));
    let complete = match text("verification_uri_complete") {
        c if c.is_empty() => text("verification_uri"),
        c => c,
    };
    if device_code.is_empty() || complete.is_empty() {
        return Err(Failure::run(format!(
            "{device_url} answered without a device code or verification URL"
        )));
    }
    let mut interval = start
        .get("interval")
        .and_then(Value::as_u64)
        .unwrap_or(5)
        .max(1);
    let expires_in = start
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(300);
    eprintln!("Open this URL in a browser on any device to log in:");
    eprintln!("  {complete}");
    // tusk's page asks "Sign in to … with code …?" before any password
    // (RFC 8628 §5.4); another provider may show the code elsewhere.
    eprintln!("and continue only if the page shows the code: {user_code}");
    let _spinner = Spinner::start("waiting for the login to be approved…");
    // A provider's `expires_in` is outside input: clamp it rather than let a
    // huge value overflow the clock.
    let deadline = Instant::now() + Duration::from_secs(expires_in.min(3600));
    let poll = form(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", &device_code),
        ("client_id", &o.client_id),
    ]);
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if Instant::now() > deadline {
            return Err(Failure::run(format!(
                "the code {user_code} expired before the login was approved"
            ))
            .help("run `tusk auth login --device` again and finish within the time shown"));
        }
        let resp = match http
            .post(&token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(poll.clone())
            .send()
            .await
        {
            Ok(r) => r,
            // A blip while polling is not the end of the login.
            Err(_) => continue,
        };
        let ok = resp.status().is_success();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if ok {
            return match body.get("id_token").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => Ok(t.to_owned()),
                _ => Err(Failure::run(format!("{token_url} returned no ID token"))
                    .help("the device request must include the `openid` scope")),
            };
        }
        let (code, desc) = oauth_error(&body);
        match code.as_str() {
            "authorization_pending" => {}
            "slow_down" => interval = interval.saturating_add(5).min(60),
            "expired_token" => {
                return Err(Failure::run(format!(
                    "the code {user_code} expired before the login was approved: {desc}"
                ))
                .help("run `tusk auth login --device` again"));
            }
            "access_denied" => {
                return Err(Failure::run(format!("the login was denied: {desc}")));
            }
            _ => {
                return Err(Failure::run(format!(
                    "the provider refused the device code: {code}: {desc}"
                )));
            }
        }
    }
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Saves a new session token in the target's context (with the address
/// and CA it was obtained from) and says who is now logged in.
pub async fn save_session(target: &mut Target, conn: &Conn, token: &str) -> Outcome {
    let who = conn
        .auth()
        .who_am_i(conn.request_with(
            pb::WhoAmIRequest {},
            Some(token),
            Some(crate::client::CALL_TIMEOUT),
        )?)
        .await;
    let who = match who {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(conn.fail("WhoAmI", s).await),
    };
    let name = target.context.clone();
    let file = &mut target.file;
    file.create(&name);
    file.set_field(&name, "pachd_address", Some(&target.addr.to_string()));
    if let Some(pem) = &target.ca_pem {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
        file.set_field(&name, "server_cas", Some(&b64));
    }
    file.set_field(&name, "session_token", Some(token));
    if file.active_name().is_none() || file.names().len() == 1 {
        file.set_active(&name);
    }
    file.save()?;
    let expires = who.expiration.map_or_else(
        || "it does not expire".to_owned(),
        |t| {
            format!(
                "it expires {} (in {})",
                crate::output::rfc3339(t.seconds),
                crate::output::human_duration(t.seconds - crate::output::now())
            )
        },
    );
    println!(
        "Logged in as \"{}\"; {expires}. The session is saved in context `{name}` ({}).",
        who.username,
        file.path.display()
    );
    Ok(())
}
