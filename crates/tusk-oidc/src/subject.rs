//! Dex's `sub` encoding: base64url (no padding) of the protobuf message
//! `{1: user_id, 2: connector_id}`. Keeping it byte-identical keeps subjects
//! stable for clients that move from Dex to tusk.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn encode(user_id: &str, connector_id: &str) -> String {
    let mut buf = Vec::with_capacity(user_id.len() + connector_id.len() + 8);
    field(&mut buf, 1, user_id.as_bytes());
    field(&mut buf, 2, connector_id.as_bytes());
    URL_SAFE_NO_PAD.encode(buf)
}

fn field(buf: &mut Vec<u8>, number: u8, bytes: &[u8]) {
    // Wire type 2 (length-delimited); proto3 omits empty strings.
    if bytes.is_empty() {
        return;
    }
    buf.push((number << 3) | 2);
    let mut len = bytes.len();
    while len >= 0x80 {
        buf.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    buf.push(len as u8);
    buf.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_dex() {
        assert_eq!(
            super::encode("2342749", "github"),
            "CgcyMzQyNzQ5EgZnaXRodWI"
        );
        assert_eq!(
            super::encode("0-385-28089-0", "test"),
            "Cg0wLTM4NS0yODA4OS0wEgR0ZXN0"
        );
        assert_eq!(super::encode(&"x".repeat(200), "c").len(), 275);
    }
}
