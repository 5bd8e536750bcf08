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

#[test]
fn keyring_parse_names_the_bad_line_and_never_shows_a_key() {
    use tusk_store::{Keyring, SealError};
    let good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let keyring = Keyring::parse(&format!("# new key first\n{good}\n\n")).unwrap();
    let shown = format!("{keyring:?}");
    assert!(!shown.contains(good), "{shown}");
    // A comma-separated list, as an environment variable holds it.
    let two = Keyring::parse(&format!("{good},{}", Keyring::generate_line().unwrap())).unwrap();
    assert_eq!(two.sealing_key_id(), keyring.sealing_key_id());
    let short = "c2hvcnQ=";
    let err = Keyring::parse(&format!("{good}\n{short}\n")).unwrap_err();
    assert_eq!(err, SealError::BadKey { line: 2 });
    let msg = err.to_string();
    assert!(
        msg.contains("line 2") && msg.contains("openssl rand -base64 32"),
        "{msg}"
    );
    assert!(!msg.contains(short), "{msg}");
    assert_eq!(
        Keyring::parse("# nothing\n").unwrap_err(),
        SealError::NoKeys
    );
}
