//! A YAML document tree with source positions, built on yaml-rust2's event
//! parser. Aliases are expanded but marked, so a walk can tell a place written
//! in the file from a copy of it. Scalars keep their style, so callers can
//! resolve them with YAML 1.1 (PyYAML) rules where Python tools would.

use crate::limits::{MAX_YAML_DEPTH, MAX_YAML_NODES};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// The shape of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Scalar(String, Style),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// One node with where it starts in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    /// 1-based line and column, and byte offset, of the node's start.
    pub line: usize,
    pub col: usize,
    pub offset: usize,
    /// A custom tag such as `!include-raw:` (handle and suffix joined).
    pub tag: Option<String>,
    /// True when this node is an alias's copy of an anchored node.
    pub from_alias: bool,
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// Looks a key up in a mapping node (string keys only).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(pairs) => pairs.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }
}

enum Frame {
    Seq(Node, Vec<Node>),
    Map(Node, Vec<(Node, Node)>, Option<Node>),
}

struct Builder {
    stack: Vec<(Frame, usize)>,
    docs: Vec<Node>,
    /// Anchored nodes and their sizes in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes built so far, alias copies counted at their full size.
    nodes: usize,
    error: Option<YamlError>,
}

fn size(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::Scalar(..) => 0,
        Kind::Seq(items) => items.iter().map(size).sum(),
        Kind::Map(pairs) => pairs.iter().map(|(k, v)| size(k) + size(v)).sum(),
    }
}

fn tag_text(tag: Option<Tag>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

fn style(s: TScalarStyle) -> Style {
    match s {
        TScalarStyle::Plain => Style::Plain,
        TScalarStyle::SingleQuoted => Style::SingleQuoted,
        TScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        TScalarStyle::Literal => Style::Literal,
        TScalarStyle::Folded => Style::Folded,
    }
}

fn mark_alias(node: &mut Node) {
    node.from_alias = true;
    match &mut node.kind {
        Kind::Scalar(..) => {}
        Kind::Seq(items) => items.iter_mut().for_each(mark_alias),
        Kind::Map(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            mark_alias(k);
            mark_alias(v);
        }),
    }
}

impl Builder {
    fn fail(&mut self, mark: Marker, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError { line: mark.line(), col: mark.col() + 1, message });
        }
        // Nothing more is built: the tree is dropped as it is.
        self.stack.clear();
    }

    fn count(&mut self, n: usize, mark: Marker) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_YAML_NODES {
            self.fail(
                mark,
                format!("more than {MAX_YAML_NODES} YAML nodes (aliases counted at their expanded size): the limit"),
            );
            return false;
        }
        true
    }

    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let n = size(&node);
            self.anchors.insert(anchor, (node.clone(), n));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some((Frame::Seq(_, items), _)) => items.push(node),
            Some((Frame::Map(_, pairs, key), _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => pairs.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let at = |kind, tag| Node {
            kind,
            line: mark.line(),
            col: mark.col() + 1,
            offset: mark.index(),
            tag,
            from_alias: false,
        };
        match ev {
            Event::Scalar(value, s, anchor, tag) => {
                if !self.count(1, mark) {
                    return;
                }
                let node = at(Kind::Scalar(value, style(s)), tag_text(tag));
                self.push_value(node, anchor);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_YAML_DEPTH => {
                self.fail(mark, format!("YAML nested deeper than {MAX_YAML_DEPTH} levels: the limit"));
            }
            Event::SequenceStart(anchor, tag) => {
                if !self.count(1, mark) {
                    return;
                }
                self.stack.push((Frame::Seq(at(Kind::Seq(vec![]), tag_text(tag)), vec![]), anchor));
            }
            Event::MappingStart(anchor, tag) => {
                if !self.count(1, mark) {
                    return;
                }
                let head = at(Kind::Map(vec![]), tag_text(tag));
                self.stack.push((Frame::Map(head, vec![], None), anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((frame, anchor)) = self.stack.pop() else { return };
                let node = match frame {
                    Frame::Seq(mut head, items) => {
                        head.kind = Kind::Seq(items);
                        head
                    }
                    Frame::Map(mut head, pairs, _) => {
                        head.kind = Kind::Map(pairs);
                        head
                    }
                };
                self.push_value(node, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id).map(|(_, n)| *n) {
                Some(n) => {
                    if !self.count(n, mark) {
                        return;
                    }
                    let mut copy = self.anchors[&id].0.clone();
                    mark_alias(&mut copy);
                    self.push_value(copy, 0);
                }
                None => self.fail(mark, "alias to an unknown anchor".into()),
            },
            _ => {}
        }
    }
}

/// Parses every document in `text`, within [`MAX_YAML_DEPTH`] and
/// [`MAX_YAML_NODES`].
pub fn load(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder { stack: vec![], docs: vec![], anchors: HashMap::new(), nodes: 0, error: None };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        line: e.marker().line(),
        col: e.marker().col() + 1,
        message: e.info().to_owned(),
    })?;
    match builder.error {
        Some(e) => Err(e),
        None => Ok(builder.docs),
    }
}

/// A scalar resolved with PyYAML's YAML 1.1 `safe_load` rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// Resolves a scalar as PyYAML's SafeLoader would.
pub fn resolve(value: &str, style: Style, tag: Option<&str>) -> Resolved {
    match tag {
        Some("!!str") => return Resolved::Str(value.to_owned()),
        Some(t) if !t.starts_with("!!") => return Resolved::Str(value.to_owned()),
        _ => {}
    }
    if style != Style::Plain {
        return Resolved::Str(value.to_owned());
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        _ => {}
    }
    if let Some(i) = resolve_int(value) {
        return Resolved::Int(i);
    }
    if let Some(f) = resolve_float(value) {
        return Resolved::Float(f);
    }
    Resolved::Str(value.to_owned())
}

fn resolve_int(v: &str) -> Option<i64> {
    let (neg, body) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || body.starts_with('_') {
        return None;
    }
    let n = if let Some(b) = clean.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(h) = clean.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if clean.len() > 1 && clean.starts_with('0') {
        i64::from_str_radix(&clean[1..], 8).ok()?
    } else if clean.bytes().all(|b| b.is_ascii_digit()) {
        clean.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -n } else { n })
}

fn resolve_float(v: &str) -> Option<f64> {
    match v {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // PyYAML: [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?
    let body = v.strip_prefix(['-', '+']).unwrap_or(v);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.')?;
    let ok_int =
        int.is_empty() || (int.as_bytes()[0].is_ascii_digit() && int.bytes().all(|b| b.is_ascii_digit() || b == b'_'));
    let ok_frac = frac.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let ok_exp = exp.is_none_or(|e| {
        e.len() > 1 && matches!(e.as_bytes()[0], b'+' | b'-') && e[1..].bytes().all(|b| b.is_ascii_digit())
    });
    if !(ok_int && ok_frac && ok_exp) || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    v.replace('_', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_aliases() {
        let docs = load("a: &x\n  image: foo:1\nb:\n  <<: *x\n  c: !include-raw: f.sh\n").unwrap();
        let root = &docs[0];
        let a = root.get("a").unwrap();
        let image = a.get("image").unwrap();
        assert_eq!((image.line, image.col, image.from_alias), (2, 10, false));
        let merged = root.get("b").unwrap().get("<<").unwrap();
        assert!(merged.from_alias);
        assert!(merged.get("image").unwrap().from_alias);
        let c = root.get("b").unwrap().get("c").unwrap();
        assert_eq!(c.tag.as_deref(), Some("!include-raw:"));
        assert_eq!(c.as_str(), Some("f.sh"));
    }

    #[test]
    fn resolves_like_pyyaml() {
        use Resolved::*;
        assert_eq!(resolve("yes", Style::Plain, None), Bool(true));
        assert_eq!(resolve("yes", Style::SingleQuoted, None), Str("yes".into()));
        assert_eq!(resolve("~", Style::Plain, None), Null);
        assert_eq!(resolve("0755", Style::Plain, None), Int(0o755));
        assert_eq!(resolve("1_000", Style::Plain, None), Int(1000));
        assert_eq!(resolve("1.5", Style::Plain, None), Float(1.5));
        assert_eq!(resolve("1.0-s1", Style::Plain, None), Str("1.0-s1".into()));
        assert_eq!(resolve("65534", Style::Plain, None), Int(65534));
    }

    #[test]
    fn billion_laughs_and_deep_nesting_are_errors_with_lines() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 { "a".to_owned() } else { format!("l{}", i - 1) };
            text.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let err = load(&text).unwrap_err();
        assert!(err.message.contains("YAML nodes"), "{err:?}");
        assert!(err.line >= 2, "{err:?}");
        let deep = "[".repeat(20_000) + &"]".repeat(20_000);
        // yaml-rust2 stops at its own recursion limit; ours is lower.
        let err = load(&deep).unwrap_err();
        assert!(err.message.contains("recursion limit") || err.message.contains("nested deeper"), "{err:?}");
        let deep = "[".repeat(MAX_YAML_DEPTH + 1) + &"]".repeat(MAX_YAML_DEPTH + 1);
        let err = load(&deep).unwrap_err();
        assert!(err.message.contains("nested deeper"), "{err:?}");
        let ok = "[".repeat(MAX_YAML_DEPTH) + &"]".repeat(MAX_YAML_DEPTH);
        assert!(load(&ok).is_ok());
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = load("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
    }
}
