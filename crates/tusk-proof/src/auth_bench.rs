//! The auth plane's benchmarks over gRPC, from a process of their own
//! (issue 16): `grpc-load` measures WhoAmI and Authorize throughput next to
//! `grpc.health.v1/Check` (unauthenticated, no store, no cache: the
//! transport's own cost) in alternating rounds; `seed-sql` writes the SQL that fills a
//! stopped server's SQLite store with N role bindings and N tokens; and
//! `scale` measures, against that server, the first (cold) checks, a
//! ModifyRoleBinding, the Authorize right after it, and the server's RSS.

use crate::stats::percentile;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tusk_proto::auth_v2::api_client::ApiClient;
use tusk_proto::auth_v2::{
    AuthorizeRequest, ModifyRoleBindingRequest, Resource, ResourceType, WhoAmIRequest,
};

/// The plain text of seeded token `i`; the store holds only its hash.
pub fn seeded_token(i: usize) -> String {
    format!("bench-token-{i:08}")
}

fn seeded_user(i: usize) -> String {
    format!("user:u{i}@example.com")
}

fn seeded_repo(i: usize) -> String {
    format!("default/r{i}")
}

const REPO_READ: i32 = 200;

/// SQL for `sqlite3 DATA_DIR/tusk.db`: `bindings` repo bindings under the
/// `default` project (repo i bound to user i as repoWriter) and `tokens`
/// tokens (token i is user i's), in one transaction. Rows use the store's
/// JSON encoding of `RoleBinding` and `AuthToken`, neither of them sealed.
pub fn seed_sql(
    bindings: usize,
    tokens: usize,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    writeln!(out, "BEGIN;")?;
    for i in 0..bindings {
        let id = format!("REPO:{}", seeded_repo(i));
        let data = serde_json::json!({"id": id, "entries": {seeded_user(i): ["repoWriter"]}});
        writeln!(
            out,
            "INSERT OR REPLACE INTO records (kind, id, owner, data, expires_at, version) VALUES ('role_binding', '{id}', NULL, '{data}', NULL, 1);"
        )?;
    }
    for i in 0..tokens {
        let id = hex(&Sha256::digest(seeded_token(i).as_bytes()));
        let subject = seeded_user(i);
        let data =
            serde_json::json!({"id": id, "subject": subject, "expires_at": null, "created_at": 0});
        writeln!(
            out,
            "INSERT OR REPLACE INTO records (kind, id, owner, data, expires_at, version) VALUES ('auth_token', '{id}', '{subject}', '{data}', NULL, 1);"
        )?;
    }
    writeln!(out, "COMMIT;")?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn channel(address: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(address.to_owned())
        .with_context(|| format!("--address `{address}` is not a URL; use http://HOST:PORT"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(60))
        .connect_lazy())
}

fn authed<T>(msg: T, token: &str) -> anyhow::Result<Request<T>> {
    let mut req = Request::new(msg);
    let value: MetadataValue<_> = token.parse().map_err(|_| {
        anyhow::anyhow!("token: not a valid gRPC metadata value (it must be printable ASCII)")
    })?;
    req.metadata_mut().insert("authn-token", value);
    Ok(req)
}

fn repo(name: &str) -> Option<Resource> {
    Some(Resource {
        r#type: ResourceType::Repo as i32,
        name: name.to_owned(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rpc {
    Health,
    WhoAmI,
    Authorize,
}

impl Rpc {
    fn name(self) -> &'static str {
        match self {
            Rpc::Health => "grpc.health.v1/Check",
            Rpc::WhoAmI => "WhoAmI",
            Rpc::Authorize => "Authorize",
        }
    }

    /// One call; an error answer is a failure of the run.
    async fn call(self, ch: &Channel, token: &str) -> anyhow::Result<()> {
        match self {
            Rpc::Health => {
                HealthClient::new(ch.clone())
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await?;
            }
            Rpc::WhoAmI => {
                ApiClient::new(ch.clone())
                    .who_am_i(authed(WhoAmIRequest {}, token)?)
                    .await?;
            }
            Rpc::Authorize => {
                let r = ApiClient::new(ch.clone())
                    .authorize(authed(
                        AuthorizeRequest {
                            resource: Some(Resource {
                                r#type: ResourceType::Project as i32,
                                name: "default".into(),
                            }),
                            permissions: vec![402],
                        },
                        token,
                    )?)
                    .await?;
                anyhow::ensure!(
                    r.into_inner().authorized,
                    "Authorize answered not authorized; give a token whose subject holds PROJECT_LIST_REPO on project default (the root token does)"
                );
            }
        }
        Ok(())
    }
}

/// Calls `rpc` from `concurrency` tasks over `connections` HTTP/2
/// connections for `duration`; requests per second.
async fn throughput(
    rpc: Rpc,
    channels: &[Channel],
    token: &Arc<String>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..concurrency.max(1) {
        let (ch, token, stop, done) = (
            channels[i % channels.len()].clone(),
            token.clone(),
            stop.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                rpc.call(&ch, &token).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    let n = done.load(Ordering::Relaxed);
    let wall = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / wall.as_secs_f64().max(f64::EPSILON))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub struct LoadArgs {
    pub address: String,
    pub token: String,
    pub duration: Duration,
    pub rounds: usize,
    pub concurrency: usize,
    pub connections: usize,
}

/// Alternating rounds of the health check, WhoAmI and Authorize; prints
/// each round, the medians and each RPC's median as a ratio to the health
/// check's.
pub async fn grpc_load(a: LoadArgs) -> anyhow::Result<bool> {
    let channels: Vec<Channel> = (0..a.connections.max(1))
        .map(|_| channel(&a.address))
        .collect::<anyhow::Result<_>>()?;
    let token = Arc::new(a.token);
    let rpcs = [Rpc::Health, Rpc::WhoAmI, Rpc::Authorize];
    for rpc in rpcs {
        // Warm-up, and a clear error before any figure if a call fails.
        rpc.call(&channels[0], &token)
            .await
            .with_context(|| format!("{} failed", rpc.name()))?;
        throughput(
            rpc,
            &channels,
            &token,
            a.concurrency,
            Duration::from_millis(300),
        )
        .await?;
    }
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); rpcs.len()];
    for round in 0..a.rounds.max(1) {
        for (k, rpc) in rpcs.iter().enumerate() {
            let r = throughput(*rpc, &channels, &token, a.concurrency, a.duration).await?;
            println!("round {}: {}: {r:.0} req/s", round + 1, rpc.name());
            results[k].push(r);
        }
    }
    println!(
        "concurrency: {} over {} connections",
        a.concurrency, a.connections
    );
    let base = median(results[0].clone());
    for (k, rpc) in rpcs.iter().enumerate() {
        let m = median(results[k].clone());
        println!(
            "{}: {m:.0} req/s (median of {}), {:.2} of the health check",
            rpc.name(),
            results[k].len(),
            m / base.max(f64::EPSILON)
        );
    }
    Ok(true)
}

/// The server's resident set in MB, from /proc (Linux).
fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| {
        format!("--pid {pid}: cannot read /proc/{pid}/status; give the server's process id")
    })?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("/proc/{pid}/status has no VmRSS line"))?;
    Ok(kb / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The `scale` command's arguments, parsed straight into this struct.
#[derive(clap::Args)]
pub struct ScaleArgs {
    #[arg(long)]
    pub address: String,
    /// The root token (ModifyRoleBinding).
    #[arg(long, env = "TUSK_PROOF_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The server's process id, for its RSS.
    #[arg(long)]
    pub pid: u32,
    /// As given to seed-sql.
    #[arg(long)]
    pub bindings: usize,
    #[arg(long)]
    pub tokens: usize,
    #[arg(long, default_value_t = 20)]
    pub writes: usize,
    /// Concurrent first checks after the start.
    #[arg(long, default_value_t = 16)]
    pub cold: usize,
}

/// Against a server seeded by `seed-sql` and just started: `cold`
/// concurrent first checks, every seeded token used once, then `writes`
/// times a ModifyRoleBinding on a seeded repo and the Authorize right
/// after it on that repo; prints latencies and RSS.
pub async fn scale(a: ScaleArgs) -> anyhow::Result<bool> {
    let ch = channel(&a.address)?;
    println!("bindings: {}", a.bindings);
    println!("tokens: {}", a.tokens);
    println!("rss_start: {:.1} MB", rss_mb(a.pid)?);
    anyhow::ensure!(a.bindings > 0, "--bindings: give at least 1");
    let authorize = |i: usize| {
        let ch = ch.clone();
        async move {
            let token = seeded_token(i % a.tokens.max(1));
            let r = ApiClient::new(ch)
                .authorize(authed(
                    AuthorizeRequest {
                        resource: repo(&seeded_repo(i % a.bindings)),
                        permissions: vec![REPO_READ],
                    },
                    &token,
                )?)
                .await?
                .into_inner();
            anyhow::Ok(r.authorized)
        }
    };
    // Cold: the first checks after a start, all at once.
    let t = Instant::now();
    let cold: Vec<_> = (0..a.cold.max(1))
        .map(|i| tokio::spawn(authorize(i)))
        .collect();
    for c in cold {
        let authorized = c.await??;
        anyhow::ensure!(authorized, "a seeded user was refused on their own repo");
    }
    println!(
        "cold_checks: {} concurrent in {}",
        a.cold.max(1),
        ms(t.elapsed())
    );
    println!("rss_after_cold: {:.1} MB", rss_mb(a.pid)?);
    // Every token once, 64 at a time, so all are live in the caches.
    let t = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (ch, next) = (ch.clone(), next.clone());
            let tokens = a.tokens;
            tokio::spawn(async move {
                let mut api = ApiClient::new(ch);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= tokens {
                        return anyhow::Ok(());
                    }
                    api.who_am_i(authed(WhoAmIRequest {}, &seeded_token(i))?)
                        .await?;
                }
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    println!("tokens_used: {} in {}", a.tokens, ms(t.elapsed()));
    println!("rss_after_tokens: {:.1} MB", rss_mb(a.pid)?);
    let mut admin = ApiClient::new(ch.clone());
    let (mut writes, mut nexts) = (Vec::new(), Vec::new());
    for w in 0..a.writes.max(1) {
        let i = (w * 7919) % a.bindings;
        let t = Instant::now();
        admin
            .modify_role_binding(authed(
                ModifyRoleBindingRequest {
                    resource: repo(&seeded_repo(i)),
                    principal: format!("user:bench-writer-{w}@example.com"),
                    roles: vec!["repoReader".into()],
                },
                &a.token,
            )?)
            .await
            .context("ModifyRoleBinding")?;
        writes.push(t.elapsed());
        let t = Instant::now();
        anyhow::ensure!(
            authorize(i).await?,
            "a seeded user was refused after a write"
        );
        nexts.push(t.elapsed());
    }
    println!("write_first: {}", ms(writes[0]));
    println!("authorize_after_write_first: {}", ms(nexts[0]));
    writes.sort();
    nexts.sort();
    println!(
        "write: p50 {} p99 {} ({} writes)",
        ms(percentile(&writes, 50.0)),
        ms(percentile(&writes, 99.0)),
        writes.len()
    );
    println!(
        "authorize_after_write: p50 {} p99 {}",
        ms(percentile(&nexts, 50.0)),
        ms(percentile(&nexts, 99.0))
    );
    println!("rss_end: {:.1} MB", rss_mb(a.pid)?);
    Ok(true)
}
