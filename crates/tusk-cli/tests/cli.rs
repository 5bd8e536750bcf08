//! The `tusk` binary end to end: `config check`, `config show` and `serve`,
//! run as a user runs them, including the inputs that must be refused.

// Test helpers may panic: a failed expectation is what a test reports.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn tusk() -> Command {
    let mut cmd = Command::cargo_bin("tusk").unwrap_or_else(|e| panic!("tusk binary: {e}"));
    for var in tusk_core::config::ENV_VARS {
        cmd.env_remove(var);
    }
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = tusk()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run tusk {args:?}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One row: arguments, expected exit code, fragments expected in stderr.
fn check(args: &[&str], code: i32, fragments: &[&str]) {
    let r = run(args);
    assert_eq!(
        r.code, code,
        "tusk {args:?}\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    for f in fragments {
        assert!(
            r.stderr.contains(f),
            "tusk {args:?}: `{f}` not in stderr:\n{}",
            r.stderr
        );
    }
    assert!(
        !r.stderr.contains("panicked"),
        "tusk {args:?} panicked:\n{}",
        r.stderr
    );
}

fn write(dir: &Path, name: &str, text: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    path.display().to_string()
}

#[test]
fn config_check_accepts_the_seed_examples() {
    for file in ["okta-values.yaml", "okta-values.json"] {
        let path = examples().join(file).display().to_string();
        let r = run(&["config", "check", "--values", &path]);
        assert_eq!(r.code, 0, "{file}: {}", r.stderr);
        assert!(r.stdout.contains("configuration ok"), "{}", r.stdout);
    }
}

#[test]
fn config_check_names_key_line_and_fix() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let seed = std::fs::read_to_string(examples().join("okta-values.yaml")).unwrap_or_default();
    let with_version = write(
        dir.path(),
        "v.yaml",
        seed.replace("    name: Okta\n", "    name: Okta\n    version: 1\n")
            .as_bytes(),
    );
    check(
        &["config", "check", "--values", &with_version],
        1,
        &[
            "v.yaml:8: oidc.upstreamIDPs[0].version: unknown key `version`",
            "remove this line",
            "1 error",
        ],
    );
    let typo = write(
        dir.path(),
        "t.yaml",
        seed.replace("clientSecret:", "clientSecrett:").as_bytes(),
    );
    check(
        &["config", "check", "--values", &typo],
        1,
        &["did you mean `clientSecret`?"],
    );
    // The same refusal stops `serve`, with exit code 2 and nothing started.
    let data = dir.path().join("data").display().to_string();
    check(
        &[
            "serve",
            "--values",
            &with_version,
            "--data-dir",
            &data,
            "--listen",
            "127.0.0.1:0",
        ],
        2,
        &["unknown key `version`", "not starting"],
    );
    assert!(
        !dir.path().join("data").exists(),
        "serve touched the data dir before refusing"
    );
}

#[test]
fn bad_input_gets_one_clear_message() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let huge = d.join("huge.yaml");
    let f = std::fs::File::create(&huge).unwrap_or_else(|e| panic!("{e}"));
    f.set_len(100 * 1024 * 1024)
        .unwrap_or_else(|e| panic!("{e}"));
    let huge = huge.display().to_string();
    let cases: Vec<(Vec<String>, i32, Vec<&str>)> = vec![
        (
            vec![write(d, "bad.yaml", b"oidc: [1, 2\n")],
            1,
            vec!["bad.yaml:", "not valid YAML or JSON"],
        ),
        (
            vec![write(
                d,
                "bin.yaml",
                &[0x7f, b'E', b'L', b'F', 0, 0xff, 0xfe, 1],
            )],
            1,
            vec!["bin.yaml", "not UTF-8 text"],
        ),
        (
            vec![huge],
            2,
            vec!["huge.yaml: the file is 104857600 bytes"],
        ),
        (
            vec![write(d, "empty.yaml", b"")],
            1,
            vec!["empty.yaml: the values file is empty"],
        ),
        (
            vec![write(d, "list.yaml", b"- oidc\n")],
            1,
            vec!["a values file must be a map"],
        ),
        (
            vec![write(
                d,
                "noid.yaml",
                b"oidc:\n  upstreamIDPs:\n  - type: mockCallback\n",
            )],
            1,
            vec!["noid.yaml:3: oidc.upstreamIDPs[0]: required key `id`"],
        ),
        (
            vec![d.join("missing.yaml").display().to_string()],
            2,
            vec!["missing.yaml: cannot open"],
        ),
        (vec![d.display().to_string()], 2, vec!["is a directory"]),
    ];
    for (files, code, fragments) in cases {
        let mut args = vec!["config".to_owned(), "check".to_owned()];
        for f in &files {
            args.push("--values".into());
            args.push(f.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check(&args, code, &fragments);
    }
    let secret_ref = write(d, "s.yaml", b"oidc:\n  upstreamIDPsSecretName: okta\n");
    check(
        &[
            "config",
            "check",
            "--values",
            &secret_ref,
            "--secrets-dir",
            "/nonexistent/secrets",
        ],
        2,
        &["--secrets-dir /nonexistent/secrets: cannot read the directory"],
    );
    check(
        &[
            "config",
            "check",
            "--values",
            &secret_ref,
            "--secrets-dir",
            &d.display().to_string(),
        ],
        1,
        &["cannot read key `upstream-idps` of secret `okta`"],
    );
    check(
        &[
            "serve",
            "--listen",
            "not-an-address",
            "--data-dir",
            &d.join("x").display().to_string(),
        ],
        1,
        &["--listen `not-an-address` is not an address"],
    );
    check(&["serve", "--bogus-flag"], 2, &["unexpected argument"]);
}

#[test]
fn secrets_dir_feeds_upstream_idps_and_config_show_masks_every_secret() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::create_dir_all(d.join("secrets/okta")).unwrap_or_else(|e| panic!("{e}"));
    write(
        &d.join("secrets/okta"),
        "upstream-idps",
        br#"[{"id":"okta","name":"Okta","type":"oidc","config":{"issuer":"https://x.okta.com","clientID":"cid","clientSecret":"upstream-secret-value","redirectURI":"http://127.0.0.1:30650/dex/callback"}}]"#,
    );
    let values = write(d, "v.yaml", b"oidc:\n  upstreamIDPsSecretName: okta\npachd:\n  rootToken: root-token-value\n  oauthClientSecret: pachd-secret-value\n  enterpriseLicenseKey: license-value\nconsole:\n  config:\n    oauthClientSecret: console-secret-value\n");
    let out = tusk()
        .args([
            "config",
            "show",
            "--values",
            &values,
            "--secrets-dir",
            &d.join("secrets").display().to_string(),
        ])
        .env(
            "AUTH_CONFIG",
            "client_secret: env-secret-value\nissuer: http://127.0.0.1:30650/dex\n",
        )
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"id\": \"okta\""), "{stdout}");
    for secret in [
        "upstream-secret-value",
        "root-token-value",
        "pachd-secret-value",
        "license-value",
        "console-secret-value",
        "env-secret-value",
    ] {
        assert!(
            !stdout.contains(secret),
            "config show printed {secret}:\n{stdout}"
        );
    }
}

/// A `tusk serve` child that is stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let bin = assert_cmd::cargo::cargo_bin("tusk");
        let mut cmd = std::process::Command::new(bin);
        for var in tusk_core::config::ENV_VARS {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn tusk serve: {e}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = String::new();
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            seen.push_str(&line);
            seen.push('\n');
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["fields"]["message"] == "tusk is serving"
            {
                let addr = v["fields"]["listen"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                // Keep draining stderr so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines.by_ref() {});
                return Server { child, addr };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("tusk serve did not start:\n{seen}");
    }

    fn get(&self, path: &str) -> (u16, String) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            let resp = reqwest::get(format!("http://{}{path}", self.addr))
                .await
                .unwrap_or_else(|e| panic!("GET {path}: {e}"));
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        })
    }

    fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let status = self.child.wait().unwrap_or_else(|e| panic!("{e}"));
        status.code().unwrap_or(-1)
    }
}

#[test]
fn serve_on_sqlite_answers_health_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data").display().to_string();
    let server = Server::start(&["--data-dir", &data]);
    let (status, body) = server.get("/healthz");
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(ready["ready"], true, "{body}");
    assert_eq!(ready["checks"]["store"]["backend"], "sqlite", "{body}");
    assert!(
        !body.contains("\"password\":\"password\""),
        "readyz leaked the mock password: {body}"
    );
    let (status, body) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("tusk_http_requests_total"), "{body}");
    assert_eq!(server.stop(), 0, "SIGTERM should end tusk with status 0");
    assert!(
        dir.path().join("data/tusk.db").exists(),
        "no SQLite database in the data dir"
    );
}

#[test]
fn serve_on_postgres_answers_ready() {
    let base = std::env::var("TUSK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let db = format!("tusk_cli_{}", std::process::id());
    let psql = |sql: &str| {
        std::process::Command::new("psql")
            .args([
                &format!("{base}/postgres"),
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                sql,
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    assert!(
        psql(&format!("DROP DATABASE IF EXISTS {db}")) && psql(&format!("CREATE DATABASE {db}")),
        "PostgreSQL at {base} is not reachable; start it (see README) — this test never skips"
    );
    // The data dir still receives a generated root token, so keep it out
    // of the source tree.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().display().to_string();
    let server = Server::start(&[
        "--database-url",
        &format!("{base}/{db}"),
        "--data-dir",
        &data,
    ]);
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"backend\":\"postgres\""), "{body}");
    assert_eq!(server.stop(), 0);
    psql(&format!("DROP DATABASE IF EXISTS {db}"));
}

#[test]
fn serve_refuses_a_taken_port() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = holder
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    check(
        &[
            "serve",
            "--listen",
            &addr,
            "--data-dir",
            &dir.path().display().to_string(),
        ],
        1,
        &[
            &format!("cannot listen on {addr}"),
            "Address already in use",
            "pick another port with --listen",
        ],
    );
}
