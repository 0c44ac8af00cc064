//! The pin scanner: every written reference to a catalog image,
//! `REGISTRY/NAMESPACE/NAME[:TAG]`, in a text file, with its line, column
//! and byte range. A pin is a place in a file: YAML anchors, aliases and
//! merge keys cannot count one written pin twice, because the places come
//! from the text itself. JJB custom tags (`!include-raw:`, `!j2:` …) are just
//! text here, so pins inside their bodies are found too.

use std::ops::Range;

/// One written reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPin {
    /// 1-based line and column (in characters) of the reference's start.
    pub line: usize,
    pub column: usize,
    /// Byte range of the whole reference, and of the tag when there is one.
    pub span: Range<usize>,
    pub tag_span: Option<Range<usize>>,
    /// The name as written after the prefix (may hold `{placeholders}`).
    pub name: String,
    /// The tag as written (may hold `{placeholders}`); `None` when absent.
    pub tag: Option<String>,
    /// Byte range of the pin's line, without its line ending.
    pub line_span: Range<usize>,
}

impl WrittenPin {
    /// True when the name or tag holds a JJB `{placeholder}`.
    pub fn has_placeholder(&self) -> bool {
        self.name.contains('{') || self.tag.as_deref().is_some_and(|t| t.contains('{'))
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b'{' | b'}')
}

fn is_tag_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'~' | b'{' | b'}')
}

/// Bytes that may not stand right before the prefix (else it is another host).
fn continues_host(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')
}

/// Shrinks `range` while it ends in sentence punctuation.
fn trim_end(text: &[u8], range: &mut Range<usize>, strip: &[u8]) {
    while range.end > range.start && strip.contains(&text[range.end - 1]) {
        range.end -= 1;
    }
}

/// Finds every reference starting with `prefix` (`registry/namespace/`).
pub fn scan(text: &str, prefix: &str) -> Vec<WrittenPin> {
    scan_limited(text, prefix, usize::MAX).0
}

/// Like [`scan`], stopping after `max` pins; the second value is the line
/// of the first pin left out, when there is one.
pub fn scan_limited(text: &str, prefix: &str, max: usize) -> (Vec<WrittenPin>, Option<usize>) {
    let mut pins = Vec::new();
    if prefix.is_empty() {
        return (pins, None);
    }
    let b = text.as_bytes();
    let finder = memchr::memmem::Finder::new(prefix.as_bytes());
    let mut line = 1;
    let mut line_start = 0;
    let mut line_end: Option<usize> = None;
    let mut counted_to = 0;
    // Column of `col_at` (characters counted once per stretch, so that many
    // pins on one long line stay linear).
    let (mut col_at, mut col) = (0, 1);
    let mut from = 0;
    while let Some(found) = finder.find(&b[from..]) {
        let start = from + found;
        from = start + prefix.len();
        if start > 0 && continues_host(b[start - 1]) {
            continue;
        }
        let mut name = from..from;
        while name.end < b.len() && is_name_byte(b[name.end]) {
            name.end += 1;
        }
        trim_end(b, &mut name, b"./-_");
        if name.is_empty() || !b[name.start].is_ascii_alphanumeric() && b[name.start] != b'{' {
            continue;
        }
        let mut tag = None;
        let mut end = name.end;
        if b.get(name.end) == Some(&b':') {
            let mut t = name.end + 1..name.end + 1;
            while t.end < b.len() && is_tag_byte(b[t.end]) {
                t.end += 1;
            }
            trim_end(b, &mut t, b".-");
            if !t.is_empty() {
                end = t.end;
                tag = Some(t);
            }
        }
        // Line and column of `start`, counting only the new stretch.
        for i in memchr::memchr_iter(b'\n', &b[counted_to..start]) {
            line += 1;
            line_start = counted_to + i + 1;
            line_end = None;
        }
        counted_to = start;
        if pins.len() == max {
            return (pins, Some(line));
        }
        if col_at < line_start {
            (col_at, col) = (line_start, 1);
        }
        col += text[col_at..start].chars().count();
        col_at = start;
        let column = col;
        let end_of_line = *line_end.get_or_insert_with(|| {
            let mut e = memchr::memchr(b'\n', &b[start..]).map_or(b.len(), |i| start + i);
            if e > line_start && b[e - 1] == b'\r' {
                e -= 1;
            }
            e
        });
        pins.push(WrittenPin {
            line,
            column,
            span: start..end,
            name: text[name.clone()].to_owned(),
            tag: tag.as_ref().map(|t| text[t.clone()].to_owned()),
            tag_span: tag,
            line_span: line_start..end_of_line.max(line_start),
        });
        from = end.max(from);
    }
    (pins, None)
}

/// A JJB include (`!include-raw: path`, `!include-jinja2:` …) and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub line: usize,
    pub tag: String,
    pub target: String,
}

/// Finds JJB include tags and their targets, written inline
/// (`!include-raw: a.sh`, `!include-raw: [a.sh, b.sh]`) or as a block list
/// on the following, deeper-indented lines. One include per line (JJB allows
/// one tag per value), found in one pass over the text.
pub fn includes(text: &str) -> Vec<Include> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i].trim_end_matches('\r');
        let line = i + 1;
        i += 1;
        let Some(at) = memchr::memmem::find(raw.as_bytes(), b"!include") else { continue };
        if raw[..at].trim_start().starts_with('#') {
            continue;
        }
        let rest = &raw[at..];
        let tag_end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let tag = &rest[..tag_end];
        if !tag.ends_with(':') {
            continue;
        }
        let inline = rest[tag_end..].trim();
        let mut targets: Vec<(usize, String)> = Vec::new();
        if let Some(list) = inline.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            targets.extend(list.split(',').map(|t| (line, unquote(t))));
        } else if !inline.is_empty() && !inline.starts_with('#') {
            targets.push((line, unquote(inline)));
        } else {
            let indent = raw.len() - raw.trim_start().len();
            while i < lines.len() {
                let next = lines[i].trim_end_matches('\r');
                let t = next.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    i += 1;
                    continue;
                }
                let deeper = next.len() - t.len();
                if deeper <= indent && !t.starts_with('-') {
                    break;
                }
                match t.strip_prefix('-') {
                    Some(item) if deeper >= indent => targets.push((i + 1, unquote(item))),
                    _ => break,
                }
                i += 1;
            }
        }
        for (line, target) in targets.into_iter().filter(|(_, t)| !t.is_empty()) {
            out.push(Include { line, tag: tag.to_owned(), target });
        }
    }
    out
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    let s = s.split(" #").next().unwrap_or(s).trim();
    s.trim_matches(|c| c == '\'' || c == '"').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "docker-registry.wikimedia.org/releng/";

    #[test]
    fn finds_pins_with_positions() {
        let text = "a:\n  image: docker-registry.wikimedia.org/releng/castor:0.4.3\n  b: 'docker-registry.wikimedia.org/releng/python2-build-{distribution}:0.3.2'\n";
        let pins = scan(text, P);
        assert_eq!(pins.len(), 2);
        assert_eq!(
            (pins[0].line, pins[0].column, pins[0].name.as_str(), pins[0].tag.as_deref()),
            (2, 10, "castor", Some("0.4.3"))
        );
        assert_eq!(&text[pins[0].tag_span.clone().unwrap()], "0.4.3");
        assert_eq!((pins[1].line, pins[1].column), (3, 7));
        assert!(pins[1].has_placeholder());
        assert_eq!(pins[1].tag.as_deref(), Some("0.3.2"));
    }

    #[test]
    fn untagged_punctuation_and_other_hosts() {
        let text = "see docker-registry.wikimedia.org/releng/php83. Or docker-registry.wikimedia.org/releng/php83:8.3.1-s1.\nmirror.docker-registry.wikimedia.org/releng/x:1\nhttps://docker-registry.wikimedia.org/releng/y:2 docker-registry.wikimedia.org/releng/z:";
        let pins = scan(text, P);
        let got: Vec<(&str, Option<&str>)> = pins.iter().map(|p| (p.name.as_str(), p.tag.as_deref())).collect();
        assert_eq!(got, [("php83", None), ("php83", Some("8.3.1-s1")), ("y", Some("2")), ("z", None)]);
        assert_eq!(pins[2].line, 3);
    }

    #[test]
    fn non_ascii_columns_count_characters() {
        let pins = scan("é: docker-registry.wikimedia.org/releng/a:1", P);
        assert_eq!(pins[0].column, 4);
    }

    #[test]
    fn the_pin_limit_names_the_line() {
        let text = "reg/ns/a:1 reg/ns/b:2\nreg/ns/c:3\n";
        let (pins, over) = scan_limited(text, "reg/ns/", 2);
        assert_eq!(pins.len(), 2);
        assert_eq!(over, Some(2));
        assert_eq!(scan_limited(text, "reg/ns/", 3).1, None);
    }

    #[test]
    fn finds_includes_inline_and_in_block_lists() {
        let text = "- shell: !include-raw: a.sh\n  x: !include-raw:\n      - b.sh\n      - 'c.sh'\n  y: 1\n  z: !include-raw-escape: [d.sh, e.sh]\n# !include-raw: commented.sh\n";
        let got: Vec<(usize, String)> = includes(text).into_iter().map(|i| (i.line, i.target)).collect();
        assert_eq!(
            got,
            [(1, "a.sh".into()), (3, "b.sh".into()), (4, "c.sh".into()), (6, "d.sh".into()), (6, "e.sh".into())]
        );
    }
}
