//! Any bytes as a compact JWS against a real key set: verified or refused
//! with a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tusk_jose::{Alg, SigningKey, VerifyingKeys};

fn keys() -> &'static VerifyingKeys {
    static KEYS: OnceLock<VerifyingKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let es = SigningKey::generate(Alg::ES256, "es".into()).expect("key");
        let ed = SigningKey::generate(Alg::EdDSA, "ed".into()).expect("key");
        VerifyingKeys::from_signing_keys(&[&es, &ed]).expect("keys")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = keys().verify(data, &Alg::ALL);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(jwks) = serde_json::from_str::<serde_json::Value>(text) {
            let _ = VerifyingKeys::from_jwks(&jwks);
        }
    }
});
