//! The MongoDB store through the real driver against the wire-protocol test bridge:
//! the shared conformance suite, then the faults only a server can have.

use std::time::Duration;

use mongodb::bson::{doc, Bson, Document};
use syncer_e2e::MongoBridge;
use syncer_retry::RetryPolicy;
use syncer_store::{BatchResult, Scope, Store, StoreError, UtcMillis, Write};
use syncer_store_mongo::MongoStore;

/// Short waits so the fault tests are quick; the attempts are what is tested.
const TEST_RETRY: RetryPolicy = RetryPolicy {
    attempts: 6,
    initial_delay: Duration::from_millis(50),
    max_delay: Duration::from_millis(200),
};

async fn fresh() -> (MongoStore, MongoBridge) {
    let bridge = MongoBridge::start();
    let database = format!("t{}", uuid::Uuid::new_v4().simple());
    let store = MongoStore::connect(&bridge.uri, &database, TEST_RETRY)
        .await
        .unwrap();
    (store, bridge)
}

syncer_store::conformance_suite!(fresh);

/// A second client, as test code, to read raw documents and drive the bridge's faults.
async fn admin(bridge: &MongoBridge) -> mongodb::Client {
    mongodb::Client::with_uri_str(&bridge.uri).await.unwrap()
}

/// Sends a command to the bridge on a new connection: a fault closes every open one.
async fn bridge_command(bridge: &MongoBridge, command: Document) -> Document {
    let client = admin(bridge).await;
    client.database("admin").run_command(command).await.unwrap()
}

fn scope() -> Scope {
    Scope {
        collection: "Instance".into(),
        cloud: "c1".into(),
        source: "sync".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_creates_the_unique_scope_index_and_run_indexes() {
    let (store, bridge) = fresh().await;
    store.prepare(&["Instance".into()]).await.unwrap();
    let client = admin(&bridge).await;
    let db = client.database(store_db_name(&store));
    let mut cursor = db
        .collection::<Document>("Instance")
        .list_indexes()
        .await
        .unwrap();
    let mut found = false;
    while cursor.advance().await.unwrap() {
        let index = cursor.deserialize_current().unwrap();
        if index.keys == doc! { "cloud": 1, "source": 1, "reference_id": 1 } {
            found = index.options.and_then(|o| o.unique) == Some(true);
        }
    }
    assert!(found, "no unique (cloud, source, reference_id) index");
    let runs = db
        .collection::<Document>("sync_runs")
        .list_index_names()
        .await
        .unwrap();
    assert!(runs.contains(&"syncer_job_started".to_string()), "{runs:?}");
}

fn store_db_name(store: &MongoStore) -> &str {
    store.database_name()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_stored_with_bson_dates_and_without_touching_foreign_ones() {
    let (store, bridge) = fresh().await;
    let client = admin(&bridge).await;
    let raw = client
        .database(store_db_name(&store))
        .collection::<Document>("Widget");
    // A document the control panel made itself: no `source`.
    raw.insert_one(doc! { "reference_id": "a", "cloud": "c1", "note": "panel" })
        .await
        .unwrap();
    syncer_store::conformance::insert_and_read_state(&store).await;
    let stored = raw
        .find_one(doc! { "reference_id": "a", "source": "sync" })
        .await
        .unwrap()
        .unwrap();
    assert!(stored.get_datetime("created_at").is_ok(), "{stored}");
    assert!(stored
        .get_document("sync")
        .unwrap()
        .get_datetime("last_seen")
        .is_ok());
    assert_eq!(stored.get_i32("active"), Ok(1));
    let widgets = Scope {
        collection: "Widget".into(),
        ..scope()
    };
    store
        .retire(&widgets, &["a".into()], UtcMillis(1), "r")
        .await
        .unwrap();
    let panel = raw
        .find_one(doc! { "note": "panel" })
        .await
        .unwrap()
        .unwrap();
    assert!(
        panel.get("active").is_none(),
        "the panel's document was touched: {panel}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_mid_batch_is_retried_without_duplicates() {
    let (store, bridge) = fresh().await;
    let s = scope();
    store
        .prepare(std::slice::from_ref(&s.collection))
        .await
        .unwrap();
    // The next data command (the batch) kills every connection and is not executed;
    // the two after it are refused: the store must reconnect and resend.
    bridge_command(
        &bridge,
        doc! { "bridgeFault": 1, "dropConnectionsAfter": 0, "downForCommands": 2 },
    )
    .await;
    let writes = ["a", "b", "c"]
        .iter()
        .map(|id| Write::Insert(Box::new(syncer_store::conformance::doc(&s, id, "h"))))
        .collect();
    let result = store.write_batch(&s, writes).await.unwrap();
    assert_eq!(
        result,
        BatchResult {
            applied: 3,
            failed: vec![]
        }
    );
    assert_eq!(
        store.export("Instance").await.unwrap().len(),
        3,
        "a resent insert made a second document"
    );
    let stats = bridge_command(&bridge, doc! { "bridgeStats": 1 }).await;
    let count = |path: &[&str]| {
        let mut doc = &stats;
        for key in &path[..path.len() - 1] {
            doc = doc.get_document(key).unwrap();
        }
        match doc.get(path[path.len() - 1]) {
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Int64(n)) => *n,
            _ => 0,
        }
    };
    // One trip, the tripped batch and two resends refused, then one resend served.
    assert_eq!(count(&["trips"]), 1, "{stats}");
    assert_eq!(count(&["refused", "update"]), 3, "{stats}");
    assert_eq!(count(&["commands", "update"]), 1, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stays_down_fails_the_call_and_loses_nothing() {
    let (store, bridge) = fresh().await;
    syncer_store::conformance::insert_and_read_state(&store).await;
    let s = Scope {
        collection: "Widget".into(),
        ..scope()
    };
    bridge_command(
        &bridge,
        doc! { "bridgeFault": 1, "dropConnectionsAfter": 0 },
    )
    .await;
    let err = store
        .retire(&s, &["a".into(), "b".into()], UtcMillis(5), "r")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(!err.to_string().contains("mongodb://"), "{err}");
    bridge_command(&bridge, doc! { "bridgeFault": 1, "clear": 1 }).await;
    // Back up: nothing was retired and the data is intact.
    let state = store.scope_state(&s).await.unwrap();
    assert_eq!(state.len(), 3);
    assert!(state.values().all(|k| k.active == 1));
}

/// A listing served from memory, ten resources a page.
struct Listing(std::vec::IntoIter<Vec<syncer_engine::Listed>>);

#[async_trait::async_trait]
impl syncer_engine::PageSource for Listing {
    async fn next_page(&mut self) -> Result<Option<Vec<syncer_engine::Listed>>, String> {
        Ok(self.0.next())
    }
    fn requests(&self) -> syncer_engine::Requests {
        syncer_engine::Requests::default()
    }
}

fn listing(count: usize, version: u32) -> Listing {
    let items: Vec<syncer_engine::Listed> = (0..count)
        .map(|i| {
            syncer_plugin_sdk::Resource {
                reference_id: format!("r{i:03}"),
                name: None,
                project_id: None,
                cloud_meta: serde_json::json!({"id": i, "version": version}),
            }
            .into()
        })
        .collect();
    Listing(
        items
            .chunks(10)
            .map(|c| c.to_vec())
            .collect::<Vec<_>>()
            .into_iter(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_mid_run_fails_the_run_and_retires_nothing() {
    let (store, bridge) = fresh().await;
    let s = scope();
    store
        .prepare(std::slice::from_ref(&s.collection))
        .await
        .unwrap();
    let options = syncer_engine::SyncOptions {
        batch_size: 7,
        ..Default::default()
    };
    let run =
        syncer_engine::sync_scope(&store, "c1/Instance", &s, &mut listing(50, 1), &options).await;
    assert_eq!(run.inserted, 50);

    // Every resource changed and 10 are gone; the database goes away after the scope
    // read and two write batches, and stays away past every retry.
    bridge_command(
        &bridge,
        doc! { "bridgeFault": 1, "dropConnectionsAfter": 3 },
    )
    .await;
    let run =
        syncer_engine::sync_scope(&store, "c1/Instance", &s, &mut listing(40, 2), &options).await;
    assert_eq!(run.outcome, syncer_store::Outcome::Failed);
    assert_eq!(run.retired, 0);
    assert!(
        run.error.as_deref().unwrap().contains("store unavailable"),
        "{:?}",
        run.error
    );

    // It comes back: nothing was retired, and what was written is whole.
    bridge_command(&bridge, doc! { "bridgeFault": 1, "clear": 1 }).await;
    let docs = store.export("Instance").await.unwrap();
    assert_eq!(docs.len(), 50);
    assert!(docs.iter().all(|d| d["active"] == 1));
    assert!(docs
        .iter()
        .all(|d| d["cloud_meta"]["version"] == 1 || d["cloud_meta"]["version"] == 2));
    assert_eq!(
        docs.iter()
            .filter(|d| d["cloud_meta"]["version"] == 2)
            .count(),
        14,
        "two batches of 7 were written before the fault"
    );

    // The next run repairs the rest.
    let run =
        syncer_engine::sync_scope(&store, "c1/Instance", &s, &mut listing(40, 2), &options).await;
    assert_eq!(run.outcome, syncer_store::Outcome::Succeeded);
    assert_eq!((run.updated, run.retired, run.unchanged), (26, 10, 14));
}
