//! Any bytes as a values file, an environment variable and a connector
//! file: loading must return diagnostics or a config, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use tusk_core::config::{self, Dialect, Input, SourceText};

fuzz_target!(|data: &[u8]| {
    let input = Input {
        files: vec![SourceText { name: "fuzz.yaml".into(), bytes: data.to_vec() }],
        env: BTreeMap::from([(
            "IDP_CONNECTORS".to_owned(),
            String::from_utf8_lossy(data).into_owned(),
        )]),
        secrets: None,
        listen: "127.0.0.1:30650".into(),
    };
    let _ = config::load(&input);
    let _ = config::parse_connector(data, "fuzz.yaml", Dialect::IdpFile);
    let _ = config::parse_connector(data, "fuzz.yaml", Dialect::Grpc);
});
