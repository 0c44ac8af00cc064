//! `dockyard serve`: the axum server with the JSON API, the Leptos pages
//! rendered on the server, and the built front end (WASM, CSS) as files.

use crate::cli::ServeArgs;
use app::api::{CatalogView, ImageRow, PinRow, PinsView, ServerData};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use dockyard_core::ops::{self, PinRepo, RootSpec};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::process::ExitCode;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    leptos: LeptosOptions,
    roots: Arc<Vec<RootSpec>>,
    pins: Arc<Option<PinRepo>>,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Scans and renders every root, as `dockyard render` and `graph` do.
pub fn catalog_view(roots: &[RootSpec]) -> Result<CatalogView, String> {
    let catalogs: Vec<_> = roots.iter().map(RootSpec::load).collect::<Result<_, _>>().map_err(|d| d.to_string())?;
    let (report, bases) = ops::render_catalogs(&catalogs);
    let graph = ops::graph(&report, &bases);
    let mut problems: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    problems.extend(graph.problems.iter().map(ToString::to_string));
    let images = report
        .images
        .into_iter()
        .map(|(name, img)| ImageRow {
            parents: graph
                .parents
                .get(&name)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_else(|| img.depends.clone()),
            version: img.version,
            label: img.label,
            dir: img.dir,
            error: img.error,
            name,
        })
        .collect();
    Ok(CatalogView { images, problems })
}

/// Lints the pin paths against the catalog, as `dockyard lint` does.
pub fn pins_view(repo: &Option<PinRepo>) -> Result<Option<PinsView>, String> {
    let Some(repo) = repo else { return Ok(None) };
    let catalog = repo.catalog.load().map_err(|d| d.to_string())?;
    let sources = repo.read_sources().map_err(|d| d.to_string())?;
    let report = dockyard_core::lint::lint(&catalog, &sources, None);
    let pins = report
        .pins
        .into_iter()
        .map(|p| PinRow {
            file: p.file,
            line: p.line,
            column: p.column,
            image: p.image,
            version: p.version,
            status: p.status.as_str().to_owned(),
            latest: p.latest,
            order: p.order.map(|o| o.as_str().to_owned()),
            note: p.note,
        })
        .collect();
    Ok(Some(PinsView {
        pins,
        counts: report.summary.by_status.into_iter().collect(),
        dead_images: report.summary.dead_images,
        files_scanned: report.summary.files_scanned,
    }))
}

/// Runs a blocking view function and answers with its JSON.
async fn json_of<T: serde::Serialize + Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> axum::response::Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(view)) => Json(view).into_response(),
        Ok(Err(e)) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn api_catalog(State(state): State<AppState>) -> impl IntoResponse {
    json_of(move || catalog_view(&state.roots)).await
}

async fn api_pins(State(state): State<AppState>) -> impl IntoResponse {
    json_of(move || pins_view(&state.pins)).await
}

/// Builds the router (also used by tests).
fn router(leptos: LeptosOptions, roots: Vec<RootSpec>, pins: Option<PinRepo>) -> Router {
    let state = AppState { leptos: leptos.clone(), roots: Arc::new(roots), pins: Arc::new(pins) };
    let routes = generate_route_list(app::App);
    let source = {
        let (roots, pins) = (state.roots.clone(), state.pins.clone());
        ServerData { catalog: Arc::new(move || catalog_view(&roots)), pins: Arc::new(move || pins_view(&pins)) }
    };
    Router::new()
        .route("/api/catalog", get(api_catalog))
        .route("/api/pins", get(api_pins))
        .route("/healthz", get(|| async { "ok" }))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(source.clone()),
            move || app::shell(leptos.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .with_state(state)
}

/// Runs the server until interrupted.
pub fn run(args: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,dockyard=info".into()),
        )
        .init();
    let roots = args.roots.roots();
    let pins = (!args.pins.is_empty()).then(|| PinRepo {
        root: std::path::PathBuf::from("."),
        catalog: roots[0].clone(),
        pin_paths: args.pins.clone(),
    });
    if let Some(bad) = roots.iter().find_map(|r| r.load().err()) {
        eprintln!("error: {bad}");
        return ExitCode::from(crate::commands::EXIT_USAGE);
    }
    if !args.site.join("pkg/app.js").exists() {
        tracing::warn!("no front end in {} (run scripts/build-site): pages will not hydrate", args.site.display());
    }
    let leptos = LeptosOptions::builder()
        .output_name("app")
        .site_root(args.site.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(args.addr)
        .build();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(crate::commands::EXIT_USAGE);
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.addr);
                return ExitCode::from(crate::commands::EXIT_USAGE);
            }
        };
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!("dockyard dashboard on http://{addr}/");
        println!("listening on http://{addr}/");
        let app = router(leptos, roots, pins);
        match axum::serve(listener, app).with_graceful_shutdown(shutdown()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: server failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
