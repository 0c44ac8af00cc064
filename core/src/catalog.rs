//! The catalog: image folders found the way docker-pkg's `scan` finds them
//! (a folder with both `Dockerfile.template` and `changelog`, at any depth),
//! each image's name and version from the FIRST changelog entry, parents from
//! `control`, and rendering of every template against one config.

use crate::changelog;
use crate::config::Config;
use crate::control::{self, Dependency};
use crate::diag::Diagnostic;
use crate::files::{Kind, ReadError, SharedFiles};
use crate::label::image_name;
use crate::limits::{MAX_CHANGELOG_BYTES, MAX_CONTROL_BYTES, MAX_IMAGES, MAX_SCAN_DEPTH};
use crate::render::{Renderer, TEMPLATE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One image folder.
#[derive(Debug, Clone)]
pub struct Image {
    /// Short name from the first changelog entry (the folder name when the
    /// changelog is unreadable).
    pub name: String,
    /// Version from the first changelog entry.
    pub version: Option<String>,
    /// The folder, and the folder relative to the catalog root (`.` for the root).
    pub dir: PathBuf,
    pub rel_dir: String,
    /// Parents declared in `control`.
    pub depends: Vec<Dependency>,
    /// Why this image cannot be used (broken changelog or control).
    pub error: Option<Diagnostic>,
}

impl Image {
    /// `registry/namespace/name:version`, when the version is known.
    pub fn label(&self, config: &Config) -> Option<String> {
        let version = self.version.as_ref()?;
        Some(format!("{}:{version}", image_name(&config.registry(), &config.namespace(), &self.name)))
    }

    /// Path of a file in this image's folder as shown to users.
    pub fn display_file(&self, root_display: &Path, file: &str) -> PathBuf {
        root_display.join(&self.rel_dir).join(file)
    }

    /// The changelog's text (read on demand, within its size limit).
    pub fn changelog_text(&self, files: &SharedFiles) -> Result<String, Diagnostic> {
        let path = self.dir.join("changelog");
        files
            .read_text(&path, MAX_CHANGELOG_BYTES)
            .map_err(|e| Diagnostic::new(&path, None, format!("cannot read: {e}")))
    }

    /// Every version named in the changelog, leniently.
    pub fn versions(&self, files: &SharedFiles) -> Result<Vec<String>, Diagnostic> {
        Ok(changelog::versions(&self.changelog_text(files)?))
    }

    /// Every entry in the full changelog history.
    pub fn history(&self, files: &SharedFiles) -> Result<Vec<changelog::Entry>, Diagnostic> {
        let path = self.dir.join("changelog");
        changelog::parse(&self.changelog_text(files)?, &path)
    }
}

/// A catalog root: a directory of image folders and the config that governs it.
#[derive(Clone)]
pub struct Catalog {
    pub root: PathBuf,
    /// How `root` is shown in messages (relative to the repository).
    pub display_root: PathBuf,
    /// The tree it was read from (the work tree, or a git revision).
    pub files: SharedFiles,
    pub config: Config,
    /// Images sorted by folder.
    pub images: Vec<Image>,
    /// Folders with one of the two required files but not the other.
    pub warnings: Vec<Diagnostic>,
    /// Images defined twice (the later folder is ignored).
    pub errors: Vec<Diagnostic>,
}

/// The outcome of rendering one image.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub dockerfile: Result<String, Diagnostic>,
    /// Images the template named through `image_tag`, in order, except those
    /// that appear only in Dockerfile comment lines.
    pub image_refs: Vec<String>,
}

fn relative(root: &Path, dir: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(p) if p.as_os_str().is_empty() => ".".to_owned(),
        Ok(p) => p.to_string_lossy().into_owned(),
        Err(_) => dir.to_string_lossy().into_owned(),
    }
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("root", &self.root).field("images", &self.images.len()).finish()
    }
}

/// One folder found by the scan: whether it has a template and a changelog.
struct Found {
    dir: PathBuf,
    template: bool,
    changelog: bool,
}

/// docker-pkg's `os.walk`: every folder at any depth (symlinked folders are
/// not entered, as `os.walk` does not follow them), within [`MAX_SCAN_DEPTH`].
fn walk(files: &SharedFiles, dir: &Path, depth: usize, out: &mut Vec<Found>, errors: &mut Vec<Diagnostic>) {
    let entries = match files.list(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(Diagnostic::new(dir, None, format!("cannot scan: {e}")));
            return;
        }
    };
    let (mut template, mut changelog) = (false, false);
    let mut subdirs = Vec::new();
    for (name, kind) in entries {
        match kind {
            Kind::Dir => subdirs.push(dir.join(&name)),
            // A FIFO or device by these names is found too (as `os.walk`
            // finds it), so that reading it reports "not a regular file".
            Kind::File | Kind::Symlink | Kind::Other => match name.as_str() {
                TEMPLATE => template = true,
                "changelog" => changelog = true,
                _ => {}
            },
        }
    }
    if template || changelog {
        out.push(Found { dir: dir.to_owned(), template, changelog });
    }
    if depth >= MAX_SCAN_DEPTH {
        if !subdirs.is_empty() {
            errors.push(Diagnostic::new(
                dir,
                None,
                format!("folders nested deeper than {MAX_SCAN_DEPTH}: not scanned"),
            ));
        }
        return;
    }
    for sub in subdirs {
        walk(files, &sub, depth + 1, out, errors);
    }
}

fn read_error(path: &Path, e: ReadError) -> Diagnostic {
    Diagnostic::new(path, None, format!("cannot read: {e}"))
}

fn load_image(files: &SharedFiles, root: &Path, dir: PathBuf, display_root: &Path) -> Image {
    let rel_dir = relative(root, &dir);
    let shown = display_root.join(&rel_dir);
    let fallback = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut image = Image { name: fallback, version: None, dir, rel_dir, depends: vec![], error: None };
    let changelog_path = shown.join("changelog");
    match files.read_text(&image.dir.join("changelog"), MAX_CHANGELOG_BYTES) {
        Err(e) => image.error = Some(read_error(&changelog_path, e)),
        Ok(text) => match changelog::parse_head(&text, &changelog_path) {
            Ok(entry) => {
                image.name = entry.name;
                image.version = Some(entry.version);
            }
            Err(d) => image.error = Some(d),
        },
    }
    match files.read_text(&image.dir.join("control"), MAX_CONTROL_BYTES) {
        Ok(text) => match control::parse_depends(&text, &shown.join("control")) {
            Ok(deps) => image.depends = deps,
            Err(d) => {
                image.error.get_or_insert(d);
            }
        },
        Err(ReadError::NotFound) => {}
        Err(e) => {
            image.error.get_or_insert(read_error(&shown.join("control"), e));
        }
    }
    image
}

impl Catalog {
    /// Scans `root`. Paths in diagnostics are shown relative to `display_root`
    /// (usually the directory as the user named it). Only an unreadable root
    /// is an error; broken images carry their own error.
    pub fn scan(files: SharedFiles, root: &Path, display_root: &Path, config: Config) -> Result<Catalog, Diagnostic> {
        files.list(root).map_err(|e| Diagnostic::new(display_root, None, format!("cannot scan: {e}")))?;
        let (mut warnings, mut errors) = (Vec::new(), Vec::new());
        let mut found = Vec::new();
        walk(&files, root, 0, &mut found, &mut errors);
        if found.len() > MAX_IMAGES {
            errors.push(Diagnostic::new(
                display_root,
                None,
                format!("more than {MAX_IMAGES} image folders: only the first {MAX_IMAGES} are read"),
            ));
            found.truncate(MAX_IMAGES);
        }
        let mut images: Vec<Image> = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for Found { dir, template, changelog } in found {
            let shown = display_root.join(relative(root, &dir));
            if !template {
                warnings.push(Diagnostic::new(&shown, None, format!("ignored: has a changelog but no {TEMPLATE}")));
                continue;
            }
            if !changelog {
                warnings.push(Diagnostic::new(&shown, None, format!("ignored: has a {TEMPLATE} but no changelog")));
                continue;
            }
            let image = load_image(&files, root, dir, display_root);
            if image.error.is_none() {
                if let Some(first) = seen.get(&image.name) {
                    errors.push(Diagnostic::new(
                        shown.join("changelog"),
                        Some(1),
                        format!("image `{}` is already defined in {first}; this folder is ignored", image.name),
                    ));
                    continue;
                }
                seen.insert(image.name.clone(), image.rel_dir.clone());
            }
            images.push(image);
        }
        Ok(Catalog {
            root: root.to_owned(),
            display_root: display_root.to_owned(),
            files,
            config,
            images,
            warnings,
            errors,
        })
    }

    /// Full labels of every loadable image plus `base_images`: what
    /// `image_tag` can resolve.
    pub fn known_images(&self) -> Vec<String> {
        let mut known = self.config.base_images();
        known.extend(self.images.iter().filter_map(|i| i.label(&self.config)));
        known
    }

    pub fn get(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name && i.error.is_none())
    }

    /// A renderer for this catalog's config and known images.
    pub fn renderer(&self) -> Renderer {
        Renderer::new(&self.config, self.known_images())
            .with_broken(self.images.iter().filter(|i| i.error.is_some()).map(|i| i.name.as_str()))
    }

    /// A renderer for a nightly or snapshot build: the catalog's images are
    /// known with `suffix` appended to their tags (docker-pkg's
    /// `-YYYYMMDD`), base images as they are.
    pub fn renderer_with_suffix(&self, suffix: &str) -> Renderer {
        let mut known = self.config.base_images();
        known.extend(self.images.iter().filter_map(|i| i.label(&self.config)).map(|l| format!("{l}{suffix}")));
        Renderer::new(&self.config, known)
            .with_broken(self.images.iter().filter(|i| i.error.is_some()).map(|i| i.name.as_str()))
    }

    /// Renders one image; a load error short-circuits.
    pub fn render(&self, renderer: &Renderer, image: &Image, display_root: &Path) -> Rendered {
        if let Some(err) = &image.error {
            return Rendered { dockerfile: Err(err.clone()), image_refs: vec![] };
        }
        // A fault no real input can produce, for the test that a panicking
        // render is reported for its image alone (debug builds only).
        if cfg!(debug_assertions) && std::env::var("DOCKYARD_FAULT_RENDER_PANIC").is_ok_and(|n| n == image.name) {
            panic!("injected fault for {}", image.name);
        }
        let (dockerfile, mut image_refs) =
            renderer.render_tracking(&self.files, &image.dir, &display_root.join(&image.rel_dir));
        if let Ok(text) = &dockerfile {
            // A reference that lands only in Dockerfile comments (`#FROM ...`)
            // is no build dependency.
            let (registry, namespace) = (self.config.registry(), self.config.namespace());
            image_refs.retain(|short| {
                let needle = format!("{}:", image_name(&registry, &namespace, short));
                text.lines().any(|l| l.contains(&needle) && !l.trim_start().starts_with('#'))
            });
        }
        Rendered { dockerfile, image_refs }
    }
}
