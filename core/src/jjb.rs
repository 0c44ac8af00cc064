//! JJB placeholders in pins: `python2-build-{distribution}:0.3.2` inside a
//! project with `distribution: [bullseye]` is the image
//! `python2-build-bullseye`. Values come from the enclosing mappings of the
//! YAML document, innermost first (job parameters, then the project's values
//! and axes). What cannot be found is reported, never guessed.

use crate::yaml::{Kind, Node};

/// The outcome of resolving one written name or tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Every expansion (one per combination of axis values).
    Values(Vec<String>),
    /// A placeholder with no value in scope.
    Unresolved(String),
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

/// Finds the scalar that holds `needle` at or before `offset` (the last such,
/// not an alias copy) and returns its ancestors, innermost last.
pub fn scope_of<'a>(doc: &'a Node, offset: usize, needle: &str) -> Option<Vec<&'a Node>> {
    fn walk<'a>(
        node: &'a Node,
        offset: usize,
        needle: &str,
        chain: &mut Vec<&'a Node>,
        best: &mut Option<(usize, Vec<&'a Node>)>,
    ) {
        if node.from_alias || node.offset > offset {
            return;
        }
        match &node.kind {
            Kind::Scalar(s, _) => {
                if s.contains(needle) && best.as_ref().is_none_or(|(o, _)| node.offset >= *o) {
                    *best = Some((node.offset, chain.clone()));
                }
            }
            Kind::Seq(items) => {
                chain.push(node);
                items.iter().for_each(|i| walk(i, offset, needle, chain, best));
                chain.pop();
            }
            Kind::Map(pairs) => {
                chain.push(node);
                for (k, v) in pairs {
                    walk(k, offset, needle, chain, best);
                    walk(v, offset, needle, chain, best);
                }
                chain.pop();
            }
        }
    }
    let mut best = None;
    walk(doc, offset, needle, &mut Vec::new(), &mut best);
    best.map(|(_, chain)| chain)
}

/// The values of variable `var` seen from `scope` (innermost mapping first).
fn lookup(scope: &[&Node], var: &str) -> Option<Vec<String>> {
    for node in scope.iter().rev() {
        let Some(value) = node.get(var) else { continue };
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

/// Expands every placeholder of `written` from `scope`.
pub fn expand(written: &str, scope: &[&Node]) -> Resolution {
    let mut results = vec![String::new()];
    let mut rest = written;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        let var = &rest[i + 1..i + j];
        let Some(values) = lookup(scope, var).filter(|v| !v.is_empty()) else {
            return Resolution::Unresolved(var.to_owned());
        };
        let head = &rest[..i];
        results = results.iter().flat_map(|r| values.iter().map(move |v| format!("{r}{head}{v}"))).collect();
        rest = &rest[i + j + 1..];
    }
    let mut out: Vec<String> = results.into_iter().map(|r| r + rest).collect();
    out.sort();
    out.dedup();
    Resolution::Values(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    #[test]
    fn resolves_from_the_enclosing_project() {
        let text = "- project:\n    name: p\n    distribution:\n        - bullseye\n    jobs:\n        - 'job-{distribution}':\n            image: 'reg/ns/python2-build-{distribution}:0.3.2'\n";
        let docs = yaml::load(text).unwrap();
        let offset = text.find("reg/ns/python2").unwrap();
        let scope = scope_of(&docs[0], offset, "reg/ns/python2-build-{distribution}").unwrap();
        assert_eq!(
            expand("python2-build-{distribution}", &scope),
            Resolution::Values(vec!["python2-build-bullseye".into()])
        );
        assert_eq!(expand("x-{nope}", &scope), Resolution::Unresolved("nope".into()));
    }

    #[test]
    fn axes_expand_to_every_value_and_inner_scopes_win() {
        let text = "- project:\n    php: [php81, php82]\n    v: outer\n    jobs:\n      - j:\n          v: inner\n          image: reg/{php}:{v}\n";
        let docs = yaml::load(text).unwrap();
        let scope = scope_of(&docs[0], text.find("reg/").unwrap(), "reg/{php}").unwrap();
        assert_eq!(expand("{php}:{v}", &scope), Resolution::Values(vec!["php81:inner".into(), "php82:inner".into()]));
    }

    #[test]
    fn finds_placeholders() {
        assert_eq!(placeholders("a-{x}-{{y}}-{z}"), ["x", "z"]);
    }
}
