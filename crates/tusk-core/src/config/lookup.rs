//! Typed lookups in the merged values tree, shared by every section's
//! builder. A key set to `null` reads as absent, as in Helm.

use super::duration;
use crate::yaml::{Node, Value};
use std::time::Duration;

#[derive(Clone, Copy)]
pub(super) struct Values<'v>(pub(super) &'v Node);

impl<'v> Values<'v> {
    pub(super) fn get(&self, path: &[&str]) -> Option<&'v Node> {
        let mut node = self.0;
        for key in path {
            node = node.get(key)?;
        }
        (node.value != Value::Null).then_some(node)
    }

    /// A non-blank string, trimmed.
    pub(super) fn str_at(&self, path: &[&str]) -> Option<String> {
        match self.get(path).map(|n| &n.value) {
            Some(Value::Str(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        }
    }

    pub(super) fn bool_at(&self, path: &[&str], default: bool) -> bool {
        match self.get(path).map(|n| &n.value) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        }
    }

    /// A duration; one that does not parse was already reported by the
    /// schema check, so it reads as absent here.
    pub(super) fn dur_at(&self, path: &[&str]) -> Option<Duration> {
        self.str_at(path).and_then(|s| duration::parse(&s).ok())
    }
}
