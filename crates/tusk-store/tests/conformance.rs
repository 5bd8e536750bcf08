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

/// The audit sink's log record: one JSON line of target `tusk::audit`
/// whose `event` field is the event's stable name, next to the columns
/// operators filter on.
#[test]
fn an_audit_event_is_one_json_log_record_with_a_stable_event_field() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tusk_store::audit::AuditEvent;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let store = Store::memory();
    tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.audit(
                1_800_000_000,
                AuditEvent::RoleBindingChanged {
                    actor: "pach:root".into(),
                    resource: "REPO:default/images".into(),
                    principal: "robot:ci".into(),
                    before: vec![],
                    after: vec!["repoReader".into()],
                },
            ));
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let record = &lines[0];
    assert_eq!(record["target"], "tusk::audit", "{record}");
    assert_eq!(
        record["fields"]["event"], "role_binding_changed",
        "{record}"
    );
    assert_eq!(record["fields"]["actor"], "pach:root", "{record}");
    assert_eq!(
        record["fields"]["resource"], "REPO:default/images",
        "{record}"
    );
    let details: serde_json::Value =
        serde_json::from_str(record["fields"]["details"].as_str().unwrap()).unwrap();
    assert_eq!(
        details["after"],
        serde_json::json!(["repoReader"]),
        "{details}"
    );
}
