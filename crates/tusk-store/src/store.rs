//! [`Store`]: typed records over a [`Backend`], with update locks, sealing
//! and the change feed.

use crate::backend::{Backend, Change, Error, RawAudit, RawRecord, Record, Result, Write};
use crate::memory::MemoryBackend;
use crate::records::SEALED_KINDS;
use crate::seal::{self, Keyring, SealError};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tusk_core::audit::{AuditEvent, AuditQuery, AuditRecord};

/// Attempts `update` makes before reporting `Conflict`.
const UPDATE_ATTEMPTS: u32 = 16;

/// Number of striped locks that serialise updates within one process.
const UPDATE_LOCKS: usize = 64;

/// Typed access to a [`Backend`]. Cheap to clone; clones share one set of
/// update locks.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    // Updates of one record from this process queue here instead of racing
    // each other through compare-and-swap, so retries are left for races
    // between replicas, which are rare.
    update_locks: Arc<[tokio::sync::Mutex<()>; UPDATE_LOCKS]>,
    /// Every write through this store, plus other replicas' writes that
    /// the backend relays: what in-memory caches invalidate on.
    changes: tokio::sync::broadcast::Sender<Change>,
    /// Seals [`Record::SEALED`] kinds on write; `None` writes them plain
    /// (tests, and the memory backend, which nothing can copy).
    keyring: Option<Arc<Keyring>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Store({})", self.backend.backend_name())
    }
}

impl Store {
    pub fn new(backend: impl Backend) -> Self {
        Store::from_arc(Arc::new(backend))
    }

    /// A store over a shared backend. Each call makes a separate set of
    /// update locks, so two such stores behave like two replicas.
    pub fn from_arc(backend: Arc<dyn Backend>) -> Self {
        let update_locks = Arc::new(std::array::from_fn(|_| Default::default()));
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        backend.listen(changes.clone());
        Store {
            backend,
            update_locks,
            changes,
            keyring: None,
        }
    }

    /// This store, sealing secret-holding records under `keyring` from now
    /// on. Rows written plain before stay readable and are sealed on their
    /// next write.
    pub fn with_keyring(mut self, keyring: Arc<Keyring>) -> Self {
        self.keyring = Some(keyring);
        self
    }

    pub fn memory() -> Self {
        Store::new(MemoryBackend::default())
    }

    /// The untyped backend, for tools that move raw rows (and for tests
    /// that must plant undecodable data).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.backend_name()
    }

    pub async fn ping(&self) -> Result<()> {
        self.backend.ping().await
    }

    /// Changes made through this store and, where the backend relays
    /// them, by other replicas. A lagging receiver should drop its caches.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn changed(&self, kind: &'static str, id: Option<&str>) {
        let change = Change {
            kind: kind.to_owned(),
            id: id.map(str::to_owned),
        };
        let _ = self.changes.send(change.clone());
        if let Err(e) = self.backend.announce(&change).await {
            // The write itself succeeded; other replicas' caches converge
            // when their own listeners reconnect and flush.
            tracing::warn!(error = %e, kind, "could not announce a change to other replicas");
        }
    }

    pub async fn gc(&self, now: i64) -> Result<u64> {
        let n = self.backend.gc(now).await?;
        if n > 0 {
            // GC only removes expired records, which caches check anyway.
            let _ = self.changes.send(Change {
                kind: "*".into(),
                id: None,
            });
        }
        Ok(n)
    }

    pub async fn create<T: Record>(&self, value: &T) -> Result<()> {
        self.backend.create(T::KIND, self.encode(value)?).await?;
        self.changed(T::KIND, Some(&value.id())).await;
        Ok(())
    }

    pub async fn get<T: Record>(&self, id: &str) -> Result<T> {
        self.decode(&self.backend.get(T::KIND, id).await?)
    }

    /// [`Self::get`] with the stored version, for a later
    /// [`Batch::swap`] that must not overwrite a concurrent change.
    pub async fn get_versioned<T: Record>(&self, id: &str) -> Result<(T, i64)> {
        let raw = self.backend.get(T::KIND, id).await?;
        Ok((self.decode(&raw)?, raw.version))
    }

    /// Writes to commit together, as one transaction: see [`Batch`].
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            store: self,
            writes: Vec::new(),
            changes: Vec::new(),
            events: Vec::new(),
        }
    }

    pub async fn list<T: Record>(&self) -> Result<Vec<T>> {
        let rows = self.backend.list(T::KIND).await?;
        rows.iter().map(|r| self.decode(r)).collect()
    }

    pub async fn list_by_owner<T: Record>(&self, owner: &str) -> Result<Vec<T>> {
        let rows = self.backend.list_by_owner(T::KIND, owner).await?;
        rows.iter().map(|r| self.decode(r)).collect()
    }

    pub async fn put<T: Record>(&self, value: &T) -> Result<()> {
        self.backend.put(T::KIND, self.encode(value)?).await?;
        self.changed(T::KIND, Some(&value.id())).await;
        Ok(())
    }

    pub async fn delete<T: Record>(&self, id: &str) -> Result<()> {
        self.backend.delete(T::KIND, id).await?;
        self.changed(T::KIND, Some(id)).await;
        Ok(())
    }

    pub async fn delete_by_owner<T: Record>(&self, owner: &str) -> Result<u64> {
        let n = self.backend.delete_by_owner(T::KIND, owner).await?;
        if n > 0 {
            self.changed(T::KIND, None).await;
        }
        Ok(n)
    }

    /// Deletes `id` and every record of the kind whose id starts with
    /// `prefix`, atomically (a project's binding and its repos' bindings).
    pub async fn delete_with_prefix<T: Record>(&self, id: &str, prefix: &str) -> Result<u64> {
        let n = self.backend.delete_with_prefix(T::KIND, id, prefix).await?;
        if n > 0 {
            self.changed(T::KIND, None).await;
        }
        Ok(n)
    }

    /// Single-use consumption (auth codes, device codes, login states).
    pub async fn take<T: Record>(&self, id: &str) -> Result<T> {
        let value = self.decode(&self.backend.take(T::KIND, id).await?)?;
        self.changed(T::KIND, Some(id)).await;
        Ok(value)
    }

    /// Read-modify-write with optimistic concurrency. `f` runs on a fresh
    /// copy on every attempt, so it must not have side effects beyond its
    /// argument. An error from `f` aborts and leaves the record untouched.
    pub async fn update<T, F>(&self, id: &str, mut f: F) -> Result<T>
    where
        T: Record,
        F: FnMut(&mut T) -> Result<()> + Send,
    {
        let _serialised = self.update_lock(T::KIND, id).lock().await;
        for attempt in 0..UPDATE_ATTEMPTS {
            let raw = self.backend.get(T::KIND, id).await?;
            let mut value: T = self.decode(&raw)?;
            f(&mut value)?;
            let new_id = value.id();
            if new_id != id {
                return Err(Error::Aborted(format!(
                    "the update changed the id of {} \"{id}\" to \"{new_id}\"; ids are immutable, create a new record instead",
                    T::KIND
                )));
            }
            let rec = self.encode(&value)?;
            if self
                .backend
                .compare_and_swap(T::KIND, id, raw.version, rec)
                .await?
            {
                self.changed(T::KIND, Some(id)).await;
                return Ok(value);
            }
            backoff(attempt).await;
        }
        Err(Error::Conflict {
            kind: T::KIND,
            id: id.to_owned(),
        })
    }
}

/// What [`Store::reencrypt`] did, per row of a sealed kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reencrypted {
    /// Sealed under an older key, now under the first.
    pub resealed: u64,
    /// Stored plain (written before sealing existed), now sealed.
    pub sealed_plain: u64,
    /// Already under the first key.
    pub current: u64,
}

impl Store {
    /// Reseals every row of every sealed kind under the keyring's first
    /// key, so older keys can then be removed. Rows changed concurrently
    /// are retried; rows deleted meanwhile are skipped.
    pub async fn reencrypt(&self) -> Result<Reencrypted> {
        let Some(keyring) = &self.keyring else {
            return Err(Error::Aborted(
                "no encryption key is configured, so there is nothing to reseal under".into(),
            ));
        };
        let mut done = Reencrypted::default();
        for &kind in SEALED_KINDS {
            for row in self.backend.list(kind).await? {
                let mut row = row;
                for attempt in 0..UPDATE_ATTEMPTS {
                    if seal::is_sealed(&row.data) && keyring.is_current(&row.data) {
                        done.current += 1;
                        break;
                    }
                    let was_plain = !seal::is_sealed(&row.data);
                    let plain = self.open_raw(kind, &row)?;
                    let sealed = keyring
                        .seal(kind, &row.id, &plain)
                        .map_err(|reason| sealed_error(kind, &row.id, reason))?;
                    let rec = RawRecord {
                        data: sealed,
                        ..row.clone()
                    };
                    match self
                        .backend
                        .compare_and_swap(kind, &row.id, row.version, rec)
                        .await
                    {
                        Ok(true) => {
                            if was_plain {
                                done.sealed_plain += 1;
                            } else {
                                done.resealed += 1;
                            }
                            break;
                        }
                        Ok(false) if attempt + 1 < UPDATE_ATTEMPTS => {
                            backoff(attempt).await;
                            match self.backend.get(kind, &row.id).await {
                                Ok(fresh) => row = fresh,
                                Err(Error::NotFound { .. }) => break,
                                Err(e) => return Err(e),
                            }
                        }
                        Ok(false) => {
                            return Err(Error::Conflict {
                                kind,
                                id: row.id.clone(),
                            });
                        }
                        Err(Error::NotFound { .. }) => break,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(done)
    }

    /// Whether any row is sealed, so a key must exist somewhere: a caller
    /// about to generate a fresh key checks this first.
    pub async fn holds_sealed_rows(&self) -> Result<bool> {
        for &kind in SEALED_KINDS {
            let rows = self.backend.list(kind).await?;
            if rows.iter().any(|r| seal::is_sealed(&r.data)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn encode<T: Record>(&self, value: &T) -> Result<RawRecord> {
        let mut rec = encode(value)?;
        if let (true, Some(keyring)) = (T::SEALED, &self.keyring) {
            rec.data = keyring
                .seal(T::KIND, &rec.id, &rec.data)
                .map_err(|reason| sealed_error(T::KIND, &rec.id, reason))?;
        }
        Ok(rec)
    }

    fn decode<T: Record>(&self, raw: &RawRecord) -> Result<T> {
        if !seal::is_sealed(&raw.data) {
            return decode(raw);
        }
        let plain = self.open_raw(T::KIND, raw)?;
        decode(&RawRecord {
            data: plain,
            ..raw.clone()
        })
    }

    /// The JSON text of a row, opening it if it is sealed.
    fn open_raw(&self, kind: &'static str, raw: &RawRecord) -> Result<String> {
        if !seal::is_sealed(&raw.data) {
            return Ok(raw.data.clone());
        }
        let keyring = self
            .keyring
            .as_ref()
            .ok_or_else(|| sealed_error(kind, &raw.id, SealError::NoKeyring))?;
        keyring
            .open(kind, &raw.id, &raw.data)
            .map_err(|reason| sealed_error(kind, &raw.id, reason))
    }
}

fn sealed_error(kind: &'static str, id: &str, reason: SealError) -> Error {
    Error::Sealed {
        kind,
        id: id.to_owned(),
        reason,
    }
}

/// The counters operators alert on that follow audit events one to one.
/// They are counted here, at the one sink, so a new emission site cannot
/// be audited and forgotten by the metrics (or the reverse). The `metrics`
/// facade records nothing until the server installs its recorder.
fn count(event: &AuditEvent) {
    match event {
        AuditEvent::LoginSucceeded { connector, .. } => {
            metrics::counter!("tusk_logins_total", "connector" => connector.clone(), "outcome" => "success").increment(1);
        }
        AuditEvent::LoginFailed {
            connector, reason, ..
        } => {
            // `reason` is one of a few fixed codes, never free text.
            metrics::counter!("tusk_logins_total", "connector" => connector.clone(), "outcome" => reason.clone()).increment(1);
        }
        AuditEvent::TokenMinted { kind, .. } => {
            if kind == "refresh" {
                metrics::counter!("tusk_refreshes_total").increment(1);
            }
            metrics::counter!("tusk_token_mints_total", "kind" => kind.clone()).increment(1);
        }
        AuditEvent::TokenRevoked { count, .. } => {
            metrics::counter!("tusk_token_revocations_total")
                .increment(u64::try_from(*count).unwrap_or(0));
        }
        AuditEvent::RefreshReuseDetected { .. } => {
            metrics::counter!("tusk_refresh_reuse_detected_total").increment(1);
        }
        AuditEvent::ConfigReloaded { outcome, .. } => {
            let outcome = match outcome {
                tusk_core::audit::ReloadOutcome::Accepted => "accepted",
                tusk_core::audit::ReloadOutcome::Rejected => "rejected",
            };
            metrics::counter!("tusk_config_reloads_total", "outcome" => outcome).increment(1);
        }
        _ => {}
    }
}

/// The stored row of `event`.
fn audit_row(now: i64, event: &AuditEvent) -> RawAudit {
    let name = event.name();
    let data = match serde_json::to_string(event) {
        Ok(data) => data,
        // Events hold only strings and numbers, so this cannot happen;
        // the name alone is still worth keeping.
        Err(_) => format!("{{\"event\":\"{name}\"}}"),
    };
    RawAudit {
        id: 0,
        at: now,
        event: name.to_owned(),
        actor: event.actor().map(str::to_owned),
        subject: event.subject().map(str::to_owned),
        resource: event.resource().map(str::to_owned),
        data,
    }
}

/// Logs `event` as one record of target `tusk::audit` with a stable
/// `event` field, and counts it.
fn record(event: &AuditEvent, data: &str) {
    tracing::info!(
        target: "tusk::audit",
        event = event.name(),
        actor = event.actor(),
        subject = event.subject(),
        resource = event.resource(),
        details = %data,
        "audit"
    );
    count(event);
}

/// The audit sink: the one place an [`AuditEvent`] becomes a log line and
/// a stored record ([`Batch::audit`] stores it with other writes).
impl Store {
    /// Logs `event` as one record of target `tusk::audit` with a stable
    /// `event` field, and stores it. A failed write is logged, not
    /// returned: the operation being audited has already happened, and
    /// undoing a login or a revocation because the trail is down would be
    /// worse than a gap the log still covers.
    pub async fn audit(&self, now: i64, event: AuditEvent) {
        let name = event.name();
        let row = audit_row(now, &event);
        record(&event, &row.data);
        if let Err(e) = self.backend.append_audit(row).await {
            // Not under `tusk::audit`: collectors counting that target's
            // records must not count this one as a second event.
            tracing::error!(
                audit_event = name,
                error = %e,
                "could not store audit event `{name}`; it is kept only in the log line above; check that the database accepts writes"
            );
        }
    }

    /// Stored events that pass `query`, newest first.
    pub async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let rows = self.backend.list_audit(query).await?;
        rows.into_iter()
            .map(|row| {
                let event = serde_json::from_str(&row.data).map_err(|e| Error::Corrupt {
                    kind: "audit event",
                    id: row.id.to_string(),
                    reason: format!("{:?} error at column {}", e.classify(), e.column()),
                })?;
                Ok(AuditRecord {
                    id: row.id,
                    at: row.at,
                    event,
                })
            })
            .collect()
    }

    /// Deletes audit events older than `before` (Unix seconds).
    pub async fn purge_audit(&self, before: i64) -> Result<u64> {
        self.backend.purge_audit(before).await
    }
}

impl Store {
    fn update_lock(&self, kind: &str, id: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        (kind, id).hash(&mut h);
        let slot = h.finish() as usize % UPDATE_LOCKS;
        &self.update_locks[slot]
    }
}

/// Random, growing pause after a lost race, so writers that collided do
/// not collide again in lockstep.
async fn backoff(attempt: u32) {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let ceiling_us = 200u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_micros(random % ceiling_us)).await;
}

fn encode<T: Record>(value: &T) -> Result<RawRecord> {
    let id = value.id();
    let data = serde_json::to_string(value).map_err(|e| {
        // serde_json's message could quote field contents, so only the
        // category is reported.
        Error::Backend(format!(
            "cannot encode {} \"{id}\" as JSON ({:?} error)",
            T::KIND,
            e.classify()
        ))
    })?;
    Ok(RawRecord {
        id,
        owner: value.owner(),
        data,
        expires_at: value.expires_at(),
        version: 0,
    })
}

fn decode<T: Record>(raw: &RawRecord) -> Result<T> {
    serde_json::from_str(&raw.data).map_err(|e| {
        use serde_json::error::Category;
        // serde_json's message quotes the offending value, which may be a
        // secret; report the category and position only.
        let what = match e.classify() {
            Category::Syntax => "invalid JSON",
            Category::Eof => "truncated JSON",
            Category::Data => "fields do not match this version of tusk",
            Category::Io => "read error",
        };
        Error::Corrupt {
            kind: T::KIND,
            id: raw.id.clone(),
            reason: format!("{what} at line {} column {}", e.line(), e.column()),
        }
    })
}

/// Writes that commit together, as one transaction ([`Backend::commit`]):
/// all of them or none. Built with [`Store::batch`]; records are encoded
/// (and sealed) as they are added, and the local change feed and the audit
/// log lines follow the commit, never precede it (other replicas hear of
/// the changes from the backend, with the commit).
pub struct Batch<'a> {
    store: &'a Store,
    writes: Vec<Write>,
    changes: Vec<(&'static str, String)>,
    events: Vec<(AuditEvent, String)>,
}

impl Batch<'_> {
    /// Inserts `value`; the commit fails with `AlreadyExists` if its id is
    /// taken.
    pub fn create<T: Record>(&mut self, value: &T) -> Result<&mut Self> {
        let rec = self.store.encode(value)?;
        self.changes.push((T::KIND, rec.id.clone()));
        self.writes.push(Write::Create { kind: T::KIND, rec });
        Ok(self)
    }

    /// Overwrites `value` if its stored version is still `version` (from
    /// [`Store::get_versioned`]); the commit fails with `Conflict` if a
    /// concurrent writer changed it, `NotFound` if it is gone.
    pub fn swap<T: Record>(&mut self, value: &T, version: i64) -> Result<&mut Self> {
        let rec = self.store.encode(value)?;
        self.changes.push((T::KIND, rec.id.clone()));
        self.writes.push(Write::Swap {
            kind: T::KIND,
            expected_version: version,
            rec,
        });
        Ok(self)
    }

    /// Stores `event` with the other writes, as [`Store::audit`] would.
    pub fn audit(&mut self, now: i64, event: AuditEvent) -> &mut Self {
        let row = audit_row(now, &event);
        self.events.push((event, row.data.clone()));
        self.writes.push(Write::Audit(row));
        self
    }

    /// Commits every write, then announces the changed records and logs
    /// the audit events.
    pub async fn commit(self) -> Result<()> {
        let Batch {
            store,
            writes,
            changes,
            events,
        } = self;
        if writes.is_empty() {
            return Ok(());
        }
        // The backend announces the changes to other replicas itself.
        store.backend.commit(writes).await?;
        for (event, data) in &events {
            record(event, data);
        }
        for (kind, id) in changes {
            let _ = store.changes.send(Change {
                kind: kind.to_owned(),
                id: Some(id),
            });
        }
        Ok(())
    }
}
