//! The process-wide Prometheus recorder and the HTTP request metrics.
//!
//! The `metrics` facade has one global recorder per process, and tests start
//! several servers in one process, so installation happens at most once and a
//! recorder installed by someone else is tolerated rather than fatal.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub(crate) const REQUESTS: &str = "tusk_http_requests_total";
pub(crate) const GRPC_REQUESTS: &str = "tusk_grpc_requests_total";
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
        metrics::describe_counter!(
            GRPC_REQUESTS,
            "gRPC calls answered, by full method name and gRPC status code"
        );
        metrics::describe_counter!("tusk_logins_total", "Logins by connector and outcome (success or a failure reason)");
        metrics::describe_counter!("tusk_token_mints_total", "Tokens minted, by kind (code, refresh, device, session, robot)");
        metrics::describe_counter!("tusk_refreshes_total", "Successful refresh-token grants");
        metrics::describe_counter!("tusk_refresh_reuse_detected_total", "Refresh tokens reused after rotation (the session is revoked)");
        metrics::describe_counter!("tusk_token_revocations_total", "Tokens revoked");
        metrics::describe_counter!(
            crate::backchannel::LOGOUTS,
            "Back-channel logout tokens, by outcome (delivered, failed after retries, dropped when too many were pending, or not sent: overloaded, sid_unknown, failed)"
        );
        metrics::describe_counter!("tusk_config_reloads_total", "Configuration reloads, by outcome (accepted or rejected)");
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
    // A reference count, not a copy of the pattern.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    with_handles(route, method, status, |requests, duration| {
        requests.increment(1);
        duration.record(start.elapsed().as_secs_f64());
    });
    response
}

/// One route's series: the request counter per (method, status) and the
/// latency histogram per method.
#[derive(Default)]
struct RouteSeries {
    requests: HashMap<(&'static str, u16), Counter>,
    duration: HashMap<&'static str, Histogram>,
}

/// The handles `track` records to, registered once per series. The
/// `metrics` macros build the labelled key and search the recorder's
/// registry on every call, which cost more than a prebuilt discovery
/// answer itself; a handle records with one atomic operation. Bounded as
/// the label set is: matched routes, eight methods, the statuses the
/// handlers answer.
fn with_handles(
    route: &str,
    method: &'static str,
    status: u16,
    record: impl FnOnce(&Counter, &Histogram),
) {
    static SERIES: OnceLock<RwLock<HashMap<Box<str>, RouteSeries>>> = OnceLock::new();
    let series = SERIES.get_or_init(Default::default);
    if let Ok(map) = series.read()
        && let Some(r) = map.get(route)
        && let (Some(c), Some(h)) = (r.requests.get(&(method, status)), r.duration.get(method))
    {
        record(c, h);
        return;
    }
    let Ok(mut map) = series.write() else {
        return;
    };
    let r = map.entry(route.into()).or_default();
    let c = r.requests.entry((method, status)).or_insert_with(|| {
        metrics::counter!(REQUESTS, "route" => route.to_owned(), "method" => method, "status" => status.to_string())
    });
    let c = c.clone();
    let h = r.duration.entry(method).or_insert_with(
        || metrics::histogram!(DURATION, "route" => route.to_owned(), "method" => method),
    );
    record(&c, h);
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

/// Counts one gRPC call. `path` is `/package.Service/Method`; a path outside
/// the services we serve shares one label value, so probes cannot grow the
/// label set. Unary errors come back trailers-only, so `grpc-status` is in
/// the response head; a head without it is a call that went on to succeed.
pub(crate) fn track_grpc(path: &str, headers: &http::HeaderMap) {
    let service = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .map(|(service, _)| service);
    let known = service.is_some_and(|s| {
        tusk_proto::SERVICE_NAMES.contains(&s)
            || s == "grpc.health.v1.Health"
            || s.starts_with("grpc.reflection.")
    });
    let method = if known {
        path.to_owned()
    } else {
        "unknown".to_owned()
    };
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u8>().ok())
        .map_or_else(|| "0".to_owned(), |c| c.to_string());
    metrics::counter!(GRPC_REQUESTS, "method" => method, "code" => code).increment(1);
}

/// Gauges read at scrape time and rendered here rather than through the
/// recorder: the recorder keeps every series it has seen, so a connector
/// taken out of the configuration would report its last state forever.
pub(crate) fn scrape_time_text(
    provider: Option<&tusk_oidc::Provider>,
    last_reload_ok: bool,
) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(String, f64)]| {
        if samples.is_empty() {
            return;
        }
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            out.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    gauge(
        "tusk_build_info",
        "Always 1; the labels name the running build",
        &[(
            format!("{{version=\"{}\"}}", label(env!("CARGO_PKG_VERSION"))),
            1.0,
        )],
    );
    // Stays 0 from a rejected reload until one is accepted, so an alert
    // fires before the next restart refuses the same file.
    gauge(
        "tusk_config_last_reload_ok",
        "1 if the last configuration reload was accepted (or none was tried), 0 if it was rejected and the previous configuration still serves",
        &[(String::new(), if last_reload_ok { 1.0 } else { 0.0 })],
    );
    if let Some(provider) = provider {
        let up: Vec<(String, f64)> = provider
            .connectors()
            .iter()
            .map(|c| {
                let value = if c.status.is_ok() { 1.0 } else { 0.0 };
                (format!("{{connector=\"{}\"}}", label(&c.id)), value)
            })
            .collect();
        gauge(
            "tusk_connector_up",
            "1 if the connector opened and serves logins, else 0",
            &up,
        );
        if let Some(created) = provider.signing_key_created_at() {
            let age = provider.now().saturating_sub(created).max(0);
            gauge(
                "tusk_signing_key_age_seconds",
                "Age of the key now signing tokens",
                &[(String::new(), age as f64)],
            );
        }
    }
    let process = process_facts();
    if let Some(rss) = process.resident_bytes {
        gauge(
            "process_resident_memory_bytes",
            "Resident memory of the tusk process",
            &[(String::new(), rss as f64)],
        );
    }
    if let Some(fds) = process.open_fds {
        gauge(
            "process_open_fds",
            "Open file descriptors of the tusk process",
            &[(String::new(), fds as f64)],
        );
    }
    if let Some(start) = process.start_time {
        gauge(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch",
            &[(String::new(), start)],
        );
    }
    out
}

/// A label value in the text format: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[derive(Default)]
struct ProcessFacts {
    resident_bytes: Option<u64>,
    open_fds: Option<u64>,
    start_time: Option<f64>,
}

/// Reads Linux's `/proc`; elsewhere the gauges are simply absent.
fn process_facts() -> ProcessFacts {
    // Page size and clock ticks are 4096 and 100 on every Linux we run on
    // (x86-64 and arm64 defaults); asking libc would need unsafe code.
    const PAGE: u64 = 4096;
    const TICKS: f64 = 100.0;
    let mut facts = ProcessFacts::default();
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        facts.resident_bytes = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u64>().ok())
            .map(|pages| pages * PAGE);
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        facts.open_fds = Some(dir.count() as u64);
    }
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    let started = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The command name may hold spaces and parentheses: fields are
            // counted after its closing parenthesis; start time is field 22.
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace()
                .nth(19)
                .and_then(|v| v.parse::<f64>().ok())
        });
    if let (Some(boot), Some(ticks)) = (boot, started) {
        facts.start_time = Some(boot + ticks / TICKS);
    }
    facts
}
