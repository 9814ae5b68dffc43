//! The production store: MongoDB 4.4 and newer through the official driver.
//!
//! Writes go through the server's `update` command, many statements per round-trip,
//! unordered, so one bad document fails only itself (the client-level `bulkWrite`
//! needs MongoDB 8.0). Inserts are upserts with `$setOnInsert`, which makes every
//! statement safe to resend: a batch whose connection dropped is retried whole under
//! the one retry policy, and a retried insert that finds its document counts as done.
//! Retirement is one multi-document `update` per chunk of ids, idempotent (it matches
//! only `active: 1`), retried the same way.

mod convert;

use std::collections::HashMap;
use std::future::IntoFuture;
use std::time::Duration;

use async_trait::async_trait;
use mongodb::bson::{doc, rawdoc, Bson, DateTime, Document, RawArrayBuf, RawDocumentBuf};
use mongodb::error::{Error as MongoError, ErrorKind};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Database, IndexModel};
use syncer_retry::RetryPolicy;
use syncer_store::{
    BatchResult, Known, RunRecord, Scope, Store, StoreError, UtcMillis, Write, LEASES, SYNC_RUNS,
};

/// Statements per `update` command; keeps each command far below the 16 MiB limit.
const STATEMENTS_PER_COMMAND: usize = 500;
/// Reference ids per retirement statement.
const IDS_PER_RETIREMENT: usize = 5000;

/// The MongoDB store.
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    retry: RetryPolicy,
}

impl MongoStore {
    /// Connects to `uri` (which may carry credentials and TLS options) and uses
    /// `database`. Fails only on a malformed URI: the server is reached lazily.
    pub async fn connect(
        uri: &str,
        database: &str,
        retry: RetryPolicy,
    ) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(uri)
            .await
            // The driver's message may quote the URI, credentials included: say less.
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "the MongoDB URI is not valid ({})",
                    error_class(&e)
                ))
            })?;
        options.app_name.get_or_insert_with(|| "syncer".to_string());
        options
            .server_selection_timeout
            .get_or_insert(Duration::from_secs(10));
        options
            .connect_timeout
            .get_or_insert(Duration::from_secs(5));
        let client = Client::with_options(options).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create a MongoDB client ({})",
                error_class(&e)
            ))
        })?;
        Ok(MongoStore {
            db: client.database(database),
            retry,
        })
    }

    /// The database this store writes.
    pub fn database_name(&self) -> &str {
        self.db.name()
    }

    /// The default retry policy: 6 attempts over about 15 s of waiting.
    pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy {
        attempts: 6,
        initial_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(5),
    };

    /// Runs `op` under the retry policy, retrying what a reconnect can fix.
    async fn retried<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut(u32) -> Fut,
        Fut: IntoFuture<Output = Result<T, MongoError>>,
    {
        self.retry
            .run(
                |e: &MongoError| {
                    let transient = is_transient(e);
                    if transient {
                        tracing::warn!(operation = what, error = %error_class(e), "MongoDB unreachable, retrying");
                    }
                    transient
                },
                |attempt| op(attempt).into_future(),
            )
            .await
            .map_err(|e| {
                if is_transient(&e) {
                    StoreError::Unavailable(format!("{what}: {}", error_class(&e)))
                } else {
                    StoreError::Backend(format!("{what}: {e}"))
                }
            })
    }

    /// Marks failed the updates of `writes` whose document is not in the scope. The
    /// engine updates only documents it just read, so this is rare: a document removed
    /// between the read and the write.
    async fn mark_missing_updates(
        &self,
        scope: &Scope,
        writes: &[Write],
        outcomes: &mut [Result<(), String>],
    ) -> Result<(), StoreError> {
        let ids: Vec<&str> = writes
            .iter()
            .filter(|w| matches!(w, Write::Update(_)))
            .map(Write::reference_id)
            .collect();
        let mut filter = scope_filter(scope);
        filter.insert("reference_id", doc! { "$in": &ids });
        let collection = self.db.collection::<Document>(&scope.collection);
        let existing: std::collections::HashSet<String> = self
            .retried("checking updated documents", |_| async {
                let mut cursor = collection
                    .find(filter.clone())
                    .projection(doc! { "_id": 0, "reference_id": 1 })
                    .await?;
                let mut found = std::collections::HashSet::new();
                while cursor.advance().await? {
                    if let Ok(id) = cursor.deserialize_current()?.get_str("reference_id") {
                        found.insert(id.to_owned());
                    }
                }
                Ok(found)
            })
            .await?;
        for (write, outcome) in writes.iter().zip(outcomes.iter_mut()) {
            if matches!(write, Write::Update(_))
                && outcome.is_ok()
                && !existing.contains(write.reference_id())
            {
                *outcome = Err("no such document in the scope".into());
            }
        }
        Ok(())
    }

    /// Sends an `update` command and returns its reply.
    ///
    /// The statements are encoded to BSON bytes one by one as they come: a batch of
    /// full documents as a `Document` tree (and its clone per attempt) cost several
    /// times its encoded size, held by every job writing at once.
    async fn update_command(
        &self,
        collection: &str,
        statements: impl Iterator<Item = Result<Document, StoreError>>,
        what: &str,
    ) -> Result<(Document, u32), StoreError> {
        let mut updates = RawArrayBuf::new();
        for statement in statements {
            updates.push(
                RawDocumentBuf::from_document(&statement?)
                    .map_err(|e| StoreError::Backend(format!("{what}: {e}")))?,
            );
        }
        let command = rawdoc! { "update": collection, "updates": updates, "ordered": false };
        let mut attempts = 0;
        let reply = self
            .retried(what, |attempt| {
                attempts = attempt;
                self.db.run_raw_command(command.clone())
            })
            .await?;
        Ok((reply, attempts))
    }
}

/// Whether an error is one a later attempt can get past: the server unreachable, the
/// connection dropped, a primary stepping down.
fn is_transient(e: &MongoError) -> bool {
    if e.contains_label("RetryableWriteError") || e.contains_label("TransientTransactionError") {
        return true;
    }
    match e.kind.as_ref() {
        ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::ServerSelection { .. } => true,
        // HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress,
        // InterruptedAtShutdown, NotWritablePrimary, PrimarySteppedDown, SocketException.
        ErrorKind::Command(c) => matches!(c.code, 6 | 7 | 89 | 91 | 11600 | 10107 | 189 | 9001),
        _ => false,
    }
}

/// Every document of a cursor.
async fn drain(mut cursor: mongodb::Cursor<Document>) -> Result<Vec<Document>, MongoError> {
    let mut out = Vec::new();
    while cursor.advance().await? {
        out.push(cursor.deserialize_current()?);
    }
    Ok(out)
}

fn is_duplicate_key(e: &MongoError) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => c.code == 11000,
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => w.code == 11000,
        _ => false,
    }
}

/// A short, secret-free description of an error for logs and run records.
fn error_class(e: &MongoError) -> String {
    match e.kind.as_ref() {
        ErrorKind::Io(io) => format!("connection error: {}", io.kind()),
        ErrorKind::ConnectionPoolCleared { .. } => "connection pool cleared".into(),
        ErrorKind::ServerSelection { .. } => "no reachable server".into(),
        ErrorKind::Command(c) => format!("command error {} ({})", c.code, c.code_name),
        ErrorKind::InvalidArgument { .. } => "invalid argument".into(),
        ErrorKind::Authentication { .. } => "authentication failed".into(),
        other => format!("{other:?}").chars().take(120).collect(),
    }
}

fn scope_filter(scope: &Scope) -> Document {
    doc! { "cloud": &scope.cloud, "source": &scope.source }
}

#[async_trait]
impl Store for MongoStore {
    fn kind(&self) -> &'static str {
        "mongodb"
    }

    async fn prepare(&self, collections: &[String]) -> Result<(), StoreError> {
        let unique = IndexModel::builder()
            .keys(doc! { "cloud": 1, "source": 1, "reference_id": 1 })
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("syncer_scope_reference".to_string())
                    .build(),
            )
            .build();
        let mut names: Vec<&String> = collections.iter().collect();
        names.sort();
        names.dedup();
        for name in names {
            let collection = self.db.collection::<Document>(name);
            self.retried("creating indexes", |_| {
                collection.create_index(unique.clone())
            })
            .await?;
        }
        let runs = self.db.collection::<Document>(SYNC_RUNS);
        let by_job = IndexModel::builder()
            .keys(doc! { "job": 1, "started_at": -1 })
            .options(
                IndexOptions::builder()
                    .name("syncer_job_started".to_string())
                    .build(),
            )
            .build();
        let by_time = IndexModel::builder()
            .keys(doc! { "started_at": -1 })
            .options(
                IndexOptions::builder()
                    .name("syncer_started".to_string())
                    .build(),
            )
            .build();
        let by_run = IndexModel::builder()
            .keys(doc! { "run_id": 1 })
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("syncer_run_id".to_string())
                    .build(),
            )
            .build();
        self.retried("creating indexes", |_| {
            runs.create_indexes([by_job.clone(), by_time.clone(), by_run.clone()])
        })
        .await?;
        Ok(())
    }

    async fn scope_state(&self, scope: &Scope) -> Result<HashMap<String, Known>, StoreError> {
        let collection = self.db.collection::<Document>(&scope.collection);
        self.retried("reading the scope", |_| async {
            let mut cursor = collection
                .find(scope_filter(scope))
                .projection(doc! { "_id": 0, "reference_id": 1, "sync.hash": 1, "active": 1 })
                .batch_size(10_000)
                .await?;
            let mut state = HashMap::new();
            while cursor.advance().await? {
                let row = cursor.deserialize_current()?;
                let Ok(id) = row.get_str("reference_id") else {
                    continue;
                };
                let hash = row
                    .get_document("sync")
                    .ok()
                    .and_then(|s| s.get_str("hash").ok())
                    .unwrap_or("");
                let active = match row.get("active") {
                    Some(Bson::Int32(n)) => *n,
                    Some(Bson::Int64(n)) => *n as i32,
                    Some(Bson::Double(n)) => *n as i32,
                    _ => 0,
                };
                state.insert(
                    id.to_owned(),
                    Known {
                        hash: hash.to_owned(),
                        active,
                    },
                );
            }
            Ok(state)
        })
        .await
    }

    async fn write_batch(
        &self,
        scope: &Scope,
        writes: Vec<Write>,
    ) -> Result<BatchResult, StoreError> {
        let mut result = BatchResult::default();
        for chunk in writes.chunks(STATEMENTS_PER_COMMAND) {
            let statements = chunk.iter().map(|w| convert::statement(scope, w));
            let (reply, attempts) = self
                .update_command(&scope.collection, statements, "writing a batch")
                .await?;
            let (mut outcomes, shortfall) = convert::batch_outcomes(chunk, &reply, attempts > 1);
            if shortfall > 0 {
                self.mark_missing_updates(scope, chunk, &mut outcomes)
                    .await?;
            }
            for (write, outcome) in chunk.iter().zip(outcomes) {
                match outcome {
                    Ok(()) => result.applied += 1,
                    Err(reason) => result
                        .failed
                        .push((write.reference_id().to_owned(), reason)),
                }
            }
        }
        Ok(result)
    }

    async fn retire(
        &self,
        scope: &Scope,
        reference_ids: &[String],
        at: UtcMillis,
        run_id: &str,
    ) -> Result<u64, StoreError> {
        let at = DateTime::from_millis(at.0);
        if reference_ids.is_empty() {
            return Ok(0);
        }
        let statements = reference_ids.chunks(IDS_PER_RETIREMENT).map(|ids| {
            let mut q = scope_filter(scope);
            q.insert("reference_id", doc! { "$in": ids });
            q.insert("active", 1);
            Ok(doc! {
                "q": q,
                "u": { "$set": { "active": -1, "terminated_at": at, "updated_at": at, "sync.run_id": run_id } },
                "multi": true,
            })
        });
        let (reply, _) = self
            .update_command(&scope.collection, statements, "retiring")
            .await?;
        if let Ok(errors) = reply.get_array("writeErrors") {
            if !errors.is_empty() {
                return Err(StoreError::Backend(format!(
                    "retiring: {} statements failed: {errors:?}",
                    errors.len()
                )));
            }
        }
        Ok(convert::count(&reply, "nModified"))
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let document = convert::run_to_bson(run)?;
        let runs = self.db.collection::<Document>(SYNC_RUNS);
        // An upsert by run id, so a retried write after a dropped connection is harmless.
        self.retried("recording the run", |_| {
            runs.replace_one(doc! { "run_id": &run.run_id }, document.clone())
                .upsert(true)
        })
        .await?;
        Ok(())
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let runs = self.db.collection::<Document>(SYNC_RUNS);
        let docs = self
            .retried("reading runs", |_| async {
                let cursor = runs
                    .find(doc! {})
                    .sort(doc! { "started_at": -1, "_id": -1 })
                    .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                    .projection(doc! { "_id": 0 })
                    .await?;
                drain(cursor).await
            })
            .await?;
        docs.into_iter().map(convert::run_from_bson).collect()
    }

    async fn last_run(&self, job: &str) -> Result<Option<RunRecord>, StoreError> {
        let runs = self.db.collection::<Document>(SYNC_RUNS);
        let found = self
            .retried("reading the last run", |_| {
                runs.find_one(doc! { "job": job })
                    .sort(doc! { "started_at": -1, "_id": -1 })
                    .projection(doc! { "_id": 0 })
            })
            .await?;
        found.map(convert::run_from_bson).transpose()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // One attempt: a health check reports the state now, it does not wait it out.
        self.db
            .run_command(doc! { "ping": 1 })
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(error_class(&e)))
    }

    async fn acquire_lease(
        &self,
        job: &str,
        owner: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<bool, StoreError> {
        let leases = self.db.collection::<Document>(LEASES);
        let filter = doc! {
            "_id": job,
            "$or": [ { "expires_at": { "$lt": DateTime::from_millis(now.0) } }, { "owner": owner } ],
        };
        let update =
            doc! { "$set": { "owner": owner, "expires_at": DateTime::from_millis(until.0) } };
        let result = self
            .retry
            .run(is_transient, |_| {
                leases
                    .find_one_and_update(filter.clone(), update.clone())
                    .upsert(true)
                    .return_document(mongodb::options::ReturnDocument::After)
                    .into_future()
            })
            .await;
        match result {
            Ok(found) => Ok(found.is_some()),
            // Held by another owner: the filter missed and the upsert hit the `_id`.
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(StoreError::Unavailable(format!(
                "taking a lease: {}",
                error_class(&e)
            ))),
        }
    }

    async fn export(&self, collection: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        if collection == SYNC_RUNS {
            let mut runs = self.recent_runs(usize::MAX >> 1).await?;
            runs.reverse();
            return Ok(runs.iter().map(RunRecord::to_export_json).collect());
        }
        let coll = self.db.collection::<Document>(collection);
        let docs = self
            .retried("exporting", |_| async {
                // Documents the control panel made itself carry no `source`: not ours.
                let cursor = coll
                    .find(doc! { "source": { "$exists": true } })
                    .sort(doc! { "cloud": 1, "source": 1, "reference_id": 1 })
                    .projection(doc! { "_id": 0 })
                    .await?;
                drain(cursor).await
            })
            .await?;
        docs.into_iter()
            .map(|d| convert::doc_from_bson(d).map(|doc| doc.to_export_json()))
            .collect()
    }
}
