//! `dockyard serve`: the axum server with the JSON API, the Leptos pages
//! rendered on the server, and the built front end (WASM, CSS) as files.

use crate::cli::ServeArgs;
use app::api::{CatalogSource, CatalogView, ImageRow};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use dockyard_core::ops::{self, RootSpec};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::process::ExitCode;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    leptos: LeptosOptions,
    roots: Arc<Vec<RootSpec>>,
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

async fn api_catalog(State(state): State<AppState>) -> impl IntoResponse {
    let roots = state.roots.clone();
    match tokio::task::spawn_blocking(move || catalog_view(&roots)).await {
        Ok(Ok(view)) => Json(view).into_response(),
        Ok(Err(e)) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Builds the router (also used by tests).
fn router(leptos: LeptosOptions, roots: Vec<RootSpec>) -> Router {
    let state = AppState { leptos: leptos.clone(), roots: Arc::new(roots) };
    let routes = generate_route_list(app::App);
    let source = {
        let roots = state.roots.clone();
        CatalogSource(Arc::new(move || catalog_view(&roots)))
    };
    Router::new()
        .route("/api/catalog", get(api_catalog))
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
        let app = router(leptos, roots);
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
