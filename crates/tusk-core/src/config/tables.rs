//! The values file's schema: one table per section, checked by
//! `schema::check_map`, plus the shapes of the JSON environment variables.

use super::schema::{self, Kind, Schema, Strictness, f};

pub(super) static OIDC_SECTION: Schema = Schema {
    fields: &[
        f("issuerURI", Kind::Issuer),
        f("requireVerifiedEmail", Kind::Bool),
        f("IDTokenExpiry", Kind::Duration),
        f("RotationTokenExpiry", Kind::Duration),
        f("userAccessibleOauthIssuerHost", Kind::Str),
        f("upstreamIDPs", Kind::Any),
        f("upstreamIDPsSecretName", Kind::Str),
        f("dexCredentialSecretName", Kind::Str),
        f("mockIDP", Kind::Bool),
        f("additionalClients", Kind::Any),
        f("additionalClientsSecretName", Kind::Str),
    ],
    strictness: Strictness::Strict,
    misplaced: &[
        (
            "connectors",
            "the list of upstream IdPs is `oidc.upstreamIDPs`",
        ),
        (
            "staticClients",
            "extra OIDC clients go in `oidc.additionalClients`",
        ),
    ],
    obsolete: &[],
};

pub(super) static PACHD_SECTION: Schema = Schema {
    fields: &[
        f("activateAuth", Kind::Bool),
        f("rootToken", Kind::Secret),
        f("rootTokenSecretName", Kind::Str),
        f("oauthClientID", Kind::Str),
        f("oauthClientSecret", Kind::Secret),
        f("oauthClientSecretSecretName", Kind::Str),
        f("oauthRedirectURI", Kind::Url),
        f("localhostIssuer", Kind::Str),
        f("pachAuthClusterRoleBindings", Kind::Any),
        f("additionalTrustedPeers", Kind::StrList),
        f("enterpriseLicenseKey", Kind::Secret),
        f("enterpriseLicenseKeySecretName", Kind::Str),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TLS_SECTION: Schema = Schema {
    fields: &[f("enabled", Kind::Bool), f("secretName", Kind::Str)],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static PROXY_SECTION: Schema = Schema {
    fields: &[
        f("enabled", Kind::Bool),
        f("host", Kind::Str),
        f("tls", Kind::Map(&TLS_SECTION)),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static INGRESS_SECTION: Schema = Schema {
    fields: &[
        f("enabled", Kind::Bool),
        f("host", Kind::Str),
        f("tls", Kind::Map(&TLS_SECTION)),
        f("uriHttpsProtoOverride", Kind::Bool),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static CONSOLE_CONFIG: Schema = Schema {
    fields: &[
        f("oauthClientID", Kind::Str),
        f("oauthClientSecret", Kind::Secret),
        f("oauthRedirectURI", Kind::Url),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static CONSOLE_SECTION: Schema = Schema {
    fields: &[
        f("enabled", Kind::Bool),
        f("config", Kind::Map(&CONSOLE_CONFIG)),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TUSK_REFRESH: Schema = Schema {
    fields: &[
        f("reuseInterval", Kind::Duration),
        f("validIfNotUsedFor", Kind::Duration),
    ],
    strictness: Strictness::Strict,
    misplaced: &[(
        "absoluteLifetime",
        "the absolute lifetime is Pachyderm's `oidc.RotationTokenExpiry`",
    )],
    obsolete: &[],
};

pub(super) static TUSK_SIGNING: Schema = Schema {
    fields: &[
        f("algorithm", Kind::Str),
        f("rotationPeriod", Kind::Duration),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TUSK_RATE_LIMIT: Schema = Schema {
    fields: &[
        f("passwordPerMinute", Kind::Int),
        f("tokenPerMinute", Kind::Int),
        f("authorizePerMinute", Kind::Int),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TUSK_AUDIT: Schema = Schema {
    fields: &[f("retention", Kind::Duration)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TUSK_THEME: Schema = Schema {
    fields: &[f("title", Kind::Str), f("logoURL", Kind::Url)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TUSK_BRANDING: Schema = Schema {
    fields: &[
        f("productName", Kind::Str),
        f("logo", Kind::Str),
        f("accentColor", Kind::Str),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TUSK_LICENSE: Schema = Schema {
    fields: &[f("publicKey", Kind::Str)],
    strictness: Strictness::Strict,
    misplaced: &[(
        "key",
        "the license key itself is `pachd.enterpriseLicenseKey`; `tusk.license.publicKey` is the PEM key that verifies it",
    )],
    obsolete: &[],
};

pub(super) static TUSK_SERVER: Schema = Schema {
    fields: &[f("maxConnections", Kind::Int)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TUSK_PASSWORD_HASHING: Schema = Schema {
    fields: &[f("workers", Kind::Int), f("queue", Kind::Int)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TUSK_SESSIONS: Schema = Schema {
    fields: &[
        f("enabled", Kind::Bool),
        f("absoluteLifetime", Kind::Duration),
        f("idleTimeout", Kind::Duration),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static TUSK_DATABASE: Schema = Schema {
    fields: &[f("acquireTimeout", Kind::Duration)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

/// tusk's own settings, which Pachyderm's chart does not have.
pub(super) static TUSK_SECTION: Schema = Schema {
    fields: &[
        f("audit", Kind::Map(&TUSK_AUDIT)),
        f("license", Kind::Map(&TUSK_LICENSE)),
        f("refreshTokens", Kind::Map(&TUSK_REFRESH)),
        f("signing", Kind::Map(&TUSK_SIGNING)),
        f("rateLimit", Kind::Map(&TUSK_RATE_LIMIT)),
        f("theme", Kind::Map(&TUSK_THEME)),
        f("branding", Kind::Map(&TUSK_BRANDING)),
        f("trustedProxies", Kind::StrList),
        f("server", Kind::Map(&TUSK_SERVER)),
        f("database", Kind::Map(&TUSK_DATABASE)),
        f("passwordHashing", Kind::Map(&TUSK_PASSWORD_HASHING)),
        f("sessions", Kind::Map(&TUSK_SESSIONS)),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

/// The top of a values file: Pachyderm's whole chart lives here, so only
/// the sections tusk reads are checked.
pub(super) static VALUES: Schema = Schema {
    fields: &[
        f("oidc", Kind::Map(&OIDC_SECTION)),
        f("pachd", Kind::Map(&PACHD_SECTION)),
        f("proxy", Kind::Map(&PROXY_SECTION)),
        f("ingress", Kind::Map(&INGRESS_SECTION)),
        f("console", Kind::Map(&CONSOLE_SECTION)),
        f("tusk", Kind::Map(&TUSK_SECTION)),
    ],
    strictness: Strictness::Shared,
    misplaced: &[(
        "upstreamIDPs",
        "`upstreamIDPs` goes under `oidc:`; indent it as `oidc.upstreamIDPs`",
    )],
    obsolete: &[],
};

/// OIDC clients, in Pachyderm's snake_case and Dex's camelCase alike: the
/// reference silently drops Dex's spelling, which loses redirect URIs.
pub(super) static CLIENT: Schema = Schema {
    fields: &[
        schema::req("id", Kind::Str),
        f("secret", Kind::Secret),
        f("name", Kind::Str),
        f("redirect_uris", Kind::StrList),
        f("redirectURIs", Kind::StrList),
        f("trusted_peers", Kind::StrList),
        f("trustedPeers", Kind::StrList),
        f("public", Kind::Bool),
        f("trusted", Kind::Bool),
        f("logo_url", Kind::Str),
        f("logoURL", Kind::Str),
        f("id_token_signed_response_alg", Kind::Str),
        f("backchannel_logout_uri", Kind::Url),
        f("backchannel_logout_session_required", Kind::Bool),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static IDP_CONFIG_ENV: Schema = Schema {
    fields: &[
        f("issuer", Kind::Issuer),
        f("id_token_expiry", Kind::Duration),
        f("rotation_token_expiry", Kind::Duration),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

pub(super) static AUTH_CONFIG_ENV: Schema = Schema {
    fields: &[
        f("client_id", Kind::Str),
        f("issuer", Kind::Issuer),
        f("localhost_issuer", Kind::Bool),
        f("require_email_verified", Kind::Bool),
        f("user_accessible_issuer_host", Kind::Str),
        f("redirect_uri", Kind::Url),
        f("scopes", Kind::StrList),
        f("client_secret", Kind::Secret),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};
