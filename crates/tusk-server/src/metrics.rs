//! The process-wide Prometheus recorder and the HTTP request metrics.
//!
//! The `metrics` facade has one global recorder per process, and tests start
//! several servers in one process, so installation happens at most once and a
//! recorder installed by someone else is tolerated rather than fatal.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub(crate) const REQUESTS: &str = "tusk_http_requests_total";
pub(crate) const DURATION: &str = "tusk_http_request_duration_seconds";

/// Latency buckets from 1 ms to 10 s: password hashing sits near 20 ms,
/// upstream IdP calls near a second.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The handle that renders whatever the installed recorder has seen.
pub(crate) fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), BUCKETS)
            // Only fails on an empty bucket list; a summary is still useful.
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!(
                error = %e,
                "another metrics recorder is already installed; /metrics will not show tusk's metrics"
            );
        }
        metrics::describe_counter!(REQUESTS, "HTTP requests answered, by route, method and status");
        metrics::describe_histogram!(
            DURATION,
            metrics::Unit::Seconds,
            "HTTP request latency until the response head, by route and method"
        );
        handle
    })
}

/// Drains histogram samples that nobody scraped, so memory stays bounded.
pub(crate) fn upkeep() {
    handle().run_upkeep();
}

/// Records one request. Labels use the matched route pattern, never the raw
/// path, so a scanner probing random URLs cannot grow the label set.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(DURATION, "route" => route, "method" => method)
        .record(start.elapsed().as_secs_f64());
    response
}

/// Extension methods are free-form strings, so they share one label value.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
