//! Pachyderm 2.x wire types for tusk.
//!
//! Generated at build time from the `.proto` files in the workspace's `proto/` directory, which
//! are tusk's own description of Pachyderm's gRPC API, checked field by field against the
//! official Python client `pachyderm-sdk` 2.12.2. Each module is one proto package; each holds
//! the messages, `api_server::{Api, ApiServer}` (the service trait and its tonic server) and
//! `api_client::ApiClient`.
//!
//! | module | gRPC path prefix |
//! |---|---|
//! | [`auth_v2`] | `/auth_v2.API/` |
//! | [`identity_v2`] | `/identity_v2.API/` |
//! | [`enterprise_v2`] | `/enterprise_v2.API/` |
//! | [`license_v2`] | `/license_v2.API/` |
//! | [`versionpb_v2`] | `/versionpb_v2.API/` |
//!
//! Well-known types come from [`prost_types`] (`Timestamp`, `Struct`); `google.protobuf.Empty`
//! maps to `()`.
//!
//! Rust names differ from proto names only in case; the wire uses the proto names:
//! `OIDCConfig` is [`auth_v2::OidcConfig`], `GetOIDCLoginRequest` is
//! [`auth_v2::GetOidcLoginRequest`], `IDPConnector` is [`identity_v2::IdpConnector`],
//! `OIDCClient` is [`identity_v2::OidcClient`], and the fields `configVersion` / `jsonConfig` are
//! `config_version` / `json_config`. prost strips an enum's name from its variants:
//! `PERMISSION_UNKNOWN` is `auth_v2::Permission::Unknown`, `RESOURCE_TYPE_UNKNOWN` is
//! `auth_v2::ResourceType::Unknown`; enum fields are `i32` (use `Permission::try_from(i32)`).
//! The nested enum `PauseStatusResponse.PauseStatus` is
//! [`enterprise_v2::pause_status_response::PauseStatus`].

/// Generated code is exempt from the workspace lints: it is not ours to restyle.
macro_rules! generated {
    ($(#[$doc:meta])* $name:ident, $package:literal) => {
        $(#[$doc])*
        #[allow(
            clippy::all,
            clippy::pedantic,
            clippy::nursery,
            clippy::unwrap_used,
            clippy::expect_used,
            clippy::panic,
            missing_docs,
            rustdoc::all,
            unreachable_pub
        )]
        pub mod $name {
            include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
        }
    };
}

generated!(
    /// `auth_v2`: activation, OIDC login, tokens, role bindings, groups (25 RPCs).
    auth_v2,
    "auth_v2"
);
generated!(
    /// `identity_v2`: the embedded identity server's config, IdP connectors and OIDC clients
    /// (13 RPCs).
    identity_v2,
    "identity_v2"
);
generated!(
    /// `enterprise_v2`: this cluster's enterprise license state (8 RPCs).
    enterprise_v2,
    "enterprise_v2"
);
generated!(
    /// `license_v2`: the license server and its registered clusters (9 RPCs).
    license_v2,
    "license_v2"
);
generated!(
    /// `versionpb_v2`: `GetVersion` (1 RPC).
    versionpb_v2,
    "versionpb_v2"
);

pub mod structs;

/// tusk's own services: `tusk.resources.v1` registers projects and repos (2 RPCs);
/// `tusk.audit.v1` reads the audit trail (1 RPC); `tusk.sessions.v1` lists and revokes browser
/// sessions (2 RPCs); `tusk.consent.v1` lists and revokes users' consent
/// grants to OIDC clients (2 RPCs).
pub mod tusk {
    pub mod consent {
        #[allow(
            clippy::all,
            clippy::pedantic,
            clippy::nursery,
            clippy::unwrap_used,
            clippy::expect_used,
            clippy::panic,
            missing_docs,
            rustdoc::all,
            unreachable_pub
        )]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/tusk.consent.v1.rs"));
        }
    }

    pub mod sessions {
        #[allow(
            clippy::all,
            clippy::pedantic,
            clippy::nursery,
            clippy::unwrap_used,
            clippy::expect_used,
            clippy::panic,
            missing_docs,
            rustdoc::all,
            unreachable_pub
        )]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/tusk.sessions.v1.rs"));
        }
    }

    pub mod audit {
        #[allow(
            clippy::all,
            clippy::pedantic,
            clippy::nursery,
            clippy::unwrap_used,
            clippy::expect_used,
            clippy::panic,
            missing_docs,
            rustdoc::all,
            unreachable_pub
        )]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/tusk.audit.v1.rs"));
        }
    }

    pub mod resources {
        #[allow(
            clippy::all,
            clippy::pedantic,
            clippy::nursery,
            clippy::unwrap_used,
            clippy::expect_used,
            clippy::panic,
            missing_docs,
            rustdoc::all,
            unreachable_pub
        )]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/tusk.resources.v1.rs"));
        }
    }
}

/// Serialized `google.protobuf.FileDescriptorSet` of every proto above, their imports included
/// (the `google/protobuf/*` files), for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tusk_descriptor.bin"));

/// The fully qualified gRPC service names, e.g. for health reporting or reflection.
pub const SERVICE_NAMES: &[&str] = &[
    "auth_v2.API",
    "identity_v2.API",
    "enterprise_v2.API",
    "license_v2.API",
    "versionpb_v2.API",
    "tusk.resources.v1.Resources",
    "tusk.audit.v1.Audit",
    "tusk.consent.v1.Consent",
];
