//! What both backends share, a leaf below them: the error, the SQL text
//! (`$n` placeholders), the migrations, and the data directory's modes.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) type StoreResult<T> = Result<T, tusk_store::Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot create data directory {path}: {source}; create it, or pass a writable directory with --data-dir"
    )]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data directory {path} has mode {mode:o}, so other users can read or change the database and the keys beside it; run `chmod 700 {path}` and start tusk again"
    )]
    DataDirMode { path: PathBuf, mode: u32 },
    #[error(
        "cannot create {path} or make it readable by its owner only (mode 600): {source}; run tusk as the user that owns the data directory"
    )]
    DataFileMode {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot open SQLite database {path}: {reason}; check that the directory is writable, or pass another with --data-dir"
    )]
    OpenSqlite { path: PathBuf, reason: String },
    #[error("SQLite error: {0}")]
    Sqlite(String),
    #[error(
        "invalid PostgreSQL URL ({0}); expected postgres://user[:password]@host[:port]/database"
    )]
    PostgresUrl(String),
    #[error(
        "cannot connect to PostgreSQL at {host}: {reason}; check that PostgreSQL runs there and accepts this user and database"
    )]
    ConnectPostgres { host: String, reason: String },
    #[error("applying database migration {version} failed: {reason}")]
    Migrate { version: i64, reason: String },
    #[error(
        "the database schema is at version {found}, but this tusk knows only up to {known}; run a tusk at least as new as the one that last upgraded this database"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

impl From<Error> for tusk_store::Error {
    fn from(e: Error) -> Self {
        tusk_store::Error::Backend(e.to_string())
    }
}

pub(crate) type Migrations = &'static [(i64, &'static str)];

pub(crate) const SQLITE_MIGRATIONS: Migrations = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_audit.sql")),
];
pub(crate) const POSTGRES_MIGRATIONS: Migrations = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_audit.sql")),
];

pub(crate) const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS tusk_schema_migrations \
    (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";
/// Arbitrary constant ("tusk" in ASCII) shared by every replica, so only
/// one of them migrates at a time.
pub(crate) const PG_MIGRATION_LOCK: i64 = 0x7475_736b;

pub(crate) const INSERT_NEW: &str = "INSERT INTO records (kind, id, owner, data, expires_at, version) \
    VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (kind, id) DO NOTHING";
pub(crate) const UPSERT: &str = "INSERT INTO records (kind, id, owner, data, expires_at, version) \
    VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, \
    data = excluded.data, expires_at = excluded.expires_at, version = records.version + 1";
pub(crate) const GET: &str = "SELECT id, owner, data, expires_at, version FROM records \
    WHERE kind = $1 AND id = $2";
pub(crate) const LIST: &str = "SELECT id, owner, data, expires_at, version FROM records \
    WHERE kind = $1 ORDER BY id";
/// `list_page`: the first page, then the pages after a given id.
pub(crate) const LIST_FIRST_PAGE: &str = "SELECT id, owner, data, expires_at, version FROM records \
    WHERE kind = $1 ORDER BY id LIMIT $2";
pub(crate) const LIST_PAGE_AFTER: &str = "SELECT id, owner, data, expires_at, version FROM records \
    WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3";
pub(crate) const LIST_BY_OWNER: &str = "SELECT id, owner, data, expires_at, version FROM records \
    WHERE kind = $1 AND owner = $2 ORDER BY id";
pub(crate) const CAS: &str = "UPDATE records SET owner = $4, data = $5, expires_at = $6, \
    version = version + 1 WHERE kind = $1 AND id = $2 AND version = $3";
pub(crate) const DELETE: &str = "DELETE FROM records WHERE kind = $1 AND id = $2";
pub(crate) const DELETE_BY_OWNER: &str = "DELETE FROM records WHERE kind = $1 AND owner = $2";
/// `substr`, not `LIKE`: ids may contain `%` and `_`, which LIKE would
/// treat as wildcards. Both dialects count characters from 1.
pub(crate) const DELETE_WITH_PREFIX: &str = "DELETE FROM records WHERE kind = $1 \
    AND (id = $2 OR substr(id, 1, length($3)) = $3)";
pub(crate) const TAKE: &str = "DELETE FROM records WHERE kind = $1 AND id = $2 \
    RETURNING id, owner, data, expires_at, version";
pub(crate) const GC: &str = "DELETE FROM records WHERE expires_at <= $1";
pub(crate) const AUDIT_APPEND: &str = "INSERT INTO audit_events (at, event, actor, subject, resource, data) \
    VALUES ($1, $2, $3, $4, $5, $6)";
// An unset filter is bound as NULL and matches every row.
pub(crate) const AUDIT_LIST: &str = "SELECT id, at, event, actor, subject, resource, data FROM audit_events \
    WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR subject = $2) \
    AND ($3 IS NULL OR resource = $3) AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at <= $5) \
    ORDER BY id DESC LIMIT $6";
pub(crate) const AUDIT_PURGE: &str = "DELETE FROM audit_events WHERE at < $1";

/// The migrations not yet in `applied`, in order; `SchemaTooNew` if the
/// database is ahead of this build.
pub(crate) fn pending(
    applied: &[i64],
    migrations: Migrations,
) -> Result<Vec<(i64, &'static str)>, Error> {
    let known = migrations.last().map_or(0, |m| m.0);
    if let Some(&found) = applied.iter().max().filter(|&&v| v > known) {
        return Err(Error::SchemaTooNew { found, known });
    }
    Ok(migrations
        .iter()
        .filter(|(version, _)| !applied.contains(version))
        .copied()
        .collect())
}

/// Creates the data directory owner-only (0700, whatever the umask), or
/// refuses an existing one that group or others can use: it holds the
/// database and, without a configured key, the key that seals its secrets.
pub(crate) fn owner_only_dir(dir: &Path) -> Result<(), Error> {
    let failed = |source| Error::DataDir {
        path: dir.to_owned(),
        source,
    };
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(failed(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "it is not a directory",
        ))),
        #[cfg(unix)]
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Error::DataDirMode {
                    path: dir.to_owned(),
                    mode,
                });
            }
            Ok(())
        }
        #[cfg(not(unix))]
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
                builder.mode(0o700);
                builder.create(dir).map_err(failed)?;
                // `mode` is filtered through the umask; this is not.
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(failed)?;
            }
            #[cfg(not(unix))]
            builder.create(dir).map_err(failed)?;
            Ok(())
        }
        Err(e) => Err(failed(e)),
    }
}

/// Makes the database file and its `-wal` and `-shm` companions 0600.
/// With `create`, the database file is created empty first (SQLite treats
/// an empty file as a new database), so it never exists with a wider mode.
pub(crate) fn owner_only_files(db: &Path, create: bool) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut name = db.as_os_str().to_owned();
        let companions = ["-wal", "-shm"].map(|suffix| {
            name.push(suffix);
            let path = PathBuf::from(&name);
            name = db.as_os_str().to_owned();
            path
        });
        for (i, path) in std::iter::once(db.to_owned()).chain(companions).enumerate() {
            let failed = |source| Error::DataFileMode {
                path: path.clone(),
                source,
            };
            if create && i == 0 {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o600)
                    .open(&path)
                    .map_err(failed)?;
            }
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other.map_err(failed)?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (db, create);
    Ok(())
}
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
