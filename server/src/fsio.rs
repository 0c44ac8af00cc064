//! Writing files so that nothing is ever half-written and no planted file
//! is followed: a temporary file with an unpredictable name in the same
//! folder, created exclusively (`O_EXCL`) without following symlinks,
//! written and synced, given the old file's permissions, renamed over the
//! target, and the folder synced.

use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const O_NOFOLLOW: i32 = 0o400000;

/// 64 unpredictable bits (SipHash keyed from the OS's randomness).
fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    h.finish()
}

/// A temporary file written and synced beside its target, not yet renamed.
struct Staged {
    tmp: PathBuf,
    target: PathBuf,
}

impl Staged {
    /// Writes `contents` to a new temporary file in `path`'s folder, with
    /// `mode` (else the old file's permissions, 0644 for a new file).
    fn new(path: &Path, contents: &[u8], mode: Option<u32>) -> std::io::Result<Staged> {
        use std::os::unix::fs::PermissionsExt;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let perms = match (mode, std::fs::symlink_metadata(path)) {
            (Some(m), _) => std::fs::Permissions::from_mode(m),
            (None, Ok(meta)) if meta.is_file() => std::fs::Permissions::from_mode(meta.permissions().mode() & 0o7777),
            _ => std::fs::Permissions::from_mode(0o644),
        };
        let (tmp, mut file) = {
            let mut attempt = 0;
            loop {
                let tmp = dir.join(format!(".{name}.dockyard-{:016x}.tmp", random()));
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(O_NOFOLLOW)
                    .open(&tmp)
                {
                    Ok(f) => break (tmp, f),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
                    Err(e) => return Err(e),
                }
            }
        };
        let written = (|| {
            file.write_all(contents)?;
            file.set_permissions(perms)?;
            file.sync_all()
        })();
        match written {
            Ok(()) => Ok(Staged { tmp, target: path.to_owned() }),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Renames it over the target and syncs the folder.
    fn commit(&self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.target)?;
        let dir = self.target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::File::open(dir)?.sync_all()
    }

    fn discard(&self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Replaces `path` with `contents` atomically. `mode` sets the permissions;
/// without it the old file's are kept (0644 for a new file).
pub fn atomic_write(path: &Path, contents: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let staged = Staged::new(path, contents, mode)?;
    staged.commit().inspect_err(|_| staged.discard())
}

/// The real path of `path` (its folder resolved), when that folder is
/// inside `boundary` (not through a symlinked folder leading out).
fn inside(boundary: &Path, path: &Path) -> std::io::Result<PathBuf> {
    let outside = || std::io::Error::new(std::io::ErrorKind::PermissionDenied, "outside the repository: not written");
    let dir = path.parent().ok_or_else(outside)?;
    let real_dir = dir.canonicalize()?;
    let real_boundary = boundary.canonicalize()?;
    if !real_dir.starts_with(&real_boundary) {
        return Err(outside());
    }
    Ok(real_dir.join(path.file_name().ok_or_else(outside)?))
}

/// Like [`atomic_write`], for a file that must be inside `boundary`: a path
/// whose folder resolves outside it (through a symlinked folder) is refused.
pub fn atomic_write_inside(boundary: &Path, path: &Path, contents: &[u8]) -> std::io::Result<PathBuf> {
    let target = inside(boundary, path)?;
    // A symlink at the target is replaced, never written through.
    atomic_write(&target, contents, None)?;
    Ok(target)
}

/// One file of a write of several: its path, its new contents, and the
/// contents it holds now (put back if a later file cannot be written).
pub struct Replace<'a> {
    pub path: &'a Path,
    pub contents: &'a [u8],
    pub original: &'a [u8],
}

/// Writes every file or none, each inside `boundary`. All are first staged
/// as synced temporary files beside their targets (a failure there removes
/// them all and changes nothing); then each is renamed over its target,
/// and a rename that fails puts the originals of those already replaced
/// back. Returns the real paths written.
pub fn write_all_inside(boundary: &Path, files: &[Replace<'_>]) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
    let mut staged: Vec<Staged> = Vec::with_capacity(files.len());
    for f in files {
        let result = inside(boundary, f.path).and_then(|target| Staged::new(&target, f.contents, None));
        match result {
            Ok(s) => staged.push(s),
            Err(e) => {
                staged.iter().for_each(Staged::discard);
                return Err((f.path.to_owned(), e));
            }
        }
    }
    for (i, s) in staged.iter().enumerate() {
        if let Err(e) = s.commit() {
            staged[i..].iter().for_each(Staged::discard);
            for (done, f) in staged[..i].iter().zip(files) {
                let _ = atomic_write(&done.target, f.original, None);
            }
            return Err((files[i].path.to_owned(), e));
        }
    }
    Ok(staged.into_iter().map(|s| s.target).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keeps_mode_and_never_follows_planted_links() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "secret").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let target = dir.path().join("out.sh");
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        // Plant links at every name a predictable writer might use.
        std::os::unix::fs::symlink(&victim, dir.path().join(format!(".out.sh.dockyard-{}.tmp", std::process::id())))
            .unwrap();
        atomic_write(&target, b"new", None).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
        assert_eq!(std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp") && !e.path().is_symlink())
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn refuses_to_write_through_a_symlinked_folder() {
        let repo = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), repo.path().join("jjb")).unwrap();
        let err = atomic_write_inside(repo.path(), &repo.path().join("jjb/x.yaml"), b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }

    #[test]
    fn several_files_are_written_all_or_none() {
        let repo = tempfile::tempdir().unwrap();
        let (a, b) = (repo.path().join("a.yaml"), repo.path().join("sub/b.yaml"));
        std::fs::create_dir_all(repo.path().join("sub")).unwrap();
        std::fs::write(&a, "a1").unwrap();
        std::fs::write(&b, "b1").unwrap();
        // The second cannot be staged (its folder is read-only): neither changes.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(repo.path().join("sub"), std::fs::Permissions::from_mode(0o500)).unwrap();
        let files = [
            Replace { path: &a, contents: b"a2", original: b"a1" },
            Replace { path: &b, contents: b"b2", original: b"b1" },
        ];
        let refused = write_all_inside(repo.path(), &files);
        let as_root = refused.is_ok();
        std::fs::set_permissions(repo.path().join("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
        if !as_root {
            assert_eq!(std::fs::read_to_string(&a).unwrap(), "a1");
            assert_eq!(std::fs::read_to_string(&b).unwrap(), "b1");
        }
        // A file outside the repository refuses the whole write.
        let outside = tempfile::tempdir().unwrap();
        let o = outside.path().join("o.yaml");
        std::fs::write(&o, "o1").unwrap();
        std::fs::write(&a, "a1").unwrap();
        let files = [
            Replace { path: &a, contents: b"a3", original: b"a1" },
            Replace { path: &o, contents: b"o3", original: b"o1" },
        ];
        assert!(write_all_inside(repo.path(), &files).is_err());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "a1");
        assert_eq!(std::fs::read_to_string(&o).unwrap(), "o1");
        let leftovers = std::fs::read_dir(repo.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
    }
}
