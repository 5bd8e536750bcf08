//! Sealing records at rest: AES-256-GCM under a key-encryption key (KEK).
//!
//! A record kind marked [`Record::SEALED`](crate::Record::SEALED) is stored
//! as one opaque text instead of its JSON, so a copied database file or a
//! PostgreSQL backup does not hand out signing keys, client secrets or
//! upstream refresh tokens. Sealing happens in [`Store`](crate::Store), above
//! the backends, so memory, SQLite and PostgreSQL store the same bytes.
//!
//! The stored form is `tusk-sealed:v1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`.
//! The key id is a short hash of the key, so opening picks the right key of
//! a rotated keyring without trial decryption. The associated data is the
//! record's kind and id: a sealed value copied into another row does not
//! open there.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::fmt;

/// Prefix of every sealed value; plain JSON rows start with `{`.
pub const SEALED_PREFIX: &str = "tusk-sealed:v1:";

/// Bytes in one key-encryption key.
pub const KEY_LEN: usize = 32;

/// Why a keyring could not be built or a sealed value not opened. The
/// texts never contain key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(
        "encryption key on line {line} is not base64 of 32 bytes; create one with `openssl rand -base64 32`"
    )]
    BadKey { line: usize },
    #[error(
        "no encryption key given; create one with `openssl rand -base64 32` (one key per line, the first seals)"
    )]
    NoKeys,
    #[error(
        "it was sealed with key {key_id}, which is not in the keyring; add that key back (any line after the first still opens) and run `tusk store reencrypt`"
    )]
    UnknownKey { key_id: String },
    #[error(
        "it does not authenticate under key {key_id} for this record: it was altered or copied from another row; restore it from a backup"
    )]
    Forged { key_id: String },
    #[error("its sealed form is malformed ({0}); restore it from a backup")]
    Malformed(&'static str),
    #[error(
        "it is sealed but no encryption key is configured; give tusk the keys it was sealed with"
    )]
    NoKeyring,
    #[error("the system random generator failed; retry")]
    Random,
}

struct Key {
    id: String,
    key: LessSafeKey,
}

/// Key-encryption keys: the first seals, every one opens, so a new key can
/// be put first while values sealed under the old ones stay readable until
/// `tusk store reencrypt` (or the next write) reseals them.
pub struct Keyring {
    keys: Vec<Key>,
}

// Key ids only: the keys themselves never reach a log.
impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// A keyring from raw keys, first sealing. Empty is refused: a store
    /// that seals must have a key to seal with.
    pub fn new(keys: &[[u8; KEY_LEN]]) -> Result<Keyring, SealError> {
        if keys.is_empty() {
            return Err(SealError::NoKeys);
        }
        let keys = keys
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let unbound = UnboundKey::new(&AES_256_GCM, bytes)
                    .map_err(|_| SealError::BadKey { line: i + 1 })?;
                Ok(Key {
                    id: key_id(bytes),
                    key: LessSafeKey::new(unbound),
                })
            })
            .collect::<Result<_, SealError>>()?;
        Ok(Keyring { keys })
    }

    /// Parses the `encryption-keys` text: one base64 key per line (or
    /// separated by commas, for an environment variable), `#` comments and
    /// blank lines ignored.
    pub fn parse(text: &str) -> Result<Keyring, SealError> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default();
            for item in line.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let bytes = STANDARD
                    .decode(item)
                    .ok()
                    .and_then(|b| <[u8; KEY_LEN]>::try_from(b).ok())
                    .ok_or(SealError::BadKey { line: i + 1 })?;
                keys.push(bytes);
            }
        }
        Keyring::new(&keys)
    }

    /// A fresh random key, as the base64 line `parse` reads.
    pub fn generate_line() -> Result<String, SealError> {
        let mut key = [0u8; KEY_LEN];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| SealError::Random)?;
        Ok(STANDARD.encode(key))
    }

    /// The id of the key that seals.
    pub fn sealing_key_id(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    /// Seals `plain` for the record `(kind, id)` under the first key.
    pub fn seal(&self, kind: &str, id: &str, plain: &str) -> Result<String, SealError> {
        let key = self.keys.first().ok_or(SealError::NoKeys)?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut buf = plain.as_bytes().to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(kind, id)),
                &mut buf,
            )
            .map_err(|_| SealError::Malformed("the plaintext is too long to seal"))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&buf);
        Ok(format!(
            "{SEALED_PREFIX}{}:{}",
            key.id,
            STANDARD.encode(blob)
        ))
    }

    /// Opens a value `seal` produced for the same `(kind, id)`.
    pub fn open(&self, kind: &str, id: &str, sealed: &str) -> Result<String, SealError> {
        let (key_id, blob) = split(sealed)?;
        let key =
            self.keys
                .iter()
                .find(|k| k.id == key_id)
                .ok_or_else(|| SealError::UnknownKey {
                    key_id: key_id.to_owned(),
                })?;
        let mut blob = STANDARD
            .decode(blob)
            .map_err(|_| SealError::Malformed("not base64"))?;
        if blob.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Malformed("too short"));
        }
        let mut in_out = blob.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&blob)
            .map_err(|_| SealError::Malformed("bad nonce"))?;
        let forged = || SealError::Forged {
            key_id: key_id.to_owned(),
        };
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(aad(kind, id)), &mut in_out)
            .map_err(|_| forged())?;
        String::from_utf8(plain.to_vec()).map_err(|_| forged())
    }

    /// Whether `sealed` is already under the sealing key.
    pub fn is_current(&self, sealed: &str) -> bool {
        split(sealed).is_ok_and(|(key_id, _)| key_id == self.sealing_key_id())
    }
}

/// Whether a stored `data` text is sealed (as opposed to legacy plain JSON).
pub fn is_sealed(data: &str) -> bool {
    data.starts_with(SEALED_PREFIX)
}

fn split(sealed: &str) -> Result<(&str, &str), SealError> {
    sealed
        .strip_prefix(SEALED_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .ok_or(SealError::Malformed("no key id"))
}

/// Binds a sealed value to its row; NUL cannot occur in a kind.
fn aad(kind: &str, id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(kind.len() + id.len() + 12);
    aad.extend_from_slice(b"tusk-store\0");
    aad.extend_from_slice(kind.as_bytes());
    aad.push(0);
    aad.extend_from_slice(id.as_bytes());
    aad
}

/// First 8 bytes of SHA-256 of the key, in hex: names the key in stored
/// values and errors without revealing it.
fn key_id(key: &[u8]) -> String {
    hex::encode(&Sha256::digest(key)[..8])
}
