//! `/api/v1/…`: each handler asks the service and answers the JSON the CLI
//! prints for the same thing (`dockyard_api::to_json`, byte for byte).

use super::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The read-only routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/catalog", get(catalog))
        .route("/graph", get(graph))
        .route("/pins", get(pins))
        .route("/registry", get(registry))
        .route("/pull-script", get(pull_script))
        .route("/overview", get(overview))
        .route("/impact", get(impact))
}

/// Impact runs git and renders two revisions: a few at a time.
static IMPACT_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

#[derive(serde::Deserialize)]
struct ImpactQuery {
    base: String,
    head: Option<String>,
}

async fn impact(State(state): State<AppState>, axum::extract::Query(q): axum::extract::Query<ImpactQuery>) -> Response {
    let Ok(_slot) = IMPACT_SLOTS.try_acquire() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "impact is busy; try again in a moment");
    };
    let service = state.service.clone();
    match tokio::task::spawn_blocking(move || service.impact(&q.base, q.head.as_deref())).await {
        Ok(Ok(r)) => json_bytes(Bytes::from(dockyard_api::to_json(&r))),
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn overview(State(state): State<AppState>) -> Response {
    let service = state.service.clone();
    match tokio::task::spawn_blocking(move || service.overview(false)).await {
        Ok(o) => json_bytes(Bytes::from(dockyard_api::to_json(&o))),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// A JSON answer from bytes already serialized.
pub fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `{"error": "…"}` with a status.
pub fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    let body = dockyard_api::to_json(&dockyard_api::ApiError { error: message.to_string() });
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A route under `/api/` that does not exist.
pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such API route (the API lives under /api/v1/)")
}

macro_rules! snapshot_or_500 {
    ($state:expr) => {
        match $state.service.snapshot() {
            Ok(s) => s,
            Err(d) => return error(StatusCode::INTERNAL_SERVER_ERROR, d),
        }
    };
}

async fn catalog(State(state): State<AppState>) -> Response {
    json_bytes(snapshot_or_500!(state).catalog_json())
}

async fn graph(State(state): State<AppState>) -> Response {
    json_bytes(snapshot_or_500!(state).graph_json())
}

async fn pins(State(state): State<AppState>) -> Response {
    match snapshot_or_500!(state).pins_json() {
        Ok(b) => json_bytes(b),
        // The same error `dockyard lint` prints: the repository cannot be linted.
        Err(p) => error(StatusCode::UNPROCESSABLE_ENTITY, p),
    }
}

async fn registry(State(state): State<AppState>) -> Response {
    json_bytes(Bytes::from(dockyard_api::to_json(&state.service.registry_report())))
}

async fn pull_script(State(state): State<AppState>) -> Response {
    let snapshot = snapshot_or_500!(state);
    match crate::service::pull::plan(&snapshot, None) {
        Ok(plan) => {
            let script = crate::cli::pull_script_text(&state.service, &plan, None);
            (
                [
                    (header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8"),
                    (header::CONTENT_DISPOSITION, "attachment; filename=\"pull-images.sh\""),
                ],
                script,
            )
                .into_response()
        }
        Err(d) => error(StatusCode::UNPROCESSABLE_ENTITY, d),
    }
}
