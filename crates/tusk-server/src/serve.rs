//! The accept loop: one listener, one task per connection, protocol chosen
//! per connection (TLS or not, then h1 or h2 by the client's preface).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http::{HeaderValue, Request};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tusk_store::Store;

use crate::client::{ClientAddr, TrustedProxies};
use crate::errors::Error;
use crate::http::router;
use crate::options::{ConnectionLimits, ServerOptions};
use crate::state::AppState;
use crate::{metrics, tls};

/// How long in-flight connections get to finish once shutdown starts.
const DRAIN_CAP: Duration = Duration::from_secs(10);
/// A client that opens a socket and stalls must not hold a task forever.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often readiness is re-checked for gRPC health watchers.
const READINESS_INTERVAL: Duration = Duration::from_secs(5);
/// Pause after an accept error such as EMFILE, instead of spinning on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves the application on `listener` until `shutdown` resolves, then
/// drains in-flight connections (for at most 10 s) and returns.
///
/// Errors only at start-up (bad TLS material, unusable listener); failures
/// of single connections are logged and never end the server.
pub async fn run(
    options: ServerOptions,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let local = listener.local_addr().map_err(Error::Listener)?;
    let (tls, certificates) = match options.tls.as_ref().map(tls::acceptor).transpose()? {
        Some((acceptor, certificates)) => (Some(acceptor), Some(certificates)),
        None => (None, None),
    };
    // A refresh through a connector replaces the user's auth-plane groups,
    // as a login does (docs/oidc-connector.md §3).
    if let (Some(provider), Some(auth)) = (&options.provider, &options.auth) {
        provider.observe_identities(auth.service.group_sync());
    }
    // Clients registered for back-channel logout hear of every ended
    // session; this is the provider's only outbound HTTP.
    if let Some(provider) = &options.provider
        && let Some(sender) = crate::backchannel::Sender::new(options.backchannel.clone())
    {
        provider.deliver_logouts(sender);
    }
    let oidc = options.provider.clone().map(|p| {
        crate::oidc::Oidc::new(
            p,
            crate::pages::Pages::new(options.theme.clone()),
            options.rate_limits,
        )
    });
    let maintenance = oidc.clone().map(|o| tokio::spawn(maintain(o)));
    let _stop_maintenance = AbortOnDrop(maintenance);
    let reload = options.reload.clone();
    let state = AppState::with_services(
        store,
        options.issuer,
        options.config_summary,
        oidc,
        options.auth.clone(),
    );
    let app = router(state.clone());
    let _stop_reload = AbortOnDrop(
        reload.map(|r| tokio::spawn(crate::reload::watch(r, state.clone(), certificates))),
    );

    // The first check happens before accepting, so gRPC health is right from
    // the first request.
    let first = state.check_readiness().await;
    let watch_readiness = tokio::spawn(watch_readiness(state.clone()));
    tracing::info!(
        address = %local,
        tls = tls.is_some(),
        issuer = %state.issuer(),
        backend = state.store().backend_name(),
        ready = first.ready,
        "listening"
    );

    let limits = options.connections.clone();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.h2_keep_alive_interval)
        .keep_alive_timeout(limits.h2_keep_alive_timeout);
    let builder = Arc::new(builder);
    // A cap of 0 would refuse everyone; more than the semaphore holds would
    // panic.
    let capacity = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(capacity));
    let shared = Arc::new(Shared {
        limits,
        trusted: options.trusted_proxies.clone(),
        hsts: tls.is_some(),
    });

    // Connections close gracefully (GOAWAY on HTTP/2) when this turns true
    // or when they go idle; the connection slots count the open ones.
    let (closing, _) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                // Over the cap the socket is dropped, which closes it, so
                // a flood of connections cannot exhaust tasks and files.
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::debug!(peer = %peer, cap = shared.limits.max_connections, "connection cap reached; closing a new connection (tusk.server.maxConnections)");
                    drop(stream);
                    continue;
                };
                let connection = Connection {
                    builder: builder.clone(),
                    app: app.clone(),
                    tls: tls.clone(),
                    closing: closing.subscribe(),
                    peer,
                    shared: shared.clone(),
                    _permit: permit,
                };
                tokio::spawn(connection.serve(stream));
            }
            Err(e) if is_per_connection(&e) => {
                tracing::debug!(error = %e, "a connection failed before it was accepted");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept connections; retrying shortly (check the open-file limit)");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }

    drop(listener);
    watch_readiness.abort();
    state.start_draining().await;
    let open = capacity.saturating_sub(slots.available_permits());
    let _ = closing.send(true);
    tracing::info!(
        open_connections = open,
        "shutting down; draining connections"
    );
    tokio::select! {
        _ = slots.acquire_many(u32::try_from(capacity).unwrap_or(u32::MAX)) => tracing::info!("all connections closed"),
        () = tokio::time::sleep(DRAIN_CAP) => tracing::warn!(
            cap_seconds = DRAIN_CAP.as_secs(),
            "connections still open after the drain cap; closing them"
        ),
    }
    Ok(())
}

async fn watch_readiness(state: AppState) {
    loop {
        tokio::time::sleep(READINESS_INTERVAL).await;
        state.check_readiness().await;
        metrics::upkeep();
    }
}

/// Errors that concern only the connection being accepted, not the listener.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// What every connection task reads, fixed for the server's lifetime.
struct Shared {
    limits: ConnectionLimits,
    trusted: TrustedProxies,
    /// tusk terminates TLS, so browsers may be told to use https only.
    hsts: bool,
}

struct Connection {
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Router,
    tls: Option<TlsAcceptor>,
    /// Turns true when the server shuts down.
    closing: tokio::sync::watch::Receiver<bool>,
    peer: SocketAddr,
    shared: Arc<Shared>,
    /// Held for the connection's life: one slot under the connection cap.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, stream: TcpStream) {
        // Small responses (token replies) should not wait for Nagle.
        let _ = stream.set_nodelay(true);
        match self.tls.clone() {
            None => self.serve_io(stream).await,
            Some(acceptor) => {
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls_stream)) => self.serve_io(tls_stream).await,
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
                    }
                    Err(_) => {
                        tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                    }
                }
            }
        }
    }

    async fn serve_io<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let (app, peer, shared) = (self.app, self.peer, self.shared.clone());
        let tracker = activity.clone();
        let service = tower::service_fn(move |request: Request<hyper::body::Incoming>| {
            let busy = tracker.start();
            let (mut parts, body) = request.into_parts();
            // Handlers read the peer through axum's `ConnectInfo`, and the
            // client address (behind trusted proxies) through `ClientAddr`.
            let client = shared.trusted.client(peer, &parts.headers);
            parts.extensions.insert(ConnectInfo(peer));
            parts.extensions.insert(ClientAddr(client));
            let body = Body::new(DeadlineBody {
                inner: body,
                until: tokio::time::Instant::now() + shared.limits.body_timeout,
                deadline: None,
            });
            let hsts = shared.hsts;
            let call = app.clone().oneshot(Request::from_parts(parts, body));
            async move {
                let mut response = call.await?;
                if hsts {
                    response
                        .headers_mut()
                        .entry(http::header::STRICT_TRANSPORT_SECURITY)
                        .or_insert(HeaderValue::from_static("max-age=31536000"));
                }
                // The request counts as in flight until its response body
                // is done, so a long gRPC stream is never "idle".
                Ok::<_, std::convert::Infallible>(
                    response.map(|inner| Body::new(BusyBody { inner, _busy: busy })),
                )
            }
        });
        let connection = self
            .builder
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        tokio::pin!(connection);
        let idle = self.shared.limits.idle_timeout;
        let mut closing = self.closing;
        // Once asked to close, a connection gets this long to finish; a
        // client that stops reading must not hold it open.
        let mut hard_stop = None;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                changed = closing.changed(), if hard_stop.is_none() => {
                    if changed.is_ok() && !*closing.borrow() {
                        continue;
                    }
                    connection.as_mut().graceful_shutdown();
                    hard_stop = Some(Box::pin(tokio::time::sleep(DRAIN_CAP)));
                }
                () = activity.idle_for(idle), if hard_stop.is_none() => {
                    tracing::debug!(peer = %self.peer, idle_seconds = idle.as_secs_f64(), "closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    hard_stop = Some(Box::pin(tokio::time::sleep(idle)));
                }
                () = async { if let Some(t) = hard_stop.as_mut() { t.await } }, if hard_stop.is_some() => {
                    tracing::debug!(peer = %self.peer, "connection did not close in time; dropping it");
                    return;
                }
            }
        }
    }
}

/// Requests in flight on one connection, and since when it has had none.
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `start` at which `in_flight` last became zero.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        }
    }

    fn start(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Resolves once the connection has had no request in flight for
    /// `timeout`, checking every `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        loop {
            tokio::time::sleep(timeout).await;
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                let since = self.idle_since_ms.load(Ordering::SeqCst);
                if self.now_ms().saturating_sub(since) >= timeout_ms {
                    return;
                }
            }
        }
    }
}

/// One request in flight; dropped with its response body.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0
                .idle_since_ms
                .store(self.0.now_ms(), Ordering::SeqCst);
        }
    }
}

/// A response body that keeps its request counted as in flight.
struct BusyBody {
    inner: Body,
    _busy: Busy,
}

impl HttpBody for BusyBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails once its deadline passes, so a client that
/// trickles a body cannot hold the request (and its task) open.
struct DeadlineBody {
    inner: hyper::body::Incoming,
    /// The deadline, counted from when the request arrived.
    until: tokio::time::Instant,
    /// Its timer, made the first time the body has to wait: most requests
    /// (every GET) never read a body, and need no timer at all.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let until = self.until;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(
                "the request body was not received in time (the body timeout); send it without pauses"
                    .into(),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How often keys are checked for rotation and expired records collected.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);

/// Background upkeep of the provider, tied to `run`'s lifetime by
/// [`AbortOnDrop`] so it never outlives the server (mini-redis's pattern).
async fn maintain(oidc: crate::oidc::Oidc) {
    let mut interval = tokio::time::interval(MAINTENANCE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        oidc.provider().tick().await;
        oidc.prune_limits();
    }
}

struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}
