//! A snapshot: the repository's catalog, rendered Dockerfiles, graph, pin
//! index and lint, read once and shared. Immutable once built; its parts
//! are computed on first use (the CLI's `lint` never renders, `render`
//! never lints) and `serve` computes them all before it shows a snapshot.

use super::repo::RepoConfig;
use crate::registry::Knowledge;
use axum::body::Bytes;
use dockyard_api::{CatalogReport, GraphReport, PinsReport, Problem, RegistryIndex};
use dockyard_core::Diagnostic;
use dockyard_core::catalog::Catalog;
use dockyard_core::graph::Graph;
use dockyard_core::lint::{self, LintOptions};
use dockyard_core::ops::{self, PinRepo, RenderReport};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

pub use dockyard_core::lint::LintState;

/// Rendering of every root, and the graph.
pub struct Rendered {
    pub report: RenderReport,
    pub bases: BTreeSet<String>,
    pub graph: Graph,
}

/// One immutable state of the repository.
pub struct Snapshot {
    pub generation: u64,
    /// When it was read (seconds since the epoch).
    pub loaded_at: i64,
    pub repo: Arc<RepoConfig>,
    pub catalogs: Vec<Catalog>,
    /// Registry knowledge the lint used (empty: none).
    pub registry: Arc<Vec<RegistryIndex>>,
    rendered: OnceLock<Rendered>,
    lint: OnceLock<Result<LintState, Diagnostic>>,
    catalog_json: OnceLock<Bytes>,
    graph_json: OnceLock<Bytes>,
    pins_json: OnceLock<Result<Bytes, Problem>>,
    layout: OnceLock<dockyard_api::GraphLayout>,
}

impl Snapshot {
    /// Reads every catalog root. A root that cannot be read at all (a
    /// broken `config.yaml`, a missing folder) fails the load; a broken
    /// image stays with that image.
    pub fn load(
        repo: Arc<RepoConfig>,
        generation: u64,
        registry: Arc<Vec<RegistryIndex>>,
    ) -> Result<Snapshot, Diagnostic> {
        let mut catalogs = Vec::new();
        for spec in &repo.roots {
            catalogs.push(spec.load(&repo.files_for(spec))?);
        }
        Ok(Snapshot {
            generation,
            loaded_at: crate::store::now(),
            repo,
            catalogs,
            registry,
            rendered: OnceLock::new(),
            lint: OnceLock::new(),
            catalog_json: OnceLock::new(),
            graph_json: OnceLock::new(),
            pins_json: OnceLock::new(),
            layout: OnceLock::new(),
        })
    }

    /// Computes every part now (for the server, before the snapshot is shown).
    pub fn warm(&self) {
        let _ = self.catalog_json();
        let _ = self.graph_json();
        let _ = self.pins_json();
        let _ = self.layout();
    }

    /// The graph laid out in layers.
    pub fn layout(&self) -> &dockyard_api::GraphLayout {
        self.layout.get_or_init(|| {
            let g = &self.rendered().graph;
            let nodes: Vec<String> = g.nodes.iter().cloned().collect();
            let edges: Vec<(String, String)> =
                g.parents.iter().flat_map(|(c, ps)| ps.keys().map(move |p| (p.clone(), c.clone()))).collect();
            dockyard_core::layout::layout(&nodes, &edges)
        })
    }

    /// Every root rendered, and the graph.
    pub fn rendered(&self) -> &Rendered {
        self.rendered.get_or_init(|| {
            let (report, bases) = ops::render_catalogs(&self.catalogs);
            let graph = ops::graph(&report, &bases);
            Rendered { report, bases, graph }
        })
    }

    /// The lint of the pin paths against the first catalog root.
    pub fn lint(&self) -> Result<&LintState, &Diagnostic> {
        self.lint.get_or_init(|| self.run_lint()).as_ref()
    }

    fn run_lint(&self) -> Result<LintState, Diagnostic> {
        let catalog = self.catalogs.first().ok_or_else(|| Diagnostic::new(&self.repo.root, None, "no catalog root"))?;
        let (registry, namespace) = (catalog.config.registry(), catalog.config.namespace());
        if registry.is_empty() && namespace.is_empty() {
            return Err(Diagnostic::new(
                self.repo.shown(&catalog.config.path),
                None,
                "neither `registry` nor `namespace` is set: pins cannot be told from other text",
            ));
        }
        let pin_repo = PinRepo {
            root: self.repo.root.clone(),
            files: self.repo.files.clone(),
            catalog: self.repo.roots[0].clone(),
            pin_paths: self.repo.pin_paths.clone(),
        };
        let read = pin_repo.read_sources()?;
        let knowledge = Knowledge(&self.registry);
        let opts = LintOptions {
            registry: (!self.registry.is_empty()).then_some(&knowledge as &dyn lint::Published),
            now: crate::store::now(),
        };
        let mut report = lint::lint(catalog, &read.sources, opts);
        let mut errors = read.errors;
        errors.append(&mut report.errors);
        report.errors = errors;
        Ok(LintState { report, sources: read.sources, prefix: dockyard_core::label::pin_prefix(&registry, &namespace) })
    }

    /// `catalog --format json` / `GET /api/v1/catalog`.
    pub fn catalog_report(&self) -> CatalogReport {
        let r = self.rendered();
        ops::catalog_report(&r.report, &r.graph)
    }

    pub fn catalog_json(&self) -> Bytes {
        self.catalog_json.get_or_init(|| dockyard_api::to_json(&self.catalog_report()).into()).clone()
    }

    /// `graph --format json` / `GET /api/v1/graph`.
    pub fn graph_report(&self) -> GraphReport {
        self.rendered().graph.to_api()
    }

    pub fn graph_json(&self) -> Bytes {
        self.graph_json.get_or_init(|| dockyard_api::to_json(&self.graph_report()).into()).clone()
    }

    /// `lint --format json` / `GET /api/v1/pins`.
    pub fn pins_report(&self) -> Result<PinsReport, Problem> {
        self.lint().map(|l| l.report.to_api()).map_err(Diagnostic::to_problem)
    }

    pub fn pins_json(&self) -> Result<Bytes, Problem> {
        self.pins_json.get_or_init(|| self.pins_report().map(|r| dockyard_api::to_json(&r).into())).clone()
    }

    /// Seconds since the snapshot was read.
    pub fn age(&self) -> i64 {
        (crate::store::now() - self.loaded_at).max(0)
    }
}
