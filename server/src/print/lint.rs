//! The lint for people (rustc-style text with a summary), for Gerrit
//! comments and editors (`short`), and for Jenkins (JUnit).

use super::{sanitize, xml};
use dockyard_api::{Order, Pin, PinsReport, Status};
use dockyard_core::lint::LintState;
use std::fmt::Write as _;

/// One sentence about a pin.
pub fn message(p: &Pin) -> String {
    let tag = p.version.as_deref().unwrap_or("");
    match p.status {
        Status::Ok => format!("`{}:{tag}` is the latest version", p.image),
        Status::Stale => {
            let how = match p.order {
                Some(Order::Older) => "an older version",
                Some(Order::Newer) => "a version that sorts NEWER than the latest",
                _ => "another spelling of the latest version",
            };
            let behind = match p.behind {
                Some(b) => match b.days {
                    Some(d) => format!(
                        ", {} version{} and {d} day{} behind",
                        b.versions,
                        plural(b.versions),
                        plural(d as usize)
                    ),
                    None => format!(", {} version{} behind", b.versions, plural(b.versions)),
                },
                None => String::new(),
            };
            format!("`{}:{tag}` is stale: {how}{behind}; the latest is {}", p.image, p.latest.as_deref().unwrap_or("?"))
        }
        Status::NotInCatalog => format!("`{}` is not in the catalog", p.image),
        Status::Untagged => format!("`{}` is pinned without a version", p.image),
        Status::UnknownVersion => format!("`{}:{tag}` is not a version in the image's changelog", p.image),
        Status::Unpublished => format!("`{}:{tag}` is not in the registry", p.image),
        Status::Unresolved => format!("cannot resolve `{}`", p.written),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// rustc-style findings, then (when there is anything to say) a summary:
/// counts by status, one line per image and tag, and the `--fix` command.
pub fn text(state: &LintState, fail_on: &[Status], verbose: bool, fix_command: &str) -> String {
    let report = &state.report;
    let mut out = String::new();
    for f in report.findings.iter().filter(|f| f.pin.status != Status::Ok) {
        let p = &f.pin;
        let level = if fail_on.contains(&p.status) { "error" } else { "warning" };
        let gutter = " ".repeat(p.line.to_string().len());
        let line_text = state.sources.get(f.source).map(|s| s.line(f)).unwrap_or("");
        let _ = writeln!(out, "{level}[{}]: {}", p.status, sanitize(&message(p)));
        let _ = writeln!(out, "{gutter}--> {}:{}:{}", sanitize(&p.file), p.line, p.column);
        let _ = writeln!(out, "{gutter} |");
        let _ = writeln!(out, "{} | {}", p.line, sanitize(line_text));
        // Under the tag when there is one, else under the whole reference.
        let written_chars = p.written.chars().count();
        let (from, width) = match p.written.rfind(':').filter(|_| p.version.is_some()) {
            Some(i) => {
                let before = p.written[..=i].chars().count();
                (before, written_chars - before)
            }
            None => (0, written_chars),
        };
        let pad: String = sanitize(line_text)
            .chars()
            .take(p.column.saturating_sub(1) + from)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{gutter} | {pad}{}", "^".repeat(width.max(1)));
        if let Some(fix) = &p.fix {
            let _ = writeln!(out, "{gutter} = fix: {}", sanitize(fix));
        }
        if let Some(note) = &p.note {
            let _ = writeln!(out, "{gutter} = note: {}", sanitize(note));
        }
        if let Some(help) = &p.advice {
            let _ = writeln!(out, "{gutter} = help: {}", sanitize(help));
        }
        if let Some(job) = &p.job {
            let projects = match (job.kind, job.projects.as_slice()) {
                (_, []) | (dockyard_api::JobKind::Project, _) => String::new(),
                (_, p) => format!(" (project {})", p.join(", ")),
            };
            let entry = job.entry.as_deref().map(|e| format!(", job {e}")).unwrap_or_default();
            let _ = writeln!(out, "{gutter} = in: {} {}{entry}{projects}", job.kind.as_str(), sanitize(&job.name));
        }
        out.push('\n');
    }
    for e in &report.errors {
        let _ = writeln!(out, "error: {}\n", sanitize(&e.to_string()));
    }
    if verbose {
        for w in &report.warnings {
            let _ = writeln!(out, "warning: {}", sanitize(&w.to_string()));
        }
        if !report.warnings.is_empty() {
            out.push('\n');
        }
    }
    let findings = report.findings.iter().filter(|f| f.pin.status != Status::Ok).count();
    if findings + report.errors.len() > 0 || verbose {
        out.push_str(&summary(&report.to_api(), fail_on, verbose, fix_command));
    }
    out
}

/// The summary block that ends the text output.
pub fn summary(report: &PinsReport, fail_on: &[Status], verbose: bool, fix_command: &str) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let counts: Vec<String> =
        s.by_status.iter().filter(|(st, n)| **n > 0 && **st != Status::Ok).map(|(st, n)| format!("{n} {st}")).collect();
    let failing = report.failures(fail_on).count();
    let ok = s.by_status.get(&Status::Ok).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "{} pin{} in {} file{}: {ok} ok{}{} ({failing} fail the lint)",
        s.references,
        plural(s.references),
        s.files_scanned,
        plural(s.files_scanned),
        if counts.is_empty() { "" } else { ", " },
        counts.join(", "),
    );
    let w = s.groups.iter().map(|g| g.image.len() + g.version.as_deref().map_or(0, |v| v.len() + 1)).max().unwrap_or(0);
    for g in &s.groups {
        let name = match &g.version {
            Some(v) => format!("{}:{v}", g.image),
            None => g.image.clone(),
        };
        let latest = g.latest.as_deref().map(|l| format!(" (latest {l})")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:w$}  {:15}  {} pin{} in {} file{}{}",
            sanitize(&name),
            g.status.as_str(),
            g.pins,
            plural(g.pins),
            g.files,
            plural(g.files),
            sanitize(&latest)
        );
    }
    if !report.errors.is_empty() {
        let _ = writeln!(
            out,
            "{} file{} could not be linted (see the errors above)",
            report.errors.len(),
            plural(report.errors.len())
        );
    }
    if !s.dead_images.is_empty() {
        let _ = writeln!(out, "images pinned nowhere and parent of nothing: {}", sanitize(&s.dead_images.join(", ")));
    }
    if !report.warnings.is_empty() && !verbose {
        let _ = writeln!(
            out,
            "{} warning{} (missing include targets, unreadable YAML): -v lists them",
            report.warnings.len(),
            plural(report.warnings.len())
        );
    }
    let fixable = report.pins.iter().filter(|p| p.status == Status::Stale && p.fix.is_some()).count();
    if fixable > 0 {
        let _ = writeln!(out, "fix the {fixable} stale pin{} with: {fix_command}", plural(fixable));
    }
    out
}

/// One line per finding: `file:line:col: status: message`.
pub fn short(report: &PinsReport) -> String {
    let mut out = String::new();
    for p in report.findings() {
        let _ = writeln!(out, "{}:{}:{}: {}: {}", sanitize(&p.file), p.line, p.column, p.status, sanitize(&message(p)));
    }
    for e in &report.errors {
        let _ = writeln!(
            out,
            "{}:{}:1: error: {}",
            sanitize(e.file.as_deref().unwrap_or("")),
            e.line.unwrap_or(1),
            sanitize(&e.message)
        );
    }
    out
}

/// JUnit XML: one test case per pin, grouped by file (the class name keeps
/// the file's dots out, so that viewers do not split it into packages).
pub fn junit(report: &PinsReport, fail_on: &[Status]) -> String {
    let failures = report.failures(fail_on).count() + report.errors.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites><testsuite name=\"dockyard lint\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        report.pins.len() + report.errors.len()
    );
    let class = |file: &str| xml(&format!("dockyard-lint.{}", file.replace('.', "_")));
    for p in &report.pins {
        let name = xml(&format!("{}:{} {}", p.file, p.line, p.written));
        let class = class(&p.file);
        if fail_on.contains(&p.status) {
            let _ = writeln!(
                out,
                "  <testcase classname=\"{class}\" name=\"{name}\"><failure type=\"{}\" message=\"{}\"/></testcase>",
                p.status,
                xml(&message(p))
            );
        } else if p.status != Status::Ok {
            let _ = writeln!(
                out,
                "  <testcase classname=\"{class}\" name=\"{name}\"><system-out>{}: {}</system-out></testcase>",
                p.status,
                xml(&message(p))
            );
        } else {
            let _ = writeln!(out, "  <testcase classname=\"{class}\" name=\"{name}\"/>");
        }
    }
    for e in &report.errors {
        let file = e.file.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\"><failure type=\"error\" message=\"{}\"/></testcase>",
            class(file),
            xml(&format!("{file}:{}", e.line.unwrap_or(0))),
            xml(&e.message)
        );
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}
