//! The store contract on the embedded (redb) store.

keygate_tests::contract_suite!(
    keygate::store::EmbeddedStore::in_memory().expect("in-memory store")
);

/// The file-backed store keeps everything across a reopen, and a second
/// process-level open of the same directory is refused while the first is open.
#[tokio::test]
async fn the_file_store_survives_a_reopen_and_is_locked_while_open() {
    use keygate::store::{EmbeddedStore, Store, embedded::OpenError};
    let dir = tempfile::tempdir().unwrap();
    let record = keygate_tests::contract::record("acme", "persisted");
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.insert(&record).await.unwrap();
        assert!(matches!(
            EmbeddedStore::open(dir.path()),
            Err(OpenError::Locked(_))
        ));
    }
    let reopened = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(reopened.get(record.id).await.unwrap(), Some(record));
}

/// No 20-character run of a key's secret is in the data file.
#[tokio::test]
async fn nothing_secret_at_rest() {
    use keygate::store::EmbeddedStore;
    let dir = tempfile::tempdir().unwrap();
    let h = keygate_tests::Harness::new(EmbeddedStore::open(dir.path()).unwrap());
    let root = h.root_key("acme").await;
    let (key, _) = h
        .create(
            &root,
            serde_json::json!({"name": "k", "key_type": "service"}),
        )
        .await;
    drop(h);
    let bytes = std::fs::read(dir.path().join(keygate::store::embedded::DATA_FILE)).unwrap();
    for full in [&root, &key] {
        let secret = keygate_tests::secret_of(full).into_bytes();
        for run in secret.windows(20) {
            assert!(
                !bytes.windows(20).any(|w| w == run),
                "a run of the secret is on disk"
            );
        }
    }
}
