//! `tusk store reencrypt`, and where the key-encryption keys come from
//! (shared with `serve`).

use crate::sources::{self, KEYS_FILE};
use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tusk_store::{Keyring, Store};

/// The environment variable holding the keys, one per line or comma-separated.
pub const KEYS_ENV: &str = "TUSK_ENCRYPTION_KEYS";

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Reseal every sealed value under the first encryption key, so older keys can be removed.
    #[command(
        after_help = "Examples:\n  tusk store reencrypt --data-dir ./tusk-data\n  tusk store reencrypt --database-url postgres://tusk@db:5432/tusk --secrets-dir /etc/tusk/secrets\n\nRotation: put a new key on the first line of encryption-keys (keep the old ones below it),\nrestart every replica, run this, then remove the old keys."
    )]
    Reencrypt(StoreArgs),
}

/// Where the store lives; `serve` and `store` take the same flags.
#[derive(Args)]
pub struct StoreLocation {
    /// Directory for the embedded SQLite database.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./tusk-data",
        env = "TUSK_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// Use PostgreSQL instead of SQLite, e.g. postgres://tusk@db:5432/tusk. Replicas sharing one database work together.
    #[arg(
        long,
        value_name = "URL",
        env = "TUSK_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Args)]
pub struct StoreArgs {
    #[command(flatten)]
    location: StoreLocation,
    /// Directory of secrets; the keys are read from its `encryption-keys` file.
    #[arg(long, value_name = "DIR", env = "TUSK_SECRETS_DIR")]
    secrets_dir: Option<PathBuf>,
}

pub fn run(cmd: StoreCommand) -> ExitCode {
    let StoreCommand::Reencrypt(args) = cmd;
    match crate::runtime::block_on(reencrypt(args)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("tusk: error: {}", crate::error::chain(e.as_ref()));
            ExitCode::FAILURE
        }
        Err(code) => code,
    }
}

async fn reencrypt(args: StoreArgs) -> anyhow::Result<()> {
    let StoreArgs {
        location: args,
        secrets_dir,
    } = args;
    let (store, sqlite) = match &args.database_url {
        Some(url) => {
            let keyring = keyring(secrets_dir.as_deref(), None)?;
            let store = Store::new(tusk_store_sql::open_postgres(url).await?);
            (store.with_keyring(keyring), None)
        }
        None => {
            let backend = Arc::new(tusk_store_sql::open_sqlite(&args.data_dir).await?);
            // Never generate here: a new key could open nothing already sealed.
            let keyring = keyring(secrets_dir.as_deref(), Some((&args.data_dir, false)))?;
            let store = Store::from_arc(backend.clone()).with_keyring(keyring.clone());
            (store, Some(backend))
        }
    };
    let done = store
        .reencrypt()
        .await
        .context("cannot reseal the store; nothing after the failing row was changed")?;
    if let Some(backend) = sqlite {
        backend
            .checkpoint()
            .await
            .context("resealed, but could not checkpoint the SQLite log; the old page images stay in tusk.db-wal until tusk next checkpoints")?;
    }
    println!(
        "resealed {} row(s) sealed under older keys, sealed {} row(s) stored in clear, {} row(s) already under the first key",
        done.resealed, done.sealed_plain, done.current
    );
    Ok(())
}

/// The keyring, from the first of: `TUSK_ENCRYPTION_KEYS`,
/// `<secrets-dir>/encryption-keys`, `<data-dir>/encryption-keys` (SQLite
/// only). On SQLite with none of them and `generate`, a new key is written
/// to `<data-dir>/encryption-keys` (0600). PostgreSQL (`sqlite: None`)
/// requires a configured key: replicas must share it, and a key generated
/// on one machine would be lost with it.
pub fn keyring(
    secrets_dir: Option<&Path>,
    sqlite: Option<(&Path, bool)>,
) -> anyhow::Result<Arc<Keyring>> {
    if let Ok(text) = std::env::var(KEYS_ENV)
        && !text.trim().is_empty()
    {
        let keyring = Keyring::parse(&text).map_err(|e| anyhow!("{KEYS_ENV}: {e}"))?;
        tracing::info!(
            source = KEYS_ENV,
            sealing_key = keyring.sealing_key_id(),
            "secrets in the store are sealed"
        );
        return Ok(Arc::new(keyring));
    }
    // In a Kubernetes secret volume the secret `encryption-keys` with the
    // key `encryption-keys` is a directory holding a file of that name.
    let mut candidates: Vec<PathBuf> = secrets_dir
        .map(|d| {
            let path = d.join(KEYS_FILE);
            if path.is_dir() {
                path.join(KEYS_FILE)
            } else {
                path
            }
        })
        .into_iter()
        .collect();
    if let Some((data_dir, _)) = sqlite {
        candidates.push(data_dir.join(KEYS_FILE));
    }
    for path in &candidates {
        if path.is_file() {
            return read_keyring(path);
        }
    }
    match sqlite {
        Some((data_dir, true)) => generate(&data_dir.join(KEYS_FILE)),
        Some((_, false)) => Err(anyhow!(
            "no encryption key: {KEYS_ENV} is not set and {} does not exist\n  help: give tusk the keys the store was sealed with, in {KEYS_ENV} or --secrets-dir",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        )),
        None => {
            let dir = secrets_dir.map_or("<secrets-dir>".to_owned(), |d| d.display().to_string());
            Err(anyhow!(
                "no encryption key for PostgreSQL: tusk seals signing keys, client secrets and upstream tokens in the database and needs a key every replica shares\n  help: create one with `openssl rand -base64 32 > {dir}/{KEYS_FILE}` and pass --secrets-dir {dir} to every replica, or set {KEYS_ENV}"
            ))
        }
    }
}

fn read_keyring(path: &Path) -> anyhow::Result<Arc<Keyring>> {
    let bytes = sources::read_capped(path).map_err(|e| anyhow!("{e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow!(
            "{}: is not text; expected one base64 key per line",
            path.display()
        )
    })?;
    let keyring = Keyring::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    tracing::info!(
        source = %path.display(),
        sealing_key = keyring.sealing_key_id(),
        "secrets in the store are sealed"
    );
    Ok(Arc::new(keyring))
}

/// Writes a new key, owner-only, without ever replacing an existing file.
fn generate(path: &Path) -> anyhow::Result<Arc<Keyring>> {
    use std::io::Write;
    let line = Keyring::generate_line().map_err(|e| anyhow!("{e}"))?;
    let keyring = Keyring::parse(&line).map_err(|e| anyhow!("{e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(path).and_then(|mut file| {
        // `mode` is filtered through the umask; this is not.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(format!("{line}\n").as_bytes())?;
        file.sync_all()
    });
    written.with_context(|| {
        format!(
            "cannot write a new encryption key to {}; check that the data directory is writable, or configure a key with {KEYS_ENV} or --secrets-dir",
            path.display()
        )
    })?;
    tracing::info!(
        path = %path.display(),
        sealing_key = keyring.sealing_key_id(),
        "generated an encryption key for the secrets in the store; back it up with the database (without it they cannot be read), or move it to --secrets-dir"
    );
    Ok(Arc::new(keyring))
}
