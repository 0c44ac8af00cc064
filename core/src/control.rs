//! Debian `control` files (deb822 paragraphs): the `Depends:` and
//! `Build-Depends:` fields name an image's parents.

use crate::diag::Diagnostic;
use std::path::Path;

/// One declared parent with the line it is declared on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    pub line: usize,
}

/// Reads the parents from every paragraph, `Build-Depends` before `Depends`
/// within a paragraph (docker-pkg's order). Values are split on commas with
/// surrounding whitespace removed, as docker-pkg's `\s*,[\s\n]*` does.
pub fn parse_depends(text: &str, file: &Path) -> Result<Vec<Dependency>, Diagnostic> {
    // (field name, value line pieces with their line numbers)
    let mut paragraph: Vec<(String, Vec<(usize, String)>)> = Vec::new();
    let mut deps = Vec::new();
    let flush = |paragraph: &mut Vec<(String, Vec<(usize, String)>)>, deps: &mut Vec<Dependency>| {
        for key in ["build-depends", "depends"] {
            for (name, pieces) in paragraph.iter().filter(|(n, _)| n.eq_ignore_ascii_case(key)) {
                let _ = name;
                for (line, piece) in pieces {
                    for dep in piece.split(',') {
                        let dep = dep.trim();
                        if !dep.is_empty() {
                            deps.push(Dependency { name: dep.to_owned(), line: *line });
                        }
                    }
                }
            }
        }
        paragraph.clear();
    };
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut paragraph, &mut deps);
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match paragraph.last_mut() {
                Some((_, pieces)) => pieces.push((lineno, line.trim().to_owned())),
                None => {
                    return Err(Diagnostic::at(file, lineno, "continuation line before any field"));
                }
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(Diagnostic::at(
                file,
                lineno,
                format!("expected `Field: value`, found `{}`", crate::limits::quote(line)),
            ));
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(Diagnostic::at(file, lineno, format!("invalid field name `{}`", crate::limits::quote(key))));
        }
        paragraph.push((key.to_owned(), vec![(lineno, value.trim().to_owned())]));
    }
    flush(&mut paragraph, &mut deps);
    Ok(deps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        parse_depends(text, Path::new("control")).unwrap().into_iter().map(|d| d.name).collect()
    }

    #[test]
    fn reads_depends_and_build_depends() {
        assert_eq!(names("Package: a\nDepends: b\n"), ["b"]);
        assert_eq!(names("Package: a\nDepends: b , c,\n d\nBuild-Depends: x\n"), ["x", "b", "c", "d"]);
        assert_eq!(names("Package: a\n# Depends: no\nDescription: x\n"), Vec::<String>::new());
        assert_eq!(names("Package: a\n\nPackage: b\nDepends: c\n"), ["c"]);
    }

    #[test]
    fn broken_control_names_the_line() {
        let err = parse_depends("Package: a\nDepends b\n", Path::new("img/control")).unwrap_err();
        assert_eq!(err.to_string(), "img/control:2: expected `Field: value`, found `Depends b`");
    }
}
