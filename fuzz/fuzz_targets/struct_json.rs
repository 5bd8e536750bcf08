//! Any bytes as a protobuf `google.protobuf.Struct` (a connector config on
//! the wire) and as JSON: converting either way never panics, and
//! Struct → JSON is a fixed point after one round (JSON → Struct → JSON
//! gives the same JSON back), so a config read over gRPC is stored as sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use tusk_proto::structs::{json_to_struct, struct_to_json};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = prost_types::Struct::decode(data) {
        let once = struct_to_json(&s);
        let twice = struct_to_json(&json_to_struct(&once));
        assert_eq!(
            once, twice,
            "Struct -> JSON is not stable over a round trip"
        );
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = struct_to_json(&json_to_struct(&v));
    }
});
