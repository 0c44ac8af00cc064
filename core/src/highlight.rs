//! YAML lines as HTML with a few classes, for the file viewer: comments
//! (`c`), keys (`k`), quoted strings (`s`), anchors and aliases (`a`) and
//! `!tags` (`t`). Line-based and forgiving: anything it does not know is
//! plain text. Every character of the line is escaped; the only markup is
//! the `<span>`s it adds, so a hostile file shows as text.

/// `text` escaped for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn span(out: &mut String, class: &str, text: &str) {
    if !text.is_empty() {
        out.push_str(&format!("<span class=\"{class}\">{}</span>", escape(text)));
    }
}

/// One YAML line, highlighted.
pub fn yaml_line(line: &str) -> String {
    let mut out = String::new();
    let indent = line.len() - line.trim_start_matches([' ', '-']).len();
    out.push_str(&escape(&line[..indent]));
    let mut rest = &line[indent..];
    // A key: a plain word up to `:` followed by a space or the end.
    if let Some(colon) = rest.find(':')
        && !rest[..colon].is_empty()
        && rest[..colon].chars().all(|c| c.is_alphanumeric() || "-_.{}$ ".contains(c))
        && rest[colon + 1..].chars().next().is_none_or(|c| c == ' ')
    {
        span(&mut out, "k", &rest[..colon]);
        out.push(':');
        rest = &rest[colon + 1..];
    }
    let mut chars = rest.char_indices().peekable();
    let mut plain_from = 0;
    while let Some((i, c)) = chars.next() {
        let starts_word = i == 0 || rest[..i].ends_with(' ');
        let end = match c {
            '#' if starts_word => Some((rest.len(), "c")),
            '\'' | '"' if starts_word => rest[i + 1..].find(c).map(|j| (i + 1 + j + 1, "s")),
            '&' | '*' | '!'
                if starts_word && rest[i + 1..].starts_with(|n: char| n.is_alphanumeric() || n == '-' || n == '!') =>
            {
                let len = rest[i..].find(' ').unwrap_or(rest.len() - i);
                Some((i + len, if c == '!' { "t" } else { "a" }))
            }
            _ => None,
        };
        if let Some((to, class)) = end {
            out.push_str(&escape(&rest[plain_from..i]));
            span(&mut out, class, &rest[i..to]);
            plain_from = to;
            while chars.peek().is_some_and(|(j, _)| *j < to) {
                chars.next();
            }
        }
    }
    out.push_str(&escape(&rest[plain_from..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_strings_comments_anchors_and_tags() {
        assert_eq!(
            yaml_line("    name: 'x-{php}'"),
            "    <span class=\"k\">name</span>: <span class=\"s\">&#39;x-{php}&#39;</span>"
        );
        assert_eq!(
            yaml_line("- job-template: &base"),
            "- <span class=\"k\">job-template</span>: <span class=\"a\">&amp;base</span>"
        );
        assert_eq!(yaml_line("  # a comment: yes"), "  <span class=\"c\"># a comment: yes</span>");
        assert_eq!(
            yaml_line("      - shell: !include-raw: x.sh"),
            "      - <span class=\"k\">shell</span>: <span class=\"t\">!include-raw:</span> x.sh"
        );
        assert_eq!(
            yaml_line("image: reg/ns/a:1.0 # pinned"),
            "<span class=\"k\">image</span>: reg/ns/a:1.0 <span class=\"c\"># pinned</span>"
        );
    }

    #[test]
    fn every_character_of_a_hostile_line_is_escaped() {
        let html = yaml_line("x: \"<script>alert(1)</script>\" <img src=x onerror=alert(1)> &amp;");
        assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
        // Only the spans it adds are markup.
        let tags: Vec<&str> = html.match_indices('<').map(|(i, _)| &html[i..i + 5]).collect();
        assert!(tags.iter().all(|t| t.starts_with("<span") || t.starts_with("</spa")), "{html}");
    }
}
