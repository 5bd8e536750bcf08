//! The routes of the single port: HTTP endpoints, gRPC services, and the
//! switch that sends each request to one or the other by content type.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use http::{StatusCode, header};
use serde_json::{Value, json};
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::{HealthReporter, HealthService};
use tower::{Service, ServiceExt};
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use tusk_store::Store;

use crate::errors::ApiError;
use crate::metrics;
use crate::oidc::Oidc;

/// Bodies we accept are forms and small JSON documents.
const BODY_LIMIT: usize = 1024 * 1024;
/// A readiness probe must answer before the orchestrator's own timeout.
const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    issuer: String,
    /// The running configuration (secrets masked) for `/readyz`: the one
    /// from start, then each accepted reload's.
    config_summary: std::sync::RwLock<Value>,
    health: HealthReporter,
    draining: AtomicBool,
    oidc: Option<Oidc>,
    auth: Option<AuthPlane>,
    /// The outcome of the last configuration reload, for `/readyz`.
    reload_status: std::sync::RwLock<Value>,
}

/// The auth plane's gRPC services and the login callback.
#[derive(Clone)]
pub struct AuthPlane {
    pub service: Arc<tusk_auth::AuthService>,
    /// What configuration owns, so the identity API refuses to edit it.
    pub managed: tusk_auth::Managed,
}

impl std::fmt::Debug for AuthPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPlane")
            .field("managed", &self.managed)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// gRPC health starts as SERVING (tonic-health's default); [`crate::run`]
    /// replaces that with a real check before it accepts a connection.
    pub fn new(store: Store, issuer: String, config_summary: Value) -> Self {
        Self::with_oidc(store, issuer, config_summary, None)
    }

    /// With the OpenID provider mounted under the issuer's path.
    pub fn with_oidc(
        store: Store,
        issuer: String,
        config_summary: Value,
        oidc: Option<Oidc>,
    ) -> Self {
        Self::with_services(store, issuer, config_summary, oidc, None)
    }

    /// With the provider and the auth plane.
    pub fn with_services(
        store: Store,
        issuer: String,
        config_summary: Value,
        oidc: Option<Oidc>,
        auth: Option<AuthPlane>,
    ) -> Self {
        let health = HealthReporter::new();
        AppState {
            inner: Arc::new(Inner {
                store,
                issuer,
                config_summary: std::sync::RwLock::new(config_summary),
                health,
                draining: AtomicBool::new(false),
                oidc,
                auth,
                reload_status: std::sync::RwLock::new(crate::reload::initial_status()),
            }),
        }
    }

    pub fn oidc(&self) -> Option<&Oidc> {
        self.inner.oidc.as_ref()
    }

    pub fn auth_plane(&self) -> Option<&AuthPlane> {
        self.inner.auth.as_ref()
    }

    pub(crate) fn set_reload_status(&self, status: Value) {
        if let Ok(mut s) = self.inner.reload_status.write() {
            *s = status;
        }
    }

    /// Records an accepted reload's configuration summary as the running
    /// one. Only `reloaded` keys take the new value: the others were read
    /// at start and still hold; those that changed are returned, so
    /// `/readyz` can say that they wait for a restart.
    pub(crate) fn set_running_config(&self, new: Value, reloaded: &[&str]) -> Vec<String> {
        let Ok(mut running) = self.inner.config_summary.write() else {
            return Vec::new();
        };
        let (Value::Object(old), Value::Object(new)) = (&mut *running, &new) else {
            *running = new;
            return Vec::new();
        };
        let mut pending = Vec::new();
        for (key, value) in new {
            if reloaded.contains(&key.as_str()) {
                old.insert(key.clone(), value.clone());
            } else if old.get(key) != Some(value) {
                pending.push(key.clone());
            }
        }
        pending
    }

    /// Whether the last configuration reload was accepted (true before any).
    pub(crate) fn last_reload_ok(&self) -> bool {
        self.inner
            .reload_status
            .read()
            .map(|s| s["ok"] != Value::Bool(false))
            .unwrap_or(true)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Runs the readiness checks and mirrors the verdict into the gRPC
    /// health service, so `/readyz` and `grpc.health.v1` never disagree.
    pub async fn check_readiness(&self) -> Readiness {
        let store = &self.inner.store;
        let backend = store.backend_name();
        let store_check = match tokio::time::timeout(STORE_PING_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => json!({"ok": true, "backend": backend}),
            Ok(Err(e)) => json!({"ok": false, "backend": backend, "error": e.to_string()}),
            Err(_) => json!({
                "ok": false,
                "backend": backend,
                "error": format!("the store did not answer a ping within {} s", STORE_PING_TIMEOUT.as_secs()),
            }),
        };
        let mut config_check = serde_json::Map::new();
        config_check.insert("issuer".to_owned(), json!(self.inner.issuer));
        let summary = self
            .inner
            .config_summary
            .read()
            .map(|s| s.clone())
            .unwrap_or_default();
        match summary {
            Value::Object(summary) => config_check.extend(summary),
            Value::Null => {}
            other => {
                config_check.insert("summary".to_owned(), other);
            }
        }
        config_check.insert("ok".to_owned(), Value::Bool(true));
        if let Ok(reload) = self.inner.reload_status.read() {
            config_check.insert("reload".to_owned(), reload.clone());
        }
        let draining = self.inner.draining.load(Ordering::Relaxed);
        // A broken connector is reported but does not make the server
        // unready while another one logs people in. With connectors
        // configured and none able to (an upstream IdP down or still being
        // discovered), a load balancer should send logins elsewhere. With
        // none configured there is nothing to wait for, and the identity
        // API that adds one must stay reachable.
        let connectors = self.inner.oidc.as_ref().map(|o| o.provider().connectors());
        let can_log_in = connectors
            .as_ref()
            .is_none_or(|c| c.is_empty() || c.iter().any(|c| c.status.is_ok()));
        let ready = store_check["ok"] == Value::Bool(true) && !draining && can_log_in;
        self.publish(ready).await;
        let mut body = json!({
            "ready": ready,
            "checks": {"store": store_check, "config": config_check},
        });
        if let Some(connectors) = connectors {
            let connectors: Vec<Value> = connectors
                .iter()
                .map(|c| match &c.status {
                    Ok(_) => json!({"id": c.id, "type": c.kind, "ok": true}),
                    Err(reason) => {
                        json!({"id": c.id, "type": c.kind, "ok": false, "error": reason})
                    }
                })
                .collect();
            body["checks"]["connectors"] = Value::Array(connectors);
        }
        if !can_log_in {
            body["loginUnavailable"] = Value::Bool(true);
        }
        if draining {
            // Tells an operator why a healthy store still reads as not ready.
            body["draining"] = Value::Bool(true);
        }
        Readiness { ready, body }
    }

    /// From now on readiness is false, so load balancers stop sending new
    /// requests while in-flight ones finish.
    pub(crate) async fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
        self.publish(false).await;
    }

    async fn publish(&self, serving: bool) {
        // Re-read: a check that started before draining must not flip the
        // status back to serving.
        let serving = serving && !self.inner.draining.load(Ordering::Relaxed);
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.inner.health.set_service_status("", status).await;
    }
}

/// The outcome of [`AppState::check_readiness`]: the verdict and the JSON
/// that `/readyz` answers.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub ready: bool,
    pub body: Value,
}

/// The whole application as one service: gRPC by content type, everything
/// else by path. Tests can drive it with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    // Install the recorder before the first request: counts recorded before
    // it exists would go nowhere.
    metrics::handle();
    let grpc = grpc_routes(&state);
    let http = http_routes(state);
    Router::new()
        .fallback_service(ByContentType { http, grpc })
        .layer(
            TraceLayer::new_for_http()
                // Path only: query strings carry authorization codes and
                // headers carry tokens.
                .make_span_with(|req: &Request| {
                    // The client address behind trusted proxies, so logs
                    // name the real client rather than the proxy.
                    let client = req
                        .extensions()
                        .get::<crate::client::ClientAddr>()
                        .map(|c| c.0.to_string())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        version = ?req.version(),
                        client = %client,
                    )
                })
                // A 503 is a state already reported where it arises (an
                // unready server, an unreachable store), and readiness
                // probes would repeat it at error level every few seconds
                // for as long as an upstream IdP is down.
                .on_failure(
                    |class: ServerErrorsFailureClass, latency: Duration, _span: &tracing::Span| {
                        let latency_ms = latency.as_millis();
                        match class {
                            ServerErrorsFailureClass::StatusCode(StatusCode::SERVICE_UNAVAILABLE) => {
                                tracing::debug!(latency_ms, "answered 503 Service Unavailable")
                            }
                            other => {
                                tracing::error!(classification = %other, latency_ms, "response failed")
                            }
                        }
                    },
                ),
        )
}

/// Every gRPC service the port serves. Add a service with one more
/// `.add_service(...)`.
pub fn grpc_routes(state: &AppState) -> Routes {
    let health = tonic_health::pb::health_server::HealthServer::new(
        HealthService::from_health_reporter(state.inner.health.clone()),
    );
    let mut routes = Routes::new(health);
    if let Ok(reflection) = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tusk_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
    {
        routes = routes.add_service(reflection);
    }
    routes = routes.add_service(tusk_proto::versionpb_v2::api_server::ApiServer::new(
        crate::grpc::version::VersionApi,
    ));
    if let Some(plane) = &state.inner.auth {
        use crate::grpc::{auth::AuthApi, enterprise, identity::IdentityApi};
        let svc = plane.service.clone();
        routes = routes
            .add_service(tusk_proto::auth_v2::api_server::ApiServer::new(
                AuthApi::new(svc.clone()),
            ))
            .add_service(tusk_proto::identity_v2::api_server::ApiServer::new(
                IdentityApi::new(svc.clone(), plane.managed.clone()),
            ))
            .add_service(tusk_proto::enterprise_v2::api_server::ApiServer::new(
                enterprise::EnterpriseApi::new(svc.clone()),
            ))
            .add_service(tusk_proto::license_v2::api_server::ApiServer::new(
                enterprise::LicenseApi::new(svc.clone()),
            ))
            .add_service(
                tusk_proto::tusk::resources::v1::resources_server::ResourcesServer::new(
                    crate::grpc::resources::ResourcesApi::new(svc.clone()),
                ),
            )
            .add_service(tusk_proto::tusk::audit::v1::audit_server::AuditServer::new(
                crate::grpc::audit::AuditApi::new(svc),
            ));
    }
    routes.prepare()
}

fn http_routes(state: AppState) -> Router {
    let oidc = state.oidc().cloned();
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route("/authorization-code/callback", get(login_callback))
        .with_state(state);
    if let Some(oidc) = oidc {
        let routes = crate::oidc::routes(oidc.clone());
        router = match oidc.base() {
            "" => router.merge(routes),
            base => router.nest(base, routes),
        };
    }
    router
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(axum::middleware::map_response(oversize_as_oauth_json))
        .layer(axum::middleware::map_response(retry_after_when_unavailable))
        .layer(axum::middleware::from_fn(metrics::track))
}

/// The body limit answers 413 in plain text; OAuth clients expect the
/// error JSON of RFC 6749 §5.2 from every endpoint they call.
async fn oversize_as_oauth_json(response: Response) -> Response {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    let body = json!({
        "error": "invalid_request",
        "error_description": format!("the request body is larger than {} bytes", BODY_LIMIT),
    });
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
}

/// Seconds a client is asked to wait after a 503 (storage unreachable,
/// draining): long enough not to hammer a recovering database.
const RETRY_AFTER_UNAVAILABLE: &str = "5";

/// Every 503 tells the client when to come back (RFC 9110 §10.2.3), which
/// ends the wait at once instead of leaving clients to guess.
async fn retry_after_when_unavailable(mut response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(http::HeaderValue::from_static(RETRY_AFTER_UNAVAILABLE));
    }
    response
}

/// Where the embedded provider sends a CLI login (docs/auth-model.md §9), with
/// the reference's texts.
async fn login_callback(State(state): State<AppState>, uri: http::Uri) -> Response {
    let Some(plane) = &state.inner.auth else {
        return (StatusCode::NOT_FOUND, "the auth plane is not running").into_response();
    };
    let params =
        tusk_oidc::Params::parse(uri.query().unwrap_or_default().as_bytes()).unwrap_or_default();
    let code = params.get("code").ok().flatten();
    let login_state = params.get("state").ok().flatten();
    let page = plane.service.oidc_callback(code, login_state).await;
    let status = StatusCode::from_u16(page.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, page.body).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

/// The full readiness report (connectors, configuration, bindings) goes
/// only to a loopback peer that no proxy forwarded, or to a request with an
/// administrator's bearer token; everyone else learns ready or not and a
/// reason code, since the detail maps out clients, redirect URIs and who
/// administers the cluster.
async fn readyz(State(state): State<AppState>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let readiness = state.check_readiness().await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let reason = readiness_reason(&readiness);
    let body = if may_see_detail(&state, peer, request.headers()).await {
        let mut body = readiness.body;
        body["reason"] = json!(reason);
        body
    } else {
        json!({"ready": readiness.ready, "reason": reason})
    };
    (status, axum::Json(body)).into_response()
}

/// A stable code for why the server is (not) ready, safe to show anyone.
fn readiness_reason(readiness: &Readiness) -> &'static str {
    if readiness.body["draining"] == Value::Bool(true) {
        "draining"
    } else if readiness.body["checks"]["store"]["ok"] != Value::Bool(true) {
        "store_unavailable"
    } else if readiness.body["loginUnavailable"] == Value::Bool(true) {
        "no_connector_available"
    } else if readiness.ready {
        "ok"
    } else {
        "not_ready"
    }
}

async fn may_see_detail(
    state: &AppState,
    peer: Option<std::net::SocketAddr>,
    headers: &http::HeaderMap,
) -> bool {
    // A proxy on the same host makes every client look local; a forwarded
    // request is judged by its token alone.
    let forwarded = headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded");
    let loopback = peer.is_some_and(|p| match p.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    });
    if loopback && !forwarded {
        return true;
    }
    let (Some(plane), Some(token)) = (&state.inner.auth, bearer(headers)) else {
        return false;
    };
    crate::grpc::admin(&plane.service, Some(token))
        .await
        .is_ok()
}

/// The token of an `Authorization: Bearer` header; the scheme is
/// case-insensitive (RFC 9110 §11.1).
fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let mut text = metrics::handle().render();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&metrics::scrape_time_text(
        state.oidc().map(|o| o.provider().as_ref()),
        state.last_reload_ok(),
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("no route for {}", request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::method_not_allowed(format!(
        "{} is not allowed on {}",
        request.method(),
        request.uri().path()
    ))
}

/// Sends `application/grpc*` requests to the gRPC routes and the rest to the
/// HTTP routes; a path-based split would not do, since both can share paths.
#[derive(Clone)]
struct ByContentType {
    http: Router,
    grpc: Routes,
}

impl Service<Request> for ByContentType {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both inner services are always ready; readiness is checked per call
        // through `oneshot` on a clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if is_grpc(&request) {
            let grpc = self.grpc.clone();
            Box::pin(async move {
                let path = request.uri().path().to_owned();
                let response = grpc.oneshot(request).await?;
                metrics::track_grpc(&path, response.headers());
                Ok(response.map(Body::new))
            })
        } else {
            Box::pin(self.http.clone().oneshot(request))
        }
    }
}

fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}
