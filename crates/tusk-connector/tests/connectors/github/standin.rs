//! A stand-in for GitHub (github.com or Enterprise Server), answering with
//! the documented REST and OAuth shapes kept in `fixtures/`: the OAuth
//! authorize and token endpoints (with PKCE checked and codes single use),
//! `/user`, `/user/emails`, `/user/orgs`, `/user/teams` (two per page, with
//! GitHub's `Link` header), the membership check and `/rate_limit`. It is
//! not GitHub: it answers what the documentation says GitHub answers.
//!
//! Shared by tusk-connector's tests and the server's end-to-end test
//! (`#[path]`), so it uses only axum, tokio, rustls, rcgen and serde_json.

#![allow(dead_code)]

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const CLIENT_ID: &str = "Iv1.standin0client";
pub const CLIENT_SECRET: &str = "standin-client-s3cret-0123456789abcdef";
/// Two entries per page, so every list with more is paginated.
pub const PAGE_SIZE: usize = 2;

fn fixture(name: &str) -> Value {
    let text = match name {
        "users" => include_str!("fixtures/users.json"),
        "emails" => include_str!("fixtures/emails.json"),
        "orgs" => include_str!("fixtures/orgs.json"),
        "teams" => include_str!("fixtures/teams.json"),
        "oauth" => include_str!("fixtures/oauth.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).expect("fixture parses")
}

struct Pending {
    login: String,
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
}

pub struct GhState {
    /// `http(s)://host:port`, what Link headers point at.
    pub origin: String,
    users: Mutex<Value>,
    emails: Mutex<Value>,
    orgs: Mutex<Value>,
    teams: Mutex<Value>,
    oauth: Value,
    /// The login the next authorize request approves, as if that user
    /// were signed in at GitHub in the browser.
    pub browser_user: Mutex<String>,
    /// The OAuth app's registered callback URL.
    pub callback: Mutex<String>,
    codes: Mutex<HashMap<String, Pending>>,
    tokens: Mutex<HashMap<String, String>>,
    counter: AtomicU64,
    /// Non-zero: every API call answers this status.
    pub api_status: AtomicU16,
    /// Non-zero: `/user/emails` alone answers this status, as it does for
    /// tokens without the email permission (fine-grained tokens, GitHub
    /// Apps without "Email addresses").
    pub emails_status: AtomicU16,
    /// Milliseconds every API call waits first.
    pub api_delay_ms: AtomicU64,
    pub token_forms: Mutex<Vec<HashMap<String, String>>>,
    pub api_calls: Mutex<Vec<String>>,
    pub token_calls: AtomicUsize,
    /// When set, page links point at this origin instead (a hostile page).
    pub link_origin: Mutex<Option<String>>,
    /// Scopes granted by the last authorize, as GitHub reports them.
    pub last_scope: Mutex<String>,
    /// Non-zero: tokens expire after this many seconds and come with a
    /// refresh token, as a GitHub App's expiring user tokens do.
    pub expires_in: AtomicU64,
    refresh_tokens: Mutex<HashMap<String, String>>,
}

pub struct StandIn {
    pub state: Arc<GhState>,
    pub addr: SocketAddr,
    /// The CA's PEM when the stand-in speaks TLS.
    pub ca_pem: Option<String>,
}

impl StandIn {
    /// Plain HTTP on 127.0.0.1: the API at `/api/v3`, OAuth at `/login/oauth`.
    pub async fn start() -> StandIn {
        StandIn::launch(false).await
    }

    /// HTTPS on `localhost` with a freshly generated CA: GitHub Enterprise
    /// Server at `hostName: localhost:<port>` with `rootCA`.
    pub async fn start_tls() -> StandIn {
        StandIn::launch(true).await
    }

    async fn launch(tls: bool) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = if tls {
            format!("https://localhost:{}", addr.port())
        } else {
            format!("http://127.0.0.1:{}", addr.port())
        };
        let state = Arc::new(GhState {
            origin,
            users: Mutex::new(fixture("users")),
            emails: Mutex::new(fixture("emails")),
            orgs: Mutex::new(fixture("orgs")),
            teams: Mutex::new(fixture("teams")),
            oauth: fixture("oauth"),
            browser_user: Mutex::new("octocat".into()),
            callback: Mutex::new("https://pach.example/dex/callback".into()),
            codes: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(1),
            api_status: AtomicU16::new(0),
            emails_status: AtomicU16::new(0),
            api_delay_ms: AtomicU64::new(0),
            token_forms: Mutex::new(Vec::new()),
            api_calls: Mutex::new(Vec::new()),
            token_calls: AtomicUsize::new(0),
            link_origin: Mutex::new(None),
            last_scope: Mutex::new(String::new()),
            expires_in: AtomicU64::new(0),
            refresh_tokens: Mutex::new(HashMap::new()),
        });
        let app = router(state.clone());
        let mut ca_pem = None;
        if tls {
            let (acceptor, ca) = tls_acceptor();
            ca_pem = Some(ca);
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let acceptor = acceptor.clone();
                    let app = app.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = hyper_util::service::TowerToHyperService::new(app);
                        let _ = hyper_util::server::conn::auto::Builder::new(
                            hyper_util::rt::TokioExecutor::new(),
                        )
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                    });
                }
            });
        } else {
            tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            });
        }
        StandIn {
            state,
            addr,
            ca_pem,
        }
    }

    pub fn origin(&self) -> String {
        self.state.origin.clone()
    }

    pub fn api(&self) -> String {
        format!("{}/api/v3", self.state.origin)
    }

    /// `hostName` for the Enterprise form.
    pub fn host_name(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    pub fn set_browser_user(&self, login: &str) {
        *self.state.browser_user.lock().unwrap() = login.into();
    }

    pub fn set_callback(&self, url: &str) {
        *self.state.callback.lock().unwrap() = url.into();
    }

    /// The user leaves `org`: it goes from their orgs and its teams from
    /// their teams.
    pub fn leave_org(&self, login: &str, org: &str) {
        if let Some(list) = self.state.orgs.lock().unwrap()[login].as_array_mut() {
            list.retain(|o| o["login"] != org);
        }
        if let Some(list) = self.state.teams.lock().unwrap()[login].as_array_mut() {
            list.retain(|t| t["organization"]["login"] != org);
        }
    }

    /// Adds a team membership, e.g. `("octocat", "acme", "Ops", "ops")`.
    pub fn join_team(&self, login: &str, org: &str, name: &str, slug: &str) {
        if let Some(list) = self.state.teams.lock().unwrap()[login].as_array_mut() {
            list.push(json!({"id": 99, "name": name, "slug": slug, "privacy": "closed", "organization": {"login": org, "id": 1}}));
        }
    }

    /// Removes a team membership by slug.
    pub fn leave_team(&self, login: &str, org: &str, slug: &str) {
        if let Some(list) = self.state.teams.lock().unwrap()[login].as_array_mut() {
            list.retain(|t| !(t["organization"]["login"] == org && t["slug"] == slug));
        }
    }

    /// Revokes every access token (the user removed the OAuth app).
    pub fn revoke_all(&self) {
        self.state.tokens.lock().unwrap().clear();
    }

    pub fn set_user_field(&self, login: &str, key: &str, value: Value) {
        self.state.users.lock().unwrap()[login][key] = value;
    }

    /// Follows a login URL the connector built, as a browser signed in as
    /// the browser user would: returns the callback's query pairs.
    pub async fn authorize(&self, login_url: &str) -> Vec<(String, String)> {
        let http = self.client();
        let resp = http.get(login_url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "authorize: {resp:?}");
        let location = resp.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// A client that trusts the stand-in and follows no redirects.
    pub fn client(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &self.ca_pem {
            b = b.tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem.as_bytes()).unwrap());
        }
        b.build().unwrap()
    }
}

fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "GitHub stand-in test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let certs = vec![leaf.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca.pem())
}

fn router(state: Arc<GhState>) -> Router {
    Router::new()
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(access_token))
        .route("/api/v3/user", get(user))
        .route("/api/v3/user/emails", get(emails))
        .route("/api/v3/user/orgs", get(orgs))
        .route("/api/v3/user/teams", get(teams))
        .route("/api/v3/orgs/{org}/members/{user}", get(member))
        .route("/api/v3/rate_limit", get(rate_limit))
        .with_state(state)
}

async fn authorize(
    State(s): State<Arc<GhState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        // GitHub shows its 404 page for an unknown client_id.
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let registered = s.callback.lock().unwrap().clone();
    let redirect = q.get("redirect_uri").cloned().unwrap_or(registered.clone());
    let state = q.get("state").cloned().unwrap_or_default();
    if redirect != registered {
        let to = format!(
            "{registered}?error=redirect_uri_mismatch&error_description={}&state={state}",
            "The+redirect_uri+MUST+match+the+registered+callback+URL+for+this+application."
        );
        return (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    }
    let n = s.counter.fetch_add(1, Ordering::SeqCst);
    let code = format!("code{n:016x}");
    let challenge = match q.get("code_challenge_method").map(String::as_str) {
        Some("S256") => q.get("code_challenge").cloned(),
        _ => None,
    };
    let scope = q.get("scope").cloned().unwrap_or_default();
    s.codes.lock().unwrap().insert(
        code.clone(),
        Pending {
            login: s.browser_user.lock().unwrap().clone(),
            redirect_uri: redirect.clone(),
            challenge,
            scope,
        },
    );
    let mut to = url::Url::parse(&redirect).unwrap();
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state);
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

async fn access_token(
    State(s): State<Arc<GhState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    s.token_calls.fetch_add(1, Ordering::SeqCst);
    s.token_forms.lock().unwrap().push(form.clone());
    let error = |name: &str| axum::Json(s.oauth[name].clone()).into_response();
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return error("incorrect_client_credentials");
    }
    if form.get("grant_type").map(String::as_str) == Some("refresh_token") {
        // Rotation: the old refresh token and its access tokens end.
        let old = form.get("refresh_token").cloned().unwrap_or_default();
        let Some(login) = s.refresh_tokens.lock().unwrap().remove(&old) else {
            return error("bad_refresh_token");
        };
        s.tokens.lock().unwrap().retain(|_, l| *l != login);
        return issue(&s, &login, "read:org,user:email");
    }
    let Some(code) = form.get("code") else {
        return error("bad_verification_code");
    };
    // Single use: taken whatever happens next.
    let Some(pending) = s.codes.lock().unwrap().remove(code) else {
        return error("bad_verification_code");
    };
    if let Some(r) = form.get("redirect_uri")
        && *r != pending.redirect_uri
    {
        return error("redirect_uri_mismatch");
    }
    if let Some(challenge) = &pending.challenge {
        let ok = form.get("code_verifier").is_some_and(|v| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
                == *challenge
        });
        if !ok {
            return error("bad_verification_code");
        }
    }
    let granted = pending.scope.replace(' ', ",");
    *s.last_scope.lock().unwrap() = granted.clone();
    issue(&s, &pending.login, &granted)
}

/// A new access token (and, for expiring tokens, a refresh token).
fn issue(s: &GhState, login: &str, scope: &str) -> Response {
    let n = s.counter.fetch_add(1, Ordering::SeqCst);
    let token = format!("gho_standin{n:024x}");
    s.tokens
        .lock()
        .unwrap()
        .insert(token.clone(), login.to_owned());
    let mut body = s.oauth["token"].clone();
    body["access_token"] = json!(token);
    body["scope"] = json!(scope);
    let expires_in = s.expires_in.load(Ordering::SeqCst);
    if expires_in > 0 {
        let refresh = format!("ghr_standin{n:024x}");
        s.refresh_tokens
            .lock()
            .unwrap()
            .insert(refresh.clone(), login.to_owned());
        body["expires_in"] = json!(expires_in);
        body["refresh_token"] = json!(refresh);
        body["refresh_token_expires_in"] = json!(15_897_600);
    }
    axum::Json(body).into_response()
}

/// The login behind the request's token, or the answer to give instead.
async fn authed(s: &GhState, headers: &HeaderMap, what: &str) -> Result<String, Response> {
    s.api_calls.lock().unwrap().push(what.to_owned());
    let delay = s.api_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    match s.api_status.load(Ordering::SeqCst) {
        0 => {}
        403 => {
            return Err((
                StatusCode::FORBIDDEN,
                [
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-limit", "5000"),
                ],
                axum::Json(s.oauth["rate_limited"].clone()),
            )
                .into_response());
        }
        code => {
            return Err((
                StatusCode::from_u16(code).unwrap(),
                axum::Json(s.oauth["server_error"].clone()),
            )
                .into_response());
        }
    }
    if headers.get("x-github-api-version").is_none() {
        return Err((StatusCode::BAD_REQUEST, "no X-GitHub-Api-Version").into_response());
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
        })
        .unwrap_or("");
    match s.tokens.lock().unwrap().get(token) {
        Some(login) => Ok(login.clone()),
        None => Err((
            StatusCode::UNAUTHORIZED,
            axum::Json(s.oauth["bad_credentials"].clone()),
        )
            .into_response()),
    }
}

async fn user(State(s): State<Arc<GhState>>, headers: HeaderMap) -> Response {
    match authed(&s, &headers, "/user").await {
        Ok(login) => axum::Json(s.users.lock().unwrap()[&login].clone()).into_response(),
        Err(r) => r,
    }
}

/// One page of a list, with GitHub's `Link` header.
fn page(s: &GhState, path: &str, all: &Value, q: &HashMap<String, String>) -> Response {
    let items = all.as_array().cloned().unwrap_or_default();
    let per_page = q
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, PAGE_SIZE);
    let n = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let chunk: Vec<Value> = items
        .into_iter()
        .skip((n - 1) * per_page)
        .take(per_page)
        .collect();
    let origin = s
        .link_origin
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| s.origin.clone());
    let link_to = |p: usize, rel: &str| {
        format!("<{origin}/api/v3{path}?per_page={per_page}&page={p}>; rel=\"{rel}\"")
    };
    let mut links = Vec::new();
    if n < last {
        links.push(link_to(n + 1, "next"));
        links.push(link_to(last, "last"));
    }
    if n > 1 {
        links.push(link_to(1, "first"));
        links.push(link_to(n - 1, "prev"));
    }
    let mut resp = axum::Json(Value::Array(chunk)).into_response();
    if !links.is_empty() {
        resp.headers_mut()
            .insert("link", links.join(", ").parse().unwrap());
    }
    resp
}

async fn emails(
    State(s): State<Arc<GhState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match authed(&s, &headers, "/user/emails").await {
        Ok(_) if s.emails_status.load(Ordering::SeqCst) != 0 => (
            StatusCode::from_u16(s.emails_status.load(Ordering::SeqCst)).unwrap(),
            axum::Json(json!({
                "message": "Resource not accessible by integration",
                "documentation_url": "https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user",
                "status": "403"
            })),
        )
            .into_response(),
        Ok(login) => {
            let all = s.emails.lock().unwrap()[&login].clone();
            page(&s, "/user/emails", &all, &q)
        }
        Err(r) => r,
    }
}

async fn orgs(
    State(s): State<Arc<GhState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match authed(&s, &headers, "/user/orgs").await {
        Ok(login) => {
            let all = s.orgs.lock().unwrap()[&login].clone();
            page(&s, "/user/orgs", &all, &q)
        }
        Err(r) => r,
    }
}

async fn teams(
    State(s): State<Arc<GhState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match authed(&s, &headers, "/user/teams").await {
        Ok(login) => {
            let all = s.teams.lock().unwrap()[&login].clone();
            page(&s, "/user/teams", &all, &q)
        }
        Err(r) => r,
    }
}

/// 204 when `user` is a member of `org` (the requester is the user
/// themself); 404 when not.
async fn member(
    State(s): State<Arc<GhState>>,
    headers: HeaderMap,
    Path((org, who)): Path<(String, String)>,
) -> Response {
    match authed(&s, &headers, &format!("/orgs/{org}/members/{who}")).await {
        Ok(login) => {
            let orgs = s.orgs.lock().unwrap()[&who].clone();
            let member = login == who
                && orgs.as_array().is_some_and(|l| {
                    l.iter().any(|o| {
                        o["login"]
                            .as_str()
                            .is_some_and(|x| x.eq_ignore_ascii_case(&org))
                    })
                });
            if member {
                StatusCode::NO_CONTENT.into_response()
            } else {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})),
                )
                    .into_response()
            }
        }
        Err(r) => r,
    }
}

async fn rate_limit(State(s): State<Arc<GhState>>) -> Response {
    match s.api_status.load(Ordering::SeqCst) {
        0 => axum::Json(s.oauth["rate_limit"].clone()).into_response(),
        code => (
            StatusCode::from_u16(code).unwrap(),
            axum::Json(s.oauth["server_error"].clone()),
        )
            .into_response(),
    }
}
