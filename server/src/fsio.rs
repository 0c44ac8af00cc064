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

/// Replaces `path` with `contents` atomically. `mode` sets the permissions;
/// without it the old file's are kept (0644 for a new file).
pub fn atomic_write(path: &Path, contents: &[u8], mode: Option<u32>) -> std::io::Result<()> {
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
    let result = (|| {
        file.write_all(contents)?;
        file.set_permissions(perms)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Like [`atomic_write`], for a file that must be inside `boundary`: a path
/// whose folder resolves outside it (through a symlinked folder) is refused.
pub fn atomic_write_inside(boundary: &Path, path: &Path, contents: &[u8]) -> std::io::Result<PathBuf> {
    let outside = || std::io::Error::new(std::io::ErrorKind::PermissionDenied, "outside the repository: not written");
    let dir = path.parent().ok_or_else(outside)?;
    let real_dir = dir.canonicalize()?;
    let real_boundary = boundary.canonicalize()?;
    if !real_dir.starts_with(&real_boundary) {
        return Err(outside());
    }
    let target = real_dir.join(path.file_name().ok_or_else(outside)?);
    // A symlink at the target is replaced, never written through.
    atomic_write(&target, contents, None)?;
    Ok(target)
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
}
