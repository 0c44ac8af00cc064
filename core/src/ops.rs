//! Operations over a loaded catalog that both the CLI and the server call, so
//! the two can never disagree: load a root, render every image, build the graph.

use crate::catalog::Catalog;
use crate::config::{self, Config};
use crate::diag::Diagnostic;
use crate::graph::{Graph, ImageDeps};
use crate::label::{image_name, split_tag_strict};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One catalog root as the user names it: a config file and a directory.
#[derive(Debug, Clone)]
pub struct RootSpec {
    pub config: PathBuf,
    pub dir: PathBuf,
}

impl RootSpec {
    /// `DIR` with its config: the given one, else `DIR/config.yaml`.
    pub fn new(dir: PathBuf, config: Option<PathBuf>) -> Self {
        let config = config.unwrap_or_else(|| dir.join("config.yaml"));
        RootSpec { config, dir }
    }

    /// Reads the config (over the user-level file) and scans the directory.
    pub fn load(&self) -> Result<Catalog, Diagnostic> {
        let user = config::user_config_path();
        let config = Config::load(&self.config, user.as_deref())?;
        Catalog::scan(&self.dir, &self.dir, config)
    }
}

/// The rendering of one image, in the schema of docker-pkg oracle files.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RenderedImage {
    pub depends: Vec<String>,
    pub dir: String,
    pub dockerfile: Option<String>,
    pub error: Option<String>,
    pub label: Option<String>,
    /// The catalog root, when several are rendered together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// Images the template named through `image_tag` (not serialized).
    #[serde(skip)]
    pub image_refs: Vec<String>,
    /// The first changelog entry's version (not serialized: the oracle schema
    /// has it inside `label`).
    #[serde(skip)]
    pub version: Option<String>,
}

/// Every image of every root, keyed by short name.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RenderReport {
    pub images: BTreeMap<String, RenderedImage>,
    /// Catalog-level problems (images defined twice, unreadable roots).
    #[serde(skip)]
    pub errors: Vec<Diagnostic>,
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
}

impl RenderReport {
    /// True when any image or root failed.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.images.values().any(|i| i.error.is_some())
    }
}

/// Renders every image of `catalog`; image errors stay with their image.
pub fn render_catalog(catalog: &Catalog, root_label: Option<&str>, report: &mut RenderReport) {
    let renderer = catalog.renderer();
    let rendered: Vec<_> = std::thread::scope(|scope| {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        let chunk = catalog.images.len().div_ceil(threads).max(1);
        let handles: Vec<_> = catalog
            .images
            .chunks(chunk)
            .map(|images| {
                let renderer = renderer.clone();
                scope.spawn(move || {
                    images.iter().map(|i| catalog.render(&renderer, i, &catalog.root)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    for (image, r) in catalog.images.iter().zip(rendered) {
        let (dockerfile, error) = match r.dockerfile {
            Ok(text) => (Some(text), None),
            Err(d) => (None, Some(d.to_string())),
        };
        let entry = RenderedImage {
            depends: image.depends.iter().map(|d| d.name.clone()).collect(),
            dir: image.rel_dir.clone(),
            dockerfile,
            error,
            label: image.label(&catalog.config),
            root: root_label.map(str::to_owned),
            image_refs: r.image_refs,
            version: image.version.clone(),
        };
        if let Some(previous) = report.images.get(&image.name) {
            report.errors.push(Diagnostic::new(
                catalog.root.join(&image.rel_dir),
                None,
                format!(
                    "image `{}` is also defined in {}",
                    image.name,
                    previous.root.as_deref().unwrap_or("another root")
                ),
            ));
            continue;
        }
        report.images.insert(image.name.clone(), entry);
    }
    report.errors.extend(catalog.errors.iter().cloned());
    report.warnings.extend(catalog.warnings.iter().cloned());
}

/// Renders several loaded catalogs into one report, and collects the short
/// names of their base images (parents that live outside the catalogs).
pub fn render_catalogs(catalogs: &[Catalog]) -> (RenderReport, BTreeSet<String>) {
    let mut report = RenderReport::default();
    let mut bases = BTreeSet::new();
    let several = catalogs.len() > 1;
    for c in catalogs {
        let label = several.then(|| c.root.display().to_string());
        render_catalog(c, label.as_deref(), &mut report);
        bases.extend(base_short_names(&c.config));
    }
    (report, bases)
}

/// The dependency graph of a rendered report. `base_images` of each root's
/// config count as known parents outside the catalog.
pub fn graph(report: &RenderReport, base_names: &BTreeSet<String>) -> Graph {
    Graph::build(
        report.images.iter().map(|(name, img)| ImageDeps {
            name,
            control: img.depends.iter().map(String::as_str).collect(),
            template: img.image_refs.iter().map(String::as_str).collect(),
        }),
        base_names,
    )
}

/// Short names of a config's `base_images` (the part after `registry/namespace/`,
/// or the last path segment).
pub fn base_short_names(config: &Config) -> BTreeSet<String> {
    let prefix = image_name(&config.registry(), &config.namespace(), "");
    config
        .base_images()
        .iter()
        .filter_map(|label| split_tag_strict(label).map(|(n, _)| n).or(Some(label.as_str())))
        .map(|name| name.strip_prefix(&prefix).unwrap_or_else(|| name.rsplit('/').next().unwrap_or(name)).to_owned())
        .collect()
}

/// A path shown relative to `base` when under it.
pub fn display_path(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

/// Where `dockyard lint` and `pull-script` look: a repository holding the
/// catalog and the pin paths.
#[derive(Debug, Clone)]
pub struct PinRepo {
    pub root: PathBuf,
    pub catalog: RootSpec,
    pub pin_paths: Vec<PathBuf>,
}

impl PinRepo {
    /// `root/dockerfiles` (with its `config.yaml`) unless overridden; pins
    /// in `root/jjb` (when it exists, or when no other pin path is given)
    /// and in `extra_pins`.
    pub fn new(root: PathBuf, catalog: Option<PathBuf>, config: Option<PathBuf>, extra_pins: Vec<PathBuf>) -> Self {
        let catalog_dir = catalog.unwrap_or_else(|| root.join("dockerfiles"));
        let default = root.join("jjb");
        let mut pin_paths = Vec::new();
        if extra_pins.is_empty() || default.is_dir() {
            pin_paths.push(default);
        }
        pin_paths.extend(extra_pins);
        PinRepo { catalog: RootSpec::new(catalog_dir, config), pin_paths, root }
    }

    /// Reads every text file under the pin paths (in the order given, each
    /// folder's files sorted; hidden folders and binary files skipped). A missing pin path is an error.
    pub fn read_sources(&self) -> Result<Vec<crate::lint::Source>, Diagnostic> {
        // Pin paths in the order given, each one's files sorted.
        let mut files = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in &self.pin_paths {
            let meta =
                std::fs::metadata(p).map_err(|e| Diagnostic::new(p, None, format!("cannot read pin path: {e}")))?;
            let mut found = Vec::new();
            if meta.is_dir() {
                collect_files(p, &mut found).map_err(|e| Diagnostic::new(p, None, format!("cannot scan: {e}")))?;
            } else {
                found.push(p.clone());
            }
            found.sort();
            files.extend(found.into_iter().filter(|f| seen.insert(f.clone())));
        }
        let mut sources = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|e| Diagnostic::new(&path, None, format!("cannot read: {e}")))?;
            if bytes[..bytes.len().min(8192)].contains(&0) {
                continue;
            }
            let Ok(text) = String::from_utf8(bytes) else { continue };
            let display = display_path(&path, &self.root);
            sources.push(crate::lint::Source { display, path, text });
        }
        Ok(sources)
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type()?;
        if ft.is_dir() {
            collect_files(&entry.path(), out)?;
        } else if ft.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}
