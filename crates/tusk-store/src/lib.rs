//! tusk's storage: typed records over a small generic record backend.
//!
//! Backends store opaque JSON rows keyed by `(kind, id)` and know nothing
//! about records, so the memory, SQLite and PostgreSQL backends stay small
//! and share one set of semantics (Dex's): `NotFound` / `AlreadyExists`
//! errors, update as a closure with optimistic concurrency, single-use
//! `take`, and garbage collection that is handed `now` rather than reading
//! the clock. Every backend must pass [`conformance`].

mod backend;
pub mod conformance;
mod memory;
pub mod records;
pub mod seal;
mod store;

pub use backend::{
    Backend, Change, Error, RawAudit, RawRecord, Record, Result, Write, hash_token, token_digest,
};
pub use memory::MemoryBackend;
pub use records::*;
pub use seal::{Keyring, SealError};
pub use store::{Batch, Reencrypted, Store};
/// The audit vocabulary, re-exported for backends and callers of [`Store::audit`].
pub use tusk_core::audit;
