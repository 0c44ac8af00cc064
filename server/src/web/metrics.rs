//! `GET /metrics` in Prometheus' text format (version 0.0.4): pins by
//! status, the age of each source's data, runs and image builds by state
//! with run durations, each engine's presence of the pinned images, and the
//! latency of every request by route.
//!
//! While the store is unreachable, `dockyard_source_up{source="store"}` is
//! 0 and the run series (`dockyard_runs`, `dockyard_run_duration_seconds`,
//! `dockyard_image_builds`) are absent: dropped together, not reported as
//! zero.
//!
//! Invariant: label values are bounded. A route is the template of the
//! route that matched (`/api/v1/builds/{id}`), or `unmatched`, never the
//! path a visitor sent; a method is `GET`, `POST` or `other`. So the
//! series are at most routes × 3 × status classes, whatever arrives; every
//! label value is escaped.

use super::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request latencies by (route, method, status class).
#[derive(Default)]
pub struct HttpMetrics {
    series: Mutex<BTreeMap<(String, String, u16), Histogram>>,
}

impl HttpMetrics {
    pub fn observe(&self, route: String, method: &str, status: StatusCode, took: Duration) {
        let secs = took.as_secs_f64();
        let key = (route, method.to_owned(), status.as_u16() / 100 * 100);
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let h = series.entry(key).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    fn render(&self, out: &mut String) {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner()).clone();
        family(
            out,
            "dockyard_http_request_duration_seconds",
            "histogram",
            "Time to answer a request (to the response head), by route.",
        );
        for ((route, method, class), h) in series {
            let labels =
                format!("route=\"{}\",method=\"{}\",status=\"{}xx\"", escape(&route), escape(&method), class / 100);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "dockyard_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ = writeln!(out, "dockyard_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "dockyard_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "dockyard_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
    }
}

/// The route label: the matched route's template (for the API's
/// catch-all read route, the read's own template), or `unmatched` (a 404
/// is `unmatched` too).
pub fn route_label<'a>(matched: Option<&'a str>, path: &str, status: StatusCode) -> &'a str {
    match matched {
        _ if status == StatusCode::NOT_FOUND => "unmatched",
        Some("/api/v1/{*path}") => {
            path.strip_prefix("/api/v1/").and_then(super::api::read_route).unwrap_or("unmatched")
        }
        Some(m) => m,
        None => "unmatched",
    }
}

/// The method label: one of a fixed set.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    match *method {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        _ => "other",
    }
}

/// Middleware: times every request.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let matched = req.extensions().get::<axum::extract::MatchedPath>().map(|m| m.as_str().to_owned());
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let route = route_label(matched.as_deref(), &path, resp.status()).to_owned();
    state.http.observe(route, method, resp.status(), started.elapsed());
    resp
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let service = &state.service;
    let mut out = String::new();
    let now = crate::service::now();

    // Pins by status (every status, zeros included, so rates work).
    if let Ok(s) = service.snapshot()
        && let Ok(p) = s.pins_report()
    {
        family(&mut out, "dockyard_pins", "gauge", "Pins in the job definitions, by lint status.");
        for status in dockyard_api::Status::ALL {
            let n = p.summary.by_status.get(&status).copied().unwrap_or(0);
            let _ = writeln!(out, "dockyard_pins{{status=\"{}\"}} {n}", status.as_str());
        }
    }

    // Sources: up, and the age of their data.
    // The engines are asked once, all at once, for the whole scrape (and
    // at most once every few seconds, whoever scrapes).
    let engines = service.engines_for_metrics().await;
    let health = &engines.health;
    let overview = service.overview_with(false, health).await;
    family(&mut out, "dockyard_source_up", "gauge", "1 when the source is connected and read without error.");
    for src in &overview.sources {
        let up = matches!(src.health, dockyard_api::Health::Ok | dockyard_api::Health::Degraded) as u8;
        let _ = writeln!(out, "dockyard_source_up{{source=\"{}\"}} {up}", escape(src.name.as_str()));
    }
    family(&mut out, "dockyard_source_age_seconds", "gauge", "Age of the data each source last gave.");
    for src in &overview.sources {
        if let Some(at) = src.updated_at {
            let _ = writeln!(
                out,
                "dockyard_source_age_seconds{{source=\"{}\"}} {}",
                escape(src.name.as_str()),
                (now - at).max(0)
            );
        }
    }

    // Builds.
    if let Ok(runs) = service.runs_for_metrics().await {
        let mut by_state: BTreeMap<&str, (u64, i64, u64)> = BTreeMap::new();
        let mut images: BTreeMap<&str, u64> = BTreeMap::new();
        for r in &runs {
            let e = by_state.entry(r.state.as_str()).or_default();
            e.0 += 1;
            if let Some(f) = r.finished_at {
                e.1 += (f - r.started_at).max(0);
                e.2 += 1;
            }
            for (st, n) in &r.counts {
                *images.entry(st.as_str()).or_default() += *n as u64;
            }
        }
        family(&mut out, "dockyard_runs", "gauge", "Stored build runs, by state.");
        for (st, (n, ..)) in &by_state {
            let _ = writeln!(out, "dockyard_runs{{state=\"{st}\"}} {n}");
        }
        family(&mut out, "dockyard_run_duration_seconds", "summary", "Wall time of finished runs, by state.");
        for (st, (_, sum, count)) in &by_state {
            let _ = writeln!(out, "dockyard_run_duration_seconds_sum{{state=\"{st}\"}} {sum}");
            let _ = writeln!(out, "dockyard_run_duration_seconds_count{{state=\"{st}\"}} {count}");
        }
        family(&mut out, "dockyard_image_builds", "gauge", "Images of the stored runs, by their final state.");
        for (st, n) in &images {
            let _ = writeln!(out, "dockyard_image_builds{{state=\"{st}\"}} {n}");
        }
    }

    // Engines: reachable, and which pinned images each has.
    if let Some(h) = &engines.hosts {
        family(&mut out, "dockyard_host_up", "gauge", "1 when the Docker engine answers.");
        for host in &h.hosts {
            let _ = writeln!(out, "dockyard_host_up{{host=\"{}\"}} {}", escape(&host.name), host.reachable as u8);
        }
        family(&mut out, "dockyard_host_pinned_images", "gauge", "Pinned images on each engine, by presence.");
        for (i, host) in h.hosts.iter().enumerate() {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for p in [
                dockyard_api::Presence::Present,
                dockyard_api::Presence::Missing,
                dockyard_api::Presence::Outdated,
                dockyard_api::Presence::Unknown,
            ] {
                counts.insert(p.as_str(), 0);
            }
            for c in h.cells.get(i).into_iter().flatten() {
                *counts.entry(c.as_str()).or_default() += 1;
            }
            for (p, n) in counts {
                let _ = writeln!(
                    out,
                    "dockyard_host_pinned_images{{host=\"{}\",presence=\"{p}\"}} {n}",
                    escape(&host.name)
                );
            }
        }
    }

    // The lifecycle: what cleanup would free, what a fresh agent downloads
    // (known once the server read the registry), and the images to retire.
    if let Some(n) = overview.reclaimable_bytes {
        family(
            &mut out,
            "dockyard_cleanup_reclaimable_bytes",
            "gauge",
            "Compressed bytes the cleanup plan would free in the registry (default rules).",
        );
        let _ = writeln!(out, "dockyard_cleanup_reclaimable_bytes {n}");
    }
    if let Some(n) = overview.fresh_agent_bytes {
        family(
            &mut out,
            "dockyard_fresh_agent_bytes",
            "gauge",
            "Compressed bytes a new agent downloads to pull every pin.",
        );
        let _ = writeln!(out, "dockyard_fresh_agent_bytes {n}");
    }
    if let Some(n) = overview.retire_candidates {
        family(&mut out, "dockyard_retire_candidates", "gauge", "Images no pin names and no catalog image builds on.");
        let _ = writeln!(out, "dockyard_retire_candidates {n}");
    }

    state.http.render(&mut out);
    let mut resp = out.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the text format wants it.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_bounded_and_labels_escaped() {
        assert_eq!(route_label(Some("/builds/{id}"), "/builds/7", StatusCode::OK), "/builds/{id}");
        assert_eq!(
            route_label(Some("/api/v1/{*path}"), "/api/v1/builds/7/logs", StatusCode::OK),
            "/api/v1/builds/{id}/logs"
        );
        assert_eq!(route_label(Some("/api/v1/{*path}"), "/api/v1/r1234", StatusCode::UNAUTHORIZED), "unmatched");
        assert_eq!(route_label(Some("/api/v1/{*path}"), "/api/v1/pins", StatusCode::NOT_FOUND), "unmatched");
        assert_eq!(route_label(None, "/x", StatusCode::UNAUTHORIZED), "unmatched");
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
        assert_eq!(method_label(&axum::http::Method::from_bytes(b"XYZZY").unwrap()), "other");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_histogram_counts_each_request_in_every_bucket_above_it() {
        let m = HttpMetrics::default();
        m.observe("/pins".into(), "GET", StatusCode::OK, Duration::from_micros(3000));
        m.observe("/pins".into(), "GET", StatusCode::OK, Duration::from_millis(200));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("dockyard_http_request_duration_seconds_bucket{route=\"/pins\",method=\"GET\",status=\"2xx\",le=\"0.0025\"} 0"), "{out}");
        assert!(out.contains("le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("le=\"0.25\"} 2"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 2"), "{out}");
        assert!(
            out.contains(
                "dockyard_http_request_duration_seconds_count{route=\"/pins\",method=\"GET\",status=\"2xx\"} 2"
            ),
            "{out}"
        );
    }
}
