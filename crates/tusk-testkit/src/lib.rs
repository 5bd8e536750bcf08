//! A tusk server inside a test, started the one way every in-process test
//! starts it.
//!
//! Why it exists: each group of server tests bound a port, spawned
//! [`tusk_server::run`], kept a shutdown sender and a join handle, and built
//! its own provider with the system clock; the copies drifted, and a new
//! test had to find the right one to copy. [`TestServer`] is that code once:
//! `127.0.0.1:0`, a memory store unless the test brings its own, the issuer
//! on the bound port, and a [`FakeClock`] the test can move.
//!
//! Signing keys: [`provider`] writes one ES256 key, kid [`SIGNING_KEY_ID`],
//! into the store before the provider starts, so every test provider in a
//! run signs with the same key instead of a fresh random one. The key is
//! generated once per process rather than committed: a private key in the
//! tree would be flagged by every secret scan.
//!
//! A dev-dependency only: nothing here is for production.

pub mod slapd;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tusk_core::Secret;
pub use tusk_core::clock::FakeClock;
use tusk_core::clock::{Clock, SystemClock};
use tusk_jose::{Alg, SigningKey};
use tusk_oidc::{ConnectorConfig, Provider, Settings};
use tusk_server::ServerOptions;
use tusk_store::{OidcClient, SigningKeys, Store};

/// Why a test server could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on 127.0.0.1:0: {0}")]
    Listen(#[source] std::io::Error),
    #[error("cannot start the OpenID provider: {0}")]
    Provider(#[from] tusk_oidc::provider::Error),
    #[error("the server task panicked or was cancelled: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("the server failed: {0}")]
    Server(#[from] tusk_server::Error),
    #[error("cannot make the test signing key: {0}")]
    Key(String),
    #[error("cannot store the test signing key: {0}")]
    Store(#[from] tusk_store::Error),
}

/// A bound port, before the server starts: the issuer (and so the
/// provider) must know the port first.
#[derive(Debug)]
pub struct Port {
    listener: TcpListener,
    pub addr: SocketAddr,
}

impl Port {
    /// A free port on the loopback interface.
    pub async fn bind() -> Result<Port, Error> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(Error::Listen)?;
        let addr = listener.local_addr().map_err(Error::Listen)?;
        Ok(Port { listener, addr })
    }

    /// The issuer a provider on this port has, as `tusk serve` derives it.
    pub fn issuer(&self) -> String {
        format!("http://{}/dex", self.addr)
    }
}

/// A running [`tusk_server::run`]; [`TestServer::stop`] shuts it down
/// gracefully and reports how it ended.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    /// The issuer the server was given.
    pub issuer: String,
    pub store: Store,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tusk_server::Error>>,
}

impl TestServer {
    /// `options` on a fresh port with a memory store.
    pub async fn start(options: ServerOptions) -> Result<TestServer, Error> {
        Ok(Self::start_on(
            Port::bind().await?,
            Store::memory(),
            options,
        ))
    }

    /// `options` on `port` with `store`, for a test that built a provider
    /// for the port's issuer or wants to look into the store.
    pub fn start_on(port: Port, store: Store, options: ServerOptions) -> TestServer {
        let (stop, stopped) = oneshot::channel::<()>();
        let issuer = options.issuer.clone();
        let task = tokio::spawn(tusk_server::run(
            options,
            store.clone(),
            port.listener,
            async move {
                let _ = stopped.await;
            },
        ));
        TestServer {
            addr: port.addr,
            issuer,
            store,
            stop: Some(stop),
            task,
        }
    }

    /// `scheme://addr/path` for this server.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Starts the graceful shutdown without waiting, for a test that looks
    /// at connections while the server drains; [`TestServer::stop`] then
    /// waits for the end.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Starts the graceful shutdown (unless [`TestServer::begin_stop`]
    /// did) and waits for [`tusk_server::run`] to return.
    pub async fn stop(mut self) -> Result<(), Error> {
        self.begin_stop();
        Ok(self.task.await??)
    }
}

/// A fake clock fixed at the current time, so tokens the server issues
/// look fresh to outside clients too; it moves only when the test moves it.
pub fn clock_now() -> Arc<FakeClock> {
    Arc::new(FakeClock::new(SystemClock.now()))
}

/// The kid of the signing key [`provider`] installs.
pub const SIGNING_KEY_ID: &str = "tusk-testkit";

/// The test signing key as PKCS#8 PEM, made on first use.
fn signing_key_pem() -> Result<&'static str, Error> {
    static PEM: OnceLock<Result<Secret<String>, String>> = OnceLock::new();
    PEM.get_or_init(|| {
        SigningKey::generate(Alg::ES256, SIGNING_KEY_ID.to_owned())
            .map(|k| k.to_pkcs8_pem())
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map(|pem| pem.expose().as_str())
    .map_err(|e| Error::Key(e.clone()))
}

/// Makes the test key the store's signing key set, active from `now`, as
/// the provider's first start would have stored a generated one; the
/// provider then loads it instead of generating its own.
pub async fn install_signing_key(
    store: &Store,
    settings: &Settings,
    now: i64,
) -> Result<(), Error> {
    let pem = signing_key_pem()?;
    let mut fixed = |alg: Alg| SigningKey::from_pkcs8_pem(alg, SIGNING_KEY_ID.to_owned(), pem);
    let state = tusk_jose::rotate_if_due(None, now, &settings.rotation, settings.alg, &mut fixed)
        .map_err(|e| Error::Key(e.to_string()))?
        .ok_or_else(|| Error::Key("the rotation policy made no first key".to_owned()))?;
    let text = serde_json::to_string(&state).map_err(|e| Error::Key(e.to_string()))?;
    store
        .put(&SigningKeys {
            id: SigningKeys::ID.to_owned(),
            state: Secret::new(text),
        })
        .await?;
    Ok(())
}

/// An OpenID provider for `issuer` on `store` with `connectors` opened and
/// `clients` stored, reading time from `clock` and signing with the test
/// key ([`SIGNING_KEY_ID`]).
pub async fn provider(
    issuer: &str,
    store: &Store,
    clock: Arc<dyn Clock>,
    connectors: &[ConnectorConfig],
    clients: &[OidcClient],
) -> Result<Arc<Provider>, Error> {
    let settings = Settings::new(issuer);
    install_signing_key(store, &settings, clock.now()).await?;
    let provider = Provider::new(settings, store.clone(), clock, connectors).await?;
    provider.seed_clients(clients).await?;
    Ok(provider)
}
