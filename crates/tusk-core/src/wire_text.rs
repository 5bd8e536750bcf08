//! The error texts clients match on (docs/wire-api.md §2), byte-exact, in
//! one place: the server's errors are built from these constants and the
//! CLI recognises a server's answer by them, so the two cannot drift.
//! Texts given as prefixes are followed by detail on the wire.

/// Auth is off (UNIMPLEMENTED).
pub const NOT_ACTIVATED: &str = "the auth service is not activated";
/// Activate was called twice (UNIMPLEMENTED).
pub const ALREADY_ACTIVATED: &str = "the auth service is already activated";
/// No `authn-token` metadata (UNAUTHENTICATED).
pub const NO_TOKEN: &str = "no authentication token (try logging in)";
/// pachd's answer to a call with no metadata at all (INTERNAL); tusk never
/// sends it, the CLI recognises it from pachd.
pub const NO_METADATA: &str = "no authentication metadata (try logging in)";
/// An unknown or revoked token (UNAUTHENTICATED).
pub const BAD_TOKEN: &str =
    "provided auth token is corrupted or has expired (try logging in again)";
/// A token past its expiry (INTERNAL); tusk may only add a suffix.
pub const EXPIRED_TOKEN: &str = "token expiration is in the past";
/// The middle of the not-authorized sentence, between the subject and the
/// permissions it lacks (PERMISSION_DENIED in tusk).
pub const NOT_AUTHORIZED: &str = "is not authorized to perform this operation";
/// Prefix of "no role binding exists for <TYPE> <name>" (NOT_FOUND in tusk).
pub const NO_ROLE_BINDING: &str = "no role binding exists for";
/// Prefix of "new config version is <n>, expected <m>", UpdateIDPConnector's
/// refusal of a stale connector version.
pub const CONNECTOR_VERSION: &str = "new config version is";
/// Prefix of Authenticate's refusal of an ID token it cannot verify.
pub const CANNOT_VERIFY_TOKEN: &str = "could not verify token";
