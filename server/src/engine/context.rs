//! The build context as a tar: the image folder's files (minus what
//! `.dockerignore` leaves out, with Docker's rules), plus the rendered
//! Dockerfile, with fixed owners and times so that the same folder gives the
//! same tar.

use dockyard_core::Diagnostic;
use dockyard_core::context::context_files;
use dockyard_core::files::Files;
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
    for f in &list {
        let bytes = files
            .read(&dir.join(&f.rel), MAX_CONTEXT_FILE_BYTES)
            .map_err(|e| Diagnostic::new(display.join(&f.rel), None, format!("cannot read: {e}")))?;
        add(&f.rel, &bytes, if f.executable { 0o755 } else { 0o644 })?;
    }
    add("Dockerfile", dockerfile.as_bytes(), 0o644)?;
    builder.into_inner().map_err(|e| Diagnostic::new(display, None, format!("cannot write the build context: {e}")))
}
