//! Wire compatibility with the official Python client, `pachyderm-sdk` 2.12.2.
//!
//! Every `SDK_*` constant below is the hex of the bytes the SDK's betterproto classes produce for
//! the same message, printed by `proto/tools/sdk_wire_vectors.py`:
//!
//! ```sh
//! python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install pachyderm-sdk==2.12.2
//! /tmp/sdkvenv/bin/python proto/tools/sdk_wire_vectors.py
//! ```
//!
//! Each check encodes our message and compares the bytes, then decodes the SDK's bytes and
//! compares the message. (`proto/tools/check_against_sdk.py` compares the whole descriptor set
//! against the SDK: every message, field, enum value and method.)

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fmt::Debug;

use prost::Message;
use prost_types::{FileDescriptorSet, ListValue, Struct, Timestamp, Value, value::Kind};
use tusk_proto::{
    FILE_DESCRIPTOR_SET, auth_v2, enterprise_v2, identity_v2, license_v2, versionpb_v2,
};

const SDK_AUTH_ACTIVATE_REQUEST: &str = "0a0f726f6f742d746f6b656e2d30313233";
const SDK_AUTH_ACTIVATE_RESPONSE: &str =
    "0a206231393436616339323439326432333437633632333562346432363131313834";
const SDK_AUTH_WHO_AM_I_RESPONSE: &str =
    "0a16757365723a616c696365406578616d706c652e636f6d120c08a5aaf586071088eadcc302";
const SDK_AUTH_WHO_AM_I_RESPONSE_NO_EXPIRY: &str = "0a09706163683a726f6f74";
const SDK_AUTH_AUTHORIZE_REQUEST: &str =
    "0a120802120e64656661756c742f696d616765731208c801c9018b01f503";
const SDK_AUTH_AUTHORIZE_RESPONSE: &str = "1202c8011a02c9012208726f626f743a6369";
const SDK_AUTH_MODIFY_ROLE_BINDING_REQUEST: &str = "0a0b0804120764656661756c74120e67726f75703a646174612d656e671a0c70726f6a6563744f776e65721a0a7265706f526561646572";
const SDK_AUTH_GET_ROBOT_TOKEN_REQUEST: &str = "0a08726f626f743a636910901c";
const SDK_AUTH_GET_ROBOT_TOKEN_REQUEST_NEGATIVE_TTL: &str = "0a02636910ffffffffffffffffff01";
const SDK_AUTH_GET_ROLE_BINDING_RESPONSE: &str = "0a2e0a2c0a16757365723a616c696365406578616d706c652e636f6d12120a100a0c636c757374657241646d696e1001";
const SDK_AUTH_TOKEN_INFO: &str =
    "0a08726f626f743a6369120c08a5aaf586071088eadcc3021a1039663836643038313838346337643635";
const SDK_AUTH_SET_CONFIGURATION_REQUEST: &str = "0a93010a16687474703a2f2f70616368643a33303635382f646578120570616368641a096e6f747365637265742232687474703a2f2f6c6f63616c686f73743a33303635372f617574686f72697a6174696f6e2d636f64652f63616c6c6261636b2a05656d61696c2a0770726f66696c652a0667726f7570732a066f70656e696430013801420f6c6f63616c686f73743a3330363538";
const SDK_AUTH_GET_ROLES_FOR_PERMISSION_RESPONSE: &str =
    "0a1a0a0a7265706f5265616465721204c801d3011a03010402220102";
const SDK_IDENTITY_IDP_CONNECTOR: &str = "0a046f6b746112044f6b74611a046f69646320032a257b22697373756572223a2268747470733a2f2f6578616d706c652e6f6b74612e636f6d227d32560a120a08636c69656e74494412061a047475736b0a1f0a19696e736563757265536b6970456d61696c5665726966696564120220010a1f0a0673636f706573121532130a081a066f70656e69640a071a05656d61696c";
const SDK_IDENTITY_OIDC_CLIENT: &str = "0a0570616368641232687474703a2f2f6c6f63616c686f73743a33303635372f617574686f72697a6174696f6e2d636f64652f63616c6c6261636b1214687474703a2f2f70616368643a313635372f63621a07636f6e736f6c65220570616368642a06733363723374";
const SDK_ENTERPRISE_GET_STATE_RESPONSE: &str =
    "0801120e0a0c08a5aaf586071088eadcc3021a1065794a306232746c62694936496e303d";
const SDK_ENTERPRISE_PAUSE_STATUS_RESPONSE: &str = "0802";
const SDK_LICENSE_CLUSTER_STATUS: &str = "0a096c6f63616c686f73741215677270633a2f2f6c6f63616c686f73743a313635331a06322e31312e3620013a0570616368642a0c08a5aaf586071088eadcc302";
const SDK_VERSION: &str = "0802100b180622052d7475736b2a0763656365366665320566616c73653a14323033302d30312d30325430333a30343a30355a420c727573746320312e39352e304a05616d643634";

/// 2030-01-02T03:04:05.678901Z, the SDK vectors' `datetime`.
fn ts() -> Timestamp {
    Timestamp {
        seconds: 1_893_553_445,
        nanos: 678_901_000,
    }
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Our encoding equals the SDK's byte for byte, and the SDK's bytes decode to our message.
fn same_as_sdk<M: Message + Default + PartialEq + Debug>(msg: &M, sdk_hex: &str) {
    assert_eq!(
        hex(&msg.encode_to_vec()),
        sdk_hex,
        "encoding differs from the SDK's"
    );
    let decoded = M::decode(unhex(sdk_hex).as_slice()).expect("SDK bytes decode");
    assert_eq!(&decoded, msg, "SDK bytes decode to a different message");
}

fn s(v: &str) -> String {
    v.to_owned()
}

fn str_value(v: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s(v))),
    }
}

// ---------------------------------------------------------------------------------------------
// auth_v2
// ---------------------------------------------------------------------------------------------

#[test]
fn auth_activate() {
    same_as_sdk(
        &auth_v2::ActivateRequest {
            root_token: s("root-token-0123"),
        },
        SDK_AUTH_ACTIVATE_REQUEST,
    );
    same_as_sdk(
        &auth_v2::ActivateResponse {
            pach_token: s("b1946ac92492d2347c6235b4d2611184"),
        },
        SDK_AUTH_ACTIVATE_RESPONSE,
    );
}

#[test]
fn auth_who_am_i() {
    same_as_sdk(
        &auth_v2::WhoAmIResponse {
            username: s("user:alice@example.com"),
            expiration: Some(ts()),
        },
        SDK_AUTH_WHO_AM_I_RESPONSE,
    );
    // A non-expiring token leaves `expiration` off the wire entirely.
    same_as_sdk(
        &auth_v2::WhoAmIResponse {
            username: s("pach:root"),
            expiration: None,
        },
        SDK_AUTH_WHO_AM_I_RESPONSE_NO_EXPIRY,
    );
}

#[test]
fn auth_authorize() {
    use auth_v2::Permission as P;
    same_as_sdk(
        &auth_v2::AuthorizeRequest {
            resource: Some(auth_v2::Resource {
                r#type: auth_v2::ResourceType::Repo as i32,
                name: s("default/images"),
            }),
            // Packed varints, as proto3 and the SDK do.
            permissions: vec![
                P::RepoRead as i32,
                P::RepoWrite as i32,
                P::ClusterAuthGetRobotToken as i32,
                P::JobSkipCtx as i32,
            ],
        },
        SDK_AUTH_AUTHORIZE_REQUEST,
    );
    same_as_sdk(
        &auth_v2::AuthorizeResponse {
            authorized: false,
            satisfied: vec![P::RepoRead as i32],
            missing: vec![P::RepoWrite as i32],
            principal: s("robot:ci"),
        },
        SDK_AUTH_AUTHORIZE_RESPONSE,
    );
}

#[test]
fn auth_modify_role_binding() {
    same_as_sdk(
        &auth_v2::ModifyRoleBindingRequest {
            resource: Some(auth_v2::Resource {
                r#type: auth_v2::ResourceType::Project as i32,
                name: s("default"),
            }),
            principal: s("group:data-eng"),
            roles: vec![s("projectOwner"), s("repoReader")],
        },
        SDK_AUTH_MODIFY_ROLE_BINDING_REQUEST,
    );
}

#[test]
fn auth_get_robot_token() {
    same_as_sdk(
        &auth_v2::GetRobotTokenRequest {
            robot: s("robot:ci"),
            ttl: 3600,
        },
        SDK_AUTH_GET_ROBOT_TOKEN_REQUEST,
    );
    // ttl is int64 (not sint64): -1 is a ten-byte varint.
    same_as_sdk(
        &auth_v2::GetRobotTokenRequest {
            robot: s("ci"),
            ttl: -1,
        },
        SDK_AUTH_GET_ROBOT_TOKEN_REQUEST_NEGATIVE_TTL,
    );
}

#[test]
fn auth_role_binding_maps() {
    let roles = auth_v2::Roles {
        roles: HashMap::from([(s("clusterAdmin"), true)]),
    };
    same_as_sdk(
        &auth_v2::GetRoleBindingResponse {
            binding: Some(auth_v2::RoleBinding {
                entries: HashMap::from([(s("user:alice@example.com"), roles)]),
            }),
        },
        SDK_AUTH_GET_ROLE_BINDING_RESPONSE,
    );
}

#[test]
fn auth_token_info_and_config() {
    same_as_sdk(
        &auth_v2::TokenInfo {
            subject: s("robot:ci"),
            expiration: Some(ts()),
            hashed_token: s("9f86d081884c7d65"),
        },
        SDK_AUTH_TOKEN_INFO,
    );
    same_as_sdk(
        &auth_v2::SetConfigurationRequest {
            configuration: Some(auth_v2::OidcConfig {
                issuer: s("http://pachd:30658/dex"),
                client_id: s("pachd"),
                client_secret: s("notsecret"),
                redirect_uri: s("http://localhost:30657/authorization-code/callback"),
                scopes: vec![s("email"), s("profile"), s("groups"), s("openid")],
                require_email_verified: true,
                localhost_issuer: true,
                user_accessible_issuer_host: s("localhost:30658"),
            }),
        },
        SDK_AUTH_SET_CONFIGURATION_REQUEST,
    );
}

#[test]
fn auth_roles_for_permission() {
    use auth_v2::{Permission as P, ResourceType as R};
    same_as_sdk(
        &auth_v2::GetRolesForPermissionResponse {
            roles: vec![auth_v2::Role {
                name: s("repoReader"),
                permissions: vec![P::RepoRead as i32, P::RepoListFile as i32],
                can_be_bound_to: vec![R::Cluster as i32, R::Project as i32, R::Repo as i32],
                returned_for: vec![R::Repo as i32],
            }],
        },
        SDK_AUTH_GET_ROLES_FOR_PERMISSION_RESPONSE,
    );
}

#[test]
fn auth_enum_numbers_and_names() {
    use auth_v2::{Permission as P, ResourceType as R};
    // Spot values from the SDK's `Permission` / `ResourceType` enums. prost strips the enum-name
    // prefix from variants: PERMISSION_UNKNOWN is `Permission::Unknown`.
    let perms = [
        (P::Unknown, 0, "PERMISSION_UNKNOWN"),
        (P::ClusterModifyBindings, 100, "CLUSTER_MODIFY_BINDINGS"),
        (P::ClusterAuthSetConfig, 105, "CLUSTER_AUTH_SET_CONFIG"),
        (
            P::ClusterAuthModifyGroupMembers,
            109,
            "CLUSTER_AUTH_MODIFY_GROUP_MEMBERS",
        ),
        (
            P::ClusterIdentityDeleteOidcClient,
            129,
            "CLUSTER_IDENTITY_DELETE_OIDC_CLIENT",
        ),
        (P::ClusterDebugDump, 131, "CLUSTER_DEBUG_DUMP"),
        (P::ClusterDeleteAll, 138, "CLUSTER_DELETE_ALL"),
        (
            P::ClusterAuthGetRobotToken,
            139,
            "CLUSTER_AUTH_GET_ROBOT_TOKEN",
        ),
        (
            P::ClusterAuthRotateRootToken,
            147,
            "CLUSTER_AUTH_ROTATE_ROOT_TOKEN",
        ),
        (P::ClusterRestartPachyderm, 153, "CLUSTER_RESTART_PACHYDERM"),
        (P::RepoRead, 200, "REPO_READ"),
        (P::RepoAddPipelineWriter, 214, "REPO_ADD_PIPELINE_WRITER"),
        (P::PipelineListJob, 301, "PIPELINE_LIST_JOB"),
        (P::ProjectSetDefaults, 303, "PROJECT_SET_DEFAULTS"),
        (P::ProjectCreate, 400, "PROJECT_CREATE"),
        (P::ProjectModifyBindings, 404, "PROJECT_MODIFY_BINDINGS"),
        (P::JobSkipCtx, 501, "JOB_SKIP_CTX"),
    ];
    for (p, n, name) in perms {
        assert_eq!(p as i32, n, "{name}");
        assert_eq!(p.as_str_name(), name);
        assert_eq!(P::from_str_name(name), Some(p));
        assert_eq!(P::try_from(n), Ok(p));
    }
    // The holes in the numbering stay holes.
    for n in [106, 107, 108, 130, 154, 215, 300, 405, 500] {
        assert!(P::try_from(n).is_err(), "{n} should not be a Permission");
    }
    let types = [
        (R::Unknown, 0, "RESOURCE_TYPE_UNKNOWN"),
        (R::Cluster, 1, "CLUSTER"),
        (R::Repo, 2, "REPO"),
        (R::SpecRepo, 3, "SPEC_REPO"),
        (R::Project, 4, "PROJECT"),
        (R::Job, 5, "JOB"),
    ];
    for (t, n, name) in types {
        assert_eq!(t as i32, n, "{name}");
        assert_eq!(t.as_str_name(), name);
    }
}

// ---------------------------------------------------------------------------------------------
// identity_v2
// ---------------------------------------------------------------------------------------------

#[test]
fn identity_idp_connector() {
    // prost_types::Struct is a BTreeMap (sorted keys); the SDK vector inserts keys sorted too.
    let config = Struct {
        fields: [
            (s("clientID"), str_value("tusk")),
            (
                s("insecureSkipEmailVerified"),
                Value {
                    kind: Some(Kind::BoolValue(true)),
                },
            ),
            (
                s("scopes"),
                Value {
                    kind: Some(Kind::ListValue(ListValue {
                        values: vec![str_value("openid"), str_value("email")],
                    })),
                },
            ),
        ]
        .into_iter()
        .collect(),
    };
    same_as_sdk(
        &identity_v2::IdpConnector {
            id: s("okta"),
            name: s("Okta"),
            r#type: s("oidc"),
            config_version: 3,
            json_config: s(r#"{"issuer":"https://example.okta.com"}"#),
            config: Some(config),
        },
        SDK_IDENTITY_IDP_CONNECTOR,
    );
}

#[test]
fn identity_oidc_client() {
    same_as_sdk(
        &identity_v2::OidcClient {
            id: s("pachd"),
            redirect_uris: vec![
                s("http://localhost:30657/authorization-code/callback"),
                s("http://pachd:1657/cb"),
            ],
            trusted_peers: vec![s("console")],
            name: s("pachd"),
            secret: s("s3cr3t"),
        },
        SDK_IDENTITY_OIDC_CLIENT,
    );
}

// ---------------------------------------------------------------------------------------------
// enterprise_v2, license_v2, versionpb_v2
// ---------------------------------------------------------------------------------------------

#[test]
fn enterprise_get_state() {
    same_as_sdk(
        &enterprise_v2::GetStateResponse {
            state: enterprise_v2::State::Active as i32,
            info: Some(enterprise_v2::TokenInfo {
                expires: Some(ts()),
            }),
            activation_code: s("eyJ0b2tlbiI6In0="),
        },
        SDK_ENTERPRISE_GET_STATE_RESPONSE,
    );
    assert_eq!(enterprise_v2::State::None as i32, 0);
    assert_eq!(enterprise_v2::State::Expired as i32, 2);
    assert_eq!(enterprise_v2::State::HeartbeatFailed as i32, 3);
    assert_eq!(
        enterprise_v2::State::HeartbeatFailed.as_str_name(),
        "HEARTBEAT_FAILED"
    );
}

#[test]
fn enterprise_pause_status() {
    use enterprise_v2::pause_status_response::PauseStatus;
    same_as_sdk(
        &enterprise_v2::PauseStatusResponse {
            status: PauseStatus::Paused as i32,
        },
        SDK_ENTERPRISE_PAUSE_STATUS_RESPONSE,
    );
    assert_eq!(PauseStatus::Unpaused as i32, 0);
    assert_eq!(PauseStatus::PartiallyPaused as i32, 1);
}

#[test]
fn license_cluster_status_field_7() {
    let status = license_v2::ClusterStatus {
        id: s("localhost"),
        address: s("grpc://localhost:1653"),
        version: s("2.11.6"),
        auth_enabled: true,
        client_id: s("pachd"),
        last_heartbeat: Some(ts()),
        created_at: None,
    };
    // betterproto writes fields in declaration order (client_id = 7 before last_heartbeat = 5);
    // prost writes them in tag order. Both are valid protobuf, so compare decoded messages.
    let sdk = unhex(SDK_LICENSE_CLUSTER_STATUS);
    assert_eq!(
        license_v2::ClusterStatus::decode(sdk.as_slice()).expect("decode"),
        status
    );
    let ours = status.encode_to_vec();
    assert_eq!(ours.len(), sdk.len());
    assert_eq!(
        license_v2::ClusterStatus::decode(ours.as_slice()).expect("decode"),
        status
    );
    // The client_id record `3a 05 "pachd"` is field 7, length-delimited.
    assert!(hex(&ours).ends_with("3a057061636864"), "{}", hex(&ours));
}

#[test]
fn version() {
    same_as_sdk(
        &versionpb_v2::Version {
            major: 2,
            minor: 11,
            micro: 6,
            additional: s("-tusk"),
            git_commit: s("cece6fe"),
            git_tree_modified: s("false"),
            build_date: s("2030-01-02T03:04:05Z"),
            go_version: s("rustc 1.95.0"),
            platform: s("amd64"),
        },
        SDK_VERSION,
    );
}

// ---------------------------------------------------------------------------------------------
// Services: names, methods, descriptor set
// ---------------------------------------------------------------------------------------------

fn methods(fds: &FileDescriptorSet, service: &str) -> Vec<String> {
    let (package, name) = service.split_once('.').expect("package.Service");
    fds.file
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.service.iter())
        .filter(|s| s.name() == name)
        .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
        .collect()
}

#[test]
fn descriptor_set_has_every_rpc() {
    let fds = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
    assert_eq!(
        methods(&fds, "auth_v2.API"),
        [
            "Activate",
            "Deactivate",
            "GetConfiguration",
            "SetConfiguration",
            "Authenticate",
            "Authorize",
            "GetPermissions",
            "GetPermissionsForPrincipal",
            "WhoAmI",
            "GetRolesForPermission",
            "ModifyRoleBinding",
            "GetRoleBinding",
            "GetOIDCLogin",
            "GetRobotToken",
            "RevokeAuthToken",
            "RevokeAuthTokensForUser",
            "SetGroupsForUser",
            "ModifyMembers",
            "GetGroups",
            "GetGroupsForPrincipal",
            "GetUsers",
            "ExtractAuthTokens",
            "RestoreAuthToken",
            "DeleteExpiredAuthTokens",
            "RotateRootToken",
        ]
    );
    assert_eq!(
        methods(&fds, "identity_v2.API"),
        [
            "SetIdentityServerConfig",
            "GetIdentityServerConfig",
            "CreateIDPConnector",
            "UpdateIDPConnector",
            "ListIDPConnectors",
            "GetIDPConnector",
            "DeleteIDPConnector",
            "CreateOIDCClient",
            "UpdateOIDCClient",
            "GetOIDCClient",
            "ListOIDCClients",
            "DeleteOIDCClient",
            "DeleteAll",
        ]
    );
    assert_eq!(
        methods(&fds, "enterprise_v2.API"),
        [
            "Activate",
            "GetState",
            "GetActivationCode",
            "Heartbeat",
            "Deactivate",
            "Pause",
            "Unpause",
            "PauseStatus"
        ]
    );
    assert_eq!(
        methods(&fds, "license_v2.API"),
        [
            "Activate",
            "GetActivationCode",
            "DeleteAll",
            "AddCluster",
            "DeleteCluster",
            "ListClusters",
            "UpdateCluster",
            "Heartbeat",
            "ListUserClusters",
        ]
    );
    assert_eq!(methods(&fds, "versionpb_v2.API"), ["GetVersion"]);
    // Reflection needs the imports too.
    for wkt in [
        "google/protobuf/timestamp.proto",
        "google/protobuf/struct.proto",
        "google/protobuf/empty.proto",
    ] {
        assert!(
            fds.file.iter().any(|f| f.name() == wkt),
            "{wkt} missing from the descriptor set"
        );
    }
    // GetPermissionsForPrincipal and GetGroupsForPrincipal reuse the plain responses.
    let auth = fds
        .file
        .iter()
        .find(|f| f.package() == "auth_v2")
        .expect("auth_v2");
    let m = |n: &str| {
        auth.service[0]
            .method
            .iter()
            .find(|m| m.name() == n)
            .expect(n)
            .clone()
    };
    assert_eq!(
        m("GetPermissionsForPrincipal").output_type(),
        ".auth_v2.GetPermissionsResponse"
    );
    assert_eq!(
        m("GetGroupsForPrincipal").output_type(),
        ".auth_v2.GetGroupsResponse"
    );
    assert_eq!(
        m("GetOIDCLogin").input_type(),
        ".auth_v2.GetOIDCLoginRequest"
    );
    let v = fds
        .file
        .iter()
        .find(|f| f.package() == "versionpb_v2")
        .expect("versionpb_v2");
    assert_eq!(
        v.service[0].method[0].input_type(),
        ".google.protobuf.Empty"
    );
}

#[test]
fn service_names() {
    assert_eq!(auth_v2::api_server::SERVICE_NAME, "auth_v2.API");
    assert_eq!(identity_v2::api_server::SERVICE_NAME, "identity_v2.API");
    assert_eq!(enterprise_v2::api_server::SERVICE_NAME, "enterprise_v2.API");
    assert_eq!(license_v2::api_server::SERVICE_NAME, "license_v2.API");
    assert_eq!(versionpb_v2::api_server::SERVICE_NAME, "versionpb_v2.API");
    assert_eq!(
        tusk_proto::SERVICE_NAMES,
        [
            "auth_v2.API",
            "identity_v2.API",
            "enterprise_v2.API",
            "license_v2.API",
            "versionpb_v2.API",
            "tusk.resources.v1.Resources",
            "tusk.audit.v1.Audit",
            "tusk.consent.v1.Consent"
        ]
    );
    assert_eq!(
        tusk_proto::tusk::consent::v1::consent_server::SERVICE_NAME,
        "tusk.consent.v1.Consent"
    );
    assert_eq!(
        tusk_proto::tusk::audit::v1::audit_server::SERVICE_NAME,
        "tusk.audit.v1.Audit"
    );
    assert_eq!(
        tusk_proto::tusk::resources::v1::resources_server::SERVICE_NAME,
        "tusk.resources.v1.Resources"
    );
}

/// The generated server trait and client work together: `GetVersion` served by tonic on a
/// loopback port and called with the generated client (path `/versionpb_v2.API/GetVersion`,
/// request `google.protobuf.Empty` as `()`).
#[tokio::test]
async fn version_grpc_roundtrip() {
    use tonic::transport::Server;
    use tonic::transport::server::TcpIncoming;
    use versionpb_v2::api_client::ApiClient;
    use versionpb_v2::api_server::{Api, ApiServer};

    struct V;
    #[tonic::async_trait]
    impl Api for V {
        async fn get_version(
            &self,
            _request: tonic::Request<()>,
        ) -> Result<tonic::Response<versionpb_v2::Version>, tonic::Status> {
            Ok(tonic::Response::new(versionpb_v2::Version {
                major: 2,
                minor: 11,
                additional: s("-tusk"),
                ..Default::default()
            }))
        }
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .add_service(ApiServer::new(V))
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            }),
    );

    let reply = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut client = ApiClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        client
            .get_version(())
            .await
            .expect("GetVersion")
            .into_inner()
    })
    .await
    .expect("GetVersion within 10 s");
    assert_eq!(
        (reply.major, reply.minor, reply.additional.as_str()),
        (2, 11, "-tusk")
    );

    let _ = stop.send(());
    server.await.expect("join").expect("server");
}
