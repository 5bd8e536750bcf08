//! The ceiling `scripts/bench-oidc` prints beside the refresh grant (issue
//! 16): what one refresh must do at minimum on this machine, on one thread
//! with nothing else in the way. That is two ES256 signatures (the ID
//! token and the access token, with a key parsed once) and one committed
//! SQLite transaction writing the same rows a rotation writes (the old
//! refresh token marked replaced, the new one inserted), on tusk's own
//! schema, WAL and `synchronous = NORMAL` as `open_sqlite` sets them.
//!
//! Prints one line, `CEILING_JSON {...}`, with refreshes per second and the
//! cost of each part. Usage: `refresh_ceiling [seconds]` (default 3).

use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use std::time::{Duration, Instant};
use tusk_jose::{Alg, SigningKey};
use tusk_store::{Claims, RefreshToken};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(3.0);
    let dir = tempfile::tempdir()?;
    // Migrates the schema, then a raw connection does the minimum.
    // A directory it creates itself, owner-only as it requires.
    let backend = tusk_store_sql::open_sqlite(&dir.path().join("data")).await?;
    let mut conn = SqliteConnectOptions::new()
        .filename(backend.path())
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .connect()
        .await?;
    let key = SigningKey::generate(Alg::ES256, tusk_jose::new_kid()?)?;
    let now = 1_800_000_000_i64;
    let claims = json!({
        "iss": "http://127.0.0.1:8080/dex", "sub": "Cg0wLTM4NS0yODA4OS0wEgR0ZXN0",
        "aud": "rp-confidential", "exp": now + 86_400, "iat": now, "nonce": "n",
        "at_hash": "0123456789abcdefghijkl", "email": "kilgore@kilgore.trout",
        "email_verified": true, "name": "Kilgore Trout", "sid": "family-0123456789abcdef",
        "jti": "0123456789abcdef0123456789abcdef",
    });
    let token = |i: u64| RefreshToken {
        id: format!("{i:064x}"),
        family: "family-0123456789abcdef".into(),
        client_id: "rp-confidential".into(),
        scopes: vec![
            "openid".into(),
            "email".into(),
            "profile".into(),
            "offline_access".into(),
        ],
        claims: Claims {
            user_id: "0-385-28089-0".into(),
            username: "Kilgore Trout".into(),
            email: "kilgore@kilgore.trout".into(),
            email_verified: true,
            ..Default::default()
        },
        connector_id: "test".into(),
        created_at: now,
        last_used: now,
        expires_at: Some(now + 172_800),
        ..Default::default()
    };
    let insert = "INSERT INTO records (kind, id, owner, data, expires_at, version) VALUES ('refresh_token', ?, ?, ?, ?, 1)";
    let first = token(0);
    sqlx::query(insert)
        .bind(&first.id)
        .bind(&first.family)
        .bind(serde_json::to_string(&first)?)
        .bind(first.expires_at)
        .execute(&mut conn)
        .await?;
    let (mut sign, mut commit) = (Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    let mut n: u64 = 0;
    while started.elapsed().as_secs_f64() < seconds {
        let t0 = Instant::now();
        std::hint::black_box(tusk_jose::sign(&key, &claims)?);
        std::hint::black_box(tusk_jose::sign(&key, &claims)?);
        let t1 = Instant::now();
        let mut old = token(n);
        let new = token(n + 1);
        old.obsoleted_by = Some(new.id.clone());
        old.obsoleted_at = now;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE records SET data = ?, version = version + 1 WHERE kind = 'refresh_token' AND id = ? AND version = ?")
            .bind(serde_json::to_string(&old)?)
            .bind(&old.id)
            .bind(1_i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query(insert)
            .bind(&new.id)
            .bind(&new.family)
            .bind(serde_json::to_string(&new)?)
            .bind(new.expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        sign += t1 - t0;
        commit += t1.elapsed();
        n += 1;
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    println!(
        "CEILING_JSON {}",
        json!({
            "what": "2 ES256 signatures + 1 SQLite transaction (UPDATE the old token, INSERT the new) on one thread",
            "refreshes": n,
            "per_second": n as f64 / started.elapsed().as_secs_f64(),
            "sign_us": per(sign),
            "commit_us": per(commit),
        })
    );
    Ok(())
}
