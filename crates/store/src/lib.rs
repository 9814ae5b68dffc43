//! The inventory as the control panel reads it, and the interface of the stores that
//! hold it.
//!
//! - [`model`]: the inventory document of DESIGN.md section 5 and the run record;
//! - [`Store`]: what the sync engine needs from a store, nothing more;
//! - [`conformance`] (feature `conformance`): the one test suite every store passes.
//!
//! This crate knows no database; `syncer-store-embedded` and `syncer-store-mongo` do.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod model;
mod time;

use std::collections::HashMap;

use async_trait::async_trait;

pub use model::{
    escape_keys, unescape_keys, InventoryDoc, Known, Outcome, RunRecord, Scope, SyncMeta, Update,
    Write,
};
pub use time::UtcMillis;

/// Name of the collection that holds one record per job run.
pub const SYNC_RUNS: &str = "sync_runs";

/// What went wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or stopped answering (after retries).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with an error.
    #[error("store error: {0}")]
    Backend(String),
    /// Stored data could not be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The outcome of one batch of writes: which statements failed, and why. Statements
/// not listed were applied.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchResult {
    /// Statements applied.
    pub applied: u64,
    /// `(reference_id, reason)` of each statement that failed.
    pub failed: Vec<(String, String)>,
}

/// A store of inventory documents and run records.
///
/// Every method touches one scope or one collection; a store never writes a document
/// outside the scope it was given.
#[async_trait]
pub trait Store: Send + Sync {
    /// `embedded` or `mongodb`, for logs and `syncer status`.
    fn kind(&self) -> &'static str;

    /// Creates what the store needs for these collections (indexes, tables). Idempotent.
    async fn prepare(&self, collections: &[String]) -> Result<(), StoreError>;

    /// `reference_id -> (hash, active)` of every document of `scope`.
    async fn scope_state(&self, scope: &Scope) -> Result<HashMap<String, Known>, StoreError>;

    /// Applies inserts and updates of one scope as one unordered batch: one bad document
    /// fails that document, not the batch.
    async fn write_batch(
        &self,
        scope: &Scope,
        writes: Vec<Write>,
    ) -> Result<BatchResult, StoreError>;

    /// Marks the active documents of `scope` with these reference ids as gone
    /// (`active = -1`, `terminated_at = at`). All or nothing where the store allows it,
    /// and always safe to repeat. Returns how many documents changed.
    async fn retire(
        &self,
        scope: &Scope,
        reference_ids: &[String],
        at: UtcMillis,
        run_id: &str,
    ) -> Result<u64, StoreError>;

    /// Stores a run record in [`SYNC_RUNS`].
    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError>;

    /// The latest run records, newest first, at most `limit`.
    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError>;

    /// Every document of `collection` (or every run record, for [`SYNC_RUNS`]), as
    /// export JSON, ordered by cloud, source, reference id.
    async fn export(&self, collection: &str) -> Result<Vec<serde_json::Value>, StoreError>;

    /// The newest run record of `job`.
    async fn last_run(&self, job: &str) -> Result<Option<RunRecord>, StoreError>;

    /// Whether the store answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Takes or renews the lease of `job` for `owner` until `until`, if the lease is
    /// free, expired (its expiry before `now`) or already `owner`'s: one atomic
    /// conditional write. Returns whether `owner` holds the lease now.
    async fn acquire_lease(
        &self,
        job: &str,
        owner: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<bool, StoreError>;
}

/// Name of the collection that holds job leases (`[ha]`).
pub const LEASES: &str = "syncer_leases";
