//! Who may start builds and pulls: whoever presents the access token
//! (from the environment, never a default), as a bearer token or through a
//! session cookie (`Secure`, `HttpOnly`, `SameSite=Strict`) that a login
//! with the token sets. State-changing requests are POSTs; a POST that
//! comes from another site (its `Origin`, or `Sec-Fetch-Site`) is refused
//! before anything else.
//!
//! In private mode [`gate`] is one layer over the whole router: every page,
//! API route, live stream, file and `/metrics` answers 401 (pages: a login
//! page that holds no repository data) until the request carries the
//! token or a session; only `/healthz`, `/login`, the login API and the
//! static assets stay open. `/metrics` also takes a separate metrics-only
//! token. Failed logins are limited per client address.

use axum::http::{HeaderMap, StatusCode, header};
use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sessions last this long.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The session cookie's name.
pub const COOKIE: &str = "dockyard_session";

/// The access token and the live sessions.
pub struct Auth {
    token: Option<String>,
    /// Where the token comes from, for "how to log in" messages.
    pub token_env: String,
    sessions: Mutex<HashMap<String, Instant>>,
    /// Reads need a login too.
    pub private: bool,
    /// A token that may read `/metrics` only.
    metrics_token: Option<String>,
    /// Failed logins per client address, in the last [`LOGIN_WINDOW`].
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

/// Failed logins a client may make in [`LOGIN_WINDOW`] before it must wait.
pub const MAX_LOGIN_FAILURES: usize = 10;
/// The window failed logins are counted in.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// Client addresses whose failures are remembered (the oldest are dropped).
const MAX_TRACKED_CLIENTS: usize = 10_000;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 403: the request comes from another site.
    CrossSite,
    /// 401: no valid credentials.
    Unauthenticated(String),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::CrossSite => StatusCode::FORBIDDEN,
            Refusal::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::CrossSite => "cross-site request refused".into(),
            Refusal::Unauthenticated(m) => m.clone(),
        }
    }
}

/// 128 bits from the kernel's random source; none when it cannot be read
/// (no session is better than a guessable one).
fn random_id() -> Option<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).ok()?;
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Compares without leaking where they first differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

impl Auth {
    /// The token is read from the environment variable `token_env`; an
    /// empty or missing one means nobody can start anything.
    pub fn from_env(token_env: &str, private: bool) -> Auth {
        let token = std::env::var(token_env).ok().filter(|t| t.len() >= 8);
        Auth {
            token,
            token_env: token_env.to_owned(),
            sessions: Mutex::new(HashMap::new()),
            private,
            metrics_token: None,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Also accepts the token in `metrics_env` (at least 8 characters) for `/metrics`.
    pub fn with_metrics_token(mut self, metrics_env: &str) -> Auth {
        self.metrics_token = std::env::var(metrics_env).ok().filter(|t| t.len() >= 8);
        self
    }

    /// Whether `/metrics` may be read with these headers: anyone when reads
    /// are public, else the token, a session, or the metrics token.
    pub fn may_scrape(&self, headers: &HeaderMap) -> bool {
        if !self.private || self.authenticated(headers) {
            return true;
        }
        match (&self.metrics_token, bearer(headers)) {
            (Some(t), Some(b)) => same(b, t),
            _ => false,
        }
    }

    /// Seconds `client` must wait before another login, when it failed
    /// [`MAX_LOGIN_FAILURES`] times in the last minute.
    pub fn login_wait(&self, client: IpAddr) -> Option<u64> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let list = failures.get_mut(&client)?;
        list.retain(|t| t.elapsed() < LOGIN_WINDOW);
        if list.len() < MAX_LOGIN_FAILURES {
            return None;
        }
        let oldest = list.iter().min().copied()?;
        Some(LOGIN_WINDOW.saturating_sub(oldest.elapsed()).as_secs().max(1))
    }

    /// Counts a failed login of `client`.
    pub fn login_failed(&self, client: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_TRACKED_CLIENTS && !failures.contains_key(&client) {
            failures.retain(|_, l| l.iter().any(|t| t.elapsed() < LOGIN_WINDOW));
            if failures.len() >= MAX_TRACKED_CLIENTS {
                failures.clear();
            }
        }
        let list = failures.entry(client).or_default();
        list.retain(|t| t.elapsed() < LOGIN_WINDOW);
        list.push(Instant::now());
    }

    pub fn configured(&self) -> bool {
        self.token.is_some()
    }

    /// A POST from another site: its `Origin` names another host, or the
    /// browser says so (`Sec-Fetch-Site: cross-site`).
    pub fn cross_site(headers: &HeaderMap) -> bool {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok()) {
            let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
            if origin == "null" || !authority.eq_ignore_ascii_case(host) {
                return true;
            }
        }
        matches!(headers.get("sec-fetch-site").and_then(|h| h.to_str().ok()), Some("cross-site" | "same-site"))
    }

    /// Whether the request carries valid credentials (bearer token or session).
    pub fn authenticated(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else { return false };
        if let Some(bearer) = bearer(headers) {
            return same(bearer, token);
        }
        match cookie(headers, COOKIE) {
            Some(id) => {
                let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
                sessions.retain(|_, t| t.elapsed() < SESSION_TTL);
                sessions.contains_key(&id)
            }
            None => false,
        }
    }

    /// The check of every state-changing request: same site, then credentials.
    pub fn check_write(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if Self::cross_site(headers) {
            return Err(Refusal::CrossSite);
        }
        if self.token.is_none() {
            return Err(Refusal::Unauthenticated(format!(
                "no access token is configured: set {} for the server to allow builds and pulls",
                self.token_env
            )));
        }
        if !self.authenticated(headers) {
            return Err(Refusal::Unauthenticated("log in (or send the token as a bearer token)".into()));
        }
        Ok(())
    }

    /// A login with `token`: the `Set-Cookie` value of a new session.
    pub fn login(&self, token: &str) -> Option<String> {
        let expected = self.token.as_ref()?;
        if !same(token.trim(), expected) {
            return None;
        }
        let Some(id) = random_id() else {
            tracing::error!("cannot read /dev/urandom: no session");
            return None;
        };
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), Instant::now());
        Some(format!("{COOKIE}={id}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}", SESSION_TTL.as_secs()))
    }

    /// Ends the session the request carries; the `Set-Cookie` that clears it.
    pub fn logout(&self, headers: &HeaderMap) -> String {
        if let Some(id) = cookie(headers, COOKIE) {
            self.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        }
        format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
    }
}

/// Paths open to everyone, also in private mode: the health check, the
/// login page and API, and the built front end (no repository data).
pub fn open_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/login" | "/api/v1/login" | "/favicon.ico") || path.starts_with("/pkg/")
}

/// The login page of a private dashboard: no repository data at all.
pub fn login_page(message: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>Log in · dockyard</title>\
         <link rel=\"stylesheet\" href=\"/pkg/app.css\"></head><body><main class=\"login-page\">\
         <h1>dockyard</h1><p role=\"status\">{}</p>\
         <form method=\"post\" action=\"/api/v1/login\"><label for=\"token\">Access token</label> \
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required> \
         <button class=\"primary\" type=\"submit\">Log in</button></form></main></body></html>",
        crate::print::xml(message)
    )
}

/// The one layer of authentication over the whole router (see the module).
pub async fn gate(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = req.uri().path();
    let auth = &state.auth;
    if path == "/login" && req.method() == axum::http::Method::GET {
        let message = if auth.configured() {
            "This dashboard is private: log in with the access token."
        } else {
            "No access token is configured for this server, so nobody can log in."
        };
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], login_page(message)).into_response();
    }
    if !auth.private || open_path(path) || auth.authenticated(req.headers()) {
        return next.run(req).await;
    }
    if path == "/metrics" && auth.may_scrape(req.headers()) {
        return next.run(req).await;
    }
    let mut resp = if path.starts_with("/api/") || path == "/metrics" {
        super::api::error(
            StatusCode::UNAUTHORIZED,
            "this dashboard is private: log in, or send the token as a bearer token",
        )
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            login_page("This dashboard is private: log in with the access token."),
        )
            .into_response()
    };
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
    resp.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn tokens_sessions_and_sites() {
        let auth = Auth {
            token: Some("0123456789abcdef".into()),
            token_env: "T".into(),
            sessions: Mutex::default(),
            private: false,
            metrics_token: None,
            failures: Mutex::default(),
        };
        let host = ("host", "127.0.0.1:3000");
        assert_eq!(
            auth.check_write(&headers(&[host])),
            Err(Refusal::Unauthenticated("log in (or send the token as a bearer token)".into()))
        );
        assert_eq!(auth.check_write(&headers(&[host, ("origin", "https://evil.example")])), Err(Refusal::CrossSite));
        assert!(auth.check_write(&headers(&[host, ("authorization", "Bearer 0123456789abcdef")])).is_ok());
        assert!(auth.check_write(&headers(&[host, ("authorization", "Bearer 0123456789abcdeX")])).is_err());
        assert!(auth.login("wrong").is_none());
        let set = auth.login("0123456789abcdef").unwrap();
        assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"));
        let id = set.split(';').next().unwrap();
        assert!(auth.check_write(&headers(&[host, ("cookie", id), ("origin", "http://127.0.0.1:3000")])).is_ok());
        assert_eq!(
            auth.check_write(&headers(&[host, ("cookie", id), ("sec-fetch-site", "cross-site")])),
            Err(Refusal::CrossSite)
        );
        let none = Auth::from_env("DOCKYARD_TEST_NO_SUCH_VARIABLE", false);
        assert!(
            matches!(none.check_write(&headers(&[host])), Err(Refusal::Unauthenticated(m)) if m.contains("DOCKYARD_TEST_NO_SUCH_VARIABLE"))
        );
    }
}
