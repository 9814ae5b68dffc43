//! The inventory document (DESIGN.md section 5) and the run record (section 6).
//!
//! Field names and types here are read by the existing control panel: change none of
//! them without changing the panel.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::UtcMillis;

/// One sync scope: the documents of one collection that one job owns in one cloud.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Inventory collection, e.g. `Instance`.
    pub collection: String,
    /// Cloud name in `syncer.toml`.
    pub cloud: String,
    /// Source tag: the job's (default `sync`), or `stack` for the Heat job.
    pub source: String,
}

/// What the engine needs to know of a stored document to decide whether to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// `sync.hash` of the stored document.
    pub hash: String,
    /// `1` present, `-1` retired.
    pub active: i32,
}

/// Engine bookkeeping inside each document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMeta {
    /// Canonical content hash of what the engine wrote.
    pub hash: String,
    /// When the engine last saw this content change (it is not bumped by runs that
    /// find the resource unchanged: that would be a write per resource per run).
    pub last_seen: UtcMillis,
    /// The run that last wrote the document.
    pub run_id: String,
}

/// An inventory document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryDoc {
    /// The inventory's own id: assigned at first insert, never changed.
    pub uuid: String,
    /// The cloud's id of the resource.
    pub reference_id: String,
    /// Display name, where the kind has one.
    pub name: Option<String>,
    /// Owning project, where the kind has one.
    pub project_id: Option<String>,
    /// Cloud name in `syncer.toml`.
    pub cloud: String,
    /// Which job owns it.
    pub source: String,
    /// The stack id for documents of the Heat job; `null` otherwise.
    pub source_id: Option<String>,
    /// `1` present, `-1` gone from the cloud.
    pub active: i32,
    /// First insert.
    pub created_at: UtcMillis,
    /// Last write.
    pub updated_at: UtcMillis,
    /// When it was retired; `null` while active.
    pub terminated_at: Option<UtcMillis>,
    /// The raw API object as listed, keys escaped by [`escape_keys`].
    pub cloud_meta: Value,
    /// Engine bookkeeping.
    pub sync: SyncMeta,
}

/// The changed content of an existing document; the store also sets `active = 1` and
/// clears `terminated_at`, so an update reactivates a retired document.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// Which document of the scope.
    pub reference_id: String,
    /// New name.
    pub name: Option<String>,
    /// New project.
    pub project_id: Option<String>,
    /// New source id.
    pub source_id: Option<String>,
    /// New content.
    pub cloud_meta: Value,
    /// New bookkeeping.
    pub sync: SyncMeta,
    /// Time of the write.
    pub updated_at: UtcMillis,
}

/// One statement of a write batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A document the scope does not hold yet.
    Insert(Box<InventoryDoc>),
    /// A document the scope holds, with new content or coming back.
    Update(Box<Update>),
}

impl Write {
    /// The reference id the statement is about.
    pub fn reference_id(&self) -> &str {
        match self {
            Write::Insert(doc) => &doc.reference_id,
            Write::Update(update) => &update.reference_id,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Listed completely, every write applied, retirements done.
    Succeeded,
    /// The deletion guard refused to retire; everything else was applied.
    Guarded,
    /// The listing or the store failed; nothing was retired.
    Failed,
}

/// One record in `sync_runs` per job run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique id of the run.
    pub run_id: String,
    /// Job name, e.g. `demo/Instance`.
    pub job: String,
    /// Inventory collection.
    pub collection: String,
    /// Cloud name.
    pub cloud: String,
    /// Source tag.
    pub source: String,
    /// Start time.
    pub started_at: UtcMillis,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Resources listed (after dropping duplicates).
    pub listed: u64,
    /// Documents inserted.
    pub inserted: u64,
    /// Documents updated (including reactivated).
    pub updated: u64,
    /// Of `updated`, documents that came back after being retired.
    pub reactivated: u64,
    /// Documents retired.
    pub retired: u64,
    /// Listed resources that needed no write.
    pub unchanged: u64,
    /// Resources listed twice in one listing (kept once).
    pub duplicates: u64,
    /// Resources whose `cloud_meta` had keys MongoDB refuses, stored escaped.
    pub escaped: u64,
    /// Statements the store refused.
    pub write_errors: u64,
    /// Pages listed.
    pub pages: u64,
    /// API requests the plugin made.
    pub api_calls: u64,
    /// Of those, retries.
    #[serde(default)]
    pub retries: u64,
    /// Of those, answers that said "slow down" (429, 503 with `Retry-After`).
    #[serde(default)]
    pub throttled: u64,
    /// The API (micro)version negotiated with the service, where it has one.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Why the run failed or was guarded.
    pub error: Option<String>,
}

impl RunRecord {
    /// A record of a run of `job` over `scope` starting now: failed, nothing counted
    /// yet, until the run says otherwise.
    pub fn start(run_id: String, job: &str, scope: &Scope, started_at: UtcMillis) -> Self {
        RunRecord {
            run_id,
            job: job.to_owned(),
            collection: scope.collection.clone(),
            cloud: scope.cloud.clone(),
            source: scope.source.clone(),
            started_at,
            duration_ms: 0,
            outcome: Outcome::Failed,
            listed: 0,
            inserted: 0,
            updated: 0,
            reactivated: 0,
            retired: 0,
            unchanged: 0,
            duplicates: 0,
            escaped: 0,
            write_errors: 0,
            pages: 0,
            api_calls: 0,
            retries: 0,
            throttled: 0,
            api_version: None,
            error: None,
        }
    }

    /// Documents written by the run (inserted + updated + retired).
    pub fn writes(&self) -> u64 {
        self.inserted + self.updated + self.retired
    }

    /// The record as export JSON (dates as `{"$date": "..."}`).
    pub fn to_export_json(&self) -> Value {
        let mut value = serde_json::to_value(self).expect("run records serialise");
        value["started_at"] = date(self.started_at);
        value
    }
}

impl InventoryDoc {
    /// The document as export JSON: MongoDB relaxed extended JSON, as `mongoexport`
    /// would print it, so both stores export the same text.
    pub fn to_export_json(&self) -> Value {
        json!({
            "uuid": self.uuid,
            "reference_id": self.reference_id,
            "name": self.name,
            "project_id": self.project_id,
            "cloud": self.cloud,
            "source": self.source,
            "source_id": self.source_id,
            "active": self.active,
            "created_at": date(self.created_at),
            "updated_at": date(self.updated_at),
            "terminated_at": self.terminated_at.map(date),
            "cloud_meta": self.cloud_meta,
            "sync": {
                "hash": self.sync.hash,
                "last_seen": date(self.sync.last_seen),
                "run_id": self.sync.run_id,
            },
        })
    }
}

fn date(at: UtcMillis) -> Value {
    json!({ "$date": at.to_string() })
}

/// Makes every key of `value` one that MongoDB 4.4 accepts, reversibly: in a key that
/// contains `.`, `%` or starts with `$`, `%` becomes `%25`, `.` becomes `%2E` and a
/// leading `$` becomes `%24`. Returns how many keys were escaped for `.` or `$` (keys
/// escaped only for `%` are not a problem worth reporting).
pub fn escape_keys(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let mut count = 0;
            let needs = map.keys().any(|k| needs_escape(k));
            if needs {
                let old = std::mem::take(map);
                let mut new = Map::with_capacity(old.len());
                for (key, mut child) in old {
                    count += escape_keys(&mut child);
                    if needs_escape(&key) {
                        if key.starts_with('$') || key.contains('.') {
                            count += 1;
                        }
                        new.insert(escape_key(&key), child);
                    } else {
                        new.insert(key, child);
                    }
                }
                *map = new;
            } else {
                for child in map.values_mut() {
                    count += escape_keys(child);
                }
            }
            count
        }
        Value::Array(items) => items.iter_mut().map(escape_keys).sum(),
        _ => 0,
    }
}

/// The inverse of [`escape_keys`].
pub fn unescape_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (key, mut child) in old {
                unescape_keys(&mut child);
                let key = if key.contains('%') {
                    unescape_key(&key)
                } else {
                    key
                };
                map.insert(key, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unescape_keys),
        _ => {}
    }
}

fn needs_escape(key: &str) -> bool {
    key.starts_with('$') || key.contains('.') || key.contains('%')
}

fn escape_key(key: &str) -> String {
    let escaped = key.replace('%', "%25").replace('.', "%2E");
    match escaped.strip_prefix('$') {
        Some(rest) => format!("%24{rest}"),
        None => escaped,
    }
}

fn unescape_key(key: &str) -> String {
    key.replace("%24", "$")
        .replace("%2E", ".")
        .replace("%25", "%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_reversible_and_counted() {
        let original = json!({
            "$ref": 1,
            "os.distro": {"a.b": [ {"$x": 2} ]},
            "100%": "full",
            "plain": {"%2E": "literal"},
        });
        let mut value = original.clone();
        let count = escape_keys(&mut value);
        assert_eq!(count, 4);
        assert!(value.get("%24ref").is_some());
        assert!(value["os%2Edistro"]["a%2Eb"][0].get("%24x").is_some());
        assert_eq!(value["plain"]["%252E"], "literal");
        unescape_keys(&mut value);
        assert_eq!(value, original);
    }
}
