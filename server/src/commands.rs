//! The catalog commands: thin shells over `dockyard_core::ops` that format
//! results and choose exit codes (0 clean, 1 findings, 2 usage or I/O).

use crate::cli::{CatalogArgs, Format, GraphArgs, GraphFormat, RenderArgs, RootArgs};
use dockyard_core::Diagnostic;
use dockyard_core::catalog::Catalog;
use dockyard_core::ops::{self, RenderReport};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

/// Exit code for usage and I/O errors.
pub const EXIT_USAGE: u8 = 2;

fn fail(d: &Diagnostic) -> ExitCode {
    eprintln!("error: {d}");
    ExitCode::from(EXIT_USAGE)
}

fn print_json(value: &impl serde::Serialize) -> Result<(), ExitCode> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from).and_then(|_| writeln!(out)).map_err(
        |e| {
            eprintln!("error: cannot write output: {e}");
            ExitCode::from(EXIT_USAGE)
        },
    )
}

fn report_diagnostics(report: &RenderReport) {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
}

/// Loads every root named on the command line; the first failure is printed.
pub fn load_catalogs(roots: &RootArgs) -> Result<Vec<Catalog>, ExitCode> {
    roots.roots().iter().map(|r| r.load().map_err(|d| fail(&d))).collect()
}

fn render_all(roots: &RootArgs) -> Result<(RenderReport, BTreeSet<String>), ExitCode> {
    Ok(ops::render_catalogs(&load_catalogs(roots)?))
}

/// `dockyard render`.
pub fn render(args: &RenderArgs) -> ExitCode {
    let (mut report, _) = match render_all(&args.roots) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if !args.image.is_empty() {
        let unknown: Vec<&String> = args.image.iter().filter(|n| !report.images.contains_key(*n)).collect();
        if !unknown.is_empty() {
            for n in unknown {
                eprintln!("error: no image named `{n}` in the catalog");
            }
            return ExitCode::from(EXIT_USAGE);
        }
        report.images.retain(|name, _| args.image.contains(name));
    }
    report_diagnostics(&report);
    let shown = match args.format {
        Format::Json => print_json(&report),
        Format::Text => {
            let mut out = std::io::stdout().lock();
            let single = report.images.len() == 1;
            let mut result = Ok(());
            for (name, img) in &report.images {
                match (&img.dockerfile, &img.error) {
                    (Some(text), _) if single => result = writeln!(out, "{text}"),
                    (Some(text), _) => {
                        let label = img.label.as_deref().unwrap_or(name);
                        result = writeln!(out, "# ==> {label} ({}) <==\n{text}\n", img.dir);
                    }
                    (None, Some(err)) => eprintln!("error: {err}"),
                    (None, None) => {}
                }
                if result.is_err() {
                    break;
                }
            }
            result.map_err(|e| {
                eprintln!("error: cannot write output: {e}");
                ExitCode::from(EXIT_USAGE)
            })
        }
    };
    match shown {
        Err(code) => code,
        Ok(()) if report.has_errors() => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    }
}

/// `dockyard graph`.
pub fn graph(args: &GraphArgs) -> ExitCode {
    let (report, bases) = match render_all(&args.roots) {
        Ok(r) => r,
        Err(code) => return code,
    };
    report_diagnostics(&report);
    for (name, img) in &report.images {
        if let Some(err) = &img.error {
            eprintln!("warning: {name}: template edges unknown: {err}");
        }
    }
    let graph = ops::graph(&report, &bases);
    let shown = match args.format {
        GraphFormat::Json => print_json(&graph),
        GraphFormat::Dot => {
            let mut s = String::from("digraph dockyard {\n  rankdir=LR;\n  node [shape=box];\n");
            for n in &graph.nodes {
                s.push_str(&format!("  \"{n}\";\n"));
            }
            for (child, parents) in &graph.parents {
                for (parent, source) in parents {
                    let style = match source {
                        dockyard_core::graph::Source::Both => "",
                        _ => " [style=dashed, color=red]",
                    };
                    s.push_str(&format!("  \"{parent}\" -> \"{child}\"{style};\n"));
                }
            }
            s.push_str("}\n");
            print!("{s}");
            Ok(())
        }
        GraphFormat::Text => {
            for name in &graph.nodes {
                let parents: Vec<&String> = graph.parents.get(name).map(|p| p.keys().collect()).unwrap_or_default();
                if parents.is_empty() {
                    println!("{name}");
                } else {
                    println!("{name} <- {}", parents.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
                }
            }
            for p in &graph.problems {
                eprintln!("problem: {p}");
            }
            Ok(())
        }
    };
    match shown {
        Err(code) => code,
        Ok(()) if !graph.problems.is_empty() || report.has_errors() => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    }
}

#[derive(serde::Serialize)]
struct CatalogEntry<'a> {
    name: &'a str,
    version: Option<&'a str>,
    label: Option<String>,
    dir: &'a str,
    depends: Vec<&'a str>,
    error: Option<String>,
}

/// `dockyard catalog`.
pub fn catalog(args: &CatalogArgs) -> ExitCode {
    let catalogs = match load_catalogs(&args.roots) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut entries = Vec::new();
    let mut failed = false;
    for c in &catalogs {
        for w in &c.warnings {
            eprintln!("warning: {w}");
        }
        for e in &c.errors {
            eprintln!("error: {e}");
            failed = true;
        }
        for i in &c.images {
            failed |= i.error.is_some();
            entries.push(CatalogEntry {
                name: &i.name,
                version: i.version.as_deref(),
                label: i.label(&c.config),
                dir: &i.rel_dir,
                depends: i.depends.iter().map(|d| d.name.as_str()).collect(),
                error: i.error.as_ref().map(ToString::to_string),
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(b.name));
    let shown = match args.format {
        Format::Json => print_json(&serde_json::json!({ "images": entries })),
        Format::Text => {
            let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
            for e in &entries {
                match (&e.version, &e.error) {
                    (_, Some(err)) => println!("{:width$}  ERROR {err}", e.name),
                    (Some(v), None) => println!("{:width$}  {v}", e.name),
                    (None, None) => {}
                }
            }
            Ok(())
        }
    };
    match shown {
        Err(code) => code,
        Ok(()) if failed => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    }
}
