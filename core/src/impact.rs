//! What a change to the catalog will do once merged: for every image,
//! whether it is bumped, changed without a bump (so never built), changed
//! only outside what goes into it, left on an old parent, added or removed;
//! and the pins the change makes wait for a build or leaves dangling.
//!
//! Pure: both revisions come in loaded (catalogs with their file trees,
//! renders, graphs, lints); the caller reads them from git or the work tree.

use crate::catalog::{Catalog, Image};
use crate::context::{context_files, copy_sources, takes};
use crate::files::{Files, Kind};
use crate::graph::Graph;
use crate::lint::{LintReport, Published};
use crate::ops::RenderReport;
use dockyard_api::{Change, ImpactImage, ImpactPin, PinImpact, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One revision, loaded.
pub struct Side<'a> {
    pub catalogs: &'a [Catalog],
    pub render: &'a RenderReport,
    pub graph: &'a Graph,
    pub lint: Option<&'a LintReport>,
}

impl Side<'_> {
    fn image(&self, name: &str) -> Option<(&Catalog, &Image)> {
        self.catalogs.iter().find_map(|c| c.images.iter().find(|i| i.name == name && i.error.is_none()).map(|i| (c, i)))
    }

    /// The load error of an image that is in the catalog but does not load.
    fn error(&self, name: &str) -> Option<String> {
        self.catalogs
            .iter()
            .find_map(|c| c.images.iter().find(|i| i.name == name).and_then(|i| i.error.as_ref()))
            .map(|e| e.to_string())
    }

    fn names(&self) -> BTreeSet<String> {
        self.render.images.keys().cloned().collect()
    }

    fn version(&self, name: &str) -> Option<String> {
        self.render.images.get(name).and_then(|i| i.version.clone())
    }

    fn dockerfile(&self, name: &str) -> Option<&str> {
        self.render.images.get(name).and_then(|i| i.dockerfile.as_deref())
    }
}

/// The largest file compared byte for byte (larger ones compare by size).
const MAX_COMPARED: u64 = 16 << 20;

/// Every file under `dir` (relative, slash-separated) with its contents.
fn folder(files: &dyn Files, dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(files: &dyn Files, dir: &Path, prefix: &str, depth: usize, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        if depth > crate::limits::MAX_SCAN_DEPTH || out.len() > crate::limits::MAX_CONTEXT_FILES {
            return;
        }
        for (name, kind) in files.list(dir).unwrap_or_default() {
            let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            match kind {
                Kind::Dir => walk(files, &dir.join(&name), &rel, depth + 1, out),
                _ => {
                    out.insert(rel, files.read(&dir.join(&name), MAX_COMPARED).ok());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(files, dir, "", 0, &mut out);
    out
}

/// Context files of a folder that a Dockerfile's COPY/ADD take in.
fn taken(files: &dyn Files, dir: &Path, dockerfile: Option<&str>) -> BTreeSet<String> {
    let Some(df) = dockerfile else { return BTreeSet::new() };
    let sources = copy_sources(df);
    let Ok((ctx, _)) = context_files(files, dir, dir) else { return BTreeSet::new() };
    ctx.into_iter().map(|f| f.rel).filter(|rel| sources.iter().any(|s| takes(&s.pattern, rel))).collect()
}

/// Classifies every image of either side, worst first, and the pins.
pub fn impact(
    base: &Side<'_>,
    head: &Side<'_>,
    registry: Option<&dyn Published>,
) -> (Vec<ImpactImage>, Vec<ImpactPin>, Vec<String>) {
    let all: BTreeSet<String> = base.names().union(&head.names()).cloned().collect();
    let mut images: BTreeMap<String, ImpactImage> = BTreeMap::new();
    // Configs that changed (they change every render of their root).
    let mut changed_configs = Vec::new();
    for c in head.catalogs {
        let b = base.catalogs.iter().find(|b| b.root == c.root);
        let text = |cat: &Catalog| cat.files.read(&cat.config.path, crate::limits::MAX_CONFIG_BYTES).ok();
        if b.is_none_or(|b| text(b) != text(c)) {
            changed_configs.push(c.display_root.join("config.yaml").display().to_string());
        }
    }
    let bumped: BTreeSet<String> = all
        .iter()
        .filter(|n| base.version(n).is_some() && head.version(n).is_some() && base.version(n) != head.version(n))
        .cloned()
        .collect();
    for name in &all {
        let (b, h) = (base.image(name), head.image(name));
        let entry = |change, files: Vec<String>| ImpactImage {
            name: name.clone(),
            change,
            base_version: base.version(name),
            head_version: head.version(name),
            files,
            bumped_ancestors: Vec::new(),
            unbuilt_parents: Vec::new(),
            published_differs: None,
        };
        let folder_of = |side: &Side<'_>, cat: &Catalog, img: &Image| {
            let _ = side;
            cat.display_root.join(&img.rel_dir).display().to_string()
        };
        // At the head its files do not load: broken, with the error, never
        // "removed" (it is still there).
        if h.is_none()
            && let Some(error) = head.error(name)
        {
            images.insert(name.clone(), entry(Change::Broken, vec![error]));
            continue;
        }
        let (Some((bc, bi)), Some((hc, hi))) = (b, h) else {
            let e = match (b, h) {
                (None, Some((hc, hi))) => entry(Change::Added, vec![folder_of(head, hc, hi)]),
                (Some((bc, bi)), None) => entry(Change::Removed, vec![folder_of(base, bc, bi)]),
                _ => {
                    // Present but unreadable on a side: say so on the side that has it.
                    let v = if head.render.images.contains_key(name) { Change::Added } else { Change::Removed };
                    entry(v, Vec::new())
                }
            };
            images.insert(name.clone(), e);
            continue;
        };
        let shown = |rel: &str| hc.display_root.join(&hi.rel_dir).join(rel).display().to_string();
        let (bf, hf) = (folder(bc.files.as_ref(), &bi.dir), folder(hc.files.as_ref(), &hi.dir));
        let changed: BTreeSet<&String> = bf.keys().chain(hf.keys()).filter(|k| bf.get(*k) != hf.get(*k)).collect();
        if bumped.contains(name) {
            images.insert(name.clone(), entry(Change::Bumped, changed.iter().map(|r| shown(r)).collect()));
            continue;
        }
        // The rendered Dockerfile, with bumped parents' new labels read as
        // their old ones (a parent bump alone is a stale parent, not a change).
        let (bd, hd) = (base.dockerfile(name), head.dockerfile(name));
        let normalized = hd.map(|d| {
            let mut d = d.to_owned();
            for p in head.graph.parents.get(name).into_iter().flat_map(|p| p.keys()).filter(|p| bumped.contains(*p)) {
                let (Some(old), Some(new)) = (
                    base.render.images.get(p).and_then(|i| i.label.clone()),
                    head.render.images.get(p).and_then(|i| i.label.clone()),
                ) else {
                    continue;
                };
                d = d.replace(&new, &old);
            }
            d
        });
        let dockerfile_changed = normalized.as_deref() != bd;
        let taken_files: BTreeSet<String> =
            taken(hc.files.as_ref(), &hi.dir, hd).union(&taken(bc.files.as_ref(), &bi.dir, bd)).cloned().collect();
        let into_image: Vec<String> = changed.iter().filter(|r| taken_files.contains(**r)).map(|r| shown(r)).collect();
        if dockerfile_changed || !into_image.is_empty() {
            let mut files = Vec::new();
            if dockerfile_changed {
                // The template renders differently (never the rendered
                // Dockerfile's path: that file does not exist).
                files.push(shown("Dockerfile.template"));
                files.extend(
                    changed
                        .iter()
                        .filter(|r| r.starts_with("Dockerfile") || r.ends_with(".j2") || !taken_files.contains(**r))
                        .map(|r| shown(r)),
                );
                files.extend(changed_configs.iter().cloned());
            }
            files.extend(into_image);
            files.sort();
            files.dedup();
            images.insert(name.clone(), entry(Change::Unbumped, files));
        } else if !changed.is_empty() {
            images.insert(name.clone(), entry(Change::OutsideImage, changed.iter().map(|r| shown(r)).collect()));
        } else {
            let ancestors: Vec<String> =
                head.graph.ancestors(name).into_iter().filter(|a| bumped.contains(a)).collect();
            if ancestors.is_empty() {
                images.insert(name.clone(), entry(Change::Unchanged, Vec::new()));
            } else {
                let mut e = entry(Change::StaleParent, Vec::new());
                e.bumped_ancestors = ancestors;
                images.insert(name.clone(), e);
            }
        }
    }
    // New parents: in the head's graph, not the base's, neither bumped or
    // added by the change nor (by the registry) published at their version.
    if let Some(reg) = registry {
        for (name, img) in images.iter_mut() {
            let before: BTreeSet<String> =
                base.graph.parents.get(name).map(|p| p.keys().cloned().collect()).unwrap_or_default();
            for parent in
                head.graph.parents.get(name).map(|p| p.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
            {
                if before.contains(&parent) || bumped.contains(&parent) || base.version(&parent).is_none() {
                    continue;
                }
                if let Some(v) = head.version(&parent)
                    && reg.is_published(&parent, &v) == Some(false)
                {
                    img.unbuilt_parents.push(format!("{parent}:{v}"));
                }
            }
        }
    }
    let mut out: Vec<ImpactImage> = images.into_values().filter(|i| i.change != Change::Unchanged).collect();
    out.sort_by(|a, b| a.change.rank().cmp(&b.change.rank()).then(a.name.cmp(&b.name)));

    // Pins this change writes or breaks.
    let mut pins = Vec::new();
    if let Some(hl) = head.lint {
        let before: BTreeMap<(String, String), usize> = base.lint.map_or_else(BTreeMap::new, |bl| {
            let mut m = BTreeMap::new();
            for f in &bl.findings {
                *m.entry((f.pin.file.clone(), f.pin.written.clone())).or_default() += 1;
            }
            m
        });
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for f in &hl.findings {
            let p = &f.pin;
            let key = (p.file.clone(), p.written.clone());
            let count = seen.entry(key.clone()).or_default();
            *count += 1;
            let changed_here = *count > before.get(&key).copied().unwrap_or(0);
            let removed = p.status == Status::NotInCatalog && base.image(&p.image).is_some();
            if removed {
                pins.push(ImpactPin {
                    file: p.file.clone(),
                    line: p.line,
                    image: p.image.clone(),
                    version: p.version.clone(),
                    impact: PinImpact::RemovedImage,
                    published: None,
                    error: true,
                });
                continue;
            }
            let introduced = bumped.contains(&p.image) && p.version == head.version(&p.image);
            if changed_here && introduced {
                pins.push(ImpactPin {
                    file: p.file.clone(),
                    line: p.line,
                    image: p.image.clone(),
                    version: p.version.clone(),
                    impact: PinImpact::UnpublishedUntilMerge,
                    published: registry.and_then(|r| r.is_published(&p.image, p.version.as_deref().unwrap_or(""))),
                    error: false,
                });
            }
        }
    }

    // One `update` per unbumped image that no other unbumped image is above.
    let unbumped: BTreeSet<&str> =
        out.iter().filter(|i| i.change == Change::Unbumped).map(|i| i.name.as_str()).collect();
    let commands = unbumped
        .iter()
        .filter(|n| !head.graph.ancestors(n).iter().any(|a| unbumped.contains(a.as_str())))
        .map(|n| {
            let first = out.iter().find(|i| i.name == *n).and_then(|i| i.files.first()).cloned().unwrap_or_default();
            let reason = format!("Rebuild for {first}");
            format!("dockyard update {n} --reason {}", shell_word(&reason))
        })
        .collect::<Vec<String>>();
    // A stale parent: one `update` per topmost stale image (its children
    // are bumped with it).
    let stale: BTreeSet<&str> =
        out.iter().filter(|i| i.change == Change::StaleParent).map(|i| i.name.as_str()).collect();
    let mut commands = commands;
    commands.extend(stale.iter().filter(|n| !head.graph.ancestors(n).iter().any(|a| stale.contains(a.as_str()))).map(
        |n| {
            let parents = out.iter().find(|i| i.name == *n).map(|i| i.bumped_ancestors.join(", ")).unwrap_or_default();
            let reason = format!("Rebuild on the new {parents}");
            format!("dockyard update {n} --reason {}", shell_word(&reason))
        },
    ));
    (out, pins, commands)
}

/// Files under a catalog root that changed between the sides and belong to
/// no image (`README.md`, `shared/`, …): a change there builds nothing.
pub fn unowned_changes(base: &Side<'_>, head: &Side<'_>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for c in head.catalogs {
        let b = base.catalogs.iter().find(|b| b.root == c.root);
        let image_dirs: BTreeSet<&str> = c
            .images
            .iter()
            .map(|i| i.rel_dir.as_str())
            .chain(b.into_iter().flat_map(|b| b.images.iter().map(|i| i.rel_dir.as_str())))
            .collect();
        let owned = |rel: &str| {
            rel == "config.yaml" || image_dirs.iter().any(|d| rel == *d || rel.starts_with(&format!("{d}/")))
        };
        let hf = folder(c.files.as_ref(), &c.root);
        let bf = b.map(|b| folder(b.files.as_ref(), &b.root)).unwrap_or_default();
        for rel in hf.keys().chain(bf.keys()) {
            if !owned(rel) && hf.get(rel) != bf.get(rel) {
                out.insert(c.display_root.join(rel).display().to_string());
            }
        }
    }
    out.into_iter().collect()
}

/// `s` quoted for a POSIX shell when it needs to be.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
