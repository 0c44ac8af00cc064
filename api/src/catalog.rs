//! The catalog and its dependency graph: `dockyard catalog|graph --format
//! json`, `GET /api/v1/catalog`, `GET /api/v1/graph`, `GET /api/v1/images/NAME`.

use crate::Problem;
use serde::{Deserialize, Serialize};

/// One image of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogImage {
    pub name: String,
    /// The first changelog entry's version.
    pub version: Option<String>,
    /// `registry/namespace/name:version`.
    pub label: Option<String>,
    /// The folder relative to its catalog root.
    pub dir: String,
    /// The catalog root, relative to the repository.
    pub root: String,
    /// Parents named in `control` (`Build-Depends`, `Depends`).
    pub depends: Vec<String>,
    /// Parents in the dependency graph (control and `image_tag` use).
    pub parents: Vec<String>,
    /// Images whose parent this one is.
    pub children: Vec<String>,
    /// Why the image cannot be used or rendered, naming file and line.
    pub error: Option<Problem>,
}

/// `dockyard catalog --format json` and `GET /api/v1/catalog`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CatalogReport {
    /// Sorted by name.
    pub images: Vec<CatalogImage>,
    /// Catalog-level errors (images defined twice, unreadable roots) and
    /// graph problems (disagreements, unknown parents, cycles).
    pub problems: Vec<Problem>,
    /// Folders with one of the two required files but not the other.
    pub warnings: Vec<Problem>,
}

/// Where a dependency edge comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeSource {
    /// Named in `control` and used through `image_tag`.
    Both,
    /// Only in `control`.
    Control,
    /// Only through `image_tag` in the template.
    Template,
}

/// A dependency edge: `child` is built `FROM` (or on) `parent`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GraphEdge {
    pub parent: String,
    pub child: String,
    pub source: EdgeSource,
}

/// A problem in the graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GraphProblem {
    /// `control` names a parent the template does not use.
    ControlOnly { image: String, parent: String },
    /// The template uses an image that `control` does not name.
    TemplateOnly { image: String, parent: String },
    /// A parent that is not in the catalog (nor a base image).
    UnknownParent { image: String, parent: String },
    /// A dependency cycle, first image repeated at the end.
    Cycle { images: Vec<String> },
}

impl std::fmt::Display for GraphProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphProblem::ControlOnly { image, parent } => write!(
                f,
                "{image}: control depends on `{parent}` but the template does not use `\"{parent}\" | image_tag`"
            ),
            GraphProblem::TemplateOnly { image, parent } => {
                write!(f, "{image}: the template uses `\"{parent}\" | image_tag` but control does not depend on it")
            }
            GraphProblem::UnknownParent { image, parent } => {
                write!(f, "{image}: parent `{parent}` is not in the catalog")
            }
            GraphProblem::Cycle { images } => write!(f, "dependency cycle: {}", images.join(" -> ")),
        }
    }
}

/// `dockyard graph --format json` and `GET /api/v1/graph`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GraphReport {
    /// Every image, sorted.
    pub nodes: Vec<String>,
    /// Sorted by child, then parent.
    pub edges: Vec<GraphEdge>,
    pub problems: Vec<GraphProblem>,
}

/// One changelog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangelogEntry {
    pub version: String,
    pub author: Option<String>,
    pub date: Option<String>,
    pub changes: String,
}

/// `GET /api/v1/images/NAME`: everything the image page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageDetail {
    pub image: CatalogImage,
    /// The rendered Dockerfile (`None` when it does not render; see `image.error`).
    pub dockerfile: Option<String>,
    pub changelog: Vec<ChangelogEntry>,
    /// Every ancestor and descendant, for the graph highlight.
    pub ancestors: Vec<String>,
    pub descendants: Vec<String>,
    /// Pins of this image.
    pub pins: Vec<crate::Pin>,
    /// Registry knowledge, when an index exists.
    pub registry: Option<crate::RegistryEntry>,
    /// Recent builds of this image.
    pub builds: Vec<crate::ImageBuild>,
    /// True when the work tree changes what goes into the image without a
    /// changelog bump (from `impact` against HEAD).
    pub unbumped: Option<bool>,
    /// Compressed size of each published version whose manifest is known
    /// (read by `cleanup`, `sizes` or the server), so growth is visible.
    #[serde(default)]
    pub sizes: std::collections::BTreeMap<String, u64>,
    /// Why the builds cannot be read now (the store is away): shown instead
    /// of "no builds".
    #[serde(default)]
    pub builds_error: Option<String>,
    /// Why the changelog's history cannot be read past its first entry (a
    /// malformed later header, with its file and line): shown instead of an
    /// empty history.
    #[serde(default)]
    pub changelog_error: Option<String>,
}

/// One node of a laid-out graph (SVG user units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayoutNode {
    pub name: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub layer: usize,
}

/// One edge, as an SVG path from the parent's bottom to the child's top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutEdge {
    pub parent: String,
    pub child: String,
    pub path: String,
}

/// The graph laid out in layers, parents above children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GraphLayout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<LayoutNode>,
    pub edges: Vec<LayoutEdge>,
}

/// What colours a node: the worst thing known about the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeStatus {
    Ok,
    /// Pinned somewhere at an older version.
    StalePins,
    /// Its current version is not in the registry.
    Unpublished,
    /// Its last build failed.
    Failed,
    /// It does not load or render.
    Broken,
}

impl NodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Ok => "ok",
            NodeStatus::StalePins => "stale-pins",
            NodeStatus::Unpublished => "unpublished",
            NodeStatus::Failed => "failed",
            NodeStatus::Broken => "broken",
        }
    }

    /// A word or sign that does not rely on colour.
    pub fn label(self) -> &'static str {
        match self {
            NodeStatus::Ok => "",
            NodeStatus::StalePins => "◷ stale pins",
            NodeStatus::Unpublished => "△ unpublished",
            NodeStatus::Failed => "✗ build failed",
            NodeStatus::Broken => "✗ broken",
        }
    }
}

/// `GET /api/v1/graph/view`: the layout with each image's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GraphView {
    pub layout: GraphLayout,
    pub status: std::collections::BTreeMap<String, NodeStatus>,
    pub problems: Vec<String>,
}

/// One image `dockyard update` gave a new changelog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatedImage {
    pub image: String,
    pub old_version: String,
    pub new_version: String,
    /// Its changelog, as shown to users.
    pub changelog: String,
}

/// A pin file `update --pins` rewrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BumpedPins {
    pub file: String,
    pub count: usize,
}

/// What `dockyard update` did: every changelog written (all or none), and
/// with `--pins` the pin files rewritten and the pins still waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UpdateReport {
    pub updated: Vec<UpdatedImage>,
    pub pins: Vec<BumpedPins>,
    /// Pins left as they are, and why (a version not yet published).
    pub waiting: Vec<String>,
    /// Things said along the way (the registry not known, …).
    pub notes: Vec<String>,
}

/// What `dockyard prune` removed (or, as a dry run, would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PruneReport {
    pub dry_run: bool,
    /// `registry/namespace/name:tag` references, children first.
    pub removed: Vec<String>,
    pub errors: Vec<String>,
}
