//! How pages get their data: the API's JSON shapes (`dockyard_api`), read
//! on the server through `ServerData` (the API's own read function, called
//! in-process) and in the browser through `gloo-net`. Leptos serializes what
//! the server read into the page, so hydration does not fetch again.

pub use dockyard_api::*;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;

/// Answers an API path (`/api/v1/…?…`) with its JSON, on the server.
pub type Getter =
    Arc<dyn Fn(String) -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// How the server hands data to pages rendered on the server.
#[derive(Clone)]
pub struct ServerData {
    pub get: Getter,
    /// Sets the page's HTTP status (an unknown page is a 404, a failed
    /// read its error's status).
    pub set_status: Arc<dyn Fn(u16) + Send + Sync>,
}

/// Says, on the server, that this page is not found (a 404 status).
pub fn not_found_status() {
    #[cfg(feature = "ssr")]
    if let Some(d) = leptos::prelude::use_context::<ServerData>() {
        (d.set_status)(404);
    }
}

/// GET an API path and decode its JSON.
pub async fn get_json<T: DeserializeOwned + Send + 'static>(path: String) -> Result<T, String> {
    let text = get_text(path).await?;
    serde_json::from_str(&text).map_err(|e| format!("unexpected answer: {e}"))
}

/// GET an API path's body.
pub async fn get_text(path: String) -> Result<String, String> {
    #[cfg(feature = "ssr")]
    {
        let data = leptos::prelude::use_context::<ServerData>().ok_or("no server data")?;
        return (data.get)(path).await;
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        // gloo-net's futures are not Send; the browser has one thread.
        return send_wrapper::SendWrapper::new(async move {
            let resp = gloo_net::http::Request::get(&path).send().await.map_err(|e| e.to_string())?;
            let ok = resp.ok();
            let text = resp.text().await.map_err(|e| e.to_string())?;
            if ok { Ok(text) } else { Err(error_text(&text)) }
        })
        .await;
    }
    #[allow(unreachable_code)]
    {
        let _ = path;
        Err("built without ssr or hydrate".into())
    }
}

/// The message of an API error answer.
pub fn error_text(body: &str) -> String {
    serde_json::from_str::<ApiError>(body).map(|e| e.error).unwrap_or_else(|_| body.chars().take(200).collect())
}

/// POST JSON to an API path (browser only); the decoded answer, or the
/// status and message of a refusal.
pub async fn post_json<B: serde::Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, (u16, String)> {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        let req = gloo_net::http::Request::post(path).json(body).map_err(|e| (0, e.to_string()))?;
        let resp = req.send().await.map_err(|e| (0, e.to_string()))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| (status, e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err((status, error_text(&text)));
        }
        return serde_json::from_str(&text).map_err(|e| (status, e.to_string()));
    }
    #[allow(unreachable_code)]
    {
        let _ = (path, body);
        Err((0, "only in the browser".into()))
    }
}

/// Seconds since the epoch as `2026-11-28 02:15 UTC` (the same on the
/// server and in the browser, so hydration sees the same text).
pub fn format_time(ts: Timestamp) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

/// A duration as `850 ms`, `12.3 s`, `4 min 05 s`; never negative (two
/// clocks that disagree a little read as `0 ms`).
pub fn format_duration(ms: i64) -> String {
    match ms.max(0) {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{} s", fixed1(ms as f64 / 1000.0)),
        ms => format!("{} min {:02} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

/// An age in seconds as `42 s`, `7 min`, `3 h`, `2 days`.
pub fn format_age(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// An API path segment, percent-encoded.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `v` with one decimal, as `format!("{v:.1}")` prints it for the values a
/// page shows, without pulling the float formatter (about 8 KB gzipped)
/// into the WASM bundle.
pub fn fixed1(v: f64) -> String {
    let tenths = (v * 10.0).round() as i64;
    let sign = if tenths < 0 { "-" } else { "" };
    format!("{sign}{}.{}", tenths.unsigned_abs() / 10, tenths.unsigned_abs() % 10)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_have_one_format_and_are_never_negative() {
        assert_eq!(super::format_duration(-1500), "0 ms");
        assert_eq!(super::format_duration(850), "850 ms");
        assert_eq!(super::format_duration(12_340), "12.3 s");
        assert_eq!(super::format_duration(245_000), "4 min 05 s");
    }

    #[test]
    fn fixed1_is_std_formatting() {
        for v in [0.0, 0.04, 0.05, 0.15, 1.0, 12.34, 99.95, 123456.789, -0.5, -3.25, 960.0, -420.06] {
            let ours = super::fixed1(v);
            let std = format!("{v:.1}");
            // Rust rounds ties to even on the binary value; both agree
            // except on exact binary ties, which layouts do not produce.
            assert!(ours == std || (v * 10.0).fract().abs() == 0.5, "{v}: {ours} vs {std}");
        }
        assert_eq!(super::fixed1(-0.04), "0.0");
    }
}
