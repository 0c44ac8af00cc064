//! `impact`: the catalog at two revisions, read from git (the head may be
//! the work tree), loaded by the same code as every other command, and
//! compared.

use super::error::Error;
use super::{RepoConfig, Service, Snapshot};
use dockyard_api::{ImpactReport, Problem};
use dockyard_core::files::SharedFiles;
use dockyard_core::impact::{Side, impact};
use std::path::PathBuf;
use std::sync::Arc;

/// Impact runs git and renders two revisions: a few at a time (the API's
/// impact and the image pages' "changed without a bump" share these).
pub static IMPACT_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

impl Service {
    /// The paths a revision is read under: every catalog root, its
    /// `config.yaml`, and the pin paths, relative to the repository.
    fn git_paths(&self) -> Result<Vec<PathBuf>, String> {
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
        Ok(paths)
    }

    /// A tree read from git at `rev`, as a snapshot.
    fn snapshot_of(&self, tree: dockyard_core::files::Memory, rev: &str) -> Result<Snapshot, String> {
        let files: SharedFiles = Arc::new(tree);
        let at = RepoConfig { files, ..self.repo.as_ref().clone() };
        Snapshot::load(Arc::new(at), 0, self.registry_knowledge()).map_err(|d| format!("at {rev}: {d}"))
    }

    /// What the change from `base` to `head` (default: the work tree) does.
    /// Revisions git does not have, or files that do not load at them, are
    /// invalid input.
    pub fn impact(&self, base: &str, head: Option<&str>) -> Result<ImpactReport, Error> {
        self.impact_with_head(base, head).map(|(r, _)| r)
    }

    /// [`Service::impact`] for the API: a few at a time (busy beyond), on
    /// the blocking pool, and git killed when the caller stops waiting (the
    /// returned future dropped: a client gone, or its deadline).
    pub async fn impact_bounded(self: &Arc<Self>, base: String, head: Option<String>) -> Result<ImpactReport, Error> {
        let Ok(_slot) = IMPACT_SLOTS.try_acquire() else {
            return Err(Error::unavailable("impact is busy; try again in a moment"));
        };
        let s = self.clone();
        let cancel = crate::git::Cancel::default();
        let _cancel_on_drop = cancel.on_drop();
        let work = move || crate::git::with_cancel(&cancel, || s.impact(&base, head.as_deref()));
        tokio::task::spawn_blocking(work).await.map_err(|e| Error::internal(e.to_string()))?
    }

    /// [`Service::impact`], with the head's snapshot.
    pub fn impact_with_head(&self, base: &str, head: Option<&str>) -> Result<(ImpactReport, Arc<Snapshot>), Error> {
        self.impact_inner(base, head).map_err(Error::invalid)
    }

    fn impact_inner(&self, base: &str, head: Option<&str>) -> Result<(ImpactReport, Arc<Snapshot>), String> {
        let paths = self.git_paths()?;
        let base_commit = crate::git::resolve(&self.repo.root, base)?;
        let head_commit = head.map(|h| crate::git::resolve(&self.repo.root, h)).transpose()?;
        let (base_snap, head_snap) = match (&head_commit, head) {
            (Some(hc), Some(h)) => {
                let mut trees = crate::git::trees(&self.repo.root, &[&base_commit, hc], &paths)?.into_iter();
                let (bt, ht) = (trees.next().unwrap_or_default(), trees.next().unwrap_or_default());
                (self.snapshot_of(bt, base)?, Arc::new(self.snapshot_of(ht, h)?))
            }
            _ => {
                let bt = crate::git::tree(&self.repo.root, &base_commit, &paths)?;
                (self.snapshot_of(bt, base)?, self.snapshot().map_err(|d| d.to_string())?)
            }
        };
        // Both sides render and lint at once (each renders on its own threads too).
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = base_snap.rendered();
                let _ = base_snap.lint();
            });
            let _ = head_snap.rendered();
            let _ = head_snap.lint();
        });
        fn side(s: &Snapshot) -> Side<'_> {
            let r = s.rendered();
            Side { catalogs: &s.catalogs, render: &r.report, graph: &r.graph, lint: s.lint().ok().map(|l| &l.report) }
        }
        let knowledge = crate::registry::Knowledge(&head_snap.registry);
        let registry = (!head_snap.registry.is_empty()).then_some(&knowledge as &dyn dockyard_core::lint::Published);
        let (images, pins, update_commands) = impact(&side(&base_snap), &side(&head_snap), registry);
        let unowned = dockyard_core::impact::unowned_changes(&side(&base_snap), &side(&head_snap));
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
        let report = ImpactReport {
            base: base.to_owned(),
            head: head.unwrap_or("WORKTREE").to_owned(),
            images,
            pins,
            update_commands,
            problems,
            unowned,
        };
        Ok((report, head_snap))
    }

    /// Two changes may give one version to different contents: the second
    /// is caught here when the registry already has the tag, by the labels
    /// of the published image (what it was built from, see
    /// `core::provenance`). Bumped and added images whose new version is
    /// published are compared; a difference is set on the image
    /// (`published_differs`) and fails the gate. Returns what could not be
    /// asked.
    pub async fn impact_published(
        &self,
        report: &mut ImpactReport,
        head: &Snapshot,
        registry: &crate::registry::RegistryOptions,
    ) -> Vec<String> {
        use dockyard_api::Change;
        let mut notes = Vec::new();
        let store = self.store().ok();
        let rendered = head.rendered();
        for item in report.images.iter_mut().filter(|i| matches!(i.change, Change::Bumped | Change::Added)) {
            let Some(version) = item.head_version.clone() else { continue };
            let Some((ci, catalog)) =
                head.catalogs.iter().enumerate().find(|(_, c)| c.images.iter().any(|i| i.name == item.name))
            else {
                continue;
            };
            let published = head.registry.iter().any(|k| k.get(&item.name).is_some_and(|e| e.tags.contains(&version)));
            let Some(image) = catalog.images.iter().find(|i| i.name == item.name) else { continue };
            let Some(dockerfile) = rendered.report.images.get(&item.name).and_then(|r| r.dockerfile.clone()) else {
                continue;
            };
            if !published {
                continue;
            }
            let Ok(client) = crate::registry::client_for(&head.catalogs[ci], registry) else { continue };
            let host = catalog.config.registry();
            let Some(label) = image.label(&catalog.config) else { continue };
            let repo = dockyard_core::label::split_tag(&label).0.to_owned();
            let path = repo.strip_prefix(&format!("{host}/")).unwrap_or(&repo).to_owned();
            let facts = crate::registry::manifests::tag_facts(
                &client,
                store.as_ref(),
                &host,
                &path,
                &version,
                registry.max_age as i64,
            )
            .await;
            let facts = match facts {
                Ok(Some(f)) => f,
                Ok(None) => continue,
                Err(e) => {
                    notes.push(format!("{}: what the registry's {version} was built from is unknown: {e}", item.name));
                    continue;
                }
            };
            let (files, dir, display) =
                (catalog.files.clone(), image.dir.clone(), catalog.display_root.join(&image.rel_dir));
            let df = dockerfile.clone();
            let context = tokio::task::spawn_blocking(move || {
                crate::engine::context::tar(files.as_ref(), &dir, &display, &df).ok().map(|t| crate::sha::digest(&t))
            })
            .await
            .ok()
            .flatten();
            if let Some(why) = dockyard_core::provenance::differs(
                &facts.labels,
                &crate::sha::digest(dockerfile.as_bytes()),
                context.as_deref(),
                &Default::default(),
            ) {
                item.published_differs = Some(format!(
                    "{version} is already published, {why}: this change needs another version (dockyard update {})",
                    item.name
                ));
            }
        }
        notes
    }
}
