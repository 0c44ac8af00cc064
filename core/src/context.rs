//! An image's build context as docker-pkg makes it (the image folder,
//! minus what `.dockerignore` leaves out, plus the rendered Dockerfile), and
//! which of its files a Dockerfile's `COPY` and `ADD` take in.

use crate::diag::Diagnostic;
use crate::dockerignore::Ignore;
use crate::files::{Files, Kind};
use crate::limits::{MAX_CONTEXT_FILES, MAX_CONTROL_BYTES, MAX_SCAN_DEPTH};
use std::path::Path;

/// One file of a build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// Slash-separated, relative to the image folder.
    pub rel: String,
    /// Whether it is executable (mode kept in the tar).
    pub executable: bool,
}

/// The files of `dir` that go into its build context, sorted. Symlinked
/// folders are not entered; symlinked files are taken when they stay inside
/// the repository (their contents, as docker-pkg's `copytree` copies them).
pub fn context_files(files: &dyn Files, dir: &Path, display: &Path) -> Result<(Vec<ContextFile>, Ignore), Diagnostic> {
    let ignore = match files.read_text(&dir.join(".dockerignore"), MAX_CONTROL_BYTES) {
        Ok(text) => {
            Ignore::parse(&text).map_err(|(line, msg)| Diagnostic::at(&display.join(".dockerignore"), line, msg))?
        }
        Err(crate::files::ReadError::NotFound) => Ignore::default(),
        Err(e) => return Err(Diagnostic::new(display.join(".dockerignore"), None, format!("cannot read: {e}"))),
    };
    let mut out = Vec::new();
    walk(files, dir, "", 0, &ignore, &mut out).map_err(|m| Diagnostic::new(display, None, m))?;
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((out, ignore))
}

fn walk(
    files: &dyn Files,
    dir: &Path,
    prefix: &str,
    depth: usize,
    ignore: &Ignore,
    out: &mut Vec<ContextFile>,
) -> Result<(), String> {
    if depth > MAX_SCAN_DEPTH {
        return Err(format!("folders nested deeper than {MAX_SCAN_DEPTH}"));
    }
    let entries = files.list(dir).map_err(|e| format!("cannot scan {prefix}: {e}"))?;
    for (name, kind) in entries {
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let path = dir.join(&name);
        match kind {
            Kind::Dir => walk(files, &path, &rel, depth + 1, ignore, out)?,
            Kind::File | Kind::Symlink => {
                if files.kind(&path) != Some(Kind::File) {
                    continue;
                }
                // The Dockerfile is replaced by the rendered one; Docker
                // always sends the Dockerfile and .dockerignore.
                if rel == "Dockerfile" {
                    continue;
                }
                if rel != ".dockerignore" && ignore.excludes(&rel) {
                    continue;
                }
                out.push(ContextFile { executable: files.executable(&path), rel });
                if out.len() > MAX_CONTEXT_FILES {
                    return Err(format!("more than {MAX_CONTEXT_FILES} files in the build context"));
                }
            }
            Kind::Other => {}
        }
    }
    Ok(())
}

/// A source of a `COPY` or `ADD` (from the build context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    /// 1-based line of the instruction in the rendered Dockerfile.
    pub line: usize,
    pub pattern: String,
}

/// Logical instructions of a Dockerfile: continuation lines joined, with
/// the line each starts on; comment lines dropped.
fn instructions(dockerfile: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in dockerfile.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') && current.as_ref().is_none_or(|(_, s)| s.is_empty()) {
            continue;
        }
        if trimmed.starts_with('#') {
            // A comment inside a continued instruction is skipped.
            continue;
        }
        let (text, continues) = match line.strip_suffix('\\') {
            Some(t) => (t, true),
            None => (line, false),
        };
        match &mut current {
            Some((_, s)) => {
                s.push(' ');
                s.push_str(text.trim());
            }
            None => current = Some((i + 1, text.trim().to_owned())),
        }
        if !continues && let Some(c) = current.take().filter(|(_, s)| !s.is_empty()) {
            out.push(c);
        }
    }
    out.extend(current.filter(|(_, s)| !s.is_empty()));
    out
}

/// The context sources of every `COPY` and `ADD` (not `--from` copies, not
/// URLs, not heredocs).
pub fn copy_sources(dockerfile: &str) -> Vec<CopySource> {
    let mut out = Vec::new();
    for (line, text) in instructions(dockerfile) {
        let Some((word, rest)) = text.split_once(char::is_whitespace) else { continue };
        let add = word.eq_ignore_ascii_case("ADD");
        if !add && !word.eq_ignore_ascii_case("COPY") {
            continue;
        }
        let mut rest = rest.trim();
        let mut from = false;
        while let Some(flag) = rest.strip_prefix("--") {
            let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
            from |= flag[..end].to_ascii_lowercase().starts_with("from=");
            rest = flag[end..].trim_start();
        }
        if from || rest.contains("<<") {
            continue;
        }
        let args: Vec<String> = if rest.starts_with('[') {
            serde_json::from_str::<Vec<String>>(rest).unwrap_or_default()
        } else {
            rest.split_whitespace().map(str::to_owned).collect()
        };
        if args.len() < 2 {
            continue;
        }
        for src in &args[..args.len() - 1] {
            let lower = src.to_ascii_lowercase();
            if add && (lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("git@")) {
                continue;
            }
            out.push(CopySource { line, pattern: src.clone() });
        }
    }
    out
}

/// Go's `filepath.Match`: `*` and `?` stop at `/`, `[...]` classes with `^`
/// negation, `\\` escapes. Go's own algorithm: the pattern is cut into
/// chunks at its stars, and each chunk is matched at the leftmost place
/// the star before it allows, never revisited; so the time is at most
/// the pattern's length times the name's (`*a*a*a*a*a*b` against 200 `a`s
/// is microseconds, where backtracking every star took minutes).
pub fn go_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let mut name = n.as_slice();
    let mut pat = p.as_slice();
    'pattern: while !pat.is_empty() {
        let (star, chunk, rest) = scan_chunk(pat);
        pat = rest;
        if star && chunk.is_empty() {
            // A trailing `*` takes the rest unless it holds a `/`.
            return !name.contains(&'/');
        }
        // The chunk right here.
        if let Some(after) = match_chunk(chunk, name)
            && (after.is_empty() || !pat.is_empty())
        {
            name = after;
            continue;
        }
        if star {
            // Or after skipping i + 1 characters, never a `/`.
            let mut i = 0;
            while i < name.len() && name[i] != '/' {
                if let Some(after) = match_chunk(chunk, &name[i + 1..])
                    && (!pat.is_empty() || after.is_empty())
                {
                    name = after;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        return false;
    }
    name.is_empty()
}

/// Go's `scanChunk`: leading stars, then the chunk up to the next star
/// outside a class, then the rest.
fn scan_chunk(pattern: &[char]) -> (bool, &[char], &[char]) {
    let mut p = pattern;
    let mut star = false;
    while let Some(('*', rest)) = p.split_first() {
        p = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' if i + 1 < p.len() => i += 1,
            '[' => in_range = true,
            ']' => in_range = false,
            '*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &p[..i], &p[i..])
}

/// Go's `matchChunk`: what is left of `name` after `chunk` matches its
/// start, if it does.
fn match_chunk<'a>(chunk: &[char], name: &'a [char]) -> Option<&'a [char]> {
    let mut c = chunk;
    let mut s = name;
    while let Some((&first, rest)) = c.split_first() {
        match first {
            '[' => {
                let (&ch, s_rest) = s.split_first()?;
                if ch == '/' {
                    return None;
                }
                let mut r = rest;
                let negated = r.first() == Some(&'^');
                if negated {
                    r = &r[1..];
                }
                let mut matched = false;
                let mut n = 0;
                loop {
                    if r.first() == Some(&']') && n > 0 {
                        r = &r[1..];
                        break;
                    }
                    let (lo, after) = class_char(r)?;
                    let (hi, after) = match after.split_first() {
                        Some(('-', more)) => class_char(more)?,
                        _ => (lo, after),
                    };
                    if lo <= ch && ch <= hi {
                        matched = true;
                    }
                    r = after;
                    n += 1;
                }
                if matched == negated {
                    return None;
                }
                s = s_rest;
                c = r;
            }
            '?' => {
                let (&ch, s_rest) = s.split_first()?;
                if ch == '/' {
                    return None;
                }
                s = s_rest;
                c = rest;
            }
            '\\' if !rest.is_empty() => {
                let (&ch, s_rest) = s.split_first()?;
                if ch != rest[0] {
                    return None;
                }
                s = s_rest;
                c = &rest[1..];
            }
            lit => {
                let (&ch, s_rest) = s.split_first()?;
                if ch != lit {
                    return None;
                }
                s = s_rest;
                c = rest;
            }
        }
    }
    Some(s)
}

/// One character of a class (`\\` escapes), and what follows it.
fn class_char(r: &[char]) -> Option<(char, &[char])> {
    match r {
        ['\\', c, rest @ ..] => Some((*c, rest)),
        [']', ..] | [] => None,
        [c, rest @ ..] => Some((*c, rest)),
    }
}

/// Whether `source` (as written in `COPY`/`ADD`) takes `rel` (a context
/// file): the source names the file, or a folder above it, or a glob that
/// matches either.
pub fn takes(source: &str, rel: &str) -> bool {
    let src = crate::dockerignore::clean(source.trim_start_matches('/'));
    if src == "." {
        return true;
    }
    let parts: Vec<&str> = rel.split('/').collect();
    (1..=parts.len()).any(|i| go_match(&src, &parts[..i].join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_and_add_sources() {
        let df = "FROM x\n# COPY no.txt /\nCOPY a.sh \\\n  b/ /dst/\nCOPY --chown=1:1 [\"c d\", \"e*\", \"/x/\"]\nCOPY --from=build /out /out\nADD https://example.org/f /f\nadd local.tar /\nCOPY <<EOF /etc/x\nhi\nEOF\nRUN cp x y\n";
        let got: Vec<(usize, String)> = copy_sources(df).into_iter().map(|s| (s.line, s.pattern)).collect();
        assert_eq!(
            got,
            [(3, "a.sh".into()), (3, "b/".into()), (5, "c d".into()), (5, "e*".into()), (8, "local.tar".into())]
        );
    }

    #[test]
    fn sources_take_files_folders_and_globs() {
        assert!(takes("a.sh", "a.sh"));
        assert!(takes("b/", "b/c/d.txt"));
        assert!(takes("./b", "b/x"));
        assert!(takes("*.sh", "run.sh") && !takes("*.sh", "sub/run.sh"));
        assert!(takes("sub/*.sh", "sub/run.sh"));
        assert!(takes(".", "anything/at/all"));
        assert!(takes("/abs", "abs"));
        assert!(!takes("a.sh", "b.sh"));
        assert!(go_match("[a-c]?", "bx") && !go_match("[^a-c]?", "bx"));
        // Go's filepath.Match cases (from its match_test.go).
        for (p, n, want) in [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("*x", "xxx", true),
        ] {
            assert_eq!(go_match(p, n), want, "{p} {n}");
        }
    }

    #[test]
    fn many_stars_against_a_long_name_are_fast() {
        // Issue 18 item 8: this took past 60 s with backtracking on every star.
        let name = "a".repeat(200);
        let started = std::time::Instant::now();
        assert!(!go_match("*a*a*a*a*a*b", &name));
        assert!(!takes("*a*a*a*a*a*a*a*a*a*a*b", &name));
        assert!(go_match("*a*a*a*a*a*", &name));
        assert!(started.elapsed() < std::time::Duration::from_millis(100), "{:?}", started.elapsed());
    }
}
