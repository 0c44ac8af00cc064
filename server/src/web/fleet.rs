//! Several engines from the dashboard: the host × pinned-image matrix, and
//! pulling what is missing (behind the same login as builds).

use super::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

/// `POST /api/v1/pull`: pulls every pinned image onto every engine.
pub async fn pull(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = state.auth.check_write(&headers) {
        return super::api::error(r.status(), r.message());
    }
    match state.service.pull_everywhere(None, "dashboard").await {
        Ok(report) => super::api::json_bytes(Bytes::from(dockyard_api::to_json(&report))),
        Err(e) => e.into_response(),
    }
}
