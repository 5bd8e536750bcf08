//! The `tusk idp` connector file (`id`, `name`, `type`, `version`,
//! `config`), as `create-connector`/`update-connector` read it and
//! `get-connector` prints it. It is validated by `tusk-core` exactly as
//! `tusk config check` validates Helm values, before anything is sent.
//! Secrets print as `***`, and a `***` sent back keeps the stored value,
//! so `get-connector -o yaml` output can be edited and fed back.

use crate::error::{Failure, Outcome};
use crate::input::read_input;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use tusk_core::config::{self, Dialect};
use tusk_proto::identity_v2 as pb;
use tusk_proto::structs::struct_to_json;

/// Reads and validates a connector file with tusk-core; every problem is
/// printed with its line, then the whole file is refused.
pub fn load_connector(path: &Path) -> Outcome<config::ConnectorSpec> {
    let bytes = read_input(path)?;
    let name = if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    };
    match config::parse_connector(&bytes, &name, Dialect::IdpFile) {
        // The reference's other types (github, saml, ...) pass the
        // checks, for values files written for Pachyderm, but tusk cannot
        // open them: created through the API, one would only ever show as
        // unavailable.
        Ok(spec) if !tusk_connector::SUPPORTED_KINDS.contains(&spec.type_.as_str()) => {
            Err(Failure::usage(format!(
                "{name}: connector type `{}` is one tusk cannot open yet (nothing was sent)",
                spec.type_
            ))
            .help(format!(
                "use one of the types tusk opens: {}; an upstream that speaks OpenID Connect (Okta, Google, Azure AD, Keycloak, GitLab) works as `oidc`",
                tusk_connector::SUPPORTED_KINDS.join(", ")
            )))
        }
        Ok(spec) => Ok(spec),
        Err(diags) => {
            let errors = diags
                .iter()
                .filter(|d| d.severity == config::Severity::Error)
                .count();
            for d in &diags {
                eprintln!("{d}");
            }
            Err(Failure::usage(format!(
                "{name}: connector refused, {errors} error{} (nothing was sent)",
                if errors == 1 { "" } else { "s" }
            )))
        }
    }
}

/// Masks the secret fields of a connector's config, as `config show` does.
fn masked(type_: &str, config: &Value, show_secrets: bool) -> Value {
    if show_secrets {
        config.clone()
    } else {
        config::connector::mask_config(type_, config)
    }
}

/// A `***` left from `get-connector` keeps the stored value.
pub fn unmask(new: &mut Value, stored: &Value) {
    if let (Value::Object(n), Value::Object(s)) = (new, stored) {
        for (k, v) in n.iter_mut() {
            match (v.as_str(), s.get(k)) {
                (Some("***"), Some(old)) => *v = old.clone(),
                (_, Some(old)) if v.is_object() => unmask(v, old),
                _ => {}
            }
        }
    }
}

pub fn contains_mask(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s == "***" => Some(String::new()),
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            contains_mask(v).map(|rest| {
                if rest.is_empty() {
                    k.clone()
                } else {
                    format!("{k}.{rest}")
                }
            })
        }),
        _ => None,
    }
}

/// A connector in the `tusk idp` file format, keys in the file's order.
#[derive(Serialize)]
pub struct ConnectorOut {
    id: String,
    name: String,
    #[serde(rename = "type")]
    type_: String,
    version: i64,
    pub config: Value,
}

pub fn connector_out(c: &pb::IdpConnector, show_secrets: bool) -> ConnectorOut {
    let config = c.config.as_ref().map_or_else(
        || serde_json::from_str(&c.json_config).unwrap_or(Value::Null),
        struct_to_json,
    );
    ConnectorOut {
        id: c.id.clone(),
        name: c.name.clone(),
        type_: c.r#type.clone(),
        version: c.config_version,
        config: masked(&c.r#type, &config, show_secrets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masked_values_are_filled_from_the_stored_config() {
        let mut new = json!({"clientSecret": "***", "issuer": "https://b", "nested": {"k": "***"}});
        let stored = json!({"clientSecret": "s3cret", "issuer": "https://a", "nested": {"k": "v"}});
        unmask(&mut new, &stored);
        assert_eq!(
            new,
            json!({"clientSecret": "s3cret", "issuer": "https://b", "nested": {"k": "v"}})
        );
        assert_eq!(contains_mask(&new), None);
        assert_eq!(
            contains_mask(&json!({"a": {"b": "***"}})).as_deref(),
            Some("a.b")
        );
    }

    #[test]
    fn struct_numbers_come_back_as_integers() {
        let s = tusk_proto::structs::json_to_struct(&json!({"a": 3, "b": 0.5, "c": [true, null]}));
        assert_eq!(
            struct_to_json(&s),
            json!({"a": 3, "b": 0.5, "c": [true, null]})
        );
    }
}
