//! How the core reads a repository: through [`Files`], so that a work tree
//! on disk and a revision read from git look the same, and so that every
//! read holds to one policy.
//!
//! Invariants of every implementation:
//! - only regular files are read (a FIFO, socket or device is an error, and
//!   never blocks);
//! - nothing outside the boundary (the repository) is read, and no symlink
//!   is followed (work trees: the kernel refuses both, see [`Disk`]; git
//!   revisions: [`Memory`] refuses symlinks the same way); directory walks
//!   list symlinks as such and never descend into them;
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
    /// A path that leads outside the repository.
    Outside,
    /// A symlink on the way: the repository is read without following any.
    Symlink,
    Io(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("no such file"),
            ReadError::TooLarge(limit) => write!(f, "larger than the limit of {} bytes", limit),
            ReadError::NotAFile => f.write_str("not a regular file"),
            ReadError::Outside => f.write_str("leads outside the repository (not followed)"),
            ReadError::Symlink => {
                f.write_str("a symlink (not followed: the repository is read as plain files and folders)")
            }
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
///
/// The kernel holds the boundary: every path is opened relative to a
/// handle on the boundary folder with `openat2(RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS)`, one call per file and no window between a check
/// and the open. A symlink anywhere on the way is refused
/// ([`ReadError::Symlink`]): the repository is data, read as files and
/// folders only. Where the kernel lacks `openat2` (before Linux 5.6) the
/// same rule is kept by opening one component at a time with `O_NOFOLLOW`.
#[derive(Debug, Clone)]
pub struct Disk {
    boundary: PathBuf,
    /// `O_PATH` handle on the boundary; `None` when it could not be opened
    /// (every read then fails as not found).
    dir: Option<Arc<rustix::fd::OwnedFd>>,
    /// Files the operator named (not the repository's): their paths may
    /// go through symlinks (a symlinked home, `/tmp` elsewhere).
    follow: bool,
}

impl Disk {
    /// A tree bounded by `boundary`. The boundary itself is resolved once
    /// (symlinks above it are the operator's), and held open.
    pub fn new(boundary: &Path) -> Disk {
        let boundary = boundary.canonicalize().unwrap_or_else(|_| absolute(boundary));
        let dir = rustix::fs::open(
            &boundary,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok()
        .map(Arc::new);
        Disk { boundary, dir, follow: false }
    }

    /// A tree without a boundary, whose paths may go through symlinks: for
    /// files the operator named (a config on the command line, the
    /// user-level config), never for the repository's.
    pub fn unbounded() -> Disk {
        Disk { follow: true, ..Disk::new(Path::new("/")) }
    }

    pub fn boundary(&self) -> &Path {
        &self.boundary
    }

    /// `path` relative to the boundary (`.` and `..` folded first), or
    /// [`ReadError::Outside`].
    fn relative(&self, path: &Path) -> Result<PathBuf, ReadError> {
        let path = if path.is_absolute() { normalize(path) } else { normalize(&self.boundary.join(path)) };
        let rel = path.strip_prefix(&self.boundary).map_err(|_| ReadError::Outside)?;
        Ok(if rel.as_os_str().is_empty() { PathBuf::from(".") } else { rel.to_owned() })
    }

    /// Opens `path` beneath the boundary, never through a symlink.
    fn open(&self, path: &Path, flags: rustix::fs::OFlags) -> Result<rustix::fd::OwnedFd, ReadError> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        let rel = self.relative(path)?;
        let dir = self.dir.as_ref().ok_or(ReadError::NotFound)?;
        // openat2 refuses (EINVAL) any flag besides CLOEXEC, DIRECTORY and
        // NOFOLLOW beside O_PATH.
        let flags = if flags.contains(OFlags::PATH) {
            flags | OFlags::CLOEXEC
        } else {
            flags | OFlags::CLOEXEC | OFlags::NOCTTY
        };
        if self.follow {
            return rustix::fs::open(self.boundary.join(&rel), flags, Mode::empty()).map_err(open_error);
        }
        if !NO_OPENAT2.load(std::sync::atomic::Ordering::Relaxed) {
            let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            match rustix::fs::openat2(dir.as_ref(), &rel, flags, Mode::empty(), how) {
                Ok(fd) => return Ok(fd),
                Err(rustix::io::Errno::NOSYS) => NO_OPENAT2.store(true, std::sync::atomic::Ordering::Relaxed),
                // EAGAIN: a rename raced the lookup; one more try, then the walk.
                Err(rustix::io::Errno::AGAIN) => {
                    if let Ok(fd) = rustix::fs::openat2(dir.as_ref(), &rel, flags, Mode::empty(), how) {
                        return Ok(fd);
                    }
                }
                Err(e) => return Err(self.explain(&rel, open_error(e))),
            }
        }
        open_walk(dir, &rel, flags).map_err(|e| self.explain(&rel, e))
    }

    /// A refused symlink that leads out of the repository says so (only on
    /// this error path is the link's target looked at).
    fn explain(&self, rel: &Path, e: ReadError) -> ReadError {
        match e {
            ReadError::Symlink => match self.boundary.join(rel).canonicalize() {
                Ok(real) if !real.starts_with(&self.boundary) => ReadError::Outside,
                _ => ReadError::Symlink,
            },
            e => e,
        }
    }

    /// The real path of `path` when it resolves inside the boundary without
    /// a symlink (it is then the path itself, `.` and `..` folded).
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, ReadError> {
        self.open(path, rustix::fs::OFlags::PATH)?;
        Ok(self.boundary.join(self.relative(path)?))
    }
}

/// Set once `openat2` answered ENOSYS: the component walk is used from then on.
static NO_OPENAT2: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn open_error(e: rustix::io::Errno) -> ReadError {
    use rustix::io::Errno;
    match e {
        Errno::NOENT | Errno::NOTDIR => ReadError::NotFound,
        // ELOOP: a symlink on the way (RESOLVE_NO_SYMLINKS, or O_NOFOLLOW at the end).
        Errno::LOOP => ReadError::Symlink,
        // EXDEV: the path would leave the boundary.
        Errno::XDEV => ReadError::Outside,
        e => ReadError::Io(std::io::Error::from(e).to_string()),
    }
}

/// The same rule as `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, one
/// component at a time: each folder opened `O_PATH | O_NOFOLLOW` and
/// checked to be a folder, the last with `O_NOFOLLOW`.
fn open_walk(
    dir: &rustix::fd::OwnedFd,
    rel: &Path,
    flags: rustix::fs::OFlags,
) -> Result<rustix::fd::OwnedFd, ReadError> {
    use rustix::fs::{FileType, Mode, OFlags};
    let parts: Vec<Component> = rel.components().filter(|c| !matches!(c, Component::CurDir)).collect();
    let mut current: Option<rustix::fd::OwnedFd> = None;
    for (i, part) in parts.iter().enumerate() {
        let Component::Normal(name) = part else { return Err(ReadError::Outside) };
        let at = current.as_ref().unwrap_or(dir);
        let last = i + 1 == parts.len();
        let step_flags =
            if last { flags | OFlags::NOFOLLOW } else { OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC };
        let fd = rustix::fs::openat(at, *name, step_flags, Mode::empty()).map_err(open_error)?;
        let kind = rustix::fs::fstat(&fd).map(|st| FileType::from_raw_mode(st.st_mode)).map_err(open_error)?;
        if kind == FileType::Symlink {
            return Err(ReadError::Symlink);
        }
        if !last && kind != FileType::Directory {
            return Err(ReadError::NotFound);
        }
        current = Some(fd);
    }
    match current {
        Some(fd) => Ok(fd),
        None => rustix::fs::openat(dir, ".", flags, Mode::empty()).map_err(open_error),
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

fn kind_of(mode: rustix::fs::RawMode) -> Kind {
    use rustix::fs::FileType;
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    }
}

impl Files for Disk {
    fn real_path(&self, path: &Path) -> Result<PathBuf, ReadError> {
        self.resolve(path)
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<(String, Kind)>> {
        use rustix::fs::{AtFlags, FileType, OFlags};
        let fd = self
            .open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NONBLOCK)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()))?;
        let mut out = Vec::new();
        // The stream owns the descriptor (read_from would reopen it: two more calls).
        let mut dir = rustix::fs::Dir::new(fd)?;
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::RegularFile => Kind::File,
                FileType::Directory => Kind::Dir,
                FileType::Symlink => Kind::Symlink,
                FileType::Unknown => rustix::fs::statat(dir.fd()?, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| kind_of(st.st_mode))
                    .unwrap_or(Kind::Other),
                _ => Kind::Other,
            };
            // Names that are not UTF-8 cannot be image folders or pin files
            // anyone refers to; they are listed lossily and never match.
            out.push((String::from_utf8_lossy(name).into_owned(), kind));
        }
        out.sort();
        Ok(out)
    }

    fn read(&self, path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
        use rustix::fs::OFlags;
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        let fd = self.open(path, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let file = std::fs::File::from(fd);
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
        self.open(path, rustix::fs::OFlags::PATH)
            .ok()
            .and_then(|fd| rustix::fs::fstat(&fd).ok())
            .is_some_and(|st| st.st_mode & 0o111 != 0)
    }

    fn kind(&self, path: &Path) -> Option<Kind> {
        let fd = self.open(path, rustix::fs::OFlags::PATH).ok()?;
        let st = rustix::fs::fstat(&fd).ok()?;
        Some(match kind_of(st.st_mode) {
            Kind::Symlink => return None,
            k => k,
        })
    }
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

    /// The path relative to the root, when no symlink is on the way (the
    /// same rule as [`Disk`]: a revision is read as files and folders only).
    fn resolve(&self, path: &Path) -> Result<String, ReadError> {
        let rel = self.rel(&normalize(path)).ok_or(ReadError::Outside)?;
        let symlink = |r: &str| matches!(self.files.get(r), Some(MemEntry::Symlink(_)));
        if rel.match_indices('/').any(|(i, _)| symlink(&rel[..i])) || symlink(&rel) {
            return Err(ReadError::Symlink);
        }
        Ok(rel)
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
            Some(MemEntry::Symlink(_)) => Err(ReadError::Symlink),
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
        // A symlink that stays inside is not followed either (issue 18: the
        // repository is read as files and folders; it was followed before).
        assert_eq!(disk.read(&repo.join("img/alias"), 100), Err(ReadError::Symlink));
        assert_eq!(disk.read(&repo.join("img/real"), 100).unwrap(), b"inside");
        assert_eq!(disk.read(&repo.join("img/../../etc/passwd"), 100), Err(ReadError::Outside));
        // A symlinked folder on the way is refused by the kernel.
        std::os::unix::fs::symlink(&outside, repo.join("out")).unwrap();
        assert_eq!(disk.read(&repo.join("out/token"), 100), Err(ReadError::Outside));
        assert_eq!(disk.kind(&repo.join("out/token")), None);
        assert_eq!(disk.kind(&repo.join("img")), Some(Kind::Dir));
        assert_eq!(disk.kind(&repo.join("img/real")), Some(Kind::File));
        assert_eq!(disk.kind(&fifo), Some(Kind::Other));
        assert!(disk.real_path(&repo.join("img/./real")).is_ok());
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
        assert_eq!(m.read(Path::new("/repo/dockerfiles/a/changelog"), 10).unwrap(), b"x");
        // Symlinks are not followed, inside or out (as on disk).
        assert_eq!(m.read(Path::new("/repo/dockerfiles/a/link"), 10), Err(ReadError::Symlink));
        assert_eq!(m.read(Path::new("/repo/dockerfiles/a/out"), 10), Err(ReadError::Symlink));
        assert_eq!(m.read(Path::new("/repo/../etc/passwd"), 10), Err(ReadError::Outside));
        assert_eq!(m.read(Path::new("/repo/dockerfiles/b"), 10), Err(ReadError::NotAFile));
        assert_eq!(m.kind(Path::new("/repo/dockerfiles/b/sub")), Some(Kind::Dir));
    }
}
