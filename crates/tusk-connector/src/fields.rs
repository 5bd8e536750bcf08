//! Reading fields of a connector's JSON config. Messages name the field
//! and never echo its value, which may be a secret.

use crate::error::{Error, config_err};

/// Reads an optional string field of a config object. The message never
/// echoes the value, which may be a secret.
pub(crate) fn opt_str<'a>(
    connector: &str,
    obj: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, Error> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(config_err(
            connector,
            format!("`{path}{key}` must be a string"),
        )),
    }
}

/// Like [`opt_str`], but the field must be present and non-empty.
pub(crate) fn req_str<'a>(
    connector: &str,
    obj: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
    key: &str,
) -> Result<&'a str, Error> {
    match opt_str(connector, obj, path, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(config_err(
            connector,
            format!("no {key} supplied: set `{path}{key}`"),
        )),
    }
}

pub(crate) fn as_object<'a>(
    connector: &str,
    value: &'a serde_json::Value,
    what: &str,
) -> Result<&'a serde_json::Map<String, serde_json::Value>, Error> {
    value
        .as_object()
        .ok_or_else(|| config_err(connector, format!("{what} must be a map")))
}
