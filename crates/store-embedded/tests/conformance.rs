//! The shared store conformance suite, against the embedded store.

use syncer_store_embedded::EmbeddedStore;

async fn fresh() -> (EmbeddedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("inventory.sqlite")).unwrap();
    (store, dir)
}

syncer_store::conformance_suite!(fresh);

#[tokio::test]
async fn committed_batches_survive_reopening() {
    let (store, dir) = fresh().await;
    syncer_store::conformance::insert_and_read_state(&store).await;
    drop(store);
    let reopened = EmbeddedStore::open(&dir.path().join("inventory.sqlite")).unwrap();
    let docs = syncer_store::Store::export(&reopened, "Widget")
        .await
        .unwrap();
    assert_eq!(docs.len(), 3);
}

#[tokio::test]
async fn files_from_before_the_schema_version_are_migrated_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.sqlite");
    // The layout of files written before `user_version` was kept.
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(
        "CREATE TABLE documents (
            collection TEXT NOT NULL, cloud TEXT NOT NULL, source TEXT NOT NULL,
            reference_id TEXT NOT NULL, uuid TEXT NOT NULL, name TEXT, project_id TEXT,
            source_id TEXT, active INTEGER NOT NULL, created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL, terminated_at INTEGER, cloud_meta TEXT NOT NULL,
            hash TEXT NOT NULL, last_seen INTEGER NOT NULL, run_id TEXT NOT NULL,
            PRIMARY KEY (collection, cloud, source, reference_id)
        ) WITHOUT ROWID;
        INSERT INTO documents VALUES ('Widget', 'c1', 'sync', 'w-1', 'u-1', 'one', 'p1', NULL,
            1, 1000, 2000, NULL, '{\"size\":3}', 'h1', 2000, 'r1');
        INSERT INTO documents VALUES ('Widget', 'c1', 'sync', 'w-2', 'u-2', 'two', 'p1', NULL,
            -1, 1000, 3000, 3000, '{}', 'h2', 2000, 'r2');",
    )
    .unwrap();
    drop(old);

    let store = EmbeddedStore::open(&path).unwrap();
    let docs = syncer_store::Store::export(&store, "Widget").await.unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["uuid"], "u-1");
    assert_eq!(docs[0]["cloud_meta"]["size"], 3);
    assert_eq!(docs[1]["active"], -1);
    drop(store);

    let check = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = check
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    let ddl: String = check
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'documents'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(version, 1);
    assert!(!ddl.contains("WITHOUT ROWID"), "{ddl}");
    // Opening again leaves a current file alone.
    EmbeddedStore::open(&path).unwrap();
}
