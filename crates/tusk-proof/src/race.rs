//! One code, two replicas, two redemptions at the same instant: exactly one
//! may succeed (RFC 6749 §4.1.2: a code is single-use).

use crate::client::Client;
use crate::login;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Tally {
    exactly_one: AtomicUsize,
    none: AtomicUsize,
    both: AtomicUsize,
    login_failed: AtomicUsize,
    transport: AtomicUsize,
    /// The two answers' statuses (sorted) of every iteration that did not
    /// end with exactly one success, so a failure shows what went wrong.
    odd: Mutex<BTreeMap<(u16, u16), usize>>,
}

pub async fn run(
    iterations: usize,
    concurrency: usize,
    issuers: Vec<String>,
    client: Client,
) -> anyhow::Result<bool> {
    anyhow::ensure!(
        issuers.len() == 2,
        "--issuers: give exactly two issuer URLs (one per replica), comma-separated; got {}",
        issuers.len()
    );
    let http = login::http();
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicUsize::new(0));
    let issuers = Arc::new(issuers);
    let client = Arc::new(client);
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (http, tally, next, issuers, client) = (
            http.clone(),
            tally.clone(),
            next.clone(),
            issuers.clone(),
            client.clone(),
        );
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < iterations {
                let Ok(code) = login::code(&http, &issuers[0], &client).await else {
                    tally.login_failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                // Both requests are built and sent together, one per replica.
                let (a, b) = tokio::join!(
                    login::exchange(&http, &issuers[0], &client, &code),
                    login::exchange(&http, &issuers[1], &client, &code),
                );
                let (Ok(a), Ok(b)) = (a, b) else {
                    tally.transport.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let wins = [a, b]
                    .iter()
                    .filter(|s| **s == reqwest::StatusCode::OK)
                    .count();
                if wins != 1 {
                    let (x, y) = (a.as_u16().min(b.as_u16()), a.as_u16().max(b.as_u16()));
                    if let Ok(mut odd) = tally.odd.lock() {
                        *odd.entry((x, y)).or_default() += 1;
                    }
                }
                let slot = match wins {
                    1 => &tally.exactly_one,
                    0 => &tally.none,
                    _ => &tally.both,
                };
                slot.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    let get = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    println!("iterations: {iterations}");
    println!("exactly_one_success: {}", get(&tally.exactly_one));
    // Never two successes is the safety half of the claim; a race where
    // both are refused is the replay rule (RFC 6749 §4.1.2: a replayed code
    // revokes what it issued) reaching the winner before it answered.
    println!("never_two_successes: {}", get(&tally.both) == 0);
    println!("both_succeeded: {}", get(&tally.both));
    println!("none_succeeded: {}", get(&tally.none));
    println!("login_failed: {}", get(&tally.login_failed));
    println!("transport_errors: {}", get(&tally.transport));
    if let Ok(odd) = tally.odd.lock() {
        for ((a, b), n) in odd.iter() {
            println!("  statuses {a}+{b}: {n}");
        }
    }
    Ok(get(&tally.exactly_one) == iterations)
}
