//! Any bytes as the XML of a SAML response posted to the `saml`
//! connector's ACS, checked against a real certificate at the committed
//! capture's time: an identity or a `SamlRefused`, never a panic. The seed
//! is the capture's signed response, so mutations start from a document
//! that passes every check.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tusk_connector::saml::Saml;
use tusk_connector::{Connector, Scopes, UpstreamParams};
use tusk_core::clock::FakeClock;

const FIXTURE: &str = include_str!("../../crates/tusk-connector/tests/connectors/saml/fixture.json");

struct Setup {
    conn: Saml,
    upstream: UpstreamParams,
    rt: tokio::runtime::Runtime,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let fx: serde_json::Value = serde_json::from_str(FIXTURE).expect("fixture");
        let config = serde_json::json!({
            "ssoURL": "https://idp.example.com/sso",
            "caData": fx["cert"],
            "entityIssuer": fx["sp_entity_id"],
            "redirectURI": fx["acs"],
            "usernameAttr": "uid",
            "emailAttr": "email",
            "groupsAttr": "groups",
        });
        let clock = Arc::new(FakeClock::new(fx["now"].as_i64().expect("now")));
        Setup {
            conn: Saml::with_clock("fuzz", &config, clock).expect("config"),
            upstream: UpstreamParams {
                nonce: fx["nonce"].as_str().expect("nonce").to_owned(),
                pkce_verifier: None,
            },
            rt: tokio::runtime::Builder::new_current_thread().build().expect("runtime"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let query = vec![
        (
            "SAMLResponse".to_owned(),
            base64::engine::general_purpose::STANDARD.encode(data),
        ),
        ("state".to_owned(), "fuzz".to_owned()),
    ];
    let scopes = Scopes {
        offline_access: true,
        groups: true,
    };
    let Some(cb) = s.conn.callback() else { return };
    let _ = s
        .rt
        .block_on(cb.handle_callback(&scopes, "", &query, &s.upstream));
});
