//! A run's live stream (Server-Sent Events): image states and log lines as
//! they happen. The stream reads the store (not this process's events), so
//! a run started by another `dockyard serve` sharing the database is seen
//! live too.

use super::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// How often the store is read while a run is live.
const POLL: Duration = Duration::from_millis(250);

/// `GET /api/v1/builds/{id}/events`: `log` events (a LogLine), `image`
/// events (a RunImage) when a state changes, and `end` (the RunSummary).
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(r) = state.auth.check_read(&headers) {
        return super::api::error(r.status(), r.message());
    }
    let store = match state.service.store() {
        Ok(s) => s,
        Err(e) => return super::api::error(axum::http::StatusCode::SERVICE_UNAVAILABLE, e),
    };
    // After the last line the client has: its Last-Event-ID on a
    // reconnection, else `?after=SEQ` (the lines the page came with).
    let from_query =
        query.as_deref().unwrap_or("").split('&').find_map(|kv| kv.strip_prefix("after=")).and_then(|v| v.parse().ok());
    let after: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(from_query)
        .unwrap_or(0);
    let stream = async_stream(store, id, after);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

fn async_stream(
    store: crate::store::Shared,
    id: i64,
    after: i64,
) -> impl futures::Stream<Item = Result<Event, std::convert::Infallible>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(256);
    tokio::spawn(async move {
        let mut seq = after;
        let mut states: std::collections::HashMap<String, dockyard_api::ImageState> = Default::default();
        // A stream lasts at most a day.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(86_400);
        loop {
            let detail = match store.call(move |s| s.get_run(id)).await {
                Ok(Some(d)) => d,
                _ => {
                    let _ = tx.send(Event::default().event("error").data("no such run")).await;
                    return;
                }
            };
            for img in &detail.images {
                if states.get(&img.name) != Some(&img.state) {
                    states.insert(img.name.clone(), img.state);
                    let data = serde_json::to_string(img).unwrap_or_default();
                    if tx.send(Event::default().event("image").data(data)).await.is_err() {
                        return;
                    }
                }
            }
            let lines = store.call(move |s| s.logs(id, None, seq, 2000)).await.unwrap_or_default();
            for l in lines {
                seq = l.seq;
                let data = serde_json::to_string(&l).unwrap_or_default();
                if tx.send(Event::default().event("log").id(l.seq.to_string()).data(data)).await.is_err() {
                    return;
                }
            }
            if detail.run.state.is_finished() {
                // The last lines may land after the state: one more read.
                let lines = store.call(move |s| s.logs(id, None, seq, 100_000)).await.unwrap_or_default();
                for l in lines {
                    let data = serde_json::to_string(&l).unwrap_or_default();
                    let _ = tx.send(Event::default().event("log").id(l.seq.to_string()).data(data)).await;
                }
                let _ = tx
                    .send(Event::default().event("end").data(serde_json::to_string(&detail.run).unwrap_or_default()))
                    .await;
                return;
            }
            if tokio::time::Instant::now() > deadline {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) })
}
