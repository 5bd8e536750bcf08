//! The accept loop: one listener, one task per connection, protocol chosen
//! per connection (TLS or not, then h1 or h2 by the client's preface).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::Layer;
use tusk_store::Store;

use crate::http::{AppState, router};
use crate::{Error, ServerOptions, metrics, tls};

/// How long in-flight connections get to finish once shutdown starts.
const DRAIN_CAP: Duration = Duration::from_secs(10);
/// A client that opens a socket and stalls must not hold a task forever.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
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
    let tls = options.tls.as_ref().map(tls::acceptor).transpose()?;
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
    let _stop_reload =
        AbortOnDrop(reload.map(|r| tokio::spawn(crate::reload::watch(r, state.clone()))));

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

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection = Connection {
                    builder: builder.clone(),
                    app: app.clone(),
                    tls: tls.clone(),
                    watcher: graceful.watcher(),
                    peer,
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
    let open = graceful.count();
    tracing::info!(
        open_connections = open,
        "shutting down; draining connections"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
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

struct Connection {
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Router,
    tls: Option<TlsAcceptor>,
    watcher: Watcher,
    peer: SocketAddr,
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
        // Handlers and later rate limits read the peer address through
        // axum's `ConnectInfo` extractor.
        let service = axum::Extension(ConnectInfo(self.peer)).layer(self.app);
        let connection = self
            .builder
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        if let Err(e) = self.watcher.watch(connection).await {
            tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
        }
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
