//! `.dockerignore` with Docker's own rules (moby's `ignorefile` and
//! `patternmatcher`): comments and blank lines skipped, patterns cleaned
//! like Go's `filepath.Clean`, a leading `/` dropped, `!` re-includes, `*`
//! and `?` stop at `/`, `**` crosses folders, and the last matching pattern
//! wins for a file or any of its parent folders.

use regex::Regex;

/// One compiled pattern.
#[derive(Debug, Clone)]
struct Pattern {
    exclusion: bool,
    regex: Regex,
}

/// A `.dockerignore`, compiled.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

/// Go's `filepath.Clean` for slash-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// moby's `Pattern.compile`: the pattern as an anchored regular expression.
fn compile(pattern: &str) -> Result<Regex, String> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    re.push_str(".*");
                } else {
                    re.push_str("(.*/)?");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => match chars.get(i) {
                Some(next) => {
                    re.push_str(&regex::escape(&next.to_string()));
                    i += 1;
                }
                None => re.push_str("\\\\"),
            },
            c => re.push(c),
        }
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("bad pattern `{}`: {e}", crate::limits::quote(pattern)))
}

impl Ignore {
    /// Reads a `.dockerignore`'s text. An invalid pattern is an error (as it
    /// is for Docker), naming its line.
    pub fn parse(text: &str) -> Result<Ignore, (usize, String)> {
        let mut patterns = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let raw = if n == 0 { raw.trim_start_matches('\u{feff}') } else { raw };
            if raw.starts_with('#') {
                continue;
            }
            let mut p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
                if p.is_empty() {
                    return Err((n + 1, "illegal exclusion pattern: \"!\"".into()));
                }
            }
            let mut cleaned = clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Pattern { exclusion, regex: compile(&cleaned).map_err(|e| (n + 1, e))? });
        }
        Ok(Ignore { patterns })
    }

    /// moby's `MatchesOrParentMatches`: whether `path` (slash-separated,
    /// relative to the context) is left out of the build context.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let parent = match path.rfind('/') {
            Some(i) => &path[..i],
            None => ".",
        };
        let parents: Vec<&str> = if parent == "." { Vec::new() } else { parent.split('/').collect() };
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.regex.is_match(&path);
            if !hit {
                for i in 1..=parents.len() {
                    if p.regex.is_match(&parents[..i].join("/")) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_rules() {
        let ig = Ignore::parse("# comment\n*.md\n!README.md\nbuild/\n**/*.tmp\ndocs/**\n/abs\nsub/*/x\n").unwrap();
        assert!(ig.excludes("notes.md"));
        assert!(!ig.excludes("README.md"));
        assert!(!ig.excludes("sub/notes.md"), "* does not cross folders");
        assert!(ig.excludes("build/out/a.bin"), "a matched folder takes its files");
        assert!(ig.excludes("a/b/c.tmp") && ig.excludes("c.tmp"));
        assert!(ig.excludes("docs/a/b"));
        assert!(ig.excludes("abs"));
        assert!(ig.excludes("sub/q/x") && !ig.excludes("sub/q/r/x"));
        assert!(!ig.excludes("Dockerfile.template"));
        // The last match wins, and a re-included folder's files come back.
        let ig = Ignore::parse("data\n!data/keep\n").unwrap();
        assert!(ig.excludes("data/drop") && !ig.excludes("data/keep") && !ig.excludes("data/keep/x"));
        assert_eq!(clean("./a//b/../c/"), "a/c");
        assert!(Ignore::parse("!\n").is_err());
    }
}
