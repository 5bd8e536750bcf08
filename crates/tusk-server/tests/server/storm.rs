//! Issue 16, item 4: a storm of password guesses cannot starve the server.
//! Password hashes run on the provider's bounded pool; once its workers
//! are busy and its queue is full, the password form answers 429 with
//! `Retry-After` at once, without checking the password and without
//! counting the attempt against the account, and a real login afterwards
//! gets in. No timing: the test holds the pool's one worker itself, so
//! which requests are queued and which are refused is exact.

use super::*;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use tusk_core::clock::Clock;
use tusk_oidc::{ConnectorConfig, HashPoolSize, Provider, Settings};
use tusk_server::ratelimit::RateLimits;
use tusk_store::OidcClient;

/// Dex's example bcrypt hash, of the password `password`.
const HASH: &str = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W";
const QUEUE: usize = 2;
const EXCESS: usize = 6;

/// A gate the job holding the pool's worker waits at.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn wait(&self) {
        let (open, cv) = &*self.0;
        let mut g = open.lock().unwrap();
        while !*g {
            g = cv.wait(g).unwrap();
        }
    }
    fn open(&self) {
        let (open, cv) = &*self.0;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
}

async fn start() -> (Server, String, Arc<Provider>) {
    let port = Port::bind().await.unwrap();
    let issuer = port.issuer();
    let store = Store::memory();
    let clock = tusk_testkit::clock_now();
    let mut settings = Settings::new(&issuer);
    settings.password_hashing = HashPoolSize {
        workers: Some(1),
        queue: Some(QUEUE),
    };
    tusk_testkit::install_signing_key(&store, &settings, clock.now())
        .await
        .unwrap();
    let connectors = [ConnectorConfig {
        id: "local".into(),
        name: "Local".into(),
        kind: "local".into(),
        config: json!({"users": [{"email": "alice@example.com", "hash": HASH}]}),
    }];
    let provider = Provider::new(settings, store.clone(), clock, &connectors)
        .await
        .unwrap();
    provider
        .seed_clients(&[OidcClient {
            id: "app".into(),
            secret: Secret::new("app-secret".into()),
            name: "App".into(),
            redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
            trusted: true,
            ..Default::default()
        }])
        .await
        .unwrap();
    let options = ServerOptions {
        provider: Some(provider.clone()),
        // The per-address limit would answer the flood itself; this test
        // is about the pool.
        rate_limits: RateLimits {
            password_per_minute: 0,
            ..RateLimits::default()
        },
        ..ServerOptions::new(issuer.clone())
    };
    (TestServer::start_on(port, store, options), issuer, provider)
}

fn client() -> reqwest::Client {
    crate::browser_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login_state(c: &reqwest::Client, issuer: &str) -> String {
    let resp = c
        .get(format!(
            "{issuer}/auth?client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{resp:?}");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "req")
        .unwrap()
        .1
        .into_owned()
}

async fn post(c: &reqwest::Client, issuer: &str, state: &str, password: &str) -> reqwest::Response {
    c.post(format!("{issuer}/auth/local/login?state={state}"))
        .body(format!("login=alice%40example.com&password={password}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_flood_beyond_the_hashing_queue_gets_429_and_the_owner_still_logs_in() {
    let (server, issuer, provider) = start().await;
    let c = client();
    let state = login_state(&c, &issuer).await;

    // Hold the pool's only worker, so the flood can only queue.
    let gate = Gate::default();
    let (started_tx, started) = mpsc::channel();
    let holder = {
        let gate = gate.clone();
        provider
            .password_hashing()
            .submit(move || {
                started_tx.send(()).unwrap();
                gate.wait();
            })
            .unwrap()
    };
    started.recv().unwrap();

    // Wrong passwords for alice's account, all at once, from one address.
    let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..QUEUE + EXCESS {
        let (c, issuer, state, done_tx) =
            (c.clone(), issuer.clone(), state.clone(), done_tx.clone());
        tokio::spawn(async move {
            let resp = post(&c, &issuer, &state, &format!("guess{i}")).await;
            let status = resp.status();
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = resp.text().await.unwrap();
            done_tx.send((status, retry, body)).unwrap();
        });
    }
    // The excess is refused while the worker is still held: at once, with
    // a wait to retry after, in plain words.
    for _ in 0..EXCESS {
        let (status, retry, body) = tokio::time::timeout(IO_GUARD, done.recv())
            .await
            .expect("a refusal must not wait for the pool")
            .unwrap();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        let secs: u64 = retry.expect("Retry-After").parse().unwrap();
        assert!(secs >= 1, "{secs}");
        assert!(body.contains("busy"), "{body}");
        assert!(!body.contains("guess"), "{body}");
    }
    gate.open();
    holder.await.unwrap();
    // The queued guesses are checked once the worker is free: wrong.
    for _ in 0..QUEUE {
        let (status, _, body) = tokio::time::timeout(IO_GUARD, done.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }

    // Refusals are not failed guesses: two wrong passwords are under the
    // account's free guesses, so the owner gets in from the same address.
    let resp = post(&c, &issuer, &state, "password").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("http://127.0.0.1:9/cb?code="),
        "{resp:?}"
    );
    server.stop().await.unwrap();
}
