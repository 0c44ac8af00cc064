//! `impact`: the catalog at two revisions, read from git (the head may be
//! the work tree), loaded by the same code as every other command, and
//! compared.

use super::{RepoConfig, Service, Snapshot};
use dockyard_api::{ImpactReport, Problem};
use dockyard_core::files::SharedFiles;
use dockyard_core::impact::{Side, impact};
use std::path::PathBuf;
use std::sync::Arc;

impl Service {
    /// The repository at `rev`, as a snapshot read from git.
    fn snapshot_at(&self, rev: &str) -> Result<Snapshot, String> {
        let repo = &self.repo;
        let mut paths: Vec<PathBuf> = Vec::new();
        let rel = |p: &std::path::Path| p.strip_prefix(&repo.root).ok().map(|r| r.to_owned());
        for r in &repo.roots {
            paths.extend(rel(&r.dir));
            paths.extend(rel(&r.config));
        }
        paths.extend(repo.pin_paths.iter().filter_map(|p| rel(p)));
        if paths.is_empty() {
            return Err("no catalog root inside the repository".into());
        }
        let tree = crate::git::tree(&repo.root, rev, &paths)?;
        let files: SharedFiles = Arc::new(tree);
        let at = RepoConfig { files, ..repo.as_ref().clone() };
        Snapshot::load(Arc::new(at), 0, self.registry_knowledge()).map_err(|d| format!("at {rev}: {d}"))
    }

    /// What the change from `base` to `head` (default: the work tree) does.
    pub fn impact(&self, base: &str, head: Option<&str>) -> Result<ImpactReport, String> {
        let base_commit = crate::git::resolve(&self.repo.root, base)?;
        let base_snap = self.snapshot_at(&base_commit)?;
        let head_snap = match head {
            Some(h) => Arc::new(self.snapshot_at(&crate::git::resolve(&self.repo.root, h)?)?),
            None => self.snapshot().map_err(|d| d.to_string())?,
        };
        fn side(s: &Snapshot) -> Side<'_> {
            let r = s.rendered();
            Side { catalogs: &s.catalogs, render: &r.report, graph: &r.graph, lint: s.lint().ok().map(|l| &l.report) }
        }
        let knowledge = crate::registry::Knowledge(&head_snap.registry);
        let registry = (!head_snap.registry.is_empty()).then_some(&knowledge as &dyn dockyard_core::lint::Published);
        let (images, pins, update_commands) = impact(&side(&base_snap), &side(&head_snap), registry);
        let mut problems: Vec<Problem> = Vec::new();
        for (s, label) in [(&base_snap, base), (&*head_snap, head.unwrap_or("the work tree"))] {
            for e in &s.rendered().report.errors {
                let mut p = e.to_problem();
                p.message = format!("{} (at {label})", p.message);
                problems.push(p);
            }
            if let Err(d) = s.lint() {
                let mut p = d.to_problem();
                p.message = format!("{} (at {label})", p.message);
                problems.push(p);
            }
        }
        Ok(ImpactReport {
            base: base.to_owned(),
            head: head.unwrap_or("WORKTREE").to_owned(),
            images,
            pins,
            update_commands,
            problems,
        })
    }
}
