//! The web face: axum routes that map service results onto the API's JSON
//! shapes (`api`), the Leptos pages rendered on the server, the built front
//! end as files, and the guard rails every request passes (`guard`).
//!
//! Handlers are thin: the service answers, the snapshot caches the JSON
//! bytes, so a read costs a lookup and a copy of a reference.

pub mod api;
pub mod guard;
pub mod listen;

use crate::service::Service;
use app::api::ServerData;
use axum::Router;
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    pub leptos: LeptosOptions,
    pub guard: Arc<guard::Guard>,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// How pages read data on the server: straight from the current snapshot.
fn server_data(service: &Arc<Service>) -> ServerData {
    let (s1, s2) = (service.clone(), service.clone());
    ServerData {
        catalog: Arc::new(move || s1.snapshot().map(|s| s.catalog_report()).map_err(|d| d.to_string())),
        pins: Arc::new(move || {
            let snap = s2.snapshot().map_err(|d| d.to_string())?;
            snap.pins_report().map_err(|p| p.to_string())
        }),
    }
}

/// The whole application: API, pages, files, guard rails.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let data = server_data(&state.service);
    let leptos = state.leptos.clone();
    Router::new()
        .nest("/api/v1", api::routes())
        .route("/api/{*rest}", get(api::not_found).post(api::not_found))
        .route("/healthz", get(|| async { "ok" }))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(data.clone()),
            move || app::shell(leptos.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::check))
        .layer(axum::extract::DefaultBodyLimit::max(guard::MAX_BODY_BYTES))
        .with_state(state)
}
