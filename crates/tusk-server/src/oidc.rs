//! The OpenID provider's HTTP face, mounted under the issuer's path. Each
//! handler parses the request, calls `tusk_oidc::Provider`, and renders the
//! result; protocol rules live in tusk-oidc.

use crate::cookies::{self, CookieJar};
use crate::errors::{BAD_USER_CODE, WRONG_PASSWORD, oauth_error, rate_limited};
use crate::pages::Pages;
use crate::prebuilt::Prebuilt;
use crate::ratelimit::{Limiter, RateLimits};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde_json::json;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tusk_core::Secret;
use tusk_oidc::{
    AuthorizeError, ErrorCode, LogoutOutcome, Next, OAuthError, Params, PasswordOutcome, Provider,
};

#[derive(Clone)]
pub struct Oidc {
    inner: Arc<Inner>,
}

struct Inner {
    provider: Arc<Provider>,
    pages: Pages,
    password_limit: Limiter,
    token_limit: Limiter,
    authorize_limit: Limiter,
    /// The issuer's path (`/dex`), prefixed to links in pages.
    base: String,
    cookies: CookieJar,
    /// Discovery and the JWKS as ready responses with ETags (`prebuilt`).
    discovery: Prebuilt,
    jwks: Prebuilt,
}

impl Oidc {
    pub fn new(provider: Arc<Provider>, pages: Pages, limits: RateLimits) -> Oidc {
        let base = url_path(&provider.settings().issuer);
        let cookies = CookieJar::new(&provider.settings().issuer, &base);
        let jwks_cache = HeaderValue::from_str(&format!(
            "max-age={}, must-revalidate",
            provider.jwks_max_age()
        ))
        .ok();
        Oidc {
            inner: Arc::new(Inner {
                provider,
                pages,
                password_limit: Limiter::per_minute(limits.password_per_minute),
                token_limit: Limiter::per_minute(limits.token_per_minute),
                authorize_limit: Limiter::per_minute(limits.authorize_per_minute),
                base,
                cookies,
                discovery: Prebuilt::new(None),
                jwks: Prebuilt::new(jwks_cache),
            }),
        }
    }

    pub fn provider(&self) -> &Arc<Provider> {
        &self.inner.provider
    }

    /// The path the routes are mounted at: the issuer URL's path.
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    /// The pages, for the auth plane's login callback page.
    pub fn pages(&self) -> &Pages {
        &self.inner.pages
    }

    pub fn prune_limits(&self) {
        self.inner.password_limit.prune();
        self.inner.token_limit.prune();
        self.inner.authorize_limit.prune();
    }
}

pub fn url_path(issuer: &str) -> String {
    url::Url::parse(issuer)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// The provider's routes, relative to the issuer path.
pub fn routes(state: Oidc) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/keys", get(keys))
        .route("/healthz", get(|| async { "Health check passed" }))
        .route("/auth", get(authorize).post(authorize_post))
        .route("/auth/{connector}", get(start_connector))
        .route("/choose", get(choose))
        .route(
            "/auth/{connector}/login",
            get(password_form).post(password_login),
        )
        .route("/callback", get(callback).post(callback_post))
        .route(
            "/callback/{connector}",
            get(callback_connector).post(callback_connector_post),
        )
        .route("/callback/{connector}/finish", get(callback_finish))
        .route("/saml/{connector}/metadata", get(saml_metadata))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/token/introspect", post(introspect))
        .route("/token/revoke", post(revoke))
        .route("/device/code", post(device_code))
        .route("/device", get(device_page).post(device_submit))
        .route("/device/auth/verify_code", post(device_submit))
        .route("/device/confirm", post(device_confirm))
        .route("/consent", post(consent))
        .route("/logout", get(logout_get).post(logout_post))
        .route("/logout/callback", get(logout_callback))
        .with_state(state)
}

/// The client's address for rate limits: the one the accept loop derived
/// (behind trusted proxies, the proxy's report), else the TCP peer; tests
/// that call the router directly have neither, and share one bucket.
pub struct ClientIp(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let ip = match parts.extensions.get::<crate::client::ClientAddr>() {
            Some(c) => c.0,
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        };
        Ok(ClientIp(ip))
    }
}

fn cors(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

fn json_body(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn discovery(State(s): State<Oidc>, headers: HeaderMap) -> Response {
    let p = &s.inner.provider;
    cors(s.inner.discovery.respond(p.discovery_json(), &headers))
}

async fn keys(State(s): State<Oidc>, headers: HeaderMap) -> Response {
    let p = &s.inner.provider;
    cors(s.inner.jwks.respond(p.jwks_json(), &headers))
}

fn query(uri: &Uri) -> Result<Params, OAuthError> {
    Params::parse(uri.query().unwrap_or_default().as_bytes())
}

fn authorization(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str().map_err(|_| {
                OAuthError::new(
                    ErrorCode::InvalidRequest,
                    "the Authorization header is not ASCII",
                )
            })
        })
        .transpose()
}

impl Oidc {
    fn page_error(&self, e: &tusk_oidc::PageError) -> Response {
        self.inner.pages.error(e)
    }

    fn next(&self, next: Next) -> Response {
        self.next_in(next, &HeaderMap::new())
    }

    /// [`Self::next`] for a request whose cookies matter: the chooser puts
    /// the login method the browser last used first.
    fn next_in(&self, next: Next, request: &HeaderMap) -> Response {
        match next {
            Next::Redirect(url) => Redirect::to(&url).into_response(),
            Next::SignedIn { redirect, session, connector_id } => {
                let mut r = Redirect::to(&redirect).into_response();
                let lifetime = self.inner.provider.settings().sessions.map_or(0, |p| p.absolute_lifetime);
                let jar = &self.inner.cookies;
                for cookie in [
                    jar.set(cookies::SESSION, session.0.expose(), lifetime),
                    jar.set(cookies::CONNECTOR, &encode(&connector_id), 365 * 24 * 3600),
                ]
                .into_iter()
                .flatten()
                {
                    r.headers_mut().append(header::SET_COOKIE, cookie);
                }
                r
            }
            Next::Choose { request_id, connectors } => {
                let last = cookies::values(request, cookies::CONNECTOR).pop();
                let mut items: Vec<_> = connectors
                    .iter()
                    .map(|c| {
                        let last = last.as_deref() == Some(encode(&c.id).as_str());
                        // No reason reaches the page: it is the internal
                        // chain, which the log and /readyz hold.
                        json!({
                            "name": c.name,
                            "kind": c.kind,
                            "ok": c.status.is_ok(),
                            "fault": c.fault().map(tusk_oidc::Fault::as_str),
                            "href": format!("{}/auth/{}?req={}", self.inner.base, encode(&c.id), encode(&request_id)),
                            "last": last,
                        })
                    })
                    .collect();
                // A stable sort: the last used first, the rest as configured.
                items.sort_by_key(|i| !i["last"].as_bool().unwrap_or(false));
                self.inner.pages.render(StatusCode::OK, "chooser.html", minijinja::context! { connectors => items })
            }
            Next::DeviceApproved { client_name } => self.inner.pages.success(
                "Device connected",
                &format!("You are logged in on {client_name}. You may close this window and return to your device."),
            ),
            Next::DeviceDenied { client_name } => self.inner.pages.message(
                "Sign-in cancelled",
                &format!("{client_name} was not signed in. You may close this window."),
            ),
            Next::ConfirmDevice(c) => self.inner.pages.render(
                StatusCode::OK,
                "device_confirm.html",
                minijinja::context! {
                    client_name => c.client_name,
                    user_code => c.user_code,
                    request_id => c.request_id,
                    token => c.token,
                    action => format!("{}/device/confirm", self.inner.base),
                },
            ),
            Next::Consent(c) => {
                let words = |v: &[tusk_oidc::ScopeWords]| -> Vec<_> {
                    v.iter().map(|s| json!({"scope": s.scope, "words": s.words})).collect()
                };
                self.inner.pages.render(
                    StatusCode::OK,
                    "consent.html",
                    minijinja::context! {
                        client_name => c.client_name,
                        scopes => words(&c.scopes),
                        granted => words(&c.granted),
                        request_id => c.request_id,
                        token => c.token,
                        action => format!("{}/consent", self.inner.base),
                    },
                )
            }
        }
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn bad_page(e: OAuthError) -> tusk_oidc::PageError {
    tusk_oidc::PageError::bad_request(
        "This link isn't valid",
        "The link or form you used is incomplete or malformed. Go back to the application and start again.",
        format!("malformed parameters: {}", e.description),
    )
}

/// A 429 page: the user waits `wait` seconds; the limit's name goes to the
/// log.
fn too_many(title: &str, message: String, detail: &str) -> tusk_oidc::PageError {
    tusk_oidc::PageError::new(429, tusk_oidc::Fault::Transient, title, message, detail)
}

async fn authorize(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    authorize_raw(&s, ip, &headers, uri.query().unwrap_or_default().as_bytes()).await
}

/// OIDC Core §3.1.2.1: the authorization endpoint takes POST as well, with
/// the same parameters as a form.
async fn authorize_post(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize_raw(&s, ip, &headers, &body).await
}

impl Oidc {
    /// The browser's session and login-binding cookies, for the provider
    /// to look up.
    fn browser(&self, headers: &HeaderMap) -> tusk_oidc::Browser {
        tusk_oidc::Browser {
            session_cookies: cookies::values(headers, cookies::SESSION),
            login_bindings: cookies::values(headers, self.inner.cookies.binding_name()),
        }
    }

    /// [`Self::browser`] for a step that may start a login (`/auth`,
    /// `/device`): the browser gets a login binding if it has none, and
    /// `Bound::on` adds its cookie to the response.
    fn starting_browser(&self, headers: &HeaderMap) -> (tusk_oidc::Browser, Bound) {
        let mut browser = self.browser(headers);
        let fresh = browser.bind();
        let cookie = fresh.and_then(|b| {
            let jar = &self.inner.cookies;
            jar.set(jar.binding_name(), b.0.expose(), cookies::BINDING_LIFETIME)
        });
        (browser, Bound(cookie))
    }
}

/// The `Set-Cookie` of a login binding the browser did not have yet.
struct Bound(Option<HeaderValue>);

impl Bound {
    fn on(self, mut r: Response) -> Response {
        if let Some(c) = self.0 {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
        r
    }
}

async fn authorize_raw(s: &Oidc, ip: IpAddr, headers: &HeaderMap, raw: &[u8]) -> Response {
    use tusk_oidc::authorize::MAX_AUTHORIZE_QUERY;
    // Each valid request is stored until it expires, so anonymous callers
    // are limited in size and, per address, in requests stored (issue 11,
    // defect 2).
    if raw.len() > MAX_AUTHORIZE_QUERY {
        return s.page_error(&bad_page(OAuthError::new(
            ErrorCode::InvalidRequest,
            format!(
                "the authorization request is {} bytes, over the limit of {MAX_AUTHORIZE_QUERY} bytes; send shorter parameters",
                raw.len()
            ),
        )));
    }
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return s.page_error(&bad_page(e)),
    };
    let mut limited = None;
    let admit = || {
        s.inner.authorize_limit.check(ip).map_err(|wait| {
            limited = Some(wait);
            too_many(
                "Too many login requests",
                format!("Too many login requests came from your network. Wait {wait} seconds and try again."),
                "the client address is over tusk.rateLimit.authorizePerMinute",
            )
        })
    };
    let (browser, bound) = s.starting_browser(headers);
    let answer = s.inner.provider.authorize_browser(&params, &browser, admit);
    bound.on(
        match tusk_oidc::with_client_address(ip.to_string(), answer).await {
            Ok(next) => s.next_in(next, headers),
            Err(AuthorizeError::Page(e)) => {
                let mut r = s.page_error(&e);
                if let Some(v) = limited.and_then(|w| HeaderValue::from_str(&w.to_string()).ok()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            Err(AuthorizeError::Redirect(url)) => Redirect::to(&url).into_response(),
        },
    )
}

async fn start_connector(
    State(s): State<Oidc>,
    Path(connector): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let result = async {
        let params = query(&uri).map_err(bad_page)?;
        let req = params.require("req").map_err(bad_page)?;
        let browser = s.browser(&headers);
        s.inner
            .provider
            .start_connector(&connector, req, &browser)
            .await
    }
    .await;
    match result {
        Ok(next) => s.next(next),
        Err(e) => s.page_error(&e),
    }
}

/// `GET /choose?req=ID`: the chooser again, which error pages and the
/// password form link to as "use another sign-in method".
async fn choose(State(s): State<Oidc>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let params = query(&uri).map_err(bad_page)?;
        let req = params.require("req").map_err(bad_page)?;
        s.inner.provider.chooser(req, &s.browser(&headers)).await
    }
    .await;
    match result {
        Ok(next) => s.next(next),
        Err(e) => s.page_error(&e),
    }
}

fn password_page(s: &Oidc, form: &tusk_oidc::PasswordForm, invalid: bool, login: &str) -> Response {
    let action = format!(
        "{}/auth/{}/login?state={}",
        s.inner.base,
        encode(&form.connector_id),
        encode(&form.state)
    );
    let status = if invalid {
        WRONG_PASSWORD
    } else {
        StatusCode::OK
    };
    let chooser = (s.inner.provider.connectors().len() > 1)
        .then(|| format!("{}/choose?req={}", s.inner.base, encode(&form.state)));
    s.inner.pages.render(
        status,
        "password.html",
        minijinja::context! {
            form => json!({"connector_name": form.connector_name, "prompt": form.prompt}),
            invalid, login, action, chooser,
        },
    )
}

async fn password_form(
    State(s): State<Oidc>,
    Path(connector): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let result = async {
        let params = query(&uri).map_err(bad_page)?;
        let state = params.require("state").map_err(bad_page)?;
        let browser = s.browser(&headers);
        s.inner
            .provider
            .password_form(&connector, state, &browser)
            .await
    }
    .await;
    match result {
        Ok(form) => password_page(&s, &form, false, ""),
        Err(e) => s.page_error(&e),
    }
}

async fn password_login(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    Path(connector): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    if let Err(wait) = s.inner.password_limit.check(ip) {
        let mut r = s.page_error(&too_many(
            "Too many attempts",
            format!(
                "Too many login attempts came from your network. Wait {wait} seconds and try again."
            ),
            "the client address is over tusk.rateLimit.passwordPerMinute",
        ));
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let result = async {
        let params = query(&uri).map_err(bad_page)?;
        let state = params.require("state").map_err(bad_page)?.to_owned();
        let form = Params::parse(&body).map_err(bad_page)?;
        let login = form
            .get("login")
            .map_err(bad_page)?
            .unwrap_or_default()
            .to_owned();
        let password = Secret::new(
            form.get("password")
                .map_err(bad_page)?
                .unwrap_or_default()
                .to_owned(),
        );
        let browser = s.browser(&headers);
        let outcome = tusk_oidc::with_client_address(
            ip.to_string(),
            s.inner
                .provider
                .password_login(&connector, &state, &login, &password, ip, &browser),
        )
        .await?;
        Ok::<_, tusk_oidc::PageError>((outcome, login))
    }
    .await;
    match result {
        Ok((PasswordOutcome::Invalid(form), login)) => password_page(&s, &form, true, &login),
        Ok((PasswordOutcome::Throttled { retry_after, .. }, _)) => {
            let mut r = s.page_error(&too_many(
                "Too many attempts",
                format!("There were too many failed logins for this account. Wait {retry_after} seconds and try again."),
                "failed logins back off per account and address; see the README's Security section",
            ));
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Ok((PasswordOutcome::Busy { retry_after }, _)) => {
            let mut r = s.page_error(&too_many(
                "Sign-in is busy right now",
                format!("Your password was not checked because the service is busy. Wait {retry_after} seconds and try again."),
                "every password-hashing worker is busy and its queue is full (tusk.passwordHashing)",
            ));
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Ok((PasswordOutcome::Next(next), _)) => s.next(next),
        Err(e) => s.page_error(&e),
    }
}

async fn callback_inner(
    s: &Oidc,
    ip: IpAddr,
    connector: Option<&str>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Response {
    let params = match query(uri) {
        Ok(p) => p,
        Err(e) => return s.page_error(&bad_page(e)),
    };
    let browser = s.browser(headers);
    let login = s.inner.provider.callback(connector, &params, &browser);
    match tusk_oidc::with_client_address(ip.to_string(), login).await {
        Ok(next) => s.next(next),
        Err(e) => s.page_error(&e),
    }
}

/// The IdP's POST to the ACS (SAML HTTP-POST binding): the form's
/// `SAMLResponse` and `RelayState` go to the same connector callback as a
/// redirect's query, `RelayState` (the auth request id) read as `state`.
/// The cross-site POST carries no `SameSite=Lax` cookie, so the answer is
/// held and the browser sent to a same-origin GET (`callback_finish`),
/// where its login binding is checked; no SameSite exception is needed.
async fn callback_form(s: &Oidc, ip: IpAddr, connector: Option<&str>, body: &[u8]) -> Response {
    let params = match tusk_oidc::Params::parse(body) {
        Ok(p) => p,
        Err(e) => return s.page_error(&bad_page(e)),
    };
    let mut pairs = params.pairs().to_vec();
    let relay: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "RelayState")
        .map(|(_, v)| v.clone())
        .collect();
    if !pairs.iter().any(|(k, _)| k == "state") {
        pairs.extend(relay.into_iter().map(|v| ("state".to_owned(), v)));
    }
    let params = tusk_oidc::Params::from_pairs(pairs);
    let answer = s.inner.provider.callback_posted(connector, &params);
    match tusk_oidc::with_client_address(ip.to_string(), answer).await {
        // 303: the browser GETs the finish URL, a top-level navigation
        // that carries the binding cookie.
        Ok(Next::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(next) => s.next(next),
        Err(e) => s.page_error(&e),
    }
}

/// `GET <issuer>/callback/{connector}/finish?req=ID&token=T`: the end of a
/// login whose upstream answered by POST, in the browser it came back to.
async fn callback_finish(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    Path(connector): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let result = async {
        let params = query(&uri).map_err(bad_page)?;
        let req = params.require("req").map_err(bad_page)?;
        let token = params.require("token").map_err(bad_page)?;
        let browser = s.browser(&headers);
        let finish = s
            .inner
            .provider
            .callback_finish(&connector, req, token, &browser);
        tusk_oidc::with_client_address(ip.to_string(), finish).await
    }
    .await;
    match result {
        Ok(next) => s.next(next),
        Err(e) => s.page_error(&e),
    }
}

async fn callback(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    callback_inner(&s, ip, None, &headers, &uri).await
}

async fn callback_connector(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    Path(connector): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    callback_inner(&s, ip, Some(&connector), &headers, &uri).await
}

async fn callback_post(State(s): State<Oidc>, ClientIp(ip): ClientIp, body: Bytes) -> Response {
    callback_form(&s, ip, None, &body).await
}

async fn callback_connector_post(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    Path(connector): Path<String>,
    body: Bytes,
) -> Response {
    callback_form(&s, ip, Some(&connector), &body).await
}

/// `GET <issuer>/saml/{connector}/metadata`: the SAML SP metadata of a
/// `saml` connector, for the IdP admin to import.
async fn saml_metadata(State(s): State<Oidc>, Path(connector): Path<String>) -> Response {
    let slots = s.inner.provider.connectors();
    let text = |status: StatusCode, body: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    };
    let Some(slot) = slots.iter().find(|x| x.id == connector) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("there is no connector called `{connector}`\n"),
        );
    };
    match &slot.status {
        Ok(c) => match c.sp_metadata() {
            Some(xml) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
                xml,
            )
                .into_response(),
            None => text(
                StatusCode::NOT_FOUND,
                format!(
                    "connector `{connector}` is not a SAML connector, so it has no SP metadata\n"
                ),
            ),
        },
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("connector `{connector}` is not open; `tusk doctor` or /readyz says why\n"),
        ),
    }
}

/// Token endpoint responses must not be cached (RFC 6749 §5.1).
fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

async fn token(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(wait) = s.inner.token_limit.check(ip) {
        return rate_limited(wait);
    }
    let basic = headers.contains_key(header::AUTHORIZATION);
    let result = async {
        let auth = authorization(&headers)?;
        let params = Params::parse(&body)?;
        s.inner.provider.token(auth, &params).await
    }
    .await;
    cors(match result {
        Ok(t) => no_store(json_body(
            StatusCode::OK,
            serde_json::to_string(&t).unwrap_or_default(),
        )),
        Err(e) => oauth_error(&e, basic),
    })
}

async fn userinfo(State(s): State<Oidc>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    let result = match bearer {
        Some(token) => s.inner.provider.userinfo(token.trim()).await,
        None => Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "send the access token as `Authorization: Bearer <token>`",
        )),
    };
    cors(match result {
        Ok(claims) => no_store(json_body(StatusCode::OK, claims.to_string())),
        Err(e) => {
            let mut r = oauth_error(&e, false);
            if e.code == ErrorCode::InvalidToken {
                let challenge = format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    e.description.replace('"', "'")
                );
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
            r
        }
    })
}

/// The token of `Authorization: Bearer <token>`. The scheme name is
/// case-insensitive (RFC 7235 §2.1), so `BEARER` and `bearer` count too.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// The client-authenticated form endpoints share one shape: parse the form,
/// call the provider with the `Authorization` header, answer JSON or the
/// OAuth error (a 401 challenge when the client tried Basic).
/// They check client secrets, so they share /token's rate limit.
async fn form_endpoint<T, Fut>(
    limit: &Limiter,
    ip: IpAddr,
    headers: HeaderMap,
    body: Bytes,
    call: impl FnOnce(Option<String>, Params) -> Fut,
    ok: impl FnOnce(T) -> Response,
) -> Response
where
    Fut: std::future::Future<Output = Result<T, OAuthError>>,
{
    if let Err(wait) = limit.check(ip) {
        return rate_limited(wait);
    }
    let basic = headers.contains_key(header::AUTHORIZATION);
    let prepared = Params::parse(&body)
        .and_then(|params| Ok((authorization(&headers)?.map(str::to_owned), params)));
    let result = match prepared {
        Ok((auth, params)) => call(auth, params).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => ok(v),
        Err(e) => oauth_error(&e, basic),
    }
}

fn json_ok(v: serde_json::Value) -> Response {
    no_store(json_body(StatusCode::OK, v.to_string()))
}

async fn introspect(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let limit = &s.inner.token_limit;
    let provider = s.inner.provider.clone();
    let call = |auth: Option<String>, p: Params| async move {
        provider.introspect(auth.as_deref(), &p).await
    };
    form_endpoint(limit, ip, headers, body, call, json_ok).await
}

async fn revoke(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let limit = &s.inner.token_limit;
    let provider = s.inner.provider.clone();
    let call =
        |auth: Option<String>, p: Params| async move { provider.revoke(auth.as_deref(), &p).await };
    form_endpoint(limit, ip, headers, body, call, |()| {
        no_store(StatusCode::OK.into_response())
    })
    .await
}

async fn device_code(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let limit = &s.inner.token_limit;
    let provider = s.inner.provider.clone();
    let call = |auth: Option<String>, p: Params| async move {
        provider.device_authorization(auth.as_deref(), &p).await
    };
    form_endpoint(limit, ip, headers, body, call, json_ok).await
}

fn device_form(s: &Oidc, error: Option<&str>, user_code: &str) -> Response {
    let status = if error.is_some() {
        BAD_USER_CODE
    } else {
        StatusCode::OK
    };
    let action = format!("{}/device", s.inner.base);
    s.inner.pages.render(
        status,
        "device.html",
        minijinja::context! { error, user_code, action },
    )
}

async fn device_verify(s: &Oidc, headers: &HeaderMap, code: &str) -> Response {
    let (browser, bound) = s.starting_browser(headers);
    bound.on(match s.inner.provider.device_verify(code, &browser).await {
        Ok(next) => s.next(next),
        Err(e) if e.status == 400 => device_form(s, Some(&e.message), code),
        Err(e) => s.page_error(&e),
    })
}

async fn device_page(State(s): State<Oidc>, headers: HeaderMap, uri: Uri) -> Response {
    match query(&uri).map(|p| p.get("user_code").ok().flatten().map(str::to_owned)) {
        Ok(Some(code)) => device_verify(&s, &headers, &code).await,
        Ok(None) => device_form(&s, None, ""),
        Err(e) => s.page_error(&bad_page(e)),
    }
}

async fn device_submit(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(wait) = s.inner.password_limit.check(ip) {
        return rate_limited(wait);
    }
    match Params::parse(&body).and_then(|p| p.require("user_code").map(str::to_owned)) {
        Ok(code) => device_verify(&s, &headers, &code).await,
        Err(e) => device_form(&s, Some(&e.description), ""),
    }
}

/// The `req`, `token` and `decision` of a confirmation or consent form.
fn answer(body: &[u8]) -> Result<(String, String, String), OAuthError> {
    let form = Params::parse(body)?;
    Ok((
        form.require("req")?.to_owned(),
        form.require("token")?.to_owned(),
        form.require("decision")?.to_owned(),
    ))
}

/// `POST /device/confirm`: Continue or Cancel on "Sign in to … with code
/// …?". Only this POST, with the page's token, moves a device login on.
async fn device_confirm(
    State(s): State<Oidc>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(wait) = s.inner.password_limit.check(ip) {
        return rate_limited(wait);
    }
    let result = async {
        let (req, token, decision) = answer(&body).map_err(bad_page)?;
        let proceed = match decision.as_str() {
            "continue" => true,
            "cancel" => false,
            other => {
                return Err(tusk_oidc::PageError::bad_request(
                    "This form wasn't sent correctly",
                    "Your answer did not reach us in a form we understand, so nothing was changed. Go back to your device and start again.",
                    format!("device confirmation: `{other}` is not an answer; the form sends decision=continue or decision=cancel"),
                ));
            }
        };
        let browser = s.browser(&headers);
        s.inner.provider.device_confirm(&req, &token, proceed, &browser).await
    }
    .await;
    match result {
        Ok(next) => s.next(next),
        Err(e) => s.page_error(&e),
    }
}

/// `POST /consent`: Allow or Deny on the consent page.
async fn consent(State(s): State<Oidc>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let (req, token, decision) = answer(&body).map_err(bad_page)?;
        let allow = match decision.as_str() {
            "allow" => true,
            "deny" => false,
            other => {
                return Err(tusk_oidc::PageError::bad_request(
                    "This form wasn't sent correctly",
                    "Your answer did not reach us in a form we understand, so nothing was shared. Go back to the application and sign in again.",
                    format!("consent: `{other}` is not an answer; the form sends decision=allow or decision=deny"),
                ));
            }
        };
        let browser = s.browser(&headers);
        s.inner.provider.consent_answer(&req, &token, allow, &browser).await
    }
    .await;
    match result {
        Ok(next) => s.next(next),
        Err(e) => s.page_error(&e),
    }
}

async fn logout_inner(
    s: &Oidc,
    headers: &HeaderMap,
    params: Result<Params, OAuthError>,
    confirmed: bool,
) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return s.page_error(&bad_page(e)),
    };
    // The session cookie goes whenever the logout happened.
    let cleared = |mut r: Response| {
        if let Some(c) = s.inner.cookies.set(cookies::SESSION, "", 0) {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
        r
    };
    match s
        .inner
        .provider
        .logout_browser(&params, &s.browser(headers), confirmed)
        .await
    {
        Ok(LogoutOutcome::Redirect(url)) => cleared(Redirect::to(&url).into_response()),
        Ok(LogoutOutcome::Done) => cleared(
            s.inner
                .pages
                .success("Logged out", "You have been logged out."),
        ),
        Ok(LogoutOutcome::Confirm) => {
            let hidden: Vec<(String, String)> = params
                .pairs()
                .iter()
                .filter(|(k, _)| {
                    matches!(
                        k.as_str(),
                        "client_id" | "post_logout_redirect_uri" | "state"
                    )
                })
                .cloned()
                .collect();
            s.inner.pages.render(
                StatusCode::OK,
                "message.html",
                minijinja::context! {
                    heading => "Log out?",
                    message => "An application asked to log you out. Confirm to end your session.",
                    confirm_action => format!("{}/logout?confirm=1", s.inner.base),
                    hidden,
                },
            )
        }
        Err(e) => s.page_error(&e),
    }
}

async fn logout_get(State(s): State<Oidc>, headers: HeaderMap, uri: Uri) -> Response {
    logout_inner(&s, &headers, query(&uri), false).await
}

async fn logout_post(State(s): State<Oidc>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let confirmed = query(&uri).is_ok_and(|q| q.get("confirm").ok().flatten() == Some("1"));
    logout_inner(&s, &headers, Params::parse(&body), confirmed).await
}

/// The upstream IdP's logout returns here (register `<issuer>/logout/callback`
/// as a post-logout redirect URI at the IdP).
async fn logout_callback(State(s): State<Oidc>, uri: Uri) -> Response {
    let params = match query(&uri) {
        Ok(p) => p,
        Err(e) => return s.page_error(&bad_page(e)),
    };
    match s.inner.provider.logout_callback(&params).await {
        Ok(LogoutOutcome::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(_) => s
            .inner
            .pages
            .message("Logged out", "You have been logged out."),
        Err(e) => s.page_error(&e),
    }
}
