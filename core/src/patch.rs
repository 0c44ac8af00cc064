//! Unified diffs that `git apply` takes, of the files `--fix` rewrites.

use crate::lint::FileFix;
use std::fmt::Write as _;

/// Lines of context around a change.
const CONTEXT: usize = 3;

/// A path as git writes it in a diff header: C-quoted when it holds
/// anything but plain printable ASCII.
fn git_path(prefix: &str, path: &str) -> String {
    let full = format!("{prefix}{path}");
    if full.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\') {
        return full;
    }
    let mut out = String::from("\"");
    for b in full.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(b as char),
            b => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push('"');
    out
}

/// Splits into lines, each keeping whether it ended with a newline.
fn lines(s: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        match rest.find('\n') {
            Some(i) => {
                out.push((&rest[..i], true));
                rest = &rest[i + 1..];
            }
            None => {
                out.push((rest, false));
                rest = "";
            }
        }
    }
    out
}

fn push_line(out: &mut String, mark: char, (text, newline): (&str, bool)) {
    out.push(mark);
    out.push_str(text);
    out.push('\n');
    if !newline {
        out.push_str("\\ No newline at end of file\n");
    }
}

/// The diff of one file whose lines changed in place (`--fix` never adds
/// or removes a line).
pub fn file_diff(display: &str, old: &str, new: &str) -> String {
    let (a, b) = (lines(old), lines(new));
    let n = a.len().max(b.len());
    let changed: Vec<usize> = (0..n).filter(|&i| a.get(i) != b.get(i)).collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let _ = writeln!(out, "diff --git {} {}", git_path("a/", display), git_path("b/", display));
    let _ = writeln!(out, "--- {}", git_path("a/", display));
    let _ = writeln!(out, "+++ {}", git_path("b/", display));
    // Hunks: changed lines closer than 2×CONTEXT share one.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        match groups.last_mut() {
            Some((_, end)) if i <= *end + 2 * CONTEXT + 1 => *end = i,
            _ => groups.push((i, i)),
        }
    }
    for (first, last) in groups {
        let start = first.saturating_sub(CONTEXT);
        let end = (last + CONTEXT + 1).min(n);
        let (old_len, new_len) = (end.min(a.len()) - start.min(a.len()), end.min(b.len()) - start.min(b.len()));
        let _ = writeln!(out, "@@ -{},{old_len} +{},{new_len} @@", start + 1, start + 1);
        for i in start..end {
            match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) if x == y => push_line(&mut out, ' ', *x),
                (x, y) => {
                    if let Some(x) = x {
                        push_line(&mut out, '-', *x);
                    }
                    if let Some(y) = y {
                        push_line(&mut out, '+', *y);
                    }
                }
            }
        }
    }
    out
}

/// One patch for every fixed file.
pub fn patch(fixes: &[FileFix]) -> String {
    fixes.iter().map(|f| file_diff(&f.display, &f.original, &f.contents)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n";
        let new = old.replace("b\n", "B\n").replace("m\n", "M\n");
        let d = file_diff("jjb/x.yaml", old, &new);
        assert!(d.starts_with("diff --git a/jjb/x.yaml b/jjb/x.yaml\n--- a/jjb/x.yaml\n+++ b/jjb/x.yaml\n@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -10,4 +10,4 @@\n"), "{d}");
        let d = file_diff("x", "a\nb", "a\nB");
        assert!(d.ends_with("-b\n\\ No newline at end of file\n+B\n\\ No newline at end of file\n"), "{d}");
        assert_eq!(git_path("a/", "we ird\n"), "\"a/we ird\\n\"");
    }
}
