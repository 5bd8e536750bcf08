//! `tusk serve`: load the config, open the store, bind, run until a signal.

use crate::config_args::{Loaded, SourceArgs, print_diagnostics, summary};
use crate::logging::{self, LogFormat};
use crate::sources;
use anyhow::{Context, anyhow};
use clap::Args;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tusk_core::Secret;
use tusk_store::Store;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    store: crate::store_cmd::StoreLocation,
    /// PEM certificate chain for TLS on the listener (overrides proxy.tls in values).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "TUSK_LOG_FORMAT")]
    log_format: LogFormat,
}

pub fn main(args: ServeArgs) -> ExitCode {
    logging::init(args.log_format);
    // Structural config errors refuse to start (exit 2): a server that
    // half-applies a config is worse than one that says what to fix.
    let (loaded, diags) = match config_source(&args, &args.source.listen).load() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("tusk: error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match loaded {
        Loaded::Ok(config) => {
            for d in &diags {
                tracing::warn!("{d}");
            }
            *config
        }
        Loaded::Refused => {
            print_diagnostics(&diags);
            eprintln!(
                "tusk: configuration refused, not starting: {}",
                summary(&diags)
            );
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tusk: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tusk: error: {}", crate::error::chain(e.as_ref()));
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A command-line value found unusable only once the runtime runs (the
/// `--listen` address needs a lookup): exit 2, as the README's table says
/// of every command-line error, not 1 as for a run-time failure.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

async fn run(args: ServeArgs, config: tusk_core::config::Config) -> anyhow::Result<()> {
    let listener = bind(&args.source.listen).await?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    // With `--listen HOST:0` the port is known only now; whatever derives
    // from the listen address (issuer, pachd redirect, login host) must
    // carry the real one.
    let config = if local.to_string() != args.source.listen {
        match config_source(&args, &local.to_string()).load() {
            Ok((Loaded::Ok(c), _)) => *c,
            _ => config,
        }
    } else {
        config
    };
    // `--tls-cert`/`--tls-key` win over the configuration's certificate.
    let tls_files = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(read_tls_files(cert, key).map_err(|e| anyhow!(e))?),
        _ => None,
    };
    let store = open_store(&args, config.provider.database_acquire_timeout).await?;
    let provider = tusk_server::provider_from_config(&config, store.clone())
        .await
        .context("cannot start the OpenID provider")?;
    let auth = tusk_server::auth_from_config(&config, store.clone(), provider.clone())
        .await
        .context("cannot bootstrap the auth plane from the configuration")?;
    if let Some(token) = &auth.generated_root_token {
        hand_over_root_token(&args, token);
    }
    let mut options =
        tusk_server::ServerOptions::from_config(&config, Some(provider), Some(auth.plane));
    options.reload = Some(reloader(&args, local));
    if tls_files.is_some() {
        options.tls = tls_files;
    }
    tracing::info!(
        listen = %local,
        issuer = %config.issuer,
        store = store.backend_name(),
        tls = options.tls.is_some(),
        mock_idp = config.mock_idp,
        "tusk is serving"
    );
    tusk_server::run(options, store, listener, shutdown_signal())
        .await
        .context("the server stopped")?;
    tracing::info!("tusk stopped");
    Ok(())
}

/// Opens the store sealing its secrets. PostgreSQL's key is checked before
/// connecting; SQLite's may be generated, but only once the data directory
/// is known to be owner-only.
async fn open_store(
    args: &ServeArgs,
    acquire_timeout: std::time::Duration,
) -> anyhow::Result<Store> {
    let secrets_dir = args.source.secrets_dir.as_deref();
    Ok(match &args.store.database_url {
        Some(url) => {
            let keyring = crate::store_cmd::keyring(secrets_dir, None)?;
            Store::new(tusk_store_sql::open_postgres_with(url, acquire_timeout).await?)
                .with_keyring(keyring)
        }
        None => {
            let store = Store::new(tusk_store_sql::open_sqlite(&args.store.data_dir).await?);
            // A new key is generated only for a store with nothing sealed:
            // one replacing a lost key could open none of it.
            let generate = !store.holds_sealed_rows().await?;
            let keyring =
                crate::store_cmd::keyring(secrets_dir, Some((&args.store.data_dir, generate)))?;
            store.with_keyring(keyring)
        }
    })
}

async fn bind(listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addr: SocketAddr = match listen.parse() {
        Ok(a) => a,
        Err(_) => tokio::net::lookup_host(listen)
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                anyhow::Error::new(UsageError(format!(
                    "--listen `{listen}` is not an address: expected HOST:PORT such as 127.0.0.1:30650 or 0.0.0.0:30650"
                )))
            })?,
    };
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another process (perhaps another tusk) holds the port: stop it, or pick another port with --listen"
            }
            std::io::ErrorKind::PermissionDenied => "ports below 1024 need privileges: use a higher port",
            std::io::ErrorKind::AddrNotAvailable => "that address is not on this machine: use 127.0.0.1 or 0.0.0.0",
            _ => "check the --listen address",
        };
        anyhow!("cannot listen on {addr}: {e}\n  help: {hint}")
    })
}

/// Resolves on SIGINT or SIGTERM, so Kubernetes' stop and Ctrl-C both drain
/// connections instead of cutting them.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("received SIGINT, shutting down"),
        _ = term => tracing::info!("received SIGTERM, shutting down"),
    }
}

/// A generated root token is the only way in when no IdP user is an admin,
/// so it must reach the operator, but never the log: it goes to a file only
/// its owner can read.
fn hand_over_root_token(args: &ServeArgs, token: &Secret<String>) {
    let path = args.store.data_dir.join("root-token");
    let written = std::fs::create_dir_all(&args.store.data_dir)
        .and_then(|()| crate::private_file::write(&path, token.expose().as_bytes()));
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "auth activated; the root token is in this file (owner-only); set pachd.rootToken to choose it")
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "auth activated, but the generated root token could not be saved; set pachd.rootToken (or AUTH_ROOT_TOKEN) and restart to use a known one")
        }
    }
}

/// Hot reload: SIGHUP, or a change to a `--values` file, to the secrets
/// directory or to the `--tls-cert`/`--tls-key` files. Changes are found by
/// polling file metadata every two seconds (see [`sources::Watched`]),
/// which needs no inotify and sees the symlink swaps Kubernetes makes when
/// it updates a mounted Secret or ConfigMap.
fn reloader(args: &ServeArgs, local: SocketAddr) -> tusk_server::reload::Reload {
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    let tx = std::sync::Arc::new(tx);
    #[cfg(unix)]
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                tracing::warn!("cannot listen for SIGHUP; changed files still reload");
                return;
            };
            while hup.recv().await.is_some() {
                tracing::info!("received SIGHUP, reloading the configuration");
                tx.send_modify(|n| *n += 1);
            }
        });
    }
    let mut files: Vec<PathBuf> = args.source.values.clone();
    files.extend(args.tls_cert.iter().cloned());
    files.extend(args.tls_key.iter().cloned());
    let watched = sources::Watched {
        files,
        secrets_dir: args.source.secrets_dir.clone(),
    };
    if !watched.is_empty() {
        let tx = tx.clone();
        // A thread of its own: `stat` on a stalled network volume must not
        // hold a runtime thread.
        let spawned = std::thread::Builder::new()
            .name("tusk-reload-watch".into())
            .spawn(move || {
                let mut last = watched.stamp();
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    if tx.is_closed() {
                        return;
                    }
                    let now = watched.stamp();
                    if now.keys != last.keys {
                        // Keys are read at start only: every replica must
                        // hold the same ones, so a restart applies them
                        // (README, "Rotation").
                        tracing::warn!(
                            file = crate::sources::KEYS_FILE,
                            "the encryption keys in --secrets-dir changed; tusk reads them at start only, so restart every replica to use them"
                        );
                    }
                    let changed = now.changed_from(&last);
                    last = now;
                    if !changed.is_empty() {
                        tracing::info!(
                            changed = %changed.join(", "),
                            "configuration sources changed, reloading the configuration"
                        );
                        tx.send_modify(|n| *n += 1);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot watch the configuration files; SIGHUP still reloads");
        }
    }
    let source = config_source(args, &local.to_string());
    let load: tusk_server::reload::Loader = std::sync::Arc::new(move || match source.load() {
        Ok((Loaded::Ok(config), warnings)) => {
            for w in &warnings {
                tracing::warn!("{}", w.unlevelled());
            }
            Ok(*config)
        }
        Ok((Loaded::Refused, diags)) => Err(diags),
        Err(e) => Err(vec![tusk_core::config::Diagnostic {
            severity: tusk_core::config::Severity::Error,
            source: String::new(),
            line: 0,
            path: String::new(),
            message: e,
            help: None,
        }]),
    });
    // Certificates from the flags are read again on every reload; without
    // the flags the server takes them from the configuration
    // (`proxy.tls.secretName` in the secrets directory).
    let tls: Option<tusk_server::reload::TlsLoader> = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let (cert, key) = (cert.clone(), key.clone());
            Some(std::sync::Arc::new(move |_: &tusk_core::config::Config| {
                let origin = format!(
                    "--tls-cert {} and --tls-key {}",
                    cert.display(),
                    key.display()
                );
                read_tls_files(&cert, &key).map(|pem| Some((pem, origin)))
            }))
        }
        _ => None,
    };
    tusk_server::reload::Reload {
        trigger: rx,
        load,
        tls,
    }
}

/// The `--tls-cert`/`--tls-key` pair, each error naming its flag and file.
fn read_tls_files(cert: &Path, key: &Path) -> Result<tusk_server::TlsPem, String> {
    Ok(tusk_server::TlsPem {
        cert_chain: sources::read_capped(cert).map_err(|e| format!("--tls-cert {e}"))?,
        private_key: Secret::new(sources::read_capped(key).map_err(|e| format!("--tls-key {e}"))?),
    })
}

/// The configuration sources with the address the issuer may derive from:
/// `https://` when this listener serves TLS itself.
fn config_source(args: &ServeArgs, listen: &str) -> SourceArgs {
    let mut source = args.source.clone();
    source.listen = if args.tls_cert.is_some() {
        format!("https://{listen}")
    } else {
        listen.to_owned()
    };
    source
}
