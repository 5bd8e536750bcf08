//! Any bytes as the query of `GET <issuer>/auth`, against a provider with a
//! confidential and a public client and the mock password connector: the
//! request is parsed and validated into a next step or an error page, never
//! a panic. The query reaches `Provider::authorize` exactly as the HTTP
//! layer hands it over.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tokio::runtime::Runtime;
use tusk_core::Secret;
use tusk_core::clock::SystemClock;
use tusk_oidc::{Browser, ConnectorConfig, Params, Provider, Settings};
use tusk_store::{OidcClient, Store};

fn env() -> &'static (Runtime, Arc<Provider>) {
    static ENV: OnceLock<(Runtime, Arc<Provider>)> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let provider = rt.block_on(async {
            let connectors = [ConnectorConfig {
                id: "mock".into(),
                name: "Mock".into(),
                kind: "mockPassword".into(),
                config: serde_json::json!({"username": "admin", "password": "password"}),
            }];
            let p = Provider::new(
                Settings::new("https://login.example.com/dex"),
                Store::memory(),
                Arc::new(SystemClock),
                &connectors,
            )
            .await
            .expect("provider");
            p.seed_clients(&[
                OidcClient {
                    id: "app".into(),
                    secret: Secret::new("app-secret-0123456789".into()),
                    name: "App".into(),
                    redirect_uris: vec!["https://app.example.com/cb".into()],
                    ..Default::default()
                },
                OidcClient {
                    id: "cli".into(),
                    name: "CLI".into(),
                    redirect_uris: vec!["http://127.0.0.1/cb".into()],
                    public: true,
                    ..Default::default()
                },
            ])
            .await
            .expect("clients");
            p
        });
        (rt, provider)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    let (rt, provider) = env();
    // A first visit: no cookies, then the binding the HTTP layer gives it.
    let mut browser = Browser::default();
    let _ = browser.bind();
    let _ = rt.block_on(provider.authorize(&params, &browser));
});
