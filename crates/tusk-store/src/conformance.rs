//! The behaviour every [`Backend`](crate::Backend) must show, as a suite
//! other crates run against their backend:
//!
//! ```text
//! #[tokio::test(flavor = "multi_thread")]
//! async fn conforms() {
//!     let result = tusk_store::conformance::run_all(|| async { Ok(Store::memory()) }).await;
//!     assert_eq!(result, Ok(()));
//! }
//! ```
//!
//! Concurrency cases use `tokio::spawn`; run them on a multi-thread runtime
//! so the races are real.

use crate::records::*;
use crate::{Error, Keyring, RawRecord, Record, Reencrypted, SealError, Store};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type CaseFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// One named check; `run` gets an empty store.
pub struct Case {
    pub name: &'static str,
    pub run: fn(Store) -> CaseFuture,
}

macro_rules! cases {
    ($($f:ident),* $(,)?) => {
        vec![$(Case { name: stringify!($f), run: |s| Box::pin($f(s)) }),*]
    };
}

pub fn cases() -> Vec<Case> {
    cases![
        crud,
        versions_and_cas,
        concurrent_updates,
        update_abort,
        gc,
        take_single_use,
        owners,
        paged_list,
        prefix_delete,
        corrupt,
        odd_keys,
        records_round_trip,
        sealed_round_trip,
        sealed_wrong_key,
        sealed_rotation_and_reencrypt,
        sealed_bound_to_its_row,
        sealed_legacy_plain_rows,
        audit_trail,
        batch_all_or_nothing,
        concurrent_batches,
    ]
}

/// Runs every case on a fresh store from `factory` and reports all
/// failures at once, one line per failed case.
pub async fn run_all<F, Fut>(mut factory: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Store, String>>,
{
    let all = cases();
    let mut failures = Vec::new();
    for case in &all {
        let outcome = match factory().await {
            Ok(store) => (case.run)(store).await,
            Err(e) => Err(format!("could not open a store: {e}")),
        };
        if let Err(e) = outcome {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} conformance cases failed:\n{}",
            failures.len(),
            all.len(),
            failures.join("\n")
        ))
    }
}

/// A record type that exists only for the suite.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Probe {
    pub id: String,
    pub owner: Option<String>,
    pub counter: i64,
    pub note: String,
    pub expires_at: Option<i64>,
}

impl Record for Probe {
    const KIND: &'static str = "conformance_probe";
    fn id(&self) -> String {
        self.id.clone()
    }
    fn owner(&self) -> Option<String> {
        self.owner.clone()
    }
    fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }
}

fn probe(id: &str) -> Probe {
    probe_with(id, None, None)
}

fn probe_with(id: &str, owner: Option<&str>, expires_at: Option<i64>) -> Probe {
    let owner = owner.map(str::to_owned);
    Probe {
        id: id.to_owned(),
        owner,
        expires_at,
        ..Probe::default()
    }
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

trait Ctx<T> {
    fn at(self, what: &str) -> Result<T, String>;
}

impl<T> Ctx<T> for Result<T, Error> {
    fn at(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: unexpected error: {e}"))
    }
}

fn eq<G: PartialEq<W> + Debug, W: Debug>(got: G, want: W, what: &str) -> Result<(), String> {
    ensure!(got == want, "{what}: got {got:?}, expected {want:?}");
    Ok(())
}

fn not_found<T: Debug>(r: Result<T, Error>, what: &str) -> Result<(), String> {
    match r {
        Err(Error::NotFound { .. }) => Ok(()),
        other => Err(format!("{what}: expected NotFound, got {other:?}")),
    }
}

/// Ids of the probes `list` returns, in its order.
async fn listed(s: &Store) -> Result<Vec<String>, String> {
    let all = s.list::<Probe>().await.at("list")?;
    Ok(all.into_iter().map(|p| p.id).collect())
}

async fn owned_by(s: &Store, owner: &str) -> Result<Vec<String>, String> {
    let all = s.list_by_owner::<Probe>(owner).await.at("list_by_owner")?;
    Ok(all.into_iter().map(|p| p.id).collect())
}

async fn increment(s: Store, id: &str) -> Result<Probe, Error> {
    s.update(id, |p: &mut Probe| {
        p.counter += 1;
        Ok(())
    })
    .await
}

async fn crud(s: Store) -> Result<(), String> {
    s.ping().await.at("ping")?;
    eq(
        listed(&s).await?,
        Vec::<String>::new(),
        "list of a new store",
    )?;
    let a = Probe {
        note: "first".into(),
        ..probe("a")
    };
    s.create(&probe("b")).await.at("create b")?;
    s.create(&a).await.at("create a")?;
    eq(
        s.get::<Probe>("a").await.at("get a")?,
        a,
        "get after create",
    )?;
    match s.create(&probe("a")).await {
        Err(Error::AlreadyExists {
            kind: Probe::KIND,
            id,
        }) if id == "a" => {}
        other => {
            return Err(format!(
                "second create: expected AlreadyExists, got {other:?}"
            ));
        }
    }
    not_found(s.get::<Probe>("missing").await, "get missing")?;
    eq(listed(&s).await?, ["a", "b"], "list must sort by id")?;

    s.put(&Probe {
        note: "put".into(),
        ..probe("a")
    })
    .await
    .at("put existing")?;
    eq(
        s.get::<Probe>("a").await.at("get")?.note,
        "put",
        "note after put",
    )?;
    s.put(&probe("c")).await.at("put new")?;
    eq(
        listed(&s).await?,
        ["a", "b", "c"],
        "list after put of a new id",
    )?;

    eq(
        increment(s.clone(), "a").await.at("update")?.counter,
        1,
        "update result",
    )?;
    eq(
        s.get::<Probe>("a").await.at("get")?.counter,
        1,
        "counter after update",
    )?;
    not_found(increment(s.clone(), "missing").await, "update missing")?;

    // The same id under another kind is another record.
    let token = AuthToken {
        id: "a".into(),
        subject: "user:x".into(),
        ..Default::default()
    };
    s.create(&token).await.at("create token a")?;
    s.delete::<Probe>("a").await.at("delete a")?;
    not_found(s.get::<Probe>("a").await, "get deleted")?;
    not_found(s.delete::<Probe>("a").await, "delete twice")?;
    eq(
        s.get::<AuthToken>("a").await.at("get token a")?,
        token,
        "other kind after delete",
    )
}

async fn versions_and_cas(s: Store) -> Result<(), String> {
    let (b, k) = (s.backend(), Probe::KIND);
    s.create(&probe("v")).await.at("create")?;
    eq(
        b.get(k, "v").await.at("get")?.version,
        1,
        "version after create",
    )?;
    s.put(&probe("v")).await.at("put")?;
    let mut next = b.get(k, "v").await.at("get")?;
    eq(next.version, 2, "version after put")?;
    next.data = r#"{"id":"v","note":"cas"}"#.into();
    let stale = b
        .compare_and_swap(k, "v", 1, next.clone())
        .await
        .at("cas")?;
    ensure!(!stale, "compare_and_swap with a stale version succeeded");
    ensure!(
        b.compare_and_swap(k, "v", 2, next).await.at("cas")?,
        "compare_and_swap failed"
    );
    let stored = b.get(k, "v").await.at("get")?;
    eq(
        stored.version,
        3,
        "version after compare_and_swap (expected + 1)",
    )?;
    eq(
        s.get::<Probe>("v").await.at("get")?.note,
        "cas",
        "data after compare_and_swap",
    )?;
    not_found(
        b.compare_and_swap(k, "nope", 1, stored).await,
        "cas on a missing record",
    )
}

async fn concurrent_updates(s: Store) -> Result<(), String> {
    const WRITERS: i64 = 20;
    s.create(&probe("counter")).await.at("create")?;
    // A second store over the same backend acts as another replica, so
    // writers race through compare-and-swap, not only the in-process lock.
    let replicas = [s.clone(), Store::from_arc(s.backend().clone())];
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..WRITERS {
        tasks.spawn(increment(replicas[i as usize % 2].clone(), "counter"));
    }
    while let Some(joined) = tasks.join_next().await {
        joined
            .map_err(|e| format!("updater task failed: {e}"))?
            .at("concurrent update")?;
    }
    let got = s.get::<Probe>("counter").await.at("get")?.counter;
    eq(
        got,
        WRITERS,
        "counter after concurrent increments (lost updates?)",
    )
}

async fn update_abort(s: Store) -> Result<(), String> {
    s.create(&Probe {
        counter: 7,
        ..probe("x")
    })
    .await
    .at("create")?;
    let before = s.backend().get(Probe::KIND, "x").await.at("get")?;
    let r = s
        .update("x", |p: &mut Probe| {
            p.counter = 8;
            Err(Error::Aborted("not allowed".into()))
        })
        .await;
    ensure!(
        matches!(r, Err(Error::Aborted(_))),
        "closure error must surface, got {r:?}"
    );
    let r = s
        .update("x", |p: &mut Probe| {
            p.id = "y".into();
            Ok(())
        })
        .await;
    ensure!(
        matches!(r, Err(Error::Aborted(_))),
        "changing the id must abort, got {r:?}"
    );
    let after = s.backend().get(Probe::KIND, "x").await.at("get")?;
    ensure!(after == before, "an aborted update changed the record");
    not_found(s.get::<Probe>("y").await, "renamed record")
}

async fn gc(s: Store) -> Result<(), String> {
    for (id, exp) in [
        ("e99", Some(99)),
        ("e100", Some(100)),
        ("e101", Some(101)),
        ("n", None),
    ] {
        s.create(&probe_with(id, None, exp)).await.at("create")?;
    }
    let code = AuthCode {
        id: "code".into(),
        expires_at: 50,
        ..Default::default()
    };
    s.create(&code).await.at("create code")?;
    eq(
        s.gc(100).await.at("gc")?,
        3,
        "records gc(100) removed (expiring 50, 99, 100)",
    )?;
    eq(listed(&s).await?, ["e101", "n"], "records left after gc")?;
    not_found(s.get::<AuthCode>("code").await, "gc must cover every kind")?;
    eq(s.gc(100).await.at("gc")?, 0, "records a second gc removed")
}

async fn take_single_use(s: Store) -> Result<(), String> {
    const TAKERS: usize = 50;
    let code = AuthCode {
        id: crate::hash_token("c"),
        expires_at: 1,
        ..Default::default()
    };
    s.create(&code).await.at("create")?;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TAKERS {
        let (s, id) = (s.clone(), code.id.clone());
        tasks.spawn(async move { s.take::<AuthCode>(&id).await });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(|e| format!("taker task failed: {e}"))? {
            Ok(c) => winners.push(c),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(format!("take: expected the record or NotFound, got {e}")),
        }
    }
    eq(winners, [code.clone()], "winners of 50 concurrent takes")?;
    not_found(s.get::<AuthCode>(&code.id).await, "get after take")
}

/// `list_page` pages through exactly what `list` returns, in its order,
/// with ids that sort differently by bytes than by letters.
async fn paged_list(s: Store) -> Result<(), String> {
    let ids = ["b", "a", "Z", "a/b", "a%", "\u{e9}", "a_", "b0", "\u{7f}"];
    for id in ids {
        s.create(&probe(id)).await.at("create")?;
    }
    // Another kind with the same ids is not in the pages.
    s.create(&AuthToken {
        id: "a0".into(),
        ..AuthToken::default()
    })
    .await
    .at("create token")?;
    let b = s.backend();
    let whole: Vec<String> = listed(&s).await?;
    for limit in [1, 2, 4, 100] {
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = b
                .list_page(Probe::KIND, after.as_deref(), limit)
                .await
                .at("list_page")?;
            ensure!(
                page.len() <= limit,
                "list_page({limit}) returned {} rows",
                page.len()
            );
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            paged.extend(page.into_iter().map(|r| r.id));
        }
        eq(&paged, &whole, &format!("ids paged {limit} at a time"))?;
    }
    eq(
        b.list_page(Probe::KIND, None, 0)
            .await
            .at("list_page")?
            .len(),
        0,
        "a page of 0",
    )?;
    // An `after` that is no record's id starts at the next id up.
    let from_a0: Vec<String> = b
        .list_page(Probe::KIND, Some("a0"), 100)
        .await
        .at("list_page")?
        .into_iter()
        .map(|r| r.id)
        .collect();
    eq(
        from_a0,
        ["a_", "b", "b0", "\u{7f}", "\u{e9}"],
        "page after a0",
    )?;
    let last = whole.last().cloned().unwrap_or_default();
    eq(
        b.list_page(Probe::KIND, Some(&last), 100)
            .await
            .at("list_page")?
            .len(),
        0,
        "page after the last id",
    )
}

async fn owners(s: Store) -> Result<(), String> {
    for (id, owner) in [
        ("a2", Some("al")),
        ("a1", Some("al")),
        ("b1", Some("bo")),
        ("n", None),
    ] {
        s.create(&probe_with(id, owner, None)).await.at("create")?;
    }
    eq(owned_by(&s, "al").await?, ["a1", "a2"], "list_by_owner")?;
    // Changing the owner must move the record between owner lists.
    let to_al = |p: &mut Probe| {
        p.owner = Some("al".into());
        Ok(())
    };
    s.update("b1", to_al).await.at("update owner")?;
    eq(
        owned_by(&s, "bo").await?,
        Vec::<String>::new(),
        "list_by_owner of the old owner",
    )?;
    eq(
        s.delete_by_owner::<Probe>("al").await.at("delete")?,
        3,
        "delete_by_owner count",
    )?;
    eq(
        s.delete_by_owner::<Probe>("x").await.at("delete")?,
        0,
        "delete_by_owner, no match",
    )?;
    eq(
        listed(&s).await?,
        ["n"],
        "records left after delete_by_owner",
    )?;
    let tok = |id: &str, subject: &str| AuthToken {
        id: id.into(),
        subject: subject.into(),
        ..Default::default()
    };
    s.create(&tok("t1", "user:a")).await.at("create")?;
    s.create(&tok("t2", "user:b")).await.at("create")?;
    eq(
        s.delete_by_owner::<AuthToken>("user:a")
            .await
            .at("revoke")?,
        1,
        "revoked tokens",
    )?;
    eq(
        s.list::<AuthToken>().await.at("list")?,
        [tok("t2", "user:b")],
        "tokens left",
    )
}

/// A parent and its children go in one step; ids that only look alike
/// (`%`, `_` are literal, a sibling with a longer name) stay.
async fn prefix_delete(s: Store) -> Result<(), String> {
    for id in ["P:a", "R:a/x", "R:a/y", "R:ab/x", "R:a_/x", "R:%/x", "P:ab"] {
        s.create(&probe(id)).await.at("create")?;
    }
    eq(
        s.delete_with_prefix::<Probe>("P:a", "R:a/")
            .await
            .at("delete_with_prefix")?,
        3,
        "delete_with_prefix count",
    )?;
    eq(
        listed(&s).await?,
        ["P:ab", "R:%/x", "R:a_/x", "R:ab/x"],
        "records left after delete_with_prefix",
    )?;
    eq(
        s.delete_with_prefix::<Probe>("P:zz", "R:%")
            .await
            .at("delete_with_prefix")?,
        1,
        "a wildcard character in the prefix is literal",
    )?;
    eq(
        s.delete_with_prefix::<Probe>("none", "none/")
            .await
            .at("delete_with_prefix")?,
        0,
        "delete_with_prefix, no match",
    )
}

async fn corrupt(s: Store) -> Result<(), String> {
    for (id, data) in [
        ("bad", "{not json"),
        ("typed", r#"{"id":"typed","counter":"hunter2"}"#),
    ] {
        let raw = RawRecord {
            id: id.into(),
            owner: None,
            data: data.into(),
            expires_at: None,
            version: 0,
        };
        s.backend().put(Probe::KIND, raw).await.at("plant")?;
        match s.get::<Probe>(id).await {
            Err(e @ Error::Corrupt { .. }) => {
                let msg = e.to_string();
                ensure!(
                    !msg.contains("hunter2"),
                    "Corrupt error leaks stored data: {msg}"
                );
                ensure!(
                    msg.contains(id),
                    "Corrupt error does not name the record: {msg}"
                );
            }
            other => return Err(format!("get {id}: expected Corrupt, got {other:?}")),
        }
    }
    let r = s.list::<Probe>().await;
    ensure!(
        matches!(r, Err(Error::Corrupt { .. })),
        "list must fail with Corrupt, got {r:?}"
    );
    let r = increment(s, "bad").await;
    ensure!(
        matches!(r, Err(Error::Corrupt { .. })),
        "update must fail with Corrupt, got {r:?}"
    );
    Ok(())
}

async fn odd_keys(s: Store) -> Result<(), String> {
    let mut keys = vec![
        "with space",
        "ünïcødé-🦀",
        "quote'single",
        "quote\"double",
        "percent%20",
        "%",
        "_",
        "slash/and\\backslash",
        "semi;colon--",
        "REPO:p/r",
        "CLUSTER:",
        "tab\there",
        "日本語",
    ];
    for k in &keys {
        let p = Probe {
            note: (*k).into(),
            ..probe_with(k, Some(k), None)
        };
        s.create(&p).await.at(&format!("create {k:?}"))?;
        eq(
            s.get::<Probe>(k).await.at("get")?,
            p,
            "record with an odd key",
        )?;
        eq(
            owned_by(&s, k).await?,
            [*k],
            "list_by_owner with an odd owner",
        )?;
    }
    keys.sort_unstable();
    eq(
        listed(&s).await?,
        keys.clone(),
        "list must sort by byte order",
    )?;
    for k in &keys {
        s.delete::<Probe>(k).await.at(&format!("delete {k:?}"))?;
    }
    eq(
        listed(&s).await?,
        Vec::<String>::new(),
        "records left after deleting every key",
    )
}

/// Decodes `json` as `T`, stores it and checks it reads back equal; the
/// JSON form also pins field names such as `Connector`'s `type`.
async fn round_trip<T>(s: &Store, json: &str) -> Result<(), String>
where
    T: Record + PartialEq + Debug,
{
    let v: T = serde_json::from_str(json).map_err(|e| format!("{} fixture: {e}", T::KIND))?;
    s.create(&v).await.at(&format!("create {}", T::KIND))?;
    let got = s.get::<T>(&v.id()).await.at(&format!("get {}", T::KIND))?;
    ensure!(got == v, "{} did not round-trip", T::KIND);
    let stored = s.backend().get(T::KIND, &v.id()).await.at("get raw")?;
    ensure!(stored.owner == v.owner(), "{} owner not stored", T::KIND);
    ensure!(
        stored.expires_at == v.expires_at(),
        "{} expiry not stored",
        T::KIND
    );
    Ok(())
}

async fn records_round_trip(s: Store) -> Result<(), String> {
    const CLAIMS: &str =
        r#"{"user_id":"0-385","email":"k@t","email_verified":true,"groups":["g"]}"#;
    round_trip::<Connector>(
        &s,
        r#"{"id":"okta","type":"oidc","config_version":3,"config":"{}"}"#,
    )
    .await?;
    round_trip::<OidcClient>(&s, r#"{"id":"pachd","secret":"s3cr3t","redirect_uris":["http://l/cb"],"trusted_peers":["console"]}"#).await?;
    round_trip::<SigningKeys>(&s, r#"{"id":"signing","state":"{\"keys\":[]}"}"#).await?;
    round_trip::<AuthRequest>(
        &s,
        &format!(
            r#"{{"id":"r","scopes":["openid"],"max_age":60,"claims":{CLAIMS},"binding":"b","answered":true,"expires_at":9}}"#
        ),
    )
    .await?;
    round_trip::<AuthCode>(
        &s,
        &format!(
            r#"{{"id":"c","client_id":"pachd","claims":{CLAIMS},"auth_time":4,"expires_at":9}}"#
        ),
    )
    .await?;
    round_trip::<RefreshToken>(&s, &format!(r#"{{"id":"t","family":"f","connector_data":"up","claims":{CLAIMS},"obsoleted_by":"n","expires_at":9}}"#)).await?;
    round_trip::<DeviceRequest>(
        &s,
        r#"{"id":"d","user_code":"BCDFGHJK","status":"pending","interval":5,"expires_at":9}"#,
    )
    .await?;
    round_trip::<AuthToken>(&s, r#"{"id":"h","subject":"robot:r","created_at":1}"#).await?;
    round_trip::<RoleBinding>(
        &s,
        r#"{"id":"CLUSTER:","entries":{"pach:root":["clusterAdmin"]}}"#,
    )
    .await?;
    round_trip::<GroupMembership>(&s, r#"{"id":"user:a@b","groups":["group:g"]}"#).await?;
    round_trip::<IdentityConfig>(
        &s,
        r#"{"id":"identity","issuer":"http://p/dex","id_token_expiry":"24h"}"#,
    )
    .await?;
    round_trip::<AuthConfig>(&s, r#"{"id":"auth","config":"{\"client_secret\":\"x\"}"}"#).await?;
    round_trip::<EnterpriseState>(&s, r#"{"id":"enterprise","state":"ACTIVE","license":"{}"}"#)
        .await?;
    round_trip::<PendingLogin>(&s, r#"{"id":"s","nonce":"n","token":"tok","expires_at":9}"#)
        .await?;
    round_trip::<LoginFailures>(
        &s,
        r#"{"id":"f","failures":3,"last_failure":7,"expires_at":9}"#,
    )
    .await?;
    Ok(())
}

// --- sealing at rest ---------------------------------------------------------

/// A store over the same backend as `s` (another replica, or a restart)
/// sealing with the keys `seeds`, first sealing.
fn sealing(s: &Store, seeds: &[u8]) -> Result<Store, String> {
    let keys: Vec<[u8; 32]> = seeds.iter().map(|&b| [b; 32]).collect();
    let keyring = Keyring::new(&keys).map_err(|e| format!("keyring: {e}"))?;
    Ok(Store::from_arc(s.backend().clone()).with_keyring(Arc::new(keyring)))
}

const CLIENT_SECRET: &str = "client-secret-3b1f";
const PRIVATE_D: &str = "private-d-9c7e";
const UPSTREAM_REFRESH: &str = "upstream-refresh-51aa";

fn client(id: &str) -> OidcClient {
    OidcClient {
        id: id.into(),
        secret: CLIENT_SECRET.to_owned().into(),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        ..OidcClient::default()
    }
}

async fn raw_data(s: &Store, kind: &'static str, id: &str) -> Result<String, String> {
    Ok(s.backend().get(kind, id).await.at("get raw")?.data)
}

fn expect_sealed_error<T: Debug>(
    r: Result<T, Error>,
    want: fn(&SealError) -> bool,
    what: &str,
) -> Result<String, String> {
    match &r {
        Err(e @ Error::Sealed { reason, .. }) => {
            ensure!(want(reason), "{what}: wrong reason: {e}");
            Ok(e.to_string())
        }
        other => Err(format!("{what}: expected a Sealed error, got {other:?}")),
    }
}

async fn sealed_round_trip(s: Store) -> Result<(), String> {
    let s = sealing(&s, &[1])?;
    let keys = SigningKeys {
        id: SigningKeys::ID.into(),
        state: format!(r#"{{"keys":[{{"kty":"EC","d":"{PRIVATE_D}"}}]}}"#).into(),
    };
    let refresh = RefreshToken {
        id: "t".into(),
        family: "f".into(),
        connector_data: UPSTREAM_REFRESH.to_owned().into(),
        expires_at: Some(9),
        ..RefreshToken::default()
    };
    s.create(&client("pachd")).await.at("create client")?;
    s.put(&keys).await.at("put keys")?;
    s.create(&refresh).await.at("create refresh token")?;
    eq(
        s.get::<OidcClient>("pachd").await.at("get")?,
        client("pachd"),
        "client",
    )?;
    eq(
        s.get::<SigningKeys>(SigningKeys::ID).await.at("get")?,
        keys,
        "keys",
    )?;
    eq(
        s.get::<RefreshToken>("t").await.at("get")?,
        refresh.clone(),
        "token",
    )?;
    eq(
        s.list_by_owner::<RefreshToken>("f").await.at("list")?,
        [refresh],
        "by owner",
    )?;
    // What the backend holds (for SQL backends: the `data` column itself).
    for (kind, id, secret) in [
        (OidcClient::KIND, "pachd", CLIENT_SECRET),
        (SigningKeys::KIND, SigningKeys::ID, PRIVATE_D),
        (RefreshToken::KIND, "t", UPSTREAM_REFRESH),
    ] {
        let data = raw_data(&s, kind, id).await?;
        ensure!(
            crate::seal::is_sealed(&data) && !data.contains(secret),
            "{kind} is stored in clear: {data}"
        );
    }
    // Kinds without secrets stay plain JSON.
    let binding = RoleBinding {
        id: "CLUSTER:".into(),
        ..RoleBinding::default()
    };
    s.put(&binding).await.at("put binding")?;
    let data = raw_data(&s, RoleBinding::KIND, "CLUSTER:").await?;
    ensure!(data.starts_with('{'), "role binding was sealed: {data}");
    Ok(())
}

async fn sealed_wrong_key(s: Store) -> Result<(), String> {
    sealing(&s, &[1])?
        .create(&client("pachd"))
        .await
        .at("create")?;
    let msg = expect_sealed_error(
        sealing(&s, &[2])?.get::<OidcClient>("pachd").await,
        |r| matches!(r, SealError::UnknownKey { .. }),
        "get under another key",
    )?;
    ensure!(
        msg.contains("oidc_client") && msg.contains("pachd") && msg.contains("not in the keyring"),
        "the error does not name the record and the cause: {msg}"
    );
    ensure!(
        !msg.contains(CLIENT_SECRET),
        "the error leaks the secret: {msg}"
    );
    expect_sealed_error(
        s.get::<OidcClient>("pachd").await,
        |r| *r == SealError::NoKeyring,
        "get without a keyring",
    )?;
    Ok(())
}

async fn sealed_rotation_and_reencrypt(s: Store) -> Result<(), String> {
    let old = sealing(&s, &[1])?;
    old.create(&client("a")).await.at("create a")?;
    old.create(&client("b")).await.at("create b")?;
    let rotated = sealing(&s, &[2, 1])?;
    eq(
        rotated.get::<OidcClient>("a").await.at("get a")?,
        client("a"),
        "old row, new keyring",
    )?;
    // A write reseals under the new first key.
    rotated
        .update::<OidcClient, _>("a", |c| {
            c.name = "A".into();
            Ok(())
        })
        .await
        .at("update a")?;
    let new_only = sealing(&s, &[2])?;
    eq(
        new_only.get::<OidcClient>("a").await.at("get a")?.name,
        "A",
        "resealed on write",
    )?;
    expect_sealed_error(
        new_only.get::<OidcClient>("b").await,
        |r| matches!(r, SealError::UnknownKey { .. }),
        "b before reencrypt",
    )?;
    let done = rotated.reencrypt().await.at("reencrypt")?;
    eq(
        done,
        Reencrypted {
            resealed: 1,
            sealed_plain: 0,
            current: 1,
        },
        "reencrypt counts",
    )?;
    eq(
        new_only.get::<OidcClient>("b").await.at("get b")?,
        client("b"),
        "after reencrypt",
    )?;
    let again = rotated.reencrypt().await.at("reencrypt again")?;
    eq(
        again.current,
        2,
        "second reencrypt finds everything current",
    )
}

async fn sealed_bound_to_its_row(s: Store) -> Result<(), String> {
    let sealed = sealing(&s, &[1])?;
    sealed.create(&client("a")).await.at("create a")?;
    let data = raw_data(&s, OidcClient::KIND, "a").await?;
    let moved = |id: &str| RawRecord {
        id: id.into(),
        owner: None,
        data: data.clone(),
        expires_at: None,
        version: 0,
    };
    // Another id of the same kind, and the same id of another kind.
    s.backend()
        .put(OidcClient::KIND, moved("b"))
        .await
        .at("plant b")?;
    s.backend()
        .put(Connector::KIND, moved("a"))
        .await
        .at("plant a")?;
    let forged = |r: &SealError| matches!(r, SealError::Forged { .. });
    let msg = expect_sealed_error(sealed.get::<OidcClient>("b").await, forged, "moved id")?;
    ensure!(
        msg.contains("\"b\""),
        "the error does not name the row: {msg}"
    );
    expect_sealed_error(sealed.get::<Connector>("a").await, forged, "moved kind")?;
    Ok(())
}

async fn sealed_legacy_plain_rows(s: Store) -> Result<(), String> {
    // A row written before sealing existed (or by a store without keys).
    s.create(&client("old")).await.at("create plain")?;
    ensure!(
        raw_data(&s, OidcClient::KIND, "old")
            .await?
            .starts_with('{'),
        "a store without a keyring must write plain JSON"
    );
    let sealed = sealing(&s, &[1])?;
    eq(
        sealed.get::<OidcClient>("old").await.at("get")?,
        client("old"),
        "legacy row",
    )?;
    let done = sealed.reencrypt().await.at("reencrypt")?;
    eq(done.sealed_plain, 1, "legacy rows sealed by reencrypt")?;
    let data = raw_data(&s, OidcClient::KIND, "old").await?;
    ensure!(
        !data.contains(CLIENT_SECRET),
        "still in clear after reencrypt"
    );
    eq(
        sealed.get::<OidcClient>("old").await.at("get")?,
        client("old"),
        "after reencrypt",
    )
}
/// Audit events: appended with increasing ids, filtered by actor, subject,
/// resource and an inclusive time range, newest first, limited, purged by age.
async fn audit_trail(s: Store) -> Result<(), String> {
    use tusk_core::audit::{AuditEvent, AuditQuery};
    let changed = |actor: &str, resource: &str, principal: &str| AuditEvent::RoleBindingChanged {
        actor: actor.into(),
        resource: resource.into(),
        principal: principal.into(),
        before: vec![],
        after: vec!["repoReader".into()],
    };
    s.audit(100, changed("user:alice", "REPO:default/a", "user:bob"))
        .await;
    s.audit(200, changed("user:carol", "REPO:default/b", "user:bob"))
        .await;
    s.audit(300, changed("user:alice", "PROJECT:p", "user:dan"))
        .await;
    s.audit(
        400,
        AuditEvent::Deactivated {
            actor: "pach:root".into(),
        },
    )
    .await;
    let ids = |q: AuditQuery| {
        let s = s.clone();
        async move {
            let records = s.list_audit(&q).await.map_err(|e| e.to_string())?;
            Ok::<Vec<i64>, String>(records.iter().map(|r| r.at).collect())
        }
    };
    eq(
        ids(AuditQuery::default()).await?,
        vec![400, 300, 200, 100],
        "all, newest first",
    )?;
    eq(
        ids(AuditQuery {
            actor: Some("user:alice".into()),
            ..AuditQuery::default()
        })
        .await?,
        vec![300, 100],
        "by actor",
    )?;
    eq(
        ids(AuditQuery {
            subject: Some("user:bob".into()),
            ..AuditQuery::default()
        })
        .await?,
        vec![200, 100],
        "by subject",
    )?;
    eq(
        ids(AuditQuery {
            resource: Some("PROJECT:p".into()),
            ..AuditQuery::default()
        })
        .await?,
        vec![300],
        "by resource",
    )?;
    eq(
        ids(AuditQuery {
            since: Some(200),
            until: Some(300),
            ..AuditQuery::default()
        })
        .await?,
        vec![300, 200],
        "inclusive time range",
    )?;
    eq(
        ids(AuditQuery {
            limit: 2,
            ..AuditQuery::default()
        })
        .await?,
        vec![400, 300],
        "limit keeps the newest",
    )?;
    let all = s
        .list_audit(&AuditQuery::default())
        .await
        .map_err(|e| e.to_string())?;
    if !all.windows(2).all(|w| w[0].id > w[1].id) {
        return Err(format!("ids do not increase with writes: {all:?}"));
    }
    eq(
        all.last().map(|r| r.event.clone()),
        Some(changed("user:alice", "REPO:default/a", "user:bob")),
        "event round-trips",
    )?;
    let purged = s.purge_audit(300).await.map_err(|e| e.to_string())?;
    eq(purged, 2, "purged count")?;
    eq(
        ids(AuditQuery::default()).await?,
        vec![400, 300],
        "after purge",
    )?;
    Ok(())
}

fn deactivated(actor: &str) -> tusk_core::audit::AuditEvent {
    tusk_core::audit::AuditEvent::Deactivated {
        actor: actor.into(),
    }
}

async fn audit_actors(s: &Store) -> Result<Vec<String>, String> {
    let rows = s
        .list_audit(&tusk_core::audit::AuditQuery::default())
        .await
        .at("list_audit")?;
    Ok(rows
        .iter()
        .filter_map(|r| r.event.actor().map(str::to_owned))
        .collect())
}

/// A batch applies every write or none: a refresh's claim, successor and
/// audit event must not be half-stored.
async fn batch_all_or_nothing(s: Store) -> Result<(), String> {
    s.create(&probe("old")).await.at("create old")?;
    let (mut old, version) = s.get_versioned::<Probe>("old").await.at("get_versioned")?;
    eq(version, 1, "version of a new record")?;
    old.note = "claimed".into();

    // A stale version fails the whole batch, the writes before it too.
    let mut b = s.batch();
    b.create(&probe("successor")).at("stage create")?;
    b.swap(&old, version + 1).at("stage swap")?;
    b.audit(1, deactivated("stale"));
    match b.commit().await {
        Err(Error::Conflict { .. }) => {}
        other => return Err(format!("stale swap: expected Conflict, got {other:?}")),
    }
    not_found(
        s.get::<Probe>("successor").await,
        "create of a failed batch",
    )?;
    eq(
        s.get::<Probe>("old").await.at("get")?.note,
        "",
        "swap of a failed batch",
    )?;
    eq(
        audit_actors(&s).await?,
        Vec::<String>::new(),
        "audit of a failed batch",
    )?;

    // A taken id fails it as well, after a swap that alone would succeed.
    let mut b = s.batch();
    b.swap(&old, version).at("stage swap")?;
    b.create(&probe("old")).at("stage create")?;
    match b.commit().await {
        Err(Error::AlreadyExists { .. }) => {}
        other => return Err(format!("taken id: expected AlreadyExists, got {other:?}")),
    }
    eq(
        s.get::<Probe>("old").await.at("get")?.note,
        "",
        "swap before a taken id",
    )?;

    // A swap of a record that is gone is NotFound.
    let mut b = s.batch();
    b.swap(&probe("ghost"), 1).at("stage swap")?;
    not_found(b.commit().await, "swap of a missing record")?;

    let mut b = s.batch();
    b.swap(&old, version).at("stage swap")?;
    b.create(&probe("successor")).at("stage create")?;
    b.audit(2, deactivated("winner"));
    b.commit().await.at("commit")?;
    let (stored, v) = s.get_versioned::<Probe>("old").await.at("get")?;
    eq((stored.note.as_str(), v), ("claimed", 2), "swapped record")?;
    s.get::<Probe>("successor").await.at("created record")?;
    eq(
        audit_actors(&s).await?,
        vec!["winner".to_owned()],
        "audit of a batch",
    )?;

    // The same version cannot be swapped twice.
    let mut b = s.batch();
    b.swap(&old, version).at("stage swap")?;
    match b.commit().await {
        Err(Error::Conflict { .. }) => Ok(()),
        other => Err(format!("second swap: expected Conflict, got {other:?}")),
    }
}

/// Concurrent batches (which a backend may commit together) succeed or
/// fail each on its own: one that fails leaves its neighbours' writes in.
async fn concurrent_batches(s: Store) -> Result<(), String> {
    const N: usize = 24;
    s.create(&probe("taken")).await.at("create taken")?;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut b = s.batch();
                b.create(&probe(&format!("batch-{i:02}")))?;
                b.audit(i as i64, deactivated(&format!("batch-{i:02}")));
                // Every third batch also takes an id in use, so it fails
                // after its first write has already been applied.
                if i % 3 == 0 {
                    b.create(&probe("taken"))?;
                }
                b.commit().await
            })
        })
        .collect();
    let mut want = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let outcome = task.await.map_err(|e| format!("batch {i} panicked: {e}"))?;
        match (i % 3 == 0, outcome) {
            (true, Err(Error::AlreadyExists { .. })) => {}
            (false, Ok(())) => want.push(format!("batch-{i:02}")),
            (_, other) => return Err(format!("batch {i}: unexpected outcome {other:?}")),
        }
    }
    let mut got = listed(&s).await?;
    got.retain(|id| id != "taken");
    eq(&got, &want, "records of the batches that succeeded")?;
    let mut actors = audit_actors(&s).await?;
    actors.sort();
    eq(actors, want, "audit events of the batches that succeeded")
}
