//! Many logins at once over one or more replicas.

use crate::client::Client;
use crate::login::{self, Failure};
use crate::stats::{ms, percentile};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub async fn run(
    logins: usize,
    concurrency: usize,
    issuers: Vec<String>,
    client: Client,
) -> anyhow::Result<bool> {
    anyhow::ensure!(
        !issuers.is_empty(),
        "--issuer: give at least one issuer URL"
    );
    let http = login::http();
    let next = Arc::new(AtomicUsize::new(0));
    let issuers = Arc::new(issuers);
    let client = Arc::new(client);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (http, next, issuers, client) =
            (http.clone(), next.clone(), issuers.clone(), client.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut failures = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= logins {
                    break;
                }
                let t = Instant::now();
                let start = &issuers[i % issuers.len()];
                let redeem = &issuers[(i + 1) % issuers.len()];
                let result = async {
                    let code = login::code(&http, start, &client).await?;
                    match login::exchange(&http, redeem, &client, &code).await? {
                        s if s == reqwest::StatusCode::OK => Ok(()),
                        s => Err(Failure {
                            step: "token",
                            status: Some(s.as_u16()),
                        }),
                    }
                }
                .await;
                match result {
                    Ok(()) => times.push(t.elapsed()),
                    Err(f) => failures.push(f),
                }
            }
            (times, failures)
        }));
    }
    let mut times: Vec<Duration> = Vec::new();
    let mut failures: BTreeMap<Failure, usize> = BTreeMap::new();
    for w in workers {
        let (t, f) = w.await?;
        times.extend(t);
        for f in f {
            *failures.entry(f).or_default() += 1;
        }
    }
    let wall = started.elapsed();
    times.sort();
    let errors: usize = failures.values().sum();
    let five_xx: usize = failures
        .iter()
        .filter(|(f, _)| f.is_5xx())
        .map(|(_, n)| n)
        .sum();
    println!("logins: {logins}");
    println!("concurrency: {concurrency}");
    println!("replicas: {}", issuers.len());
    println!("successes: {}", times.len());
    println!("errors: {errors}");
    println!("errors_5xx: {five_xx}");
    for (f, n) in &failures {
        println!("  error {f}: {n}");
    }
    println!("p50: {}", ms(percentile(&times, 50.0)));
    println!("p99: {}", ms(percentile(&times, 99.0)));
    println!("wall: {:.2} s", wall.as_secs_f64());
    println!(
        "throughput: {:.1} logins/s",
        times.len() as f64 / wall.as_secs_f64().max(f64::EPSILON)
    );
    Ok(errors == 0)
}
