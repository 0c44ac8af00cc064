//! Reading a revision of the repository straight from git, into an
//! in-memory tree ([`Memory`]) that looks like the work tree (same absolute
//! paths), so that the same code scans, renders and lints both.
//!
//! Two `git` processes per revision: `ls-tree -r -l -z` lists the blobs
//! under the wanted paths with their sizes, `cat-file --batch` reads them.
//! Blobs past [`MAX_BLOB_BYTES`] are not read (a read of one reports it too
//! large), and at most [`MAX_TREE_BYTES`] are read in all.

use dockyard_core::files::{MemEntry, Memory};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// The largest blob read (larger ones read as "too large").
pub const MAX_BLOB_BYTES: u64 = 16 << 20;
/// Bytes read from one revision in all.
pub const MAX_TREE_BYTES: u64 = 512 << 20;

fn git(root: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(root).env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C");
    c
}

/// The full commit id of `rev`, or why it does not name one.
pub fn resolve(root: &Path, rev: &str) -> Result<String, String> {
    if rev.starts_with('-') || rev.contains(['\0', '\n']) {
        return Err(format!("`{}` is not a revision", dockyard_core::limits::quote(rev)));
    }
    let out = git(root)
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{rev}^{{commit}}"))
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{}` is not a commit of {}", dockyard_core::limits::quote(rev), root.display()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The files of `rev` under `paths` (relative to the repository root), as a
/// tree rooted at `root`.
pub fn tree(root: &Path, rev: &str, paths: &[PathBuf]) -> Result<Memory, String> {
    let commit = resolve(root, rev)?;
    let mut ls = git(root);
    ls.args(["ls-tree", "-r", "-l", "-z", "--full-tree", &commit, "--"]);
    for p in paths {
        ls.arg(p);
    }
    let out = ls.output().map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!("git ls-tree {rev}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    // "<mode> <type> <object> <size>\t<path>\0"
    let mut wanted: Vec<(String, String, String, u64)> = Vec::new();
    for entry in out.stdout.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let text = String::from_utf8_lossy(entry);
        let Some((meta, path)) = text.split_once('\t') else { continue };
        let fields: Vec<&str> = meta.split_whitespace().collect();
        if fields.len() != 4 || fields[1] != "blob" {
            continue;
        }
        let size = fields[3].parse().unwrap_or(u64::MAX);
        wanted.push((fields[0].to_owned(), fields[2].to_owned(), path.to_owned(), size));
    }
    let mut mem = Memory::new(root);
    let mut budget = MAX_TREE_BYTES;
    let mut to_read: Vec<&(String, String, String, u64)> = Vec::new();
    for w in &wanted {
        if w.3 > MAX_BLOB_BYTES || w.3 > budget {
            mem.insert(&w.2, MemEntry::Oversize(w.3));
            continue;
        }
        budget -= w.3;
        to_read.push(w);
    }
    if to_read.is_empty() {
        return Ok(mem);
    }
    let mut cat = git(root)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let mut stdin = cat.stdin.take().ok_or("git cat-file: no stdin")?;
    let ids: Vec<String> = to_read.iter().map(|w| w.1.clone()).collect();
    let writer = std::thread::spawn(move || {
        for id in ids {
            if writeln!(stdin, "{id}").is_err() {
                break;
            }
        }
    });
    let mut reader = BufReader::new(cat.stdout.take().ok_or("git cat-file: no stdout")?);
    for (mode, _, path, _) in to_read {
        let mut header = String::new();
        reader.read_line(&mut header).map_err(|e| format!("git cat-file: {e}"))?;
        let size: usize = header.split_whitespace().nth(2).and_then(|s| s.parse().ok()).ok_or_else(|| {
            format!("git cat-file: unexpected answer `{}`", dockyard_core::limits::quote(header.trim()))
        })?;
        let mut bytes = vec![0; size];
        reader.read_exact(&mut bytes).map_err(|e| format!("git cat-file: {e}"))?;
        let mut newline = [0u8; 1];
        reader.read_exact(&mut newline).map_err(|e| format!("git cat-file: {e}"))?;
        if mode == "120000" {
            mem.insert(path, MemEntry::Symlink(String::from_utf8_lossy(&bytes).into_owned()));
        } else {
            mem.insert(path, MemEntry::File(Arc::new(bytes), mode == "100755"));
        }
    }
    let _ = writer.join();
    let _ = cat.wait();
    Ok(mem)
}
