//! Signing cost per ID token: tusk-jose's pre-parsed keys against
//! jsonwebtoken's `encode`, which parses the PKCS#8 key on every call.
//! Run: `cargo bench -p tusk-jose -- --quick`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::hint::black_box;
use tusk_jose::{Alg, SigningKey, sign};

fn claims() -> Value {
    json!({
        "iss": "https://pach.example.com/dex", "sub": "CgcyMzQyNzQ5EgZnaXRodWI", "aud": "pachd",
        "exp": 1_700_086_400, "iat": 1_700_000_000, "nonce": "n-0S6_WzA2Mj",
        "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "email": "jane@example.com", "email_verified": true,
        "groups": ["data-eng", "admins"], "name": "Jane Doe", "preferred_username": "jane",
    })
}

fn bench(c: &mut Criterion) {
    let claims = claims();
    let mut group = c.benchmark_group("sign_id_token");
    for alg in [Alg::ES256, Alg::RS256, Alg::EdDSA] {
        let key = SigningKey::generate(alg, "bench".into()).unwrap();
        group.bench_function(format!("tusk_jose/{alg}"), |b| {
            b.iter(|| sign(black_box(&key), black_box(&claims)).unwrap())
        });
    }

    let key = SigningKey::generate(Alg::ES256, "bench".into()).unwrap();
    let pem = key.to_pkcs8_pem();
    let body: String = pem
        .expose()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let encoding = EncodingKey::from_ec_der(&STANDARD.decode(body).unwrap());
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("bench".into());
    group.bench_function("jsonwebtoken_encode/ES256", |b| {
        b.iter(|| jsonwebtoken::encode(black_box(&header), black_box(&claims), &encoding).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
