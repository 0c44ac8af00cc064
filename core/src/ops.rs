//! Operations over a loaded catalog that both the CLI and the server call, so
//! the two can never disagree: load a root, render every image, build the graph.

use crate::catalog::{Catalog, Rendered};
use crate::config::{self, Config};
use crate::diag::Diagnostic;
use crate::files::{Disk, Files, Kind, SharedFiles};
use crate::graph::{Graph, ImageDeps};
use crate::label::{image_name, split_tag_strict};
use crate::limits::{MAX_PIN_FILE_BYTES, MAX_PIN_FILES, MAX_SCAN_DEPTH};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One catalog root as the user names it: a config file and a directory.
#[derive(Debug, Clone)]
pub struct RootSpec {
    pub config: PathBuf,
    pub dir: PathBuf,
    /// How paths under `dir` are shown (relative to the repository);
    /// `dir` itself when `None`.
    pub display: Option<PathBuf>,
    /// The config was named on the command line: it is the user's own file
    /// and may live outside the repository.
    pub config_trusted: bool,
}

impl RootSpec {
    /// `DIR` with its config: the given one, else `DIR/config.yaml`.
    pub fn new(dir: PathBuf, config: Option<PathBuf>) -> Self {
        let config_trusted = config.is_some();
        let config = config.unwrap_or_else(|| dir.join("config.yaml"));
        RootSpec { config, dir, display: None, config_trusted }
    }

    /// The directory as shown in messages.
    pub fn display_dir(&self) -> &Path {
        self.display.as_deref().unwrap_or(&self.dir)
    }

    /// Reads the config (over the user-level file) and scans the directory,
    /// both through `files` (a config named on the command line is read
    /// from disk).
    pub fn load(&self, files: &SharedFiles) -> Result<Catalog, Diagnostic> {
        let user = config::user_config_path();
        let config = if self.config_trusted {
            Config::load(&Disk::unbounded(), &self.config, user.as_deref())?
        } else {
            Config::load(files.as_ref(), &self.config, user.as_deref())
                .map_err(|d| Diagnostic { file: self.shown(&d.file), ..d })?
        };
        Catalog::scan(files.clone(), &self.dir, self.display_dir(), config)
    }

    /// A path under `dir` as shown.
    fn shown(&self, path: &Path) -> PathBuf {
        match (&self.display, path.strip_prefix(&self.dir)) {
            (Some(d), Ok(rest)) => d.join(rest),
            _ => path.to_owned(),
        }
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
    /// The error with its file and line (not serialized).
    #[serde(skip)]
    pub diagnostic: Option<Diagnostic>,
    /// The catalog root as shown (not serialized).
    #[serde(skip)]
    pub root_display: String,
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

/// Stack of a render thread: minijinja recurses through nested macros and
/// includes, so it gets more than the default 2 MiB (only touched pages
/// cost memory).
const RENDER_STACK: usize = 64 << 20;

/// Renders every image of `catalog`; image errors stay with their image. A
/// render that panics is reported for its image, and the others keep their
/// own Dockerfiles.
pub fn render_catalog(catalog: &Catalog, root_label: Option<&str>, report: &mut RenderReport) {
    let rendered = render_all(catalog);
    for (image, r) in catalog.images.iter().zip(rendered) {
        let (dockerfile, diagnostic) = match r.dockerfile {
            Ok(text) => (Some(text), None),
            Err(d) => (None, Some(d)),
        };
        let entry = RenderedImage {
            error: diagnostic.as_ref().map(ToString::to_string),
            diagnostic,
            root_display: catalog.display_root.display().to_string(),
            depends: image.depends.iter().map(|d| d.name.clone()).collect(),
            dir: image.rel_dir.clone(),
            dockerfile,
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

/// One result per image of the catalog, in its order, rendered by up to four
/// threads that take the next image as they finish one.
pub fn render_all(catalog: &Catalog) -> Vec<Rendered> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let renderer = catalog.renderer();
    let n = catalog.images.len();
    let display_root = catalog.display_root.clone();
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Rendered>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let image = &catalog.images[i];
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                catalog.render(&renderer, image, &display_root)
            }))
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown panic");
                Rendered {
                    dockerfile: Err(Diagnostic::new(
                        display_root.join(&image.rel_dir).join(crate::render::TEMPLATE),
                        None,
                        format!("internal error while rendering (please report it): {msg}"),
                    )),
                    image_refs: vec![],
                }
            });
            *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(4).min(n);
    std::thread::scope(|scope| {
        let mut spawned = 0;
        for _ in 0..threads {
            if std::thread::Builder::new().stack_size(RENDER_STACK).spawn_scoped(scope, work).is_ok() {
                spawned += 1;
            }
        }
        if spawned == 0 {
            work();
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner().unwrap_or_else(|p| p.into_inner()).unwrap_or_else(|| Rendered {
                dockerfile: Err(Diagnostic::new(&display_root, None, "internal error: an image was not rendered")),
                image_refs: vec![],
            })
        })
        .collect()
}

/// Renders several loaded catalogs into one report, and collects the short
/// names of their base images (parents that live outside the catalogs).
pub fn render_catalogs(catalogs: &[Catalog]) -> (RenderReport, BTreeSet<String>) {
    let mut report = RenderReport::default();
    let mut bases = BTreeSet::new();
    let several = catalogs.len() > 1;
    for c in catalogs {
        let label = several.then(|| c.display_root.display().to_string());
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

/// The catalog as the API shows it: every image with its control parents,
/// its graph parents and children, and the problems of the catalog and graph.
pub fn catalog_report(report: &RenderReport, graph: &Graph) -> dockyard_api::CatalogReport {
    let children = graph.children();
    let images = report
        .images
        .iter()
        .map(|(name, img)| dockyard_api::CatalogImage {
            name: name.clone(),
            version: img.version.clone(),
            label: img.label.clone(),
            dir: img.dir.clone(),
            root: img.root_display.clone(),
            depends: img.depends.clone(),
            parents: graph.parents.get(name).map(|p| p.keys().cloned().collect()).unwrap_or_default(),
            children: children
                .get(name.as_str())
                .map(|c| c.iter().map(|s| (*s).to_owned()).collect())
                .unwrap_or_default(),
            error: img.diagnostic.as_ref().map(Diagnostic::to_problem),
        })
        .collect();
    let mut problems: Vec<dockyard_api::Problem> = report.errors.iter().map(Diagnostic::to_problem).collect();
    problems.extend(graph.problems.iter().map(|p| dockyard_api::Problem {
        file: None,
        line: None,
        message: p.to_string(),
    }));
    dockyard_api::CatalogReport {
        images,
        problems,
        warnings: report.warnings.iter().map(Diagnostic::to_problem).collect(),
    }
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
#[derive(Clone)]
pub struct PinRepo {
    pub root: PathBuf,
    pub files: SharedFiles,
    pub catalog: RootSpec,
    pub pin_paths: Vec<PathBuf>,
}

/// The text files under the pin paths, and the files that could not be read.
#[derive(Default)]
pub struct Sources {
    pub sources: Vec<crate::lint::Source>,
    /// Files too large, unreadable, past the file-count limit: each one is
    /// an error, and the other files are still linted.
    pub errors: Vec<Diagnostic>,
}

impl PinRepo {
    /// Reads every text file under the pin paths (in the order given, each
    /// folder's files sorted; hidden folders and binary files skipped;
    /// symlinked folders not entered; a file reached twice read once). A
    /// missing pin path is an error for the whole run.
    pub fn read_sources(&self) -> Result<Sources, Diagnostic> {
        let mut out = Sources::default();
        let mut files = Vec::new();
        for p in &self.pin_paths {
            match self.files.kind(p) {
                Some(Kind::Dir) => {
                    let mut found = Vec::new();
                    collect_files(self.files.as_ref(), p, 0, &mut found, &mut out.errors);
                    found.sort();
                    files.extend(found);
                }
                Some(_) => files.push(p.clone()),
                None => {
                    return Err(Diagnostic::new(
                        display_path(p, &self.root),
                        None,
                        "cannot read pin path: no such file or folder in the repository",
                    ));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for path in files {
            let display = display_path(&path, &self.root);
            let real = match self.files.real_path(&path) {
                Ok(r) => r,
                Err(e) => {
                    out.errors.push(Diagnostic::new(&display, None, format!("cannot read: {e}")));
                    continue;
                }
            };
            if !seen.insert(real.clone()) {
                continue;
            }
            if out.sources.len() >= MAX_PIN_FILES {
                out.errors.push(Diagnostic::new(
                    &display,
                    None,
                    format!("more than {MAX_PIN_FILES} files under the pin paths: this one and the rest are not read"),
                ));
                break;
            }
            let bytes = match self.files.read(&path, MAX_PIN_FILE_BYTES) {
                Ok(b) => b,
                Err(e) => {
                    out.errors.push(Diagnostic::new(&display, None, format!("cannot read: {e}")));
                    continue;
                }
            };
            if bytes[..bytes.len().min(8192)].contains(&0) {
                continue;
            }
            let Ok(text) = String::from_utf8(bytes) else { continue };
            out.sources.push(crate::lint::Source { display, path: real, text });
        }
        Ok(out)
    }
}

fn collect_files(files: &dyn Files, dir: &Path, depth: usize, out: &mut Vec<PathBuf>, errors: &mut Vec<Diagnostic>) {
    let entries = match files.list(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(Diagnostic::new(dir, None, format!("cannot scan: {e}")));
            return;
        }
    };
    for (name, kind) in entries {
        if name.starts_with('.') {
            continue;
        }
        let path = dir.join(&name);
        match kind {
            Kind::Dir if depth < MAX_SCAN_DEPTH => collect_files(files, &path, depth + 1, out, errors),
            Kind::Dir => {
                errors.push(Diagnostic::new(&path, None, format!("nested deeper than {MAX_SCAN_DEPTH}: not scanned")))
            }
            // A symlink to a file is read (if it stays inside the repository);
            // a symlinked folder is not entered.
            Kind::File => out.push(path),
            Kind::Symlink if files.kind(&path) == Some(Kind::File) => out.push(path),
            Kind::Symlink | Kind::Other => {}
        }
        if out.len() > MAX_PIN_FILES {
            return;
        }
    }
}
