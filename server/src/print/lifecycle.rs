//! `cleanup` and `sizes` as text.

use super::sanitize;
use dockyard_api::{CleanupPlan, SizeReport, human_bytes};
use std::fmt::Write;

/// The cleanup plan: what goes, what stays and why, what to retire.
pub fn cleanup_text(plan: &CleanupPlan, deleting: bool) -> String {
    let mut s = String::new();
    let verb = if deleting { "deleted" } else { "would delete" };
    if plan.delete.is_empty() {
        let _ = writeln!(s, "nothing to delete ({} tags kept)", plan.keep.len());
    } else {
        let _ = writeln!(
            s,
            "{verb} {} tag(s), freeing {} after `registry garbage-collect`:",
            plan.delete.len(),
            human_bytes(plan.reclaimable_bytes)
        );
        for d in &plan.delete {
            let _ = writeln!(
                s,
                "  {}:{}  {}  ({})",
                sanitize(&d.image),
                sanitize(&d.tag),
                dockyard_core::provenance::short(&d.digest),
                sanitize(&d.reason)
            );
        }
    }
    let mut by_reason: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for k in &plan.keep {
        by_reason.entry(k.reason.as_str()).or_default().push(format!("{}:{}", k.image, k.tag));
    }
    if !plan.keep.is_empty() {
        let _ = writeln!(
            s,
            "kept {} tag(s) (current, pinned, the {} newest of each image, younger than {} days, or sharing a kept digest):",
            plan.keep.len(),
            plan.keep_last,
            plan.min_age_days
        );
        for (reason, tags) in &by_reason {
            let shown: Vec<&str> = tags.iter().take(6).map(String::as_str).collect();
            let more = if tags.len() > 6 { format!(" … and {} more", tags.len() - 6) } else { String::new() };
            let _ = writeln!(s, "  {reason:13} {}{more}", sanitize(&shown.join(", ")));
        }
    }
    if !plan.retire.is_empty() {
        let _ =
            writeln!(s, "{} image(s) no pin names and no image builds on (candidates to retire):", plan.retire.len());
        for r in &plan.retire {
            let _ = writeln!(
                s,
                "  {} {} (changelog last changed {}; {})",
                sanitize(&r.image),
                sanitize(r.version.as_deref().unwrap_or("?")),
                sanitize(r.last_changed.as_deref().unwrap_or("at an unknown date")),
                sanitize(&r.changelog)
            );
        }
    }
    for e in &plan.errors {
        let _ = writeln!(s, "error: {}", sanitize(e));
    }
    if !deleting && !plan.delete.is_empty() {
        let _ = writeln!(s, "Nothing was deleted. To delete: dockyard cleanup --delete");
    }
    s
}

/// What pulling the pins costs.
pub fn sizes_text(r: &SizeReport) -> String {
    let mut s = String::new();
    let width = r.images.iter().map(|i| i.label.len()).max().unwrap_or(5).min(80);
    let _ = writeln!(s, "{:width$}  {:>10}  {:>10}", "image", "compressed", "shared");
    for i in &r.images {
        match &i.error {
            Some(e) => {
                let _ = writeln!(s, "{:width$}  {:>10}  ({})", sanitize(&i.label), "?", sanitize(e));
            }
            None => {
                let _ = writeln!(
                    s,
                    "{:width$}  {:>10}  {:>10}",
                    sanitize(&i.label),
                    human_bytes(i.compressed_bytes),
                    human_bytes(i.shared_bytes)
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "a fresh agent downloads {} to pull all {} pinned images ({}, each layer once)",
        human_bytes(r.fresh_agent_bytes),
        r.images.len(),
        r.platform
    );
    for h in &r.hosts {
        match (h.missing_bytes, &h.error) {
            (Some(n), _) => {
                let _ = writeln!(s, "  {} still needs {}", sanitize(&h.host), human_bytes(n));
            }
            (None, e) => {
                let _ = writeln!(s, "  {}: unknown ({})", sanitize(&h.host), sanitize(e.as_deref().unwrap_or("")));
            }
        }
    }
    for e in &r.errors {
        let _ = writeln!(s, "error: {}", sanitize(e));
    }
    s
}
