//! Source rewrites that make minijinja read a template as Jinja2 does where
//! the two differ. Only the inside of `{{ }}` and `{% %}` tags is touched
//! (never text, comments or `raw` blocks), and no newline is added, so error
//! lines stay true.
//!
//! - String literals: Jinja2 decodes them with Python's `unicode-escape`, so
//!   a backslash before a newline continues the line and `\a`, `\v` are
//!   control characters, while `\/` stays two characters. minijinja keeps
//!   `\`+newline and reads `\/` as `/`; such literals are respelled.
//! - List and dict literals: Jinja2's are mutable Python objects, which is
//!   what the `do` statement is for (`{% do pkgs.append("x") %}`). Each
//!   literal is wrapped in a call to [`MUTABLE`], which turns it into a
//!   mutable list or dict (see `pyobj`).

use std::borrow::Cow;

/// The global function that wraps list and dict literals.
pub const MUTABLE: &str = "__dockyard_mutable";

const KEYWORDS: &[&str] = &[
    "in", "not", "and", "or", "if", "else", "elif", "is", "for", "set", "do", "with", "return", "include", "extends",
    "import", "from", "print", "filter", "call",
];

/// Rewrites a template source for minijinja (see the module docs).
pub fn to_minijinja(src: &str) -> Cow<'_, str> {
    if !src.contains(['[', '{', '\\']) {
        return Cow::Borrowed(src);
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 64);
    let mut changed = false;
    let mut i = 0;
    let mut copied = 0;
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'{', b'#') => i = src[i + 2..].find("#}").map_or(b.len(), |j| i + 2 + j + 2),
            (b'{', b'%') if is_raw_start(&src[i..]) => i = find_endraw(src, i + 2).unwrap_or(b.len()),
            (b'{', b'{') | (b'{', b'%') => {
                out.push_str(&src[copied..i]);
                let end = rewrite_tag(src, i, &mut out, &mut changed);
                copied = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    if !changed {
        return Cow::Borrowed(src);
    }
    out.push_str(&src[copied..]);
    Cow::Owned(out)
}

/// Rewrites one tag starting at `start` (its `{{` or `{%`) into `out`;
/// returns the offset after the tag.
fn rewrite_tag(src: &str, start: usize, out: &mut String, changed: &mut bool) -> usize {
    let b = src.as_bytes();
    let close = if b[start + 1] == b'{' { b'}' } else { b'%' };
    let mut i = start + 2;
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    out.push_str(&src[start..i]);
    // Stack of open brackets: true when it is a wrapped literal.
    let mut stack: Vec<bool> = Vec::new();
    let mut after_operator = true;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' => {
                let body_start = i + 1;
                let mut j = body_start;
                let mut needs = false;
                while j < b.len() && b[j] != c {
                    if b[j] == b'\\' && j + 1 < b.len() {
                        needs |= matches!(b[j + 1], b'\n' | b'/' | b'a' | b'v');
                        j += 1;
                    }
                    j += 1;
                }
                let j = j.min(b.len());
                out.push(c as char);
                if needs {
                    rewrite_literal(&src[body_start..j], out);
                    *changed = true;
                } else {
                    out.push_str(&src[body_start..j]);
                }
                if j < b.len() {
                    out.push(c as char);
                }
                i = j + 1;
                after_operator = false;
            }
            _ if stack.is_empty() && c == close && b.get(i + 1) == Some(&b'}') => {
                out.push_str(&src[i..i + 2]);
                return i + 2;
            }
            b'[' | b'{' => {
                if after_operator {
                    out.push_str(MUTABLE);
                    out.push('(');
                    *changed = true;
                }
                out.push(c as char);
                stack.push(after_operator);
                after_operator = true;
                i += 1;
            }
            b']' | b'}' | b')' => {
                out.push(c as char);
                if c != b')' && stack.pop() == Some(true) {
                    out.push(')');
                } else if c == b')' {
                    stack.pop();
                }
                after_operator = false;
                i += 1;
            }
            b'(' => {
                out.push('(');
                stack.push(false);
                after_operator = true;
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let word = &src[i..j];
                out.push_str(word);
                // `1.5`, `x.y`: a dot continues a value.
                after_operator = KEYWORDS.contains(&word);
                i = j;
            }
            c if c.is_ascii_whitespace() => {
                out.push(c as char);
                i += 1;
            }
            b'.' => {
                out.push('.');
                i += 1;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('\0');
                out.push(ch);
                after_operator = true;
                i += ch.len_utf8().max(1);
            }
        }
    }
    b.len()
}

fn rewrite_literal(body: &str, out: &mut String) {
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\n') => {}
            Some('/') => out.push_str("\\\\/"),
            Some('a') => out.push_str("\\x07"),
            Some('v') => out.push_str("\\x0b"),
            Some(d) => {
                out.push('\\');
                out.push(d);
            }
            None => out.push('\\'),
        }
    }
}

fn tag_words(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{%")?;
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    Some(inner.trim_start())
}

fn is_raw_start(s: &str) -> bool {
    tag_words(s).is_some_and(|w| {
        w.strip_prefix("raw").is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.starts_with("%}") || rest.starts_with("-%}") || rest.starts_with("+%}")
        })
    })
}

fn find_endraw(src: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(j) = src[at..].find("{%") {
        let start = at + j;
        if tag_words(&src[start..]).is_some_and(|w| w.starts_with("endraw")) {
            return src[start..].find("%}").map(|k| start + k + 2);
        }
        at = start + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn respells_escapes_only_inside_tags() {
        let src = "RUN a \\\nb {% set x = \"p \\\nq\" %}{{ 'a\\/b' }}{# 'c\\\nd' #}{% raw %}{{ 'e\\\nf' }}{% endraw %}";
        let want = "RUN a \\\nb {% set x = \"p q\" %}{{ 'a\\\\/b' }}{# 'c\\\nd' #}{% raw %}{{ 'e\\\nf' }}{% endraw %}";
        assert_eq!(to_minijinja(src), want);
    }

    #[test]
    fn wraps_list_and_dict_literals_not_subscripts() {
        let m = MUTABLE;
        assert_eq!(to_minijinja("{% set l = [] %}"), format!("{{% set l = {m}([]) %}}"));
        assert_eq!(to_minijinja("{{ x[0] }}{{ f(a)[1:2] }}"), "{{ x[0] }}{{ f(a)[1:2] }}");
        assert_eq!(
            to_minijinja("{% for i in [1, [2]] %}{{ {'a': {'b': 1}}['a'] }}"),
            format!("{{% for i in {m}([1, {m}([2])]) %}}{{{{ {m}({{'a': {m}({{'b': 1}})}})['a'] }}}}")
        );
        assert_eq!(to_minijinja("{%- do l.append([x]) -%}"), format!("{{%- do l.append({m}([x])) -%}}"));
        assert_eq!(to_minijinja("text [a] {b}"), "text [a] {b}");
    }

    #[test]
    fn untouched_without_anything_to_do() {
        assert!(matches!(to_minijinja("{{ 'a\\nb' }} \\\n{{ x[1] }}"), Cow::Borrowed(_)));
    }
}
