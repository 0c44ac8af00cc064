//! Following the files: `serve` polls a fingerprint of every file under the
//! repository's catalog roots, pin paths and `dockyard.toml` (size, mtime,
//! inode) twice a second. On a change, after a quiet period, it loads a new
//! snapshot off the async workers and swaps it in whole. A change that
//! breaks a file (a YAML file that no longer parses, a config that cannot
//! be read) keeps the last good snapshot and reports the error with its
//! file and line.
//!
//! Polling over inotify: no dependency, nothing to miss on editors' atomic
//! renames, and a fingerprint of the Wikimedia repository (about 500 files)
//! takes well under a millisecond.
//!
//! Two invariants keep a change from being missed:
//! - the fingerprint a watch starts from is taken *before* the snapshot it
//!   guards is loaded (`serve` takes it first, and [`follow`] is given it),
//!   so a write between the load and the first poll is a difference;
//! - a file's mtime ticks coarsely (a kernel clock tick, milliseconds), so a
//!   same-size write in the tick a fingerprint was taken leaves size, mtime
//!   and inode alike. As git does for its index ("racy git"), a file
//!   modified within [`RACY`] of the fingerprint also carries a hash of its
//!   contents, and two entries differ when both have a hash and the hashes
//!   differ. A look reads at most [`MAX_HASHED_BYTES_PER_LOOK`] for hashes
//!   (files past it are compared by metadata alone), so a patch of many
//!   large fresh files costs a bounded read per poll.

use super::Service;
use dockyard_api::Problem;
use dockyard_core::files::Files;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often files are looked at, and how long they must be quiet.
pub const POLL: Duration = Duration::from_millis(400);
pub const QUIET: Duration = Duration::from_millis(200);
/// Entries a fingerprint looks at before it gives up on the rest.
const MAX_ENTRIES: usize = 200_000;
/// Files modified this recently also carry a hash of their contents.
pub const RACY: Duration = Duration::from_secs(2);
/// Files larger than this are never hashed (a catalog file is far smaller).
const MAX_HASHED_BYTES: u64 = 4 << 20;
/// Bytes one look reads for hashes, all files together.
pub const MAX_HASHED_BYTES_PER_LOOK: u64 = 64 << 20;

/// One look at the files: how they are read, when, and what is left of
/// the look's hashing budget.
struct Look<'a> {
    files: &'a dyn Files,
    /// Nanoseconds since the epoch.
    now: i128,
    hash_budget: u64,
}

/// What a fingerprint knows of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub size: u64,
    /// Nanoseconds since the epoch.
    pub mtime: i128,
    pub inode: u64,
    /// A hash of the contents, for files modified within [`RACY`].
    pub hash: Option<u64>,
}

impl Entry {
    fn of(look: &mut Look, path: &Path, meta: &std::fs::Metadata) -> Entry {
        let mtime = meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128;
        let racy = look.now - mtime < RACY.as_nanos() as i128;
        let size = meta.len();
        let hash = if racy && size <= MAX_HASHED_BYTES.min(look.hash_budget) {
            look.hash_budget -= size;
            hash_file(look.files, path)
        } else {
            None
        };
        Entry { size, mtime, inode: meta.ino(), hash }
    }

    /// Whether two looks at a file saw the same file.
    fn same(&self, other: &Entry) -> bool {
        let metadata = (self.size, self.mtime, self.inode) == (other.size, other.mtime, other.inode);
        let contents = match (self.hash, other.hash) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        metadata && contents
    }
}

/// Through the repository's file access: never a FIFO (which would wait
/// for a writer), a device, or a symlink out of the repository.
fn hash_file(files: &dyn Files, path: &Path) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let bytes = files.read(path, MAX_HASHED_BYTES).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

/// What a fingerprint knows of every file.
pub type Fingerprint = BTreeMap<PathBuf, Entry>;

const MISSING: Entry = Entry { size: 0, mtime: 0, inode: 0, hash: None };

fn walk(look: &mut Look, dir: &Path, depth: usize, out: &mut Fingerprint) {
    if depth > dockyard_core::limits::MAX_SCAN_DEPTH || out.len() >= MAX_ENTRIES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            walk(look, &path, depth + 1, out);
        } else {
            let entry = Entry::of(look, &path, &meta);
            out.insert(path, entry);
        }
        if out.len() >= MAX_ENTRIES {
            return;
        }
    }
}

/// The fingerprint of everything a snapshot reads.
pub fn fingerprint(service: &Service) -> Fingerprint {
    let repo = &service.repo;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
    let mut look = Look { files: repo.files.as_ref(), now, hash_budget: MAX_HASHED_BYTES_PER_LOOK };
    let mut out = Fingerprint::new();
    let mut add = |p: &Path, out: &mut Fingerprint| match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => walk(&mut look, p, 0, out),
        Ok(m) => {
            out.insert(p.to_owned(), Entry::of(&mut look, p, &m));
        }
        Err(_) => {
            out.insert(p.to_owned(), MISSING);
        }
    };
    for r in &repo.roots {
        add(&r.dir, &mut out);
        add(&r.config, &mut out);
    }
    for p in &repo.pin_paths {
        add(p, &mut out);
    }
    add(&repo.root.join(super::repo::FILE_NAME), &mut out);
    out
}

/// Paths whose entry differs between two fingerprints.
pub fn changed(old: &Fingerprint, new: &Fingerprint) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        new.iter().filter(|(p, v)| !old.get(*p).is_some_and(|o| o.same(v))).map(|(p, _)| p.clone()).collect();
    out.extend(old.keys().filter(|p| !new.contains_key(*p)).cloned());
    out
}

/// A YAML file under the pin paths that no longer parses.
fn broken_yaml(service: &Service, paths: &[PathBuf]) -> Option<Problem> {
    let repo = &service.repo;
    for p in paths {
        let is_yaml = p.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !is_yaml || !repo.pin_paths.iter().any(|pp| p.starts_with(pp)) {
            continue;
        }
        let Ok(text) = repo.files.read_text(p, dockyard_core::limits::MAX_PIN_FILE_BYTES) else { continue };
        if let Err(e) = dockyard_core::yaml::load(&text) {
            return Some(Problem {
                file: Some(repo.shown(p)),
                line: Some(e.line),
                message: format!("YAML syntax error: {}; showing the last good state", e.message),
            });
        }
    }
    None
}

/// Loads and checks a new snapshot after `paths` changed; swaps it in, or
/// keeps the current one and records why.
pub fn reload(service: &Service, paths: &[PathBuf]) {
    if let Some(problem) = broken_yaml(service, paths) {
        tracing::warn!("not reloading: {problem}");
        service.set_pending_error(problem);
        return;
    }
    match service.load_snapshot() {
        Ok(s) => {
            s.warm();
            let generation = s.generation;
            if service.publish(Arc::new(s)) {
                tracing::info!(generation, files = paths.len(), "reloaded");
            } else {
                tracing::info!(generation, "a newer snapshot was current already; dropped this one");
            }
        }
        Err(d) => {
            let mut problem = d.to_problem();
            problem.message.push_str("; showing the last good state");
            tracing::warn!("not reloading: {problem}");
            service.set_pending_error(problem);
        }
    }
}

/// Follows the files until the runtime stops, from `seen`: the fingerprint
/// taken before the current snapshot was loaded.
pub async fn follow(service: Arc<Service>, seen: Fingerprint) {
    let mut last = seen;
    loop {
        tokio::time::sleep(POLL).await;
        let s = service.clone();
        let Ok(now) = tokio::task::spawn_blocking(move || fingerprint(&s)).await else { continue };
        if changed(&last, &now).is_empty() {
            continue;
        }
        // Wait for the writer to finish: quiet for QUIET.
        let mut settled = now;
        loop {
            tokio::time::sleep(QUIET).await;
            let s = service.clone();
            let Ok(again) = tokio::task::spawn_blocking(move || fingerprint(&s)).await else { break };
            if changed(&settled, &again).is_empty() {
                break;
            }
            settled = again;
        }
        let paths = changed(&last, &settled);
        last = settled;
        let s = service.clone();
        let _ = tokio::task::spawn_blocking(move || reload(&s, &paths)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{RepoConfig, RepoFlags};

    fn repo(pin: &str) -> (tempfile::TempDir, Arc<Service>) {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("dockerfiles/config.yaml", "registry: reg.example\nnamespace: ci\n");
        write("dockerfiles/base/Dockerfile.template", "FROM scratch\n");
        write(
            "dockerfiles/base/changelog",
            "base (2.0) wikimedia; urgency=medium\n\n  * x\n\n -- A <a@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n\n\
             base (1.0) wikimedia; urgency=medium\n\n  * x\n\n -- A <a@example.org>  Sun, 31 Dec 2023 00:00:00 +0000\n",
        );
        write("jjb/jobs.yaml", &format!("- job:\n    image: reg.example/ci/base:{pin}\n"));
        let flags = RepoFlags { repo: Some(dir.path().to_owned()), ..Default::default() };
        let service = Service::new(RepoConfig::resolve(&flags).unwrap());
        (dir, service)
    }

    fn stale(service: &Service) -> usize {
        let snapshot = service.snapshot().unwrap();
        let lint = snapshot.lint().unwrap();
        lint.report.summary.by_status.get(&dockyard_api::Status::Stale).copied().unwrap_or(0)
    }

    /// A write after the first load and before the watch's first look was
    /// missed for good: the watch took its first fingerprint itself, after
    /// the write (CI run on a5403f8).
    #[test]
    fn a_write_between_the_first_load_and_the_first_poll_is_seen() {
        let (dir, service) = repo("2.0");
        let seen = fingerprint(&service);
        assert_eq!(stale(&service), 0);
        let g0 = service.snapshot().unwrap().generation;
        std::fs::write(dir.path().join("jjb/jobs.yaml"), "- job:\n    image: reg.example/ci/base:1.0\n").unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async {
            let watch = tokio::spawn(follow(service.clone(), seen));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while service.snapshot().unwrap().generation == g0 {
                assert!(tokio::time::Instant::now() < deadline, "the write was never seen");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            watch.abort();
        });
        assert_eq!(stale(&service), 1, "the new snapshot has the new pin");
    }

    /// A same-size write in the clock tick of a fingerprint leaves size,
    /// mtime and inode alike; the contents tell it apart.
    #[test]
    fn a_same_size_write_with_the_same_mtime_is_a_change() {
        let (dir, service) = repo("2.0");
        let file = dir.path().join("jjb/jobs.yaml");
        let before = fingerprint(&service);
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::fs::write(&file, "- job:\n    image: reg.example/ci/base:1.0\n").unwrap();
        let f = std::fs::File::options().write(true).open(&file).unwrap();
        f.set_times(std::fs::FileTimes::new().set_modified(mtime)).unwrap();
        drop(f);
        let after = fingerprint(&service);
        let (a, b) = (before[&file], after[&file]);
        assert_eq!((a.size, a.mtime, a.inode), (b.size, b.mtime, b.inode), "the metadata cannot tell");
        assert_eq!(changed(&before, &after), vec![file.clone()]);
        // An old file carries no hash, and one look without a hash is no change.
        let old = Entry { hash: None, ..b };
        assert!(old.same(&b) && b.same(&old));
    }

    /// The watch and the registry refresh load concurrently. A load that
    /// started earlier (older files, older registry knowledge) and finished
    /// last took the place of the newer one, until the next change.
    #[test]
    fn an_older_load_that_finishes_last_does_not_replace_a_newer_one() {
        let (_dir, service) = repo("2.0");
        let older = Arc::new(service.load_snapshot().unwrap());
        let newer = Arc::new(service.load_snapshot().unwrap());
        assert!(service.publish(newer.clone()));
        assert!(!service.publish(older));
        assert_eq!(service.snapshot().unwrap().generation, newer.generation);
        // A broken file seen after a load started: that load does not clear it.
        let started_before = Arc::new(service.load_snapshot().unwrap());
        let problem = Problem { file: Some("jjb/jobs.yaml".into()), line: Some(3), message: "broken".into() };
        service.set_pending_error(problem.clone());
        assert!(service.publish(started_before));
        assert_eq!(service.pending_error(), Some(problem), "the files are still broken");
        let started_after = Arc::new(service.load_snapshot().unwrap());
        assert!(service.publish(started_after));
        assert_eq!(service.pending_error(), None);
    }

    /// A patch of many large fresh files: one look reads a bounded amount
    /// for hashes, and files past the budget are compared by metadata.
    #[test]
    fn one_look_hashes_a_bounded_number_of_bytes() {
        let (dir, service) = repo("2.0");
        let big = dir.path().join("dockerfiles/base/context");
        std::fs::create_dir_all(&big).unwrap();
        let n = MAX_HASHED_BYTES_PER_LOOK / MAX_HASHED_BYTES + 4;
        for i in 0..n {
            // Sparse: the size is real, the disk is not spent.
            std::fs::File::create(big.join(format!("blob{i}"))).unwrap().set_len(MAX_HASHED_BYTES).unwrap();
        }
        let look = fingerprint(&service);
        let hashed: u64 = look.values().filter(|e| e.hash.is_some()).map(|e| e.size).sum();
        assert!(hashed <= MAX_HASHED_BYTES_PER_LOOK, "{hashed} bytes hashed");
        assert!(
            look.iter().any(|(p, e)| p.starts_with(&big) && e.hash.is_some()),
            "fresh files within the budget are hashed"
        );
        assert!(look.iter().any(|(p, e)| p.starts_with(&big) && e.hash.is_none()), "and past it they are not");
    }
}
