//! The embedded store: the inventory in one SQLite file, used when `syncer.toml` names
//! no MongoDB (first runs, demos, single-host users).
//!
//! It holds the same documents as the MongoDB store, column per top-level field.
//! Each write batch and each retirement is one transaction, and the file runs in WAL
//! mode, so a crash mid-run leaves the last committed batch readable and the next run
//! repairs the rest. SQLite is synchronous: every call runs on tokio's blocking pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use syncer_store::{
    BatchResult, InventoryDoc, Known, RunRecord, Scope, Store, StoreError, SyncMeta, UtcMillis,
    Write, SYNC_RUNS,
};

/// `PRAGMA user_version` of the schema below. Version 0 files (before the version
/// was kept) have `documents` as a `WITHOUT ROWID` table clustered on its key:
/// multi-kilobyte rows in a clustered B-tree made every insert split pages, and a
/// first sync of the benchmark cloud took twice as long (15 s against 7.6 s).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    collection    TEXT NOT NULL,
    cloud         TEXT NOT NULL,
    source        TEXT NOT NULL,
    reference_id  TEXT NOT NULL,
    uuid          TEXT NOT NULL,
    name          TEXT,
    project_id    TEXT,
    source_id     TEXT,
    active        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    terminated_at INTEGER,
    cloud_meta    TEXT NOT NULL,
    hash          TEXT NOT NULL,
    last_seen     INTEGER NOT NULL,
    run_id        TEXT NOT NULL,
    UNIQUE (collection, cloud, source, reference_id)
);
CREATE TABLE IF NOT EXISTS sync_runs (
    run_id     TEXT PRIMARY KEY,
    job        TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    record     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_runs_by_job ON sync_runs (job, started_at);
CREATE INDEX IF NOT EXISTS sync_runs_by_time ON sync_runs (started_at);
CREATE TABLE IF NOT EXISTS syncer_leases (
    job        TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
";

/// Creates the schema, or brings an older file's up to date in one transaction.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let tx = conn.transaction()?;
    if version == 0 {
        let old: bool = tx.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'documents'",
            [],
            |row| row.get(0),
        )?;
        if old {
            tx.execute_batch("ALTER TABLE documents RENAME TO documents_v0")?;
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(
                "INSERT INTO documents SELECT * FROM documents_v0; DROP TABLE documents_v0;",
            )?;
        }
    }
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()
}

/// The embedded store.
#[derive(Clone)]
pub struct EmbeddedStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let fail = |e: rusqlite::Error| {
            StoreError::Unavailable(format!(
                "cannot open the embedded store {}: {e}",
                path.display()
            ))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let mut conn = Connection::open(path).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fail)?;
        migrate(&mut conn).map_err(fail)?;
        Ok(EmbeddedStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
        .map_err(|e| StoreError::Backend(e.to_string()))
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn prepare(&self, _collections: &[String]) -> Result<(), StoreError> {
        // One table holds every collection; the schema was made at open.
        Ok(())
    }

    async fn scope_state(&self, scope: &Scope) -> Result<HashMap<String, Known>, StoreError> {
        let scope = scope.clone();
        self.with(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT reference_id, hash, active FROM documents
                 WHERE collection = ?1 AND cloud = ?2 AND source = ?3",
            )?;
            let rows = stmt.query_map(
                params![scope.collection, scope.cloud, scope.source],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        Known {
                            hash: row.get(1)?,
                            active: row.get(2)?,
                        },
                    ))
                },
            )?;
            rows.collect()
        })
        .await
    }

    async fn write_batch(
        &self,
        scope: &Scope,
        writes: Vec<Write>,
    ) -> Result<BatchResult, StoreError> {
        let scope = scope.clone();
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let mut result = BatchResult::default();
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO documents (collection, cloud, source, reference_id, uuid, name,
                        project_id, source_id, active, created_at, updated_at, terminated_at,
                        cloud_meta, hash, last_seen, run_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                )?;
                let mut update = tx.prepare_cached(
                    "UPDATE documents SET name = ?5, project_id = ?6, source_id = ?7, active = 1,
                        updated_at = ?8, terminated_at = NULL, cloud_meta = ?9, hash = ?10,
                        last_seen = ?11, run_id = ?12
                     WHERE collection = ?1 AND cloud = ?2 AND source = ?3 AND reference_id = ?4",
                )?;
                for write in &writes {
                    // A statement that fails is rolled back alone; the batch goes on.
                    let outcome = match write {
                        Write::Insert(doc) if doc.cloud != scope.cloud || doc.source != scope.source => {
                            Err("document is outside the scope of this batch".to_string())
                        }
                        Write::Insert(doc) => insert
                            .execute(params![
                                scope.collection,
                                doc.cloud,
                                doc.source,
                                doc.reference_id,
                                doc.uuid,
                                doc.name,
                                doc.project_id,
                                doc.source_id,
                                doc.active,
                                doc.created_at.0,
                                doc.updated_at.0,
                                doc.terminated_at.map(|t| t.0),
                                doc.cloud_meta.to_string(),
                                doc.sync.hash,
                                doc.sync.last_seen.0,
                                doc.sync.run_id,
                            ])
                            .map(|_| ())
                            .map_err(|e| e.to_string()),
                        Write::Update(u) => match update.execute(params![
                            scope.collection,
                            scope.cloud,
                            scope.source,
                            u.reference_id,
                            u.name,
                            u.project_id,
                            u.source_id,
                            u.updated_at.0,
                            u.cloud_meta.to_string(),
                            u.sync.hash,
                            u.sync.last_seen.0,
                            u.sync.run_id,
                        ]) {
                            Ok(1) => Ok(()),
                            Ok(_) => Err("no such document in the scope".to_string()),
                            Err(e) => Err(e.to_string()),
                        },
                    };
                    match outcome {
                        Ok(()) => result.applied += 1,
                        Err(reason) => result.failed.push((write.reference_id().to_owned(), reason)),
                    }
                }
            }
            tx.commit()?;
            Ok(result)
        })
        .await
    }

    async fn retire(
        &self,
        scope: &Scope,
        reference_ids: &[String],
        at: UtcMillis,
        run_id: &str,
    ) -> Result<u64, StoreError> {
        let scope = scope.clone();
        let ids = reference_ids.to_vec();
        let run_id = run_id.to_owned();
        self.with(move |conn| {
            // One transaction: all of the retirements or none.
            let tx = conn.transaction()?;
            let mut changed = 0;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE documents SET active = -1, terminated_at = ?5, updated_at = ?5, run_id = ?6
                     WHERE collection = ?1 AND cloud = ?2 AND source = ?3 AND reference_id = ?4 AND active = 1",
                )?;
                for id in &ids {
                    changed += stmt.execute(params![scope.collection, scope.cloud, scope.source, id, at.0, run_id])? as u64;
                }
            }
            tx.commit()?;
            Ok(changed)
        })
        .await
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let record = serde_json::to_string(run).map_err(|e| StoreError::Backend(e.to_string()))?;
        let (run_id, job, started) = (run.run_id.clone(), run.job.clone(), run.started_at.0);
        self.with(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO sync_runs (run_id, job, started_at, record) VALUES (?1, ?2, ?3, ?4)",
                params![run_id, job, started, record],
            )
            .map(|_| ())
        })
        .await
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let records: Vec<String> = self
            .with(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT record FROM sync_runs ORDER BY started_at DESC, rowid DESC LIMIT ?1",
                )?;
                let rows = stmt.query_map(params![limit as i64], |row| row.get(0))?;
                rows.collect()
            })
            .await?;
        records
            .iter()
            .map(|r| {
                serde_json::from_str(r).map_err(|e| StoreError::Corrupt(format!("run record: {e}")))
            })
            .collect()
    }

    async fn last_run(&self, job: &str) -> Result<Option<RunRecord>, StoreError> {
        let job = job.to_owned();
        let record: Option<String> = self
            .with(move |conn| {
                conn.prepare_cached(
                    "SELECT record FROM sync_runs WHERE job = ?1 ORDER BY started_at DESC, rowid DESC LIMIT 1",
                )?
                .query_row(params![job], |row| row.get(0))
                .optional()
            })
            .await?;
        record
            .map(|r| {
                serde_json::from_str(&r)
                    .map_err(|e| StoreError::Corrupt(format!("run record: {e}")))
            })
            .transpose()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    async fn acquire_lease(
        &self,
        job: &str,
        owner: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<bool, StoreError> {
        let (job, owner) = (job.to_owned(), owner.to_owned());
        self.with(move |conn| {
            // One statement: insert, or take over only if expired or already ours.
            let changed = conn.execute(
                "INSERT INTO syncer_leases (job, owner, expires_at) VALUES (?1, ?2, ?4)
                 ON CONFLICT (job) DO UPDATE SET owner = ?2, expires_at = ?4
                 WHERE syncer_leases.expires_at < ?3 OR syncer_leases.owner = ?2",
                params![job, owner, now.0, until.0],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn export(&self, collection: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        if collection == SYNC_RUNS {
            let mut runs = self.recent_runs(usize::MAX >> 1).await?;
            runs.reverse();
            return Ok(runs.iter().map(RunRecord::to_export_json).collect());
        }
        let collection = collection.to_owned();
        let docs = self
            .with(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT uuid, reference_id, name, project_id, cloud, source, source_id, active,
                        created_at, updated_at, terminated_at, cloud_meta, hash, last_seen, run_id
                     FROM documents WHERE collection = ?1 ORDER BY cloud, source, reference_id",
                )?;
                let rows = stmt.query_map(params![collection], |row| {
                    Ok((
                        InventoryDoc {
                            uuid: row.get(0)?,
                            reference_id: row.get(1)?,
                            name: row.get(2)?,
                            project_id: row.get(3)?,
                            cloud: row.get(4)?,
                            source: row.get(5)?,
                            source_id: row.get(6)?,
                            active: row.get(7)?,
                            created_at: UtcMillis(row.get(8)?),
                            updated_at: UtcMillis(row.get(9)?),
                            terminated_at: row.get::<_, Option<i64>>(10)?.map(UtcMillis),
                            cloud_meta: serde_json::Value::Null,
                            sync: SyncMeta {
                                hash: row.get(12)?,
                                last_seen: UtcMillis(row.get(13)?),
                                run_id: row.get(14)?,
                            },
                        },
                        row.get::<_, String>(11)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        docs.into_iter()
            .map(|(mut doc, meta)| {
                doc.cloud_meta = serde_json::from_str(&meta).map_err(|e| {
                    StoreError::Corrupt(format!("cloud_meta of {}: {e}", doc.reference_id))
                })?;
                Ok(doc.to_export_json())
            })
            .collect()
    }
}
