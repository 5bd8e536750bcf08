//! The storage conformance suite on SQLite and PostgreSQL, plus what only
//! SQL backends have: files, URLs and migrations.
//!
//! PostgreSQL comes from `TUSK_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432`); each run creates and drops its
//! own database. An unreachable server fails the test.

// Test helpers may panic: a failed expectation is what a test reports.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tusk_store::{Store, conformance};
use tusk_store_sql::{Error, open_postgres, open_sqlite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conforms() {
    let root = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    let result = conformance::run_all(|| {
        let dir = root
            .path()
            .join(n.fetch_add(1, Ordering::SeqCst).to_string());
        async move {
            let backend = open_sqlite(&dir).await.map_err(|e| e.to_string())?;
            Ok(Store::new(backend))
        }
    })
    .await;
    assert_eq!(result, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_conforms() {
    let db = TestDatabase::create().await;
    // Two replicas starting at once must both come up on one database.
    let (a, b) = tokio::join!(open_postgres(&db.url), open_postgres(&db.url));
    let outcome = match (a, b) {
        (Ok(_), Ok(_)) => {
            conformance::run_all(|| async {
                let backend = open_postgres(&db.url).await.map_err(|e| e.to_string())?;
                sqlx::raw_sql("DELETE FROM records; DELETE FROM audit_events")
                    .execute(backend.pool())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Store::new(backend))
            })
            .await
        }
        (a, b) => Err(format!("concurrent open: {:?} / {:?}", a.err(), b.err())),
    };
    db.drop().await;
    assert_eq!(outcome, Ok(()));
}

#[tokio::test]
async fn sqlite_keeps_data_across_reopen_and_migrates_once() {
    let dir = owner_only_tempdir();
    let token = tusk_store::AuthToken {
        id: tusk_store::hash_token("t"),
        subject: "pach:root".into(),
        ..Default::default()
    };
    let store = Store::new(open_sqlite(dir.path()).await.unwrap());
    store.create(&token).await.unwrap();
    drop(store);
    let backend = open_sqlite(dir.path()).await.unwrap();
    assert_eq!(backend.path(), dir.path().join("tusk.db"));
    let versions: Vec<i64> = sqlite_file(dir.path())
        .prepare("SELECT version FROM tusk_schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, [1, 2]);
    let store = Store::new(backend);
    assert_eq!(
        store.get::<tusk_store::AuthToken>(&token.id).await.unwrap(),
        token
    );
}

#[tokio::test]
async fn sqlite_refuses_a_schema_from_the_future() {
    let dir = owner_only_tempdir();
    drop(open_sqlite(dir.path()).await.unwrap());
    sqlite_file(dir.path())
        .execute("INSERT INTO tusk_schema_migrations VALUES (999, 0)", [])
        .unwrap();
    let err = open_sqlite(dir.path()).await.err().unwrap();
    assert!(
        matches!(
            err,
            Error::SchemaTooNew {
                found: 999,
                known: 2
            }
        ),
        "{err}"
    );
}

/// Issue 11, defect 1: the data directory was 0755 and the database 0644,
/// so any local user could read the signing key. Modes must not depend on
/// the umask, and files an older tusk left readable are narrowed.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_data_dir_and_files_are_owner_only_under_umask_022() {
    use std::os::unix::fs::PermissionsExt;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let write = |store: &Store| {
        let store = store.clone();
        async move {
            store
                .put(&tusk_store::GroupMembership {
                    id: "user:a".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
        }
    };
    let store = Store::new(open_sqlite(&dir).await.unwrap());
    write(&store).await;
    assert_eq!(mode(&dir), 0o700, "data directory");
    for f in ["tusk.db", "tusk.db-wal", "tusk.db-shm"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    drop(store);
    // Files an older tusk created world-readable are narrowed on open.
    for f in ["tusk.db", "tusk.db-wal", "tusk.db-shm"] {
        let path = dir.join(f);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let store = Store::new(open_sqlite(&dir).await.unwrap());
    write(&store).await;
    for f in ["tusk.db", "tusk.db-wal", "tusk.db-shm"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f} after reopening");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sqlite_refuses_a_data_dir_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = open_sqlite(&dir).await.err().unwrap();
    assert!(
        matches!(err, Error::DataDirMode { mode: 0o755, .. }),
        "{err}"
    );
    let msg = err.to_string();
    let shown = dir.display().to_string();
    assert!(
        msg.contains(&shown) && msg.contains("755") && msg.contains(&format!("chmod 700 {shown}")),
        "{msg}"
    );
    assert!(!dir.join("tusk.db").exists(), "opened the database anyway");
}

/// Issue 11, defect 1: the database file held the signing key, client
/// secrets and upstream refresh tokens in clear. With a keyring none of
/// them is in the file's bytes, including a row first written in clear by
/// an older tusk and then resealed (SQLite must not keep the old cell).
#[tokio::test]
async fn sqlite_file_bytes_hold_no_secret_once_sealed() {
    const D: &str = "jwk-private-d-6f0b2c";
    const CLIENT: &str = "client-secret-41d9e7";
    const UPSTREAM: &str = "upstream-refresh-8a3c55";
    const LEGACY: &str = "legacy-client-secret-77e2";
    let dir = owner_only_tempdir();
    let keyring = std::sync::Arc::new(tusk_store::Keyring::new(&[[7; 32]]).unwrap());
    // A legacy row, written before sealing existed.
    let plain = Store::new(open_sqlite(dir.path()).await.unwrap());
    plain
        .create(&tusk_store::OidcClient {
            id: "legacy".into(),
            secret: LEGACY.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    drop(plain);
    let backend = std::sync::Arc::new(open_sqlite(dir.path()).await.unwrap());
    let store = Store::from_arc(backend.clone()).with_keyring(keyring);
    store
        .put(&tusk_store::SigningKeys {
            id: tusk_store::SigningKeys::ID.into(),
            state: format!(r#"{{"keys":[{{"kty":"EC","d":"{D}"}}]}}"#).into(),
        })
        .await
        .unwrap();
    store
        .create(&tusk_store::OidcClient {
            id: "pachd".into(),
            secret: CLIENT.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .create(&tusk_store::RefreshToken {
            id: "t".into(),
            family: "f".into(),
            connector_data: UPSTREAM.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(store.reencrypt().await.unwrap().sealed_plain, 1);
    // What `tusk store reencrypt` does last: the resealed pages replace the
    // old ones in the file, and the log holding old page images is emptied.
    backend.checkpoint().await.unwrap();
    drop(store);
    let mut bytes = Vec::new();
    for f in ["tusk.db", "tusk.db-wal", "tusk.db-shm"] {
        bytes.extend(std::fs::read(dir.path().join(f)).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in [D, CLIENT, UPSTREAM, LEGACY] {
        assert!(!text.contains(secret), "{secret} is in the database file");
    }
}

#[tokio::test]
async fn sqlite_error_names_the_directory_and_the_flag() {
    let dir = owner_only_tempdir();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let bad = file.join("data");
    let msg = open_sqlite(&bad).await.err().unwrap().to_string();
    assert!(
        msg.contains(&bad.display().to_string()) && msg.contains("--data-dir"),
        "{msg}"
    );
}

#[tokio::test]
async fn postgres_error_names_the_host_but_not_the_password() {
    let msg = open_postgres("postgres://tusk:hunter2@127.0.0.1:1/tusk")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("127.0.0.1:1") && msg.contains("PostgreSQL runs"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
}

/// A temporary data directory tusk accepts: `tempdir()` follows the umask
/// (0755 here), and tusk refuses a data directory others can read.
fn owner_only_tempdir() -> tempfile::TempDir {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir().unwrap()
}

/// A plain connection to the database in `dir`, as a DBA would open it.
fn sqlite_file(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("tusk.db")).unwrap()
}

struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    async fn create() -> Self {
        let base = std::env::var("TUSK_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let base = base.trim_end_matches('/');
        let admin = format!("{base}/postgres");
        let name = format!("tusk_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is unreachable at {admin} ({e}). Start it \
                 (pg_ctlcluster --skip-systemctl-redirect <version> main start) \
                 or point TUSK_TEST_POSTGRES at a server"
            )
        });
        let sql = AssertSqlSafe(format!("CREATE DATABASE {name}"));
        conn.execute(sql).await.unwrap();
        let url = format!("{base}/{name}");
        TestDatabase { admin, name, url }
    }

    async fn drop(self) {
        let mut conn = PgConnection::connect(&self.admin).await.unwrap();
        let sql = AssertSqlSafe(format!("DROP DATABASE {} WITH (FORCE)", self.name));
        conn.execute(sql).await.unwrap();
    }
}

/// Caches on one replica must hear about writes on another: PostgreSQL
/// relays them with LISTEN/NOTIFY. Bounded waits guard against a hang; they
/// assert nothing about speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_relays_changes_between_replicas() {
    let db = TestDatabase::create().await;
    let a = Store::new(open_postgres(&db.url).await.unwrap());
    let b = Store::new(open_postgres(&db.url).await.unwrap());
    let mut feed = b.subscribe();
    // The listener connects in the background, and its "connected" mark can
    // come before this subscription; so write until b hears a write, which
    // is what the relay must do.
    let binding = tusk_store::RoleBinding {
        id: "CLUSTER:".into(),
        ..Default::default()
    };
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            a.put(&binding).await.unwrap();
            let heard = tokio::time::timeout(Duration::from_millis(500), async {
                loop {
                    match feed.recv().await {
                        Ok(c) if c.kind == "role_binding" => return c,
                        Ok(_) => {}
                        Err(e) => panic!("feed closed: {e}"),
                    }
                }
            })
            .await;
            if let Ok(c) = heard {
                return c;
            }
        }
    })
    .await
    .expect("replica b never heard of replica a's write");
    assert_eq!(seen.id.as_deref(), Some("CLUSTER:"));
    // A batch announces its records with its commit, one change each.
    let mut batch = a.batch();
    for id in ["REPO:p/one", "REPO:p/two"] {
        let binding = tusk_store::RoleBinding {
            id: id.into(),
            ..Default::default()
        };
        batch.create(&binding).unwrap();
    }
    batch.commit().await.unwrap();
    let mut heard = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while heard.len() < 2 {
            match feed.recv().await {
                Ok(c) if c.kind == "role_binding" && c.id.as_deref() != Some("CLUSTER:") => {
                    heard.extend(c.id);
                }
                Ok(_) => {}
                Err(e) => panic!("feed closed: {e}"),
            }
        }
    })
    .await
    .expect("replica b never heard of replica a's batch");
    assert_eq!(heard, ["REPO:p/one", "REPO:p/two"]);
    drop((a, b));
    db.drop().await;
}

#[tokio::test]
async fn local_writes_reach_the_local_feed() {
    let dir = owner_only_tempdir();
    let store = Store::new(open_sqlite(dir.path()).await.unwrap());
    let mut feed = store.subscribe();
    store
        .put(&tusk_store::GroupMembership {
            id: "user:a".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .delete::<tusk_store::GroupMembership>("user:a")
        .await
        .unwrap();
    let kinds: Vec<_> = [feed.try_recv().unwrap(), feed.try_recv().unwrap()]
        .into_iter()
        .map(|c| (c.kind, c.id))
        .collect();
    assert_eq!(
        kinds,
        [
            ("group_membership".to_owned(), Some("user:a".to_owned())),
            ("group_membership".to_owned(), Some("user:a".to_owned()))
        ]
    );
    // A batch reaches the feed once committed, one change per record.
    let mut batch = store.batch();
    batch
        .create(&tusk_store::GroupMembership {
            id: "user:b".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(feed.try_recv().is_err(), "announced before the commit");
    batch.commit().await.unwrap();
    let change = feed.try_recv().unwrap();
    assert_eq!(
        (change.kind.as_str(), change.id.as_deref()),
        ("group_membership", Some("user:b"))
    );
}

/// What a DBA or a backup sees: the `data` column read with plain SQL holds
/// neither the client secret nor the upstream refresh token.
#[tokio::test]
async fn postgres_column_holds_no_secret_once_sealed() {
    let db = TestDatabase::create().await;
    let backend = open_postgres(&db.url).await.unwrap();
    let pool = backend.pool().clone();
    let keyring = std::sync::Arc::new(tusk_store::Keyring::new(&[[9; 32]]).unwrap());
    let store = Store::new(backend).with_keyring(keyring);
    store
        .create(&tusk_store::OidcClient {
            id: "pachd".into(),
            secret: "pg-client-secret-2f8a".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .create(&tusk_store::RefreshToken {
            id: "t".into(),
            family: "f".into(),
            connector_data: "pg-upstream-refresh-c41e".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT kind, data FROM records")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (kind, data) in rows {
        assert!(
            data.starts_with("tusk-sealed:v1:")
                && !data.contains("pg-client-secret-2f8a")
                && !data.contains("pg-upstream-refresh-c41e"),
            "{kind} is stored in clear"
        );
    }
    drop((store, pool));
    db.drop().await;
}

/// Set in the child process of `sqlite_keeps_every_reported_write_when_killed`:
/// the data directory it writes to.
const CRASH_CHILD_DIR: &str = "TUSK_TEST_SQLITE_CRASH_CHILD_DIR";

/// A write reported committed survives the process being killed (SIGKILL,
/// no shutdown) in the middle of a stream of batched writes. The child is
/// this test binary run again on this one test; it writes from several
/// tasks at once, so the kill lands among group commits, and prints each
/// id once its commit returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_keeps_every_reported_write_when_killed() {
    use std::io::BufRead;
    if let Some(dir) = std::env::var_os(CRASH_CHILD_DIR) {
        let store = Store::new(open_sqlite(std::path::Path::new(&dir)).await.unwrap());
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for id in rx {
                let _ = writeln!(out, "{id}").and_then(|()| out.flush());
            }
        });
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let (store, tx) = (store.clone(), tx.clone());
                tokio::spawn(async move {
                    for i in 0.. {
                        let id = format!("w{w}-{i}");
                        let token = tusk_store::AuthToken {
                            id: id.clone(),
                            subject: "user:crash".into(),
                            expires_at: None,
                            created_at: 0,
                        };
                        let mut batch = store.batch();
                        batch.create(&token).unwrap();
                        batch.commit().await.unwrap();
                        if tx.send(id).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            let _ = w.await;
        }
        return;
    }
    let dir = owner_only_tempdir();
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sqlite_keeps_every_reported_write_when_killed",
            "--nocapture",
        ])
        .env(CRASH_CHILD_DIR, &data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut reported = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        // The harness prints its own lines; ids start with `w`.
        if line.starts_with('w') && !line.contains(' ') {
            reported.push(line);
        }
        if reported.len() == 2000 {
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
    assert_eq!(
        reported.len(),
        2000,
        "the child stopped before writing enough"
    );
    let store = Store::new(open_sqlite(&data).await.unwrap());
    let stored: std::collections::HashSet<String> = store
        .list::<tusk_store::AuthToken>()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let lost: Vec<_> = reported.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} reported writes were lost: {lost:?}",
        lost.len()
    );
}
