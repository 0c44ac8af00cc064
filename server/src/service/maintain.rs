//! Changes to the repository and the engine that are not builds: `update`
//! (changelog entries for an image and everything below it, and with
//! `--pins` the pins of the updated images) and `prune` (local tags other
//! than the current versions). The command line and any other shell call
//! these; they write all files of one operation or none
//! (`fsio::write_all_inside`).

use super::{Error, Kind, Service};
use crate::engine::Engine;
use crate::registry::RegistryOptions;
use dockyard_api::{BumpedPins, PruneReport, UpdateReport, UpdatedImage};
use std::sync::Arc;

/// What `update` is asked.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    pub name: String,
    pub reason: String,
    pub version: Option<String>,
    pub pins: bool,
}

/// The changelog signature, as docker-pkg makes it: `$DEBFULLNAME` and
/// `$DEBEMAIL`, else git's `user.name` and `user.email`, else the config's
/// fallbacks.
fn author(config: &dockyard_core::config::Config, root: &std::path::Path) -> String {
    let fallback = |key: &str| config.get(key).map(dockyard_core::pyfmt::py_str).unwrap_or_default();
    let (name, git_failed) = match std::env::var("DEBFULLNAME") {
        Ok(n) => (n, false),
        Err(_) => match crate::git::config_value(root, "user.name") {
            Some(n) => (n, false),
            None => (fallback("fallback_author"), true),
        },
    };
    let email = match std::env::var("DEBEMAIL") {
        Ok(e) => e,
        Err(_) if !git_failed => {
            crate::git::config_value(root, "user.email").unwrap_or_else(|| fallback("fallback_email"))
        }
        Err(_) => fallback("fallback_email"),
    };
    format!("{name} <{email}>")
}

impl Service {
    /// `dockyard update`: new changelog entries for `request.name` and every
    /// image below it, refused for a version the registry already has (by
    /// the stored index), written all or none; then, with `pins`, the pins
    /// of the updated images to their new versions (only to published
    /// versions when the registry is known).
    pub async fn update(
        self: &Arc<Self>,
        request: &UpdateRequest,
        registry: &RegistryOptions,
    ) -> Result<UpdateReport, Error> {
        let snapshot = self.snapshot()?;
        let first = snapshot.catalogs.first().ok_or_else(|| Error::invalid("no catalog"))?;
        let epoch =
            std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.parse().ok()).unwrap_or_else(crate::store::now);
        let who = dockyard_core::update::Author {
            signature: author(&first.config, &self.repo.root),
            date: dockyard_core::changelog::format_date(epoch),
        };
        let updates = dockyard_core::update::plan(
            &snapshot.catalogs,
            &snapshot.rendered().graph,
            &request.name,
            &request.reason,
            request.version.as_deref(),
            &who,
        )?;
        // A version the registry already has (by the stored index) is a tag
        // that would never be built again.
        if let Some(u) = updates.first()
            && request.version.is_some()
        {
            let offline = RegistryOptions { offline: true, ..self.repo.registry.clone() };
            if let Ok(reports) = self.refresh_registry(&offline, &Default::default()).await
                && let Some(entry) =
                    reports.iter().find_map(|r| r.index.get(&u.image).filter(|e| e.tags.contains(&u.new_version)))
            {
                let next = dockyard_core::changelog::next_version(&u.old_version, &first.config.update_id());
                return Err(Error::conflict(format!(
                    "{}:1: --version {} of {} is already published ({}){}: a changelog entry for it would never be built",
                    u.display.display(),
                    u.new_version,
                    u.image,
                    entry.repo,
                    next.map(|n| format!("; {n} would work")).unwrap_or_default()
                )));
            }
        }
        // All files, or none.
        self.write_all(updates.iter().map(|u| (&u.path, &u.contents, &u.original)), "; no changelog was changed")?;
        let mut report = UpdateReport {
            updated: updates
                .iter()
                .map(|u| UpdatedImage {
                    image: u.image.clone(),
                    old_version: u.old_version.clone(),
                    new_version: u.new_version.clone(),
                    changelog: u.display.display().to_string(),
                })
                .collect(),
            ..Default::default()
        };
        if request.pins {
            let names: std::collections::BTreeSet<String> = updates.iter().map(|u| u.image.clone()).collect();
            self.bump_pins(&names, registry, &mut report).await?;
        }
        Ok(report)
    }

    /// The pins of `names` to their images' current versions, all pin files
    /// or none; only to versions the registry holds when it is known (asked
    /// now, else what the store knows).
    async fn bump_pins(
        &self,
        names: &std::collections::BTreeSet<String>,
        registry: &RegistryOptions,
        report: &mut UpdateReport,
    ) -> Result<(), Error> {
        let known = match self.refresh_registry(registry, &Default::default()).await {
            Ok(_) => true,
            Err(e) => {
                let offline = RegistryOptions { offline: true, ..registry.clone() };
                let stored = self.refresh_registry(&offline, &Default::default()).await.is_ok()
                    && self.registry_knowledge().iter().any(|i| i.entries.iter().any(|e| e.fetched_at.is_some()));
                if !stored {
                    report.notes.push(format!("the registry is not known ({e}): pins are bumped without checking it"));
                }
                stored
            }
        };
        let snapshot = Arc::new(self.load_snapshot()?);
        let state = snapshot.lint().map_err(|d| Error::from(d.clone()))?;
        let mut lint = state.report.clone();
        lint.findings.retain(|f| names.contains(&f.pin.image));
        let knowledge = crate::registry::Knowledge(&snapshot.registry);
        let published = known.then_some(&knowledge as &dyn dockyard_core::lint::Published);
        let (fixes, skipped) = dockyard_core::lint::plan_fixes(&lint, &state.sources, published);
        self.write_all(fixes.iter().map(|f| (&f.path, &f.contents, &f.original)), "; no pin file was changed")?;
        report.pins = fixes.iter().map(|f| BumpedPins { file: f.display.clone(), count: f.fixed }).collect();
        report.waiting = skipped.iter().map(ToString::to_string).collect();
        Ok(())
    }

    /// `dockyard prune`: every local tag of a catalog image other than its
    /// current version (and `latest` on the current image), children first;
    /// `select` globs limit it, `dry_run` removes nothing. An engine that
    /// does not answer is one error, said once.
    pub async fn prune(&self, engine: &dyn Engine, select: &[String], dry_run: bool) -> Result<PruneReport, Error> {
        let snapshot = self.snapshot()?;
        engine.version().await.map_err(|e| Error::unavailable(format!("engine {}: {e}", engine.name())))?;
        let mut order = snapshot.rendered().graph.topo_order();
        order.reverse();
        let mut report = PruneReport { dry_run, ..Default::default() };
        for name in &order {
            let Some((catalog, image)) =
                snapshot.catalogs.iter().find_map(|c| c.images.iter().find(|i| &i.name == name).map(|i| (c, i)))
            else {
                continue;
            };
            let Some(label) = image.label(&catalog.config) else { continue };
            if !select.is_empty() && !select.iter().any(|g| dockyard_core::plan::fnmatch(g, &label)) {
                continue;
            }
            let repo = dockyard_core::label::split_tag(&label).0.to_owned();
            let current = match engine.inspect(&label).await {
                Ok(i) => i.map(|i| i.id),
                Err(e) => {
                    report.errors.push(e.to_string());
                    continue;
                }
            };
            let images = match engine.images(&repo).await {
                Ok(i) => i,
                Err(e) => {
                    report.errors.push(e.to_string());
                    continue;
                }
            };
            for img in images {
                for tag in img.tags.iter().filter(|t| t.starts_with(&format!("{repo}:"))) {
                    let keep = *tag == label || (tag.ends_with(":latest") && Some(&img.id) == current.as_ref());
                    if keep {
                        continue;
                    }
                    if dry_run {
                        report.removed.push(tag.clone());
                        continue;
                    }
                    match engine.remove(tag).await {
                        Ok(()) => report.removed.push(tag.clone()),
                        Err(e) => report.errors.push(e.to_string()),
                    }
                }
            }
        }
        Ok(report)
    }
}

impl Service {
    /// `lint --fix`: every stale pin to its image's current version (when
    /// `guarded`, only to versions the registry is known to have), all pin
    /// files or none; then what remains, as a lint by `fail_on` would count.
    pub fn fix_pins(&self, guarded: bool, fail_on: &[dockyard_api::Status]) -> Result<dockyard_api::FixReport, Error> {
        let snapshot = self.snapshot()?;
        let state = snapshot.lint().map_err(|d| Error::from(d.clone()))?;
        let knowledge = crate::registry::Knowledge(&snapshot.registry);
        let published = guarded.then_some(&knowledge as &dyn dockyard_core::lint::Published);
        let (fixes, skipped) = dockyard_core::lint::plan_fixes_known(&state.report, &state.sources, published);
        self.write_all(fixes.iter().map(|f| (&f.path, &f.contents, &f.original)), ": no file was changed")?;
        let mut report = dockyard_api::FixReport {
            fixed: fixes.iter().map(|f| BumpedPins { file: f.display.clone(), count: f.fixed }).collect(),
            skipped: skipped.iter().map(ToString::to_string).collect(),
            ..Default::default()
        };
        // What is left after the fix, as a lint would count it.
        match self.load_snapshot() {
            Ok(after) => match after.lint() {
                Ok(l) => report.remaining = l.report.failures(fail_on).count() + l.report.errors.len(),
                Err(d) => report.reload_error = Some(d.to_string()),
            },
            Err(d) => report.reload_error = Some(d.to_string()),
        }
        Ok(report)
    }
}

impl Service {
    /// Writes every `(path, contents, original)` inside the repository, or
    /// none (`fsio::write_all_inside`); the error names the file and says
    /// `nothing` (what was left unchanged).
    fn write_all<'a>(
        &self,
        files: impl Iterator<Item = (&'a std::path::PathBuf, &'a String, &'a String)>,
        nothing: &str,
    ) -> Result<(), Error> {
        let files: Vec<crate::fsio::Replace<'_>> = files
            .map(|(path, contents, original)| crate::fsio::Replace {
                path,
                contents: contents.as_bytes(),
                original: original.as_bytes(),
            })
            .collect();
        crate::fsio::write_all_inside(&self.repo.root, &files).map(|_| ()).map_err(|(path, e)| {
            // A link out of the repository is the repository's fault.
            let kind = if e.kind() == std::io::ErrorKind::PermissionDenied { Kind::Invalid } else { Kind::Internal };
            Error::new(kind, format!("{}: cannot write ({e}){nothing}", self.repo.shown(&path)))
        })
    }
}
