//! Starts the real server on 127.0.0.1:0 and talks to it the way clients do:
//! HTTP/1.1, h2c, gRPC, TLS with ALPN, and hostile bytes on the socket.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

use std::net::SocketAddr;
use std::time::Duration;

use http::{StatusCode, Version};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower::ServiceExt;
use tusk_core::Secret;
use tusk_server::{AppState, ServerOptions, TlsPem};
use tusk_store::Store;
use tusk_testkit::{Port, TestServer};

/// Guards reads from sockets the server may legitimately keep open; it is a
/// hang guard, not a timing assertion.
const IO_GUARD: Duration = Duration::from_secs(20);

type Server = TestServer;

/// A POST of `body` to `url`, as a browser's form submits it.
async fn post_body(
    c: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    c.post(url).body(body).send().await.unwrap()
}

/// The authorization code in a response's redirect back to the client.
fn code_in(resp: &reqwest::Response) -> String {
    let back = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    back.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {back}"))
}

/// Options for a server at `issuer` whose provider runs over `store` with
/// the real clock, the test signing key, `connectors` and `clients`; a
/// caller overrides the rest with `..`.
async fn provider_options(
    issuer: &str,
    store: &Store,
    connectors: &[tusk_oidc::ConnectorConfig],
    clients: &[tusk_store::OidcClient],
) -> ServerOptions {
    let provider = tusk_testkit::provider(
        issuer,
        store,
        tusk_testkit::clock_now(),
        connectors,
        clients,
    )
    .await
    .unwrap();
    ServerOptions {
        provider: Some(provider),
        ..ServerOptions::new(issuer.to_owned())
    }
}

/// Health, readiness and metrics only, with `tls` or in plain text.
async fn start_plain(tls: Option<TlsPem>) -> Server {
    let options = ServerOptions {
        tls,
        config_summary: json!({"source": "test", "connectors": 0}),
        ..ServerOptions::new("http://127.0.0.1/dex")
    };
    TestServer::start(options).await.unwrap()
}

fn self_signed() -> (TlsPem, reqwest::Certificate) {
    let pair =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_pem = pair.cert.pem();
    let pem = TlsPem {
        cert_chain: cert_pem.clone().into_bytes(),
        private_key: Secret::new(pair.signing_key.serialize_pem().into_bytes()),
    };
    (
        pem,
        reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap(),
    )
}

/// The login-binding cookie every test client sends, as a browser sends
/// back the one the server set (under both names the server may use):
/// each step of a login must come from the browser that started it.
const BROWSER_COOKIE: &str =
    "tusk_login=binding-of-the-test-browser; __Host-tusk_login=binding-of-the-test-browser";

/// A client that acts as one browser: it presents [`BROWSER_COOKIE`].
fn browser_client() -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        reqwest::header::HeaderValue::from_static(BROWSER_COOKIE),
    );
    reqwest::Client::builder().default_headers(headers)
}

#[derive(Clone, Copy, Debug)]
enum Client {
    Http1,
    H2PriorKnowledge,
}

fn client(kind: Client) -> reqwest::Client {
    let builder = crate::browser_client().no_proxy();
    match kind {
        Client::Http1 => builder.http1_only(),
        Client::H2PriorKnowledge => builder.http2_prior_knowledge(),
    }
    .build()
    .unwrap()
}

fn tls_client(cert: &reqwest::Certificate, http1_only: bool) -> reqwest::Client {
    let builder = crate::browser_client()
        .no_proxy()
        .tls_certs_only([cert.clone()]);
    let builder = if http1_only {
        builder.http1_only()
    } else {
        builder
    };
    builder.build().unwrap()
}

async fn grpc_health(addr: SocketAddr, service: &str) -> Result<i32, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let response = health
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(response.into_inner().status)
}

#[tokio::test]
async fn one_plain_port_serves_http1_h2c_and_grpc() {
    let server = start_plain(None).await;

    let table = [
        (Client::Http1, "/healthz", StatusCode::OK, Version::HTTP_11),
        (
            Client::H2PriorKnowledge,
            "/healthz",
            StatusCode::OK,
            Version::HTTP_2,
        ),
        (Client::Http1, "/readyz", StatusCode::OK, Version::HTTP_11),
        (
            Client::H2PriorKnowledge,
            "/readyz",
            StatusCode::OK,
            Version::HTTP_2,
        ),
        (
            Client::Http1,
            "/no/such/route",
            StatusCode::NOT_FOUND,
            Version::HTTP_11,
        ),
        (Client::Http1, "/metrics", StatusCode::OK, Version::HTTP_11),
    ];
    for (kind, path, status, version) in table {
        let response = client(kind)
            .get(server.url("http", path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{kind:?} {path}");
        assert_eq!(response.version(), version, "{kind:?} {path}");
    }

    let body = client(Client::Http1)
        .get(server.url("http", "/healthz"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok");

    let status = grpc_health(server.addr, "").await.unwrap();
    assert_eq!(status, ServingStatus::Serving as i32);
    let unknown = grpc_health(server.addr, "no.such.Service")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    server.stop().await.unwrap();
}

#[tokio::test]
async fn readyz_reports_store_and_config() {
    let server = start_plain(None).await;
    let response = client(Client::Http1)
        .get(server.url("http", "/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[http::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    let table = [
        ("/ready", json!(true)),
        ("/checks/store/ok", json!(true)),
        (
            "/checks/store/backend",
            json!(Store::memory().backend_name()),
        ),
        ("/checks/config/ok", json!(true)),
        ("/checks/config/source", json!("test")),
        ("/checks/config/issuer", json!("http://127.0.0.1/dex")),
    ];
    for (pointer, expected) in table {
        assert_eq!(
            body.pointer(pointer),
            Some(&expected),
            "{pointer} in {body}"
        );
    }
    assert!(body.pointer("/checks/store/error").is_none(), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_count_requests_by_matched_route() {
    let server = start_plain(None).await;
    let http = client(Client::Http1);
    for path in ["/healthz", "/random/0123", "/random/4567"] {
        http.get(server.url("http", path)).send().await.unwrap();
    }
    let text = http
        .get(server.url("http", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counter_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("tusk_http_requests_total{"))
        .collect();
    let has = |needles: &[&str]| {
        counter_lines
            .iter()
            .any(|l| needles.iter().all(|n| l.contains(n)))
    };
    assert!(has(&["route=\"/healthz\"", "status=\"200\""]), "{text}");
    assert!(has(&["route=\"unmatched\"", "status=\"404\""]), "{text}");
    // Raw paths never become label values.
    assert!(!text.contains("/random/"), "{text}");
    assert!(
        text.contains("tusk_http_request_duration_seconds_bucket"),
        "{text}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn oversize_body_gets_413_over_h1_and_h2() {
    let server = start_plain(None).await;
    let body = vec![b'x'; 2 * 1024 * 1024];
    for kind in [Client::Http1, Client::H2PriorKnowledge] {
        for path in ["/healthz", "/no/such/route"] {
            let response = client(kind)
                .post(server.url("http", path))
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::PAYLOAD_TOO_LARGE,
                "{kind:?} {path}"
            );
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn tls_port_negotiates_h1_and_h2_and_survives_plain_http() {
    let (pem, cert) = self_signed();
    let server = start_plain(Some(pem)).await;

    for (http1_only, version) in [(true, Version::HTTP_11), (false, Version::HTTP_2)] {
        let response = tls_client(&cert, http1_only)
            .get(server.url("https", "/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), version, "http1_only={http1_only}");
    }

    // Plain HTTP on a TLS port fails for that client only.
    for kind in [Client::Http1, Client::H2PriorKnowledge] {
        let result = client(kind)
            .get(server.url("http", "/healthz"))
            .send()
            .await;
        assert!(result.is_err(), "{kind:?} got {result:?}");
    }
    let response = tls_client(&cert, false)
        .get(server.url("https", "/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_tls_material_is_a_startup_error_naming_the_part() {
    let (good, _) = self_signed();
    let table = [
        (b"garbage".to_vec(), good.private_key.clone(), "certificate"),
        (
            good.cert_chain.clone(),
            Secret::new(b"garbage".to_vec()),
            "private key",
        ),
    ];
    for (cert_chain, private_key, part) in table {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let options = ServerOptions {
            tls: Some(TlsPem {
                cert_chain,
                private_key,
            }),
            ..ServerOptions::new("http://127.0.0.1/dex")
        };
        let err = tusk_server::run(options, Store::memory(), listener, std::future::pending())
            .await
            .unwrap_err();
        assert!(err.to_string().contains(part), "{err}");
    }
}

/// Writes `bytes`, then reads whatever comes back until the server closes
/// the connection (or the guard fires for a server that waits for more).
async fn poke(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may close mid-write after rejecting the start; that is fine.
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(IO_GUARD, stream.read_to_end(&mut reply)).await;
    reply
}

#[tokio::test]
async fn hostile_bytes_do_not_take_the_server_down() {
    let (pem, cert) = self_signed();
    let plain = start_plain(None).await;
    let tls = start_plain(Some(pem)).await;

    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..500)
            .map(|i| format!("x-{i}: v\r\n"))
            .collect::<String>()
    );
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let table: [(&str, Vec<u8>); 6] = [
        ("random bytes", random),
        ("oversize header", huge_header.into_bytes()),
        ("too many headers", many_headers.into_bytes()),
        (
            "bad request line",
            b"\x00\x01GARBAGE / HTTP/9.9\r\n\r\n".to_vec(),
        ),
        (
            "h2 preface then junk",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
        ),
        (
            "tls hello cut short",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        ),
    ];
    for (name, bytes) in &table {
        for server in [&plain, &tls] {
            poke(server.addr, bytes).await;
        }
        let response = client(Client::Http1)
            .get(plain.url("http", "/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "plain after {name}");
        let response = tls_client(&cert, false)
            .get(tls.url("https", "/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "tls after {name}");
    }

    // An oversize header is refused with a status, not a dropped socket.
    let reply = poke(plain.addr, table[1].1.as_slice()).await;
    assert!(
        reply.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );

    plain.stop().await.unwrap();
    tls.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_and_returns_ok() {
    let mut server = start_plain(None).await;
    let addr = server.addr;
    // An idle keep-alive connection must not hold shutdown up.
    let http = client(Client::Http1);
    let response = http
        .get(server.url("http", "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // A request whose head is half sent when shutdown starts still gets
    // its answer.
    let mut in_flight = TcpStream::connect(addr).await.unwrap();
    in_flight
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // The server must have accepted the connection before shutdown starts;
    // a second, complete request on another connection proves it has
    // reached the accept loop since.
    let response = client(Client::Http1)
        .get(server.url("http", "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.begin_stop();
    // Finish the request only once the listener is gone, so shutdown is
    // already under way when the head completes.
    tokio::time::timeout(IO_GUARD, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    in_flight
        .write_all(b"connection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(IO_GUARD, in_flight.read_to_end(&mut reply))
        .await
        .unwrap()
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("ok"), "{reply}");

    server.stop().await.unwrap();
}

#[tokio::test]
async fn router_answers_http_and_grpc_without_a_socket() {
    let state = AppState::new(Store::memory(), "http://issuer".to_owned(), json!({}));
    let app = tusk_server::router(state);

    let request = http::Request::get("/healthz")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // gRPC requests go to tonic by content type, whatever the path.
    let request = http::Request::post("/healthz")
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "12", "unimplemented");
}

/// The OpenID provider mounted under `/dex`, over real HTTP: the bad inputs
/// that only the HTTP layer sees (bodies, bytes, headers, rate limits).
#[path = "server/ldap.rs"]
mod ldap;
#[path = "server/pages.rs"]
mod pages;

#[path = "server/consent.rs"]
mod consent;

mod provider_http {
    use super::*;
    use tusk_oidc::ConnectorConfig;
    use tusk_server::ratelimit::RateLimits;
    use tusk_store::OidcClient;

    async fn start(limits: RateLimits) -> (Server, String) {
        let (server, issuer, _) = start_with(limits, Default::default()).await;
        (server, issuer)
    }

    /// With the proxies to trust; also returns the store, to see what a
    /// request left behind.
    async fn start_with(
        limits: RateLimits,
        trusted_proxies: tusk_server::client::TrustedProxies,
    ) -> (Server, String, Store) {
        start_on(Store::memory(), limits, trusted_proxies, Default::default()).await
    }

    pub(super) async fn start_on(
        store: Store,
        limits: RateLimits,
        trusted_proxies: tusk_server::client::TrustedProxies,
        connections: tusk_server::ConnectionLimits,
    ) -> (Server, String, Store) {
        let port = Port::bind().await.unwrap();
        let issuer = port.issuer();
        let connectors = [ConnectorConfig {
            id: "test".into(),
            name: "Test".into(),
            kind: "mockPassword".into(),
            config: json!({"username": "admin", "password": "password"}),
        }];
        let clients = [
            OidcClient {
                id: "app".into(),
                secret: Secret::new("app-secret".into()),
                name: "App".into(),
                redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
                trusted: true,
                ..Default::default()
            },
            OidcClient {
                // Untrusted: its logins show the consent page (server/consent.rs).
                id: "third".into(),
                secret: Secret::new("third-secret".into()),
                name: "Third Party".into(),
                redirect_uris: vec!["http://127.0.0.1:9/third".into()],
                ..Default::default()
            },
        ];
        let options = ServerOptions {
            rate_limits: limits,
            connections,
            trusted_proxies,
            ..provider_options(&issuer, &store, &connectors, &clients).await
        };
        let server = TestServer::start_on(port, store.clone(), options);
        (server, issuer, store)
    }

    fn client() -> reqwest::Client {
        crate::browser_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn bad_inputs_get_4xx_with_oauth_json_or_an_error_page() {
        let (server, issuer) = start(RateLimits::default()).await;
        let c = client();
        let token = format!("{issuer}/token");
        let big = format!(
            "grant_type=refresh_token&refresh_token={}",
            "a".repeat(1 << 20)
        );
        let cases: Vec<(&str, Vec<u8>, Option<&str>, u16, &str)> = vec![
            ("1 MB form body", big.into_bytes(), None, 413, ""),
            (
                "non-UTF-8 bytes",
                b"grant_type=authorization_code&code=%ff%fe".to_vec(),
                Some("Basic YXBwOmFwcC1zZWNyZXQ="),
                400,
                "invalid_request",
            ),
            (
                "raw non-UTF-8",
                b"grant_type=\xff\xfe".to_vec(),
                Some("Basic YXBwOmFwcC1zZWNyZXQ="),
                400,
                "invalid_request",
            ),
            (
                "duplicated parameter",
                b"grant_type=a&grant_type=b".to_vec(),
                Some("Basic YXBwOmFwcC1zZWNyZXQ="),
                400,
                "repeated",
            ),
            (
                "wrong secret",
                b"grant_type=authorization_code&code=x".to_vec(),
                Some("Basic YXBwOndyb25n"),
                401,
                "invalid_client",
            ),
            ("missing everything", Vec::new(), None, 400, "grant_type"),
            (
                "garbage basic",
                b"grant_type=authorization_code".to_vec(),
                Some("Basic é"),
                400,
                "invalid_request",
            ),
        ];
        for (name, body, auth, status, text) in cases {
            let mut req = c
                .post(&token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some(a) = auth {
                req = req.header(
                    "authorization",
                    http::HeaderValue::from_bytes(a.as_bytes()).unwrap(),
                );
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), status, "{name}");
            let www = resp.headers().get("www-authenticate").is_some();
            let body = resp.text().await.unwrap();
            assert!(body.contains(text), "{name}: {body}");
            if status == 401 {
                assert!(www, "{name}: 401 without WWW-Authenticate");
            }
        }
        // Browser endpoints answer with an HTML page, never a redirect, when
        // the client or redirect URI cannot be trusted.
        for (query, text) in [
            (
                "client_id=ghost&redirect_uri=http://evil.example/&response_type=code&scope=openid",
                "Unknown application",
            ),
            (
                "client_id=app&redirect_uri=http://evil.example/&response_type=code&scope=openid",
                "return address isn&#x27;t registered",
            ),
            ("client_id=%ff", "This link isn&#x27;t valid"),
        ] {
            let resp = c
                .get(format!("{issuer}/auth?{query}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
            assert!(
                resp.headers().get("location").is_none(),
                "{query}: must not redirect"
            );
            assert_eq!(resp.headers()["x-frame-options"], "DENY");
            let body = resp.text().await.unwrap();
            assert!(body.contains(text), "{query}: {body}");
            // Issue 15: the requested URI is not echoed back.
            assert!(!body.contains("evil"), "{query}: {body}");
        }
        // Discovery names the issuer byte for byte, with CORS for SPAs.
        let resp = c
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let doc: Value = resp.json().await.unwrap();
        assert_eq!(doc["issuer"], issuer);
        let keys: Value = c
            .get(format!("{issuer}/keys"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(keys["keys"][0]["alg"], "ES256");
        // Userinfo without a token is a 401 challenge, not a 5xx.
        let resp = c
            .get(format!("{issuer}/userinfo"))
            .header("authorization", "Bearer garbage")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer error=\"invalid_token\"")
        );
        server.stop().await.unwrap();
    }

    #[tokio::test]
    async fn password_form_and_token_endpoint_are_rate_limited_with_retry_after() {
        let (server, issuer) = start(RateLimits {
            password_per_minute: 6,
            token_per_minute: 6,
            authorize_per_minute: 0,
        })
        .await;
        let c = client();
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let resp = c
                .post(format!("{issuer}/token"))
                .body("grant_type=x")
                .send()
                .await
                .unwrap();
            statuses.push(resp.status().as_u16());
            if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                assert!(resp.headers().get("retry-after").is_some());
            }
        }
        assert_eq!(statuses.first(), Some(&401), "{statuses:?}");
        assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
        let resp = c
            .post(format!("{issuer}/auth/test/login?state=x"))
            .body("login=a&password=b")
            .send()
            .await
            .unwrap();
        assert_ne!(
            resp.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "separate buckets"
        );
        for _ in 0..3 {
            let _ = c
                .post(format!("{issuer}/auth/test/login?state=x"))
                .body("login=a&password=b")
                .send()
                .await
                .unwrap();
        }
        let resp = c
            .post(format!("{issuer}/auth/test/login?state=x"))
            .body("login=a&password=b")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().get("retry-after").is_some());
        server.stop().await.unwrap();
    }

    #[tokio::test]
    async fn the_login_pages_render_accessibly() {
        let (server, issuer) = start(RateLimits::default()).await;
        let c = client();
        let resp = c.get(format!("{issuer}/auth?client_id=app&redirect_uri=http://127.0.0.1:9/cb&response_type=code&scope=openid")).send().await.unwrap();
        let to_connector = resp.headers()["location"].to_str().unwrap().to_owned();
        let resp = c.get(&to_connector).send().await.unwrap();
        let form = resp.headers()["location"].to_str().unwrap().to_owned();
        let page = c.get(&form).send().await.unwrap().text().await.unwrap();
        for needle in [
            "<label for=\"login\">",
            "id=\"login\" name=\"login\"",
            "<label for=\"password\">",
            "type=\"password\"",
            "<html lang=\"en\">",
        ] {
            assert!(page.contains(needle), "{needle} missing in\n{page}");
        }
        let wrong = c
            .post(&form)
            .body("login=admin&password=nope")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert!(wrong.text().await.unwrap().contains("role=\"alert\""));
        let ok = c
            .post(&form)
            .body("login=admin&password=password")
            .send()
            .await
            .unwrap();
        let back = ok.headers()["location"].to_str().unwrap();
        assert!(back.starts_with("http://127.0.0.1:9/cb?code="), "{back}");
        let device = c
            .get(format!("{issuer}/device"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(device.contains("<label for=\"user_code\">"), "{device}");
        let bad = c
            .post(format!("{issuer}/device"))
            .body("user_code=XXXX-XXXX")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let logout = c
            .get(format!("{issuer}/logout"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(logout.contains("Log out?"), "{logout}");
        server.stop().await.unwrap();
    }

    const AUTH_QUERY: &str = "client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid";

    /// Starts a login; returns the auth request id the password form posts.
    async fn login_state(c: &reqwest::Client, issuer: &str) -> String {
        let resp = c
            .get(format!("{issuer}/auth?{AUTH_QUERY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{resp:?}");
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "req")
            .unwrap()
            .1
            .into_owned()
    }

    async fn guess(
        c: &reqwest::Client,
        issuer: &str,
        state: &str,
        forwarded_for: &str,
        login: &str,
        password: &str,
    ) -> reqwest::Response {
        c.post(format!("{issuer}/auth/test/login?state={state}"))
            .header("x-forwarded-for", forwarded_for)
            .body(format!("login={login}&password={password}"))
            .send()
            .await
            .unwrap()
    }

    fn trust_loopback() -> tusk_server::client::TrustedProxies {
        tusk_server::client::TrustedProxies(vec![
            tusk_core::config::Cidr::parse("127.0.0.1").unwrap(),
        ])
    }

    /// Issue 11, defect 2: `GET /auth` with a 60 KB `state` stored it for
    /// 30 minutes, without limit.
    #[tokio::test]
    async fn oversize_authorize_requests_are_refused_and_store_nothing() {
        let (server, issuer, store) = start_with(RateLimits::default(), Default::default()).await;
        let c = client();
        let huge = "s".repeat(60_000);
        let resp = c
            .get(format!("{issuer}/auth?{AUTH_QUERY}&state={huge}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get("location").is_none());
        let body = resp.text().await.unwrap();
        // The limit is the developer's detail, in the log; the user reads
        // plain words.
        assert!(body.contains("This link isn&#x27;t valid"), "{body}");
        // Under the whole-query cap, the one oversize parameter goes back
        // to the (validated) redirect URI, named with its limit.
        let resp = c
            .post(format!("{issuer}/auth"))
            .body(format!("{AUTH_QUERY}&nonce={}", "n".repeat(600)))
            .send()
            .await
            .unwrap();
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("http://127.0.0.1:9/cb?error=invalid_request"),
            "{location}"
        );
        assert!(
            location.contains("nonce") && location.contains("512"),
            "{location}"
        );
        let stored = store.list::<tusk_store::AuthRequest>().await.unwrap();
        assert!(stored.is_empty(), "{} auth requests stored", stored.len());
        server.stop().await.unwrap();
    }

    #[tokio::test]
    async fn authorize_requests_are_rate_limited_per_address() {
        let (server, issuer, store) = start_with(
            RateLimits {
                authorize_per_minute: 6,
                ..RateLimits::default()
            },
            Default::default(),
        )
        .await;
        let c = client();
        // Requests that store nothing (an unknown client) are not counted.
        for _ in 0..4 {
            let resp = c
                .get(format!("{issuer}/auth?client_id=ghost"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        }
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let resp = c
                .get(format!("{issuer}/auth?{AUTH_QUERY}"))
                .send()
                .await
                .unwrap();
            statuses.push(resp.status().as_u16());
            if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                assert!(resp.headers().get("retry-after").is_some());
            }
        }
        assert_eq!(statuses.first(), Some(&303), "{statuses:?}");
        assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
        let stored = store.list::<tusk_store::AuthRequest>().await.unwrap();
        assert!(stored.len() < 4, "{} auth requests stored", stored.len());
        server.stop().await.unwrap();
    }

    /// Issue 11, defect 4: 8 addresses × 5 guesses on one account went
    /// through; the owner must still get in from their own address.
    #[tokio::test]
    async fn password_guesses_are_throttled_per_account_and_the_owner_still_logs_in() {
        let (server, issuer, _) = start_with(RateLimits::default(), trust_loopback()).await;
        let c = client();
        let state = login_state(&c, &issuer).await;
        let mut throttled = Vec::new();
        for a in 1..=8 {
            let mut n = 0;
            for _ in 0..5 {
                let resp = guess(
                    &c,
                    &issuer,
                    &state,
                    &format!("203.0.113.{a}"),
                    "admin",
                    "guess",
                )
                .await;
                match resp.status() {
                    StatusCode::UNAUTHORIZED => {}
                    StatusCode::TOO_MANY_REQUESTS => {
                        assert!(resp.headers().get("retry-after").is_some());
                        let body = resp.text().await.unwrap();
                        assert!(body.contains("for this account"), "{body}");
                        n += 1;
                    }
                    other => panic!("unexpected {other}"),
                }
            }
            throttled.push(n);
        }
        assert!(
            throttled.iter().all(|n| *n > 0),
            "throttled per address: {throttled:?}"
        );
        let resp = guess(&c, &issuer, &state, "198.51.100.7", "admin", "password").await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert!(
            resp.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("http://127.0.0.1:9/cb?code=")
        );
        server.stop().await.unwrap();
    }

    /// The throttle must not turn a burst of right passwords (a load test,
    /// many sessions of one account behind one NAT) into refusals.
    #[tokio::test]
    async fn parallel_logins_with_the_right_password_all_succeed() {
        let (server, issuer) = start(RateLimits {
            password_per_minute: 0,
            ..RateLimits::default()
        })
        .await;
        let c = client();
        let mut states = Vec::new();
        for _ in 0..10 {
            states.push(login_state(&c, &issuer).await);
        }
        let logins = states.iter().map(|state| {
            let (c, issuer) = (c.clone(), issuer.clone());
            async move {
                guess(&c, &issuer, state, "203.0.113.1", "admin", "password")
                    .await
                    .status()
            }
        });
        let statuses = futures::future::join_all(logins).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::SEE_OTHER),
            "{statuses:?}"
        );
        server.stop().await.unwrap();
    }

    /// Issue 11: without trusted proxies, `X-Forwarded-For` is ignored (the
    /// per-address limit still sees one client); from a trusted proxy the
    /// right-most untrusted hop is the client, and forged left-most entries
    /// change nothing.
    #[tokio::test]
    async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        // The password limit allows a burst of 5 per address.
        let limits = RateLimits {
            password_per_minute: 30,
            ..RateLimits::default()
        };
        for (trusted, header, limited) in [
            (false, "203.0.113.{i}", true),
            (true, "203.0.113.{i}", false),
            (true, "203.0.113.{i}, 198.51.100.1", true),
        ] {
            let proxies = if trusted {
                trust_loopback()
            } else {
                Default::default()
            };
            let (server, issuer, _) = start_with(limits, proxies).await;
            let c = client();
            let state = login_state(&c, &issuer).await;
            let mut statuses = Vec::new();
            for i in 0..7 {
                // Distinct accounts, so only the per-address limit applies.
                let xff = header.replace("{i}", &i.to_string());
                let resp = guess(&c, &issuer, &state, &xff, &format!("user{i}"), "x").await;
                statuses.push(resp.status().as_u16());
            }
            assert_eq!(
                statuses.contains(&429),
                limited,
                "trusted={trusted} `{header}`: {statuses:?}"
            );
            server.stop().await.unwrap();
        }
    }

    /// Issue 11, defect 3: a body trickled slowly held the request open.
    #[tokio::test]
    async fn a_stalled_request_body_is_cut_off() {
        let (server, _, _) = start_on(
            Store::memory(),
            RateLimits::default(),
            Default::default(),
            tusk_server::ConnectionLimits {
                body_timeout: Duration::from_secs(1),
                ..Default::default()
            },
        )
        .await;
        let mut socket = TcpStream::connect(server.addr).await.unwrap();
        socket
            .write_all(b"POST /dex/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type")
            .await
            .unwrap();
        let mut got = Vec::new();
        let answered = tokio::time::timeout(IO_GUARD, socket.read_to_end(&mut got)).await;
        assert!(answered.is_ok(), "the server still waits for the body");
        let text = String::from_utf8_lossy(&got);
        assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");
        server.stop().await.unwrap();
    }

    /// RFC 7235 §2.1: the auth scheme is case-insensitive; `BEARER x` used to
    /// be answered as if no token had been sent.
    /// The testkit's provider signs with its fixed key, not one of its
    /// own: two servers on two stores publish the same JWK.
    #[tokio::test]
    async fn test_providers_sign_with_the_testkit_key() {
        let (one, issuer_one) = start(RateLimits::default()).await;
        let (two, issuer_two) = start(RateLimits::default()).await;
        let jwks = |issuer: String| async move {
            let body: Value = reqwest::get(format!("{issuer}/keys"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["keys"].clone()
        };
        let (a, b) = (jwks(issuer_one).await, jwks(issuer_two).await);
        assert_eq!(a.as_array().map(Vec::len), Some(1), "{a}");
        assert_eq!(a[0]["kid"], tusk_testkit::SIGNING_KEY_ID, "{a}");
        assert_eq!(a, b);
        one.stop().await.unwrap();
        two.stop().await.unwrap();
    }

    #[tokio::test]
    async fn userinfo_matches_the_bearer_scheme_case_insensitively() {
        let (server, issuer) = start(RateLimits::default()).await;
        let c = client();
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let resp = c
                .get(format!("{issuer}/userinfo"))
                .header("authorization", format!("{scheme} not-a-token"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            let body = resp.text().await.unwrap();
            assert!(!body.contains("send the access token"), "{scheme}: {body}");
        }
        server.stop().await.unwrap();
    }
}

/// Issue 14, SAML: the ACS is a POST to `<issuer>/callback` carrying
/// `SAMLResponse` and `RelayState`, and `<issuer>/saml/{id}/metadata`
/// serves the SP metadata. (The full login, replays included, runs in
/// Chromium against a samlify IdP: tests/saml.)
mod saml_routes {
    use super::*;
    use tusk_oidc::ConnectorConfig;

    #[tokio::test]
    async fn the_acs_post_and_the_metadata_url() {
        let port = Port::bind().await.unwrap();
        let issuer = port.issuer();
        let store = Store::memory();
        let cert = include_str!("../../tusk-core/tests/core/data/saml-idp-cert.pem");
        let connectors = [
            ConnectorConfig {
                id: "corp".into(),
                name: "Corp".into(),
                kind: "saml".into(),
                config: json!({
                    "ssoURL": "https://idp.example.com/sso",
                    "redirectURI": format!("{issuer}/callback"),
                    "usernameAttr": "uid",
                    "emailAttr": "email",
                    "caData": cert,
                }),
            },
            ConnectorConfig {
                id: "test".into(),
                name: "Test".into(),
                kind: "mockPassword".into(),
                config: json!({"username": "admin", "password": "password"}),
            },
        ];
        let options = provider_options(&issuer, &store, &connectors, &[]).await;
        let _server = TestServer::start_on(port, store.clone(), options);
        let c = crate::browser_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();

        // Metadata: the saml connector's, and clear 404s otherwise.
        let rows: &[(&str, u16, &[&str])] = &[
            (
                "corp",
                200,
                &[
                    &format!("entityID=\"{issuer}/callback\""),
                    &format!(
                        "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{issuer}/callback\""
                    ),
                    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                ],
            ),
            ("test", 404, &["connector `test` is not a SAML connector"]),
            ("nope", 404, &["there is no connector called `nope`"]),
        ];
        for (id, status, want) in rows {
            let r = c
                .get(format!("{issuer}/saml/{id}/metadata"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), *status, "{id}");
            if *status == 200 {
                assert_eq!(r.headers()["content-type"], "application/samlmetadata+xml");
            }
            let body = r.text().await.unwrap();
            for w in *want {
                assert!(body.contains(w), "{id}: `{w}` not in {body}");
            }
        }

        // The ACS: bad posts get an error page, never a login.
        let big = format!("SAMLResponse={}&RelayState=x", "a".repeat(1 << 20));
        let rows: Vec<(&str, String, u16, &str)> = vec![
            (
                "no RelayState",
                "SAMLResponse=abc".into(),
                400,
                "Sign-in didn&#x27;t complete",
            ),
            (
                "unknown RelayState",
                "SAMLResponse=abc&RelayState=no-such-login".into(),
                400,
                "This sign-in has expired",
            ),
            (
                "repeated RelayState",
                "RelayState=a&RelayState=b".into(),
                400,
                "Sign-in didn&#x27;t complete",
            ),
            (
                "bad percent-encoding",
                "SAMLResponse=%ff%fe&RelayState=x".into(),
                400,
                "This link isn&#x27;t valid",
            ),
            ("1 MB body", big, 413, ""),
        ];
        for (what, body, status, want) in rows {
            let r = c
                .post(format!("{issuer}/callback"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), status, "{what}");
            let text = r.text().await.unwrap();
            assert!(text.contains(want), "{what}: `{want}` not in {text}");
        }
    }
}

/// Issue 11, defect 3: idle sockets, HTTP/2 connections that only sent the
/// preface, and connections beyond any cap stayed open indefinitely.
mod connection_hygiene {
    use super::*;
    use tusk_server::ConnectionLimits;

    async fn start(connections: ConnectionLimits, tls: Option<TlsPem>) -> Server {
        let options = ServerOptions {
            tls,
            connections,
            ..ServerOptions::new("http://127.0.0.1/dex")
        };
        TestServer::start(options).await.unwrap()
    }

    /// Reads until the server closes the socket; `None` if it is still
    /// open after the guard (far longer than the configured timeouts).
    async fn read_until_closed(socket: &mut TcpStream) -> Option<Vec<u8>> {
        let mut got = Vec::new();
        let read_to_end = async {
            let mut buf = [0u8; 4096];
            loop {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(IO_GUARD, read_to_end).await.ok()?;
        Some(got)
    }

    async fn closed_by_server(socket: &mut TcpStream) -> bool {
        read_until_closed(socket).await.is_some()
    }

    /// The HTTP/2 frame types the server sent, in order.
    fn h2_frame_types(mut bytes: &[u8]) -> Vec<u8> {
        let mut types = Vec::new();
        while bytes.len() >= 9 {
            let len =
                usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
            types.push(bytes[3]);
            bytes = &bytes[(9 + len).min(bytes.len())..];
        }
        types
    }

    #[tokio::test]
    async fn idle_and_preface_only_connections_are_closed() {
        let server = start(
            ConnectionLimits {
                idle_timeout: Duration::from_secs(1),
                header_read_timeout: Duration::from_secs(1),
                ..Default::default()
            },
            None,
        )
        .await;
        let mut idle = TcpStream::connect(server.addr).await.unwrap();
        let mut preface = TcpStream::connect(server.addr).await.unwrap();
        preface
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        // A keep-alive connection that served one request, then went quiet.
        let mut kept = TcpStream::connect(server.addr).await.unwrap();
        kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        // Headers that never finish (slowloris).
        let mut partial = TcpStream::connect(server.addr).await.unwrap();
        partial
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        assert!(closed_by_server(&mut idle).await, "idle socket still open");
        assert!(
            closed_by_server(&mut partial).await,
            "half-sent headers still open"
        );
        let frames = read_until_closed(&mut preface)
            .await
            .expect("h2 preface-only socket still open");
        // The close is graceful: SETTINGS (4), then GOAWAY (7).
        assert!(
            h2_frame_types(&frames).contains(&7),
            "{:?}",
            h2_frame_types(&frames)
        );
        assert!(
            closed_by_server(&mut kept).await,
            "idle keep-alive socket still open"
        );
        server.stop().await.unwrap();
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_at_once() {
        let server = start(
            ConnectionLimits {
                max_connections: 2,
                ..Default::default()
            },
            None,
        )
        .await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut s = TcpStream::connect(server.addr).await.unwrap();
            // A served request proves the server accepted it.
            s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 512];
            let n = tokio::time::timeout(IO_GUARD, s.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            held.push(s);
        }
        let mut third = TcpStream::connect(server.addr).await.unwrap();
        let _ = third
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await;
        assert!(
            closed_by_server(&mut third).await,
            "a third connection was kept"
        );
        drop(held);
        // Slots come back once connections close.
        let mut ok = false;
        for _ in 0..50 {
            if let Ok(r) = client(Client::Http1)
                .get(server.url("http", "/healthz"))
                .send()
                .await
            {
                ok = r.status() == StatusCode::OK;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            ok,
            "a slot is free again after closing the held connections"
        );
        server.stop().await.unwrap();
    }

    /// Issue 11, defect 8: no HSTS when tusk terminates TLS. Plain HTTP
    /// must not send it (RFC 6797 §7.2).
    #[tokio::test]
    async fn hsts_is_sent_over_tls_only() {
        let (pem, cert) = self_signed();
        let tls = start(Default::default(), Some(pem)).await;
        let resp = tls_client(&cert, true)
            .get(tls.url("https", "/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.headers()["strict-transport-security"],
            "max-age=31536000"
        );
        tls.stop().await.unwrap();
        let plain = start(Default::default(), None).await;
        let resp = client(Client::Http1)
            .get(plain.url("http", "/healthz"))
            .send()
            .await
            .unwrap();
        assert!(resp.headers().get("strict-transport-security").is_none());
        plain.stop().await.unwrap();
    }
}

/// Hot reload: a valid edit applies connector changes to the live provider;
/// a bad edit is rejected whole and reported in `/readyz`, and the last good
/// configuration keeps serving.
mod hot_reload {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tusk_core::config::{self, Input, SourceText};

    fn load(text: &str, listen: &str) -> Result<config::Config, Vec<config::Diagnostic>> {
        let input = Input {
            files: vec![SourceText {
                name: "values.yaml".into(),
                bytes: text.as_bytes().to_vec(),
            }],
            env: Default::default(),
            secrets: None,
            listen: listen.into(),
        };
        config::load(&input).map(|l| l.config)
    }

    #[tokio::test]
    async fn edits_apply_and_bad_edits_are_rejected_whole() {
        let port = Port::bind().await.unwrap();
        let addr = port.addr;
        let listen = addr.to_string();
        let first = "oidc:\n  upstreamIDPs:\n  - {id: one, name: One, type: mockCallback}\n";
        let config = load(first, &listen).unwrap();
        let store = Store::memory();
        let provider = tusk_server::provider_from_config(&config, store.clone())
            .await
            .unwrap();
        let auth = tusk_server::auth_from_config(&config, store.clone(), provider.clone())
            .await
            .unwrap();
        let current = Arc::new(Mutex::new(first.to_owned()));
        let (trigger, rx) = tokio::sync::watch::channel(0u64);
        let loader = {
            let (current, listen) = (current.clone(), listen.clone());
            Arc::new(move || load(&current.lock().unwrap(), &listen)) as tusk_server::reload::Loader
        };
        let options = ServerOptions {
            reload: Some(tusk_server::reload::Reload {
                trigger: rx,
                load: loader,
                tls: None,
            }),
            ..ServerOptions::from_config(&config, Some(provider.clone()), Some(auth.plane))
        };
        let server = TestServer::start_on(port, store, options);
        let trail = server.store.clone();
        let ids = || {
            provider
                .connectors()
                .iter()
                .map(|c| c.id.clone())
                .collect::<Vec<_>>()
        };
        let readyz = || async {
            let body: Value = reqwest::get(format!("http://{addr}/readyz"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["checks"]["config"]["reload"].clone()
        };
        // Let the server start before the first trigger.
        readyz().await;
        assert_eq!(ids(), ["one"]);
        let one_before = provider.connectors()[0]
            .status
            .clone()
            .ok()
            .map(|c| Arc::as_ptr(&c) as *const () as usize);

        *current.lock().unwrap() = "oidc:\n  upstreamIDPs:\n  - {id: one, name: One, type: mockCallback}\n  - {id: two, name: Two, type: mockCallback}\n".into();
        trigger.send_replace(1);
        let mut status = Value::Null;
        for _ in 0..200 {
            status = readyz().await;
            if status.get("connectors").is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status["ok"], true, "{status}");
        assert_eq!(ids(), ["one", "two"], "{status}");
        // The unchanged connector is the same object: logins in flight go on.
        let one_after = provider.connectors()[0]
            .status
            .clone()
            .ok()
            .map(|c| Arc::as_ptr(&c) as *const () as usize);
        assert_eq!(one_before, one_after);

        *current.lock().unwrap() =
            "oidc:\n  upstreamIDPs:\n  - {id: one, name: One, type: mockCallback, version: 2}\n"
                .into();
        trigger.send_replace(2);
        let mut status = Value::Null;
        for _ in 0..200 {
            status = readyz().await;
            if status["ok"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status["ok"], false, "{status}");
        assert!(
            status["errors"][0]
                .as_str()
                .unwrap()
                .contains("unknown key `version`"),
            "{status}"
        );
        assert_eq!(ids(), ["one", "two"], "a rejected edit must change nothing");
        // Both reloads are in the audit trail and the rejected one is counted.
        let reloads: Vec<Value> = trail
            .list_audit(&Default::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.event.name() == "config_reloaded")
            .map(|r| serde_json::to_value(&r.event).unwrap())
            .collect();
        assert_eq!(reloads.len(), 2, "{reloads:?}");
        assert_eq!(reloads[0]["outcome"], "rejected", "{reloads:?}");
        assert_eq!(reloads[0]["problems"], 1, "{reloads:?}");
        assert_eq!(reloads[1]["outcome"], "accepted", "{reloads:?}");
        let metrics = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("tusk_config_reloads_total{outcome=\"rejected\"}")),
            "{metrics}"
        );
        server.stop().await.unwrap();
    }

    const MOCK: &str = "oidc:\n  mockIDP: true\n";

    /// A server whose configuration is `current` (re-read on each trigger),
    /// with TLS when `tls` holds the start certificate and the reload's
    /// source of certificates.
    struct Reloading {
        addr: SocketAddr,
        server: TestServer,
        current: Arc<Mutex<String>>,
        trigger: tokio::sync::watch::Sender<u64>,
    }

    impl Reloading {
        async fn start(
            first: &str,
            tls: Option<(TlsPem, tusk_server::reload::TlsLoader)>,
        ) -> Reloading {
            let port = Port::bind().await.unwrap();
            let listen = port.addr.to_string();
            let config = load(first, &listen).unwrap();
            let store = Store::memory();
            let provider = tusk_server::provider_from_config(&config, store.clone())
                .await
                .unwrap();
            let auth = tusk_server::auth_from_config(&config, store.clone(), provider.clone())
                .await
                .unwrap();
            let current = Arc::new(Mutex::new(first.to_owned()));
            let (trigger, rx) = tokio::sync::watch::channel(0u64);
            let loader = {
                let current = current.clone();
                Arc::new(move || load(&current.lock().unwrap(), &listen))
                    as tusk_server::reload::Loader
            };
            let (start_tls, reload_tls) = match tls {
                Some((pem, loader)) => (Some(pem), Some(loader)),
                None => (None, None),
            };
            let options = ServerOptions {
                tls: start_tls,
                reload: Some(tusk_server::reload::Reload {
                    trigger: rx,
                    load: loader,
                    tls: reload_tls,
                }),
                // What `tusk serve` hands over: the start-up configuration.
                ..ServerOptions::from_config(&config, Some(provider), Some(auth.plane))
            };
            let server = TestServer::start_on(port, store, options);
            Reloading {
                addr: server.addr,
                server,
                current,
                trigger,
            }
        }

        /// Replaces the configuration and waits until a reload has ended
        /// (accepted or not); returns `/readyz` then.
        async fn reload_to(
            &self,
            text: &str,
            client: &reqwest::Client,
            scheme: &str,
        ) -> (u16, Value) {
            *self.current.lock().unwrap() = text.to_owned();
            self.trigger.send_modify(|n| *n += 1);
            let wanted = *self.trigger.borrow();
            for _ in 0..400 {
                let (status, body) = self.readyz(client, scheme).await;
                if body["checks"]["config"]["reload"]["reloads"] == json!(wanted) {
                    return (status, body);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("reload {wanted} never finished");
        }

        async fn readyz(&self, client: &reqwest::Client, scheme: &str) -> (u16, Value) {
            let response = client
                .get(format!("{scheme}://{}/readyz", self.addr))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json().await.unwrap())
        }

        async fn stop(self) {
            self.server.stop().await.unwrap();
        }
    }

    /// Issue 12: `/readyz` is 503 while no connector can log anyone in
    /// (the only one is an upstream IdP that cannot be discovered), with a
    /// public reason; `/healthz` stays 200 so Kubernetes never restarts
    /// tusk for an IdP outage. After a reload its detail is the running
    /// configuration, not the start-up one, and names what waits for a
    /// restart.
    #[tokio::test]
    async fn readyz_needs_a_connector_that_can_log_in_and_shows_the_running_config() {
        // Port 9 (discard) on loopback: nothing listens, so discovery fails.
        let down = "oidc:\n  upstreamIDPs:\n  - id: okta\n    name: Okta\n    type: oidc\n    config:\n      issuer: http://127.0.0.1:9/oauth2/default\n      clientID: cid\n      clientSecret: a-client-secret-of-some-length\n      redirectURI: REDIRECT\n";
        // The redirect URI must be `<issuer>/callback`, and the issuer comes
        // from the listen address, known once the server has bound: start
        // on the mock, then reload to the upstream.
        let server = Reloading::start("oidc:\n  mockIDP: true\n", None).await;
        let redirect = format!("http://{}/dex/callback", server.addr);
        let down = down.replace("REDIRECT", &redirect);
        let c = crate::browser_client().no_proxy().build().unwrap();

        // From the mock (ready) to the unreachable upstream only: not ready.
        let (status, body) = server.reload_to(&down, &c, "http").await;
        assert_eq!(body["checks"]["config"]["reload"]["ok"], true, "{body}");
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["ready"], false, "{body}");
        assert_eq!(body["reason"], "no_connector_available", "{body}");
        assert_eq!(body["checks"]["connectors"][0]["id"], "okta", "{body}");
        assert_eq!(body["checks"]["connectors"][0]["ok"], false, "{body}");
        // The detail is the running configuration.
        assert_eq!(body["checks"]["config"]["mockIDP"], false, "{body}");
        assert_eq!(
            body["checks"]["config"]["connectors"][0]["id"], "okta",
            "{body}"
        );
        // Anyone else learns only the reason code.
        let public: Value = c
            .get(format!("http://{}/readyz", server.addr))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            public,
            json!({"ready": false, "reason": "no_connector_available"})
        );
        let healthz = c
            .get(format!("http://{}/healthz", server.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(healthz.status(), StatusCode::OK);
        let ok = |c: &reqwest::Client| {
            let url = format!("http://{}/metrics", server.addr);
            let c = c.clone();
            async move { c.get(url).send().await.unwrap().text().await.unwrap() }
        };
        assert!(ok(&c).await.contains("tusk_config_last_reload_ok 1"));

        // Back to the mock, with a token lifetime that only a restart applies.
        let (status, body) = server
            .reload_to("oidc:\n  mockIDP: true\n  IDTokenExpiry: 2h\n", &c, "http")
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["reason"], "ok", "{body}");
        assert_eq!(body["checks"]["config"]["mockIDP"], true, "{body}");
        assert_eq!(
            body["checks"]["config"]["connectors"][0]["type"], "mockPassword",
            "{body}"
        );
        assert_eq!(
            body["checks"]["config"]["idTokenExpirySeconds"], 86400,
            "the lifetime read at start still applies: {body}"
        );
        assert_eq!(
            body["checks"]["config"]["reload"]["pendingRestart"],
            json!(["idTokenExpirySeconds"]),
            "{body}"
        );

        // A rejected reload keeps the running configuration, stays Ready
        // (the last good configuration serves) and shows in the metrics.
        let (status, body) = server
            .reload_to("oidc:\n  mockIDP: maybe\n", &c, "http")
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["checks"]["config"]["reload"]["ok"], false, "{body}");
        assert!(
            body["checks"]["config"]["reload"]["errors"][0]
                .as_str()
                .unwrap()
                .contains("mockIDP"),
            "{body}"
        );
        assert_eq!(body["checks"]["config"]["mockIDP"], true, "{body}");
        assert!(ok(&c).await.contains("tusk_config_last_reload_ok 0"));
        server.stop().await;
    }

    /// Issue 12: a renewed certificate reaches new connections without a
    /// restart, and connections already open go on; a broken renewal is
    /// rejected whole, the served certificate stays, and the rejection
    /// shows in `/readyz`.
    #[tokio::test]
    async fn a_renewed_certificate_serves_new_connections_and_a_broken_one_is_rejected() {
        let (first, first_ca) = self_signed();
        let (second, second_ca) = self_signed();
        let on_disk = Arc::new(Mutex::new(first.clone()));
        let loader = {
            let on_disk = on_disk.clone();
            Arc::new(move |_: &config::Config| {
                Ok(Some((
                    on_disk.lock().unwrap().clone(),
                    "the test".to_owned(),
                )))
            }) as tusk_server::reload::TlsLoader
        };
        let server = Reloading::start(MOCK, Some((first, loader))).await;
        let trusts_first = tls_client(&first_ca, false);
        let trusts_second = tls_client(&second_ca, false);
        let (status, _) = server.readyz(&trusts_first, "https").await;
        assert_eq!(status, 200);
        assert!(
            trusts_second
                .get(format!("https://{}/healthz", server.addr))
                .send()
                .await
                .is_err(),
            "the second certificate is not served yet"
        );

        *on_disk.lock().unwrap() = second.clone();
        let (status, body) = server.reload_to(MOCK, &trusts_first, "https").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["checks"]["config"]["reload"]["ok"], true, "{body}");
        // The HTTP/2 connection opened under the first certificate is still
        // usable: a reload cuts nothing.
        let (status, _) = server.readyz(&trusts_first, "https").await;
        assert_eq!(status, 200);
        // A new connection gets the second certificate.
        let (status, _) = server.readyz(&trusts_second, "https").await;
        assert_eq!(status, 200);
        let fresh_first = tls_client(&first_ca, false);
        assert!(
            fresh_first
                .get(format!("https://{}/healthz", server.addr))
                .send()
                .await
                .is_err(),
            "a new connection still got the first certificate"
        );

        // A key that does not belong to the certificate: rejected whole.
        let (third, _) = self_signed();
        *on_disk.lock().unwrap() = TlsPem {
            cert_chain: third.cert_chain,
            private_key: second.private_key.clone(),
        };
        let (status, body) = server.reload_to(MOCK, &trusts_second, "https").await;
        assert_eq!(status, 200, "{body}");
        let reload = &body["checks"]["config"]["reload"];
        assert_eq!(reload["ok"], false, "{body}");
        assert!(
            reload["errors"][0]
                .as_str()
                .unwrap()
                .contains("TLS certificate"),
            "{body}"
        );
        let again = tls_client(&second_ca, false);
        let (status, _) = server.readyz(&again, "https").await;
        assert_eq!(status, 200, "the second certificate keeps serving");
        server.stop().await;
    }

    /// Issue 11, defect 7: a reload of a slow-to-parse file held
    /// `/healthz`. The loader here blocks until `/healthz` has answered, so
    /// the probe succeeds only if loading runs off the async runtime. The
    /// server runs on this test's single runtime thread; the probe runs on
    /// its own OS thread with a plain socket.
    #[tokio::test]
    async fn a_slow_reload_does_not_hold_healthz() {
        use std::io::{Read, Write};
        use std::sync::mpsc;
        let port = Port::bind().await.unwrap();
        let addr = port.addr;
        let listen = addr.to_string();
        let (entered_tx, entered) = mpsc::channel::<()>();
        let (release, release_rx) = mpsc::channel::<()>();
        let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
        let loader = Arc::new(move || {
            let _ = entered_tx.lock().unwrap().send(());
            // Bounded so a regression fails the probe instead of hanging.
            let _ = release_rx
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(60));
            load("", &listen)
        }) as tusk_server::reload::Loader;
        let (trigger, rx) = tokio::sync::watch::channel(0u64);
        let options = ServerOptions {
            reload: Some(tusk_server::reload::Reload {
                trigger: rx,
                load: loader,
                tls: None,
            }),
            ..ServerOptions::new(format!("http://{addr}/dex"))
        };
        let server = TestServer::start_on(port, Store::memory(), options);
        let healthz = reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap();
        assert_eq!(healthz.status(), StatusCode::OK);
        trigger.send_replace(1);
        let probe = tokio::task::spawn_blocking(move || {
            entered.recv().unwrap();
            let answer = (|| -> std::io::Result<String> {
                let mut s = std::net::TcpStream::connect(addr)?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
                let mut out = String::new();
                s.read_to_string(&mut out)?;
                Ok(out)
            })();
            release.send(()).unwrap();
            answer
        });
        let answer = probe.await.unwrap();
        let answer =
            answer.unwrap_or_else(|e| panic!("/healthz did not answer during a reload: {e}"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        server.stop().await.unwrap();
    }
}

/// Issue 11, defect 8: during a database outage requests waited 10 s for a
/// pooled connection before a 503, and the 503 said nothing about when to
/// retry. PostgreSQL is reached through a proxy the test can cut: existing
/// connections drop and new ones are accepted but never answered, as when a
/// database host vanishes.
mod database_outage {
    use super::*;
    use sqlx::{Connection, Executor, PgConnection};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use tusk_server::ratelimit::RateLimits;

    struct Proxy {
        addr: SocketAddr,
        cut: Arc<AtomicBool>,
        links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    }

    impl Proxy {
        async fn start(upstream: SocketAddr) -> Proxy {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let cut = Arc::new(AtomicBool::new(false));
            let links = Arc::new(Mutex::new(Vec::new()));
            let (c, l) = (cut.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let c = c.clone();
                    let task = tokio::spawn(async move {
                        if c.load(Ordering::SeqCst) {
                            // Accepted, never answered.
                            std::future::pending::<()>().await;
                        }
                        let mut server = TcpStream::connect(upstream).await.unwrap();
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                    l.lock().unwrap().push(task.abort_handle());
                }
            });
            Proxy { addr, cut, links }
        }

        fn set_cut(&self, cut: bool) {
            self.cut.store(cut, Ordering::SeqCst);
            for link in self.links.lock().unwrap().drain(..) {
                link.abort();
            }
        }
    }

    #[tokio::test]
    async fn an_unreachable_database_gets_a_prompt_503_with_retry_after() {
        let admin = "postgres://postgres@127.0.0.1:5432/postgres";
        let name = format!("tusk_hb_outage_{}", std::process::id());
        let mut conn = PgConnection::connect(admin).await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .await
        .unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
        let url = format!("postgres://postgres@{}/{name}", proxy.addr);
        let backend = tusk_store_sql::open_postgres_with(&url, Duration::from_millis(300))
            .await
            .unwrap();
        let (server, issuer, _) = provider_http::start_on(
            Store::new(backend),
            RateLimits::default(),
            Default::default(),
            Default::default(),
        )
        .await;
        let c = crate::browser_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let authorize = format!(
            "{issuer}/auth?client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid"
        );
        assert_eq!(
            c.get(&authorize).send().await.unwrap().status(),
            StatusCode::SEE_OTHER
        );
        proxy.set_cut(true);
        // Well under the old 10 s wait; a hang guard, not a speed claim.
        let guard = Duration::from_secs(8);
        let resp = tokio::time::timeout(guard, c.get(&authorize).send())
            .await
            .expect("the request waited for the database past the guard")
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().get("retry-after").is_some());
        let resp = tokio::time::timeout(
            guard,
            c.post(format!("{issuer}/token"))
                .basic_auth("app", Some("app-secret"))
                .body("grant_type=authorization_code&code=x&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb")
                .send(),
        )
        .await
        .expect("the token request waited for the database past the guard")
        .unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().get("retry-after").is_some());
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("temporarily_unavailable")
        );
        // Back again once the database is.
        proxy.set_cut(false);
        let mut recovered = false;
        for _ in 0..20 {
            if c.get(&authorize).send().await.unwrap().status() == StatusCode::SEE_OTHER {
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(recovered, "requests succeed again after the outage");
        server.stop().await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .await
        .unwrap();
    }
}

/// Issue 11, defect 4: the per-account throttle must hold across replicas.
/// Its counters live in the shared store and are reserved by
/// compare-and-swap, so two servers on one PostgreSQL database, sent
/// guesses in parallel, let through no more than one server would:
/// `throttle::PAIR_FREE` guesses per (account, address).
mod two_replicas {
    use super::*;
    use sqlx::{Connection, Executor, PgConnection};
    use tusk_server::ratelimit::RateLimits;

    #[tokio::test]
    async fn parallel_guesses_spread_over_two_replicas_get_the_single_replica_bound() {
        let admin = "postgres://postgres@127.0.0.1:5432/postgres";
        let name = format!("tusk_hb_replicas_{}", std::process::id());
        let mut conn = PgConnection::connect(admin).await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .await
        .unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let mut replicas = Vec::new();
        for _ in 0..2 {
            let store = Store::new(tusk_store_sql::open_postgres(&url).await.unwrap());
            let trusted = tusk_server::client::TrustedProxies(vec![
                tusk_core::config::Cidr::parse("127.0.0.1").unwrap(),
            ]);
            let (server, issuer, _) =
                provider_http::start_on(store, RateLimits::default(), trusted, Default::default())
                    .await;
            replicas.push((server, issuer));
        }
        let c = crate::browser_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let start = c
            .get(format!(
                "{}/auth?client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid",
                replicas[0].1
            ))
            .send()
            .await
            .unwrap();
        let location = start.headers()["location"].to_str().unwrap().to_owned();
        let state = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "req")
            .unwrap()
            .1
            .into_owned();
        let guesses = (0..40).map(|i| {
            let issuer = replicas[i % 2].1.clone();
            let (c, state) = (c.clone(), state.clone());
            async move {
                let resp = c
                    .post(format!("{issuer}/auth/test/login?state={state}"))
                    .header("x-forwarded-for", format!("203.0.113.{}", i % 8))
                    .body("login=admin&password=guess")
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                (status, resp.text().await.unwrap())
            }
        });
        let outcomes = futures::future::join_all(guesses).await;
        let checked = outcomes
            .iter()
            .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
            .count();
        let throttled = outcomes
            .iter()
            .filter(|(s, body)| {
                *s == StatusCode::TOO_MANY_REQUESTS && body.contains("for this account")
            })
            .count();
        let bound = 8 * tusk_oidc::throttle::PAIR_FREE as usize;
        eprintln!(
            "two replicas: {checked} of 40 parallel guesses checked, {throttled} throttled (bound {bound})"
        );
        assert!(
            checked <= bound,
            "{checked} passwords checked, bound {bound}"
        );
        assert_eq!(checked + throttled, 40, "{outcomes:?}");
        // The owner, from their own address, on the other replica.
        let resp = c
            .post(format!("{}/auth/test/login?state={state}", replicas[1].1))
            .header("x-forwarded-for", "198.51.100.7")
            .body("login=admin&password=password")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        for (server, _) in replicas {
            server.stop().await.unwrap();
        }
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .await
        .unwrap();
    }
}

/// `/readyz`'s detail and the audit trail: what only operators may see.
mod operators {
    use super::*;
    use tusk_auth::{AuthService, AuthSettings, Managed};
    use tusk_server::AuthPlane;

    /// An auth plane over `store`, activated; returns it and the root token.
    async fn plane(store: &Store) -> (AuthPlane, String) {
        let service = AuthService::new(
            store.clone(),
            tusk_testkit::clock_now(),
            AuthSettings::default(),
            None,
        );
        let root = service.activate(None).await.unwrap();
        let plane = AuthPlane {
            service,
            managed: Managed::default(),
        };
        (plane, root)
    }

    async fn readyz_via_router(
        app: &axum::Router,
        peer: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = http::Request::get("/readyz");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(axum::body::Body::empty()).unwrap();
        request.extensions_mut().insert(axum::extract::ConnectInfo(
            peer.parse::<SocketAddr>().unwrap(),
        ));
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// Issue 11, defect 8: the unauthenticated `/readyz` showed clients,
    /// redirect URIs and cluster bindings to anyone.
    #[tokio::test]
    async fn readyz_detail_only_for_loopback_or_an_admin_token() {
        let store = Store::memory();
        let (plane, root) = plane(&store).await;
        let alice = plane.service.mint("user:alice", None).await.unwrap();
        let summary = json!({"source": "test", "clients": [{"id": "app", "redirectURIs": ["https://app/cb"]}]});
        let state = AppState::with_services(
            store,
            "http://127.0.0.1/dex".to_owned(),
            summary,
            None,
            Some(plane),
        );
        let app = tusk_server::router(state);
        let public = json!({"ready": true, "reason": "ok"});
        let root_bearer = format!("Bearer {root}");
        let root_lower = format!("bearer {root}");
        let alice_bearer = format!("Bearer {alice}");
        let cases: Vec<(&str, &str, Vec<(&str, &str)>, bool)> = vec![
            ("remote, no token", "203.0.113.7:4000", vec![], false),
            (
                "remote, user token",
                "203.0.113.7:4000",
                vec![("authorization", &alice_bearer)],
                false,
            ),
            (
                "remote, garbage token",
                "203.0.113.7:4000",
                vec![("authorization", "Bearer nope")],
                false,
            ),
            (
                "remote, root token",
                "203.0.113.7:4000",
                vec![("authorization", &root_bearer)],
                true,
            ),
            (
                "remote, root token, lowercase scheme",
                "[2001:db8::1]:4000",
                vec![("authorization", &root_lower)],
                true,
            ),
            ("loopback", "127.0.0.1:4000", vec![], true),
            ("loopback v6", "[::1]:4000", vec![], true),
            (
                "loopback through a proxy",
                "127.0.0.1:4000",
                vec![("x-forwarded-for", "203.0.113.7")],
                false,
            ),
            (
                "loopback through a proxy (Forwarded)",
                "127.0.0.1:4000",
                vec![("forwarded", "for=203.0.113.7")],
                false,
            ),
        ];
        for (name, peer, headers, detail) in cases {
            let (status, body) = readyz_via_router(&app, peer, &headers).await;
            assert_eq!(status, StatusCode::OK, "{name}");
            if detail {
                assert_eq!(body["reason"], "ok", "{name}: {body}");
                assert_eq!(
                    body["checks"]["config"]["clients"][0]["id"], "app",
                    "{name}: {body}"
                );
            } else {
                assert_eq!(body, public, "{name}");
                assert!(!body.to_string().contains("app/cb"), "{name}: {body}");
            }
        }
    }
}

#[path = "server/groups.rs"]
mod groups;

#[path = "server/storm.rs"]
mod storm;

#[path = "server/backchannel.rs"]
mod backchannel;
#[path = "server/prebuilt.rs"]
mod prebuilt;
#[path = "server/sessions.rs"]
mod sessions;

/// The audit trail and the operator metrics, through a real server with
/// the provider and the auth plane: a login, a token exchange and a
/// ModifyRoleBinding, then the trail read over `tusk.audit.v1` and the
/// series scraped from `/metrics`.
mod audit_trail {
    use super::*;
    use std::sync::Arc;
    use tonic::metadata::MetadataValue;
    use tusk_auth::{AuthService, AuthSettings, Managed};
    use tusk_oidc::ConnectorConfig;
    use tusk_proto::auth_v2;
    use tusk_proto::tusk::audit::v1 as audit;
    use tusk_server::AuthPlane;
    use tusk_store::OidcClient;

    const PASSWORD: &str = "correct-Horse-7";
    const CLIENT_SECRET: &str = "app-Secret-9f2";

    pub(super) struct Running {
        pub(super) server: Server,
        issuer: String,
        pub(super) root: String,
        pub(super) alice: String,
        provider: Arc<tusk_oidc::Provider>,
        pub(super) store: Store,
    }

    pub(super) async fn start() -> Running {
        let port = Port::bind().await.unwrap();
        let issuer = port.issuer();
        let store = Store::memory();
        let clock = tusk_testkit::clock_now();
        let connectors = [ConnectorConfig {
            id: "test".into(),
            name: "Test".into(),
            kind: "mockPassword".into(),
            config: json!({"username": "admin", "password": PASSWORD}),
        }];
        let clients = [OidcClient {
            id: "app".into(),
            secret: Secret::new(CLIENT_SECRET.into()),
            name: "App".into(),
            redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
            trusted: true,
            ..Default::default()
        }];
        let provider =
            tusk_testkit::provider(&issuer, &store, clock.clone(), &connectors, &clients)
                .await
                .unwrap();
        let service = AuthService::new(
            store.clone(),
            clock,
            AuthSettings::default(),
            Some(provider.clone()),
        );
        let root = service.activate(None).await.unwrap();
        let alice = service.mint("user:alice", None).await.unwrap();
        let options = ServerOptions {
            provider: Some(provider.clone()),
            auth: Some(AuthPlane {
                service,
                managed: Managed::default(),
            }),
            ..ServerOptions::new(issuer.clone())
        };
        let server = TestServer::start_on(port, store.clone(), options);
        Running {
            server,
            issuer,
            root,
            alice,
            provider,
            store,
        }
    }

    pub(super) fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authn-token", MetadataValue::try_from(token).unwrap());
        request
    }

    pub(super) async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// The identity API's client.
    pub(super) type Identity =
        tusk_proto::identity_v2::api_client::ApiClient<tonic::transport::Channel>;

    /// Registers the third-party client `grafana` through the identity API.
    pub(super) async fn create_grafana(identity: &mut Identity, root: &str) {
        identity
            .create_oidc_client(with_token(
                tusk_proto::identity_v2::CreateOidcClientRequest {
                    client: Some(tusk_proto::identity_v2::OidcClient {
                        id: "grafana".into(),
                        name: "Grafana".into(),
                        redirect_uris: vec!["https://grafana.example.com/cb".into()],
                        ..Default::default()
                    }),
                },
                root,
            ))
            .await
            .unwrap();
    }

    /// Deletes the client `grafana` through the identity API.
    pub(super) async fn delete_grafana(identity: &mut Identity, root: &str) {
        identity
            .delete_oidc_client(with_token(
                tusk_proto::identity_v2::DeleteOidcClientRequest {
                    id: "grafana".into(),
                },
                root,
            ))
            .await
            .unwrap();
    }

    /// A wrong then a right password, then the code exchanged for tokens;
    /// returns every credential the flow used or produced.
    async fn log_in(issuer: &str) -> Vec<String> {
        let c = crate::browser_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = c.get(format!("{issuer}/auth?client_id=app&redirect_uri=http://127.0.0.1:9/cb&response_type=code&scope=openid+offline_access&state=st")).send().await.unwrap();
        let to_connector = resp.headers()["location"].to_str().unwrap().to_owned();
        let resp = c.get(&to_connector).send().await.unwrap();
        let form = resp.headers()["location"].to_str().unwrap().to_owned();
        let wrong = c
            .post(&form)
            .body("login=admin&password=wrong-Guess-1")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let ok = c
            .post(&form)
            .body(format!("login=admin&password={PASSWORD}"))
            .send()
            .await
            .unwrap();
        let code = code_in(&ok);
        let tokens: Value = c
            .post(format!("{issuer}/token"))
            .basic_auth("app", Some(CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut secrets = vec![
            PASSWORD.to_owned(),
            "wrong-Guess-1".to_owned(),
            CLIENT_SECRET.to_owned(),
            code,
        ];
        for field in ["access_token", "id_token", "refresh_token"] {
            let token = tokens[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field} in {tokens}"));
            secrets.push(token.to_owned());
        }
        secrets
    }

    #[tokio::test]
    async fn role_binding_changes_and_logins_are_readable_by_admins_only_and_hold_no_secret() {
        let r = start().await;
        let mut secrets = log_in(&r.issuer).await;
        secrets.extend([r.root.clone(), r.alice.clone()]);
        let ch = channel(r.server.addr).await;
        let mut auth = auth_v2::api_client::ApiClient::new(ch.clone());
        auth.modify_role_binding(with_token(
            auth_v2::ModifyRoleBindingRequest {
                resource: Some(auth_v2::Resource {
                    r#type: auth_v2::ResourceType::Project as i32,
                    name: "default".into(),
                }),
                principal: "user:bob".into(),
                roles: vec!["projectViewer".into()],
            },
            &r.root,
        ))
        .await
        .unwrap();

        let mut identity = Identity::new(ch.clone());
        create_grafana(&mut identity, &r.root).await;
        delete_grafana(&mut identity, &r.root).await;

        let mut trail = audit::audit_client::AuditClient::new(ch);
        let listed = trail
            .list(with_token(
                audit::ListRequest {
                    resource: "PROJECT:default".into(),
                    ..Default::default()
                },
                &r.root,
            ))
            .await
            .unwrap()
            .into_inner()
            .events;
        assert_eq!(listed.len(), 1, "{listed:?}");
        let e = &listed[0];
        assert_eq!(
            (e.event.as_str(), e.actor.as_str(), e.subject.as_str()),
            ("role_binding_changed", "pach:root", "user:bob")
        );
        let details: Value = serde_json::from_str(&e.details).unwrap();
        assert_eq!(details["before"], json!([]), "{details}");
        assert_eq!(details["after"], json!(["projectViewer"]), "{details}");

        for (who, token, code) in [
            (
                "a user",
                Some(r.alice.as_str()),
                tonic::Code::PermissionDenied,
            ),
            ("nobody", None, tonic::Code::Unauthenticated),
        ] {
            let request = match token {
                Some(t) => with_token(audit::ListRequest::default(), t),
                None => tonic::Request::new(audit::ListRequest::default()),
            };
            let refused = trail.list(request).await.unwrap_err();
            assert_eq!(refused.code(), code, "{who}: {refused:?}");
        }

        let all = trail
            .list(with_token(audit::ListRequest::default(), &r.root))
            .await
            .unwrap()
            .into_inner()
            .events;
        let find = |name: &str| {
            all.iter()
                .find(|e| e.event == name)
                .map(|e| serde_json::from_str::<Value>(&e.details).unwrap())
                .unwrap_or_else(|| panic!("no {name} in {all:?}"))
        };
        let failed = find("login_failed");
        assert_eq!(failed["user"], "admin");
        assert_eq!(failed["client"], "app");
        assert_eq!(failed["address"], "127.0.0.1");
        assert_eq!(failed["reason"], "invalid_credentials");
        let succeeded = find("login_succeeded");
        assert_eq!(succeeded["connector"], "test");
        assert_eq!(succeeded["address"], "127.0.0.1");
        assert_eq!(find("token_minted")["kind"], "code");
        find("activated");
        let grafana: Vec<Value> = all
            .iter()
            .filter(|e| e.event == "client_changed" && e.resource == "grafana")
            .map(|e| serde_json::from_str::<Value>(&e.details).unwrap()["change"].clone())
            .collect();
        assert_eq!(grafana, [json!("deleted"), json!("created")], "{all:?}");
        let everything = format!("{all:?}");
        for secret in &secrets {
            assert!(
                !everything.contains(secret.as_str()),
                "a credential reached the audit trail: {everything}"
            );
        }

        let text = reqwest::get(format!("http://{}/metrics", r.server.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let series = [
            (
                "tusk_grpc_requests_total",
                vec!["method=\"/auth_v2.API/ModifyRoleBinding\"", "code=\"0\""],
            ),
            (
                "tusk_grpc_requests_total",
                vec!["method=\"/tusk.audit.v1.Audit/List\"", "code=\"7\""],
            ),
            (
                "tusk_logins_total",
                vec!["connector=\"test\"", "outcome=\"success\""],
            ),
            (
                "tusk_logins_total",
                vec!["connector=\"test\"", "outcome=\"invalid_credentials\""],
            ),
            ("tusk_token_mints_total", vec!["kind=\"code\""]),
            ("tusk_connector_up", vec!["connector=\"test\""]),
            ("tusk_build_info", vec!["version=\""]),
            ("tusk_signing_key_age_seconds", vec![]),
            ("process_resident_memory_bytes", vec![]),
            ("process_open_fds", vec![]),
            ("process_start_time_seconds", vec![]),
        ];
        for (name, labels) in series {
            let found = text.lines().any(|l| {
                l.starts_with(name)
                    && l[name.len()..].starts_with(['{', ' '])
                    && labels.iter().all(|label| l.contains(label))
            });
            assert!(found, "{name} {labels:?} missing from\n{text}");
        }
        assert!(
            text.lines()
                .any(|l| l == "tusk_connector_up{connector=\"test\"} 1"),
            "{text}"
        );

        // DeleteAll names each stored client and connector it removed.
        identity
            .delete_all(with_token(
                tusk_proto::identity_v2::DeleteAllRequest {},
                &r.root,
            ))
            .await
            .unwrap();
        let removed: Vec<(String, String, String)> = trail
            .list(with_token(
                audit::ListRequest {
                    resource: "app".into(),
                    ..Default::default()
                },
                &r.root,
            ))
            .await
            .unwrap()
            .into_inner()
            .events
            .into_iter()
            .map(|e| (e.event, e.actor, e.details))
            .collect();
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert_eq!(removed[0].0, "client_changed");
        assert_eq!(removed[0].1, "pach:root");
        assert!(
            removed[0].2.contains(r#""change":"deleted""#),
            "{removed:?}"
        );
        r.server.stop().await.unwrap();
    }

    /// A connector taken out of the configuration leaves `/metrics` with
    /// it, instead of reporting its last state forever.
    #[tokio::test]
    async fn connector_gauges_follow_the_live_connectors() {
        let r = start().await;
        let scrape = || async {
            reqwest::get(format!("http://{}/metrics", r.server.addr))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        };
        let text = scrape().await;
        assert!(
            text.contains("tusk_connector_up{connector=\"test\"} 1"),
            "{text}"
        );
        r.provider.set_connectors(&[ConnectorConfig {
            id: "other".into(),
            name: "Other".into(),
            kind: "mockCallback".into(),
            config: json!({}),
        }]);
        let mut text = String::new();
        // Connectors open in the background; wait for the new one.
        for _ in 0..200 {
            text = scrape().await;
            if text.contains("tusk_connector_up{connector=\"other\"} 1") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(
            text.contains("tusk_connector_up{connector=\"other\"} 1"),
            "{text}"
        );
        assert!(!text.contains("connector=\"test\"} "), "{text}");
        r.server.stop().await.unwrap();
    }

    /// Robot tokens, revocation, root-token rotation and deactivation are
    /// recorded with the admin who did them.
    /// Issue 11: the auth plane's OIDC settings (`SetConfiguration`) and the
    /// identity server's (`SetIdentityServerConfig`) are security settings:
    /// each change is audited with its actor, and never with its secret.
    #[tokio::test]
    async fn settings_changes_are_audited_without_their_secrets() {
        let r = start().await;
        let secret = "settings-secret-7c1e9a0b";
        auth_v2::api_client::ApiClient::new(channel(r.server.addr).await)
            .set_configuration(with_token(
                auth_v2::SetConfigurationRequest {
                    configuration: Some(auth_v2::OidcConfig {
                        client_secret: secret.into(),
                        ..Default::default()
                    }),
                },
                &r.root,
            ))
            .await
            .unwrap();
        let mut identity =
            tusk_proto::identity_v2::api_client::ApiClient::new(channel(r.server.addr).await);
        let current = identity
            .get_identity_server_config(with_token(
                tusk_proto::identity_v2::GetIdentityServerConfigRequest {},
                &r.root,
            ))
            .await
            .unwrap()
            .into_inner()
            .config;
        identity
            .set_identity_server_config(with_token(
                tusk_proto::identity_v2::SetIdentityServerConfigRequest { config: current },
                &r.root,
            ))
            .await
            .unwrap();
        let events: Vec<Value> = r
            .store
            .list_audit(&Default::default())
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|e| serde_json::to_value(&e.event).unwrap())
            .collect();
        let text = serde_json::to_string(&events).unwrap();
        assert!(!text.contains(secret), "{text}");
        assert_eq!(
            events[events.len() - 2..],
            [
                json!({"event": "settings_changed", "actor": "pach:root", "settings": "auth"}),
                json!({"event": "settings_changed", "actor": "pach:root", "settings": "identity"}),
            ]
        );
        r.server.stop().await.unwrap();
    }

    #[tokio::test]
    async fn admin_acts_on_tokens_and_activation_are_audited() {
        let r = start().await;
        let mut auth = auth_v2::api_client::ApiClient::new(channel(r.server.addr).await);
        let robot = auth
            .get_robot_token(with_token(
                auth_v2::GetRobotTokenRequest {
                    robot: "ci".into(),
                    ttl: 0,
                },
                &r.root,
            ))
            .await
            .unwrap()
            .into_inner()
            .token;
        auth.revoke_auth_token(with_token(
            auth_v2::RevokeAuthTokenRequest {
                token: robot.clone(),
            },
            &r.root,
        ))
        .await
        .unwrap();
        let second = auth
            .get_robot_token(with_token(
                auth_v2::GetRobotTokenRequest {
                    robot: "robot:ci".into(),
                    ttl: 0,
                },
                &r.root,
            ))
            .await
            .unwrap()
            .into_inner()
            .token;
        auth.revoke_auth_tokens_for_user(with_token(
            auth_v2::RevokeAuthTokensForUserRequest {
                username: "robot:ci".into(),
            },
            &r.root,
        ))
        .await
        .unwrap();
        let new_root = auth
            .rotate_root_token(with_token(
                auth_v2::RotateRootTokenRequest::default(),
                &r.root,
            ))
            .await
            .unwrap()
            .into_inner()
            .root_token;
        tusk_proto::license_v2::api_client::ApiClient::new(channel(r.server.addr).await)
            .delete_all(with_token(
                tusk_proto::license_v2::DeleteAllRequest {},
                &new_root,
            ))
            .await
            .unwrap();
        auth.deactivate(with_token(auth_v2::DeactivateRequest {}, &new_root))
            .await
            .unwrap();
        let events: Vec<Value> = r
            .store
            .list_audit(&Default::default())
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|e| serde_json::to_value(&e.event).unwrap())
            .collect();
        let text = serde_json::to_string(&events).unwrap();
        for secret in [&robot, &second, &r.root, &new_root] {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
        let tail: Vec<Value> = events[events.len() - 7..].to_vec();
        assert_eq!(
            tail,
            [
                json!({"event": "token_minted", "actor": "pach:root", "subject": "robot:ci", "kind": "robot", "client": null}),
                json!({"event": "token_revoked", "actor": null, "subject": "robot:ci", "count": 1}),
                json!({"event": "token_minted", "actor": "pach:root", "subject": "robot:ci", "kind": "robot", "client": null}),
                json!({"event": "token_revoked", "actor": "pach:root", "subject": "robot:ci", "count": 1}),
                json!({"event": "root_token_rotated", "actor": "pach:root"}),
                json!({"event": "license_changed", "actor": "pach:root"}),
                json!({"event": "deactivated", "actor": "pach:root"}),
            ]
        );
        r.server.stop().await.unwrap();
    }
}

#[path = "../../tusk-connector/tests/connectors/github/standin.rs"]
mod github_standin;

/// A login through the `github` connector, end to end: the relying party
/// → tusk → the GitHub stand-in (Enterprise form, TLS with a generated CA)
/// → tusk's callback → a code → an ID token with `org:team` groups; then
/// refresh after the user leaves the organization is refused.
mod github_login {
    use super::*;
    use base64::Engine;
    use tusk_oidc::ConnectorConfig;
    use tusk_store::OidcClient;

    use super::github_standin as standin;

    const RP: &str = "http://127.0.0.1:9/cb";

    fn form(pairs: &[(&str, &str)]) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    fn claims(jwt: &str) -> Value {
        let payload = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn login_through_github_yields_org_team_groups_and_refresh_ends_with_membership() {
        let gh = standin::StandIn::start_tls().await;
        let port = Port::bind().await.unwrap();
        let issuer = port.issuer();
        gh.set_callback(&format!("{issuer}/callback"));
        let store = Store::memory();
        let connectors = [ConnectorConfig {
            id: "github".into(),
            name: "GitHub".into(),
            kind: "github".into(),
            config: json!({
                "clientID": standin::CLIENT_ID,
                "clientSecret": standin::CLIENT_SECRET,
                "redirectURI": format!("{issuer}/callback"),
                "hostName": gh.host_name(),
                "rootCA": gh.ca_pem.clone().unwrap(),
                "orgs": [{"name": "acme", "teams": ["Admins", "data-engineers"]}],
                "teamNameField": "both",
            }),
        }];
        let clients = [OidcClient {
            id: "app".into(),
            secret: Secret::new("app-secret".into()),
            name: "App".into(),
            redirect_uris: vec![RP.into()],
            trusted: true,
            ..Default::default()
        }];
        let options = provider_options(&issuer, &store, &connectors, &clients).await;
        let server = TestServer::start_on(port, store.clone(), options);
        let tusk = crate::browser_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let github = gh.client();

        // The browser: follow redirects between tusk and GitHub until the
        // relying party's redirect URI.
        let mut next = format!(
            "{issuer}/auth?client_id=app&redirect_uri={RP}&response_type=code&scope=openid+email+profile+groups+offline_access&state=rp-state"
        );
        let mut saw_github = false;
        let code = loop {
            if next.starts_with(RP) {
                let u = url::Url::parse(&next).unwrap();
                let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
                assert_eq!(q["state"], "rp-state");
                break q["code"].clone();
            }
            let on_github = next.starts_with(&gh.origin());
            saw_github |= on_github;
            let resp = if on_github { &github } else { &tusk }
                .get(&next)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let Some(location) = resp.headers().get("location").cloned() else {
                let body = resp.text().await.unwrap();
                panic!("{next}: {status} without a redirect: {body}");
            };
            let location = location.to_str().unwrap();
            next = if location.starts_with('/') {
                server.url("http", location)
            } else {
                location.to_owned()
            };
        };
        assert!(saw_github, "the login went through the stand-in");

        let tokens: Value = tusk
            .post(format!("{issuer}/token"))
            .basic_auth("app", Some("app-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", RP),
            ]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["email"], "octocat@github.example", "{id}");
        assert_eq!(id["name"], "The Octocat", "{id}");
        assert_eq!(id["preferred_username"], "octocat", "{id}");
        assert_eq!(
            id["groups"],
            json!(["acme:data-engineers", "acme:Admins"]),
            "{id}"
        );
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

        // Still in the org: refresh works and re-reads the teams.
        gh.leave_team("octocat", "acme", "admins");
        let resp = tusk
            .post(format!("{issuer}/token"))
            .basic_auth("app", Some("app-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let tokens: Value = resp.json().await.unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["groups"], json!(["acme:data-engineers"]), "{id}");

        // Left the org: the next refresh is refused, naming why.
        gh.leave_org("octocat", "acme");
        let resp = tusk
            .post(format!("{issuer}/token"))
            .basic_auth("app", Some("app-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("is not a member of an organization allowed to log in here"),
            "{body}"
        );
        assert!(!body.to_string().contains(standin::CLIENT_SECRET));
        server.stop().await.unwrap();
    }
}
