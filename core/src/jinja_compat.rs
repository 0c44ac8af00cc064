//! Source rewrites that make minijinja read a template as Jinja2 does where
//! the two lexers differ: Jinja2 decodes string literals with Python's
//! `unicode-escape`, so a backslash before a newline continues the line and
//! `\a`, `\v` are control characters, while `\/` stays two characters.
//! minijinja keeps `\`+newline, and reads `\/` as `/`. The rewrite touches
//! only string literals inside `{{ }}` and `{% %}` tags (not `raw` blocks or
//! comments) and leaves everything else byte for byte.

use std::borrow::Cow;

/// Rewrites string-literal escapes to minijinja spellings of the value
/// Python would decode.
pub fn python_string_escapes(src: &str) -> Cow<'_, str> {
    if !src.contains('\\') {
        return Cow::Borrowed(src);
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'{', b'#') => {
                i = src[i + 2..].find("#}").map_or(b.len(), |j| i + 2 + j + 2);
            }
            (b'{', b'%') if is_raw_start(&src[i..]) => {
                i = find_endraw(src, i + 2).unwrap_or(b.len());
            }
            (b'{', b'{') | (b'{', b'%') => {
                let close = if b[i + 1] == b'{' { b'}' } else { b'%' };
                i += 2;
                while i < b.len() {
                    match b[i] {
                        q @ (b'"' | b'\'') => {
                            let start = i + 1;
                            let mut j = start;
                            let mut needs = false;
                            while j < b.len() && b[j] != q {
                                if b[j] == b'\\' && j + 1 < b.len() {
                                    needs |= matches!(b[j + 1], b'\n' | b'/' | b'a' | b'v');
                                    j += 1;
                                }
                                j += 1;
                            }
                            if needs {
                                out.push_str(&src[copied..start]);
                                rewrite_literal(&src[start..j.min(b.len())], &mut out);
                                copied = j.min(b.len());
                            }
                            i = j + 1;
                        }
                        c if c == close && b.get(i + 1) == Some(&b'}') => {
                            i += 2;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            _ => i += 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(src);
    }
    out.push_str(&src[copied..]);
    Cow::Owned(out)
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
        w.strip_prefix("raw")
            .is_some_and(|rest| rest.trim_start().starts_with("%}") || rest.trim_start().starts_with("-%}"))
    })
}

fn find_endraw(src: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(j) = src[at..].find("{%") {
        let start = at + j;
        if let Some(w) = tag_words(&src[start..])
            && w.starts_with("endraw")
        {
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
    fn rewrites_only_inside_tags() {
        let src = "RUN a \\\nb {% set x = \"p \\\nq\" %}{{ 'a\\/b' }}{# 'c\\\nd' #}{% raw %}{{ 'e\\\nf' }}{% endraw %}";
        let want = "RUN a \\\nb {% set x = \"p q\" %}{{ 'a\\\\/b' }}{# 'c\\\nd' #}{% raw %}{{ 'e\\\nf' }}{% endraw %}";
        assert_eq!(python_string_escapes(src), want);
    }

    #[test]
    fn untouched_without_escapes() {
        assert!(matches!(python_string_escapes("{{ 'a\\nb' }} \\\n"), Cow::Borrowed(_)));
    }
}
