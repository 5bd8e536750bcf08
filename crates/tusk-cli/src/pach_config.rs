//! The Pachyderm config file that holds the contexts, shared with
//! `pachctl` and `pachyderm_sdk.Client.from_config()`.
//!
//! The file is `$PACH_CONFIG`, else `~/.pachyderm/config.json`, in the v2
//! format that pachyderm-sdk 2.12.2's `config.py` reads:
//!
//! ```json
//! {"user_id": "…", "v2": {"active_context": "default",
//!   "contexts": {"default": {"pachd_address": "grpc://127.0.0.1:30650",
//!                            "session_token": "…"}},
//!   "metrics": true}}
//! ```
//!
//! The SDK builds `Context(**fields)`, so a key it does not know makes it
//! raise: tusk writes only the SDK's own field names (`pachd_address`,
//! `session_token`, `server_cas`) and keeps every other key it finds, so a
//! file written by pachctl survives a round trip through tusk.

use crate::error::{Failure, Outcome};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// The SDK's default when a context has no address.
pub const DEFAULT_ADDRESS: &str = "grpc://127.0.0.1:30650";

pub struct ConfigFile {
    pub path: PathBuf,
    data: Value,
}

/// One context, as read: only what tusk uses.
#[derive(Clone, Default)]
pub struct Context {
    pub name: String,
    pub pachd_address: Option<String>,
    pub session_token: Option<String>,
    /// base64 of PEM, as the SDK stores it.
    pub server_cas: Option<String>,
}

/// The session token is a bearer credential: `Debug` shows only whether
/// there is one.
impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("name", &self.name)
            .field("pachd_address", &self.pachd_address)
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("server_cas", &self.server_cas.is_some())
            .finish()
    }
}

pub fn config_path() -> Outcome<PathBuf> {
    if let Some(p) = std::env::var_os("PACH_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(Path::new(&home).join(".pachyderm").join("config.json")),
        None => Err(Failure::usage(
            "cannot find the config file: neither PACH_CONFIG nor HOME is set",
        )
        .help("set PACH_CONFIG to the path of a config file, e.g. PACH_CONFIG=./pach.json")),
    }
}

impl ConfigFile {
    /// Reads the config file; a missing file is an empty config.
    pub fn load() -> Outcome<ConfigFile> {
        let path = config_path()?;
        let data = match std::fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({
                "user_id": uuid::Uuid::new_v4().simple().to_string(),
                "v2": {"active_context": "default", "contexts": {}, "metrics": true},
            }),
            Err(e) => {
                return Err(Failure::usage(format!(
                    "{}: cannot read the config file: {e}",
                    path.display()
                )));
            }
        };
        Ok(ConfigFile { path, data })
    }

    fn v2(&self) -> Option<&Map<String, Value>> {
        self.data.get("v2").and_then(Value::as_object)
    }

    fn v2_mut(&mut self) -> &mut Map<String, Value> {
        let root = ensure_object(&mut self.data);
        ensure_object(root.entry("v2").or_insert_with(|| json!({})))
    }

    fn contexts_mut(&mut self) -> &mut Map<String, Value> {
        ensure_object(self.v2_mut().entry("contexts").or_insert_with(|| json!({})))
    }

    pub fn active_name(&self) -> Option<String> {
        self.v2()
            .and_then(|v| v.get("active_context"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    pub fn names(&self) -> Vec<String> {
        self.v2()
            .and_then(|v| v.get("contexts"))
            .and_then(Value::as_object)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<Context> {
        let fields = self.v2()?.get("contexts")?.get(name)?.as_object()?;
        let text = |k: &str| {
            fields
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Some(Context {
            name: name.to_owned(),
            pachd_address: text("pachd_address"),
            session_token: text("session_token"),
            server_cas: text("server_cas"),
        })
    }

    /// Sets one field of a context, creating the context if needed;
    /// `None` removes the field.
    pub fn set_field(&mut self, context: &str, key: &str, value: Option<&str>) {
        let entry = self
            .contexts_mut()
            .entry(context.to_owned())
            .or_insert_with(|| json!({}));
        let fields = ensure_object(entry);
        match value {
            Some(v) => {
                fields.insert(key.to_owned(), Value::String(v.to_owned()));
            }
            None => {
                fields.remove(key);
            }
        }
    }

    pub fn create(&mut self, name: &str) {
        self.contexts_mut()
            .entry(name.to_owned())
            .or_insert_with(|| json!({}));
    }

    /// Forgets a context, with its session token.
    pub fn remove(&mut self, name: &str) {
        if let Some(contexts) = self
            .v2_mut()
            .get_mut("contexts")
            .and_then(Value::as_object_mut)
        {
            contexts.remove(name);
        }
    }

    pub fn set_active(&mut self, name: &str) {
        self.v2_mut()
            .insert("active_context".into(), Value::String(name.to_owned()));
    }

    /// Writes atomically (a temporary file renamed over the old one), owner
    /// read/write only: the file holds session tokens.
    pub fn save(&mut self) -> Outcome {
        let v2 = self.v2_mut();
        v2.entry("metrics").or_insert(Value::Bool(true));
        if !v2.contains_key("active_context") {
            v2.insert("active_context".into(), Value::String("default".into()));
        }
        let root = ensure_object(&mut self.data);
        root.entry("user_id")
            .or_insert_with(|| Value::String(uuid::Uuid::new_v4().simple().to_string()));
        let mut text = serde_json::to_string_pretty(&self.data)
            .map_err(|e| Failure::run(format!("cannot render the config file: {e}")))?;
        text.push('\n');
        let fail = |what: &str, e: std::io::Error| {
            Failure::run(format!("{}: cannot {what}: {e}", self.path.display()))
                .help("check the directory's permissions, or point PACH_CONFIG at a writable file")
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail("create its directory", e))?;
        }
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        crate::private_file::write(&tmp, text.as_bytes()).map_err(|e| fail("write", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail("replace", e)
        })
    }
}

fn ensure_object(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("replaced by an object just above"),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Outcome<Value> {
    let bad = |why: String| {
        Failure::usage(format!(
            "{}: not a Pachyderm config file: {why}",
            path.display()
        ))
        .help("fix the file, or move it away and tusk starts a new one (PACH_CONFIG chooses another path)")
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({"v2": {"active_context": "default", "contexts": {}}}));
    }
    let data: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let Some(root) = data.as_object() else {
        return Err(bad("the top level must be a JSON object".into()));
    };
    match root.get("v2") {
        None => {
            return Err(bad(
                "it has no `v2` section (a config from Pachyderm 1.x?)".into()
            ));
        }
        Some(Value::Object(v2)) => {
            if let Some(c) = v2.get("contexts")
                && !c.is_object()
            {
                return Err(bad("`v2.contexts` must be an object".into()));
            }
            if let Some(c) = v2.get("contexts").and_then(Value::as_object)
                && let Some((name, _)) = c.iter().find(|(_, v)| !v.is_object())
            {
                return Err(bad(format!("context `{name}` must be an object")));
            }
        }
        Some(_) => return Err(bad("`v2` must be an object".into())),
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_files_are_named_with_the_cause() {
        let p = Path::new("/x/config.json");
        for (text, want) in [
            ("{", "not a Pachyderm config file"),
            ("[]", "top level must be a JSON object"),
            (r#"{"v1": {}}"#, "no `v2` section"),
            (r#"{"v2": 3}"#, "`v2` must be an object"),
            (
                r#"{"v2": {"contexts": []}}"#,
                "`v2.contexts` must be an object",
            ),
            (
                r#"{"v2": {"contexts": {"a": 1}}}"#,
                "context `a` must be an object",
            ),
        ] {
            let e = parse(p, text.as_bytes()).err().map(|e| e.message);
            assert!(
                e.as_deref().is_some_and(|m| m.contains(want)),
                "{text}: {e:?}"
            );
        }
        assert!(parse(p, b"  \n").is_ok());
    }
}
