//! Any bytes as the form body (and the first line as the Authorization
//! header) of `POST <issuer>/token/introspect` and `/token/revoke`: an
//! answer or an OAuth error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tokio::runtime::Runtime;
use tusk_core::Secret;
use tusk_core::clock::SystemClock;
use tusk_oidc::{Params, Provider, Settings};
use tusk_store::{OidcClient, Store};

fn env() -> &'static (Runtime, Arc<Provider>) {
    static ENV: OnceLock<(Runtime, Arc<Provider>)> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let provider = rt.block_on(async {
            let p = Provider::new(
                Settings::new("https://login.example.com/dex"),
                Store::memory(),
                Arc::new(SystemClock),
                &[],
            )
            .await
            .expect("provider");
            p.seed_clients(&[OidcClient {
                id: "app".into(),
                secret: Secret::new("app-secret-0123456789".into()),
                name: "App".into(),
                redirect_uris: vec!["https://app.example.com/cb".into()],
                ..Default::default()
            }])
            .await
            .expect("clients");
            p
        });
        (rt, provider)
    })
}

fuzz_target!(|data: &[u8]| {
    // The first line, if any, is the Authorization header; the rest the body.
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    let Ok(params) = Params::parse(body) else {
        return;
    };
    let (rt, provider) = env();
    let _ = rt.block_on(provider.introspect(header, &params));
    let _ = rt.block_on(provider.revoke(header, &params));
});
