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
