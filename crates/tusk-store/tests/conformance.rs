// Test helpers may panic: a failed expectation is what a test reports.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use tusk_store::{RawRecord, Store, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_backend_conforms() {
    let result = conformance::run_all(|| async { Ok(Store::memory()) }).await;
    assert_eq!(result, Ok(()));
}

#[test]
fn raw_record_debug_hides_data() {
    let rec = RawRecord {
        id: "pachd".into(),
        owner: None,
        data: r#"{"secret":"hunter2"}"#.into(),
        expires_at: None,
        version: 1,
    };
    let shown = format!("{rec:?}");
    assert!(
        shown.contains("pachd") && !shown.contains("hunter2"),
        "{shown}"
    );
}

#[test]
fn hash_token_is_lowercase_hex_sha256() {
    assert_eq!(
        tusk_store::hash_token("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
