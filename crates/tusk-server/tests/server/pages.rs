//! Issue 15, item 5: every page a person sees, in one table of page
//! states, each checked by `check` for the same things: its status, the
//! security headers, one design (lang, title, the brand, no external asset
//! and no script), what it must say, and what it must never show (internal
//! error chains, registered redirect URIs, the requested URI). Error pages
//! carry a reference id that the log holds with the detail.

use super::*;
use std::sync::{Arc, Mutex};
use tusk_oidc::ConnectorConfig;
use tusk_store::OidcClient;

const REDIRECT: &str = "http://127.0.0.1:9/cb";
/// A second registered URI, which no page may list.
const SECRET_REDIRECT: &str = "https://internal-only.example/registered-cb";

/// The log, captured for the whole test binary: one global subscriber
/// (warnings and errors only), because a thread-local one loses events
/// whose call sites other tests, on other threads, reach at the same time.
/// Each page's reference is random, so finding it needs no isolation.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn global() -> Log {
        static LOG: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
        LOG.get_or_init(|| {
            let log = Log::default();
            let writer = log.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::WARN)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            log
        })
        .clone()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// An upstream OpenID provider whose discovery document names another
/// issuer: the configuration mistake that Dex shows users as
/// "oidc: issuer did not match ...".
async fn wrong_issuer_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(|| async {
            axum::Json(json!({
                "issuer": "https://somewhere-else.example",
                "authorization_endpoint": "https://somewhere-else.example/auth",
                "token_endpoint": "https://somewhere-else.example/token",
                "jwks_uri": "https://somewhere-else.example/keys",
            }))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct Pages {
    server: Server,
    issuer: String,
    c: reqwest::Client,
}

async fn start() -> Pages {
    let upstream = wrong_issuer_upstream().await;
    let port = Port::bind().await.unwrap();
    let issuer = port.issuer();
    let store = Store::memory();
    let connectors = [
        ConnectorConfig {
            id: "test".into(),
            name: "Test".into(),
            kind: "mockPassword".into(),
            config: json!({"username": "admin", "password": "password"}),
        },
        ConnectorConfig {
            id: "okta".into(),
            name: "Okta".into(),
            kind: "oidc".into(),
            config: json!({
                "issuer": upstream,
                "clientID": "tusk",
                "clientSecret": "upstream-secret-xyz",
                "redirectURI": format!("{issuer}/callback"),
            }),
        },
    ];
    let clients = [OidcClient {
        id: "app".into(),
        secret: Secret::new("app-secret".into()),
        name: "Example App".into(),
        redirect_uris: vec![REDIRECT.into(), SECRET_REDIRECT.into()],
        trusted: true,
        ..Default::default()
    }];
    let clock = tusk_testkit::clock_now();
    let provider = tusk_testkit::provider(&issuer, &store, clock.clone(), &connectors, &clients)
        .await
        .unwrap();
    // The auth plane serves the CLI's browser-login page.
    let service = tusk_auth::AuthService::new(
        store.clone(),
        clock,
        tusk_auth::AuthSettings::default(),
        Some(provider.clone()),
    );
    // The upstream answers at once; wait for the connector's first open to
    // fail (a bounded poll, not a timing assertion).
    for _ in 0..400 {
        let slots = provider.connectors();
        if slots
            .iter()
            .any(|s| s.id == "okta" && s.state != tusk_oidc::provider::ConnectorState::Connecting)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let options = ServerOptions {
        provider: Some(provider),
        auth: Some(tusk_server::AuthPlane {
            service,
            managed: tusk_auth::Managed::default(),
        }),
        rate_limits: tusk_server::ratelimit::RateLimits {
            password_per_minute: 0,
            token_per_minute: 0,
            authorize_per_minute: 0,
        },
        // The operator's branding reaches every page.
        theme: tusk_server::pages::Theme {
            title: "Acme Data".into(),
            logo_url: None,
            accent: "#0f766e".into(),
        },
        ..ServerOptions::new(issuer.clone())
    };
    let server = TestServer::start_on(port, store, options);
    let c = crate::browser_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Pages { server, issuer, c }
}

impl Pages {
    async fn get(&self, path: &str) -> reqwest::Response {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.issuer)
        };
        self.c.get(url).send().await.unwrap()
    }

    async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        self.c
            .post(format!("{}{path}", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// A fresh authorization request's chooser page.
    async fn authorize(&self) -> reqwest::Response {
        self.get(&format!(
            "/auth?client_id=app&redirect_uri={}&response_type=code&scope=openid&state=s1",
            enc(REDIRECT)
        ))
        .await
    }

    /// The request id of a fresh authorization request.
    async fn request_id(&self) -> String {
        let body = self.authorize().await.text().await.unwrap();
        let at = body.find("req=").unwrap() + 4;
        body[at..].split(['"', '&']).next().unwrap().to_owned()
    }

    /// The password form's path for a fresh request.
    async fn password_path(&self) -> String {
        let req = self.request_id().await;
        let r = self.get(&format!("/auth/test?req={req}")).await;
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        to[to.find("/auth/test/login").unwrap()..].to_owned()
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What a page state must show.
struct Expect {
    status: u16,
    /// The `<title>` starts with this.
    title: &'static str,
    says: &'static [&'static str],
    /// An error page: a reference id, and no internal text.
    error: bool,
}

/// Texts no page may contain: internal chains (the connector's and
/// go-oidc's wording), the admin detail of the old pages, the registered
/// and the requested URIs, and anything loaded from elsewhere.
const NEVER: &[&str] = &[
    "unable to open connector",
    "issuer did not match",
    "oidc:",
    "connector `",
    "For administrators",
    "upstream-secret-xyz",
    "internal-only.example",
    "evil.example",
    "<script",
    "<link",
    "src=\"http",
    "url(",
    "@import",
];

/// Checks one page state; returns the reference id of an error page.
async fn check(name: &str, resp: reqwest::Response, want: &Expect) -> Option<String> {
    assert_eq!(resp.status().as_u16(), want.status, "{name}: status");
    let h = resp.headers().clone();
    assert_eq!(h["x-frame-options"], "DENY", "{name}");
    assert_eq!(h["cache-control"], "no-store", "{name}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{name}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{name}");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{name}: {csp}"
    );
    assert!(
        h["content-type"].to_str().unwrap().starts_with("text/html"),
        "{name}"
    );
    let body = resp.text().await.unwrap();
    assert!(
        body.starts_with("<!doctype html>\n<html lang=\"en\">"),
        "{name}: lang"
    );
    let title = body
        .split_once("<title>")
        .and_then(|(_, t)| t.split_once("</title>"))
        .map(|(t, _)| t)
        .unwrap_or_else(|| panic!("{name}: no <title>"));
    assert!(title.starts_with(want.title), "{name}: title {title:?}");
    assert!(
        body.contains("prefers-color-scheme: dark"),
        "{name}: dark scheme"
    );
    assert!(
        body.contains("class=\"wordmark\">Acme Data<")
            && body.contains("--accent: #0f766e; --on-accent: #ffffff;"),
        "{name}: brand"
    );
    assert!(body.contains("<h1>"), "{name}: heading");
    for text in want.says {
        assert!(body.contains(text), "{name}: should say {text:?}:\n{body}");
    }
    for text in NEVER {
        assert!(
            !body.contains(text),
            "{name}: must not contain {text:?}:\n{body}"
        );
    }
    let reference = body
        .split_once("Reference <code>")
        .and_then(|(_, r)| r.split_once("</code>"))
        .map(|(r, _)| r.to_owned());
    match (&reference, want.error) {
        (Some(r), true) => {
            assert_eq!(r.len(), 9, "{name}: reference {r:?}");
            assert!(body.contains("role=\"alert\""), "{name}: announced");
        }
        (None, false) => {}
        (r, _) => panic!("{name}: reference {r:?}, but error page: {}", want.error),
    }
    reference
}

#[tokio::test]
async fn every_page_renders_in_the_one_design_and_errors_show_no_internals() {
    let log = Log::global();
    let p = start().await;
    let ok = |title| Expect {
        status: 200,
        title,
        says: &[],
        error: false,
    };

    // The device flow's code, for its pages.
    let device: Value =
        p.c.post(format!("{}/device/code", p.issuer))
            .basic_auth("app", Some("app-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("scope=openid")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let user_code = device["user_code"].as_str().unwrap().to_owned();

    let mut references = Vec::new();
    // (page state, response, expectation): one row per page a person sees.
    let rows: Vec<(&str, reqwest::Response, Expect)> = vec![
        (
            "chooser",
            p.authorize().await,
            Expect {
                says: &["Log in to Acme Data", "Log in with Test", "Okta", "Isn't set up correctly"],
                ..ok("Log in")
            },
        ),
        (
            "password form",
            p.get(&p.password_path().await).await,
            Expect {
                says: &[
                    "autocomplete=\"username\"",
                    "autocomplete=\"current-password\"",
                    "<label for=\"login\">",
                    "<label for=\"password\">",
                    "Use another sign-in method",
                ],
                ..ok("Log in with Test")
            },
        ),
        (
            "password error",
            p.post(&p.password_path().await, "login=admin&password=wrong").await,
            Expect {
                status: 401,
                title: "Log in with Test",
                says: &["role=\"alert\"", "aria-invalid=\"true\"", "value=\"admin\""],
                error: false,
            },
        ),
        (
            "device entry",
            p.get("/device").await,
            Expect { says: &["autocomplete=\"one-time-code\"", "<label for=\"user_code\">"], ..ok("Connect a device") },
        ),
        (
            "device wrong code",
            p.post("/device", "user_code=ZZZZ-ZZZZ").await,
            Expect {
                status: 400,
                title: "Connect a device",
                says: &["role=\"alert\"", "That code is not valid"],
                error: false,
            },
        ),
        (
            "device confirm",
            p.get(&format!("/device?user_code={}", enc(&user_code))).await,
            Expect {
                says: &["with code", "name=\"decision\" value=\"continue\"", "name=\"decision\" value=\"cancel\""],
                ..ok("Confirm the device")
            },
        ),
        (
            "device approved",
            {
                // The link shows the code first; Continue goes on to log in.
                let page = p.get(&format!("/device?user_code={}", enc(&user_code))).await.text().await.unwrap();
                let field = |name: &str| {
                    let key = format!("name=\"{name}\" value=\"");
                    let at = page.find(&key).unwrap() + key.len();
                    page[at..].split('"').next().unwrap().to_owned()
                };
                let (req, token) = (field("req"), field("token"));
                let r = p
                    .post("/device/confirm", &format!("req={}&token={}&decision=continue", enc(&req), enc(&token)))
                    .await;
                let chooser = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
                // Device login goes through the chooser (two connectors).
                let body = match chooser {
                    Some(to) => p.get(&to).await.text().await.unwrap(),
                    None => r.text().await.unwrap(),
                };
                // Links are HTML-escaped (`/` as `&#x2f;`); the request id
                // is URL-safe base64, the same either way.
                let at = body.find("test?req=").unwrap() + "test?req=".len();
                let req = body[at..].split('"').next().unwrap().to_owned();
                let form = p.get(&format!("/auth/test?req={req}")).await;
                let to = form.headers()["location"].to_str().unwrap().to_owned();
                let path = to[to.find("/auth/test/login").unwrap()..].to_owned();
                p.post(&path, "login=admin&password=password").await
            },
            Expect { says: &["Device connected", "Example App", "class=\"status ok\""], ..ok("Device connected") },
        ),
        (
            "log out?",
            p.get("/logout").await,
            Expect { says: &["Log out?", "<button type=\"submit\">Log out</button>"], ..ok("Log out?") },
        ),
        (
            "logged out",
            p.post("/logout?confirm=1", "").await,
            Expect { says: &["You have been logged out."], ..ok("Logged out") },
        ),
        (
            "error: unknown client",
            p.get("/auth?client_id=ghost&redirect_uri=http%3A%2F%2Fevil.example%2F&response_type=code&scope=openid").await,
            Expect {
                status: 400,
                title: "Unknown application",
                says: &["is not registered with this sign-in service"],
                error: true,
            },
        ),
        (
            "error: unregistered redirect",
            p.get("/auth?client_id=app&redirect_uri=http%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid").await,
            Expect {
                status: 400,
                title: "This application&#x27;s return address isn&#x27;t registered",
                says: &["has not registered"],
                error: true,
            },
        ),
        (
            "error: connector unavailable (wrong issuer)",
            p.get(&format!("/auth/okta?req={}", p.request_id().await)).await,
            Expect {
                status: 503,
                title: "Okta sign-in isn&#x27;t set up correctly",
                says: &["tell your administrator", "Tell your administrator", "Use another sign-in method", "Back to Example App"],
                error: true,
            },
        ),
        (
            "error: expired login",
            p.get("/auth/test?req=no-such-request").await,
            Expect {
                status: 400,
                title: "This sign-in has expired",
                says: &["start again"],
                error: true,
            },
        ),
        (
            "error: CLI login without a code",
            p.get(&format!("http://{}/authorization-code/callback", p.server.addr)).await,
            Expect {
                status: 400,
                title: "Login failed",
                says: &["missing OIDC state token or authorization code"],
                error: true,
            },
        ),
        (
            "error: CLI login with an unknown state",
            p.get(&format!("http://{}/authorization-code/callback?code=c0de&state=no-such-login-state", p.server.addr)).await,
            Expect {
                status: 401,
                title: "Login failed",
                says: &["authorization failed"],
                error: true,
            },
        ),
    ];
    for (name, resp, want) in rows {
        // "tell your administrator" is only in the chooser's note; the
        // error page's sentence starts with a capital.
        let want = Expect {
            says: &want
                .says
                .iter()
                .copied()
                .filter(|s| !(name.starts_with("error") && *s == "tell your administrator"))
                .collect::<Vec<_>>()
                .leak()[..],
            ..want
        };
        if let Some(r) = check(name, resp, &want).await {
            references.push((name, r));
        }
    }
    // Each error page's reference is in the log with the detail the page
    // kept back, under the same id.
    let text = log.text();
    for (name, reference) in &references {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("reference={reference}")))
            .unwrap_or_else(|| panic!("{name}: reference {reference} not logged:\n{text}"));
        assert!(line.contains("login page error"), "{name}: {line}");
        match *name {
            "error: connector unavailable (wrong issuer)" => assert!(
                line.contains("issuer did not match")
                    && line.contains("connector `okta`")
                    && line.contains("fault=\"setup\""),
                "{line}"
            ),
            "error: unregistered redirect" => assert!(
                line.contains("evil.example/cb") && line.contains(SECRET_REDIRECT),
                "{line}"
            ),
            "error: unknown client" => assert!(line.contains("`ghost`"), "{line}"),
            "error: CLI login with an unknown state" => assert!(
                line.contains("OIDC state token expired or unknown"),
                "{line}"
            ),
            _ => {}
        }
        assert!(!line.contains("upstream-secret-xyz"), "{name}: {line}");
    }
    assert_eq!(references.len(), 6, "{references:?}");
    p.server.stop().await.unwrap();
}
