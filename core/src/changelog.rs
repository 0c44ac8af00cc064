//! Debian-format changelogs. The first entry names the image and its version
//! (as docker-pkg tags it); [`parse_head`] reads only that line, [`parse`]
//! reads the full history on demand.

use crate::diag::Diagnostic;
use crate::version::DebVersion;
use std::path::Path;

/// The header of one changelog entry: `name (version) dists; urgency=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub version: String,
    pub distributions: Vec<String>,
    pub metadata: String,
    /// 1-based line of the header.
    pub line: usize,
    /// Body lines between the header and the trailer, verbatim.
    pub changes: Vec<String>,
    /// The ` -- Author <email>  date` trailer's author and date.
    pub author: Option<String>,
    pub date: Option<String>,
}

/// `[-+0-9a-z.]`, matched case-insensitively as python-debian does.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')
}

/// Parses a header line with python-debian's `topline` regex:
/// `^(\w[-+0-9a-z.]*) \(([^\(\) \t]+)\)((\s+[-+0-9a-z.]+)+)\;(.*)$`.
fn parse_header(line: &str, lineno: usize, file: &Path) -> Result<Entry, Diagnostic> {
    let bad = |what: &str| {
        Diagnostic::at(
            file,
            lineno,
            format!("{what}; expected `name (version) distribution; urgency=...`, found `{line}`"),
        )
    };
    let (name, rest) = line.split_once(" (").ok_or_else(|| bad("malformed changelog header"))?;
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphanumeric() || c == '_');
    if !first_ok || !chars.all(is_name_char) {
        return Err(bad("invalid package name"));
    }
    let (version, rest) = rest.split_once(')').ok_or_else(|| bad("unclosed version"))?;
    if version.is_empty() || version.contains(['(', ' ', '\t']) {
        return Err(bad("invalid version"));
    }
    if DebVersion::parse(version).is_none() {
        return Err(bad(&format!("invalid Debian version `{version}`")));
    }
    let (dists, metadata) = rest.split_once(';').ok_or_else(|| bad("missing `;` after distributions"))?;
    if !dists.starts_with(char::is_whitespace) {
        return Err(bad("missing distribution"));
    }
    let distributions: Vec<String> = dists.split_whitespace().map(str::to_owned).collect();
    if distributions.is_empty() || !distributions.iter().all(|d| d.chars().all(is_name_char)) {
        return Err(bad("invalid distribution"));
    }
    Ok(Entry {
        name: name.to_owned(),
        version: version.to_owned(),
        distributions,
        metadata: metadata.trim().to_owned(),
        line: lineno,
        changes: Vec::new(),
        author: None,
        date: None,
    })
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Reads the first entry's header only: the fast path used by catalog scans.
pub fn parse_head(text: &str, file: &Path) -> Result<Entry, Diagnostic> {
    for (i, line) in text.lines().enumerate() {
        if is_blank(line) {
            continue;
        }
        return parse_header(line.trim_end(), i + 1, file);
    }
    Err(Diagnostic::new(file, None, "empty changelog: no entry names the image and its version"))
}

/// Reads every entry. Fails on the first malformed header.
pub fn parse(text: &str, file: &Path) -> Result<Vec<Entry>, Diagnostic> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut in_entry = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if let Some(trailer) = line.strip_prefix(" -- ") {
            let Some(entry) = entries.last_mut().filter(|_| in_entry) else {
                return Err(Diagnostic::at(file, i + 1, "trailer line outside of an entry"));
            };
            let (author, date) = match trailer.split_once("  ") {
                Some((a, d)) => (a.trim(), Some(d.trim().to_owned())),
                None => (trailer.trim(), None),
            };
            entry.author = Some(author.to_owned());
            entry.date = date;
            in_entry = false;
        } else if entries.is_empty() && !line.trim().is_empty() && line.starts_with([' ', '\t']) {
            // The first non-blank line must be a header, as `parse_head` requires.
            return Err(parse_header(line, i + 1, file)
                .err()
                .unwrap_or_else(|| Diagnostic::at(file, i + 1, "expected a header")));
        } else if line.starts_with([' ', '\t']) || (in_entry && line.is_empty()) {
            if let Some(entry) = entries.last_mut().filter(|_| in_entry) {
                entry.changes.push(raw.to_owned());
            }
        } else if line.is_empty() {
            continue;
        } else {
            entries.push(parse_header(line, i + 1, file)?);
            in_entry = true;
        }
    }
    if entries.is_empty() {
        return Err(Diagnostic::new(file, None, "empty changelog: no entry names the image and its version"));
    }
    Ok(entries)
}

/// Every version a header line names, skipping lines that do not parse
/// (python-debian's lenient mode): the history the lint checks pins against.
pub fn versions(text: &str) -> Vec<String> {
    let nowhere = Path::new("");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with([' ', '\t']))
        .filter_map(|l| parse_header(l.trim_end(), 0, nowhere).ok())
        .map(|e| e.version)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "ci-trixie (0.8.1) wikimedia; urgency=high\n\n   Update\n\n -- J. F. <j@w.org>  Mon, 20 Apr 2026 10:43:48 -0400\n\nci-trixie (1.0.0) wikimedia; urgency=medium\n\n  * Initial\n\n -- J. F. <j@w.org>  Sun, 19 Apr 2026 10:43:48 -0400\n";

    #[test]
    fn head_is_the_first_entry_not_the_highest() {
        let e = parse_head(TEXT, Path::new("changelog")).unwrap();
        assert_eq!((e.name.as_str(), e.version.as_str(), e.line), ("ci-trixie", "0.8.1", 1));
    }

    #[test]
    fn full_history() {
        let all = parse(TEXT, Path::new("changelog")).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].version, "1.0.0");
        assert_eq!(all[1].line, 7);
        assert_eq!(all[0].author.as_deref(), Some("J. F. <j@w.org>"));
        assert_eq!(all[0].changes, vec!["", "   Update", ""]);
    }

    #[test]
    fn versions_are_lenient_and_case_insensitive() {
        let text = "a (2.0) wikimedia; urgency=high\n\ngarbage line\n\na (1.0) UNRELEASED; urgency=low\n";
        assert_eq!(versions(text), ["2.0", "1.0"]);
        assert!(parse(text, Path::new("c")).is_err());
    }

    #[test]
    fn broken_header_names_the_line() {
        let err = parse_head("\n\nfoo 1.0 wikimedia\n", Path::new("x/changelog")).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.to_string().starts_with("x/changelog:3: "), "{err}");
        let err = parse_head("foo (1.0 beta) wikimedia; urgency=low", Path::new("c")).unwrap_err();
        assert!(err.message.contains("invalid version"), "{err}");
        assert!(parse_head("", Path::new("c")).is_err());
        // Found by fuzzing: an indented first line fails both parsers alike.
        let text = "  * a (1.0) wikimedia; urgency=high\n\nb (2.0) wikimedia; urgency=low\n";
        assert_eq!(parse_head(text, Path::new("c")).unwrap_err().line, Some(1));
        assert_eq!(parse(text, Path::new("c")).unwrap_err().line, Some(1));
    }
}
