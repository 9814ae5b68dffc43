//! The sync engine: reconciles what a job listed with one scope of the inventory.
//!
//! For one run over a scope (collection, cloud, source):
//! 1. read the scope's state as a projection (`reference_id`, hash, `active`);
//! 2. stream the listing page by page; insert what is new, update what changed or came
//!    back, write nothing for what did not change;
//! 3. only when the listing completed, retire every active document it did not see,
//!    unless that would retire more than the deletion guard allows;
//! 4. record the run.
//!
//! Invariants: a failed listing retires nothing; a run writes only its own scope; a
//! listing identical to the last one writes nothing but its run record.

mod hash;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use async_trait::async_trait;
use syncer_plugin_sdk::Resource;
use syncer_store::{
    escape_keys, InventoryDoc, Known, Outcome, RunRecord, Scope, Store, StoreError, SyncMeta,
    Update, UtcMillis, Write,
};

pub use hash::content_hash;

/// One listed resource and, for the Heat job, the stack it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The plugin's envelope.
    pub resource: Resource,
    /// `source_id` of the document: the stack id for the Heat job, else `None`.
    pub source_id: Option<String>,
}

impl From<Resource> for Listed {
    fn from(resource: Resource) -> Self {
        Listed {
            resource,
            source_id: None,
        }
    }
}

/// What a listing cost in API requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requests {
    /// Requests made.
    pub api_calls: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Of those, "slow down" answers.
    pub throttled: u64,
    /// The API (micro)version the service answered with.
    pub api_version: Option<String>,
}

/// A listing, page by page. `Ok(None)` means the listing is complete.
#[async_trait]
pub trait PageSource: Send {
    /// The next page, `Ok(None)` after the last, or why the listing failed.
    async fn next_page(&mut self) -> Result<Option<Vec<Listed>>, String>;

    /// API requests made so far.
    fn requests(&self) -> Requests;
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The largest share of a scope's active documents one run may retire.
    pub max_retire_share: f64,
    /// Retire even past the guard (the operator's override).
    pub allow_mass_retire: bool,
    /// The guard applies only to scopes with at least this many active documents:
    /// retiring 2 of 3 is not a disaster worth refusing.
    pub guard_min_scope: usize,
    /// Statements per write batch. Every job writing at once holds one batch of whole
    /// documents, so this bounds memory as much as round-trips: 250 took the
    /// benchmark's first sync into MongoDB from 149 MB to 127 MB peak RSS for 3% more
    /// wall time (one command per batch either way, the store sends up to 500).
    pub batch_size: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            max_retire_share: 0.5,
            allow_mass_retire: false,
            guard_min_scope: 10,
            batch_size: 250,
        }
    }
}

/// Runs one sync of `scope` from `pages` into `store` and records it. The returned
/// record is what was stored in `sync_runs` (or would have been, if the store is down).
pub async fn sync_scope(
    store: &dyn Store,
    job: &str,
    scope: &Scope,
    pages: &mut dyn PageSource,
    options: &SyncOptions,
) -> RunRecord {
    let started = Instant::now();
    let run_id = uuid::Uuid::new_v4().to_string();
    let mut run = RunRecord::start(run_id, job, scope, UtcMillis::now());
    let result = Run {
        store,
        scope,
        options,
        run: &mut run,
    }
    .execute(pages)
    .await;
    let requests = pages.requests();
    run.api_calls = requests.api_calls;
    run.retries = requests.retries;
    run.throttled = requests.throttled;
    run.api_version = requests.api_version;
    match result {
        Ok(outcome) => run.outcome = outcome,
        Err(error) => {
            run.outcome = Outcome::Failed;
            run.error = Some(error);
        }
    }
    run.duration_ms = started.elapsed().as_millis() as u64;
    if let Err(e) = store.record_run(&run).await {
        tracing::error!(job, run_id = %run.run_id, error = %e, "cannot record the run");
        if run.outcome != Outcome::Failed {
            run.outcome = Outcome::Failed;
            run.error = Some(format!("cannot record the run: {e}"));
        }
    }
    run
}

struct Run<'a> {
    store: &'a dyn Store,
    scope: &'a Scope,
    options: &'a SyncOptions,
    run: &'a mut RunRecord,
}

impl Run<'_> {
    async fn execute(&mut self, pages: &mut dyn PageSource) -> Result<Outcome, String> {
        let known = self
            .store
            .scope_state(self.scope)
            .await
            .map_err(store_error)?;
        let mut seen: HashSet<String> = HashSet::with_capacity(known.len());
        let mut batch = Vec::with_capacity(self.options.batch_size);

        loop {
            let page = match pages.next_page().await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(error) => {
                    // Keep what was listed so far (each document whole); retire nothing.
                    self.flush(&mut batch).await?;
                    return Err(format!(
                        "listing failed after {} pages: {error}",
                        self.run.pages
                    ));
                }
            };
            self.run.pages += 1;
            let now = UtcMillis::now();
            for listed in page {
                if !seen.insert(listed.resource.reference_id.clone()) {
                    self.run.duplicates += 1;
                    tracing::warn!(
                        collection = %self.scope.collection,
                        reference_id = %listed.resource.reference_id,
                        "resource listed twice in one listing, keeping the first"
                    );
                    continue;
                }
                self.run.listed += 1;
                if let Some(write) = self.plan(listed, &known, now) {
                    batch.push(write);
                    if batch.len() >= self.options.batch_size {
                        self.flush(&mut batch).await?;
                    }
                }
            }
        }
        self.flush(&mut batch).await?;

        let outcome = self.retire_unseen(&known, &seen).await?;
        if self.run.write_errors > 0 {
            return Err(format!(
                "{} documents could not be written",
                self.run.write_errors
            ));
        }
        Ok(outcome)
    }

    /// The write a listed resource needs, if any.
    fn plan(
        &mut self,
        listed: Listed,
        known: &HashMap<String, Known>,
        now: UtcMillis,
    ) -> Option<Write> {
        let Listed {
            resource,
            source_id,
        } = listed;
        let mut cloud_meta = resource.cloud_meta;
        let hash = content_hash(
            &resource.name,
            &resource.project_id,
            &source_id,
            &cloud_meta,
        );
        let previous = known.get(&resource.reference_id);
        if let Some(k) = previous {
            if k.hash == hash && k.active == 1 {
                self.run.unchanged += 1;
                return None;
            }
        }
        let escaped = escape_keys(&mut cloud_meta);
        if escaped > 0 {
            self.run.escaped += 1;
            tracing::warn!(
                collection = %self.scope.collection,
                reference_id = %resource.reference_id,
                keys = escaped,
                "cloud_meta has keys MongoDB refuses ('.' or a leading '$'); stored escaped"
            );
        }
        let sync = SyncMeta {
            hash,
            last_seen: now,
            run_id: self.run.run_id.clone(),
        };
        Some(match previous {
            None => {
                self.run.inserted += 1;
                Write::Insert(Box::new(InventoryDoc {
                    uuid: uuid::Uuid::new_v4().to_string(),
                    reference_id: resource.reference_id,
                    name: resource.name,
                    project_id: resource.project_id,
                    cloud: self.scope.cloud.clone(),
                    source: self.scope.source.clone(),
                    source_id,
                    active: 1,
                    created_at: now,
                    updated_at: now,
                    terminated_at: None,
                    cloud_meta,
                    sync,
                }))
            }
            Some(k) => {
                self.run.updated += 1;
                if k.active != 1 {
                    self.run.reactivated += 1;
                }
                Write::Update(Box::new(Update {
                    reference_id: resource.reference_id,
                    name: resource.name,
                    project_id: resource.project_id,
                    source_id,
                    cloud_meta,
                    sync,
                    updated_at: now,
                }))
            }
        })
    }

    async fn flush(&mut self, batch: &mut Vec<Write>) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        let writes = std::mem::take(batch);
        let result = self
            .store
            .write_batch(self.scope, writes)
            .await
            .map_err(store_error)?;
        for (reference_id, reason) in &result.failed {
            tracing::error!(collection = %self.scope.collection, %reference_id, %reason, "document not written");
        }
        self.run.write_errors += result.failed.len() as u64;
        tracing::debug!(collection = %self.scope.collection, applied = result.applied, "batch written");
        Ok(())
    }

    async fn retire_unseen(
        &mut self,
        known: &HashMap<String, Known>,
        seen: &HashSet<String>,
    ) -> Result<Outcome, String> {
        let active = known.values().filter(|k| k.active == 1).count();
        let mut gone: Vec<String> = known
            .iter()
            .filter(|(id, k)| k.active == 1 && !seen.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        if gone.is_empty() {
            return Ok(Outcome::Succeeded);
        }
        gone.sort();
        let share = gone.len() as f64 / active as f64;
        if active >= self.options.guard_min_scope
            && share > self.options.max_retire_share
            && !self.options.allow_mass_retire
        {
            let why = format!(
                "deletion guard: the listing would retire {} of {} active documents ({:.0}%, limit {:.0}%); nothing retired, rerun with --allow-mass-retire if that is right",
                gone.len(),
                active,
                share * 100.0,
                self.options.max_retire_share * 100.0
            );
            tracing::warn!(collection = %self.scope.collection, cloud = %self.scope.cloud, "{why}");
            self.run.error = Some(why);
            return Ok(Outcome::Guarded);
        }
        self.run.retired = self
            .store
            .retire(self.scope, &gone, UtcMillis::now(), &self.run.run_id)
            .await
            .map_err(store_error)?;
        Ok(Outcome::Succeeded)
    }
}

fn store_error(e: StoreError) -> String {
    e.to_string()
}
