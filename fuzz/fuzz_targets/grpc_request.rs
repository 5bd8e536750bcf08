//! Any bytes as the body of an `auth_v2` or `identity_v2` request (the first
//! byte picks the message type): prost decodes it or refuses it, and what
//! decodes goes through the pure checks the handlers apply before touching
//! the store (resource type, subject, role names, connector config with the
//! config checker's rules), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use tusk_core::auth::{Resource, ResourceType, check_subject, role};
use tusk_core::config::{self, Dialect};
use tusk_proto::auth_v2 as auth;
use tusk_proto::identity_v2 as identity;
use tusk_proto::structs::struct_to_json;

fn resource(r: Option<auth::Resource>) {
    let r = r.unwrap_or_default();
    if let Some(kind) = ResourceType::from_i32(r.r#type) {
        let r = Resource { kind, name: r.name };
        let _ = r.binding_key();
        let _ = r.project();
    }
}

fn subjects<'a>(names: impl IntoIterator<Item = &'a String>) {
    for name in names {
        let _ = check_subject(name);
    }
}

/// What `IdentityApi` and `AuthService::validate_connector` do with a
/// connector before storing it: `config` as JSON if set, else `jsonConfig`,
/// wrapped in an envelope and checked like `tusk config check`.
fn connector(c: Option<identity::IdpConnector>) {
    let c = c.unwrap_or_default();
    let config = match &c.config {
        Some(s) if !s.fields.is_empty() => struct_to_json(s).to_string(),
        _ => c.json_config.clone(),
    };
    let Ok(config) = serde_json::from_str::<serde_json::Value>(&config) else {
        return;
    };
    let envelope = serde_json::json!({
        "id": c.id, "name": c.name, "type": c.r#type, "config": config,
    });
    let _ = config::parse_connector(envelope.to_string().as_bytes(), "connector", Dialect::Grpc);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 20 {
        0 => {
            if let Ok(m) = auth::ModifyRoleBindingRequest::decode(body) {
                resource(m.resource);
                subjects([&m.principal]);
                for r in &m.roles {
                    let _ = role(r);
                }
            }
        }
        1 => {
            if let Ok(m) = auth::AuthorizeRequest::decode(body) {
                resource(m.resource);
            }
        }
        2 => {
            if let Ok(m) = auth::GetPermissionsForPrincipalRequest::decode(body) {
                resource(m.resource);
                subjects([&m.principal]);
            }
        }
        3 => {
            if let Ok(m) = auth::GetRoleBindingRequest::decode(body) {
                resource(m.resource);
            }
        }
        4 => {
            if let Ok(m) = auth::GetRobotTokenRequest::decode(body) {
                subjects([&m.robot]);
            }
        }
        5 => {
            if let Ok(m) = auth::SetGroupsForUserRequest::decode(body) {
                subjects([&m.username]);
                subjects(&m.groups);
            }
        }
        6 => {
            if let Ok(m) = auth::ModifyMembersRequest::decode(body) {
                subjects([&m.group]);
                subjects(m.add.iter().chain(&m.remove));
            }
        }
        7 => {
            let _ = auth::AuthenticateRequest::decode(body);
        }
        8 => {
            let _ = auth::ActivateRequest::decode(body);
        }
        9 => {
            let _ = auth::SetConfigurationRequest::decode(body);
        }
        10 => {
            let _ = auth::RestoreAuthTokenRequest::decode(body);
        }
        11 => {
            let _ = auth::GetRolesForPermissionRequest::decode(body);
        }
        12 => {
            if let Ok(m) = identity::CreateIdpConnectorRequest::decode(body) {
                connector(m.connector);
            }
        }
        13 => {
            if let Ok(m) = identity::UpdateIdpConnectorRequest::decode(body) {
                connector(m.connector);
            }
        }
        14 => {
            let _ = identity::CreateOidcClientRequest::decode(body);
        }
        15 => {
            let _ = identity::UpdateOidcClientRequest::decode(body);
        }
        16 => {
            let _ = identity::SetIdentityServerConfigRequest::decode(body);
        }
        17 => {
            let _ = auth::RevokeAuthTokenRequest::decode(body);
        }
        18 => {
            let _ = auth::GetOidcLoginRequest::decode(body);
        }
        _ => {
            let _ = auth::GetGroupsForPrincipalRequest::decode(body);
        }
    }
});
