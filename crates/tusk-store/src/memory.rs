//! In-process backend for tests and single-replica development.

use crate::backend::{Backend, Error, RawAudit, RawRecord, Result, Write};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tusk_core::audit::AuditQuery;

type Tables = BTreeMap<&'static str, BTreeMap<String, RawRecord>>;

/// Every operation holds one lock for its whole duration, which makes each
/// of them atomic; nothing awaits while holding it.
#[derive(Default)]
pub struct MemoryBackend {
    tables: Mutex<Tables>,
    audit: Mutex<Vec<RawAudit>>,
}

impl MemoryBackend {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        // No operation can leave the maps half-written, so a poisoned lock
        // still guards consistent data.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn not_found(kind: &'static str, id: &str) -> Error {
    Error::NotFound {
        kind,
        id: id.to_owned(),
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn create(&self, kind: &'static str, mut rec: RawRecord) -> Result<()> {
        let mut tables = self.lock();
        let table = tables.entry(kind).or_default();
        if table.contains_key(&rec.id) {
            return Err(Error::AlreadyExists { kind, id: rec.id });
        }
        rec.version = 1;
        table.insert(rec.id.clone(), rec);
        Ok(())
    }

    async fn get(&self, kind: &'static str, id: &str) -> Result<RawRecord> {
        let tables = self.lock();
        tables
            .get(kind)
            .and_then(|t| t.get(id))
            .cloned()
            .ok_or_else(|| not_found(kind, id))
    }

    async fn list(&self, kind: &'static str) -> Result<Vec<RawRecord>> {
        let tables = self.lock();
        Ok(tables
            .get(kind)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn list_page(
        &self,
        kind: &'static str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RawRecord>> {
        use std::ops::Bound;
        let tables = self.lock();
        let Some(table) = tables.get(kind) else {
            return Ok(Vec::new());
        };
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(table
            .range::<str, _>((from, Bound::Unbounded))
            .take(limit)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn list_by_owner(&self, kind: &'static str, owner: &str) -> Result<Vec<RawRecord>> {
        let mut all = self.list(kind).await?;
        all.retain(|r| r.owner.as_deref() == Some(owner));
        Ok(all)
    }

    async fn put(&self, kind: &'static str, mut rec: RawRecord) -> Result<()> {
        let mut tables = self.lock();
        let table = tables.entry(kind).or_default();
        rec.version = table.get(&rec.id).map_or(1, |old| old.version + 1);
        table.insert(rec.id.clone(), rec);
        Ok(())
    }

    async fn compare_and_swap(
        &self,
        kind: &'static str,
        id: &str,
        expected_version: i64,
        mut rec: RawRecord,
    ) -> Result<bool> {
        let mut tables = self.lock();
        let slot = tables
            .get_mut(kind)
            .and_then(|t| t.get_mut(id))
            .ok_or_else(|| not_found(kind, id))?;
        if slot.version != expected_version {
            return Ok(false);
        }
        rec.id = id.to_owned();
        rec.version = expected_version + 1;
        *slot = rec;
        Ok(true)
    }

    async fn delete(&self, kind: &'static str, id: &str) -> Result<()> {
        self.take(kind, id).await.map(drop)
    }

    async fn delete_by_owner(&self, kind: &'static str, owner: &str) -> Result<u64> {
        let mut tables = self.lock();
        let Some(table) = tables.get_mut(kind) else {
            return Ok(0);
        };
        let before = table.len();
        table.retain(|_, r| r.owner.as_deref() != Some(owner));
        Ok((before - table.len()) as u64)
    }

    async fn delete_with_prefix(&self, kind: &'static str, id: &str, prefix: &str) -> Result<u64> {
        let mut tables = self.lock();
        let Some(table) = tables.get_mut(kind) else {
            return Ok(0);
        };
        let before = table.len();
        table.retain(|k, _| k != id && !k.starts_with(prefix));
        Ok((before - table.len()) as u64)
    }

    async fn take(&self, kind: &'static str, id: &str) -> Result<RawRecord> {
        let mut tables = self.lock();
        tables
            .get_mut(kind)
            .and_then(|t| t.remove(id))
            .ok_or_else(|| not_found(kind, id))
    }

    async fn gc(&self, now: i64) -> Result<u64> {
        let mut tables = self.lock();
        let mut removed = 0;
        for table in tables.values_mut() {
            let before = table.len();
            table.retain(|_, r| r.expires_at.is_none_or(|at| at > now));
            removed += (before - table.len()) as u64;
        }
        Ok(removed)
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        let mut tables = self.lock();
        // Every write is checked against the tables as the earlier writes
        // of the list leave them, before any is applied: all or none.
        let mut staged: Vec<(&'static str, RawRecord)> = Vec::new();
        let mut audits = Vec::new();
        for write in writes {
            let current = |kind: &'static str, id: &str, staged: &[(&str, RawRecord)]| {
                staged
                    .iter()
                    .rev()
                    .find(|(k, r)| *k == kind && r.id == id)
                    .map(|(_, r)| r.version)
                    .or_else(|| tables.get(kind).and_then(|t| t.get(id)).map(|r| r.version))
            };
            match write {
                Write::Create { kind, mut rec } => {
                    if current(kind, &rec.id, &staged).is_some() {
                        return Err(Error::AlreadyExists { kind, id: rec.id });
                    }
                    rec.version = 1;
                    staged.push((kind, rec));
                }
                Write::Swap {
                    kind,
                    expected_version,
                    mut rec,
                } => match current(kind, &rec.id, &staged) {
                    None => return Err(not_found(kind, &rec.id)),
                    Some(v) if v != expected_version => {
                        return Err(Error::Conflict { kind, id: rec.id });
                    }
                    Some(_) => {
                        rec.version = expected_version + 1;
                        staged.push((kind, rec));
                    }
                },
                Write::Audit(row) => audits.push(row),
            }
        }
        for (kind, rec) in staged {
            tables.entry(kind).or_default().insert(rec.id.clone(), rec);
        }
        drop(tables);
        let mut audit = self.audit.lock().unwrap_or_else(PoisonError::into_inner);
        for mut row in audits {
            row.id = audit.last().map_or(1, |last| last.id + 1);
            audit.push(row);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn append_audit(&self, mut row: RawAudit) -> Result<()> {
        let mut audit = self.audit.lock().unwrap_or_else(PoisonError::into_inner);
        row.id = audit.last().map_or(1, |last| last.id + 1);
        audit.push(row);
        Ok(())
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<RawAudit>> {
        let audit = self.audit.lock().unwrap_or_else(PoisonError::into_inner);
        let eq = |want: &Option<String>, got: &Option<String>| want.is_none() || want == got;
        let passes = |row: &RawAudit| {
            eq(&query.actor, &row.actor)
                && eq(&query.subject, &row.subject)
                && eq(&query.resource, &row.resource)
                && query.since.is_none_or(|s| row.at >= s)
                && query.until.is_none_or(|u| row.at <= u)
        };
        Ok(audit
            .iter()
            .rev()
            .filter(|row| passes(row))
            .take(query.effective_limit())
            .cloned()
            .collect())
    }

    async fn purge_audit(&self, before: i64) -> Result<u64> {
        let mut audit = self.audit.lock().unwrap_or_else(PoisonError::into_inner);
        let len = audit.len();
        audit.retain(|row| row.at >= before);
        Ok((len - audit.len()) as u64)
    }
}
