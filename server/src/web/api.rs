//! `/api/v1/…`. Every read goes through [`get`], which the pages rendered
//! on the server call too, so a page and the API can never disagree; each
//! answers the JSON the CLI prints for the same thing (`dockyard_api::to_json`).
//! Writes (`POST`) are checked for the site they come from, then for
//! credentials (see `auth`).

use super::AppState;
use crate::service::Error;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get as get_route, post};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/plan", post(plan))
        .route("/session", get_route(session))
        .route("/builds", post(start_build).get(read))
        .route("/builds/{id}/events", get_route(super::live::events))
        .route("/history/events", get_route(super::live::history_events))
        .route("/pull", post(super::fleet::pull))
        .route("/cleanup", post(cleanup_delete).get(read_cleanup))
        .route("/{*path}", get_route(read))
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

/// What a read answers: a content type and the body.
pub struct Answer {
    pub content_type: &'static str,
    pub body: Bytes,
    /// A file name to save it as.
    pub attachment: Option<&'static str>,
}

fn json<T: serde::Serialize>(v: &T) -> Answer {
    Answer { content_type: "application/json", body: Bytes::from(dockyard_api::to_json(v)), attachment: None }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

/// `application/x-www-form-urlencoded` decoding of one value.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The route template of a read under `/api/v1/` (for metric labels: a
/// fixed set, whatever the path), or `None` when [`get`] has no such route.
pub fn read_route(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match segments.as_slice() {
        ["catalog"] => "/api/v1/catalog",
        ["graph"] => "/api/v1/graph",
        ["graph.dot"] => "/api/v1/graph.dot",
        ["graph", "view"] => "/api/v1/graph/view",
        ["graph.svg"] => "/api/v1/graph.svg",
        ["pins"] => "/api/v1/pins",
        ["pins", "patch"] => "/api/v1/pins/patch",
        ["registry"] => "/api/v1/registry",
        ["pull-script"] => "/api/v1/pull-script",
        ["overview"] => "/api/v1/overview",
        ["images", _] => "/api/v1/images/{name}",
        ["builds"] => "/api/v1/builds",
        ["builds", _] => "/api/v1/builds/{id}",
        ["builds", _, "logs"] => "/api/v1/builds/{id}/logs",
        ["builds", _, "log.txt"] => "/api/v1/builds/{id}/log.txt",
        ["file"] => "/api/v1/file",
        ["file", "view"] => "/api/v1/file/view",
        ["hosts"] => "/api/v1/hosts",
        ["session"] => "/api/v1/session",
        ["impact"] => "/api/v1/impact",
        ["cleanup"] => "/api/v1/cleanup",
        ["sizes"] => "/api/v1/sizes",
        _ => return None,
    })
}

/// Raw log downloads under way at once.
static RAW_LOG_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// `keep_last` and `min_age` from a query.
fn cleanup_options(query: &str) -> Result<crate::service::lifecycle::CleanupOptions, Error> {
    let mut o = crate::service::lifecycle::CleanupOptions::default();
    if let Some(v) = query_param(query, "keep_last") {
        o.keep_last = v.parse().ok().filter(|n| *n <= 1000).ok_or_else(|| Error::invalid("keep_last: 0 to 1000"))?;
    }
    if let Some(v) = query_param(query, "min_age") {
        o.min_age_days =
            v.parse().ok().filter(|n| *n <= 36_500).ok_or_else(|| Error::invalid("min_age: 0 to 36500 days"))?;
    }
    Ok(o)
}

/// A run's number in a path: anything else names no run.
fn run_id(id: &str) -> Result<dockyard_api::RunId, Error> {
    id.parse().map_err(|_| Error::not_found("no such run"))
}

/// Every read of the API, by path (under `/api/v1/`) and query.
pub async fn get(state: &AppState, path: &str, query: &str) -> Result<Answer, Error> {
    let service = &state.service;
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let bytes = |body: Bytes| Answer { content_type: "application/json", body, attachment: None };
    match segments.as_slice() {
        ["catalog"] => Ok(bytes(service.snapshot()?.catalog_json())),
        ["graph"] => Ok(bytes(service.snapshot()?.graph_json())),
        ["graph.dot"] => Ok(Answer {
            content_type: "text/vnd.graphviz; charset=utf-8",
            body: Bytes::from(crate::print::dot(&service.snapshot()?.graph_report())),
            attachment: Some("dockyard-graph.dot"),
        }),
        ["graph", "view"] => Ok(json(&service.graph_view().await?)),
        ["graph.svg"] => Ok(Answer {
            content_type: "image/svg+xml",
            body: Bytes::from(crate::print::svg(&service.graph_view().await?)),
            attachment: Some("dockyard-graph.svg"),
        }),
        ["pins"] => Ok(bytes(service.snapshot()?.pins_json().map_err(|p| Error::invalid(p.to_string()))?)),
        ["pins", "patch"] => Ok(Answer {
            content_type: "text/x-diff; charset=utf-8",
            body: Bytes::from(service.pins_patch(
                query_param(query, "image").as_deref(),
                query_param(query, "version").as_deref(),
                query_param(query, "file").as_deref(),
            )?),
            attachment: Some("dockyard-stale-pins.patch"),
        }),
        ["registry"] => Ok(json(&service.registry_report())),
        ["pull-script"] => Ok(Answer {
            content_type: "text/x-shellscript; charset=utf-8",
            body: Bytes::from(crate::print::shell::pull_script(
                &service.pull_plan(query_param(query, "digest").is_some_and(|v| v == "1" || v == "true"))?,
                None,
            )),
            attachment: Some("pull-images.sh"),
        }),
        ["overview"] => Ok(json(&service.overview_full(state.auth.configured()).await)),
        ["images", name] => Ok(json(&service.image_detail(&percent_decode(name)).await?)),
        ["builds"] => {
            let limit = query_param(query, "limit").and_then(|l| l.parse().ok()).unwrap_or(50usize);
            let before = query_param(query, "before").and_then(|b| b.parse().ok());
            Ok(bytes(service.runs_json(limit, before).await?))
        }
        ["builds", id] => Ok(bytes(service.run_shown_json(run_id(id)?).await?)),
        ["builds", id, "log.txt"] => {
            let id = run_id(id)?;
            // Up to 64 MiB each: a few at a time.
            let Ok(_slot) = RAW_LOG_SLOTS.try_acquire() else {
                return Err(Error::unavailable("raw logs are busy; try again in a moment"));
            };
            let (lines, more) = service.run_log_all(id).await?;
            let mut text = crate::print::log_text(&lines);
            if more {
                text.push_str(&format!(
                    "… the log goes on past {} lines or {} MiB\n",
                    crate::service::runs::RAW_LOG_LINES,
                    crate::service::runs::RAW_LOG_BYTES >> 20
                ));
            }
            Ok(Answer {
                content_type: "text/plain; charset=utf-8",
                body: Bytes::from(text),
                attachment: Some("dockyard-run.log"),
            })
        }
        ["builds", id, "logs"] => {
            let id = run_id(id)?;
            let after = query_param(query, "after").and_then(|a| a.parse().ok()).unwrap_or(0);
            Ok(json(&service.run_logs(id, query_param(query, "image"), after, 10_000).await?))
        }
        ["file"] => {
            let path = query_param(query, "path").unwrap_or_default();
            let text = service.repository_file(&path)?;
            Ok(Answer { content_type: "text/plain; charset=utf-8", body: Bytes::from(text), attachment: None })
        }
        ["file", "view"] => Ok(json(&service.file_view(&query_param(query, "path").unwrap_or_default())?)),
        ["hosts"] => Ok(json(&service.hosts_report().await?)),
        ["session"] => Ok(json(&session_of(state, &HeaderMap::new()))),
        ["impact"] => {
            let base = query_param(query, "base").ok_or_else(|| Error::invalid("base=REV is required"))?;
            Ok(json(&service.impact_bounded(base, query_param(query, "head")).await?))
        }
        ["cleanup"] => Ok(json(&service.cleanup_for_dashboard(cleanup_options(query)?).await?)),
        ["sizes"] => Ok(json(&service.sizes_for_dashboard().await?)),
        _ => Err(Error::not_found("no such API route (the API lives under /api/v1/)")),
    }
}

/// `POST /api/v1/cleanup` (`keep_last`, `min_age` as a form or a query):
/// deletes the plan made now from fresh tags and digests, as one run.
/// A form post is answered with the run's page.
async fn cleanup_delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(r) = state.auth.check_write(&headers) {
        return error(r.status(), r.message());
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let params = if form { String::from_utf8_lossy(&body).into_owned() } else { query.unwrap_or_default() };
    let opts = match cleanup_options(&params) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    match state.service.cleanup_now(opts, "dashboard").await {
        Ok(done) if form => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, format!("/builds/{}", done.run))]).into_response()
        }
        Ok(done) => json_bytes(Bytes::from(dockyard_api::to_json(&done))),
        Err(e) => e.into_response(),
    }
}

async fn read_cleanup(state: State<AppState>, query: RawQuery) -> Response {
    read(state, Some(Path("cleanup".to_owned())), query).await
}

async fn read(State(state): State<AppState>, path: Option<Path<String>>, RawQuery(query): RawQuery) -> Response {
    let path = path.map(|Path(p)| p).unwrap_or_else(|| "builds".into());
    match get(&state, &path, query.as_deref().unwrap_or("")).await {
        Ok(a) => {
            let mut resp = ([(header::CONTENT_TYPE, a.content_type)], a.body).into_response();
            if let Some(name) = a.attachment
                && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
            {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// The client's address, which the accept loop puts on every request.
fn client(req_ext: &axum::http::Extensions) -> std::net::IpAddr {
    req_ext
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

async fn login(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    if crate::web::auth::Auth::cross_site(headers) {
        return error(StatusCode::FORBIDDEN, "cross-site request refused");
    }
    let peer = client(&parts.extensions);
    if let Some(wait) = state.auth.login_wait(peer) {
        let mut resp = error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed logins from this address: try again in {wait} s"),
        );
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return resp;
    }
    let Ok(body) = axum::body::to_bytes(body, super::guard::MAX_BODY_BYTES).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "the login is too large");
    };
    // A plain HTML form (the private dashboard's login page) posts `token=…`.
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let token = serde_json::from_slice::<dockyard_api::Login>(&body)
        .map(|l| l.token)
        .unwrap_or_else(|_| query_param(&String::from_utf8_lossy(&body), "token").unwrap_or_default());
    match state.auth.login(&token) {
        Some(cookie) => {
            let mut resp = if form {
                (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response()
            } else {
                json_bytes(Bytes::from(dockyard_api::to_json(&dockyard_api::Ok { ok: true })))
            };
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        None if !state.auth.configured() => error(
            StatusCode::UNAUTHORIZED,
            format!("no access token is configured: set {} for the server", state.auth.token_env),
        ),
        None => {
            state.auth.login_failed(peer);
            error(StatusCode::UNAUTHORIZED, "wrong token")
        }
    }
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if crate::web::auth::Auth::cross_site(&headers) {
        return error(StatusCode::FORBIDDEN, "cross-site request refused");
    }
    let cookie = state.auth.logout(&headers);
    let mut resp = json_bytes(Bytes::from(dockyard_api::to_json(&dockyard_api::Ok { ok: true })));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

fn build_request(body: &Bytes) -> Result<dockyard_api::BuildRequest, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|e| Box::new(error(StatusCode::UNPROCESSABLE_ENTITY, format!("not a build request: {e}"))))
}

/// Whether the server can start builds and pulls, and whether this
/// request could (`GET /api/v1/session`, and the pages' header).
pub fn session_of(state: &AppState, headers: &HeaderMap) -> dockyard_api::Session {
    dockyard_api::Session {
        configured: state.auth.configured(),
        logged_in: state.auth.authenticated(headers),
        engines: state.service.engines().len(),
        engines_up: state.service.engines_up(),
        server_time: crate::service::now(),
    }
}

async fn session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    json_bytes(Bytes::from(dockyard_api::to_json(&session_of(&state, &headers))))
}

/// Plans asked for without credentials: a few at a time (each reads the
/// engine and the registry), the rest answered "busy".
static PLAN_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// `POST /api/v1/plan`: a preview changes nothing, so it needs no login
/// (only a request from this site).
async fn plan(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if crate::web::auth::Auth::cross_site(&headers) {
        return error(StatusCode::FORBIDDEN, "cross-site request refused");
    }
    let _slot = if state.auth.authenticated(&headers) {
        None
    } else {
        match PLAN_SLOTS.try_acquire() {
            Ok(slot) => Some(slot),
            Err(_) => return Error::unavailable("plans are busy; try again in a moment").into_response(),
        }
    };
    let request = match build_request(&body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    match state.service.plan_selection(&request).await {
        Ok(plan) => json_bytes(Bytes::from(dockyard_api::to_json(&plan))),
        Err(e) => e.into_response(),
    }
}

async fn start_build(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = state.auth.check_write(&headers) {
        return error(r.status(), r.message());
    }
    let request = match build_request(&body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    match state.service.start_build_and_pull(request, "dashboard").await {
        Ok((run, plan)) => {
            let mut resp = json_bytes(Bytes::from(dockyard_api::to_json(&dockyard_api::BuildStarted { run, plan })));
            *resp.status_mut() = StatusCode::ACCEPTED;
            resp
        }
        Err(e) => e.into_response(),
    }
}
