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

use rusqlite::params;
use serde_json::json;
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
    // On this thread, the library tusk's writer uses, with its settings.
    let conn = rusqlite::Connection::open(backend.path())?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL")?;
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
    conn.execute(
        insert,
        params![
            first.id,
            first.family,
            serde_json::to_string(&first)?,
            first.expires_at
        ],
    )?;
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
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.prepare_cached("UPDATE records SET data = ?1, version = version + 1 WHERE kind = 'refresh_token' AND id = ?2 AND version = ?3")?
            .execute(params![serde_json::to_string(&old)?, old.id, 1_i64])?;
        conn.prepare_cached(insert)?.execute(params![
            new.id,
            new.family,
            serde_json::to_string(&new)?,
            new.expires_at
        ])?;
        conn.execute_batch("COMMIT")?;
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
