//! A YAML/JSON reader that keeps the line of every node.
//!
//! serde's YAML deserialisers stop at the first error and forget positions,
//! but `tusk config check` must report every problem at once with its line.
//! So we build our own small tree from saphyr's event stream, then validate
//! it against the config schema (see `config::schema`).
//!
//! JSON is read through the same parser: YAML 1.2 is a superset of JSON.
//! Plain scalars resolve by the YAML 1.2 core schema; the YAML 1.1 booleans
//! Helm accepts (`yes`, `on`, ...) stay strings here and are accepted where a
//! boolean is expected, by the schema.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// The largest input we parse. Real values files are a few kilobytes; a
/// bound keeps a runaway file from eating the process's memory.
pub const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;
/// Bounds nesting so a hostile file cannot exhaust the stack on drop.
const MAX_DEPTH: usize = 64;
/// Bounds alias expansion ("billion laughs").
const MAX_NODES: usize = 200_000;

/// Where a node came from: which source (file or variable) and which line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Index into the caller's list of sources.
    pub source: usize,
    /// 1-based line; 0 means "no line" (a value made up by tusk itself).
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys keep their own position, because "unknown key" points at the key.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

/// Why a text could not be read as YAML or JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl Node {
    pub fn new(value: Value, pos: Pos) -> Node {
        Node { value, pos }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The kind of value, as a user reads it in an error message.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// Converts to JSON for typed decoding once validation has passed.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Builds a node from JSON, all at one position. Used for values that
    /// arrive as JSON from gRPC or as defaults.
    pub fn from_json(json: &serde_json::Value, pos: Pos) -> Node {
        use serde_json::Value as J;
        let value = match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Seq(items.iter().map(|i| Node::from_json(i, pos)).collect()),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| {
                        (
                            Key {
                                name: k.clone(),
                                pos,
                            },
                            Node::from_json(v, pos),
                        )
                    })
                    .collect(),
            ),
        };
        Node { value, pos }
    }

    /// Helm's merge of `-f` files: maps merge key by key, later wins;
    /// anything else (lists included) is replaced whole.
    pub fn merge(&mut self, over: Node) {
        match (&mut self.value, over.value) {
            (Value::Map(base), Value::Map(top)) => {
                // An index of the base's keys keeps a merge of big maps
                // linear; keys are unique within a map (the parser checks).
                let mut index: HashMap<String, usize> = base
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.name.clone(), i))
                    .collect();
                for (key, value) in top {
                    match index.get(&key.name) {
                        Some(&i) => {
                            let (k, existing) = &mut base[i];
                            *k = key;
                            existing.merge(value);
                        }
                        None => {
                            index.insert(key.name.clone(), base.len());
                            base.push((key, value));
                        }
                    }
                }
            }
            (_, value) => {
                self.value = value;
                self.pos = over.pos;
            }
        }
    }
}

/// Parses one document. An empty text is `Ok(None)`, so the caller decides
/// whether emptiness is an error; more than one document is an error,
/// because Helm reads only the first and silently dropping the rest hides
/// settings.
pub fn parse(text: &str, source: usize) -> Result<Option<Node>, ParseError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(ParseError {
            line: 0,
            message: format!(
                "the input is {} bytes; tusk reads at most {} bytes of configuration",
                text.len(),
                MAX_INPUT_BYTES
            ),
        });
    }
    let mut builder = Builder {
        source,
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        documents: Vec::new(),
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| ParseError {
            line: e.marker().line(),
            message: e.info().to_owned(),
        })?;
        builder.on_event(event, span.start.line())?;
    }
    let mut docs = builder.documents.into_iter();
    let first = docs.next();
    if let Some(extra) = docs.next() {
        return Err(ParseError {
            line: extra.pos.line,
            message: "a second YAML document (`---`) starts here; put all settings in one document"
                .into(),
        });
    }
    Ok(first)
}

enum Frame {
    Seq {
        anchor: usize,
        pos: Pos,
        items: Vec<Node>,
    },
    Map {
        anchor: usize,
        pos: Pos,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
        /// Key name → its line, so the duplicate check is one lookup,
        /// not a scan (a scan made 100k keys quadratic).
        seen: HashMap<String, usize>,
    },
}

struct Builder {
    source: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    documents: Vec<Node>,
}

impl Builder {
    fn on_event(&mut self, event: Event<'_>, line: usize) -> Result<(), ParseError> {
        let pos = Pos {
            source: self.source,
            line,
        };
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                let node = Node::new(resolve_scalar(&text, style, tag.as_deref()), pos);
                self.push_node(node, anchor)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(line)?;
                self.stack.push(Frame::Seq {
                    anchor,
                    pos,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, _) => {
                self.enter(line)?;
                self.stack.push(Frame::Map {
                    anchor,
                    pos,
                    entries: Vec::new(),
                    pending_key: None,
                    seen: HashMap::new(),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { anchor, pos, items }) => {
                        (Node::new(Value::Seq(items), pos), anchor)
                    }
                    Some(Frame::Map {
                        anchor,
                        pos,
                        entries,
                        ..
                    }) => (Node::new(Value::Map(entries), pos), anchor),
                    None => {
                        return Err(ParseError {
                            line,
                            message: "unbalanced end of a collection".into(),
                        });
                    }
                };
                self.push_node(node, anchor)?;
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| ParseError {
                    line,
                    message: "an alias refers to an anchor that is not defined before it".into(),
                })?;
                self.nodes += count(&node);
                if self.nodes > MAX_NODES {
                    return Err(ParseError {
                        line,
                        message: format!(
                            "aliases expand to more than {MAX_NODES} values; this looks like an alias bomb"
                        ),
                    });
                }
                self.push_node(node, 0)?;
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => {}
        }
        Ok(())
    }

    fn enter(&self, line: usize) -> Result<(), ParseError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(ParseError {
                line,
                message: format!("values are nested more than {MAX_DEPTH} levels deep"),
            });
        }
        Ok(())
    }

    fn push_node(&mut self, node: Node, anchor: usize) -> Result<(), ParseError> {
        self.nodes += 1;
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                seen,
                ..
            }) => match pending_key.take() {
                None => {
                    let name = match node.value {
                        Value::Str(s) => s,
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Null => String::new(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(ParseError {
                                line: node.pos.line,
                                message: "a map key must be a plain value, not a list or a map"
                                    .into(),
                            });
                        }
                    };
                    if let Some(first) = seen.get(&name) {
                        return Err(ParseError {
                            line: node.pos.line,
                            message: format!(
                                "duplicate key `{name}` (first defined on line {first}); keep one of them"
                            ),
                        });
                    }
                    seen.insert(name.clone(), node.pos.line);
                    *pending_key = Some(Key {
                        name,
                        pos: node.pos,
                    });
                }
                Some(key) => entries.push((key, node)),
            },
        }
        Ok(())
    }
}

fn count(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| count(v)).sum::<usize>(),
        _ => 1,
    }
}

fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    if style != ScalarStyle::Plain || tag == Some("str") {
        return Value::Str(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Value::Int(i);
    }
    let looks_numeric = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if looks_numeric && let Ok(f) = text.parse::<f64>() {
        return Value::Float(f);
    }
    Value::Str(text.to_owned())
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &str) {
        let got = match parse(text, 0) {
            Ok(Some(node)) => node.to_json().to_string(),
            Ok(None) => "EMPTY".into(),
            Err(e) => format!("ERR {}: {}", e.line, e.message),
        };
        assert!(
            got.starts_with(expect),
            "input {text:?}\n  want prefix {expect}\n  got {got}"
        );
    }

    #[test]
    fn scalars_and_structure() {
        check("a: 1", r#"{"a":1}"#);
        check("a: '1'", r#"{"a":"1"}"#);
        check("a: yes", r#"{"a":"yes"}"#);
        check(
            "a: true\nb: ~\nc: 1.5\nd: 0x10",
            r#"{"a":true,"b":null,"c":1.5,"d":16}"#,
        );
        check(
            r#"{"a": [1, "x", {"b": false}]}"#,
            r#"{"a":[1,"x",{"b":false}]}"#,
        );
        check("- 1\n- 2", "[1,2]");
        check("", "EMPTY");
        check("# only a comment\n", "EMPTY");
        check("a: &x [1, 2]\nb: *x", r#"{"a":[1,2],"b":[1,2]}"#);
        check(
            "a: 1\na: 2",
            "ERR 2: duplicate key `a` (first defined on line 1)",
        );
        check("a: [1, 2", "ERR");
        check("a: 1\n---\nb: 2", "ERR 3: a second YAML document");
        check("? [1]\n: 2", "ERR 1: a map key must be a plain value");
        check(
            "a: *nope",
            "ERR 1: while parsing node, found unknown anchor",
        );
    }

    #[test]
    fn hostile_inputs_are_refused_not_crashed() {
        check(&"[".repeat(1000), "ERR");
        let bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]";
        check(bomb, "ERR");
        check(&"x".repeat(MAX_INPUT_BYTES + 1), "ERR 0: the input is");
    }

    #[test]
    fn lines_are_kept() {
        let node = parse("a:\n  b: 1\n  c:\n    - x\n", 0).ok().flatten();
        let c = node
            .as_ref()
            .and_then(|n| n.get("a"))
            .and_then(|a| a.get("c"));
        assert_eq!(c.map(|c| c.pos.line), Some(4));
    }

    #[test]
    fn merge_is_helm_like() {
        let mut base = parse("a: {x: 1, y: [1, 2]}\nb: 1", 0)
            .ok()
            .flatten()
            .unwrap_or(Node::new(Value::Null, Pos::default()));
        let top = parse("a: {y: [3]}\nc: 2", 1)
            .ok()
            .flatten()
            .unwrap_or(Node::new(Value::Null, Pos::default()));
        base.merge(top);
        assert_eq!(
            base.to_json().to_string(),
            r#"{"a":{"x":1,"y":[3]},"b":1,"c":2}"#
        );
    }
}
