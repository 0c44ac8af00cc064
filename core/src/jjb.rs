//! JJB placeholders in pins: `python2-build-{distribution}:0.3.2` inside a
//! project with `distribution: [bullseye]` is the image
//! `python2-build-bullseye`. Values come from the enclosing mappings of the
//! YAML document, innermost first (job parameters, then the project's values
//! and axes). What cannot be found is reported, never guessed.
//!
//! Linear in the document: [`ScopeIndex`] lists every scalar once with its
//! enclosing collection, and each mapping's keys are indexed on first use,
//! so many pins in one file cost one walk, not one walk each.

use crate::limits::MAX_PLACEHOLDER_EXPANSIONS;
use crate::yaml::{Kind, Node};
use std::cell::RefCell;
use std::collections::HashMap;

/// The outcome of resolving one written name or tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Every expansion (one per combination of axis values).
    Values(Vec<String>),
    /// A placeholder with no value in scope.
    Unresolved(String),
    /// More expansions than [`MAX_PLACEHOLDER_EXPANSIONS`].
    TooMany,
}

/// Placeholder names in `s` (`{name}`; JJB's `{{` escapes are skipped).
pub fn placeholders(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        if rest[i + 1..].starts_with('{') {
            rest = &rest[i + 2..];
            continue;
        }
        match rest[i + 1..].find('}') {
            Some(j) => {
                out.push(&rest[i + 1..i + 1 + j]);
                rest = &rest[i + 2 + j..];
            }
            None => break,
        }
    }
    out
}

/// Every scalar of a document (aliases' copies left out) with its enclosing
/// collections, for finding the scope of a pin by its offset.
pub struct ScopeIndex<'a> {
    /// (offset, scalar, index of the enclosing collection), by offset.
    scalars: Vec<(usize, &'a Node, usize)>,
    /// (collection, index of its enclosing collection).
    containers: Vec<(&'a Node, Option<usize>)>,
    /// Keys of a mapping, built on first lookup.
    keys: RefCell<HashMap<usize, HashMap<&'a str, &'a Node>>>,
}

impl<'a> ScopeIndex<'a> {
    pub fn build(doc: &'a Node) -> ScopeIndex<'a> {
        let mut index = ScopeIndex { scalars: Vec::new(), containers: Vec::new(), keys: RefCell::new(HashMap::new()) };
        // Iterative walk: (node, enclosing container).
        let mut stack: Vec<(&'a Node, Option<usize>)> = vec![(doc, None)];
        while let Some((node, parent)) = stack.pop() {
            if node.from_alias {
                continue;
            }
            match &node.kind {
                Kind::Scalar(..) => {
                    if let Some(p) = parent {
                        index.scalars.push((node.offset, node, p));
                    }
                }
                Kind::Seq(items) => {
                    index.containers.push((node, parent));
                    let me = index.containers.len() - 1;
                    stack.extend(items.iter().rev().map(|i| (i, Some(me))));
                }
                Kind::Map(pairs) => {
                    index.containers.push((node, parent));
                    let me = index.containers.len() - 1;
                    for (k, v) in pairs.iter().rev() {
                        stack.push((v, Some(me)));
                        stack.push((k, Some(me)));
                    }
                }
            }
        }
        index.scalars.sort_by_key(|(o, _, _)| *o);
        index
    }

    /// The scalar holding the text at `offset` (the last one starting at or
    /// before it) when it contains `needle`, as the chain of its enclosing
    /// collections, outermost first.
    pub fn scope_of(&self, offset: usize, needle: &str) -> Option<Scope<'_, 'a>> {
        let at = self.scalars.partition_point(|(o, _, _)| *o <= offset).checked_sub(1)?;
        let (_, scalar, parent) = self.scalars[at];
        if !scalar.as_str().is_some_and(|s| s.contains(needle)) {
            return None;
        }
        let mut chain = Vec::new();
        let mut cur = Some(parent);
        while let Some(i) = cur {
            chain.push(i);
            cur = self.containers[i].1;
        }
        chain.reverse();
        Some(Scope { index: self, chain })
    }

    fn lookup_in(&self, container: usize, var: &str) -> Option<&'a Node> {
        let node = self.containers[container].0;
        let Kind::Map(pairs) = &node.kind else { return None };
        let mut keys = self.keys.borrow_mut();
        let map = keys.entry(container).or_insert_with(|| {
            let mut m = HashMap::new();
            for (k, v) in pairs {
                if let Some(name) = k.as_str() {
                    // The first definition wins, as `Node::get` finds it.
                    m.entry(name).or_insert(v);
                }
            }
            m
        });
        map.get(var).copied()
    }
}

/// The enclosing collections of one pin.
pub struct Scope<'i, 'a> {
    index: &'i ScopeIndex<'a>,
    /// Container indexes, outermost first.
    chain: Vec<usize>,
}

impl Scope<'_, '_> {
    /// The values of variable `var`, from the innermost mapping that has it.
    fn lookup(&self, var: &str) -> Option<Vec<String>> {
        for &c in self.chain.iter().rev() {
            let Some(value) = self.index.lookup_in(c, var) else { continue };
            return Some(match &value.kind {
                Kind::Scalar(s, _) => vec![s.clone()],
                Kind::Seq(items) => items
                    .iter()
                    .filter_map(|i| match &i.kind {
                        Kind::Scalar(s, _) => Some(s.clone()),
                        // An axis value with its own parameters: `- bullseye: {...}`.
                        Kind::Map(pairs) => pairs.first().and_then(|(k, _)| k.as_str().map(str::to_owned)),
                        Kind::Seq(_) => None,
                    })
                    .collect(),
                Kind::Map(_) => return None,
            });
        }
        None
    }

    /// Expands every placeholder of `written`.
    pub fn expand(&self, written: &str) -> Resolution {
        let mut results = vec![String::new()];
        let mut rest = written;
        while let Some(i) = rest.find('{') {
            let Some(j) = rest[i..].find('}') else { break };
            let var = &rest[i + 1..i + j];
            let Some(values) = self.lookup(var).filter(|v| !v.is_empty()) else {
                return Resolution::Unresolved(var.to_owned());
            };
            if results.len().saturating_mul(values.len()) > MAX_PLACEHOLDER_EXPANSIONS {
                return Resolution::TooMany;
            }
            let head = &rest[..i];
            results = results.iter().flat_map(|r| values.iter().map(move |v| format!("{r}{head}{v}"))).collect();
            rest = &rest[i + j + 1..];
        }
        let mut out: Vec<String> = results.into_iter().map(|r| r + rest).collect();
        out.sort();
        out.dedup();
        Resolution::Values(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    #[test]
    fn resolves_from_the_enclosing_project() {
        let text = "- project:\n    name: p\n    distribution:\n        - bullseye\n    jobs:\n        - 'job-{distribution}':\n            image: 'reg/ns/python2-build-{distribution}:0.3.2'\n";
        let docs = yaml::load(text).unwrap();
        let index = ScopeIndex::build(&docs[0]);
        let offset = text.find("reg/ns/python2").unwrap();
        let scope = index.scope_of(offset, "reg/ns/python2-build-{distribution}").unwrap();
        assert_eq!(
            scope.expand("python2-build-{distribution}"),
            Resolution::Values(vec!["python2-build-bullseye".into()])
        );
        assert_eq!(scope.expand("x-{nope}"), Resolution::Unresolved("nope".into()));
    }

    #[test]
    fn axes_expand_to_every_value_and_inner_scopes_win() {
        let text = "- project:\n    php: [php81, php82]\n    v: outer\n    jobs:\n      - j:\n          v: inner\n          image: reg/{php}:{v}\n";
        let docs = yaml::load(text).unwrap();
        let index = ScopeIndex::build(&docs[0]);
        let scope = index.scope_of(text.find("reg/").unwrap(), "reg/{php}").unwrap();
        assert_eq!(scope.expand("{php}:{v}"), Resolution::Values(vec!["php81:inner".into(), "php82:inner".into()]));
    }

    #[test]
    fn expansions_are_bounded() {
        let axis: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        let text = format!("- project:\n    a: [{0}]\n    b: [{0}]\n    image: reg/{{a}}-{{b}}:1\n", axis.join(", "));
        let docs = yaml::load(&text).unwrap();
        let index = ScopeIndex::build(&docs[0]);
        let scope = index.scope_of(text.find("reg/").unwrap(), "reg/{a}").unwrap();
        assert_eq!(scope.expand("{a}-{b}"), Resolution::TooMany);
    }

    #[test]
    fn finds_placeholders() {
        assert_eq!(placeholders("a-{x}-{{y}}-{z}"), ["x", "z"]);
    }
}
