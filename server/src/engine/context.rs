//! The build context as a tar: the image folder's files (minus what
//! `.dockerignore` leaves out, with Docker's rules), plus the rendered
//! Dockerfile, with fixed owners and times so that the same folder gives the
//! same tar.
//!
//! The tar is made in memory, so its size is bounded: the files together
//! at most [`MAX_CONTEXT_BYTES`] (1 GiB), each read with what is left of
//! that budget; past it, the image fails with an error naming its folder.

use dockyard_core::Diagnostic;
use dockyard_core::context::context_files;
use dockyard_core::files::{Files, ReadError};
use dockyard_core::limits::MAX_CONTEXT_BYTES;
use std::path::Path;

/// The largest file put into a build context.
pub const MAX_CONTEXT_FILE_BYTES: u64 = 2 << 30;

/// The tar of `dir`'s build context with `dockerfile` as `Dockerfile`.
pub fn tar(files: &dyn Files, dir: &Path, display: &Path, dockerfile: &str) -> Result<Vec<u8>, Diagnostic> {
    let (list, _) = context_files(files, dir, display)?;
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8], mode: u32| -> Result<(), Diagnostic> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, bytes)
            .map_err(|e| Diagnostic::new(display.join(name), None, format!("cannot add to the build context: {e}")))
    };
    let mut left = MAX_CONTEXT_BYTES;
    for f in &list {
        let bytes = match files.read(&dir.join(&f.rel), MAX_CONTEXT_FILE_BYTES.min(left)) {
            Ok(b) => b,
            Err(ReadError::TooLarge(_)) if left < MAX_CONTEXT_FILE_BYTES => {
                return Err(Diagnostic::new(
                    display,
                    None,
                    format!(
                        "the build context is larger than {} MiB at {} (the limit: it is made in memory); leave \
                         large files out with .dockerignore",
                        MAX_CONTEXT_BYTES >> 20,
                        f.rel
                    ),
                ));
            }
            Err(e) => return Err(Diagnostic::new(display.join(&f.rel), None, format!("cannot read: {e}"))),
        };
        left -= bytes.len() as u64;
        add(&f.rel, &bytes, if f.executable { 0o755 } else { 0o644 })?;
    }
    add("Dockerfile", dockerfile.as_bytes(), 0o644)?;
    builder.into_inner().map_err(|e| Diagnostic::new(display, None, format!("cannot write the build context: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_past_its_limit_is_an_error_naming_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("small"), "x").unwrap();
        // Sparse: 1.5 GiB that takes no disk and is never read (its size says enough).
        let big = std::fs::File::create(dir.path().join("big.iso")).unwrap();
        big.set_len(MAX_CONTEXT_BYTES + (512 << 20)).unwrap();
        let disk = dockyard_core::files::Disk::new(dir.path());
        let err = tar(&disk, dir.path(), Path::new("dockerfiles/img"), "FROM scratch\n").unwrap_err();
        assert_eq!(err.file, Path::new("dockerfiles/img"));
        assert!(err.message.contains("larger than 1024 MiB at big.iso"), "{}", err.message);
        // Without it, the context is made.
        std::fs::remove_file(dir.path().join("big.iso")).unwrap();
        assert!(tar(&disk, dir.path(), Path::new("dockerfiles/img"), "FROM scratch\n").is_ok());
    }
}
