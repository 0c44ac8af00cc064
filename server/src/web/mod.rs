//! The web face: axum routes that map service results onto the API's JSON
//! shapes (`api`, every read through one function the server-rendered pages
//! call too), live build streams (`live`), the engines (`fleet`), logins
//! (`auth`), Prometheus metrics (`metrics`), the Leptos pages rendered on the server and hydrated, the built
//! front end as files, and the guard rails every request passes (`guard`,
//! `listen`).

pub mod api;
pub mod auth;
pub mod fleet;
pub mod guard;
pub mod listen;
pub mod live;
pub mod metrics;

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
    pub auth: Arc<auth::Auth>,
    /// Request latencies for `/metrics`.
    pub http: Arc<metrics::HttpMetrics>,
    /// Live streams: their cap and one poller per run.
    pub streams: Arc<live::Streams>,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// The one mapping of a service error to an HTTP status.
pub fn status_of(kind: crate::service::Kind) -> axum::http::StatusCode {
    use crate::service::Kind;
    use axum::http::StatusCode;
    match kind {
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A service error as the API answers it: its status and `{"error": …}`.
impl axum::response::IntoResponse for crate::service::Error {
    fn into_response(self) -> axum::response::Response {
        api::error(status_of(self.kind), self.message)
    }
}

/// How pages read data on the server: the API's own read function, called
/// in-process (no HTTP), so a page shows exactly what the API answers.
/// A read that fails with "not found" or a server error gives the page
/// that status too.
fn server_data(
    state: &AppState,
    response: Option<leptos_axum::ResponseOptions>,
    headers: axum::http::HeaderMap,
) -> ServerData {
    let state = state.clone();
    let set_status: Arc<dyn Fn(u16) + Send + Sync> = Arc::new(move |code: u16| {
        if let (Some(r), Ok(status)) = (&response, axum::http::StatusCode::from_u16(code)) {
            r.set_status(status);
        }
    });
    let on_error = set_status.clone();
    ServerData {
        get: Arc::new(move |path: String| {
            let (state, on_error, headers) = (state.clone(), on_error.clone(), headers.clone());
            Box::pin(async move {
                let (p, q) = path.split_once('?').unwrap_or((path.as_str(), ""));
                let p = p.strip_prefix(dockyard_api::API_PREFIX).unwrap_or(p);
                // The session is the request's own: its cookie decides.
                if p == "/session" {
                    return Ok(dockyard_api::to_json(&api::session_of(&state, &headers)));
                }
                match api::get(&state, p, q).await {
                    Ok(a) => Ok(String::from_utf8_lossy(&a.body).into_owned()),
                    Err(e) => {
                        let status = status_of(e.kind);
                        if status == axum::http::StatusCode::NOT_FOUND || status.is_server_error() {
                            on_error(status.as_u16());
                        }
                        Err(e.message)
                    }
                }
            })
        }),
        set_status,
    }
}

/// The whole application: API, pages, files, guard rails.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let page_state = state.clone();
    let leptos = state.leptos.clone();
    Router::new()
        .nest("/api/v1", api::routes())
        .route("/api/{*rest}", get(api::not_found).post(api::not_found))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::metrics))
        .leptos_routes_with_context(
            &state,
            routes,
            // Per request: the page's reads, and its status.
            move || {
                let headers = use_context::<axum::http::request::Parts>().map(|p| p.headers).unwrap_or_default();
                provide_context(app::AssetVersion(asset_version(&page_state.leptos)));
                provide_context(server_data(&page_state, use_context::<leptos_axum::ResponseOptions>(), headers))
            },
            move || app::shell(leptos.clone()),
        )
        .route("/login", get(|| async { "" }))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cache_control))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        // Authentication is one layer over everything above: a new route is
        // private by default in private mode.
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::gate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::check))
        .layer(axum::extract::DefaultBodyLimit::max(guard::MAX_BODY_BYTES))
        // Pages, JSON and the front end go out gzipped to clients that ask
        // (live streams and images are left alone by the default predicate).
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// The front end's version: the first 16 hex digits of the sum
/// `scripts/build-site` writes beside the files (of everything they are
/// made from). Read at each use, since the site may be built behind a
/// running server.
pub fn asset_version(leptos: &LeptosOptions) -> Option<String> {
    use std::io::Read;
    let path = std::path::Path::new(&*leptos.site_root).join(&*leptos.site_pkg_dir).join(".source");
    let mut head = [0u8; 16];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    head.iter().all(u8::is_ascii_hexdigit).then(|| String::from_utf8_lossy(&head).into_owned())
}

/// The front end's files asked for by the current version (`?v=`, as the
/// pages name them) may be kept for good: a new build has a new version.
/// Asked for by plain name (or an old version) they may be kept but must
/// be asked again (`no-cache`: a 304 when they did not change). Pages and
/// API answers are never stored.
async fn cache_control(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let asset = req.uri().path().starts_with("/pkg/");
    let current = asset
        && req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("v="))
            .is_some_and(|v| asset_version(&state.leptos).is_some_and(|current| current == v));
    let mut resp = next.run(req).await;
    let value = match (asset, current && resp.status().is_success()) {
        (true, true) => "public, max-age=31536000, immutable",
        (true, false) => "no-cache",
        (false, _) => "no-store",
    };
    resp.headers_mut().entry(axum::http::header::CACHE_CONTROL).or_insert(axum::http::HeaderValue::from_static(value));
    resp
}
