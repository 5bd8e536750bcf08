//! The identity claims tokens and userinfo carry.

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Scope-gated claims shared by ID tokens, access tokens and userinfo.
pub(crate) fn identity_claims(
    out: &mut BTreeMap<String, Value>,
    scopes: &[String],
    claims: &tusk_store::Claims,
    connector_id: &str,
) {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    out.insert(
        "sub".into(),
        json!(crate::subject::encode(&claims.user_id, connector_id)),
    );
    if has("email") {
        out.insert("email".into(), json!(claims.email));
        out.insert("email_verified".into(), json!(claims.email_verified));
    }
    if has("groups") {
        out.insert("groups".into(), json!(claims.groups));
    }
    if has("profile") {
        out.insert("name".into(), json!(claims.username));
        if !claims.preferred_username.is_empty() {
            out.insert(
                "preferred_username".into(),
                json!(claims.preferred_username),
            );
        }
    }
    if has("federated:id") {
        out.insert(
            "federated_claims".into(),
            json!({"connector_id": connector_id, "user_id": claims.user_id}),
        );
    }
}
