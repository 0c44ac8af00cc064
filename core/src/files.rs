//! How the core reads a repository: through [`Files`], so that a work tree
//! on disk and a revision read from git look the same, and so that every
//! read holds to one policy.
//!
//! Invariants of every implementation:
//! - only regular files are read (a FIFO, socket or device is an error, and
//!   never blocks);
//! - a symlink is followed only when it resolves inside the boundary (the
//!   repository); directory walks never descend into symlinked folders;
//! - a read past its size limit is an error, after reading at most one byte
//!   more than the limit.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// What a directory entry is, without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    NotFound,
    /// Larger than the limit for its kind of file.
    TooLarge(u64),
    /// Not a regular file (a FIFO, a device, a folder).
    NotAFile,
    /// A symlink that leads outside the repository.
    Outside,
    Io(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("no such file"),
            ReadError::TooLarge(limit) => write!(f, "larger than the limit of {} bytes", limit),
            ReadError::NotAFile => f.write_str("not a regular file"),
            ReadError::Outside => f.write_str("a symlink that leads outside the repository (not followed)"),
            ReadError::Io(e) => f.write_str(e),
        }
    }
}

/// A tree of files: the repository on disk, or a revision of it.
pub trait Files: Send + Sync {
    /// The entries of a folder, sorted by name, kinds not following symlinks.
    fn list(&self, dir: &Path) -> std::io::Result<Vec<(String, Kind)>>;
    /// A regular file's bytes, at most `limit` of them.
    fn read(&self, path: &Path, limit: u64) -> Result<Vec<u8>, ReadError>;
    /// The kind of `path` after following symlinks that stay inside; `None`
    /// when it does not exist or leads outside.
    fn kind(&self, path: &Path) -> Option<Kind>;

    /// The path with symlinks resolved, when it stays inside: two paths to
    /// one file give the same answer.
    fn real_path(&self, path: &Path) -> Result<PathBuf, ReadError>;

    /// [`Files::read`] as UTF-8 text.
    fn read_text(&self, path: &Path, limit: u64) -> Result<String, ReadError> {
        let bytes = self.read(path, limit)?;
        String::from_utf8(bytes).map_err(|_| ReadError::Io("not valid UTF-8".into()))
    }

    /// True when `path` is a regular file (through symlinks that stay inside).
    fn is_file(&self, path: &Path) -> bool {
        self.kind(path) == Some(Kind::File)
    }

    /// Whether a file is executable (its mode goes into build contexts).
    fn executable(&self, path: &Path) -> bool {
        let _ = path;
        false
    }
}

/// Shared handle to a tree.
pub type SharedFiles = Arc<dyn Files>;

/// The work tree on disk, bounded by a folder (the repository).
#[derive(Debug, Clone)]
pub struct Disk {
    boundary: PathBuf,
}

impl Disk {
    /// A tree bounded by `boundary`; symlinks leading out of it are not
    /// followed. The boundary itself is resolved once.
    pub fn new(boundary: &Path) -> Disk {
        let boundary = boundary.canonicalize().unwrap_or_else(|_| absolute(boundary));
        Disk { boundary }
    }

    /// A tree without a boundary: for files the user named on the command line.
    pub fn unbounded() -> Disk {
        Disk { boundary: PathBuf::from("/") }
    }

    pub fn boundary(&self) -> &Path {
        &self.boundary
    }

    /// The real path of `path` when it resolves inside the boundary.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, ReadError> {
        let real = path.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound,
            _ => ReadError::Io(e.to_string()),
        })?;
        if real.starts_with(&self.boundary) { Ok(real) } else { Err(ReadError::Outside) }
    }
}

/// `path` made absolute against the working directory, `..` and `.` folded.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")).join(path)
    };
    normalize(&joined)
}

/// Folds `.` and `..` components without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl Files for Disk {
    fn real_path(&self, path: &Path) -> Result<PathBuf, ReadError> {
        self.resolve(path)
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<(String, Kind)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let ft = entry.file_type()?;
            let kind = if ft.is_file() {
                Kind::File
            } else if ft.is_dir() {
                Kind::Dir
            } else if ft.is_symlink() {
                Kind::Symlink
            } else {
                Kind::Other
            };
            // Names that are not UTF-8 cannot be image folders or pin files
            // anyone refers to; they are listed lossily and never match.
            out.push((entry.file_name().to_string_lossy().into_owned(), kind));
        }
        out.sort();
        Ok(out)
    }

    fn read(&self, path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
        use std::os::unix::fs::OpenOptionsExt;
        let real = self.resolve(path)?;
        // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW:
        // the resolved path has no symlink left to follow.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc_flags::O_NONBLOCK | libc_flags::O_NOFOLLOW)
            .open(&real)
            .map_err(|e| ReadError::Io(e.to_string()))?;
        let meta = file.metadata().map_err(|e| ReadError::Io(e.to_string()))?;
        if !meta.is_file() {
            return Err(ReadError::NotAFile);
        }
        if meta.len() > limit {
            return Err(ReadError::TooLarge(limit));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| ReadError::Io(e.to_string()))?;
        if bytes.len() as u64 > limit {
            return Err(ReadError::TooLarge(limit));
        }
        Ok(bytes)
    }

    fn executable(&self, path: &Path) -> bool {
        use std::os::unix::fs::PermissionsExt;
        self.resolve(path)
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.permissions().mode() & 0o111 != 0)
    }

    fn kind(&self, path: &Path) -> Option<Kind> {
        let real = self.resolve(path).ok()?;
        let meta = std::fs::metadata(real).ok()?;
        Some(if meta.is_file() {
            Kind::File
        } else if meta.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        })
    }
}

/// The two `open` flags the core needs, without a libc dependency
/// (Linux values; dockyard runs on Linux).
mod libc_flags {
    pub const O_NONBLOCK: i32 = 0o4000;
    pub const O_NOFOLLOW: i32 = 0o400000;
}

/// An entry of an in-memory tree.
#[derive(Debug, Clone)]
pub enum MemEntry {
    /// Contents, and whether the file is executable.
    File(Arc<Vec<u8>>, bool),
    /// A symlink and its target as written.
    Symlink(String),
    /// A file too large to have been read (its size).
    Oversize(u64),
}

/// A tree held in memory (a git revision): paths are absolute under a
/// virtual root, so that they look like the work tree's. Entries are kept
/// by their path relative to the root as text ("a/b/c"), hashed, with each
/// folder's listing made as files are added: a lookup hashes one string
/// instead of comparing paths component by component (`impact` spent a
/// quarter of its time there).
#[derive(Debug, Clone, Default)]
pub struct Memory {
    root: PathBuf,
    files: HashMap<String, MemEntry>,
    /// Each folder's entries, by the folder's relative path ("" is the root).
    dirs: HashMap<String, BTreeMap<String, Kind>>,
}

/// `a/./b//c` as `a/b/c` (tree paths from git have no `..`).
fn clean(rel: &str) -> String {
    rel.split('/').filter(|c| !c.is_empty() && *c != ".").collect::<Vec<_>>().join("/")
}

impl Memory {
    pub fn new(root: &Path) -> Memory {
        let mut dirs = HashMap::new();
        dirs.insert(String::new(), BTreeMap::new());
        Memory { root: root.to_owned(), files: HashMap::new(), dirs }
    }

    /// Adds a file at `rel` (relative to the root).
    pub fn insert(&mut self, rel: &str, entry: MemEntry) {
        let rel = clean(rel);
        if rel.is_empty() {
            return;
        }
        let kind = match entry {
            MemEntry::File(..) | MemEntry::Oversize(_) => Kind::File,
            MemEntry::Symlink(_) => Kind::Symlink,
        };
        let (mut parent, mut name, mut kind) = match rel.rsplit_once('/') {
            Some((p, n)) => (p.to_owned(), n.to_owned(), kind),
            None => (String::new(), rel.clone(), kind),
        };
        loop {
            let listing = self.dirs.entry(parent.clone()).or_default();
            let known = listing.insert(name, kind).is_some();
            if parent.is_empty() || known {
                break;
            }
            (parent, name, kind) = match parent.rsplit_once('/') {
                Some((p, n)) => (p.to_owned(), n.to_owned(), Kind::Dir),
                None => (String::new(), parent.clone(), Kind::Dir),
            };
        }
        self.files.insert(rel, entry);
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` relative to the root as text, if it is under the root.
    fn rel(&self, path: &Path) -> Option<String> {
        let rest = path.strip_prefix(&self.root).ok()?;
        Some(clean(&rest.to_string_lossy()))
    }

    /// Follows symlinks (at most 40, like Linux) inside the root; the
    /// result is relative to the root.
    fn resolve(&self, path: &Path) -> Result<String, ReadError> {
        let mut current = normalize(path);
        'follow: for _ in 0..40 {
            let rel = self.rel(&current).ok_or(ReadError::Outside)?;
            // A symlinked folder on the way is followed too.
            for (i, _) in rel.match_indices('/') {
                if let Some(MemEntry::Symlink(target)) = self.files.get(&rel[..i]) {
                    let base = self.root.join(&rel[..i]);
                    let base = base.parent().unwrap_or(&self.root);
                    current = normalize(&base.join(target)).join(&rel[i + 1..]);
                    continue 'follow;
                }
            }
            match self.files.get(&rel) {
                Some(MemEntry::Symlink(target)) => {
                    let at = self.root.join(&rel);
                    current = normalize(&at.parent().unwrap_or(&self.root).join(target));
                }
                _ => return Ok(rel),
            }
        }
        Err(ReadError::Io("too many levels of symbolic links".into()))
    }

    fn is_dir(&self, rel: &str) -> bool {
        self.dirs.contains_key(rel)
    }
}

impl Files for Memory {
    fn real_path(&self, path: &Path) -> Result<PathBuf, ReadError> {
        let real = self.resolve(path)?;
        if self.files.contains_key(&real) || self.is_dir(&real) {
            Ok(if real.is_empty() { self.root.clone() } else { self.root.join(real) })
        } else {
            Err(ReadError::NotFound)
        }
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<(String, Kind)>> {
        let listing = self.rel(&normalize(dir)).and_then(|rel| self.dirs.get(&rel));
        match listing {
            Some(l) => Ok(l.iter().map(|(n, k)| (n.clone(), *k)).collect()),
            None => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder")),
        }
    }

    fn read(&self, path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
        let real = self.resolve(path)?;
        match self.files.get(&real) {
            Some(MemEntry::File(bytes, _)) if bytes.len() as u64 > limit => Err(ReadError::TooLarge(limit)),
            Some(MemEntry::File(bytes, _)) => Ok(bytes.as_ref().clone()),
            Some(MemEntry::Oversize(_)) => Err(ReadError::TooLarge(limit)),
            Some(MemEntry::Symlink(_)) => Err(ReadError::Io("too many levels of symbolic links".into())),
            None if self.is_dir(&real) => Err(ReadError::NotAFile),
            None => Err(ReadError::NotFound),
        }
    }

    fn executable(&self, path: &Path) -> bool {
        self.resolve(path).ok().is_some_and(|p| matches!(self.files.get(&p), Some(MemEntry::File(_, true))))
    }

    fn kind(&self, path: &Path) -> Option<Kind> {
        let real = self.resolve(path).ok()?;
        match self.files.get(&real) {
            Some(MemEntry::File(..) | MemEntry::Oversize(_)) => Some(Kind::File),
            Some(MemEntry::Symlink(_)) => None,
            None if self.is_dir(&real) => Some(Kind::Dir),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_refuses_symlinks_out_fifos_and_large_files() {
        let outside = std::env::temp_dir().join(format!("dockyard-files-out-{}", std::process::id()));
        let repo = std::env::temp_dir().join(format!("dockyard-files-repo-{}", std::process::id()));
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(repo.join("img")).unwrap();
        std::fs::write(outside.join("token"), "s3cret").unwrap();
        std::fs::write(repo.join("img/real"), "inside").unwrap();
        std::os::unix::fs::symlink(outside.join("token"), repo.join("img/changelog")).unwrap();
        std::os::unix::fs::symlink("real", repo.join("img/alias")).unwrap();
        let fifo = repo.join("img/fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        let disk = Disk::new(&repo);
        assert_eq!(disk.read(&repo.join("img/changelog"), 100), Err(ReadError::Outside));
        assert_eq!(disk.read(&repo.join("img/alias"), 100).unwrap(), b"inside");
        assert_eq!(disk.read(&fifo, 100), Err(ReadError::NotAFile));
        assert_eq!(disk.read(&repo.join("img/real"), 3), Err(ReadError::TooLarge(3)));
        assert_eq!(disk.read(&repo.join("img/none"), 3), Err(ReadError::NotFound));
        let listed = disk.list(&repo.join("img")).unwrap();
        assert!(listed.contains(&("changelog".into(), Kind::Symlink)), "{listed:?}");
        std::fs::remove_dir_all(&repo).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn memory_tree_lists_reads_and_follows_inside_symlinks() {
        let mut m = Memory::new(Path::new("/repo"));
        m.insert("dockerfiles/a/changelog", MemEntry::File(Arc::new(b"x".to_vec()), false));
        m.insert("dockerfiles/a/link", MemEntry::Symlink("changelog".into()));
        m.insert("dockerfiles/a/out", MemEntry::Symlink("../../../etc/passwd".into()));
        m.insert("dockerfiles/b/sub/f", MemEntry::File(Arc::new(b"y".to_vec()), true));
        assert_eq!(
            m.list(Path::new("/repo/dockerfiles")).unwrap(),
            vec![("a".to_owned(), Kind::Dir), ("b".to_owned(), Kind::Dir)]
        );
        assert_eq!(m.read(Path::new("/repo/dockerfiles/a/link"), 10).unwrap(), b"x");
        assert_eq!(m.read(Path::new("/repo/dockerfiles/a/out"), 10), Err(ReadError::Outside));
        assert_eq!(m.read(Path::new("/repo/dockerfiles/b"), 10), Err(ReadError::NotAFile));
        assert_eq!(m.kind(Path::new("/repo/dockerfiles/b/sub")), Some(Kind::Dir));
    }
}
