//! SQLite and PostgreSQL implementations of [`tusk_store::Backend`].
//!
//! Both keep every record in one `records` table and share their SQL text
//! (`shared`, with `$n` placeholders, which SQLite gets as `?n`). PostgreSQL
//! (here) goes through sqlx's pool; SQLite (`sqlite`) through one writer
//! thread with group commit. Schema changes are numbered files under `migrations/<dialect>/`,
//! applied in order by a small migrator that records each version in
//! `tusk_schema_migrations`.

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, Row, raw_sql};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tusk_store::{Backend, RawAudit, RawRecord, Store, Write};

mod shared;
mod sqlite;
pub use shared::Error;
use shared::*;
pub use sqlite::{SqliteBackend, open_sqlite};

/// Applies the missing migrations inside the open transaction `$tx`, which
/// already holds the dialect's exclusive lock, then commits.
macro_rules! migrate {
    ($tx:ident, $migrations:expr) => {
        raw_sql(CREATE_MIGRATIONS_TABLE).execute(&mut *$tx).await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM tusk_schema_migrations")
            .fetch_all(&mut *$tx)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?;
        for (version, sql) in pending(&applied, $migrations)? {
            let failed = |e: sqlx::Error| Error::Migrate {
                version,
                reason: e.to_string(),
            };
            raw_sql(sql).execute(&mut *$tx).await.map_err(failed)?;
            sqlx::query("INSERT INTO tusk_schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(unix_now())
                .execute(&mut *$tx)
                .await
                .map_err(failed)?;
            tracing::info!(version, "applied database migration");
        }
        $tx.commit().await?;
    };
}

pub struct PostgresBackend {
    read: PgPool,
    write: PgPool,
}

impl PostgresBackend {
    pub fn pool(&self) -> &PgPool {
        &self.write
    }
}

/// How long a request waits for a pooled connection by default. During a
/// database outage every request waits this long before its 503, so it is
/// short (issue 11: it was 10 s); `tusk.database.acquireTimeout` sets it.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to `url` (`postgres://user[:password]@host[:port]/database`)
/// and migrates. Errors name the host, never the password.
pub async fn open_postgres(url: &str) -> Result<PostgresBackend, Error> {
    open_postgres_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
}

/// [`open_postgres`], with the longest wait for a pooled connection.
pub async fn open_postgres_with(
    url: &str,
    acquire_timeout: Duration,
) -> Result<PostgresBackend, Error> {
    let options = PgConnectOptions::from_str(url).map_err(|e| Error::PostgresUrl(e.to_string()))?;
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    let unreachable = |e: sqlx::Error| Error::ConnectPostgres {
        host: host.clone(),
        reason: e.to_string(),
    };
    // Migrate on a direct connection first: it fails at once with the real
    // cause, where a pool retries until its timeout and reports only that.
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(unreachable)?;
    let mut tx = conn.begin().await?;
    // Two replicas starting together must not both apply a migration; the
    // lock is released when the transaction ends.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    migrate!(tx, POSTGRES_MIGRATIONS);
    conn.close().await?;
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .map_err(unreachable)?;
    tracing::debug!(%host, "postgres store ready");
    Ok(PostgresBackend {
        read: pool.clone(),
        write: pool,
    })
}

/// Opens a store from `--data-dir`-style input: a `postgres://` or
/// `postgresql://` URL selects PostgreSQL, anything else is a directory
/// for SQLite.
pub async fn open(target: &str) -> Result<Store, Error> {
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        Ok(Store::new(open_postgres(target).await?))
    } else {
        Ok(Store::new(open_sqlite(Path::new(target)).await?))
    }
}

fn backend_error(name: &'static str) -> impl Fn(sqlx::Error) -> tusk_store::Error {
    move |e| tusk_store::Error::Backend(format!("{name}: {e}"))
}

fn not_found(kind: &'static str, id: &str) -> tusk_store::Error {
    tusk_store::Error::NotFound {
        kind,
        id: id.to_owned(),
    }
}

/// PostgreSQL's `Backend`, through sqlx and its pools; SQLite's is in
/// `sqlite`, over the same SQL text from `shared`.
impl PostgresBackend {
    fn decode(row: &PgRow) -> Result<RawRecord, sqlx::Error> {
        Ok(RawRecord {
            id: row.try_get(0)?,
            owner: row.try_get(1)?,
            data: row.try_get(2)?,
            expires_at: row.try_get(3)?,
            version: row.try_get(4)?,
        })
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    async fn create(&self, kind: &'static str, rec: RawRecord) -> StoreResult<()> {
        let done = sqlx::query(INSERT_NEW)
            .bind(kind)
            .bind(&rec.id)
            .bind(&rec.owner)
            .bind(&rec.data)
            .bind(rec.expires_at)
            .execute(&self.write)
            .await
            .map_err(backend_error("postgres"))?;
        if done.rows_affected() == 0 {
            return Err(tusk_store::Error::AlreadyExists { kind, id: rec.id });
        }
        Ok(())
    }

    async fn get(&self, kind: &'static str, id: &str) -> StoreResult<RawRecord> {
        let row = sqlx::query(GET)
            .bind(kind)
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend_error("postgres"))?;
        let row = row.ok_or_else(|| not_found(kind, id))?;
        Self::decode(&row).map_err(backend_error("postgres"))
    }

    async fn list(&self, kind: &'static str) -> StoreResult<Vec<RawRecord>> {
        let rows = sqlx::query(LIST).bind(kind).fetch_all(&self.read).await;
        let rows = rows.map_err(backend_error("postgres"))?;
        rows.iter()
            .map(|r| Self::decode(r).map_err(backend_error("postgres")))
            .collect()
    }

    async fn list_page(
        &self,
        kind: &'static str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RawRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let query = match after {
            None => sqlx::query(LIST_FIRST_PAGE).bind(kind).bind(limit),
            Some(after) => sqlx::query(LIST_PAGE_AFTER)
                .bind(kind)
                .bind(after)
                .bind(limit),
        };
        let rows = query.fetch_all(&self.read).await;
        let rows = rows.map_err(backend_error("postgres"))?;
        rows.iter()
            .map(|r| Self::decode(r).map_err(backend_error("postgres")))
            .collect()
    }

    async fn list_by_owner(&self, kind: &'static str, owner: &str) -> StoreResult<Vec<RawRecord>> {
        let rows = sqlx::query(LIST_BY_OWNER)
            .bind(kind)
            .bind(owner)
            .fetch_all(&self.read)
            .await
            .map_err(backend_error("postgres"))?;
        rows.iter()
            .map(|r| Self::decode(r).map_err(backend_error("postgres")))
            .collect()
    }

    async fn put(&self, kind: &'static str, rec: RawRecord) -> StoreResult<()> {
        sqlx::query(UPSERT)
            .bind(kind)
            .bind(&rec.id)
            .bind(&rec.owner)
            .bind(&rec.data)
            .bind(rec.expires_at)
            .execute(&self.write)
            .await
            .map_err(backend_error("postgres"))?;
        Ok(())
    }

    async fn compare_and_swap(
        &self,
        kind: &'static str,
        id: &str,
        expected_version: i64,
        rec: RawRecord,
    ) -> StoreResult<bool> {
        let done = sqlx::query(CAS)
            .bind(kind)
            .bind(id)
            .bind(expected_version)
            .bind(&rec.owner)
            .bind(&rec.data)
            .bind(rec.expires_at)
            .execute(&self.write)
            .await
            .map_err(backend_error("postgres"))?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        // Lost the race or the record is gone: only the latter is an error.
        self.get(kind, id).await.map(|_| false)
    }

    async fn delete(&self, kind: &'static str, id: &str) -> StoreResult<()> {
        let done = sqlx::query(DELETE)
            .bind(kind)
            .bind(id)
            .execute(&self.write)
            .await
            .map_err(backend_error("postgres"))?;
        if done.rows_affected() == 0 {
            return Err(not_found(kind, id));
        }
        Ok(())
    }

    async fn delete_by_owner(&self, kind: &'static str, owner: &str) -> StoreResult<u64> {
        let done = sqlx::query(DELETE_BY_OWNER)
            .bind(kind)
            .bind(owner)
            .execute(&self.write)
            .await
            .map_err(backend_error("postgres"))?;
        Ok(done.rows_affected())
    }

    async fn delete_with_prefix(
        &self,
        kind: &'static str,
        id: &str,
        prefix: &str,
    ) -> StoreResult<u64> {
        let done = sqlx::query(DELETE_WITH_PREFIX)
            .bind(kind)
            .bind(id)
            .bind(prefix)
            .execute(&self.write)
            .await
            .map_err(backend_error("postgres"))?;
        Ok(done.rows_affected())
    }

    async fn take(&self, kind: &'static str, id: &str) -> StoreResult<RawRecord> {
        let row = sqlx::query(TAKE)
            .bind(kind)
            .bind(id)
            .fetch_optional(&self.write)
            .await
            .map_err(backend_error("postgres"))?;
        let row = row.ok_or_else(|| not_found(kind, id))?;
        Self::decode(&row).map_err(backend_error("postgres"))
    }

    async fn gc(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query(GC).bind(now).execute(&self.write).await;
        Ok(done.map_err(backend_error("postgres"))?.rows_affected())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(backend_error("postgres"))?;
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn append_audit(&self, row: RawAudit) -> StoreResult<()> {
        sqlx::query(AUDIT_APPEND)
            .bind(row.at)
            .bind(&row.event)
            .bind(&row.actor)
            .bind(&row.subject)
            .bind(&row.resource)
            .bind(&row.data)
            .execute(&self.write)
            .await
            .map_err(backend_error("postgres"))?;
        Ok(())
    }

    async fn list_audit(
        &self,
        query: &tusk_store::audit::AuditQuery,
    ) -> StoreResult<Vec<RawAudit>> {
        let limit = i64::try_from(query.effective_limit()).unwrap_or(i64::MAX);
        let rows = sqlx::query(AUDIT_LIST)
            .bind(&query.actor)
            .bind(&query.subject)
            .bind(&query.resource)
            .bind(query.since)
            .bind(query.until)
            .bind(limit)
            .fetch_all(&self.read)
            .await
            .map_err(backend_error("postgres"))?;
        let decode = |row: &PgRow| -> Result<RawAudit, sqlx::Error> {
            Ok(RawAudit {
                id: row.try_get(0)?,
                at: row.try_get(1)?,
                event: row.try_get(2)?,
                actor: row.try_get(3)?,
                subject: row.try_get(4)?,
                resource: row.try_get(5)?,
                data: row.try_get(6)?,
            })
        };
        rows.iter()
            .map(|r| decode(r).map_err(backend_error("postgres")))
            .collect()
    }

    async fn purge_audit(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query(AUDIT_PURGE)
            .bind(before)
            .execute(&self.write)
            .await;
        Ok(done.map_err(backend_error("postgres"))?.rows_affected())
    }

    async fn commit(&self, writes: Vec<Write>) -> StoreResult<()> {
        let failed = backend_error("postgres");
        // Dropping the transaction on an early return rolls it back.
        let mut tx = self.write.begin().await.map_err(&failed)?;
        for write in &writes {
            match write {
                Write::Create { kind, rec } => {
                    let done = sqlx::query(INSERT_NEW)
                        .bind(*kind)
                        .bind(&rec.id)
                        .bind(&rec.owner)
                        .bind(&rec.data)
                        .bind(rec.expires_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(&failed)?;
                    if done.rows_affected() == 0 {
                        return Err(tusk_store::Error::AlreadyExists {
                            kind,
                            id: rec.id.clone(),
                        });
                    }
                }
                Write::Swap {
                    kind,
                    expected_version,
                    rec,
                } => {
                    let done = sqlx::query(CAS)
                        .bind(*kind)
                        .bind(&rec.id)
                        .bind(expected_version)
                        .bind(&rec.owner)
                        .bind(&rec.data)
                        .bind(rec.expires_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(&failed)?;
                    if done.rows_affected() == 0 {
                        let exists = sqlx::query(GET)
                            .bind(*kind)
                            .bind(&rec.id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(&failed)?;
                        return Err(match exists {
                            Some(_) => tusk_store::Error::Conflict {
                                kind,
                                id: rec.id.clone(),
                            },
                            None => not_found(kind, &rec.id),
                        });
                    }
                }
                Write::Audit(row) => {
                    sqlx::query(AUDIT_APPEND)
                        .bind(row.at)
                        .bind(&row.event)
                        .bind(&row.actor)
                        .bind(&row.subject)
                        .bind(&row.resource)
                        .bind(&row.data)
                        .execute(&mut *tx)
                        .await
                        .map_err(&failed)?;
                }
            }
        }
        // Other replicas hear of the changed records with the commit
        // (NOTIFY is delivered then), in one statement for all of them.
        let changes: Vec<String> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Create { kind, rec } | Write::Swap { kind, rec, .. } => Some(
                    tusk_store::Change {
                        kind: (*kind).to_owned(),
                        id: Some(rec.id.clone()),
                    }
                    .encode(),
                ),
                Write::Audit(_) => None,
            })
            .collect();
        if !changes.is_empty() {
            sqlx::query("SELECT pg_notify($1, change) FROM unnest($2::text[]) AS change")
                .bind(CHANGES_CHANNEL)
                .bind(&changes)
                .execute(&mut *tx)
                .await
                .map_err(&failed)?;
        }
        tx.commit().await.map_err(&failed)
    }

    async fn announce(&self, change: &tusk_store::Change) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(change.encode())
            .execute(&self.write)
            .await
            .map_err(backend_error("postgres"))?;
        Ok(())
    }

    fn listen(&self, changes: tokio::sync::broadcast::Sender<tusk_store::Change>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no async runtime: changes from other replicas will not be seen");
            return;
        };
        runtime.spawn(relay_changes(self.write.clone(), changes.downgrade()));
    }
}

/// The PostgreSQL channel replicas announce changes on.
const CHANGES_CHANNEL: &str = "tusk_changes";

/// Relays other replicas' `NOTIFY`s into the store's change feed until the
/// store is dropped. After a lost connection, a flush (`*`) tells caches to
/// drop everything, since notifications sent meanwhile are gone.
async fn relay_changes(
    pool: PgPool,
    changes: tokio::sync::broadcast::WeakSender<tusk_store::Change>,
) {
    let mut delay = Duration::from_millis(200);
    // Holding only a weak sender lets the task end once the store is gone.
    let send = |change: tusk_store::Change| match changes.upgrade() {
        Some(tx) => {
            let _ = tx.send(change);
            true
        }
        None => false,
    };
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(CHANGES_CHANNEL).await {
                    tracing::warn!(error = %e, "cannot LISTEN for changes from other replicas; retrying");
                } else {
                    delay = Duration::from_millis(200);
                    if !send(tusk_store::Change {
                        kind: "*".into(),
                        id: None,
                    }) {
                        return;
                    }
                    loop {
                        let alive = match listener.try_recv().await {
                            Ok(Some(n)) => send(tusk_store::Change::decode(n.payload())),
                            // The connection dropped and was re-established:
                            // notifications in between are lost.
                            Ok(None) => send(tusk_store::Change {
                                kind: "*".into(),
                                id: None,
                            }),
                            Err(e) => {
                                tracing::warn!(error = %e, "lost the change feed from other replicas; reconnecting");
                                break;
                            }
                        };
                        if !alive {
                            return;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect the change listener; retrying"),
        }
        if pool.is_closed() || changes.upgrade().is_none() {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
