//! The hot path of every authorized RPC, on a Pachyderm-shaped data set:
//! 1,000 users, 100 groups, 100 projects, 1,000 repos.
//!
//! `baseline/sha256` (hashing one token, which every check must do) is the
//! yardstick: the other figures are read as multiples of it.
//!
//! With `TUSK_CHECK_LOOP=N` it runs N in-process Authorize calls from warm
//! caches instead of Criterion, for instruction counts that do not depend
//! on the machine's load: `scripts/bench-auth instructions` runs it under
//! callgrind at two values of N and prints the instructions per call.

// A benchmark that cannot set up its data set has nothing to measure.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hint::black_box;
use std::sync::Arc;
use tusk_auth::{AuthService, AuthSettings};
use tusk_core::auth::{Binding, CompiledBinding, Permission, Resource, ResourceType, evaluate};
use tusk_store::{GroupMembership, RoleBinding, Store};

fn user(i: usize) -> String {
    format!("user:user{i}@example.com")
}

fn group(i: usize) -> String {
    format!("group:team{i}")
}

fn bindings() -> Vec<(String, Binding)> {
    let set = |roles: &[&str]| {
        roles
            .iter()
            .map(|r| (*r).to_owned())
            .collect::<BTreeSet<_>>()
    };
    let mut out = vec![(
        "CLUSTER:".to_owned(),
        BTreeMap::from([
            ("pach:root".to_owned(), set(&["clusterAdmin"])),
            ("allClusterUsers".to_owned(), set(&["projectCreator"])),
            (user(0), set(&["clusterAdmin"])),
        ]),
    )];
    for p in 0..100 {
        let mut b = Binding::new();
        for k in 0..5 {
            b.insert(user((p * 7 + k) % 1000), set(&["projectWriter"]));
        }
        b.insert(group(p), set(&["projectViewer"]));
        b.insert(group((p + 1) % 100), set(&["repoReader"]));
        out.push((format!("PROJECT:project{p}"), b));
        for r in 0..10 {
            let mut rb = Binding::new();
            for k in 0..3 {
                rb.insert(user((p * 10 + r + k * 333) % 1000), set(&["repoWriter"]));
            }
            rb.insert(group((p + r) % 100), set(&["repoReader"]));
            out.push((format!("REPO:project{p}/repo{r}"), rb));
        }
    }
    out
}

fn pure(c: &mut Criterion) {
    let compiled: HashMap<String, CompiledBinding> = bindings()
        .iter()
        .map(|(k, b)| (k.clone(), CompiledBinding::compile(b)))
        .collect();
    let groups: Vec<String> = (0..3).map(|g| group((42 + g * 31) % 100)).collect();
    let repo = Resource {
        kind: ResourceType::Repo,
        name: "project42/repo7".into(),
    };
    let write = [Permission::from_name("REPO_WRITE").unwrap_or(Permission(0))];
    let mut g = c.benchmark_group("check");
    g.bench_function("baseline/sha256", |b| {
        b.iter(|| tusk_store::hash_token(black_box("0123456789abcdef0123456789abcdef")))
    });
    g.bench_function("evaluate/repo-write-denied-after-3-bindings", |b| {
        b.iter(|| {
            evaluate(
                black_box("user:user999@example.com"),
                &groups,
                &repo,
                &write,
                |k| compiled.get(k),
            )
        })
    });
    let admin = Resource::cluster();
    let perm = [Permission::from_name("CLUSTER_AUTH_GET_CONFIG").unwrap_or(Permission(0))];
    g.bench_function("evaluate/cluster-admin", |b| {
        b.iter(|| evaluate(black_box(&user(0)), &[], &admin, &perm, |k| compiled.get(k)))
    });

    // Through the service: token check and permission check from the caches.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (svc, token) = service(&rt);
    // Warm every cache, then poll each check once: from the caches it
    // completes without waiting, as it does inside a gRPC handler, so the
    // figure is the check's own cost, not a runtime's block_on.
    authorize(&svc, &token, &repo, &write).unwrap();
    g.bench_function("service/whoami-cached", |b| {
        b.iter(|| ready(svc.authenticate(Some(black_box(&token)))))
    });
    g.bench_function("service/authorize-cached", |b| {
        b.iter(|| authorize(&svc, black_box(&token), &repo, &write))
    });
    g.bench_function("service/authorize-cached-block_on", |b| {
        b.iter(|| {
            rt.block_on(async {
                let caller = svc.authenticate(Some(black_box(&token))).await?;
                svc.evaluate(&caller.subject, &repo, &write).await
            })
        })
    });
    g.finish();
}

/// One Authorize as a gRPC handler runs it: the token check, then the
/// permission check, from warm caches.
fn authorize(
    svc: &AuthService,
    token: &str,
    repo: &Resource,
    write: &[Permission],
) -> Result<tusk_core::auth::Evaluation, tusk_auth::AuthError> {
    ready(async {
        let caller = svc.authenticate(Some(token)).await?;
        svc.evaluate(&caller.subject, repo, write).await
    })
}

/// The service over a memory store holding the data set, and a token of
/// user 42's.
fn service(rt: &tokio::runtime::Runtime) -> (Arc<AuthService>, String) {
    rt.block_on(async {
        let store = Store::memory();
        let svc = AuthService::new(
            store.clone(),
            Arc::new(tusk_core::clock::SystemClock),
            AuthSettings::default(),
            None,
        );
        svc.activate(None).await.unwrap_or_else(|e| panic!("{e}"));
        for (id, entries) in bindings() {
            store
                .put(&RoleBinding { id, entries })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for u in 0..1000 {
            let groups = (0..3).map(|g| group((u + g * 31) % 100)).collect();
            store
                .put(&GroupMembership {
                    id: user(u),
                    groups,
                })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let token = svc
            .mint(&user(42), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (svc, token)
    })
}

/// `TUSK_CHECK_LOOP=N`: N calls of `TUSK_CHECK` (default `authorize`:
/// user 42's REPO_WRITE on project42/repo7, denied after reading three
/// bindings; `whoami`: the token check alone; `sha256`: the token's hash
/// alone), nothing else.
fn check_loop(n: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (svc, token) = service(&rt);
    let repo = Resource {
        kind: ResourceType::Repo,
        name: "project42/repo7".into(),
    };
    let write = [Permission::REPO_WRITE];
    authorize(&svc, &token, &repo, &write).unwrap();
    let what = std::env::var("TUSK_CHECK").unwrap_or_else(|_| "authorize".into());
    let mut count = 0u64;
    for _ in 0..n {
        count += match what.as_str() {
            "authorize" => {
                let e = authorize(&svc, black_box(&token), black_box(&repo), &write).unwrap();
                u64::from(!e.authorized())
            }
            "whoami" => {
                let c = ready(svc.authenticate(Some(black_box(&token)))).unwrap();
                u64::from(c.expires_at.is_none())
            }
            "sha256" => u64::from(tusk_store::token_digest(black_box(&token))[0] & 1),
            other => panic!("TUSK_CHECK={other}: use authorize, whoami or sha256"),
        };
    }
    println!("{what}: {n} calls ({count})");
}

/// The output of a future that must complete on its first poll (a check
/// answered from warm caches).
fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("a cached check waited: the caches were not warm"),
    }
}

criterion_group!(benches, pure);

fn main() {
    if let Some(n) = std::env::var("TUSK_CHECK_LOOP")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        check_loop(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
