//! A run's live stream (Server-Sent Events): image states and log lines as
//! they happen. The stream reads the store (not this process's events), so
//! a run started by another `dockyard serve` sharing the database is seen
//! live too.
//!
//! Bounded and cheap: at most `--max-streams` streams are open at once
//! (past it, 503 with `Retry-After`), apart from the connection limit, so
//! streams cannot starve `/healthz` or the API. One poller per run reads
//! the store and feeds every subscriber of that run through a broadcast
//! channel; a connection owns no task, so a client that goes away is gone
//! the moment hyper drops its body, and a poller ends within one poll of
//! its last subscriber leaving.

use super::AppState;
use crate::service::{Error, Kind, Service};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use dockyard_api::{ImageState, LogLine, RunDetail, StreamEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

/// How often the store is read while a run is live.
const POLL: Duration = Duration::from_millis(250);
/// Events a slow subscriber may fall behind before its stream ends (the
/// browser reconnects with `Last-Event-ID` and reads the rest from the store).
const BACKLOG: usize = 1024;
/// Lines read per store call.
const PAGE: usize = 2000;
/// A stream lasts at most a day.
const MAX_STREAM: Duration = Duration::from_secs(86_400);

/// What a run's poller sends its subscribers.
#[derive(Clone, Debug)]
enum Live {
    Image(String),
    Log(LogLine),
    End(String),
    Error(String),
}

/// The live streams of one server: the cap, and one poller per run.
pub struct Streams {
    permits: Arc<Semaphore>,
    hubs: Mutex<HashMap<i64, broadcast::Sender<Live>>>,
}

impl Streams {
    pub fn new(max_streams: usize) -> Streams {
        Streams { permits: Arc::new(Semaphore::new(max_streams.max(1))), hubs: Mutex::default() }
    }

    /// A receiver of run `id`'s events, starting the run's poller (from
    /// `seq`) when it has none.
    fn subscribe(self: &Arc<Self>, service: &Arc<Service>, id: i64, seq: i64) -> broadcast::Receiver<Live> {
        let mut hubs = self.hubs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = hubs.get(&id) {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(BACKLOG);
        hubs.insert(id, tx.clone());
        tokio::spawn(poll(self.clone(), service.clone(), id, seq, tx));
        rx
    }
}

/// The poller of one run: reads the run through the service every
/// [`POLL`] while anyone listens and the run is not finished.
async fn poll(streams: Arc<Streams>, service: Arc<Service>, id: i64, mut seq: i64, tx: broadcast::Sender<Live>) {
    let mut states: HashMap<String, ImageState> = HashMap::new();
    let mut failures = 0u32;
    loop {
        tokio::time::sleep(if failures == 0 { POLL } else { POLL * failures.min(20) }).await;
        if tx.receiver_count() == 0 {
            break;
        }
        let detail = match service.run_detail(id).await {
            Ok(d) => d,
            Err(e) if e.kind == Kind::NotFound => {
                let _ = tx.send(Live::Error("no such run".into()));
                break;
            }
            Err(e) => {
                // The store is away: say so, and keep trying.
                failures += 1;
                let _ = tx.send(Live::Error(format!("the store is unavailable ({e}); retrying")));
                continue;
            }
        };
        let lines = match read_all(&service, id, seq).await {
            Ok(l) => l,
            Err(e) => {
                failures += 1;
                let _ = tx.send(Live::Error(format!("the store is unavailable ({e}); retrying")));
                continue;
            }
        };
        failures = 0;
        for img in &detail.images {
            if states.get(&img.name) != Some(&img.state) {
                states.insert(img.name.clone(), img.state);
                let _ = tx.send(Live::Image(serde_json::to_string(img).unwrap_or_default()));
            }
        }
        for l in lines {
            seq = seq.max(l.seq);
            let _ = tx.send(Live::Log(l));
        }
        if detail.run.state.is_finished() {
            // The last lines may land after the state: one more read.
            if let Ok(lines) = read_all(&service, id, seq).await {
                for l in lines {
                    let _ = tx.send(Live::Log(l));
                }
            }
            let _ = tx.send(Live::End(serde_json::to_string(&detail.run).unwrap_or_default()));
            break;
        }
    }
    streams.hubs.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
}

/// Every line of run `id` after `after`, a page at a time.
async fn read_all(service: &Service, id: i64, after: i64) -> Result<Vec<LogLine>, Error> {
    let mut out = Vec::new();
    let mut seq = after;
    loop {
        let page = service.run_logs(id, None, seq, PAGE).await?;
        let full = page.len() == PAGE;
        if let Some(last) = page.last() {
            seq = last.seq;
        }
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

fn log_event(l: &LogLine) -> Event {
    Event::default()
        .event(StreamEvent::Log.name())
        .id(l.seq.to_string())
        .data(serde_json::to_string(l).unwrap_or_default())
}

/// A stream that says the store is away and asks the browser to come back
/// (`retry`): an outage is a retryable error, never "no such run".
fn store_away(e: impl std::fmt::Display) -> Response {
    let event = Event::default()
        .event(StreamEvent::Error.name())
        .retry(Duration::from_secs(2))
        .data(format!("the store is unavailable ({e}); retrying"));
    Sse::new(futures::stream::iter([Ok::<_, std::convert::Infallible>(event)])).into_response()
}

fn busy() -> Response {
    let mut resp = super::api::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many live streams are open on this server; try again in a moment",
    );
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// `GET /api/v1/builds/{id}/events`: `log` events (a LogLine), `image`
/// events (a RunImage) when a state changes, `end` (the RunSummary), and
/// `error` (the run does not exist, or the store is away: retried).
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(permit) = state.streams.permits.clone().try_acquire_owned() else {
        return busy();
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
    let detail: RunDetail = match state.service.run_detail(id).await {
        Ok(d) => d,
        Err(e) if e.kind == Kind::NotFound => return e.into_response(),
        Err(e) => return store_away(e),
    };
    let backlog = match read_all(&state.service, id, after).await {
        Ok(l) => l,
        Err(e) => return store_away(e),
    };
    // A comment first, so that the response head goes out at once.
    let mut first: Vec<Event> = vec![Event::default().comment("live")];
    first.extend(detail.images.iter().map(|img| {
        Event::default().event(StreamEvent::Image.name()).data(serde_json::to_string(img).unwrap_or_default())
    }));
    let mut seen = backlog.last().map_or(after, |l| l.seq);
    first.extend(backlog.iter().map(log_event));
    if detail.run.state.is_finished() {
        first.push(
            Event::default()
                .event(StreamEvent::End.name())
                .data(serde_json::to_string(&detail.run).unwrap_or_default()),
        );
        let stream = futures::stream::iter(first.into_iter().map(Ok::<_, std::convert::Infallible>));
        return Sse::new(stream).into_response();
    }
    // Subscribe, then read again: what the poller sent before this
    // subscription is in the store, and what it sends after is in `rx`.
    let rx = state.streams.subscribe(&state.service, id, seen);
    match read_all(&state.service, id, seen).await {
        Ok(more) => {
            seen = more.last().map_or(seen, |l| l.seq);
            first.extend(more.iter().map(log_event));
        }
        Err(e) => return store_away(e),
    }
    let deadline = tokio::time::Instant::now() + MAX_STREAM;
    let live = futures::stream::unfold((rx, seen, permit, false), move |(mut rx, mut seen, permit, done)| async move {
        let _: &OwnedSemaphorePermit = &permit;
        if done {
            return None;
        }
        loop {
            let next = tokio::time::timeout_at(deadline, rx.recv()).await;
            let event = match next {
                Err(_) => return None,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => return None,
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                Ok(Ok(Live::Log(l))) if l.seq <= seen => continue,
                Ok(Ok(Live::Log(l))) => {
                    seen = l.seq;
                    (log_event(&l), false)
                }
                Ok(Ok(Live::Image(data))) => (Event::default().event(StreamEvent::Image.name()).data(data), false),
                Ok(Ok(Live::End(data))) => (Event::default().event(StreamEvent::End.name()).data(data), true),
                Ok(Ok(Live::Error(message))) => {
                    let end = message == "no such run";
                    (Event::default().event(StreamEvent::Error.name()).retry(Duration::from_secs(2)).data(message), end)
                }
            };
            return Some((Ok::<_, std::convert::Infallible>(event.0), (rx, seen, permit, event.1)));
        }
    });
    let stream = futures::StreamExt::chain(futures::stream::iter(first.into_iter().map(Ok)), live);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// How often a history stream looks at the history's version (no store
/// call: see `Store::history_version`).
const HISTORY_LOOK: Duration = Duration::from_secs(1);

/// What a history stream last saw: the history's version, and the
/// snapshot's generation.
struct Seen {
    history: Option<u64>,
    files: Option<u64>,
}

impl Seen {
    /// What changed since the last look, if anything (files first; the
    /// history on the next look).
    fn look(&mut self, service: &Service) -> Option<StreamEvent> {
        let files = service.snapshot().ok().map(|s| s.generation);
        if files.is_some() && files != self.files {
            self.files = files;
            return Some(StreamEvent::Files);
        }
        // An unknown version (a write a moment ago, a listener away) is
        // looked at again; a known one that moved is news.
        let Ok(Some(now)) = service.history_version_now() else { return None };
        let changed = self.history.is_some_and(|v| v != now);
        self.history = Some(now);
        changed.then_some(StreamEvent::History)
    }
}

/// `GET /api/v1/history/events`: a `history` event whenever the build
/// history changed, in this server or another sharing its store, and a
/// `files` event whenever a new snapshot of the files is read, each at most
/// once per look; the overview, Builds, Pins and Images pages read again on
/// them. It takes one of the live streams' places.
pub async fn history_events(State(state): State<AppState>) -> Response {
    let Ok(permit) = state.streams.permits.clone().try_acquire_owned() else {
        return busy();
    };
    let first = match state.service.history_version_now() {
        Ok(v) => v,
        Err(e) => return store_away(e),
    };
    let service = state.service.clone();
    let files = service.snapshot().ok().map(|s| s.generation);
    let started = tokio::time::Instant::now();
    let seen = Seen { history: first, files };
    let stream = futures::stream::unfold((service, seen, permit), move |(service, mut seen, permit)| async move {
        loop {
            if started.elapsed() > MAX_STREAM {
                return None;
            }
            tokio::time::sleep(HISTORY_LOOK).await;
            let news = seen.look(&service);
            if let Some(what) = news {
                let event = Event::default().event(what.name()).data("changed");
                return Some((Ok::<_, std::convert::Infallible>(event), (service, seen, permit)));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
