//! JOSE for tusk's OpenID provider: signing keys, compact JWS signing and
//! verification, JWKS, `at_hash`/`c_hash`, and the key-rotation policy.
//!
//! - `key`: [`SigningKey`], a private key parsed once and held in memory, so
//!   signing an ID token costs one signature and no parsing or storage read.
//! - `jws`: [`sign`], [`VerifyingKeys::verify`] (strict compact parsing, an
//!   algorithm allow-list, no `none`, no HMAC), [`check_time`], [`half_hash`].
//! - [`rotation`]: pure functions over a serialisable [`KeySetState`] that the
//!   provider stores with compare-and-swap.
//!
//! Pure logic: no clock (callers pass `now` as unix seconds) and no I/O. The
//! only randomness is key and `kid` generation, from aws-lc-rs.

mod alg;
mod error;
mod jws;
mod key;
pub mod rotation;

pub use alg::Alg;
pub use error::{Error, Part, VerifyError};
pub use jws::{MAX_TOKEN_LEN, VerifyingKeys, check_time, half_hash, sign, sign_typed};
pub use key::{SigningKey, jwks, new_kid};
pub use rotation::{KeySetState, RotationPolicy, StoredKey, active_key, published, rotate_if_due};
