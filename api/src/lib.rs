//! The JSON shapes of dockyard: what `dockyard … --format json` prints and
//! what `GET /api/v1/…` answers, byte for byte (both go through [`to_json`]).
//! The browser (WASM) deserializes the same types, so the three can never
//! drift apart.
//!
//! Invariant: plain data only. No I/O, no dependency beyond serde, so the
//! crate compiles for `wasm32-unknown-unknown` and costs the bundle little.

pub mod builds;
pub mod catalog;
pub mod hosts;
pub mod impact;
pub mod lifecycle;
pub mod overview;
pub mod pins;
pub mod registry;

pub use builds::*;
pub use catalog::*;
pub use hosts::*;
pub use impact::*;
pub use lifecycle::*;
pub use overview::*;
pub use pins::*;
pub use registry::*;

use serde::{Deserialize, Serialize};

/// The API's path prefix.
pub const API_PREFIX: &str = "/api/v1";

/// Response header carrying the generation of the snapshot a response was made from.
pub const SNAPSHOT_HEADER: &str = "x-dockyard-snapshot";
/// Response header carrying the snapshot's age in seconds.
pub const SNAPSHOT_AGE_HEADER: &str = "x-dockyard-snapshot-age";

/// The one serialization of every API value: pretty JSON and a final newline.
/// The CLI prints it and the server answers it, so the two are byte-equal.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// A problem in one input file, with its line when known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Problem {
    /// The file, relative to the repository when it is inside it.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: {}", self.message),
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// An error answer of the API (`{"error": "..."}`), for 4xx and 5xx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

/// `GET /api/v1/session`: whether the server has an access token (so that
/// logging in can work at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub configured: bool,
    /// The request carries a valid session or bearer token.
    #[serde(default)]
    pub logged_in: bool,
    /// Engines builds and pulls go to (0: none is configured).
    #[serde(default)]
    pub engines: usize,
    /// How many of them answered when last asked (a few seconds ago at
    /// most; `None` until they have been asked).
    #[serde(default)]
    pub engines_up: Option<usize>,
    /// The server's clock when it answered (Unix seconds): what pages count
    /// "3 min ago" from, so that lists the server keeps (the run list) are
    /// never shown with a time that went stale with them.
    #[serde(default)]
    pub server_time: i64,
}

impl Session {
    /// Why starting a build or a pull cannot work now, if it cannot.
    pub fn blocked(&self) -> Option<&'static str> {
        if !self.configured {
            Some("Starting is off: the operator has not set an access token for this server.")
        } else if self.engines == 0 {
            Some("No engine is connected: the operator sets DOCKER_HOST, or [[hosts]] in the operator file.")
        } else if self.engines_up == Some(0) {
            Some("No engine answers now: see Hosts for why.")
        } else if !self.logged_in {
            Some("Log in to start.")
        } else {
            None
        }
    }
}

/// The answer of a write that has nothing else to say (`POST /api/v1/login`,
/// `POST /api/v1/logout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ok {
    pub ok: bool,
}

/// `POST /api/v1/login`'s body (a form posts `token=…` instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub token: String,
}

/// Seconds since the Unix epoch.
pub type Timestamp = i64;
