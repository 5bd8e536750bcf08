//! The generic record backend and what it shares with every layer above:
//! [`Error`], raw rows, the [`Backend`] trait, the [`Record`] trait and
//! [`hash_token`]. A leaf below `store`, `memory` and `records`.

use crate::seal::SealError;
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::fmt;
use tusk_core::audit::AuditQuery;

/// Storage errors. Messages carry kinds and ids only, never record data,
/// because records may hold secrets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{kind} \"{id}\" does not exist")]
    NotFound { kind: &'static str, id: String },
    #[error("{kind} \"{id}\" already exists; update it or choose another id")]
    AlreadyExists { kind: &'static str, id: String },
    #[error(
        "{kind} \"{id}\" kept changing under a concurrent writer and the update gave up; retry the request"
    )]
    Conflict { kind: &'static str, id: String },
    #[error(
        "stored {kind} \"{id}\" cannot be decoded ({reason}); delete the record or restore it from a backup"
    )]
    Corrupt {
        kind: &'static str,
        id: String,
        reason: String,
    },
    #[error("stored {kind} \"{id}\" cannot be opened: {reason}")]
    Sealed {
        kind: &'static str,
        id: String,
        reason: SealError,
    },
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("update aborted: {0}")]
    Aborted(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One stored row. `data` is the record's JSON text.
#[derive(Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub id: String,
    pub owner: Option<String>,
    pub data: String,
    /// Unix seconds; `gc(now)` removes the row once `expires_at <= now`.
    pub expires_at: Option<i64>,
    /// Set by the backend: 1 on insert, +1 on every write.
    pub version: i64,
}

// `data` is left out on purpose: it may contain client secrets or keys.
impl fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRecord")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("expires_at", &self.expires_at)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// One stored audit event: the filter columns beside the event's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAudit {
    pub id: i64,
    pub at: i64,
    pub event: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub resource: Option<String>,
    pub data: String,
}

/// A generic record store. Implementations must pass [`conformance::run_all`].
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Inserts with version 1; `AlreadyExists` if `(kind, id)` is taken.
    async fn create(&self, kind: &'static str, rec: RawRecord) -> Result<()>;
    async fn get(&self, kind: &'static str, id: &str) -> Result<RawRecord>;
    /// Every record of `kind`, sorted by id (byte order).
    async fn list(&self, kind: &'static str) -> Result<Vec<RawRecord>>;
    /// At most `limit` records of `kind` whose id sorts after `after`
    /// (from the first when `None`), sorted by id (byte order): a caller
    /// pages through every record without holding them all at once, as
    /// the role-binding cache's cold load does.
    ///
    /// The default is a fallback for wrappers that do not override it: it
    /// reads every record on each call. Every backend in this workspace
    /// overrides it.
    async fn list_page(
        &self,
        kind: &'static str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RawRecord>> {
        let mut all = self.list(kind).await?;
        all.retain(|r| after.is_none_or(|a| r.id.as_str() > a));
        all.truncate(limit);
        Ok(all)
    }
    /// Records of `kind` whose owner is `owner`, sorted by id.
    async fn list_by_owner(&self, kind: &'static str, owner: &str) -> Result<Vec<RawRecord>>;
    /// Upsert: inserts with version 1 or overwrites and bumps the version.
    async fn put(&self, kind: &'static str, rec: RawRecord) -> Result<()>;
    /// Writes `rec` with version `expected_version + 1` only if the stored
    /// version is `expected_version`; `Ok(false)` if it is not, `NotFound`
    /// if the record is gone.
    async fn compare_and_swap(
        &self,
        kind: &'static str,
        id: &str,
        expected_version: i64,
        rec: RawRecord,
    ) -> Result<bool>;
    async fn delete(&self, kind: &'static str, id: &str) -> Result<()>;
    /// Number of records deleted.
    async fn delete_by_owner(&self, kind: &'static str, owner: &str) -> Result<u64>;
    /// Deletes the record `id` and every record of `kind` whose id starts
    /// with `prefix`, as one atomic step, so no record under the prefix can
    /// be created in between and outlive its parent. Number deleted.
    ///
    /// The default is a fallback for wrappers that do not override it: it
    /// is not atomic. Every backend in this workspace overrides it.
    async fn delete_with_prefix(&self, kind: &'static str, id: &str, prefix: &str) -> Result<u64> {
        let mut n = 0;
        for rec in self.list(kind).await? {
            if rec.id == id || rec.id.starts_with(prefix) {
                match self.delete(kind, &rec.id).await {
                    Ok(()) => n += 1,
                    Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(n)
    }
    /// Applies `writes` as one transaction: all of them or, on the first
    /// that fails, none. A request that changes several rows (a refresh:
    /// the old token claimed, its successor created, the mint audited)
    /// commits once instead of once per row.
    ///
    /// The default is a fallback for wrappers that do not override it: it
    /// applies the writes one by one and is not atomic. Every backend in
    /// this workspace overrides it.
    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        for write in writes {
            match write {
                Write::Create { kind, rec } => self.create(kind, rec).await?,
                Write::Swap {
                    kind,
                    expected_version,
                    rec,
                } => {
                    let id = rec.id.clone();
                    if !self
                        .compare_and_swap(kind, &id, expected_version, rec)
                        .await?
                    {
                        return Err(Error::Conflict { kind, id });
                    }
                }
                Write::Audit(row) => self.append_audit(row).await?,
            }
        }
        Ok(())
    }
    /// Atomic get-and-delete: of concurrent callers exactly one gets the
    /// record, the others `NotFound`.
    async fn take(&self, kind: &'static str, id: &str) -> Result<RawRecord>;
    /// Deletes every record, of any kind, with `expires_at <= now`.
    async fn gc(&self, now: i64) -> Result<u64>;
    async fn ping(&self) -> Result<()>;
    fn backend_name(&self) -> &'static str;

    /// Appends one audit event; the backend assigns `id`, increasing.
    async fn append_audit(&self, row: RawAudit) -> Result<()>;
    /// Events that pass `query`'s filters, newest first, at most
    /// `query.effective_limit()` of them.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<RawAudit>>;
    /// Deletes every audit event with `at < before`; the number deleted.
    async fn purge_audit(&self, before: i64) -> Result<u64>;

    /// Tells other replicas sharing this backend that records changed
    /// (PostgreSQL: `NOTIFY`). Single-process backends need nothing.
    async fn announce(&self, _change: &Change) -> Result<()> {
        Ok(())
    }

    /// Forwards other replicas' announcements into `changes`. Called once
    /// when a [`Store`] is built; backends without replicas ignore it.
    fn listen(&self, _changes: tokio::sync::broadcast::Sender<Change>) {}
}

/// One write of a [`Backend::commit`].
#[derive(Debug, Clone)]
pub enum Write {
    /// Inserts with version 1; `AlreadyExists` if `(kind, id)` is taken.
    Create { kind: &'static str, rec: RawRecord },
    /// Overwrites `rec.id` with version `expected_version + 1` only if the
    /// stored version is `expected_version`: `Conflict` if it is not,
    /// `NotFound` if the record is gone.
    Swap {
        kind: &'static str,
        expected_version: i64,
        rec: RawRecord,
    },
    /// Appends one audit event, as [`Backend::append_audit`].
    Audit(RawAudit),
}

/// A change to stored records, for caches to invalidate. `id: None` means
/// any number of records of the kind (a delete by owner, a GC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: String,
    pub id: Option<String>,
}

impl Change {
    /// The wire form used between replicas: `kind` or `kind/id`.
    pub fn encode(&self) -> String {
        match &self.id {
            Some(id) => format!("{}/{id}", self.kind),
            None => self.kind.clone(),
        }
    }

    pub fn decode(text: &str) -> Change {
        match text.split_once('/') {
            Some((kind, id)) => Change {
                kind: kind.to_owned(),
                id: Some(id.to_owned()),
            },
            None => Change {
                kind: text.to_owned(),
                id: None,
            },
        }
    }
}

/// A typed record. `KIND` must be unique across record types.
pub trait Record: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: &'static str;
    fn id(&self) -> String;
    /// Secondary key for `list_by_owner` / `delete_by_owner`.
    fn owner(&self) -> Option<String> {
        None
    }
    fn expires_at(&self) -> Option<i64> {
        None
    }
    /// Holds a secret: stored sealed when the store has a keyring.
    const SEALED: bool = false;
}

/// Lowercase hex SHA-256 of a bearer token or code. Records keyed by a
/// token store this instead of the token, so a leaked database cannot be
/// replayed.
pub fn hash_token(token: &str) -> String {
    hex::encode(token_digest(token))
}

/// The SHA-256 of a bearer token as bytes: [`hash_token`] before its hex
/// encoding, for an in-memory key that costs no allocation.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
