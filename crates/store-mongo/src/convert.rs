//! Between the store model and BSON, and reading the server's write replies.

use mongodb::bson::{self, doc, Bson, DateTime, Document};
use syncer_store::{InventoryDoc, RunRecord, Scope, StoreError, SyncMeta, UtcMillis, Write};

fn date(at: UtcMillis) -> DateTime {
    DateTime::from_millis(at.0)
}

fn json_to_bson(value: &serde_json::Value) -> Result<Bson, StoreError> {
    bson::to_bson(value)
        .map_err(|e| StoreError::Backend(format!("cloud_meta is not storable: {e}")))
}

fn sync_meta(sync: &SyncMeta) -> Document {
    doc! { "hash": &sync.hash, "last_seen": date(sync.last_seen), "run_id": &sync.run_id }
}

/// The `update` statement for one write. Inserts are upserts with `$setOnInsert`, so a
/// resent statement never makes a second document.
pub(crate) fn statement(scope: &Scope, write: &Write) -> Result<Document, StoreError> {
    let mut q = doc! { "cloud": &scope.cloud, "source": &scope.source, "reference_id": write.reference_id() };
    Ok(match write {
        Write::Insert(d) => doc! {
            "q": q,
            "u": { "$setOnInsert": {
                "uuid": &d.uuid,
                "name": d.name.as_deref(),
                "project_id": d.project_id.as_deref(),
                "source_id": d.source_id.as_deref(),
                "active": d.active,
                "created_at": date(d.created_at),
                "updated_at": date(d.updated_at),
                "terminated_at": d.terminated_at.map(date),
                "cloud_meta": json_to_bson(&d.cloud_meta)?,
                "sync": sync_meta(&d.sync),
            } },
            "upsert": true,
        },
        Write::Update(u) => {
            // Only an existing document of the scope: never upsert an update.
            q.insert("uuid", doc! { "$exists": true });
            doc! {
                "q": q,
                "u": { "$set": {
                    "name": u.name.as_deref(),
                    "project_id": u.project_id.as_deref(),
                    "source_id": u.source_id.as_deref(),
                    "active": 1,
                    "updated_at": date(u.updated_at),
                    "terminated_at": Bson::Null,
                    "cloud_meta": json_to_bson(&u.cloud_meta)?,
                    "sync": sync_meta(&u.sync),
                } },
            }
        }
    })
}

/// Reads an `update` reply into one outcome per statement. `retried` says the command
/// was resent after a dropped connection: an insert that then finds its document was
/// applied by the lost attempt.
/// The second value is how many update statements matched no document; the reply does
/// not say which.
pub(crate) fn batch_outcomes(
    writes: &[Write],
    reply: &Document,
    retried: bool,
) -> (Vec<Result<(), String>>, usize) {
    let mut outcomes: Vec<Result<(), String>> = vec![Ok(()); writes.len()];
    let mut upserted = vec![false; writes.len()];
    if let Ok(list) = reply.get_array("upserted") {
        for entry in list.iter().filter_map(Bson::as_document) {
            if let Some(i) = index(entry) {
                if i < upserted.len() {
                    upserted[i] = true;
                }
            }
        }
    }
    let mut errored = vec![false; writes.len()];
    if let Ok(list) = reply.get_array("writeErrors") {
        for entry in list.iter().filter_map(Bson::as_document) {
            if let Some(i) = index(entry).filter(|i| *i < writes.len()) {
                errored[i] = true;
                let message = entry.get_str("errmsg").unwrap_or("write error");
                outcomes[i] = Err(format!(
                    "{message} (code {})",
                    entry.get_i32("code").unwrap_or(0)
                ));
            }
        }
    }
    // Statements without an error matched or created their document, except that an
    // insert which created nothing found one already there.
    for (i, write) in writes.iter().enumerate() {
        if !errored[i] && matches!(write, Write::Insert(_)) && !upserted[i] && !retried {
            outcomes[i] =
                Err("a document with this reference id already exists in the scope".into());
        }
    }
    // An update that matched nothing shows only in the totals: every statement without
    // an error adds one to `n` (an insert matched or created, an update matched).
    let without_error = errored.iter().filter(|e| !**e).count();
    let shortfall = without_error.saturating_sub(count(reply, "n") as usize);
    (outcomes, shortfall)
}

fn index(entry: &Document) -> Option<usize> {
    match entry.get("index")? {
        Bson::Int32(i) => usize::try_from(*i).ok(),
        Bson::Int64(i) => usize::try_from(*i).ok(),
        _ => None,
    }
}

/// An integer field of a reply, whatever its BSON width.
pub(crate) fn count(reply: &Document, key: &str) -> u64 {
    match reply.get(key) {
        Some(Bson::Int32(n)) => *n as u64,
        Some(Bson::Int64(n)) => *n as u64,
        Some(Bson::Double(n)) => *n as u64,
        _ => 0,
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn opt_str(d: &Document, key: &str) -> Option<String> {
    d.get_str(key).ok().map(str::to_owned)
}

fn millis(d: &Document, key: &str) -> Option<UtcMillis> {
    d.get_datetime(key)
        .ok()
        .map(|t| UtcMillis(t.timestamp_millis()))
}

/// A stored inventory document.
pub(crate) fn doc_from_bson(d: Document) -> Result<InventoryDoc, StoreError> {
    let reference_id =
        opt_str(&d, "reference_id").ok_or_else(|| corrupt("document", "no reference_id"))?;
    let what = format!("document {reference_id}");
    let sync = d.get_document("sync").map_err(|e| corrupt(&what, e))?;
    let active = match d.get("active") {
        Some(Bson::Int32(n)) => *n,
        Some(Bson::Int64(n)) => *n as i32,
        _ => return Err(corrupt(&what, "active is not an integer")),
    };
    Ok(InventoryDoc {
        uuid: opt_str(&d, "uuid").ok_or_else(|| corrupt(&what, "no uuid"))?,
        name: opt_str(&d, "name"),
        project_id: opt_str(&d, "project_id"),
        cloud: opt_str(&d, "cloud").unwrap_or_default(),
        source: opt_str(&d, "source").unwrap_or_default(),
        source_id: opt_str(&d, "source_id"),
        active,
        created_at: millis(&d, "created_at").ok_or_else(|| corrupt(&what, "no created_at"))?,
        updated_at: millis(&d, "updated_at").ok_or_else(|| corrupt(&what, "no updated_at"))?,
        terminated_at: millis(&d, "terminated_at"),
        cloud_meta: d
            .get("cloud_meta")
            .cloned()
            .unwrap_or(Bson::Null)
            .into_relaxed_extjson(),
        sync: SyncMeta {
            hash: opt_str(sync, "hash").unwrap_or_default(),
            last_seen: millis(sync, "last_seen").unwrap_or(UtcMillis(0)),
            run_id: opt_str(sync, "run_id").unwrap_or_default(),
        },
        reference_id,
    })
}

/// A run record as stored: the record's fields, `started_at` as a BSON date.
pub(crate) fn run_to_bson(run: &RunRecord) -> Result<Document, StoreError> {
    let mut document =
        bson::to_document(run).map_err(|e| StoreError::Backend(format!("run record: {e}")))?;
    document.insert("started_at", date(run.started_at));
    Ok(document)
}

/// A stored run record.
pub(crate) fn run_from_bson(mut d: Document) -> Result<RunRecord, StoreError> {
    let started = millis(&d, "started_at").ok_or_else(|| corrupt("run record", "no started_at"))?;
    d.insert("started_at", started.0);
    let value = Bson::Document(d).into_relaxed_extjson();
    serde_json::from_value(value).map_err(|e| corrupt("run record", e))
}
