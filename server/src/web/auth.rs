//! Who may start builds and pulls: whoever presents the access token
//! (from the environment, never a default), as a bearer token or through a
//! session cookie (`Secure`, `HttpOnly`, `SameSite=Strict`) that a login
//! with the token sets. State-changing requests are POSTs; a POST that
//! comes from another site (its `Origin`, or `Sec-Fetch-Site`) is refused
//! before anything else.

use axum::http::{HeaderMap, StatusCode, header};
use std::collections::HashMap;
use std::io::Read;
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
}

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
        Auth { token, token_env: token_env.to_owned(), sessions: Mutex::new(HashMap::new()), private }
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
        if let Some(bearer) =
            headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "))
        {
            return same(bearer.trim(), token);
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

    /// The check of reads when reads are private.
    pub fn check_read(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if self.private && !self.authenticated(headers) {
            return Err(Refusal::Unauthenticated("this dashboard needs a login".into()));
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
