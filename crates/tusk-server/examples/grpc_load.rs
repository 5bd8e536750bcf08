//! Load script for the auth plane's hot RPCs over real gRPC.
//!
//! Starts tusk in-process on 127.0.0.1:0 (memory store, Pachyderm-shaped
//! bindings), then drives `grpc.health.v1/Check` (the baseline: same
//! transport, no auth work), `auth_v2/WhoAmI` and `auth_v2/Authorize` for a
//! bounded time each, with a few concurrent HTTP/2 streams, and prints
//! requests per second and the ratio to the baseline.
//!
//! cargo run --release -p tusk-server --example grpc_load [seconds] [concurrency]

// A load script that cannot set up has nothing to report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::metadata::MetadataValue;
use tusk_proto::auth_v2::{self as pb, api_client::ApiClient};
use tusk_server::{AuthPlane, ServerOptions};
use tusk_store::{GroupMembership, RoleBinding, Store};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let concurrency: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(8);

    let store = Store::memory();
    let svc = tusk_auth::AuthService::new(
        store.clone(),
        Arc::new(tusk_core::clock::SystemClock),
        Default::default(),
        None,
    );
    svc.activate(None).await.unwrap();
    let set = |r: &str| BTreeSet::from([r.to_owned()]);
    for p in 0..100 {
        let mut b = BTreeMap::new();
        b.insert(format!("group:team{p}"), set("projectWriter"));
        store
            .put(&RoleBinding {
                id: format!("PROJECT:project{p}"),
                entries: b,
            })
            .await
            .unwrap();
        for r in 0..10 {
            let mut rb = BTreeMap::new();
            rb.insert(
                format!("user:user{}@example.com", (p * 10 + r) % 1000),
                set("repoWriter"),
            );
            store
                .put(&RoleBinding {
                    id: format!("REPO:project{p}/repo{r}"),
                    entries: rb,
                })
                .await
                .unwrap();
        }
    }
    for u in 0..1000 {
        let groups = (0..3)
            .map(|g| format!("group:team{}", (u + g * 31) % 100))
            .collect();
        store
            .put(&GroupMembership {
                id: format!("user:user{u}@example.com"),
                groups,
            })
            .await
            .unwrap();
    }
    let token = svc.mint("user:user427@example.com", None).await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ServerOptions {
        auth: Some(AuthPlane {
            service: svc,
            managed: Default::default(),
        }),
        ..ServerOptions::new(format!("http://{addr}/dex"))
    };
    tokio::spawn(tusk_server::run(
        options,
        store,
        listener,
        std::future::pending(),
    ));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token: MetadataValue<_> = token.parse().unwrap();

    let run =
        |name: &'static str,
         call: Arc<dyn Fn() -> futures::future::BoxFuture<'static, bool> + Send + Sync>| async move {
            let done = Arc::new(AtomicU64::new(0));
            let failed = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let mut tasks = Vec::new();
            for _ in 0..concurrency {
                let (call, done, failed) = (call.clone(), done.clone(), failed.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        if call().await {
                            done.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            let rps = done.load(Ordering::Relaxed) as f64 / seconds as f64;
            (name, rps, failed.load(Ordering::Relaxed))
        };

    let health = {
        let ch = channel.clone();
        Arc::new(move || {
            let mut c = tonic_health::pb::health_client::HealthClient::new(ch.clone());
            Box::pin(async move {
                c.check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .is_ok()
            }) as futures::future::BoxFuture<'static, bool>
        })
    };
    let whoami = {
        let (ch, token) = (channel.clone(), token.clone());
        Arc::new(move || {
            let mut c = ApiClient::new(ch.clone());
            let mut req = tonic::Request::new(pb::WhoAmIRequest {});
            req.metadata_mut().insert("authn-token", token.clone());
            Box::pin(async move { c.who_am_i(req).await.is_ok() })
                as futures::future::BoxFuture<'static, bool>
        })
    };
    let authorize = {
        let (ch, token) = (channel.clone(), token.clone());
        Arc::new(move || {
            let mut c = ApiClient::new(ch.clone());
            let mut req = tonic::Request::new(pb::AuthorizeRequest {
                resource: Some(pb::Resource {
                    r#type: pb::ResourceType::Repo as i32,
                    name: "project42/repo7".into(),
                }),
                permissions: vec![
                    pb::Permission::RepoWrite as i32,
                    pb::Permission::RepoRead as i32,
                ],
            });
            req.metadata_mut().insert("authn-token", token.clone());
            Box::pin(async move { c.authorize(req).await.is_ok() })
                as futures::future::BoxFuture<'static, bool>
        })
    };

    let baseline = run("grpc.health.v1/Check (baseline)", health).await;
    let results = [
        run("auth_v2/WhoAmI", whoami).await,
        run("auth_v2/Authorize", authorize).await,
    ];
    println!(
        "{seconds} s per RPC, {concurrency} concurrent streams on one HTTP/2 connection, server and client in one process"
    );
    println!(
        "{:<36} {:>12} {:>8} {:>8}",
        "rpc", "req/s", "failed", "ratio"
    );
    println!(
        "{:<36} {:>12.0} {:>8} {:>8.2}",
        baseline.0, baseline.1, baseline.2, 1.0
    );
    for (name, rps, failed) in results {
        println!(
            "{name:<36} {rps:>12.0} {failed:>8} {:>8.2}",
            rps / baseline.1.max(1.0)
        );
    }
}
