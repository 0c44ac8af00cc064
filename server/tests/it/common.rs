//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared/corpus` from the project root.
pub fn corpus() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    assert!(p.is_dir(), "the shared corpus is missing at {} (it sits beside the project)", p.display());
    p
}

/// Runs the real `dockyard` binary.
pub fn dockyard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dockyard"))
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .expect("run dockyard")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `files` (path → contents) under a fresh temporary directory.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// A Debian changelog with one entry per version, newest first.
pub fn changelog(name: &str, versions: &[&str]) -> String {
    versions
        .iter()
        .map(|v| format!("{name} ({v}) wikimedia; urgency=medium\n\n  * Test.\n\n -- T <t@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n"))
        .collect::<Vec<_>>()
        .join("\n")
}
