//! The `tusk` binary end to end: `config check`, `config show`, `serve`,
//! and the client commands (`auth`, `idp`, `resource`, `context`,
//! `doctor`) against a real `tusk serve`, run as a user runs them,
//! including the inputs that must be refused.

// Test helpers may panic: a failed expectation is what a test reports.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[path = "cli/consent.rs"]
mod consent;
#[path = "cli/ldap.rs"]
mod ldap;

/// The login-binding cookie every test client sends, as a browser sends
/// back the one the server set (under both names the server may use):
/// each step of a login must come from the browser that started it.
const BROWSER_COOKIE: &str =
    "tusk_login=binding-of-the-test-browser; __Host-tusk_login=binding-of-the-test-browser";

/// A client that acts as one browser: it presents [`BROWSER_COOKIE`].
fn browser_client() -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        reqwest::header::HeaderValue::from_static(BROWSER_COOKIE),
    );
    reqwest::Client::builder().default_headers(headers)
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn tusk() -> Command {
    let mut cmd = Command::cargo_bin("tusk").unwrap_or_else(|e| panic!("tusk binary: {e}"));
    for var in tusk_core::config::ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.env_remove("TUSK_ENCRYPTION_KEYS");
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
    expect_run(&run(args), args, code, fragments);
}

/// The exit code, every fragment in stderr, and never a panic.
fn expect_run(r: &Run, args: &[&str], code: i32, fragments: &[&str]) {
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

/// Issue 13: the command in `examples/proxy-values.yaml`'s header runs as
/// written, with a certificate in the secrets directory it names.
#[test]
fn the_proxy_example_checks_as_its_header_says() {
    let header = std::fs::read_to_string(examples().join("proxy-values.yaml")).unwrap_or_default();
    let command = header
        .lines()
        .find_map(|l| l.strip_prefix("#   tusk "))
        .unwrap_or_else(|| panic!("no command in the header:\n{header}"));
    assert!(command.contains("--secrets-dir secrets"), "{command}");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let tls = dir.path().join("secrets/pachyderm-tls");
    std::fs::create_dir_all(&tls).unwrap_or_else(|e| panic!("{e}"));
    let (cert, key) = self_signed_pem(dir.path());
    std::fs::rename(cert, tls.join("tls.crt")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(key, tls.join("tls.key")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("examples")).unwrap_or_else(|e| panic!("{e}"));
    for f in ["proxy-values.yaml", "okta-values.yaml"] {
        std::fs::copy(examples().join(f), dir.path().join("examples").join(f))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = tusk()
        .current_dir(dir.path())
        .args(command.split_whitespace())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("issuer https://pachyderm.example.com/dex"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    // Issue 13: `version` inside `config` gets the same fix as above, not
    // "one level up", where the values refuse it as well.
    let nested = write(
        dir.path(),
        "n.yaml",
        seed.replace("    config:\n", "    config:\n        version: 1\n")
            .as_bytes(),
    );
    let r = run(&["config", "check", "--values", &nested]);
    expect_run(
        &r,
        &["config", "check"],
        1,
        &[".config.version: unknown key `version`", "remove this line"],
    );
    assert!(!r.stderr.contains("one level up"), "{}", r.stderr);
    // Issue 13: the redirect-URI hint keeps the scheme and port, of the
    // redirect (for oidc.issuerURI) and of the listener (for redirectURI).
    let port = write(
        dir.path(),
        "p.yaml",
        seed.replace(
            "https://pachyderm.example.com/dex/callback",
            "http://localhost:8080/dex/callback",
        )
        .as_bytes(),
    );
    let r = run(&[
        "config",
        "check",
        "--values",
        &port,
        "--listen",
        "127.0.0.1:5556",
    ]);
    expect_run(
        &r,
        &["config", "check"],
        0,
        &[
            "`oidc.issuerURI: http://localhost:8080/dex`",
            "redirectURI to `http://127.0.0.1:5556/dex/callback`",
        ],
    );
    assert!(!r.stderr.contains("proxy.host"), "{}", r.stderr);
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
        // A command-line error (issue 13: it was 1, against the README).
        2,
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
    /// What it logged up to "tusk is serving".
    log: String,
    /// What it logged since.
    later: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let bin = assert_cmd::cargo::cargo_bin("tusk");
        Server::start_as(std::process::Command::new(bin), extra)
    }

    /// `cmd` runs the tusk binary, perhaps through a shell.
    fn start_as(mut cmd: std::process::Command, extra: &[&str]) -> Server {
        for var in tusk_core::config::ENV_VARS {
            cmd.env_remove(var);
        }
        cmd.env_remove("TUSK_ENCRYPTION_KEYS");
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
                // Keep draining stderr so the child never blocks on a full
                // pipe, and keep it for tests that read the log.
                let later = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
                let sink = later.clone();
                std::thread::spawn(move || {
                    for line in lines.by_ref().map_while(Result::ok) {
                        let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                        log.push_str(&line);
                        log.push('\n');
                    }
                });
                return Server {
                    child,
                    addr,
                    log: seen,
                    later,
                };
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

impl Drop for Server {
    fn drop(&mut self) {
        // A failed test must not leave a server running; after `stop` the
        // child is already reaped and this does nothing.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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
    // PostgreSQL needs a configured encryption key.
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap_or_else(|e| panic!("{e}"));
    write(&secrets, "encryption-keys", KEY_A.as_bytes());
    let server = Server::start(&[
        "--database-url",
        &format!("{base}/{db}"),
        "--data-dir",
        &data,
        "--secrets-dir",
        &secrets.display().to_string(),
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
    // Issue 13, output hygiene. Text logs written to a pipe or a file carry
    // no colour codes (the warning below is logged before the bind fails).
    let warns = write(
        dir.path(),
        "warn.yaml",
        b"oidc:\n  upstreamIDPs:\n  - {id: okta, name: Okta, type: oidc, config: {issuer: \"https://x.okta.com\", clientID: c, clientSecret: a-client-secret-of-some-length, redirectURI: \"http://localhost:8080/dex/callback\"}}\n",
    );
    let args = [
        "serve",
        "--values",
        &warns,
        "--listen",
        &addr,
        "--data-dir",
        &dir.path().join("d").display().to_string(),
    ];
    let r = run(&args);
    expect_run(&r, &args, 1, &["WARN", "is not this server's callback"]);
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
    // A --listen that is no address is a command-line error: exit 2.
    for bad in ["nonsense", "127.0.0.1:99999"] {
        check(
            &[
                "serve",
                "--listen",
                bad,
                "--data-dir",
                &dir.path().join("d").display().to_string(),
            ],
            2,
            &[&format!("--listen `{bad}` is not an address")],
        );
    }
    // The OS's reason is printed once, not once per wrapping error.
    let file = write(dir.path(), "a-file", b"");
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &format!("{file}/data"),
    ];
    let r = run(&args);
    expect_run(
        &r,
        &args,
        1,
        &["cannot create data directory", "--data-dir"],
    );
    assert_eq!(r.stderr.matches("(os error").count(), 1, "{}", r.stderr);
}

impl Server {
    /// Everything logged since "tusk is serving".
    fn later_log(&self) -> String {
        self.later.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `/readyz` (with its detail: the test runs on loopback) once `done`
    /// holds, polled for up to 30 s; a hang guard, not a timing assertion.
    fn readyz_until(
        &self,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut body = serde_json::Value::Null;
        for _ in 0..300 {
            let (_, text) = self.get("/readyz");
            body = serde_json::from_str(&text).unwrap_or_default();
            if done(&body) {
                return body;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "/readyz never showed {what}:\n{body:#}\nlog:\n{}",
            self.later_log()
        );
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill -{name}: {e}"));
        assert!(status.success());
    }
}

/// Updates a mounted Secret the way the kubelet does: each key is written
/// into a new `..<timestamp>` directory, a `..data_tmp` symlink to it is
/// renamed over `..data` (one atomic swap), then the old directory is
/// removed. Keys are symlinks `key -> ..data/key`, made for new keys and
/// removed for keys that are gone.
#[cfg(unix)]
fn kubelet_update(secret: &Path, stamp: &str, files: &[(&str, &str)]) {
    use std::os::unix::fs::symlink;
    let fail =
        |what: &str, e: std::io::Error| -> ! { panic!("{what} in {}: {e}", secret.display()) };
    let dir = format!("..{stamp}");
    std::fs::create_dir_all(secret.join(&dir)).unwrap_or_else(|e| fail("mkdir", e));
    for (key, text) in files {
        std::fs::write(secret.join(&dir).join(key), text).unwrap_or_else(|e| fail("write", e));
    }
    let old = std::fs::read_link(secret.join("..data")).ok();
    symlink(&dir, secret.join("..data_tmp")).unwrap_or_else(|e| fail("symlink", e));
    std::fs::rename(secret.join("..data_tmp"), secret.join("..data"))
        .unwrap_or_else(|e| fail("rename", e));
    for entry in std::fs::read_dir(secret).unwrap_or_else(|e| fail("read_dir", e)) {
        let name = entry.unwrap_or_else(|e| fail("entry", e)).file_name();
        let name = name.to_string_lossy();
        if !name.starts_with("..") && !files.iter().any(|(k, _)| *k == name) {
            std::fs::remove_file(secret.join(&*name)).unwrap_or_else(|e| fail("unlink", e));
        }
    }
    for (key, _) in files {
        if std::fs::symlink_metadata(secret.join(key)).is_err() {
            symlink(format!("..data/{key}"), secret.join(key))
                .unwrap_or_else(|e| fail("symlink", e));
        }
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(secret.join(old)).unwrap_or_else(|e| fail("rm", e));
    }
}

fn connector_ids(body: &serde_json::Value, at: &str) -> Vec<String> {
    let list = match at {
        "config" => &body["checks"]["config"]["connectors"],
        _ => &body["checks"]["connectors"],
    };
    list.as_array()
        .map(|l| {
            l.iter()
                .filter_map(|c| c["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 12: an `upstream-idps` Secret updated by the kubelet (a `..data`
/// symlink swap) applies without a restart; an invalid update is rejected
/// whole, the running connectors stay, and the rejection shows in `/readyz`,
/// `/metrics` and the log, again on each retry (SIGHUP).
#[cfg(unix)]
#[test]
fn serve_applies_a_swapped_kubelet_secret_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let secrets = d.join("secrets");
    let idps = secrets.join("idps");
    let one = r#"[{"id": "one", "name": "One", "type": "mockCallback"}]"#;
    let two = r#"[{"id": "one", "name": "One", "type": "mockCallback"}, {"id": "two", "name": "Two", "type": "mockCallback"}]"#;
    let bad = r#"[{"id": "one", "name": "One", "type": "mockCallback", "version": 2}]"#;
    kubelet_update(
        &idps,
        "2026_12_07_14_00_00.000000001",
        &[("upstream-idps", one)],
    );
    let values = write(d, "values.yaml", b"oidc:\n  upstreamIDPsSecretName: idps\n");
    let server = Server::start(&[
        "--data-dir",
        &d.join("data").display().to_string(),
        "--values",
        &values,
        "--secrets-dir",
        &secrets.display().to_string(),
    ]);
    let body = server.readyz_until("the first connector", |b| b["ready"] == true);
    assert_eq!(connector_ids(&body, "live"), ["one"], "{body}");
    assert_eq!(body["checks"]["config"]["mockIDP"], false, "{body}");

    kubelet_update(
        &idps,
        "2026_12_07_14_05_00.000000002",
        &[("upstream-idps", two)],
    );
    // Readiness also waits on a store ping with a 2 s limit, which a
    // loaded CI machine can miss once; what this test proves is that the
    // reload applies, so it waits for readiness instead of sampling it.
    let body = server.readyz_until("the second connector", |b| {
        connector_ids(b, "live") == ["one", "two"] && b["ready"] == true
    });
    assert_eq!(connector_ids(&body, "config"), ["one", "two"], "{body}");
    assert_eq!(body["checks"]["config"]["reload"]["ok"], true, "{body}");
    assert_eq!(body["ready"], true, "{body}");

    kubelet_update(
        &idps,
        "2026_12_07_14_10_00.000000003",
        &[("upstream-idps", bad)],
    );
    let body = server.readyz_until("the rejection", |b| {
        b["checks"]["config"]["reload"]["ok"] == false && b["checks"]["store"]["ok"] == true
    });
    let reload = &body["checks"]["config"]["reload"];
    assert!(
        reload["errors"][0]
            .as_str()
            .unwrap_or_default()
            .contains("unknown key `version`"),
        "{body}"
    );
    assert_eq!(
        connector_ids(&body, "live"),
        ["one", "two"],
        "nothing applied: {body}"
    );
    assert_eq!(connector_ids(&body, "config"), ["one", "two"], "{body}");
    assert_eq!(
        body["ready"], true,
        "the last good configuration serves: {body}"
    );
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("tusk_config_last_reload_ok 0"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("tusk_config_reloads_total{outcome=\"rejected\"} 1")),
        "{metrics}"
    );
    let rejections = |log: &str| log.matches("configuration reload rejected").count();
    assert_eq!(rejections(&server.later_log()), 1, "{}", server.later_log());

    // A retry of the same bad secret is logged again.
    let before = reload["reloads"].as_u64().unwrap_or_default();
    server.signal("HUP");
    server.readyz_until("the retry", |b| {
        b["checks"]["config"]["reload"]["reloads"].as_u64() > Some(before)
    });
    let log = server.later_log();
    assert_eq!(rejections(&log), 2, "{log}");
    assert!(log.contains("unknown key `version`"), "{log}");
    assert_eq!(server.stop(), 0);
}

/// Issue 12: renewed `--tls-cert`/`--tls-key` files (cert-manager) reach
/// new connections without a restart; a broken renewal keeps the served
/// certificate and is reported.
#[test]
fn serve_reloads_renewed_tls_files_and_keeps_serving_through_a_broken_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let (cert, key) = self_signed_pem(d);
    let first = std::fs::read(&cert).unwrap_or_else(|e| panic!("{e}"));
    let server = Server::start(&[
        "--data-dir",
        &d.join("data").display().to_string(),
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ]);
    let renewed = d.join("renewed");
    std::fs::create_dir(&renewed).unwrap_or_else(|e| panic!("{e}"));
    let (new_cert, new_key) = self_signed_pem(&renewed);
    let second = std::fs::read(&new_cert).unwrap_or_else(|e| panic!("{e}"));
    let readyz = |ca: &[u8]| https_readyz(&server, ca);
    let until = |ca: &[u8], what: &str, done: &dyn Fn(&serde_json::Value) -> bool| {
        https_readyz_until(&server, ca, what, done)
    };
    until(&first, "the first certificate", &|b| b["ready"] == true);
    assert!(
        readyz(&second).is_err(),
        "the second certificate is not served yet"
    );

    std::fs::copy(&new_key, &key).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(&new_cert, &cert).unwrap_or_else(|e| panic!("{e}"));
    until(&second, "the renewed certificate", &|b| {
        b["checks"]["config"]["reload"]["ok"] == true
    });
    assert!(
        readyz(&first).is_err(),
        "a new connection still got the old certificate"
    );

    std::fs::write(
        &cert,
        b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let body = until(&second, "the rejection", &|b| {
        b["checks"]["config"]["reload"]["ok"] == false
    });
    let error = body["checks"]["config"]["reload"]["errors"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains(&format!("TLS certificate from --tls-cert {cert}")),
        "{error}"
    );
    assert!(
        readyz(&second).is_ok(),
        "the renewed certificate keeps serving"
    );
    let log = server.later_log();
    assert!(log.contains("configuration reload rejected"), "{log}");
    let key_text = std::fs::read_to_string(&key).unwrap_or_default();
    let key_body: String = key_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!log.contains(&key_body), "the private key is in the log");
    assert_eq!(server.stop(), 0);
}

/// `/readyz` over TLS on a new connection from a client that trusts only
/// the certificate `ca`.
fn https_readyz(server: &Server, ca: &[u8]) -> Result<serde_json::Value, String> {
    block_on(async {
        let client = crate::browser_client()
            .no_proxy()
            .tls_certs_only([reqwest::Certificate::from_pem(ca).map_err(|e| e.to_string())?])
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .get(format!("https://{}/readyz", server.addr))
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        response.json().await.map_err(|e| e.to_string())
    })
}

/// [`https_readyz`] polled until `done` holds (a hang guard of 30 s).
fn https_readyz_until(
    server: &Server,
    ca: &[u8],
    what: &str,
    done: &dyn Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = Err(String::new());
    for _ in 0..300 {
        last = https_readyz(server, ca);
        if last.as_ref().is_ok_and(done) {
            return last.unwrap_or_default();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("never saw {what}: {last:?}\nlog:\n{}", server.later_log());
}

/// Issue 12: the certificate in `proxy.tls.secretName`, renewed by
/// cert-manager through the kubelet's `..data` swap, reaches new
/// connections; a renewal whose key does not match is rejected and the
/// served certificate stays.
#[cfg(unix)]
#[test]
fn serve_reloads_a_renewed_tls_secret() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let pair = |name: &str| {
        let sub = d.join(name);
        std::fs::create_dir(&sub).unwrap_or_else(|e| panic!("{e}"));
        let (cert, key) = self_signed_pem(&sub);
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{e}"));
        (read(&cert), read(&key))
    };
    let (cert_a, key_a) = pair("a");
    let (cert_b, key_b) = pair("b");
    let secrets = d.join("secrets");
    let tls = secrets.join("tusk-tls");
    kubelet_update(
        &tls,
        "2026_12_07_14_00_00.1",
        &[("tls.crt", &cert_a), ("tls.key", &key_a)],
    );
    let values = write(
        d,
        "values.yaml",
        b"proxy:\n  tls:\n    enabled: true\n    secretName: tusk-tls\n",
    );
    let server = Server::start(&[
        "--data-dir",
        &d.join("data").display().to_string(),
        "--values",
        &values,
        "--secrets-dir",
        &secrets.display().to_string(),
    ]);
    https_readyz_until(&server, cert_a.as_bytes(), "the first certificate", &|b| {
        b["ready"] == true
    });

    kubelet_update(
        &tls,
        "2026_12_07_15_00_00.2",
        &[("tls.crt", &cert_b), ("tls.key", &key_b)],
    );
    https_readyz_until(
        &server,
        cert_b.as_bytes(),
        "the renewed certificate",
        &|b| b["checks"]["config"]["reload"]["ok"] == true,
    );
    assert!(
        https_readyz(&server, cert_a.as_bytes()).is_err(),
        "a new connection got the old certificate"
    );

    kubelet_update(
        &tls,
        "2026_12_07_16_00_00.3",
        &[("tls.crt", &cert_a), ("tls.key", &key_b)],
    );
    let body = https_readyz_until(&server, cert_b.as_bytes(), "the rejection", &|b| {
        b["checks"]["config"]["reload"]["ok"] == false
    });
    let error = body["checks"]["config"]["reload"]["errors"][0]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("TLS certificate from secret tusk-tls"),
        "{error}"
    );
    assert!(
        error.contains("cannot use the TLS certificate and private key together"),
        "{error}"
    );
    assert!(
        https_readyz(&server, cert_b.as_bytes()).is_ok(),
        "the renewed certificate keeps serving"
    );
    assert_eq!(server.stop(), 0);
}

/// A PostgreSQL stand-in that asks for a clear-text password and refuses
/// whatever comes: the machine's PostgreSQL trusts local connections and
/// would never ask, so a test against it could not fail. Sends each
/// password it receives.
fn password_catcher() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let read_message = |s: &mut std::net::TcpStream| -> std::io::Result<Vec<u8>> {
                    let mut len = [0u8; 4];
                    s.read_exact(&mut len)?;
                    let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
                    s.read_exact(&mut body)?;
                    Ok(body)
                };
                let mut first = read_message(&mut s)?;
                // SSLRequest: refuse TLS, then the startup message follows.
                if first == 80877103u32.to_be_bytes() {
                    s.write_all(b"N")?;
                    first = read_message(&mut s)?;
                }
                let _ = first;
                // AuthenticationCleartextPassword.
                s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])?;
                let mut tag = [0u8; 1];
                s.read_exact(&mut tag)?;
                let body = read_message(&mut s)?;
                let password =
                    String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(&body)).into_owned();
                let _ = tx.send(password);
                let fields =
                    b"SFATAL\0C28P01\0Mpassword authentication failed for user \"tusk\"\0\0";
                let mut error = vec![b'E'];
                error.extend_from_slice(&((fields.len() + 4) as u32).to_be_bytes());
                error.extend_from_slice(fields);
                s.write_all(&error)
            });
        }
    });
    (addr, rx)
}

/// Issue 12: the chart passes `TUSK_DATABASE_URL` without a password and
/// the password as `PGPASSWORD` (a secretKeyRef); a password in the URL
/// wins. Neither reaches the output.
#[test]
fn serve_sends_pgpassword_when_the_url_has_none_and_never_prints_it() {
    let (addr, passwords) = password_catcher();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().display().to_string();
    let cases = [
        (
            format!("postgres://tusk@{addr}/tusk"),
            "pg-env-password-4f1d",
        ),
        (
            format!("postgres://tusk:url-password-9b2e@{addr}/tusk"),
            "url-password-9b2e",
        ),
    ];
    for (url, sent) in cases {
        let out = tusk()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data])
            .env("TUSK_DATABASE_URL", &url)
            .env("PGPASSWORD", "pg-env-password-4f1d")
            .env("TUSK_ENCRYPTION_KEYS", KEY_A)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("password authentication failed"),
            "{stderr}"
        );
        let got = passwords
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("no password arrived ({e}):\n{stderr}"));
        assert_eq!(got, sent, "{url}");
        for secret in ["pg-env-password-4f1d", "url-password-9b2e"] {
            assert!(!stderr.contains(secret), "{secret} printed:\n{stderr}");
        }
    }
}

/// Issue 12: the container image configures tusk through the environment
/// (`TUSK_SECRETS_DIR`, `TUSK_LISTEN`, ...) and `tusk --version` names the
/// build.
#[test]
fn the_image_environment_reaches_config_check_and_version_prints() {
    let r = run(&["--version"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.trim(),
        format!("tusk {}", env!("CARGO_PKG_VERSION"))
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::create_dir_all(d.join("secrets/idps")).unwrap_or_else(|e| panic!("{e}"));
    write(
        &d.join("secrets/idps"),
        "upstream-idps",
        br#"[{"id": "one", "name": "One", "type": "mockCallback"}, {"id": "two", "name": "Two", "type": "mockCallback"}]"#,
    );
    let values = write(d, "values.yaml", b"oidc:\n  upstreamIDPsSecretName: idps\n");
    let check = |values: String| {
        let out = tusk()
            .args(["config", "check"])
            .env("TUSK_VALUES", values)
            .env("TUSK_SECRETS_DIR", d.join("secrets"))
            .env("TUSK_LISTEN", "0.0.0.0:31999")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("2 connector(s)"), "{stdout}");
        stdout
    };
    let stdout = check(values.clone());
    assert!(
        stdout.contains("issuer http://localhost:31999/dex"),
        "{stdout}"
    );
    // A comma-separated list, merged in order like `helm -f a.yaml,b.yaml`.
    let base = write(
        d,
        "base.yaml",
        b"oidc:\n  issuerURI: https://base.example.com/dex\n",
    );
    let stdout = check(format!("{base},{values}"));
    assert!(
        stdout.contains("issuer https://base.example.com/dex"),
        "{stdout}"
    );
}

// --- the client commands ------------------------------------------------------

/// A server with its own data dir and a client config file (`PACH_CONFIG`)
/// that only this test uses.
struct Deployment {
    /// First, so it stops before its data dir is removed.
    _server: Server,
    dir: tempfile::TempDir,
    /// `grpc://127.0.0.1:PORT`
    address: String,
}

impl Deployment {
    fn start(values: &str) -> Deployment {
        Deployment::start_with(values, &[])
    }

    fn start_with(values: &str, extra: &[&str]) -> Deployment {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let v = write(dir.path(), "values.yaml", values.as_bytes());
        let data = dir.path().join("data").display().to_string();
        let mut args = vec!["--values", &v, "--data-dir", &data];
        args.extend_from_slice(extra);
        let server = Server::start(&args);
        let address = format!("grpc://{}", server.addr);
        Deployment {
            _server: server,
            dir,
            address,
        }
    }

    fn pach_config(&self) -> PathBuf {
        self.dir.path().join("pach-config.json")
    }

    fn config_json(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.pach_config()).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("config file: {e}: {text}"))
    }

    fn cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("tusk"));
        cmd.env("PACH_CONFIG", self.pach_config())
            .env_remove("TUSK_ADDRESS")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        cmd
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run tusk {args:?}: {e}"));
        if let Some(mut pipe) = child.stdin.take() {
            let _ = pipe.write_all(stdin.unwrap_or("").as_bytes());
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("run tusk {args:?}: {e}"));
        let r = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !r.stderr.contains("panicked"),
            "tusk {args:?} panicked:\n{}",
            r.stderr
        );
        r
    }

    /// Runs and expects exit 0; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None)
    }

    fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let r = self.run_with(args, stdin);
        assert_eq!(
            r.code, 0,
            "tusk {args:?}\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        );
        r.stdout
    }

    /// Runs and expects `code`, with every fragment in stderr.
    fn fails(&self, args: &[&str], code: i32, fragments: &[&str]) -> Run {
        self.fails_with(args, None, code, fragments)
    }

    fn fails_with(&self, args: &[&str], stdin: Option<&str>, code: i32, fragments: &[&str]) -> Run {
        let r = self.run_with(args, stdin);
        expect_run(&r, args, code, fragments);
        r
    }

    /// A context for this server, made active.
    fn use_context(&self) {
        self.ok(&[
            "context",
            "create",
            "local",
            "--address",
            &self.address,
            "--use",
        ]);
    }

    /// Logs in with the root token the server generated in its data dir.
    fn login_as_root(&self) -> String {
        let root = std::fs::read_to_string(self.dir.path().join("data/root-token"))
            .unwrap_or_else(|e| panic!("root token file: {e}"));
        let out = self.ok_with(&["auth", "use-auth-token"], Some(&root));
        assert!(out.contains("\"pach:root\""), "{out}");
        root
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .block_on(f)
}

/// An HTTP client that acts as a browser whose redirects the test follows
/// by hand.
fn browser() -> reqwest::Client {
    crate::browser_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The value of the hidden input `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[at..].split('"').next().unwrap_or_default().to_owned()
}

/// Submits a form's `body` to `url`.
async fn post_form(http: &reqwest::Client, url: &str, body: String) -> reqwest::Response {
    http.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// Where a redirect from `url` leads, resolved against `url`; `what`
/// names the request in the failure.
fn redirect_target(resp: &reqwest::Response, what: &str, url: &str) -> String {
    let next = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_else(|| panic!("{what} {url}: {} without a redirect", resp.status()))
        .to_owned();
    url::Url::parse(url)
        .and_then(|b| b.join(&next))
        .map(|u| u.to_string())
        .unwrap_or(next)
}

/// GETs `url` and returns where its redirect leads.
async fn follow(http: &reqwest::Client, url: &str) -> String {
    let resp = http
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    redirect_target(&resp, "GET", url)
}

const DEVICE_CLIENT_VALUES: &str = "oidc:\n  additionalClients:\n  - id: tusk-cli\n    name: tusk CLI\n    public: true\n    trusted: true\n    trusted_peers: []\npachd:\n  additionalTrustedPeers: [tusk-cli]\n";

/// Finishes a login as the user would in a browser, from the URL the CLI
/// printed (device verification or login URL): redirects up to the mock
/// connector's form, the password, and the redirects after it.
fn complete_login(verification: &str) {
    block_on(async {
        let http = browser();
        let mut url = verification.to_owned();
        // The link first asks "Sign in to … with code …?" (RFC 8628 §5.4);
        // Continue is a POST carrying the page's token.
        if url.contains("/device?user_code=") {
            let page = http
                .get(&url)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}"))
                .text()
                .await
                .unwrap_or_default();
            assert!(page.contains("Sign in to "), "{page}");
            let confirm = url.replace(
                &url[url.find("/device?").unwrap_or_default()..],
                "/device/confirm",
            );
            let body = format!(
                "req={}&token={}&decision=continue",
                hidden(&page, "req"),
                hidden(&page, "token")
            );
            let resp = post_form(&http, &confirm, body).await;
            url = redirect_target(&resp, "POST", &confirm);
        }
        // Follow redirects by hand up to the password form.
        for _ in 0..10 {
            if url.contains("/login?") {
                break;
            }
            url = follow(&http, &url).await;
        }
        assert!(url.contains("/dex/auth/test/login?state="), "{url}");
        let mut resp = post_form(&http, &url, "login=admin&password=password".into()).await;
        for _ in 0..10 {
            let Some(next) = resp.headers().get("location").and_then(|l| l.to_str().ok()) else {
                break;
            };
            let next = next.to_owned();
            resp = http
                .get(&next)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {next}: {e}"));
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{status}: {body}");
    });
}

/// Starts a login in the background; its stderr lines arrive on the
/// channel as they are printed.
fn spawn_login(d: &Deployment, args: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = d
        .cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn login: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

#[test]
fn device_login_end_to_end_then_whoami_and_logout() {
    let d = Deployment::start(DEVICE_CLIENT_VALUES);
    d.use_context();
    let (child, rx) = spawn_login(&d, &["auth", "login", "--device"]);
    let (mut verification, mut code, mut seen) = (None, None, String::new());
    while verification.is_none() || code.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("login printed no code:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("/device?user_code=") {
            verification = Some(line.trim().to_owned());
        }
        if let Some((_, c)) = line.split_once("shows the code: ") {
            code = Some(c.trim().to_owned());
        }
    }
    let (verification, code) = (verification.unwrap_or_default(), code.unwrap_or_default());
    assert!(
        verification.ends_with(&format!("user_code={code}")),
        "{verification} vs {code}"
    );
    assert_eq!(code.len(), 9, "a short code like ABCD-EFGH: {code}");
    complete_login(&verification);
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait login: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{seen}");
    assert!(stdout.contains("user:kilgore@kilgore.trout"), "{stdout}");

    let who = d.ok(&["auth", "whoami"]);
    assert!(who.contains("user:kilgore@kilgore.trout"), "{who}");
    let who = json(&d.ok(&["auth", "whoami", "-o", "json"]));
    assert_eq!(who["username"], "user:kilgore@kilgore.trout");
    assert!(who["expiration"].is_string(), "{who}");

    // The token sits where pachyderm_sdk's Client.from_config() reads it,
    // with nothing in the context that the SDK's Context(**fields) rejects.
    let config = d.config_json();
    assert_eq!(config["v2"]["active_context"], "local", "{config}");
    assert_eq!(config["v2"]["metrics"], true, "{config}");
    assert!(config["user_id"].is_string(), "{config}");
    let ctx = config["v2"]["contexts"]["local"]
        .as_object()
        .unwrap_or_else(|| panic!("{config}"));
    assert_eq!(ctx["pachd_address"], d.address.as_str());
    assert!(
        ctx["session_token"].as_str().is_some_and(|t| t.len() >= 20),
        "{config}"
    );
    const SDK_FIELDS: &[&str] = &[
        "source",
        "pachd_address",
        "server_cas",
        "session_token",
        "active_transaction",
        "cluster_name",
        "auth_info",
        "namespace",
        "cluster_deployment_id",
        "project",
        "enterprise_server",
        "port_forwarders",
    ];
    for key in ctx.keys() {
        assert!(
            SDK_FIELDS.contains(&key.as_str()),
            "`{key}` is not an SDK context field"
        );
    }

    // The browser flow, with the URL printed instead of a browser opened.
    let (child, rx) = spawn_login(&d, &["auth", "login", "-b"]);
    let mut seen = String::new();
    let login_url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("login printed no URL:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if line.trim().starts_with("http") && line.contains("/dex/auth?") {
            break line.trim().to_owned();
        }
    };
    assert!(
        login_url.contains("client_id=pachd") && login_url.contains("state="),
        "{login_url}"
    );
    complete_login(&login_url);
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{seen}");
    assert!(
        d.ok(&["auth", "whoami"])
            .contains("user:kilgore@kilgore.trout")
    );

    // An ID token from the provider, for pachd's audience, is traded for a
    // session; a token that is not one is refused with the reason.
    let id_token = block_on(async {
        let http = crate::browser_client().build().unwrap();
        let base = format!("http://{}/dex", d.address.trim_start_matches("grpc://"));
        let form =
            "client_id=tusk-cli&scope=openid+email+profile+audience%3Aserver%3Aclient_id%3Apachd";
        let start: serde_json::Value = http
            .post(format!("{base}/device/code"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let verification = start["verification_uri_complete"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let device_code = start["device_code"].as_str().unwrap_or_default().to_owned();
        // The browser part runs its own runtime: do it on another thread.
        std::thread::spawn(move || complete_login(&verification))
            .join()
            .unwrap_or_else(|_| panic!("browser login failed"));
        let tokens: serde_json::Value = http
            .post(format!("{base}/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=tusk-cli&device_code={device_code}"
            ))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokens["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{tokens}"))
            .to_owned()
    });
    d.ok(&["auth", "logout"]);
    let out = d.ok(&["auth", "login", "-t", &id_token]);
    assert!(out.contains("user:kilgore@kilgore.trout"), "{out}");
    let r = d.fails(
        &["auth", "login", "--id-token", "not.a.jwt"],
        1,
        &["could not verify token"],
    );
    assert!(!r.stderr.contains(&id_token), "{}", r.stderr);

    // Logout revokes on the server: the old token no longer works anywhere.
    let token = d.config_json()["v2"]["contexts"]["local"]["session_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let out = d.ok(&["auth", "logout"]);
    assert!(out.contains("revoked"), "{out}");
    assert!(d.config_json()["v2"]["contexts"]["local"]["session_token"].is_null());
    d.fails(
        &["auth", "whoami"],
        1,
        &["no authentication token", "tusk auth login"],
    );
    d.fails_with(
        &["auth", "use-auth-token"],
        Some(&token),
        1,
        &["the token was not saved", "refused", "log in again"],
    );

    // A device login with a client the operator never registered says how to.
    d.fails(
        &["auth", "login", "--device", "--client-id", "not-registered"],
        1,
        &[
            "not-registered",
            "oidc.additionalClients",
            "pachd.additionalTrustedPeers",
        ],
    );
}

#[test]
fn auth_commands_against_a_server() {
    let d = Deployment::start("pachd:\n  activateAuth: true\n");
    d.use_context();
    d.fails(
        &["auth", "whoami"],
        1,
        &["no authentication token", "tusk auth login"],
    );
    let root = d.login_as_root();
    let who = d.ok(&["auth", "whoami"]);
    assert!(
        who.contains("You are \"pach:root\"") && who.contains("never expires"),
        "{who}"
    );

    // version, enterprise and license, as pachctl has them.
    let version = env!("CARGO_PKG_VERSION");
    let v = d.ok(&["version"]);
    assert!(
        v.starts_with("COMPONENT")
            && v.contains(&format!("tusk                {version}\n"))
            && v.contains(&format!("(tusk-{version})")),
        "{v}"
    );
    let v = json(&d.ok(&["version", "-o", "json"]));
    assert_eq!(v["client"], version);
    assert_eq!(v["server"]["additional"], format!("tusk-{version}"));
    let v = d.ok(&[
        "version",
        "--client-only",
        "--address",
        "grpc://127.0.0.1:1",
    ]);
    assert!(v.contains(version) && !v.contains("server"), "{v}");
    let r = d.fails(
        &["version", "--address", "grpc://127.0.0.1:1"],
        1,
        &["cannot reach tusk"],
    );
    assert!(r.stdout.contains(version), "{}", r.stdout);
    let state = d.ok(&["enterprise", "get-state"]);
    assert!(
        state.contains("No Pachyderm Enterprise token was found"),
        "{state}"
    );
    let state = json(&d.ok(&["enterprise", "get-state", "-o", "json"]));
    assert_eq!(state["state"], "NONE");
    let state = json(&d.ok(&["license", "get-state", "-o", "json"]));
    assert_eq!(state["state"], "NONE");
    d.fails_with(
        &["license", "activate"],
        Some("not-a-code\n"),
        1,
        &["no license public key is configured"],
    );
    d.fails_with(
        &["license", "activate"],
        Some(""),
        2,
        &["no activation code on stdin"],
    );
    let out = d.ok(&["license", "delete-all"]);
    assert!(out.contains("The license was deleted."), "{out}");
    let state = json(&d.ok(&["license", "get-state", "-o", "json"]));
    assert_eq!(state["state"], "NONE");

    // Role bindings on the cluster, a project and a repo.
    let cluster = json(&d.ok(&["auth", "get", "cluster", "-o", "json"]));
    assert_eq!(
        cluster["pach:root"],
        serde_json::json!(["clusterAdmin"]),
        "{cluster}"
    );
    let out = d.ok(&[
        "auth",
        "set",
        "cluster",
        "clusterAdmin",
        "user:alice@example.com",
    ]);
    assert!(
        out.contains("user:alice@example.com now has clusterAdmin on CLUSTER"),
        "{out}"
    );
    d.ok(&[
        "auth",
        "set",
        "project",
        "default",
        "projectWriter,projectViewer",
        "group:analysts",
    ]);
    let project = d.ok(&["auth", "get", "project", "default", "-o", "yaml"]);
    assert!(
        project.contains("group:analysts:\n- projectViewer\n- projectWriter"),
        "{project}"
    );
    let text = d.ok(&["auth", "get", "project", "default"]);
    assert!(
        text.contains("group:analysts: projectViewer, projectWriter"),
        "{text}"
    );
    d.ok(&["auth", "set", "cluster", "none", "user:alice@example.com"]);
    let cluster = json(&d.ok(&["auth", "get", "cluster", "-o", "json"]));
    assert!(cluster.get("user:alice@example.com").is_none(), "{cluster}");

    // check: my permissions, and another principal's.
    let mine = json(&d.ok(&["auth", "check", "project", "default", "-o", "json"]));
    assert!(
        mine["roles"]
            .as_array()
            .is_some_and(|r| r.contains(&"clusterAdmin".into())),
        "{mine}"
    );
    let theirs = d.ok(&["auth", "check", "project", "default", "group:analysts"]);
    assert!(
        theirs.contains("Roles: projectViewer, projectWriter"),
        "{theirs}"
    );
    assert!(theirs.contains("PROJECT_CREATE_REPO"), "{theirs}");
    let roles = d.ok(&["auth", "roles-for-permission", "repo_read"]);
    for r in ["repoReader", "repoWriter", "clusterAdmin"] {
        assert!(roles.lines().any(|l| l == r), "{r} not in {roles}");
    }
    let roles = json(&d.ok(&[
        "auth",
        "roles-for-permission",
        "CLUSTER_AUTH_GET_CONFIG",
        "-o",
        "json",
    ]));
    assert_eq!(roles, serde_json::json!(["clusterAdmin"]));

    // Robot tokens: made, used, revoked one by one and per user.
    let token = d
        .ok(&["auth", "get-robot-token", "ci", "--ttl", "1h"])
        .trim()
        .to_owned();
    assert_eq!(token.len(), 32, "{token}");
    let robot = json(&d.ok(&["auth", "get-robot-token", "robot:ci", "-o", "json"]));
    assert_eq!(robot["robot"], "robot:ci");
    // pachctl's -q: only the token, whatever -o says, for `TOKEN=$(…)`.
    let quiet = d.ok(&["auth", "get-robot-token", "quiet", "-q", "-o", "json"]);
    assert_eq!(quiet, format!("{}\n", quiet.trim()), "{quiet}");
    assert_eq!(quiet.trim().len(), 32, "{quiet}");
    let out = d.ok_with(&["auth", "revoke", "--token", "-"], Some(&token));
    assert!(out.contains("Revoked 1 token."), "{out}");
    let out = d.ok(&["auth", "revoke", "--user", "robot:ci"]);
    assert!(out.contains("Revoked 1 token of robot:ci."), "{out}");
    let groups = d.ok(&["auth", "get-groups"]);
    assert!(groups.contains("(no groups)"), "{groups}");
    let groups = json(&d.ok(&[
        "auth",
        "get-groups",
        "--user",
        "user:kilgore@kilgore.trout",
        "-o",
        "json",
    ]));
    assert_eq!(groups, serde_json::json!([]));
    // pachctl's positional form (`pachctl auth get-groups USER`).
    let groups = json(&d.ok(&[
        "auth",
        "get-groups",
        "user:kilgore@kilgore.trout",
        "-o",
        "json",
    ]));
    assert_eq!(groups, serde_json::json!([]));
    d.fails(
        &["auth", "get-groups", "alice"],
        2,
        &["principal `alice` is not valid"],
    );

    // pachd's OIDC config: the secret is masked, and a masked secret sent
    // back keeps the stored one.
    let config = json(&d.ok(&["auth", "get-config", "-o", "json"]));
    assert_eq!(config["client_id"], "pachd", "{config}");
    assert_eq!(config["client_secret"], "***", "{config}");
    let yaml = d.ok(&["auth", "get-config"]);
    assert!(yaml.starts_with("issuer: http://"), "{yaml}");
    let secret =
        json(&d.ok(&["auth", "get-config", "-o", "json", "--show-secrets"]))["client_secret"]
            .clone();
    assert!(secret.as_str().is_some_and(|s| s.len() > 8), "{secret}");
    let edited = config.to_string().replace(
        "\"require_email_verified\":false",
        "\"require_email_verified\":true",
    );
    let file = write(d.dir.path(), "auth.json", edited.as_bytes());
    d.ok(&["auth", "set-config", "--file", &file]);
    let after = json(&d.ok(&["auth", "get-config", "-o", "json", "--show-secrets"]));
    assert_eq!(after["require_email_verified"], true, "{after}");
    assert_eq!(after["client_secret"], secret, "the stored secret was lost");

    // Expired session: a token past its TTL, in a context the SDK wrote.
    let short = d
        .ok(&["auth", "get-robot-token", "short", "--ttl", "1s"])
        .trim()
        .to_owned();
    std::thread::sleep(Duration::from_secs(2));
    let sdk_style = serde_json::json!({
        "user_id": "0123456789abcdef0123456789abcdef",
        "v2": {
            "active_context": "sdk",
            "contexts": {
                "local": d.config_json()["v2"]["contexts"]["local"].clone(),
                "sdk": {"source": 2, "pachd_address": d.address, "session_token": short,
                         "cluster_name": "kind", "enterprise_server": false, "port_forwarders": null}
            },
            "metrics": true
        }
    });
    std::fs::write(d.pach_config(), sdk_style.to_string()).unwrap_or_else(|e| panic!("{e}"));
    d.fails(
        &["auth", "whoami"],
        1,
        &[
            "expiration is in the past",
            "log in again with `tusk auth login`",
        ],
    );
    d.ok(&["context", "use", "local"]);

    // Rotating the root token keeps the root's own context working.
    // Issue 13: the data dir's root-token file, which held the old token,
    // holds the new one (owner-only); the README's tour reads it.
    let data = d.dir.path().join("data");
    let out = d.ok(&[
        "auth",
        "rotate-root-token",
        "--data-dir",
        &data.display().to_string(),
    ]);
    let new_root = out.lines().nth(1).unwrap_or_default().trim().to_owned();
    assert!(new_root.len() >= 20 && new_root != root.trim(), "{out}");
    assert!(out.contains("Context `local` now uses it."), "{out}");
    assert!(out.contains("root-token held the old root token"), "{out}");
    assert_eq!(
        std::fs::read_to_string(data.join("root-token")).unwrap_or_default(),
        new_root
    );
    assert_eq!(mode(&data.join("root-token")), 0o600);
    // A file holding another token (another server's) is left alone.
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(other.path(), "root-token", b"someone-elses-token");
    let out = d.ok(&[
        "auth",
        "rotate-root-token",
        "--data-dir",
        &other.path().display().to_string(),
    ]);
    assert!(!out.contains("held the old root token"), "{out}");
    assert_eq!(
        std::fs::read_to_string(other.path().join("root-token")).unwrap_or_default(),
        "someone-elses-token"
    );
    assert!(d.ok(&["auth", "whoami"]).contains("pach:root"));
    d.fails_with(
        &["auth", "use-auth-token"],
        Some(&root),
        1,
        &["the token was not saved"],
    );

    // Deactivate, then activate again: a new root token, saved in the context.
    d.fails(&["auth", "deactivate"], 2, &["--yes"]);
    d.fails_with(
        &["auth", "deactivate"],
        Some("n\n"),
        2,
        &["without confirmation"],
    );
    // pachctl's scripts confirm on stdin: `echo y | pachctl auth deactivate`.
    d.ok_with(&["auth", "deactivate"], Some("y\n"));
    d.fails(
        &["auth", "whoami"],
        1,
        &["the auth service is not activated", "tusk auth activate"],
    );
    let out = d.ok(&["auth", "activate"]);
    assert!(
        out.contains("Auth is active") && out.contains("pachd's login uses the issuer"),
        "{out}"
    );
    assert!(d.ok(&["auth", "whoami"]).contains("pach:root"));
    // pachctl's flags: --supply-root-token and --only-activate on
    // activate, --issuer and --client-id for pachd's login, --supply-token
    // on rotate-root-token, and deactivate --yes.
    d.ok(&["auth", "deactivate", "--yes"]);
    let chosen = "a-root-token-chosen-by-the-admin-0001";
    let out = d.ok_with(
        &["auth", "activate", "--supply-root-token", "--only-activate"],
        Some(chosen),
    );
    assert!(
        out.contains("Auth is active with the root token you supplied")
            && !out.contains("pachd's login uses"),
        "{out}"
    );
    assert!(d.ok(&["auth", "whoami"]).contains("pach:root"));
    d.ok(&["auth", "deactivate", "--yes"]);
    let issuer = d._server.readyz_until("readyz", |_| true)["checks"]["config"]["issuer"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let out = d.ok(&[
        "auth",
        "activate",
        "--issuer",
        &issuer,
        "--client-id",
        "pachd",
    ]);
    assert!(
        out.contains(&format!(
            "pachd's login uses the issuer {issuer} with client `pachd`"
        )),
        "{out}"
    );
    let supplied = "a-second-root-token-of-the-admin-0002";
    let out = d.ok_with(
        &["auth", "rotate-root-token", "--supply-token"],
        Some(supplied),
    );
    assert!(out.contains("replaced with the one you supplied"), "{out}");
    assert!(!out.contains(supplied), "{out}");
    let out = d.ok_with(&["auth", "use-auth-token"], Some(supplied));
    assert!(out.contains("\"pach:root\""), "{out}");
    d.fails(
        &["auth", "activate"],
        1,
        &["already activated", "tusk auth login"],
    );
    let out = d.ok(&["auth", "logout"]);
    assert!(out.contains("Logged out"), "{out}");
    let out = d.ok(&["auth", "logout"]);
    assert!(out.contains("Not logged in"), "{out}");
}

#[test]
fn bad_client_input_is_refused_before_sending() {
    let d = Deployment::start("pachd:\n  activateAuth: true\n");
    d.use_context();
    d.login_as_root();
    let rows: &[(&[&str], i32, &[&str])] = &[
        (
            &["auth", "set", "cluster", "clusterAdmn", "user:a@b.c"],
            2,
            &["unknown role `clusterAdmn`", "did you mean `clusterAdmin`?"],
        ),
        (
            &["auth", "set", "repo", "default/r", "reader", "user:a@b.c"],
            2,
            &["unknown role `reader`"],
        ),
        (
            &["auth", "set", "pipeline", "p", "repoReader", "user:a@b.c"],
            2,
            &["invalid value 'pipeline'", "cluster, project, repo"],
        ),
        (&["auth", "get", "job", "x"], 2, &["invalid value 'job'"]),
        (
            &["resource", "create", "cluster", "x"],
            2,
            &["invalid value 'cluster'", "project, repo"],
        ),
        (
            &[
                "auth",
                "set",
                "project",
                "default",
                "projectWriter",
                "alice",
            ],
            2,
            &["principal `alice` is not valid", "user:alice@example.com"],
        ),
        (
            &["auth", "set", "cluster", "x", "clusterAdmin", "user:a@b.c"],
            2,
            &["the cluster has no name"],
        ),
        (
            &["auth", "set", "project", "projectWriter", "user:a@b.c"],
            2,
            &["expected NAME, ROLES and PRINCIPAL"],
        ),
        (
            &["auth", "get", "repo"],
            2,
            &["a repo name is required", "PROJECT/REPO"],
        ),
        (
            &["auth", "check", "repo", "a/b/c"],
            2,
            &["is not a repo name"],
        ),
        (
            &["auth", "roles-for-permission", "REPO_REED"],
            2,
            &[
                "unknown permission `REPO_REED`",
                "did you mean `REPO_READ`?",
            ],
        ),
        (
            &["auth", "get-robot-token", "a:b"],
            2,
            &["is not a robot name"],
        ),
        (
            &["auth", "get-robot-token", "ci", "--ttl", "soon"],
            2,
            &["--ttl `soon` is not a duration"],
        ),
        (
            &["auth", "whoami", "--address", "ftp://x:1"],
            2,
            &["unknown scheme `ftp`", "grpc://HOST:PORT"],
        ),
        (
            &["auth", "whoami", "--context", "nope"],
            2,
            &["no context named `nope`"],
        ),
        (&["auth", "revoke"], 2, &["--token"]),
        (
            &[
                "auth",
                "set",
                "repo",
                "default/missing",
                "repoReader",
                "robot:ci",
            ],
            1,
            &[
                "no role binding exists for REPO default/missing",
                "tusk resource create",
            ],
        ),
        (
            &["auth", "whoami", "--address", "grpc://127.0.0.1:1"],
            1,
            &["cannot reach tusk at grpc://127.0.0.1:1", "tusk serve"],
        ),
        (
            &["idp", "list-connector", "--address", "grpc://127.0.0.1:1"],
            1,
            &["cannot reach tusk"],
        ),
        (
            &["auth", "get-config", "--address", "grpcs://127.0.0.1:1"],
            1,
            &["cannot reach tusk"],
        ),
    ];
    for (args, code, fragments) in rows {
        d.fails(args, *code, fragments);
    }
    // The token is sent only to the context's own server.
    let other = Deployment::start("pachd:\n  activateAuth: true\n");
    let r = d.fails(
        &["auth", "whoami", "--address", &other.address],
        1,
        &["no authentication token"],
    );
    assert!(r.stderr.contains("was not sent"), "{}", r.stderr);
    let r = d.run_with(&["auth", "use-auth-token"], Some(""));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no token on stdin"), "{}", r.stderr);
}

#[test]
fn resource_create_and_delete() {
    let d = Deployment::start("pachd:\n  activateAuth: true\n");
    d.use_context();
    d.login_as_root();
    let out = d.ok(&["resource", "create", "project", "analytics"]);
    assert!(out.contains("Created project analytics"), "{out}");
    let out = d.ok(&[
        "resource",
        "create",
        "repo",
        "images",
        "--project",
        "analytics",
        "--owner",
        "user:alice@example.com",
    ]);
    assert!(out.contains("owned by user:alice@example.com"), "{out}");
    let binding = json(&d.ok(&["auth", "get", "repo", "analytics/images", "-o", "json"]));
    assert_eq!(
        binding["user:alice@example.com"],
        serde_json::json!(["repoOwner"]),
        "{binding}"
    );
    d.ok(&[
        "auth",
        "set",
        "repo",
        "analytics/images",
        "repoReader",
        "robot:ci",
    ]);
    d.ok(&["resource", "delete", "repo", "analytics/images"]);
    let gone = d.ok(&["auth", "get", "repo", "analytics/images"]);
    assert!(
        gone.contains("No role bindings on REPO analytics/images."),
        "{gone}"
    );
    d.fails(
        &[
            "auth",
            "set",
            "repo",
            "analytics/images",
            "repoReader",
            "robot:ci",
        ],
        1,
        &["no role binding exists"],
    );
    d.ok(&["resource", "delete", "project", "analytics"]);
}

/// `tusk audit`: a role binding change is read back with each filter, in
/// JSON and text; bad times are refused before sending; a non-admin is
/// refused by the server.
#[test]
fn audit_lists_a_role_binding_change_for_admins_only() {
    let d = Deployment::start("pachd:\n  activateAuth: true\n");
    d.use_context();
    let root = d.login_as_root();
    d.ok(&[
        "auth",
        "set",
        "project",
        "default",
        "projectViewer",
        "robot:ci",
    ]);
    let events = json(&d.ok(&["audit", "--resource", "PROJECT:default", "-o", "json"]));
    let events = events.as_array().unwrap_or_else(|| panic!("{events}"));
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["event"], "role_binding_changed", "{e}");
    assert_eq!(e["actor"], "pach:root", "{e}");
    assert_eq!(e["subject"], "robot:ci", "{e}");
    assert_eq!(
        e["details"]["after"],
        serde_json::json!(["projectViewer"]),
        "{e}"
    );
    for filter in [
        ["--actor", "pach:root"],
        ["--subject", "robot:ci"],
        ["--since", "1h"],
    ] {
        let text = d.ok(&["audit", filter[0], filter[1]]);
        assert!(
            text.contains("role_binding_changed") && text.contains("subject=robot:ci"),
            "{filter:?}: {text}"
        );
        assert!(
            !text.contains(root.trim()),
            "the root token in the trail: {text}"
        );
    }
    // Registering and forgetting a resource grants and removes its owner's roles.
    d.ok(&[
        "resource",
        "create",
        "project",
        "analytics",
        "--owner",
        "user:alice@example.com",
    ]);
    d.ok(&["resource", "delete", "project", "analytics"]);
    let events = json(&d.ok(&["audit", "--resource", "PROJECT:analytics", "-o", "json"]));
    let changes: Vec<(serde_json::Value, serde_json::Value)> = events
        .as_array()
        .unwrap_or_else(|| panic!("{events}"))
        .iter()
        .map(|e| {
            (
                e["details"]["before"].clone(),
                e["details"]["after"].clone(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (serde_json::json!(["projectOwner"]), serde_json::json!([])),
            (serde_json::json!([]), serde_json::json!(["projectOwner"])),
        ],
        "{events}"
    );
    let none = d.ok(&["audit", "--actor", "user:nobody"]);
    assert!(none.contains("No audit events match."), "{none}");
    d.fails(
        &["audit", "--since", "yesterday"],
        2,
        &["--since", "not a time", "RFC 3339"],
    );
    d.fails(
        &["audit", "--since", "1h", "--until", "2h"],
        2,
        &["--since", "is after --until"],
    );
    let robot = d.ok(&["auth", "get-robot-token", "ci"]).trim().to_owned();
    d.ok_with(&["auth", "use-auth-token"], Some(&robot));
    d.fails(&["audit"], 1, &["Audit/List", "robot:ci is not authorized"]);
}

/// Issue 13: "disabled when the Identity Connectors are set via
/// environment ... change them there and restart or reload tusk" must hold:
/// turning the mock IdP off in the values file, while `tusk serve` runs,
/// unlocks the identity API; and connectors then created through the API
/// survive later reloads.
#[test]
fn turning_the_mock_idp_off_by_reload_unlocks_the_identity_api() {
    let d = Deployment::start("pachd:\n  activateAuth: true\n");
    d.use_context();
    d.login_as_root();
    let dir = d.dir.path();
    let file = write(
        dir,
        "extra.yaml",
        b"id: extra\nname: Extra\ntype: mockPassword\nversion: 0\nconfig:\n  username: bob\n  password: hunter2\n",
    );
    d.fails(
        &["idp", "create-connector", "--config", &file],
        1,
        &["the built-in mock IdP", "reload"],
    );
    write(
        dir,
        "values.yaml",
        b"oidc:\n  mockIDP: false\npachd:\n  activateAuth: true\n",
    );
    d._server
        .readyz_until("the values file without the mock IdP is applied", |b| {
            b["checks"]["config"]["reload"]["reloads"].as_u64() >= Some(1)
                && b["checks"]["config"]["reload"]["ok"] == true
        });
    let list = d.ok(&["idp", "list-connector"]);
    assert!(
        list.contains("No connectors."),
        "the mock connector stays: {list}"
    );
    let out = d.ok(&["idp", "create-connector", "--config", &file]);
    assert!(out.contains("Created connector `extra`"), "{out}");
    // A further reload (SIGHUP) keeps what the API created: the values no
    // longer own the connectors.
    d._server.signal("HUP");
    d._server.readyz_until("the SIGHUP reload", |b| {
        b["checks"]["config"]["reload"]["reloads"].as_u64() >= Some(2)
    });
    let list = d.ok(&["idp", "list-connector"]);
    assert!(list.lines().any(|l| l.starts_with("extra")), "{list}");
    // A broken connector the API owns: doctor's fix is the API's commands.
    let down = write(
        dir,
        "down.yaml",
        b"id: down\nname: Down\ntype: oidc\nversion: 0\nconfig: {issuer: \"http://127.0.0.1:9\", clientID: c, clientSecret: a-client-secret-of-some-length, redirectURI: \"http://127.0.0.1:1/dex/callback\"}\n",
    );
    d.ok(&["idp", "create-connector", "--config", &down]);
    let r = d.fails(&["doctor", "--address", &d.address], 1, &[]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("FAIL  tusk: connector down"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        line.contains("`tusk idp get-connector down -o yaml`") && line.contains("update-connector"),
        "{line}"
    );
}

#[test]
fn idp_commands_and_connector_files() {
    // No mock IdP: connectors are the API's to manage.
    let d = Deployment::start("oidc:\n  mockIDP: false\npachd:\n  activateAuth: true\n");
    d.use_context();
    d.login_as_root();
    let dir = d.dir.path();
    let none = d.ok(&["idp", "list-connector"]);
    assert!(none.contains("No connectors."), "{none}");

    // Malformed connector files: every problem named, nothing sent.
    let rows: &[(&str, &str, &[&str])] = &[
        (
            "cv.yaml",
            "id: a\ntype: mockPassword\nconfigVersion: 1\nconfig: {username: u, password: p}\n",
            &[
                "cv.yaml:3: configVersion: unknown key `configVersion`",
                "call it `version`",
            ],
        ),
        (
            "key.yaml",
            "id: a\ntype: oidc\nversion: 0\nconfig:\n  issuer: https://x.okta.com\n  clientId: c\n  clientSecret: s\n  redirectURI: http://127.0.0.1/dex/callback\n",
            &[
                "key.yaml:6: config.clientId: unknown key `clientId`",
                "did you mean `clientID`?",
            ],
        ),
        (
            "type.yaml",
            "id: a\ntype: oidcc\nconfig: {}\n",
            &["unknown connector type \"oidcc\"", "did you mean `oidc`?"],
        ),
        // Issue 13: a type the reference knows but tusk cannot open.
        (
            "keystone.yaml",
            "id: corp\ntype: keystone\nconfig: {host: keystone.example.com}\n",
            &[
                "connector type `keystone` is one tusk cannot open",
                "mockPassword, mockCallback, local, oidc",
            ],
        ),
        // In a `tusk idp` file `version` does belong one level up.
        (
            "nested.yaml",
            "id: a\ntype: oidc\nconfig: {version: 1, issuer: https://x.okta.com, clientID: c, clientSecret: s, redirectURI: http://127.0.0.1/dex/callback}\n",
            &["config.version: unknown key `version`", "one level up"],
        ),
        (
            "noid.yaml",
            "type: mockPassword\nconfig: {username: u, password: p}\n",
            &["required key `id`"],
        ),
        ("empty.yaml", "", &["empty"]),
        ("junk.yaml", "id: [1, 2\n", &["not valid YAML or JSON"]),
        (
            "mask.yaml",
            "id: a\ntype: mockPassword\nconfig: {username: u, password: '***'}\n",
            &["config.password is `***`"],
        ),
    ];
    for (name, text, fragments) in rows {
        let f = write(dir, name, text.as_bytes());
        let r = d.fails(&["idp", "create-connector", "--config", &f], 2, fragments);
        assert!(r.stderr.contains("tusk: error:"), "{}", r.stderr);
    }
    d.fails(
        &[
            "idp",
            "create-connector",
            "--config",
            &dir.join("missing.yaml").display().to_string(),
        ],
        2,
        &["missing.yaml: cannot open"],
    );
    assert!(d.ok(&["idp", "list-connector"]).contains("No connectors."));

    // The happy path: create, list with health, get, edit and update, delete.
    let file = write(dir, "extra.yaml", b"id: extra\nname: Extra\ntype: mockPassword\nversion: 0\nconfig:\n  username: bob\n  password: hunter2\n");
    let out = d.ok(&["idp", "create-connector", "--config", &file]);
    assert!(out.contains("Created connector `extra`"), "{out}");
    d.fails(
        &["idp", "create-connector", "--config", &file],
        1,
        &["ID already exists"],
    );
    let list = d.ok(&["idp", "list-connector"]);
    let row = list
        .lines()
        .find(|l| l.starts_with("extra"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        row.contains("mockPassword") && row.ends_with("ok"),
        "{list}"
    );
    let list = json(&d.ok(&["idp", "list-connector", "-o", "json"]));
    assert_eq!(list[0]["health"]["ok"], true, "{list}");
    let got = d.ok(&["idp", "get-connector", "extra"]);
    assert!(
        got.starts_with("id: extra\nname: Extra\ntype: mockPassword\nversion: 0\n"),
        "{got}"
    );
    assert!(
        got.contains("password: '***'") && !got.contains("hunter2"),
        "{got}"
    );
    let edited = write(
        dir,
        "edited.yaml",
        got.replace("name: Extra", "name: Renamed").as_bytes(),
    );
    let out = d.ok(&["idp", "update-connector", "--config", &edited]);
    assert!(out.contains("to version 1"), "{out}");
    let after = json(&d.ok(&[
        "idp",
        "get-connector",
        "extra",
        "-o",
        "json",
        "--show-secrets",
    ]));
    assert_eq!(after["name"], "Renamed");
    assert_eq!(
        after["config"]["password"], "hunter2",
        "the masked password was not kept"
    );
    d.fails(
        &["idp", "update-connector", "--config", &edited],
        1,
        &[
            "new config version is 0, expected 2",
            "tusk idp get-connector extra",
        ],
    );
    d.ok(&["idp", "delete-connector", "extra"]);
    d.fails(
        &["idp", "get-connector", "extra"],
        1,
        &["ID does not exist"],
    );

    // OIDC clients.
    let out = d.ok(&[
        "idp",
        "create-client",
        "--id",
        "grafana",
        "--name",
        "Grafana",
        "--redirect-uri",
        "https://grafana.example.com/cb",
    ]);
    assert!(out.contains("Client secret (shown once"), "{out}");
    let got = d.ok(&["idp", "get-client", "grafana"]);
    assert!(
        got.contains("secret: '***'") && got.contains("- https://grafana.example.com/cb"),
        "{got}"
    );
    d.ok(&[
        "idp",
        "update-client",
        "--id",
        "grafana",
        "--trusted-peer",
        "pachd",
    ]);
    let got = json(&d.ok(&["idp", "get-client", "grafana", "-o", "json"]));
    assert_eq!(got["trusted_peers"], serde_json::json!(["pachd"]), "{got}");
    assert_eq!(
        got["name"], "Grafana",
        "an update without --name kept the name"
    );
    let client_file = write(
        dir,
        "client.yaml",
        b"id: app\nname: App\nredirectURIs: [https://app.example.com/cb]\nsecret: app-secret-5f0e2a9c\n",
    );
    let out = d.ok(&["idp", "create-client", "--config", &client_file]);
    assert!(!out.contains("app-secret"), "{out}");
    // Issue 11: a short secret, refused by `config check`, was accepted
    // through the identity API; the refusal never echoes it.
    let weak_client = write(
        dir,
        "weak-client.yaml",
        b"id: weak\nname: Weak\nredirectURIs: [https://weak.example.com/cb]\nsecret: x\n",
    );
    let out = d.fails(
        &["idp", "create-client", "--config", &weak_client],
        1,
        &[
            "client \"weak\"",
            "at least 16 bytes",
            "openssl rand -hex 32",
        ],
    );
    assert!(!out.stderr.contains("secret: x"), "{}", out.stderr);
    let clients = json(&d.ok(&["idp", "list-client", "-o", "json"]));
    let ids: Vec<&str> = clients
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"app") && ids.contains(&"grafana") && ids.contains(&"pachd"),
        "{clients}"
    );
    assert!(!clients.to_string().contains("app-secret"), "{clients}");
    let bad_client = write(
        dir,
        "bad-client.yaml",
        b"id: x\nredirect_urls: [https://x]\n",
    );
    d.fails(
        &["idp", "create-client", "--config", &bad_client],
        2,
        &["bad-client.yaml:2", "unknown field `redirect_urls`"],
    );
    d.ok(&["idp", "delete-client", "grafana"]);
    d.fails(
        &["idp", "delete-client", "grafana"],
        1,
        &["unable to find OIDC client with id \"grafana\""],
    );

    // The identity server's config: before any set-config, the running
    // issuer and lifetimes (issue 13: never an empty issuer).
    let running = json(&d.ok(&["idp", "get-config", "-o", "json"]));
    let issuer = d._server.readyz_until("readyz", |_| true)["checks"]["config"]["issuer"].clone();
    assert!(
        running["issuer"] == issuer && issuer.as_str().is_some_and(|i| i.ends_with("/dex")),
        "{running} vs {issuer}"
    );
    assert_eq!(running["id_token_expiry"], "24h", "{running}");
    assert_eq!(running["rotation_token_expiry"], "48h", "{running}");
    let elsewhere = write(
        dir,
        "elsewhere.yaml",
        b"issuer: https://elsewhere.example.com/dex\nid_token_expiry: 1h\n",
    );
    let r = d.run_with(&["idp", "set-config", "--config", &elsewhere], None);
    assert!(
        r.code == 0
            && r.stderr
                .contains("note: the server keeps running with issuer"),
        "{}",
        r.stderr
    );
    assert_eq!(json(&d.ok(&["idp", "get-config", "-o", "json"])), running);
    let idp_config = write(
        dir,
        "idp.yaml",
        b"issuer: http://127.0.0.1:30650/dex\nid_token_expiry: 24h\nrotation_token_expiry: 48x\n",
    );
    d.fails(
        &["idp", "set-config", "--config", &idp_config],
        2,
        &["rotation_token_expiry `48x` is not a duration"],
    );
    let idp_config = write(
        dir,
        "idp.yaml",
        b"issuer: http://127.0.0.1:30650/dex\nid_token_expiry: 24h\nrotation_token_expiry: 48h\n",
    );
    d.ok(&["idp", "set-config", "--config", &idp_config]);
    let got = d.ok(&["idp", "get-config"]);
    assert_eq!(
        got,
        format!(
            "issuer: {}\nid_token_expiry: 24h\nrotation_token_expiry: 48h\n",
            issuer.as_str().unwrap_or("")
        )
    );
}

#[test]
fn context_file_interop_with_the_sdk_format() {
    let d = Deployment::start("pachd:\n  activateAuth: true\n");
    // A config written by hand in the SDK's format, with fields tusk does
    // not use: tusk reads it and keeps them.
    let root = std::fs::read_to_string(d.dir.path().join("data/root-token")).unwrap_or_default();
    let sdk = serde_json::json!({
        "user_id": "5f6e0c1d2b3a49788796a5b4c3d2e1f0",
        "v2": {
            "active_context": "default",
            "contexts": {
                "default": {"source": 2, "pachd_address": d.address, "session_token": root.trim(),
                            "cluster_name": "kind-kind", "namespace": "default", "port_forwarders": null}
            },
            "metrics": false
        }
    });
    std::fs::write(
        d.pach_config(),
        serde_json::to_string_pretty(&sdk).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(d.ok(&["auth", "whoami"]).contains("pach:root"));
    let list = json(&d.ok(&["context", "list", "-o", "json"]));
    assert_eq!(list[0]["name"], "default");
    assert_eq!(list[0]["logged_in"], true);
    assert!(
        !list.to_string().contains(root.trim()),
        "context list printed a token"
    );

    d.ok(&[
        "context",
        "create",
        "staging",
        "--address",
        "grpcs://pach.example.com:443",
    ]);
    let text = d.ok(&["context", "list"]);
    assert!(text.lines().any(|l| l.starts_with("* default")), "{text}");
    assert!(text.contains("grpcs://pach.example.com:443"), "{text}");
    d.ok(&["context", "use", "staging"]);
    let config = d.config_json();
    assert_eq!(config["v2"]["active_context"], "staging");
    assert_eq!(
        config["v2"]["metrics"], false,
        "tusk changed the user's metrics choice"
    );
    assert_eq!(config["user_id"], "5f6e0c1d2b3a49788796a5b4c3d2e1f0");
    assert_eq!(
        config["v2"]["contexts"]["default"]["cluster_name"], "kind-kind",
        "{config}"
    );
    assert_eq!(config["v2"]["contexts"]["default"]["source"], 2, "{config}");
    assert_eq!(
        config["v2"]["contexts"]["staging"],
        serde_json::json!({"pachd_address": "grpcs://pach.example.com:443"})
    );
    // --address overrides the context; TUSK_ADDRESS too.
    let who = d.ok(&["auth", "whoami", "--context", "default", "-o", "json"]);
    assert_eq!(json(&who)["pachd_address"], d.address.as_str());
    let out = d
        .cmd()
        .args(["context", "use", "default"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    let out = d
        .cmd()
        .args(["auth", "whoami"])
        .env("TUSK_ADDRESS", "grpc://127.0.0.1:1")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot reach tusk at grpc://127.0.0.1:1")
    );

    let rows: &[(&[&str], &[&str])] = &[
        (
            &["context", "use", "stagin"],
            &["no context named `stagin`", "did you mean `staging`?"],
        ),
        (
            &["context", "create", "staging", "--address", "grpc://x:1"],
            &["already exists", "--overwrite"],
        ),
        (
            &[
                "context",
                "create",
                "x",
                "--address",
                "grpc://x:1",
                "--ca-cert",
                "/nonexistent.pem",
            ],
            &["/nonexistent.pem: cannot open"],
        ),
    ];
    for (args, fragments) in rows {
        d.fails(args, 2, fragments);
    }
    for (text, fragment) in [
        ("{not json", "not a Pachyderm config file"),
        ("{\"v1\": {}}", "no `v2` section"),
    ] {
        std::fs::write(d.pach_config(), text).unwrap_or_else(|e| panic!("{e}"));
        d.fails(&["context", "list"], 2, &["pach-config.json", fragment]);
        d.fails(&["auth", "whoami"], 2, &[fragment]);
    }
}

fn self_signed_pem(dir: &Path) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap_or_else(|e| panic!("{e}"));
    let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
    (
        write(dir, "cert.pem", cert.pem().as_bytes()),
        write(dir, "key.pem", key.serialize_pem().as_bytes()),
    )
}

#[test]
fn tls_and_plain_text_mismatches_are_named() {
    let certs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (cert, key) = self_signed_pem(certs.path());
    let tls = Deployment::start_with(
        "pachd:\n  activateAuth: true\n",
        &["--tls-cert", &cert, "--tls-key", &key],
    );
    let plain = Deployment::start("pachd:\n  activateAuth: true\n");
    let tls_addr = tls.address.replace("grpc://", "grpcs://");
    let plain_as_tls = plain.address.replace("grpc://", "grpcs://");
    plain.fails(
        &["auth", "whoami", "--address", &plain_as_tls],
        1,
        &[
            "does not speak TLS",
            &format!("use the plain-text address {}", plain.address),
        ],
    );
    plain.fails(
        &["auth", "whoami", "--address", &tls.address],
        1,
        &["expects TLS", &format!("use {tls_addr}")],
    );
    plain.fails(
        &["auth", "whoami", "--address", &tls_addr],
        1,
        &["is not trusted", "--ca-cert"],
    );
    // With its CA, the TLS server answers (no session yet: not a TLS error).
    plain.fails(
        &["auth", "whoami", "--address", &tls_addr, "--ca-cert", &cert],
        1,
        &["no authentication token"],
    );
    // A context remembers the CA.
    tls.ok(&[
        "context",
        "create",
        "tls",
        "--address",
        &tls_addr,
        "--ca-cert",
        &cert,
        "--use",
    ]);
    assert!(tls.config_json()["v2"]["contexts"]["tls"]["server_cas"].is_string());
    tls.login_as_root();
    assert!(tls.ok(&["auth", "whoami"]).contains("pach:root"));
    // doctor verifies the chain with the context's CA and reads the expiry.
    let r = tls.run_with(&["doctor"], None);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("tusk: TLS"))
        .unwrap_or_else(|| panic!("{}{}", r.stdout, r.stderr));
    assert!(
        line.starts_with("ok") && line.contains("the certificate expires"),
        "{line}"
    );
}

/// A stand-in upstream OpenID provider for doctor: discovery with a
/// chosen issuer, a JWKS, and a token endpoint that accepts client
/// `cid` / `csecret` (basic auth) and refuses every code.
fn fake_upstream(issuer_suffix: &'static str) -> String {
    use axum::routing::{get, post};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let base = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let key = tusk_jose::SigningKey::generate(tusk_jose::Alg::ES256, "k1".into())
        .unwrap_or_else(|e| panic!("{e}"));
    let jwks = serde_json::json!({"keys": [key.public_jwk()]});
    let doc = serde_json::json!({
        "issuer": format!("{base}{issuer_suffix}"),
        "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/keys"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(move || async move { axum::Json(doc) }))
        .route("/keys", get(move || async move { axum::Json(jwks) }))
        .route(
            "/token",
            post(|headers: axum::http::HeaderMap| async move {
                let good = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Basic Y2lkOmNzZWNyZXQ=");
                if good {
                    (axum::http::StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"error": "invalid_grant", "error_description": "bad code"})))
                } else {
                    (axum::http::StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"error": "invalid_client", "error_description": "client authentication failed"})))
                }
            }),
        );
    std::thread::spawn(move || {
        block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(listener).unwrap_or_else(|e| panic!("{e}"));
            let _ = axum::serve(listener, app).await;
        })
    });
    base
}

#[test]
fn doctor_names_the_trailing_slash_and_passes_once_fixed() {
    let upstream = fake_upstream("");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let values = |issuer: &str, secret: &str| {
        format!(
            "oidc:\n  upstreamIDPs:\n  - id: okta\n    name: Okta\n    type: oidc\n    config:\n      issuer: {issuer}\n      clientID: cid\n      clientSecret: {secret}\n      redirectURI: http://127.0.0.1:30650/dex/callback\n"
        )
    };
    let doctor = |file: &str| {
        let out = tusk()
            .args(["doctor", "--values", file])
            .env("PACH_CONFIG", dir.path().join("none.json"))
            .env_remove("TUSK_ADDRESS")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let slash = write(
        dir.path(),
        "slash.yaml",
        values(&format!("{upstream}/"), "csecret").as_bytes(),
    );
    let (code, stdout, stderr) = doctor(&slash);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let issuer_line = stdout
        .lines()
        .find(|l| l.contains("okta: issuer"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(issuer_line.starts_with("FAIL"), "{stdout}");
    assert!(
        issuer_line.contains(&format!("hint: the provider reports its issuer without a trailing slash; set issuer to \"{upstream}\"")),
        "{stdout}"
    );

    let fixed = write(
        dir.path(),
        "fixed.yaml",
        values(&upstream, "csecret").as_bytes(),
    );
    let (code, stdout, stderr) = doctor(&fixed);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for check in [
        "okta: discovery",
        "okta: issuer",
        "okta: JWKS",
        "okta: redirectURI",
        "okta: credentials",
        "okta: clock",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.contains(check))
            .unwrap_or_else(|| panic!("{check}: {stdout}"));
        assert!(line.starts_with("ok"), "{line}");
    }

    let wrong = write(
        dir.path(),
        "wrong.yaml",
        values(&upstream, "not-the-secret").as_bytes(),
    );
    let (code, stdout, _) = doctor(&wrong);
    assert_eq!(code, 1, "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("okta: credentials"))
        .unwrap_or_default();
    assert!(
        line.starts_with("FAIL") && line.contains("invalid_client") && line.contains("fix:"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("not-the-secret"),
        "doctor printed the secret: {stdout}"
    );

    let out = tusk()
        .args(["doctor", "--values", &fixed, "-o", "json"])
        .env_remove("TUSK_ADDRESS")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let checks = json(&String::from_utf8_lossy(&out.stdout));
    assert!(
        checks.as_array().is_some_and(|a| a
            .iter()
            .any(|c| c["check"] == "okta: JWKS" && c["status"] == "ok")),
        "{checks}"
    );
}

#[test]
fn doctor_checks_a_running_server() {
    let d = Deployment::start("pachd:\n  activateAuth: true\n");
    let stdout = d.ok(&["doctor", "--address", &d.address]);
    for check in [
        "tusk: readyz",
        "tusk: gRPC",
        "tusk: issuer",
        "tusk: connector test",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.contains(check))
            .unwrap_or_else(|| panic!("{check}: {stdout}"));
        assert!(line.starts_with("ok"), "{line}");
    }
    // Issue 12: the token from a file (a mounted Secret's key), by flag
    // or TUSK_TOKEN_FILE, with no context holding a session.
    let root_file = d.dir.path().join("data/root-token").display().to_string();
    let out = d.ok(&[
        "auth",
        "whoami",
        "--address",
        &d.address,
        "--token-file",
        &root_file,
    ]);
    assert!(out.contains("pach:root"), "{out}");
    let out = d
        .cmd()
        .args(["auth", "whoami", "--address", &d.address])
        .env("TUSK_TOKEN_FILE", &root_file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("pach:root"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let empty = write(d.dir.path(), "empty-token", b"\n");
    d.fails(
        &[
            "auth",
            "whoami",
            "--address",
            &d.address,
            "--token-file",
            &empty,
        ],
        2,
        &[
            "--token-file",
            "empty-token: the file holds no token",
            "help:",
        ],
    );
    d.fails(
        &[
            "doctor",
            "--address",
            &d.address,
            "--token-file",
            "/nonexistent/root-token",
        ],
        2,
        &["--token-file /nonexistent/root-token: cannot open"],
    );
    let r = d.fails(&["doctor", "--address", "grpc://127.0.0.1:1"], 1, &[]);
    assert!(
        r.stdout.contains("FAIL  tusk: readyz") && r.stdout.contains("tusk serve"),
        "{}",
        r.stdout
    );
    // Issue 12: the only connector is an upstream nobody answers for, so
    // the server is not ready, and doctor says why.
    let down = Deployment::start(
        "oidc:\n  upstreamIDPs:\n  - id: okta\n    name: Okta\n    type: oidc\n    config: {issuer: \"http://127.0.0.1:9\", clientID: cid, clientSecret: a-client-secret-of-some-length, redirectURI: \"http://127.0.0.1:1/dex/callback\"}\n",
    );
    let r = down.fails(&["doctor", "--address", &down.address], 1, &[]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("tusk: readyz"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        line.starts_with("FAIL") && line.contains("no connector can log anyone in"),
        "{}",
        r.stdout
    );
    let okta = r
        .stdout
        .lines()
        .find(|l| l.contains("FAIL  tusk: connector okta"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    // Issue 13: the connectors come from the values file, where the
    // identity API refuses changes, so the fix names the key and the file.
    assert!(
        !okta.contains("update-connector")
            && okta.contains("`oidc.upstreamIDPs` in the server's --values file"),
        "{okta}"
    );
    let values = down.dir.path().join("values.yaml").display().to_string();
    let r = down.fails(
        &["doctor", "--address", &down.address, "--values", &values],
        1,
        &[],
    );
    assert!(
        r.stdout
            .contains(&format!("`oidc.upstreamIDPs` in {values}")),
        "{}",
        r.stdout
    );
    // Probes of an unready server are not logged as errors: the outage is
    // reported once, where it arises.
    assert!(
        down._server.log.contains("connector is unavailable"),
        "{}",
        down._server.log
    );
    // A line logged after doctor's requests: once it is read, any line
    // those requests caused has been read too.
    down._server.signal("HUP");
    let mut log = String::new();
    for _ in 0..300 {
        log = down._server.later_log();
        if log.contains("received SIGHUP") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(log.contains("received SIGHUP"), "{log}");
    assert!(!log.contains("response failed"), "{log}");
}

#[test]
fn every_command_has_help_with_examples_and_completions_generate() {
    let paths: &[&[&str]] = &[
        &[],
        &["serve"],
        &["config", "check"],
        &["auth", "login"],
        &["auth", "activate"],
        &["auth", "deactivate"],
        &["auth", "logout"],
        &["auth", "whoami"],
        &["auth", "get-robot-token"],
        &["auth", "revoke"],
        &["auth", "get-groups"],
        &["auth", "use-auth-token"],
        &["auth", "check"],
        &["auth", "set"],
        &["auth", "get"],
        &["auth", "rotate-root-token"],
        &["auth", "roles-for-permission"],
        &["auth", "get-config"],
        &["auth", "set-config"],
        &["idp", "set-config"],
        &["idp", "get-config"],
        &["idp", "create-connector"],
        &["idp", "update-connector"],
        &["idp", "get-connector"],
        &["idp", "delete-connector"],
        &["idp", "list-connector"],
        &["idp", "create-client"],
        &["idp", "update-client"],
        &["idp", "get-client"],
        &["idp", "delete-client"],
        &["idp", "list-client"],
        &["resource", "create"],
        &["resource", "delete"],
        &["context", "list"],
        &["context", "use"],
        &["context", "create"],
        &["doctor"],
        &["completion"],
        &["auth"],
        &["idp"],
        &["resource"],
        &["version"],
        &["enterprise"],
        &["enterprise", "get-state"],
        &["license"],
        &["license", "activate"],
        &["license", "get-state"],
        &["license", "delete-all"],
    ];
    for path in paths {
        let mut args: Vec<&str> = path.to_vec();
        args.push("--help");
        let r = run(&args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(
            r.stdout.contains("Example"),
            "tusk {args:?} has no examples:\n{}",
            r.stdout
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let r = run(&["completion", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(
            r.stdout.contains("tusk") && r.stdout.contains("get-robot-token"),
            "{shell}"
        );
    }
    check(&["completion", "tcsh"], 2, &["invalid value 'tcsh'"]);
}

// --- secrets at rest (issue 11, defect 1) --------------------------------------

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n";
const SEALED_VALUES: &str = "oidc:\n  additionalClients:\n  - id: tusk-cli\n    name: tusk CLI\n    public: true\n    trusted: true\n    trusted_peers: []\n  - id: grafana\n    name: Grafana\n    secret: grafana-secret-5e1d93\n    redirect_uris: [http://127.0.0.1/cb]\npachd:\n  additionalTrustedPeers: [tusk-cli]\n  oauthClientSecret: pachd-secret-0c4b71\n";

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every byte SQLite keeps on disk for the database.
fn database_bytes(data: &Path) -> String {
    let mut bytes = Vec::new();
    for f in ["tusk.db", "tusk.db-wal", "tusk.db-shm"] {
        bytes.extend(std::fs::read(data.join(f)).unwrap_or_default());
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The reported attack: with the data directory 0755 and `tusk.db` 0644,
/// any local user read the signing key and client secrets in clear. Under
/// umask 022 the directory is now 0700, every file 0600, and after a login
/// the database bytes hold no private key and no client secret.
#[test]
fn serve_on_sqlite_keeps_secrets_sealed_and_files_owner_only() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let v = write(dir.path(), "values.yaml", SEALED_VALUES.as_bytes());
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let mut sh = std::process::Command::new("sh");
    sh.args([
        "-c",
        "umask 022; exec \"$0\" \"$@\"",
        &assert_cmd::cargo::cargo_bin("tusk").display().to_string(),
    ]);
    let server = Server::start_as(sh, &["--values", &v, "--data-dir", &data_arg]);
    let key_file = data.join("encryption-keys");
    assert!(
        server.log.contains("generated an encryption key")
            && server.log.contains(&key_file.display().to_string()),
        "no word of the generated key:\n{}",
        server.log
    );
    let key = std::fs::read_to_string(&key_file).unwrap_or_else(|e| panic!("{e}"));
    assert!(!server.log.contains(key.trim()), "the key is in the log");

    // A login through the device flow: a session, tokens, a refresh token.
    let d = Deployment {
        address: format!("grpc://{}", server.addr),
        _server: server,
        dir,
    };
    d.use_context();
    let (child, rx) = spawn_login(&d, &["auth", "login", "--device"]);
    let mut seen = String::new();
    let verification = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("login printed no URL:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("/device?user_code=") {
            break line.trim().to_owned();
        }
    };
    complete_login(&verification);
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{seen}");
    let addr = d.address.trim_start_matches("grpc://").to_owned();
    let jwks = block_on(async {
        reqwest::get(format!("http://{addr}/dex/keys"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .text()
            .await
            .unwrap_or_default()
    });
    let jwks = json(&jwks);
    let publics: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("{jwks}"))
        .iter()
        .filter_map(|k| k["x"].as_str().or(k["n"].as_str()).map(str::to_owned))
        .collect();
    assert!(!publics.is_empty(), "{jwks}");

    assert_eq!(mode(&data), 0o700, "data directory");
    for f in [
        "tusk.db",
        "tusk.db-wal",
        "tusk.db-shm",
        "root-token",
        "encryption-keys",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    let bytes = database_bytes(&data);
    for secret in [
        "PRIVATE KEY",
        "grafana-secret-5e1d93",
        "pachd-secret-0c4b71",
    ]
    .into_iter()
    .chain(publics.iter().map(String::as_str))
    {
        assert!(
            !bytes.contains(secret),
            "`{secret}` is in the database file"
        );
    }
}

#[test]
fn serve_refuses_a_data_dir_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = data.display().to_string();
    check(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &shown],
        1,
        &[&shown, "mode 755", &format!("chmod 700 {shown}")],
    );
}

#[test]
fn serve_on_postgres_refuses_to_start_without_an_encryption_key() {
    let secrets = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let shown = secrets.path().display().to_string();
    check(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "postgres://tusk@127.0.0.1:1/tusk",
            "--secrets-dir",
            &shown,
        ],
        1,
        &[
            "PostgreSQL",
            &format!("openssl rand -base64 32 > {shown}/encryption-keys"),
        ],
    );
}

/// Rotation: put a new key first, reseal with `tusk store reencrypt`, then
/// the old key can go.
#[test]
fn store_reencrypt_reseals_under_the_new_first_key() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let v = write(dir.path(), "values.yaml", SEALED_VALUES.as_bytes());
    let data = dir.path().join("data").display().to_string();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap_or_else(|e| panic!("{e}"));
    let secrets_arg = secrets.display().to_string();
    write(&secrets, "encryption-keys", KEY_A.as_bytes());
    let args = [
        "--values",
        &v,
        "--data-dir",
        &data,
        "--secrets-dir",
        &secrets_arg,
    ];
    // The first start seals the signing keys, clients and connectors.
    let server = Server::start(&args);
    assert_eq!(server.get("/healthz").0, 200);
    assert_eq!(server.stop(), 0);

    let reencrypt = [
        "store",
        "reencrypt",
        "--data-dir",
        &data,
        "--secrets-dir",
        &secrets_arg,
    ];
    // Only the new key: the rows sealed under the old one do not open.
    write(&secrets, "encryption-keys", KEY_B.as_bytes());
    check(&reencrypt, 1, &["not in the keyring"]);
    // New key first, old key after: everything is resealed.
    write(
        &secrets,
        "encryption-keys",
        format!("{KEY_B}{KEY_A}").as_bytes(),
    );
    let r = run(&reencrypt);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("resealed") && !r.stdout.contains("resealed 0 "),
        "{}",
        r.stdout
    );
    let again = run(&reencrypt);
    assert!(again.stdout.contains("resealed 0 "), "{}", again.stdout);
    // The old key is no longer needed. (Here as a Kubernetes secret
    // volume mounts the secret `encryption-keys`: a directory.)
    std::fs::remove_file(secrets.join("encryption-keys")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(secrets.join("encryption-keys")).unwrap_or_else(|e| panic!("{e}"));
    write(
        &secrets.join("encryption-keys"),
        "encryption-keys",
        KEY_B.as_bytes(),
    );
    let server = Server::start(&args);
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.stop(), 0);
}

/// A lost generated key is not silently replaced by a new one that could
/// open nothing already sealed.
#[test]
fn serve_refuses_to_replace_a_lost_encryption_key() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let server = Server::start(&["--data-dir", &data_arg]);
    assert_eq!(server.get("/healthz").0, 200);
    assert_eq!(server.stop(), 0);
    std::fs::remove_file(data.join("encryption-keys")).unwrap_or_else(|e| panic!("{e}"));
    check(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_arg],
        1,
        &[
            &data.join("encryption-keys").display().to_string(),
            "keys the store was sealed with",
        ],
    );
    assert!(
        !data.join("encryption-keys").exists(),
        "a new key was generated"
    );
}

/// Issue 11, defect 8: `tusk completion bash | head -1` panicked with a
/// backtrace. A reader that closes early ends the command quietly, with
/// status 0. Every output here is over 64 KiB, more than a pipe buffers,
/// so the write after the reader is gone is certain to fail.
#[test]
fn a_reader_that_closes_early_ends_output_quietly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut values = String::from("oidc:\n  additionalClients:\n");
    for i in 0..2000 {
        values.push_str(&format!(
            "  - {{id: client-{i}, secret: secret-of-client-{i}, redirectURIs: [https://c{i}.example.com/cb]}}\n"
        ));
    }
    let values = write(dir.path(), "many.yaml", values.as_bytes());
    let runs: [&[&str]; 4] = [
        &["completion", "bash"],
        &["completion", "zsh"],
        &["completion", "fish"],
        &["config", "show", "--values", &values],
    ];
    for args in runs {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tusk"))
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn tusk {args:?}: {e}"));
        let mut first = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
        assert!(!first.is_empty(), "tusk {args:?} printed nothing");
        drop(out);
        let done = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(0), "tusk {args:?}: {stderr}");
        assert_eq!(stderr, "", "tusk {args:?} wrote to stderr");
    }
}

/// A server that cannot be reached has not forgotten the session: logout
/// used to match "refused" in any message, so "Connection refused" read as
/// a refused token and logout claimed the session was gone on the server.
#[test]
fn logout_from_an_unreachable_server_says_the_session_was_not_revoked() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("config.json");
    let token = "0123456789abcdef0123456789abcdef";
    let text = serde_json::json!({"v2": {"active_context": "c", "contexts": {
        "c": {"pachd_address": "grpc://127.0.0.1:1", "session_token": token}}}});
    std::fs::write(&config, text.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = tusk()
        .env("PACH_CONFIG", &config)
        .args(["auth", "logout"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    expect_run(
        &r,
        &["auth", "logout"],
        1,
        &["not revoked on the server", "cannot reach tusk"],
    );
    // Forgotten here in every case: the user asked to be logged out.
    let after = std::fs::read_to_string(&config).unwrap_or_default();
    assert!(!after.contains(token), "{after}");
}

#[path = "../../tusk-connector/tests/connectors/github/standin.rs"]
mod github_standin;

/// doctor on a `github` connector for GitHub Enterprise (the stand-in
/// over TLS with a generated CA): the API over TLS with `rootCA`, the
/// OAuth app's credentials, and a fix for each failure.
#[test]
fn doctor_checks_a_github_enterprise_connector() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gh = rt.block_on(github_standin::StandIn::start_tls());
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", gh.ca_pem.clone().unwrap().as_bytes());
    let values = |secret: &str, root_ca: &str, redirect: &str| {
        format!(
            "oidc:\n  upstreamIDPs:\n  - id: ghe\n    name: GitHub\n    type: github\n    config:\n      clientID: {}\n      clientSecret: {secret}\n      redirectURI: {redirect}\n      hostName: '{}'\n{root_ca}      orgs:\n      - name: acme\n",
            github_standin::CLIENT_ID,
            gh.host_name()
        )
    };
    let callback = "http://127.0.0.1:30650/dex/callback";
    let doctor = |name: &str, text: String| {
        let file = write(dir.path(), name, text.as_bytes());
        let out = tusk()
            .args(["doctor", "--values", &file])
            .env("PACH_CONFIG", dir.path().join("none.json"))
            .env_remove("TUSK_ADDRESS")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let line = |stdout: &str, check: &str| {
        stdout
            .lines()
            .find(|l| l.contains(check))
            .unwrap_or_else(|| panic!("{check}: {stdout}"))
            .to_owned()
    };
    let with_ca = format!("      rootCA: {ca}\n");

    let (code, stdout) = doctor(
        "good.yaml",
        values(github_standin::CLIENT_SECRET, &with_ca, callback),
    );
    assert_eq!(code, 0, "{stdout}");
    for check in ["ghe: redirectURI", "ghe: API", "ghe: OAuth client"] {
        assert!(line(&stdout, check).starts_with("ok"), "{stdout}");
    }
    assert!(
        line(&stdout, "ghe: API")
            .contains(&format!("https://{}/api/v3/rate_limit", gh.host_name()))
    );

    let (code, stdout) = doctor(
        "secret.yaml",
        values("not-the-client-secret", &with_ca, callback),
    );
    assert_eq!(code, 1, "{stdout}");
    let l = line(&stdout, "ghe: OAuth client");
    assert!(
        l.starts_with("FAIL")
            && l.contains("incorrect_client_credentials")
            && l.contains("fix: copy the Client ID"),
        "{l}"
    );
    assert!(
        !stdout.contains("not-the-client-secret"),
        "doctor printed the secret: {stdout}"
    );

    let (code, stdout) = doctor(
        "noca.yaml",
        values(github_standin::CLIENT_SECRET, "", callback),
    );
    assert_eq!(code, 1, "{stdout}");
    let l = line(&stdout, "ghe: API");
    assert!(
        l.starts_with("FAIL")
            && l.contains("fix: the server's certificate is not trusted: set rootCA"),
        "{l}"
    );
    assert!(
        line(&stdout, "ghe: OAuth client").starts_with("skip"),
        "{stdout}"
    );

    let (code, stdout) = doctor(
        "redirect.yaml",
        values(
            github_standin::CLIENT_SECRET,
            &with_ca,
            "https://elsewhere.example/callback",
        ),
    );
    assert_eq!(code, 1, "{stdout}");
    let l = line(&stdout, "ghe: redirectURI");
    assert!(
        l.starts_with("FAIL") && l.contains(&format!("set config.redirectURI to {callback}")),
        "{l}"
    );

    gh.state
        .api_status
        .store(503, std::sync::atomic::Ordering::SeqCst);
    let (code, stdout) = doctor(
        "down.yaml",
        values(github_standin::CLIENT_SECRET, &with_ca, callback),
    );
    assert_eq!(code, 1, "{stdout}");
    let l = line(&stdout, "ghe: API");
    assert!(
        l.starts_with("FAIL") && l.contains("503") && l.contains("fix: hostName must be"),
        "{l}"
    );
    gh.state
        .api_status
        .store(0, std::sync::atomic::Ordering::SeqCst);

    // Against the running server: an admin session reads the full config
    // through the identity API, so every check runs.
    let d = Deployment::start(&format!(
        "oidc:\n  issuerURI: http://127.0.0.1:30650/dex\n{}",
        values(github_standin::CLIENT_SECRET, &with_ca, callback)
            .strip_prefix("oidc:\n")
            .unwrap()
    ));
    d.use_context();
    d.login_as_root();
    // (The fixed issuer is not served here, so only the github lines count.)
    let stdout = d.run_with(&["doctor"], None).stdout;
    for check in ["ghe: redirectURI", "ghe: API", "ghe: OAuth client"] {
        assert!(line(&stdout, check).starts_with("ok"), "{stdout}");
    }
    assert!(!stdout.contains(github_standin::CLIENT_SECRET), "{stdout}");
    drop(rt);
}

/// Issue 14: `tusk doctor` on a `saml` connector checks the IdP
/// certificate and reaches `ssoURL`, with a fix for each failure.
#[test]
fn doctor_checks_a_saml_connector() {
    let cert = include_str!("../../tusk-core/tests/core/data/saml-idp-cert.pem");
    let indented: String = cert.lines().map(|l| format!("        {l}\n")).collect();
    let sso = fake_upstream("");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let values = |sso_url: &str| {
        format!(
            "oidc:\n  upstreamIDPs:\n  - id: corp\n    name: Corp\n    type: saml\n    config:\n      ssoURL: {sso_url}\n      redirectURI: http://127.0.0.1:30650/dex/callback\n      usernameAttr: uid\n      emailAttr: email\n      caData: |\n{indented}"
        )
    };
    let doctor = |file: &str| {
        let out = tusk()
            .args(["doctor", "--values", file])
            .env("PACH_CONFIG", dir.path().join("none.json"))
            .env_remove("TUSK_ADDRESS")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let rows: &[(&str, i32, &[&str])] = &[
        (
            &format!("{sso}/sso"),
            0,
            &[
                "ok    corp: redirectURI: http://127.0.0.1:30650/dex/callback, tusk's ACS",
                "ok    corp: certificate: `CN=tusk-config-test-idp` (line 1) expires in",
                "ok    corp: ssoURL:",
            ],
        ),
        (
            "http://127.0.0.1:1/sso",
            1,
            &[
                "FAIL  corp: ssoURL: http://127.0.0.1:1/sso is unreachable",
                "fix: check config.ssoURL against the IdP's metadata",
            ],
        ),
    ];
    for (i, (url, want_code, want)) in rows.iter().enumerate() {
        let file = write(dir.path(), &format!("v{i}.yaml"), values(url).as_bytes());
        let (code, stdout) = doctor(&file);
        assert_eq!(code, *want_code, "{stdout}");
        for w in *want {
            assert!(stdout.contains(w), "`{w}` not in\n{stdout}");
        }
    }
}

/// `tusk auth list-sessions` and `revoke-sessions` (issue 15): an admin
/// sees a user's browser session by its public id (never the cookie) and
/// ends it, after which the browser must log in again.
#[test]
fn auth_lists_and_revokes_a_users_browser_sessions() {
    let d = Deployment::start(
        "pachd:\n  activateAuth: true\noidc:\n  additionalClients:\n  - id: app\n    secret: app-secret-0123456789\n    name: App\n    redirect_uris: [\"http://127.0.0.1:9/cb\"]\n    trusted: true\n",
    );
    d.use_context();
    d.login_as_root();
    let base = format!("http://{}/dex", d.address.trim_start_matches("grpc://"));
    let auth = format!(
        "{base}/auth?client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid+email"
    );
    let http = crate::browser_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let location = |r: &reqwest::Response| {
        r.headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_else(|| panic!("{} without a redirect", r.status()))
            .to_owned()
    };
    let cookie = block_on(async {
        let r = http
            .get(&auth)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let to = location(&r);
        let req = to.split("req=").nth(1).unwrap_or_default().to_owned();
        let r = http
            .post(format!("{base}/auth/test/login?state={req}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("login=admin&password=password")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("tusk_session="))
            .and_then(|v| v.split(';').next())
            .unwrap_or_else(|| panic!("no session cookie"))
            .to_owned()
    });
    let user = "user:kilgore@kilgore.trout";
    let listed = d.ok(&["auth", "list-sessions", "--user", user, "-o", "json"]);
    let value = &cookie["tusk_session=".len()..];
    assert!(
        !listed.contains(value),
        "the cookie must never be shown: {listed}"
    );
    let sessions = json(&listed);
    let sessions = sessions.as_array().unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(sessions.len(), 1, "{listed}");
    assert_eq!(sessions[0]["connector"], "test");
    let id = sessions[0]["id"].as_str().unwrap_or_default().to_owned();
    let text = d.ok(&["auth", "list-sessions", "--user", user]);
    assert!(text.contains(&id) && text.contains("CONNECTOR"), "{text}");
    let done = d.ok(&["auth", "revoke-sessions", "--user", user, "--id", &id]);
    assert!(done.contains("1 session(s)"), "{done}");
    assert!(
        d.ok(&["auth", "list-sessions", "--user", user])
            .contains("has no browser sessions")
    );
    // The browser's next silent sign-in is refused.
    let error = block_on(async {
        let r = http
            .get(format!("{auth}&prompt=none"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        location(&r)
    });
    assert!(error.contains("error=login_required"), "{error}");
}
