//! `dockyard render`, `graph` and `catalog`.

use super::args::{CatalogArgs, Format, GraphArgs, GraphFormat, RenderArgs};
use super::{EXIT_FINDINGS, EXIT_USAGE, emit, emit_code, fail, service};
use crate::print::sanitize;
use std::fmt::Write as _;
use std::process::ExitCode;

fn code(failed: bool) -> ExitCode {
    if failed { ExitCode::from(EXIT_FINDINGS) } else { ExitCode::SUCCESS }
}

/// `dockyard render`.
pub fn render(args: &RenderArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let snapshot = match service.snapshot() {
        Ok(s) => s,
        Err(d) => return fail(d),
    };
    let rendered = snapshot.rendered();
    let mut report = rendered.report.clone();
    if !args.image.is_empty() {
        let unknown: Vec<&String> = args.image.iter().filter(|n| !report.images.contains_key(*n)).collect();
        if !unknown.is_empty() {
            for n in unknown {
                eprintln!("error: no image named `{}` in the catalog", sanitize(n));
            }
            return ExitCode::from(EXIT_USAGE);
        }
        report.images.retain(|name, _| args.image.contains(name));
    }
    for w in &report.warnings {
        eprintln!("warning: {}", sanitize(&w.to_string()));
    }
    for e in &report.errors {
        eprintln!("error: {}", sanitize(&e.to_string()));
    }
    let failed = report.has_errors();
    match args.format {
        Format::Json => emit_code(dockyard_api::to_json(&report), code(failed)),
        Format::Text => {
            let single = report.images.len() == 1;
            let mut out = String::new();
            for (name, img) in &report.images {
                match (&img.dockerfile, &img.diagnostic) {
                    (Some(text), _) if single => {
                        let _ = writeln!(out, "{text}");
                    }
                    (Some(text), _) => {
                        let label = img.label.as_deref().unwrap_or(name);
                        let _ = writeln!(out, "# ==> {label} ({}) <==\n{text}\n", img.dir);
                    }
                    (None, Some(err)) => eprintln!("error: {}", sanitize(&err.to_string())),
                    (None, None) => {}
                }
            }
            emit_code(&out, code(failed))
        }
    }
}

/// `dockyard graph`.
pub fn graph(args: &GraphArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let snapshot = match service.snapshot() {
        Ok(s) => s,
        Err(d) => return fail(d),
    };
    let rendered = snapshot.rendered();
    for w in &rendered.report.warnings {
        eprintln!("warning: {}", sanitize(&w.to_string()));
    }
    for e in &rendered.report.errors {
        eprintln!("error: {}", sanitize(&e.to_string()));
    }
    for (name, img) in &rendered.report.images {
        if let Some(err) = &img.error {
            eprintln!("warning: {}: template edges unknown: {}", sanitize(name), sanitize(err));
        }
    }
    let failed = !rendered.graph.problems.is_empty() || rendered.report.has_errors();
    match args.format {
        GraphFormat::Json => emit_code(snapshot.graph_json(), code(failed)),
        GraphFormat::Dot => emit_code(crate::print::dot(&snapshot.graph_report()), code(failed)),
        GraphFormat::Text => {
            let report = snapshot.graph_report();
            if let Err(c) = emit(crate::print::graph_text(&report)) {
                return c;
            }
            for p in &report.problems {
                eprintln!("problem: {}", sanitize(&p.to_string()));
            }
            code(failed)
        }
    }
}

/// `dockyard catalog`.
pub fn catalog(args: &CatalogArgs) -> ExitCode {
    let service = match service(&args.repo) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let snapshot = match service.snapshot() {
        Ok(s) => s,
        Err(d) => return fail(d),
    };
    let report = snapshot.catalog_report();
    for w in &report.warnings {
        eprintln!("warning: {}", sanitize(&w.to_string()));
    }
    for p in &report.problems {
        eprintln!("error: {}", sanitize(&p.to_string()));
    }
    let failed = !report.problems.is_empty() || report.images.iter().any(|i| i.error.is_some());
    match args.format {
        Format::Json => emit_code(snapshot.catalog_json(), code(failed)),
        Format::Text => {
            let width = report.images.iter().map(|e| e.name.len()).max().unwrap_or(0);
            let mut out = String::new();
            for e in &report.images {
                match (&e.version, &e.error) {
                    (_, Some(err)) => {
                        let _ = writeln!(out, "{:width$}  ERROR {}", sanitize(&e.name), sanitize(&err.to_string()));
                    }
                    (Some(v), None) => {
                        let parents =
                            if e.parents.is_empty() { String::new() } else { format!("  <- {}", e.parents.join(", ")) };
                        let _ = writeln!(out, "{:width$}  {}{}", sanitize(&e.name), sanitize(v), sanitize(&parents));
                    }
                    (None, None) => {}
                }
            }
            emit_code(&out, code(failed))
        }
    }
}
