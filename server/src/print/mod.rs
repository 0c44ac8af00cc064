//! Printers: every output format in one place, shared by the CLI and the
//! web (the dashboard downloads the same pull script, DOT and patch the CLI
//! writes). Printers are pure: values in, text out.
//!
//! Invariant: text for a terminal never carries control characters from
//! file contents (they are shown escaped); XML never carries characters XML
//! forbids; shell never carries a byte from input outside single quotes.

pub use dockyard_core::patch as diff;
pub mod impact;
pub mod lifecycle;
pub mod lint;
pub mod shell;

use dockyard_api::{GraphReport, RegistryReport};
use std::fmt::Write as _;

/// `s` safe for a terminal: control characters (but tab) shown as escapes.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return s.to_owned();
    }
    s.chars()
        .map(|c| if c.is_control() && c != '\t' { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

/// `s` for XML text or attribute values: escaped, and characters XML 1.0
/// forbids replaced by U+FFFD.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `s` as a DOT double-quoted string.
fn dot_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The graph in Graphviz DOT: parents point at children; edges that only
/// one of control and the template declares are dashed and red.
pub fn dot(graph: &GraphReport) -> String {
    let mut s = String::from("digraph dockyard {\n  rankdir=LR;\n  node [shape=box];\n");
    for n in &graph.nodes {
        let _ = writeln!(s, "  {};", dot_quote(n));
    }
    for e in &graph.edges {
        let style = match e.source {
            dockyard_api::EdgeSource::Both => "",
            _ => " [style=dashed, color=red]",
        };
        let _ = writeln!(s, "  {} -> {}{style};", dot_quote(&e.parent), dot_quote(&e.child));
    }
    s.push_str("}\n");
    s
}

/// The graph as text: one line per image with its parents.
pub fn graph_text(graph: &GraphReport) -> String {
    let mut parents: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for e in &graph.edges {
        parents.entry(e.child.as_str()).or_default().push(e.parent.as_str());
    }
    let mut s = String::new();
    for n in &graph.nodes {
        match parents.get(n.as_str()) {
            Some(p) => {
                let _ = writeln!(s, "{} <- {}", sanitize(n), sanitize(&p.join(", ")));
            }
            None => {
                let _ = writeln!(s, "{}", sanitize(n));
            }
        }
    }
    s
}

/// Seconds as a short age: `42s`, `7m`, `3h`, `2d`.
pub fn age(seconds: Option<i64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s < 120 => format!("{s}s"),
        Some(s) if s < 7200 => format!("{}m", s / 60),
        Some(s) if s < 172_800 => format!("{}h", s / 3600),
        Some(s) => format!("{}d", s / 86400),
    }
}

/// The registry index as a table.
pub fn registry_table(report: &RegistryReport, now: i64) -> String {
    let mut s = String::new();
    for r in &report.registries {
        let _ = writeln!(s, "registry {}: {} repositories", sanitize(&r.registry), r.entries.len());
        // One error for the whole registry (it is unreachable) is said once.
        let first = r.entries.first().and_then(|e| e.error.as_deref());
        let common = first.filter(|f| r.entries.iter().all(|e| e.error.as_deref() == Some(*f)));
        if let Some(err) = common {
            let _ = writeln!(s, "{}: every repository below is from the stored index", sanitize(err));
        }
        let w = r.entries.iter().map(|e| e.image.len()).max().unwrap_or(5).max(5);
        let _ = writeln!(
            s,
            "{:w$}  {:14}  {:9}  {:>5}  {:7}  {:>5}  NEWEST TAGS",
            "IMAGE", "LATEST", "PUBLISHED", "TAGS", "STATE", "AGE"
        );
        for e in &r.entries {
            let published = match e.published {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "?",
            };
            let newest: Vec<&str> = e.tags.iter().rev().take(3).map(String::as_str).collect();
            let _ = writeln!(
                s,
                "{:w$}  {:14}  {:9}  {:>5}  {:7}  {:>5}  {}",
                sanitize(&e.image),
                sanitize(e.latest.as_deref().unwrap_or("-")),
                published,
                e.tags.len(),
                e.state.as_str(),
                age(e.fetched_at.map(|t| now - t)),
                sanitize(&newest.join(" "))
            );
            if let Some(err) = e.error.as_deref().filter(|e| Some(*e) != common) {
                let _ = writeln!(s, "{:w$}  ^ {}", "", sanitize(err));
            }
        }
    }
    s
}

/// A build plan as `build --dry-run` prints it.
pub fn plan_text(plan: &dockyard_api::Plan) -> String {
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    };
    let w = plan.items.iter().map(|i| i.name.len()).max().unwrap_or(5).max(5);
    let mut s = String::new();
    let _ = writeln!(s, "{:w$}  {:8}  {:8}  {:6}  WHY", "IMAGE", "ACTION", "REGISTRY", "ENGINE");
    for i in &plan.items {
        let _ = writeln!(
            s,
            "{:w$}  {:8}  {:8}  {:6}  {}",
            sanitize(&i.name),
            i.action.as_str(),
            yes_no(i.in_registry),
            yes_no(i.in_engine),
            sanitize(&i.reason)
        );
    }
    let count = |a: dockyard_api::Action| plan.items.iter().filter(|i| i.action == a).count();
    let _ = writeln!(
        s,
        "{} to build, {} to verify and publish, {} left as they are{}; {} at once{}{}",
        count(dockyard_api::Action::Build) + count(dockyard_api::Action::StaleBuild),
        count(dockyard_api::Action::Publish),
        count(dockyard_api::Action::Present),
        match count(dockyard_api::Action::Broken) {
            0 => String::new(),
            n => format!(", {n} broken"),
        },
        plan.jobs,
        if plan.push { ", publishing" } else { "" },
        if plan.pull { "" } else { ", no pulls" }
    );
    if !plan.critical_path.is_empty() {
        let _ =
            writeln!(s, "critical path ({}): {}", plan.critical_path.len(), sanitize(&plan.critical_path.join(" -> ")));
    }
    s
}

/// Stored runs as a table, newest first.
pub fn runs_table(list: &dockyard_api::RunList, now: i64) -> String {
    let runs = &list.runs;
    let mut s = String::new();
    if runs.is_empty() {
        s.push_str("no runs\n");
        return s;
    }
    let _ = writeln!(s, "{:>5}  {:11}  {:>7}  {:>8}  {:20}  IMAGES", "RUN", "STATE", "AGE", "TOOK", "TRIGGER");
    for r in runs {
        let took = r.finished_at.map(|f| format!("{}s", f - r.started_at)).unwrap_or_else(|| "-".into());
        let counts: Vec<String> = r
            .counts
            .iter()
            .filter(|(st, _)| **st != dockyard_api::ImageState::Present)
            .map(|(st, n)| format!("{n} {}", st.as_str()))
            .collect();
        let _ = writeln!(
            s,
            "{:>5}  {:11}  {:>7}  {:>8}  {:20}  {}",
            r.id,
            r.state.as_str(),
            age(Some(now - r.started_at)),
            took,
            sanitize(&r.trigger.to_string()),
            counts.join(", ")
        );
    }
    if let Some(id) = list.older {
        let _ = writeln!(s, "older runs: dockyard builds --before {id}");
    }
    s
}

/// `dockyard hosts`: each host's state, then one row per pinned image
/// with its presence on each host.
pub fn hosts_table(report: &dockyard_api::HostsReport) -> String {
    let mut s = String::new();
    for h in &report.hosts {
        let state = match (&h.version, &h.error) {
            (Some(v), _) if h.reachable => format!("engine {}", sanitize(v)),
            (_, Some(e)) => format!("UNREACHABLE: {}", sanitize(e)),
            _ => "UNREACHABLE".to_owned(),
        };
        let _ = writeln!(s, "host {} ({}): {state}", sanitize(&h.name), sanitize(&h.endpoint));
    }
    if report.images.is_empty() {
        let _ = writeln!(s, "no pinned image");
        return s;
    }
    let width = report.images.iter().map(|i| i.chars().count()).max().unwrap_or(5).max(5);
    let cols: Vec<usize> = report.hosts.iter().map(|h| h.name.chars().count().max(8)).collect();
    let _ = write!(s, "{:width$}", "IMAGE");
    for (h, w) in report.hosts.iter().zip(&cols) {
        let _ = write!(s, "  {:w$}", sanitize(&h.name));
    }
    s.push('\n');
    for (i, image) in report.images.iter().enumerate() {
        let _ = write!(s, "{:width$}", sanitize(image));
        for (h, w) in cols.iter().enumerate() {
            let cell = report.cells.get(h).and_then(|row| row.get(i)).map_or("unknown", |p| p.as_str());
            let _ = write!(s, "  {cell:w$}");
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
    }
    let missing = report.cells.iter().flatten().filter(|c| **c != dockyard_api::Presence::Present).count();
    let _ = writeln!(
        s,
        "{} pinned images on {} hosts: {missing} missing, outdated or unknown{}",
        report.images.len(),
        report.hosts.len(),
        if missing > 0 { " (dockyard pull --hosts all)" } else { "" }
    );
    s
}

/// One run with its images and their logs.
pub fn run_text(detail: &dockyard_api::RunDetail, logs: &[dockyard_api::LogLine]) -> String {
    let r = &detail.run;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "run {}: {} (started by {}, on {})",
        r.id,
        r.state.as_str(),
        sanitize(&r.trigger.to_string()),
        sanitize(&r.hosts.join(", "))
    );
    if let Some(src) = &detail.source {
        let commit = match (&src.commit, src.dirty) {
            (Some(c), Some(true)) => format!(" at {c} with uncommitted changes"),
            (Some(c), _) => format!(" at {c}"),
            (None, _) => " (not a git work tree)".to_owned(),
        };
        let _ = writeln!(s, "  from {}{commit}", sanitize(&src.repo));
        if !src.command.is_empty() {
            let _ = writeln!(s, "  command: {}", sanitize(&src.command.join(" ")));
        }
        let _ = writeln!(s, "  dockyard {}", sanitize(&src.dockyard));
    }
    for i in detail.images.iter().filter(|i| i.action != dockyard_api::Action::Present) {
        let took = i.duration_ms.map(|d| format!(" {:.1}s", d as f64 / 1000.0)).unwrap_or_default();
        let err = i.error.as_deref().map(|e| format!(" — {}", sanitize(e))).unwrap_or_default();
        let on = i.host.as_deref().map(|h| format!(" on {}", sanitize(h))).unwrap_or_default();
        let _ = writeln!(s, "  {:11} {}{on}{took}{err}", i.state.as_str(), sanitize(&i.label));
        if let Some(id) = &i.built {
            let _ = writeln!(s, "              built {}", sanitize(id));
        }
        if let Some(d) = &i.pushed {
            let _ = writeln!(s, "              pushed {}", sanitize(d));
        }
    }
    let mut current = "";
    for l in logs {
        if l.image != current {
            current = &l.image;
            let _ = writeln!(s, "\n== {} ==", sanitize(current));
        }
        let _ = writeln!(s, "{}", sanitize(&l.line));
    }
    s
}

/// A run's raw log: one line each, `seq HH:MM:SS image | text` (UTC),
/// control characters made visible.
pub fn log_text(logs: &[dockyard_api::LogLine]) -> String {
    let width = logs.iter().map(|l| l.image.chars().count()).max().unwrap_or(0);
    let mut s = String::new();
    for l in logs {
        let t = l.at_ms.div_euclid(1000).rem_euclid(86_400);
        let _ = writeln!(
            s,
            "{:>6} {:02}:{:02}:{:02} {:<width$} | {}",
            l.seq,
            t / 3600,
            t % 3600 / 60,
            t % 60,
            sanitize(&l.image),
            sanitize(&l.line)
        );
    }
    s
}

/// The graph as a standalone SVG (the download of the graph page).
pub fn svg(view: &dockyard_api::GraphView) -> String {
    let l = &view.layout;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {:.0} {:.0}\" width=\"{:.0}\" height=\"{:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        l.width, l.height, l.width, l.height
    );
    s.push_str("<style>.e{fill:none;stroke:#8a8f98;stroke-width:1.2}.n rect{fill:#f5f7fa;stroke:#4a5568;rx:5}.n.stale-pins rect{fill:#fff4d6;stroke:#b7791f}.n.unpublished rect{fill:#e9e3ff;stroke:#6b46c1}.n.failed rect,.n.broken rect{fill:#ffe3e3;stroke:#c53030}</style>\n");
    for e in &l.edges {
        let _ = writeln!(s, "<path class=\"e\" d=\"{}\"/>", xml(&e.path));
    }
    for n in &l.nodes {
        let st = view.status.get(&n.name).copied().unwrap_or(dockyard_api::NodeStatus::Ok);
        let _ = writeln!(
            s,
            "<g class=\"n {}\" data-image=\"{}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}{}</text></g>",
            st.as_str(),
            xml(&n.name),
            n.x,
            n.y,
            n.w,
            n.h,
            n.x + n.w / 2.0,
            n.y + n.h / 2.0 + 4.0,
            xml(&n.name),
            if st.label().is_empty() {
                String::new()
            } else {
                format!(" {}", st.label().split(' ').next().unwrap_or(""))
            }
        );
    }
    s.push_str("</svg>\n");
    s
}

/// What `update` did, as it tells the maintainer (on stderr).
pub fn update_text(r: &dockyard_api::UpdateReport) -> String {
    let mut s = String::from("Will update the following images:\n");
    for u in &r.updated {
        let _ = writeln!(s, "* {} {} -> {}", sanitize(&u.image), sanitize(&u.old_version), sanitize(&u.new_version));
    }
    for n in &r.notes {
        let _ = writeln!(s, "note: {}", sanitize(n));
    }
    for f in &r.pins {
        let _ = writeln!(s, "bumped {} pin{} in {}", f.count, if f.count == 1 { "" } else { "s" }, sanitize(&f.file));
    }
    for w in &r.waiting {
        let _ = writeln!(s, "waiting: {}", sanitize(w));
    }
    s
}
