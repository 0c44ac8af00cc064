//! Reading a revision of the repository straight from git, into an
//! in-memory tree ([`Memory`]) that looks like the work tree (same absolute
//! paths), so that the same code scans, renders and lints both.
//!
//! One `ls-tree -r -l -z` per revision lists the blobs under the wanted
//! paths with their sizes; one `cat-file --batch` reads the blobs of all
//! the revisions asked for together, each blob once.
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

/// One blob `ls-tree` listed: mode, object id, path, size.
struct Listed {
    mode: String,
    id: String,
    path: String,
    size: u64,
}

/// The blobs of `commit` under `paths`.
fn list(root: &Path, commit: &str, paths: &[PathBuf]) -> Result<Vec<Listed>, String> {
    let mut ls = git(root);
    ls.args(["ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--"]);
    for p in paths {
        ls.arg(p);
    }
    let out = ls.output().map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!("git ls-tree {commit}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    // "<mode> <type> <object> <size>\t<path>\0"
    let mut listed = Vec::new();
    for entry in out.stdout.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let text = String::from_utf8_lossy(entry);
        let Some((meta, path)) = text.split_once('\t') else { continue };
        let fields: Vec<&str> = meta.split_whitespace().collect();
        if fields.len() != 4 || fields[1] != "blob" {
            continue;
        }
        let size = fields[3].parse().unwrap_or(u64::MAX);
        listed.push(Listed { mode: fields[0].to_owned(), id: fields[2].to_owned(), path: path.to_owned(), size });
    }
    Ok(listed)
}

/// The files of `commit` (a full commit id, see [`resolve`]) under `paths`
/// (relative to the repository root), as a tree rooted at `root`.
pub fn tree(root: &Path, commit: &str, paths: &[PathBuf]) -> Result<Memory, String> {
    Ok(trees(root, &[commit], paths)?.pop().unwrap_or_else(|| Memory::new(root)))
}

/// The files of several commits under `paths`, one tree per commit. A blob
/// that several commits share (most of them, between a change and its
/// parent) is read once, and all are read by one `git cat-file`.
pub fn trees(root: &Path, commits: &[&str], paths: &[PathBuf]) -> Result<Vec<Memory>, String> {
    let listed: Vec<Vec<Listed>> = commits.iter().map(|c| list(root, c, paths)).collect::<Result<_, _>>()?;
    let mut mems: Vec<Memory> = commits.iter().map(|_| Memory::new(root)).collect();
    // The blobs to read, each once, within each commit's budget.
    let mut ids: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut wanted: Vec<Vec<&Listed>> = Vec::new();
    for (mem, listed) in mems.iter_mut().zip(&listed) {
        let mut budget = MAX_TREE_BYTES;
        let mut read = Vec::new();
        for w in listed {
            if w.size > MAX_BLOB_BYTES || w.size > budget {
                mem.insert(&w.path, MemEntry::Oversize(w.size));
                continue;
            }
            budget -= w.size;
            read.push(w);
            if seen.insert(w.id.as_str()) {
                ids.push(&w.id);
            }
        }
        wanted.push(read);
    }
    let blobs = cat(root, &ids)?;
    for (mem, read) in mems.iter_mut().zip(wanted) {
        for w in read {
            let Some(bytes) = blobs.get(w.id.as_str()) else { continue };
            if w.mode == "120000" {
                mem.insert(&w.path, MemEntry::Symlink(String::from_utf8_lossy(bytes).into_owned()));
            } else {
                mem.insert(&w.path, MemEntry::File(bytes.clone(), w.mode == "100755"));
            }
        }
    }
    Ok(mems)
}

/// The contents of blobs, by id, read by one `git cat-file --batch`.
fn cat<'a>(root: &Path, ids: &[&'a str]) -> Result<std::collections::HashMap<&'a str, Arc<Vec<u8>>>, String> {
    let mut blobs = std::collections::HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(blobs);
    }
    let mut cat = git(root)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let mut stdin = cat.stdin.take().ok_or("git cat-file: no stdin")?;
    let request: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(request.as_bytes());
    });
    let mut reader = BufReader::with_capacity(1 << 16, cat.stdout.take().ok_or("git cat-file: no stdout")?);
    let mut header = String::new();
    for id in ids {
        header.clear();
        reader.read_line(&mut header).map_err(|e| format!("git cat-file: {e}"))?;
        let size: usize = header.split_whitespace().nth(2).and_then(|s| s.parse().ok()).ok_or_else(|| {
            format!("git cat-file: unexpected answer `{}`", dockyard_core::limits::quote(header.trim()))
        })?;
        let mut bytes = vec![0; size];
        reader.read_exact(&mut bytes).map_err(|e| format!("git cat-file: {e}"))?;
        let mut newline = [0u8; 1];
        reader.read_exact(&mut newline).map_err(|e| format!("git cat-file: {e}"))?;
        blobs.insert(*id, Arc::new(bytes));
    }
    let _ = writer.join();
    let _ = cat.wait();
    Ok(blobs)
}
