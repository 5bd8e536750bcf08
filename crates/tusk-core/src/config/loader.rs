//! The loader: the diagnostics context every section reports into, and
//! reading the values files, environment variables and secrets as nodes.

use super::model::{ENV_VARS, Input, SourceText};
use super::schema::Ctx;
use crate::yaml::{self, Node, Pos, Value};

pub(super) struct Loader<'a> {
    pub(super) ctx: Ctx<'a>,
}

pub(super) fn text_of(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "this is not UTF-8 text (invalid byte at offset {}); is it a binary file?",
            e.valid_up_to()
        )
    })
}

impl Loader<'_> {
    pub(super) fn read_files(&mut self, files: &[SourceText]) -> Option<Node> {
        let mut merged: Option<Node> = None;
        for (index, file) in files.iter().enumerate() {
            let pos = Pos {
                source: index,
                line: 0,
            };
            let node = match self.parse_text(&file.bytes, index) {
                Some(node) => node,
                None => continue,
            };
            let Some(node) = node else {
                self.ctx.error(
                    pos,
                    "",
                    "the values file is empty",
                    Some(
                        "add settings such as `oidc:` to it, or leave out this --values flag"
                            .into(),
                    ),
                );
                continue;
            };
            if !matches!(node.value, Value::Map(_)) {
                self.ctx.error(
                    Pos { source: index, line: node.pos.line },
                    "",
                    format!("a values file must be a map of settings, like Helm's values.yaml, but this one is {}", node.kind()),
                    Some("start the file with a key such as `oidc:`".into()),
                );
                continue;
            }
            match merged.as_mut() {
                Some(base) => base.merge(node),
                None => merged = Some(node),
            }
        }
        merged
    }

    /// `Some(None)` is an empty text; `None` means it failed (and was reported).
    pub(super) fn parse_text(&mut self, bytes: &[u8], source: usize) -> Option<Option<Node>> {
        let pos = Pos { source, line: 0 };
        let text = match text_of(bytes) {
            Ok(t) => t,
            Err(why) => {
                self.ctx.error(pos, "", why, None);
                return None;
            }
        };
        match yaml::parse(text, source) {
            Ok(node) => Some(node),
            Err(e) => {
                self.ctx.error(
                    Pos {
                        source,
                        line: e.line,
                    },
                    "",
                    format!("this is not valid YAML or JSON: {}", e.message),
                    None,
                );
                None
            }
        }
    }

    /// Parses an environment variable's YAML, reporting problems against it.
    pub(super) fn env_node(
        &mut self,
        input: &Input<'_>,
        env_start: usize,
        var: &str,
    ) -> Option<Node> {
        let value = input.env.get(var)?;
        let index = env_start + ENV_VARS.iter().position(|v| *v == var)?;
        self.parse_text(value.as_bytes(), index).flatten()
    }

    pub(super) fn secret(
        &mut self,
        input: &Input<'_>,
        _source: usize,
        path: &str,
        name: &str,
        key: &str,
        pos: Pos,
    ) -> Option<String> {
        let Some(secrets) = input.secrets else {
            self.ctx.error(
                pos,
                path,
                format!("names the secret `{name}`, but no secrets directory was given"),
                Some(format!(
                    "run with --secrets-dir DIR, where DIR/{name}/{key} holds the value"
                )),
            );
            return None;
        };
        match secrets.read(name, key) {
            Ok(v) => Some(v),
            Err(why) => {
                self.ctx.error(
                    pos,
                    path,
                    format!(
                        "cannot read key `{key}` of secret `{name}` ({}): {why}",
                        secrets.locate(name, key)
                    ),
                    Some(format!(
                        "create the file {} or fix the secret name",
                        secrets.locate(name, key)
                    )),
                );
                None
            }
        }
    }
}
