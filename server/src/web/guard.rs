//! Guard rails for every request: the `Host` must be one the server
//! serves (DNS rebinding cannot read the API), bodies are small, a request
//! has a deadline, and responses say which snapshot they come from.

use super::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Largest request body (the API takes small JSON documents).
pub const MAX_BODY_BYTES: usize = 64 << 10;
/// Deadline of a request that is not a live stream.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Which `Host` names are served.
pub struct Guard {
    /// Names allowed besides IP literals and `localhost`.
    pub allowed_hosts: Vec<String>,
}

impl Guard {
    pub fn new(addr: SocketAddr, allowed_hosts: &[String]) -> Guard {
        let mut names: Vec<String> = allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        names.push(addr.ip().to_string());
        Guard { allowed_hosts: names }
    }

    /// IP literals cannot be rebound; `localhost` resolves locally; other
    /// names only when configured. `Host` is parsed as an authority
    /// (`name[:port]` or `[v6][:port]`) and the name compared exactly.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let Some(name) = authority_host(&host) else { return false };
        name.parse::<IpAddr>().is_ok() || name == "localhost" || self.allowed_hosts.iter().any(|h| h == name)
    }
}

/// The host of an authority `name[:port]` or `[v6][:port]`, when it is
/// one: nothing may follow `]` but a port, a port is digits, and a name
/// holds only the characters of DNS names and IPv4 addresses.
fn authority_host(authority: &str) -> Option<&str> {
    let port_ok = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(port_ok)) {
            return None;
        }
        return v6.parse::<std::net::Ipv6Addr>().is_ok().then_some(v6);
    }
    let name = match authority.rsplit_once(':') {
        Some((h, p)) if port_ok(p) => h,
        Some(_) => return None,
        None => authority,
    };
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then_some(name)
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = dockyard_api::to_json(&dockyard_api::ApiError { error: message.to_owned() });
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The middleware.
pub async fn check(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    if !state.guard.allows(&host) {
        return json_error(
            StatusCode::MISDIRECTED_REQUEST,
            "this server does not serve that Host (see --allowed-host)",
        );
    }
    let streaming = req.uri().path().ends_with("/events");
    let mut resp = if streaming {
        next.run(req).await
    } else {
        match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
            Ok(r) => r,
            Err(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "the request took too long"),
        }
    };
    if let Ok(snapshot) = state.service.snapshot() {
        let h = resp.headers_mut();
        h.insert(dockyard_api::SNAPSHOT_HEADER, HeaderValue::from(snapshot.generation));
        h.insert(dockyard_api::SNAPSHOT_AGE_HEADER, HeaderValue::from(snapshot.age()));
    }
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let g = Guard::new("127.0.0.1:3000".parse().unwrap(), &["dockyard.example.org".into()]);
        for ok in [
            "127.0.0.1:3000",
            "localhost:3000",
            "[::1]:3000",
            "dockyard.example.org",
            "DOCKYARD.example.org:443",
            "10.1.2.3",
        ] {
            assert!(g.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "127.0.0.1.evil.example:3000",
            "",
            "localhost.evil",
            "[::1]evil.example",
            "[::1]:3000evil",
            "localhost:3000:3000",
            "local host",
            "[::1",
        ] {
            assert!(!g.allows(bad), "{bad}");
        }
    }
}
