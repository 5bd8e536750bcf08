//! The routes of the single port: HTTP endpoints, gRPC services, and the
//! switch that sends each request to one or the other by content type.

use std::convert::Infallible;
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
use tonic_health::server::HealthService;
use tower::{Service, ServiceExt};
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::errors::ApiError;
use crate::metrics;
use crate::state::{AppState, Readiness};

/// Bodies we accept are forms and small JSON documents.
const BODY_LIMIT: usize = 1024 * 1024;

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
                    let client = SpanClient(
                        req.extensions()
                            .get::<crate::client::ClientAddr>()
                            .map(|c| c.0),
                    );
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

/// The span's client address, formatted by the subscriber itself rather
/// than into a string of its own on every request; empty when unknown
/// (a test driving the router directly).
struct SpanClient(Option<std::net::IpAddr>);

impl std::fmt::Display for SpanClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => std::fmt::Display::fmt(&ip, f),
            None => Ok(()),
        }
    }
}

/// Every gRPC service the port serves. Add a service with one more
/// `.add_service(...)`.
pub fn grpc_routes(state: &AppState) -> Routes {
    let health = tonic_health::pb::health_server::HealthServer::new(
        HealthService::from_health_reporter(state.health().clone()),
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
    if let Some(plane) = state.auth_plane() {
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
            .add_service(
                tusk_proto::tusk::sessions::v1::sessions_server::SessionsServer::new(
                    crate::grpc::sessions::SessionsApi::new(svc.clone()),
                ),
            )
            .add_service(
                tusk_proto::tusk::consent::v1::consent_server::ConsentServer::new(
                    crate::grpc::consent::ConsentApi::new(svc.clone()),
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
    ApiError::payload_too_large(format!(
        "the request body is larger than {BODY_LIMIT} bytes"
    ))
    .into_response()
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
    let Some(plane) = state.auth_plane() else {
        return ApiError::not_found("the auth plane is not running").into_response();
    };
    let params =
        tusk_oidc::Params::parse(uri.query().unwrap_or_default().as_bytes()).unwrap_or_default();
    let code = params.get("code").ok().flatten();
    let login_state = params.get("state").ok().flatten();
    let page = plane.service.oidc_callback(code, login_state).await;
    // The page's sentence is the reference's (docs/auth-model.md §9), shown
    // in the same design as every other page; its status goes through the
    // one mapping. Without the provider's pages (no provider mounted) it is
    // the reference's plain text.
    let status = crate::errors::page_status(page.status);
    if status.is_success() {
        return match state.oidc() {
            Some(oidc) => oidc.pages().success("You're logged in", &page.body),
            None => (status, page.body).into_response(),
        };
    }
    match state.oidc() {
        // A failure is an error page like any other: the reference's
        // sentence, a reference id, and the detail logged under that id.
        Some(oidc) => {
            let fault = match page.status {
                400 => tusk_oidc::Fault::Request,
                401 => tusk_oidc::Fault::Refused,
                _ => tusk_oidc::Fault::Transient,
            };
            oidc.pages().error(&tusk_oidc::PageError::new(
                page.status,
                fault,
                "Login failed",
                page.body,
                page.detail,
            ))
        }
        None => {
            tracing::warn!(status = page.status, detail = %page.detail, "CLI login failed");
            (status, page.body).into_response()
        }
    }
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
    let (Some(plane), Some(token)) = (state.auth_plane(), bearer(headers)) else {
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
