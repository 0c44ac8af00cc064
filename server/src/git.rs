//! Reading a revision of the repository straight from git, into an
//! in-memory tree ([`Memory`]) that looks like the work tree (same absolute
//! paths), so that the same code scans, renders and lints both.
//!
//! One `ls-tree -r -l -z` per revision lists the blobs under the wanted
//! paths with their sizes; one `cat-file --batch` reads the blobs of all
//! the revisions asked for together, each blob once.
//! Blobs past [`MAX_BLOB_BYTES`] are not read (a read of one reports it too
//! large), and at most [`MAX_TREE_BYTES`] are read in all.
//!
//! Revisions come from users (`/api/v1/impact?base=` is public), so git
//! sees only what [`check_revision`] accepts: object names in hex, ref
//! names as `git check-ref-format` has them, and `~N`/`^N` suffixes; never
//! `^{/regex}`, `@{…}` or `:path`. Every git child runs under a watchdog
//! that kills it after [`GIT_TIMEOUT`], or as soon as the request that
//! started it is dropped ([`Cancel`]).

use dockyard_core::files::{MemEntry, Memory};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The largest blob read (larger ones read as "too large").
pub const MAX_BLOB_BYTES: u64 = 16 << 20;
/// Bytes read from one revision in all.
pub const MAX_TREE_BYTES: u64 = 512 << 20;

/// The longest any one git child may run.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(20);

fn git(root: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(root).env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C").env("GIT_OPTIONAL_LOCKS", "0");
    c
}

/// Set when the request that started git work is gone: its git children
/// are killed. Made by the caller, set on drop of [`CancelOnDrop`].
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels when dropped (keep it in the request's future).
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Cancels its [`Cancel`] when dropped.
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::Relaxed);
    }
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Cancel>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with git children that `cancel` can kill (on this thread).
pub fn with_cancel<T>(cancel: &Cancel, f: impl FnOnce() -> T) -> T {
    CURRENT.with(|c| *c.borrow_mut() = Some(cancel.clone()));
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = None);
    out
}

/// Kills `child` after [`GIT_TIMEOUT`] or when the current [`Cancel`] is
/// set; dropped when the child is done.
struct Watchdog {
    done: Arc<AtomicBool>,
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    fn watch(child: &std::process::Child) -> Watchdog {
        let pid = child.id() as libc::pid_t;
        let cancel = CURRENT.with(|c| c.borrow().clone()).unwrap_or_default();
        let done = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        let (d, f) = (done.clone(), fired.clone());
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while !d.load(Ordering::Relaxed) {
                if cancel.cancelled() || start.elapsed() > GIT_TIMEOUT {
                    f.store(true, Ordering::Relaxed);
                    // SAFETY: kill(2) on our own child's pid; the child is
                    // not reaped before `done` is set, so the pid is still ours.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Watchdog { done, fired }
    }

    /// Why the child failed, when the watchdog stopped it.
    fn verdict(&self) -> Result<(), String> {
        if self.fired.load(Ordering::Relaxed) {
            Err(format!("git was stopped: it ran past {} s, or the request was dropped", GIT_TIMEOUT.as_secs()))
        } else {
            Ok(())
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// Runs `cmd` to the end under a [`Watchdog`].
fn output(mut cmd: Command) -> Result<std::process::Output, String> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let dog = Watchdog::watch(&child);
    let out = child.wait_with_output().map_err(|e| format!("git: {e}"));
    dog.verdict()?;
    drop(dog);
    out
}

/// Whether `rev` is a revision dockyard passes to git: a full or
/// abbreviated hex object name, or a ref name that `git check-ref-format
/// --allow-onelevel` accepts, followed by any `~`, `^`, `~N`, `^N`.
pub fn check_revision(rev: &str) -> Result<(), String> {
    let refuse = || {
        Err(format!(
            "`{}` is not a revision dockyard accepts: use a commit id, a branch or tag name, and `~N` or `^N`",
            dockyard_core::limits::quote(rev)
        ))
    };
    if rev.is_empty() || rev.len() > 256 {
        return refuse();
    }
    // `~` and `^` cannot be in a ref name: the name ends at the first.
    let (base, suffix) = rev.split_at(rev.find(['~', '^']).unwrap_or(rev.len()));
    match (check_base(base), check_suffix(suffix)) {
        (Ok(()), Ok(())) => Ok(()),
        _ => refuse(),
    }
}

/// `([~^][0-9]{0,6})*`.
fn check_suffix(s: &str) -> Result<(), ()> {
    let mut rest = s;
    while let Some(r) = rest.strip_prefix(['~', '^']) {
        let digits = r.len() - r.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 6 {
            return Err(());
        }
        rest = &r[digits..];
    }
    if rest.is_empty() { Ok(()) } else { Err(()) }
}

/// `git check-ref-format --allow-onelevel`, or a hex object name.
fn check_base(name: &str) -> Result<(), ()> {
    if name.is_empty() || name.starts_with('-') || name == "@" {
        return Err(());
    }
    let bad_char = |c: char| c.is_ascii_control() || " ~^:?*[\\".contains(c) || c == '\u{7f}';
    if name.chars().any(bad_char)
        || name.contains("..")
        || name.contains("@{")
        || name.contains("//")
        || name.starts_with('/')
        || name.ends_with('/')
        || name.ends_with('.')
    {
        return Err(());
    }
    for component in name.split('/') {
        if component.starts_with('.') || component.ends_with(".lock") {
            return Err(());
        }
    }
    Ok(())
}

/// The full commit id of `rev`, or why it does not name one.
pub fn resolve(root: &Path, rev: &str) -> Result<String, String> {
    check_revision(rev)?;
    let mut cmd = git(root);
    cmd.args(["rev-parse", "--verify", "--quiet", "--end-of-options"]).arg(format!("{rev}^{{commit}}"));
    let out = output(cmd)?;
    if !out.status.success() {
        return Err(format!("`{}` is not a commit of {}", dockyard_core::limits::quote(rev), root.display()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The commit `HEAD` names and whether the work tree differs from it
/// (tracked changes or untracked files, as `git status` shows them), or
/// `None` outside a git work tree.
pub fn head_state(root: &Path) -> Option<(String, bool)> {
    let commit = resolve(root, "HEAD").ok()?;
    let mut cmd = git(root);
    cmd.args(["status", "--porcelain", "-z"]);
    let out = output(cmd).ok()?;
    out.status.success().then_some((commit, !out.stdout.is_empty()))
}

/// `git config --get KEY` in `root` (none when unset or outside git).
pub fn config_value(root: &Path, key: &str) -> Option<String> {
    let mut cmd = git(root);
    cmd.args(["config", "--get", key]);
    let out = output(cmd).ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
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
    let out = output(ls)?;
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
    let dog = Watchdog::watch(&cat);
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
        dog.verdict()?;
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
    dog.verdict()?;
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::check_revision;

    #[test]
    fn revisions_are_names_and_suffixes_only() {
        for ok in [
            "HEAD",
            "HEAD~",
            "HEAD~3",
            "HEAD^2~1",
            "main",
            "origin/main",
            "v1.2",
            "abc1234",
            "release-2024.1^",
            "feature/x-y",
        ] {
            assert!(check_revision(ok).is_ok(), "{ok}");
        }
        for bad in [
            "HEAD^{/(.*)(.*)\\1}",
            ":/fix",
            "HEAD:dockerfiles",
            "@{-1}",
            "main@{yesterday}",
            "-n",
            "a..b",
            "a b",
            "",
            ".hidden",
            "x.lock",
            "refs//x",
            "HEAD~x",
            "HEAD^{commit}",
        ] {
            assert!(check_revision(bad).is_err(), "{bad}");
        }
    }
}
