//! The SQLite backend: one writer thread with group commit, and readers
//! that run on the calling thread.
//!
//! SQLite allows one writer at a time, and a commit costs far more than
//! the statements before it, so every write goes to one thread owning the
//! write connection. It takes the transactions queued when it becomes free
//! and commits them together (group commit): each runs inside its own
//! savepoint, so one that fails is rolled back alone and its neighbours
//! still commit. A caller hears back only after the COMMIT, so a write
//! reported done is in the write-ahead log.
//!
//! Reads take an idle connection from a small pool and run on the calling
//! thread: a read of a few rows from the page cache takes microseconds,
//! less than handing it to another thread and back.
//!
//! Durability, with WAL and `synchronous = NORMAL`: a committed write
//! survives a crash of the process (the log is in the operating system's
//! cache and is replayed when the database next opens). A power loss or
//! an operating-system crash can lose the transactions committed since the
//! last checkpoint synced the log, but never leaves the database torn.

use crate::shared::{
    self, Error, SQLITE_MIGRATIONS, StoreResult, owner_only_dir, owner_only_files, unix_now,
};
use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tusk_store::{Backend, RawAudit, RawRecord, Write};

/// The most transactions one commit carries. Bounds the latency a caller
/// waits behind others' writes.
const MAX_BATCH: usize = 64;
/// Idle read connections kept; more are opened under load and closed
/// when they come back to a full pool.
const MAX_IDLE_READERS: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The outcome of a commit for one transaction: `Err` if the batch it was
/// in could not be committed.
type Reply = Box<dyn FnOnce(Result<(), &str>) + Send>;
/// One transaction for the writer: runs on the write connection (or, when
/// no transaction could be opened, is told why) and says whether it
/// succeeded, with what to tell its caller once the commit is known.
type Job = Box<dyn FnOnce(Result<&Connection, &str>) -> (bool, Reply) + Send>;

/// SQLite in WAL mode, see the module documentation.
pub struct SqliteBackend {
    path: PathBuf,
    jobs: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
}

impl SqliteBackend {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copies every page from the write-ahead log into the database file
    /// and empties the log. After resealing, this is what removes the old
    /// clear-text page images from disk (deleted cells are zeroed, see
    /// `secure_delete` in [`open_sqlite`]).
    pub async fn checkpoint(&self) -> Result<(), Error> {
        // On a connection of its own: a TRUNCATE checkpoint waits for the
        // writer to be between transactions.
        let path = self.path.clone();
        let done = tokio::task::spawn_blocking(move || {
            let conn = open_connection(&path, true)?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        })
        .await;
        match done {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Sqlite(e.to_string())),
            Err(e) => Err(Error::Sqlite(e.to_string())),
        }
    }

    /// Runs `f` as one transaction on the writer thread, committed with
    /// whatever else is queued; the result once the commit is done.
    async fn write<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => f(conn),
                Err(why) => Err(backend(why)),
            };
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |committed| {
                let _ = tx.send(match committed {
                    Ok(()) => result,
                    Err(why) => Err(backend(why)),
                });
            });
            (ok, reply)
        });
        self.jobs.send(job).map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }

    /// Runs `f` on an idle read connection, on this thread.
    fn read<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> StoreResult<R> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_connection(&self.path, false).map_err(sqlite_error)?,
        };
        let result = f(&conn).map_err(sqlite_error);
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// Opens (creating if needed) `<data_dir>/tusk.db`, migrates it and starts
/// its writer thread.
pub async fn open_sqlite(data_dir: &Path) -> Result<SqliteBackend, Error> {
    owner_only_dir(data_dir)?;
    let path = data_dir.join("tusk.db");
    owner_only_files(&path, true)?;
    let opened = |source: rusqlite::Error| Error::OpenSqlite {
        path: path.clone(),
        reason: source.to_string(),
    };
    // The writer opens first so that the file and WAL mode exist before
    // any reader connects.
    let conn = open_connection(&path, true).map_err(opened)?;
    migrate(&conn)?;
    // SQLite gives `-wal` and `-shm` the database file's mode, but files an
    // older tusk left behind keep theirs until narrowed.
    owner_only_files(&path, false)?;
    let (jobs, queue) = mpsc::channel();
    std::thread::Builder::new()
        .name("tusk-sqlite-writer".into())
        .spawn(move || run_writer(&conn, &queue))
        .map_err(|e| Error::OpenSqlite {
            path: path.clone(),
            reason: format!("cannot start the writer thread: {e}"),
        })?;
    tracing::debug!(path = %path.display(), "sqlite store ready");
    Ok(SqliteBackend {
        path,
        jobs,
        readers: Mutex::new(Vec::new()),
    })
}

fn open_connection(path: &Path, writer: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if writer {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(32);
    if writer {
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        // A row rewritten sealed must not leave its clear-text cell behind
        // in free space, where a copy of the file would still show it.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
        )?;
    } else {
        // Reads only, and a mistake here must not write.
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), Error> {
    let failed = |version| {
        move |e: rusqlite::Error| Error::Migrate {
            version,
            reason: e.to_string(),
        }
    };
    conn.execute_batch("BEGIN IMMEDIATE").map_err(failed(0))?;
    let applied = (|| {
        conn.execute_batch(shared::CREATE_MIGRATIONS_TABLE)?;
        let mut stmt = conn.prepare("SELECT version FROM tusk_schema_migrations")?;
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        rows.collect::<rusqlite::Result<Vec<i64>>>()
    })();
    let result = applied.map_err(failed(0)).and_then(|applied| {
        for (version, sql) in shared::pending(&applied, SQLITE_MIGRATIONS)? {
            conn.execute_batch(sql).map_err(failed(version))?;
            conn.execute(
                "INSERT INTO tusk_schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, unix_now()],
            )
            .map_err(failed(version))?;
            tracing::info!(version, "applied database migration");
        }
        conn.execute_batch("COMMIT").map_err(failed(0))
    });
    if result.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

/// The writer thread: until every sender is gone, takes the jobs queued,
/// runs each in a savepoint of one transaction, commits, then answers.
fn run_writer(conn: &Connection, queue: &mpsc::Receiver<Job>) {
    let mut pending: Vec<Job> = Vec::new();
    loop {
        if pending.is_empty() {
            match queue.recv() {
                Ok(job) => pending.push(job),
                Err(_) => return,
            }
        }
        while pending.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => pending.push(job),
                Err(_) => break,
            }
        }
        let mut batch = std::mem::take(&mut pending).into_iter();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let why = format!("cannot start a write transaction: {e}");
            for job in batch {
                let (_, reply) = job(Err(&why));
                reply(Err(&why));
            }
            continue;
        }
        let mut replies: Vec<Reply> = Vec::new();
        let mut lost: Option<String> = None;
        for job in batch.by_ref() {
            let savepoint = conn.execute_batch("SAVEPOINT job");
            let outcome = match savepoint {
                Ok(()) => std::panic::catch_unwind(AssertUnwindSafe(|| job(Ok(conn)))).ok(),
                Err(e) => {
                    let why = format!("cannot start a write: {e}");
                    let (_, reply) = job(Err(&why));
                    reply(Err(&why));
                    continue;
                }
            };
            // A panicked job dropped its reply, which tells its caller.
            let (ok, reply) = outcome.unzip();
            let undo = !ok.unwrap_or(false);
            if conn.is_autocommit() {
                // SQLite rolled the whole transaction back (a full disk, an
                // I/O error): every job so far in this batch is undone.
                lost = Some("SQLite rolled back the write transaction".into());
                replies.extend(reply);
                break;
            }
            let ended = if undo {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            } else {
                conn.execute_batch("RELEASE job")
            };
            replies.extend(reply);
            if let Err(e) = ended {
                lost = Some(format!("cannot end a write: {e}"));
                break;
            }
        }
        let committed = match lost {
            Some(why) => Err(why),
            None => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
        };
        if committed.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if let Err(why) = &committed {
            tracing::error!(error = %why, batch = replies.len(), "SQLite write batch failed");
        }
        for reply in replies {
            reply(committed.as_ref().map(|_| ()).map_err(String::as_str));
        }
        // Jobs after a lost transaction go first in the next batch.
        pending.extend(batch);
    }
}

fn backend(why: &str) -> tusk_store::Error {
    tusk_store::Error::Backend(format!("sqlite: {why}"))
}

fn sqlite_error(e: rusqlite::Error) -> tusk_store::Error {
    backend(&e.to_string())
}

fn writer_gone() -> tusk_store::Error {
    backend("the writer thread has stopped; restart tusk")
}

fn decode(row: &Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok(RawRecord {
        id: row.get(0)?,
        owner: row.get(1)?,
        data: row.get(2)?,
        expires_at: row.get(3)?,
        version: row.get(4)?,
    })
}

/// The shared SQL text with SQLite's numbered placeholders: `$1` is a
/// named parameter in SQLite, numbered by first appearance, where `?1`
/// is parameter 1 wherever it appears.
fn sql(text: &str) -> String {
    text.replace('$', "?")
}

fn not_found(kind: &'static str, id: &str) -> tusk_store::Error {
    tusk_store::Error::NotFound {
        kind,
        id: id.to_owned(),
    }
}

fn insert_new(conn: &Connection, kind: &'static str, rec: &RawRecord) -> StoreResult<()> {
    let done = conn
        .prepare_cached(&sql(shared::INSERT_NEW))
        .and_then(|mut s| s.execute(params![kind, rec.id, rec.owner, rec.data, rec.expires_at]))
        .map_err(sqlite_error)?;
    if done == 0 {
        return Err(tusk_store::Error::AlreadyExists {
            kind,
            id: rec.id.clone(),
        });
    }
    Ok(())
}

/// `Ok(false)` when the version moved on, `NotFound` when the row is gone.
fn swap(
    conn: &Connection,
    kind: &'static str,
    id: &str,
    expected: i64,
    rec: &RawRecord,
) -> StoreResult<bool> {
    let done = conn
        .prepare_cached(&sql(shared::CAS))
        .and_then(|mut s| {
            s.execute(params![
                kind,
                id,
                expected,
                rec.owner,
                rec.data,
                rec.expires_at
            ])
        })
        .map_err(sqlite_error)?;
    if done == 1 {
        return Ok(true);
    }
    let exists = conn
        .prepare_cached("SELECT 1 FROM records WHERE kind = ?1 AND id = ?2")
        .and_then(|mut s| s.query_row(params![kind, id], |_| Ok(())).optional())
        .map_err(sqlite_error)?;
    match exists {
        Some(()) => Ok(false),
        None => Err(not_found(kind, id)),
    }
}

fn append_audit(conn: &Connection, row: &RawAudit) -> StoreResult<()> {
    conn.prepare_cached(&sql(shared::AUDIT_APPEND))
        .and_then(|mut s| {
            s.execute(params![
                row.at,
                row.event,
                row.actor,
                row.subject,
                row.resource,
                row.data
            ])
        })
        .map_err(sqlite_error)?;
    Ok(())
}

/// A statement that changes rows; the number it changed.
fn changed(conn: &Connection, text: &str, args: impl rusqlite::Params) -> StoreResult<usize> {
    conn.prepare_cached(&sql(text))
        .and_then(|mut s| s.execute(args))
        .map_err(sqlite_error)
}

fn rows(
    conn: &Connection,
    text: &str,
    args: impl rusqlite::Params,
) -> rusqlite::Result<Vec<RawRecord>> {
    let mut stmt = conn.prepare_cached(&sql(text))?;
    let rows = stmt.query_map(args, decode)?;
    rows.collect()
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn create(&self, kind: &'static str, rec: RawRecord) -> StoreResult<()> {
        self.write(move |conn| insert_new(conn, kind, &rec)).await
    }

    async fn get(&self, kind: &'static str, id: &str) -> StoreResult<RawRecord> {
        let row = self.read(|conn| {
            conn.prepare_cached(&sql(shared::GET))?
                .query_row(params![kind, id], decode)
                .optional()
        })?;
        row.ok_or_else(|| not_found(kind, id))
    }

    async fn list(&self, kind: &'static str) -> StoreResult<Vec<RawRecord>> {
        self.read(|conn| rows(conn, shared::LIST, params![kind]))
    }

    async fn list_page(
        &self,
        kind: &'static str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RawRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|conn| match after {
            None => rows(conn, shared::LIST_FIRST_PAGE, params![kind, limit]),
            Some(after) => rows(conn, shared::LIST_PAGE_AFTER, params![kind, after, limit]),
        })
    }

    async fn list_by_owner(&self, kind: &'static str, owner: &str) -> StoreResult<Vec<RawRecord>> {
        self.read(|conn| rows(conn, shared::LIST_BY_OWNER, params![kind, owner]))
    }

    async fn put(&self, kind: &'static str, rec: RawRecord) -> StoreResult<()> {
        self.write(move |conn| {
            let args = params![kind, rec.id, rec.owner, rec.data, rec.expires_at];
            changed(conn, shared::UPSERT, args).map(drop)
        })
        .await
    }

    async fn compare_and_swap(
        &self,
        kind: &'static str,
        id: &str,
        expected_version: i64,
        rec: RawRecord,
    ) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |conn| swap(conn, kind, &id, expected_version, &rec))
            .await
    }

    async fn commit(&self, writes: Vec<Write>) -> StoreResult<()> {
        // One job: its savepoint makes the writes all or nothing.
        self.write(move |conn| {
            for write in &writes {
                match write {
                    Write::Create { kind, rec } => insert_new(conn, kind, rec)?,
                    Write::Swap {
                        kind,
                        expected_version,
                        rec,
                    } => {
                        if !swap(conn, kind, &rec.id, *expected_version, rec)? {
                            return Err(tusk_store::Error::Conflict {
                                kind,
                                id: rec.id.clone(),
                            });
                        }
                    }
                    Write::Audit(row) => append_audit(conn, row)?,
                }
            }
            Ok(())
        })
        .await
    }

    async fn delete(&self, kind: &'static str, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(
            move |conn| match changed(conn, shared::DELETE, params![kind, id])? {
                0 => Err(not_found(kind, &id)),
                _ => Ok(()),
            },
        )
        .await
    }

    async fn delete_by_owner(&self, kind: &'static str, owner: &str) -> StoreResult<u64> {
        let owner = owner.to_owned();
        self.write(move |conn| changed(conn, shared::DELETE_BY_OWNER, params![kind, owner]))
            .await
            .map(|n| n as u64)
    }

    async fn delete_with_prefix(
        &self,
        kind: &'static str,
        id: &str,
        prefix: &str,
    ) -> StoreResult<u64> {
        let (id, prefix) = (id.to_owned(), prefix.to_owned());
        self.write(move |conn| changed(conn, shared::DELETE_WITH_PREFIX, params![kind, id, prefix]))
            .await
            .map(|n| n as u64)
    }

    async fn take(&self, kind: &'static str, id: &str) -> StoreResult<RawRecord> {
        let id = id.to_owned();
        self.write(move |conn| {
            let row = conn
                .prepare_cached(&sql(shared::TAKE))
                .and_then(|mut s| s.query_row(params![kind, id], decode).optional())
                .map_err(sqlite_error)?;
            row.ok_or_else(|| not_found(kind, &id))
        })
        .await
    }

    async fn gc(&self, now: i64) -> StoreResult<u64> {
        self.write(move |conn| changed(conn, shared::GC, params![now]))
            .await
            .map(|n| n as u64)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn append_audit(&self, row: RawAudit) -> StoreResult<()> {
        self.write(move |conn| append_audit(conn, &row)).await
    }

    async fn list_audit(
        &self,
        query: &tusk_store::audit::AuditQuery,
    ) -> StoreResult<Vec<RawAudit>> {
        let limit = i64::try_from(query.effective_limit()).unwrap_or(i64::MAX);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql(shared::AUDIT_LIST))?;
            let args = params![
                query.actor,
                query.subject,
                query.resource,
                query.since,
                query.until,
                limit
            ];
            let rows = stmt.query_map(args, |row| {
                Ok(RawAudit {
                    id: row.get(0)?,
                    at: row.get(1)?,
                    event: row.get(2)?,
                    actor: row.get(3)?,
                    subject: row.get(4)?,
                    resource: row.get(5)?,
                    data: row.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    async fn purge_audit(&self, before: i64) -> StoreResult<u64> {
        self.write(move |conn| changed(conn, shared::AUDIT_PURGE, params![before]))
            .await
            .map(|n| n as u64)
    }
}
