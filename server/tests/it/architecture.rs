//! The layers, as ARCHITECTURE.md states them, checked on the source: a
//! module may use only the layers below it. Reads every `crate::…` path
//! (grouped `crate::{a, b}` included) and every `super::` that climbs to
//! the crate root, in every file of `server/src`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each layer of `server/src` and what it must never use.
const RULES: &[(&str, &[&str])] = &[
    // Adapters and utilities: they know nothing above them.
    ("engine", &["cli", "web", "print", "service"]),
    ("registry", &["cli", "web", "print", "service"]),
    ("store", &["cli", "web", "print", "service"]),
    ("git", &["cli", "web", "print", "service"]),
    ("fsio", &["cli", "web", "print", "service"]),
    ("sha", &["cli", "web", "print", "service"]),
    ("term", &["cli", "web", "print", "service"]),
    // Printers know only dockyard-api and core types.
    ("print", &["cli", "web", "service", "engine", "registry", "store", "git", "fsio"]),
    // The service is below both shells and uses no printer.
    ("service", &["cli", "web", "print"]),
    // The web shell and the command line are apart, and the web reaches
    // the store, the engines, the registry and git only through the service.
    ("web", &["cli", "store", "engine", "registry", "git", "fsio"]),
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The crate-level modules `text` (a file `depth` folders below `src`, or
/// a layer's `mod.rs` at depth 1) names.
fn crate_modules(text: &str, climbs_to_root: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.trim().split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("").to_owned();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (prefix, grouped) in [("crate::", true), (climbs_to_root, true)] {
            let mut rest = code;
            while let Some(i) = rest.find(prefix) {
                // `super::super::x` contains `super::x`: only whole prefixes.
                let before = &rest[..i];
                rest = &rest[i + prefix.len()..];
                if before.ends_with("super::") || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                if grouped && rest.starts_with('{') {
                    let group = rest[1..].split('}').next().unwrap_or("");
                    out.extend(group.split(',').map(ident).filter(|s| !s.is_empty()));
                } else {
                    out.insert(ident(rest));
                }
            }
        }
    }
    out
}

/// Every import of `src` that breaks a rule, as `file: uses crate::X`.
fn violations(src: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for (layer, forbidden) in RULES {
        let mut fs = Vec::new();
        let dir = src.join(layer);
        if dir.is_dir() {
            files(&dir, &mut fs);
        }
        let single = src.join(format!("{layer}.rs"));
        if single.is_file() {
            fs.push(single);
        }
        for f in fs {
            let rel = f.strip_prefix(src).unwrap();
            let depth = rel.components().count();
            // From `layer.rs` or `layer/mod.rs`, `super::` is the crate root;
            // from `layer/x.rs`, `super::super::` is.
            let is_root_file = depth == 1 || rel.file_name().is_some_and(|n| n == "mod.rs") && depth == 2;
            let climb = if is_root_file { "super::" } else { "super::super::" };
            let text = std::fs::read_to_string(&f).unwrap();
            for m in crate_modules(&text, climb) {
                if forbidden.contains(&m.as_str()) {
                    found.push(format!("{}: uses crate::{m} ({layer} must not)", rel.display()));
                }
            }
        }
    }
    found
}

#[test]
fn every_layer_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let v = violations(&src);
    assert!(v.is_empty(), "imports that break the layers (ARCHITECTURE.md, Layers):\n{}", v.join("\n"));
}

#[test]
fn the_check_sees_every_form_of_import() {
    // A copy of the tree with one forbidden import added, in each form.
    for (file, line) in [
        ("service/build.rs", "use crate::cli::fail;"),
        ("store/mod.rs", "use super::web::AppState;"),
        ("print/lint.rs", "use crate::{sha::digest, service::Snapshot};"),
        ("engine/docker.rs", "fn f() { let _ = super::super::cli::EXIT_USAGE; }"),
        ("web/api.rs", "    let x = crate::cli::run;"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let layer = file.split('/').next().unwrap();
        let dir = tmp.path().join(layer);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(tmp.path().join(file), format!("{line}\n")).unwrap();
        let v = violations(tmp.path());
        assert_eq!(v.len(), 1, "{file}: {line} was not caught: {v:?}");
        assert!(v[0].starts_with(file), "{v:?}");
    }
    // Comments and the layers' own modules are not imports that break a rule.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("service")).unwrap();
    std::fs::write(
        tmp.path().join("service/build.rs"),
        "// see crate::cli::build\nuse crate::store::Shared;\nuse super::Service;\n",
    )
    .unwrap();
    assert_eq!(violations(tmp.path()), Vec::<String>::new());
}

#[test]
fn the_core_and_the_api_stay_pure() {
    // The core: no Docker, network, database or async runtime; the API:
    // serde only (it compiles for the browser).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (krate, forbidden) in [
        ("core", &["tokio", "reqwest", "bollard", "rusqlite", "postgres", "axum", "dockyard"][..]),
        ("api", &["tokio", "reqwest", "bollard", "rusqlite", "postgres", "axum", "dockyard", "dockyard-core"][..]),
    ] {
        let manifest = std::fs::read_to_string(root.join(krate).join("Cargo.toml")).unwrap();
        let deps = manifest.split("[dependencies]").nth(1).unwrap_or("").split("\n[").next().unwrap_or("");
        let names: Vec<&str> = deps
            .lines()
            .filter_map(|l| l.split(['=', '.']).next().map(str::trim))
            .filter(|n| !n.is_empty() && !n.starts_with('#'))
            .collect();
        assert!(!names.is_empty(), "{krate}: no dependencies read");
        for f in forbidden {
            assert!(!names.contains(f), "{krate} depends on {f}");
        }
    }
}
