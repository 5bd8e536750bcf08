//! `tusk-proof`: drives running tusk servers to measure the claims the
//! README's "Proofs" section makes. Layout:
//! - `login`: one browser-less login (mock password form, code + PKCE).
//! - `load`: many logins at once, spread over replicas.
//! - `race`: one code redeemed on two replicas at the same time.
//! - `writes`: acknowledged role-binding writes, and their check after a fault.
//! - `auth_bench`: the auth plane over gRPC: throughput next to GetVersion,
//!   and the scale run (seeded bindings and tokens, writes, RSS).
//! - `bare_http`: a bare hyper server, the transport baseline of
//!   `scripts/bench-oidc`.
//! - `stats`: percentiles.
//!
//! Every subcommand prints `key: value` lines that the scripts in
//! `scripts/proof-*` show as the figures, and exits 1 when the claim fails.

mod auth_bench;
mod bare_http;
mod client;
mod load;
mod login;
mod race;
mod secrets;
mod stats;
mod writes;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "tusk-proof",
    about = "Measure tusk's load, race and fault claims against running servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Concurrent logins (form + code exchange with PKCE); prints successes,
    /// errors, p50/p99 and throughput.
    Load {
        #[arg(long, default_value_t = 1000)]
        logins: usize,
        #[arg(long, default_value_t = 100)]
        concurrency: usize,
        /// Issuer URLs (repeat or comma-separate); login i starts on issuer i
        /// and redeems its code on issuer i+1, so replicas share the work.
        #[arg(long = "issuer", value_delimiter = ',', required = true)]
        issuers: Vec<String>,
        #[command(flatten)]
        client: client::Client,
    },
    /// One authorization code redeemed concurrently on two replicas, many
    /// times; counts iterations with exactly one success.
    Race {
        #[arg(long, default_value_t = 10_000)]
        iterations: usize,
        /// Iterations in flight at once (each is itself a race of two).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// The two replicas' issuer URLs.
        #[arg(long, value_delimiter = ',', num_args = 1.., required = true)]
        issuers: Vec<String>,
        #[command(flatten)]
        client: client::Client,
    },
    /// Role-binding writes (`projectViewer` on project `default` for
    /// `user:proof-<run>-<i>`);
    /// each acknowledged write is appended to FILE and flushed before the
    /// next one starts.
    Writes {
        /// gRPC address, e.g. http://127.0.0.1:30650.
        #[arg(long)]
        address: String,
        #[arg(long, env = "TUSK_PROOF_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Where acknowledged writes are recorded, one principal a line.
        #[arg(long)]
        acks: std::path::PathBuf,
        /// Keep writing after a failed write (a fault is expected); stop
        /// after this many consecutive failures.
        #[arg(long, default_value_t = 0)]
        tolerate: usize,
    },
    /// One login through every path that handles a secret (code, refresh,
    /// userinfo, introspection, revocation, replays, Pachyderm's OIDC login
    /// and a robot token); writes every secret and token used to
    /// DIR/secrets and every error answer to DIR/bodies, for a scan.
    Secrets {
        #[arg(long)]
        issuer: String,
        /// gRPC address of the same server, e.g. http://127.0.0.1:30650.
        #[arg(long)]
        address: String,
        #[arg(long, env = "TUSK_PROOF_TOKEN", hide_env_values = true)]
        token: String,
        /// Connector ids to log in through (each a password connector).
        #[arg(long, value_delimiter = ',', default_value = "mock")]
        connectors: Vec<String>,
        #[arg(long)]
        out: std::path::PathBuf,
        #[command(flatten)]
        client: client::Client,
    },
    /// WhoAmI and Authorize throughput next to grpc.health.v1/Check (the
    /// transport's own cost), in alternating rounds; prints req/s, medians
    /// and ratios.
    GrpcLoad {
        /// gRPC address, e.g. http://127.0.0.1:30650.
        #[arg(long)]
        address: String,
        /// A token holding PROJECT_LIST_REPO on project `default` (root's).
        #[arg(long, env = "TUSK_PROOF_TOKEN", hide_env_values = true)]
        token: String,
        /// Seconds per measured run.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Calls in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// HTTP/2 connections the calls are spread over.
        #[arg(long, default_value_t = 4)]
        connections: usize,
    },
    /// Prints SQL that seeds a stopped server's SQLite store (DATA_DIR/tusk.db)
    /// with N repo bindings under project `default` and N tokens, for `scale`.
    SeedSql {
        #[arg(long)]
        bindings: usize,
        #[arg(long)]
        tokens: usize,
    },
    /// Against a server seeded by `seed-sql`, just started: concurrent cold
    /// checks, every token used once, then ModifyRoleBinding and the next
    /// Authorize, each timed; and the server's RSS along the way.
    Scale(auth_bench::ScaleArgs),
    /// A bare hyper server answering one fixed JSON body to every request:
    /// the transport baseline `scripts/bench-oidc` measures tusk against.
    BareHttp {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
    /// Re-reads the `default` project's role binding and checks every acknowledged write
    /// in FILE is there.
    Verify {
        #[arg(long)]
        address: String,
        #[arg(long, env = "TUSK_PROOF_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long)]
        acks: std::path::PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Load {
            logins,
            concurrency,
            issuers,
            client,
        } => load::run(logins, concurrency, issuers, client).await,
        Command::Race {
            iterations,
            concurrency,
            issuers,
            client,
        } => race::run(iterations, concurrency, issuers, client).await,
        Command::Writes {
            address,
            token,
            count,
            acks,
            tolerate,
        } => writes::write(&address, &token, count, &acks, tolerate).await,
        Command::Secrets {
            issuer,
            address,
            token,
            connectors,
            out,
            client,
        } => secrets::run(&issuer, &address, &token, &connectors, &out, client).await,
        Command::GrpcLoad {
            address,
            token,
            duration,
            rounds,
            concurrency,
            connections,
        } => {
            auth_bench::grpc_load(auth_bench::LoadArgs {
                address,
                token,
                duration: std::time::Duration::from_secs_f64(duration.max(0.1)),
                rounds,
                concurrency,
                connections,
            })
            .await
        }
        Command::SeedSql { bindings, tokens } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            auth_bench::seed_sql(bindings, tokens, &mut out).map(|()| true)
        }
        Command::Scale(args) => auth_bench::scale(args).await,
        Command::BareHttp { listen } => bare_http::run(&listen).await,
        Command::Verify {
            address,
            token,
            acks,
        } => writes::verify(&address, &token, &acks).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
