//! The connector types this build can open.

/// The connector types [`crate::open`] can build.
pub const SUPPORTED_KINDS: &[&str] = &[
    "mockPassword",
    "mockCallback",
    "local",
    "oidc",
    "github",
    "ldap",
    "saml",
];
