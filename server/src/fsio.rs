//! Writing files so that nothing is ever half-written: a temporary file in
//! the same directory, synced, given the old file's permissions, renamed over.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `contents` atomically.
pub fn atomic_write(path: &Path, contents: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.dockyard-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        let perms = match (mode, std::fs::metadata(path)) {
            (Some(m), _) => std::fs::Permissions::from_mode(m),
            (None, Ok(meta)) => meta.permissions(),
            (None, Err(_)) => std::fs::Permissions::from_mode(0o644),
        };
        std::fs::set_permissions(&tmp, perms)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
