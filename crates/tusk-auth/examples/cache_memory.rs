//! Where the auth plane's caches spend memory at scale (issue 16, item 3):
//! N repo role bindings (each one user as repoWriter, as `tusk-proof
//! seed-sql` writes them) and N tokens in the memory store, then the full
//! binding load, every token checked once and one permission check per user.
//! Each step prints the RSS it added per entry (the allocator keeps a
//! step's peak resident, so that is what a server pays); run it under
//! `valgrind --tool=massif` for the allocation sites (the workspace forbids
//! the `unsafe` a counting allocator would need).
//!
//!   cargo run --release -p tusk-auth --example cache_memory -- 100000

// An example that cannot set up its data set has nothing to measure.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tusk_auth::{AuthService, AuthSettings};
use tusk_core::auth::{Permission, Resource, ResourceType};
use tusk_store::{AuthToken, RoleBinding, Store, hash_token};

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs one step and prints the RSS it added, per entry.
async fn step<F: std::future::Future<Output = ()>>(name: &str, n: usize, f: F) {
    let before = rss_mb();
    f.await;
    let after = rss_mb();
    println!(
        "{name}: rss {before:.1} -> {after:.1} MB (+{:.0} B each)",
        (after - before) * 1048576.0 / n.max(1) as f64
    );
}

fn token(i: usize) -> String {
    format!("bench-token-{i:08}")
}

fn user(i: usize) -> String {
    format!("user:u{i}@example.com")
}

fn repo(i: usize) -> String {
    format!("default/r{i}")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().expect("N: a number of bindings"));
    let store = Store::memory();
    let svc = AuthService::new(
        store.clone(),
        Arc::new(tusk_core::clock::SystemClock),
        AuthSettings::default(),
        None,
    );
    svc.activate(None).await.unwrap();
    svc.store()
        .put(&RoleBinding {
            id: "PROJECT:default".into(),
            entries: BTreeMap::new(),
        })
        .await
        .unwrap();
    step("seed the store (not the cache)", n, async {
        for i in 0..n {
            let entries = BTreeMap::from([(user(i), BTreeSet::from(["repoWriter".to_owned()]))]);
            store
                .put(&RoleBinding {
                    id: format!("REPO:{}", repo(i)),
                    entries,
                })
                .await
                .unwrap();
            store
                .put(&AuthToken {
                    id: hash_token(&token(i)),
                    subject: user(i),
                    expires_at: None,
                    created_at: 0,
                })
                .await
                .unwrap();
        }
    })
    .await;
    // Changes from seeding dropped the set: this is the cold load.
    svc.cache().clear();
    step("binding set: cold load of every binding", n, async {
        let set = svc.cache().bindings().await.unwrap();
        assert!(set.len() > n);
    })
    .await;
    step("token cache: every token checked once", n, async {
        for i in 0..n {
            svc.authenticate(Some(&token(i))).await.unwrap();
        }
    })
    .await;
    let read = [Permission::REPO_READ];
    step("groups cache: one Authorize per user", n, async {
        for i in 0..n {
            let r = Resource {
                kind: ResourceType::Repo,
                name: repo(i),
            };
            let e = svc.evaluate(&user(i), &r, &read).await.unwrap();
            assert!(e.authorized());
        }
    })
    .await;
}
