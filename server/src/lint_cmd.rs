//! `dockyard lint` and `dockyard pull-script`: thin shells over
//! `dockyard_core::lint` that print text (like rustc), JSON or JUnit, apply
//! `--fix`, and write the pull script.

use crate::cli::{LintArgs, LintFormat, PinRepoArgs, PullScriptArgs};
use crate::commands::EXIT_USAGE;
use crate::fsio::atomic_write;
use dockyard_core::catalog::Catalog;
use dockyard_core::lint::{self, LintReport, Order, Pin, Source, Status};
use dockyard_core::ops::PinRepo;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::ExitCode;

fn load(args: &PinRepoArgs) -> Result<(PinRepo, Catalog, Vec<Source>), ExitCode> {
    let repo = PinRepo::new(args.repo.clone(), args.catalog.clone(), args.config.clone(), args.pins.clone());
    let fail = |d: dockyard_core::Diagnostic| {
        eprintln!("error: {d}");
        ExitCode::from(EXIT_USAGE)
    };
    let catalog = repo.catalog.load().map_err(fail)?;
    if catalog.config.registry().is_empty() && catalog.config.namespace().is_empty() {
        return Err(fail(dockyard_core::Diagnostic::new(
            &repo.catalog.config,
            None,
            "neither `registry` nor `namespace` is set: pins cannot be told from other text",
        )));
    }
    let sources = repo.read_sources().map_err(fail)?;
    Ok((repo, catalog, sources))
}

/// `dockyard lint`.
pub fn lint(args: &LintArgs) -> ExitCode {
    let fail_on: BTreeSet<Status> = match &args.fail_on {
        None => Status::default_fail_on(),
        Some(list) => {
            let mut set = BTreeSet::new();
            for s in list.split(',').map(str::trim).filter(|s| !s.is_empty() && *s != "none") {
                match Status::parse(s) {
                    Some(st) => {
                        set.insert(st);
                    }
                    None => {
                        eprintln!("error: unknown status `{s}` in --fail-on");
                        return ExitCode::from(EXIT_USAGE);
                    }
                }
            }
            set
        }
    };
    let (_, catalog, sources) = match load(&args.repo) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let index = if args.registry {
        match crate::registry_cmd::run_index(&catalog, &args.registry_args, &BTreeSet::new()) {
            Ok(index) => {
                for e in index.entries.iter().filter(|e| e.error.is_some()) {
                    eprintln!("warning: registry: {}: {}", e.image, e.error.as_deref().unwrap_or(""));
                }
                Some(index)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        None
    };
    let report = lint::lint(&catalog, &sources, index.as_ref().map(|i| i as &dyn lint::Published));
    if args.fix {
        return fix(&report, &sources);
    }
    let out = match args.format {
        LintFormat::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        LintFormat::Junit => junit(&report, &fail_on),
        LintFormat::Text => text(&report, &fail_on, args.verbose),
    };
    print!("{out}");
    if report.failures(&fail_on).next().is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn fix(report: &LintReport, sources: &[Source]) -> ExitCode {
    let (fixes, skipped) = lint::plan_fixes(report, sources);
    let mut failed = false;
    for f in &fixes {
        match atomic_write(&f.path, f.contents.as_bytes(), None) {
            Ok(()) => println!("fixed {} stale pin{} in {}", f.fixed, if f.fixed == 1 { "" } else { "s" }, f.display),
            Err(e) => {
                eprintln!("error: {}: cannot write: {e}", f.display);
                failed = true;
            }
        }
    }
    for s in &skipped {
        eprintln!("warning: {s}");
    }
    if failed {
        ExitCode::from(EXIT_USAGE)
    } else if skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn message(p: &Pin) -> String {
    let tag = p.version.as_deref().unwrap_or("");
    match p.status {
        Status::Ok => format!("`{}:{tag}` is the latest version", p.image),
        Status::Stale => {
            let how = match p.order {
                Some(Order::Older) => "an older version",
                Some(Order::Newer) => "a version that sorts NEWER than the latest",
                _ => "another spelling of the latest version",
            };
            format!("`{}:{tag}` is stale: {how}; the latest is {}", p.image, p.latest.as_deref().unwrap_or("?"))
        }
        Status::NotInCatalog => format!("`{}` is not in the catalog", p.image),
        Status::Untagged => format!("`{}` is pinned without a version", p.image),
        Status::UnknownVersion => format!("`{}:{tag}` is not a version in the image's changelog", p.image),
        Status::Unpublished => format!("`{}:{tag}` is not in the registry", p.image),
        Status::Unresolved => format!("cannot resolve `{}`", p.written),
    }
}

fn text(report: &LintReport, fail_on: &BTreeSet<Status>, verbose: bool) -> String {
    let mut out = String::new();
    for p in report.pins.iter().filter(|p| p.status != Status::Ok) {
        let level = if fail_on.contains(&p.status) { "error" } else { "warning" };
        let gutter = " ".repeat(p.line.to_string().len());
        let _ = writeln!(out, "{level}[{}]: {}", p.status.as_str(), message(p));
        let _ = writeln!(out, "{gutter}--> {}:{}:{}", p.file, p.line, p.column);
        let _ = writeln!(out, "{gutter} |");
        let _ = writeln!(out, "{} | {}", p.line, p.line_text);
        // Under the tag when there is one, else under the whole reference.
        let written_chars = p.written.chars().count();
        let (from, width) = match p.written.rfind(':').filter(|_| p.version.is_some()) {
            Some(i) => {
                let before = p.written[..=i].chars().count();
                (before, written_chars - before)
            }
            None => (0, written_chars),
        };
        let pad: String =
            p.line_text.chars().take(p.column - 1 + from).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let _ = writeln!(out, "{gutter} | {pad}{}", "^".repeat(width.max(1)));
        if let (Status::Stale | Status::Untagged, Some(latest)) = (p.status, &p.latest) {
            let name =
                p.written.rsplit_once(':').filter(|_| p.version.is_some()).map_or(p.written.as_str(), |(n, _)| n);
            let _ = writeln!(out, "{gutter} = fix: {name}:{latest}");
        }
        if let Some(note) = &p.note {
            let _ = writeln!(out, "{gutter} = note: {note}");
        }
        out.push('\n');
    }
    let warnings = &report.warnings;
    if verbose {
        for w in warnings {
            let _ = writeln!(out, "warning: {w}");
        }
    }
    let failures = report.failures(fail_on).count();
    let others = report.pins.iter().filter(|p| p.status != Status::Ok && !fail_on.contains(&p.status)).count();
    if failures + others > 0 || verbose {
        let _ = writeln!(
            out,
            "{} pins checked in {} files: {failures} error{}, {others} warning{}",
            report.pins.len(),
            report.summary.files_scanned,
            if failures == 1 { "" } else { "s" },
            if others == 1 { "" } else { "s" },
        );
        if !report.summary.dead_images.is_empty() {
            let _ =
                writeln!(out, "images pinned nowhere and parent of nothing: {}", report.summary.dead_images.join(", "));
        }
        if !warnings.is_empty() && !verbose {
            let _ = writeln!(out, "{} include target(s) not found (-v lists them)", warnings.len());
        }
    }
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn junit(report: &LintReport, fail_on: &BTreeSet<Status>) -> String {
    let failures = report.failures(fail_on).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites><testsuite name=\"dockyard lint\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        report.pins.len()
    );
    for p in &report.pins {
        let name = xml(&format!("{}:{} {}", p.file, p.line, p.written));
        let class = xml(&format!("pins.{}", p.file.replace('/', ".")));
        if fail_on.contains(&p.status) {
            let _ = writeln!(
                out,
                "  <testcase classname=\"{class}\" name=\"{name}\"><failure type=\"{}\" message=\"{}\"/></testcase>",
                p.status.as_str(),
                xml(&message(p))
            );
        } else if p.status != Status::Ok {
            let _ = writeln!(
                out,
                "  <testcase classname=\"{class}\" name=\"{name}\"><system-out>{}: {}</system-out></testcase>",
                p.status.as_str(),
                xml(&message(p))
            );
        } else {
            let _ = writeln!(out, "  <testcase classname=\"{class}\" name=\"{name}\"/>");
        }
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}

/// `dockyard pull-script`.
pub fn pull_script(args: &PullScriptArgs) -> ExitCode {
    let (repo, catalog, sources) = match load(&args.repo) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let report = lint::lint(&catalog, &sources, None);
    let prefix = dockyard_core::label::pin_prefix(&catalog.config.registry(), &catalog.config.namespace());
    // (image, tag) pairs to pull; the index is asked for exactly these digests.
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    let mut skipped: BTreeSet<String> = BTreeSet::new();
    for p in &report.pins {
        match (p.status, &p.version) {
            (Status::Ok | Status::Stale | Status::Unpublished, Some(tag)) => {
                pairs.insert((p.image.clone(), tag.clone()));
            }
            _ => {
                skipped.insert(format!("{} ({}: {}:{})", p.written, p.status.as_str(), p.file, p.line));
            }
        }
    }
    let index = if args.digest {
        match crate::registry_cmd::run_index(&catalog, &args.registry_args, &pairs) {
            Ok(i) => Some(i),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        None
    };
    let mut missing_digest = Vec::new();
    let mut pull: BTreeSet<String> = BTreeSet::new();
    for (image, tag) in &pairs {
        let label = format!("{prefix}{image}:{tag}");
        match &index {
            None => {
                pull.insert(label);
            }
            Some(index) => match index.get(image).and_then(|e| e.digests.get(tag)) {
                Some(d) => {
                    pull.insert(format!("{label}@{d}"));
                }
                None => {
                    skipped.insert(format!("{label} (no digest: not in the registry index; pulled by tag)"));
                    missing_digest.push(label.clone());
                    pull.insert(label);
                }
            },
        }
    }
    let script = render_script(&repo, &pull, &skipped, args.host.as_deref());
    match &args.output {
        None => {
            print!("{script}");
            if missing_digest.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Some(path) => match atomic_write(path, script.as_bytes(), Some(0o755)) {
            Ok(()) => {
                eprintln!("wrote {} ({} images)", path.display(), pull.len());
                for m in &missing_digest {
                    eprintln!("warning: no digest for {m}: pulled by tag");
                }
                if missing_digest.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Err(e) => {
                eprintln!("error: {}: cannot write: {e}", path.display());
                ExitCode::from(EXIT_USAGE)
            }
        },
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn render_script(repo: &PinRepo, pull: &BTreeSet<String>, skipped: &BTreeSet<String>, host: Option<&str>) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let _ = writeln!(
        s,
        "# Pulls every image pinned in {}.",
        repo.pin_paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        s,
        "# Generated by dockyard {} from the catalog {} (config {}).",
        env!("CARGO_PKG_VERSION"),
        repo.catalog.dir.display(),
        repo.catalog.config.display()
    );
    let _ = writeln!(s, "# {} distinct images. Do not edit: run `dockyard pull-script` again.", pull.len());
    for k in skipped {
        let _ = writeln!(s, "# skipped: {k}");
    }
    s.push_str("set -u\n\n");
    if let Some(h) = host {
        let _ = writeln!(s, "DOCKER_HOST=${{DOCKER_HOST:-{}}}\nexport DOCKER_HOST\n", shell_quote(h));
    }
    s.push_str("failed=0\n");
    s.push_str("for image in \\\n");
    for image in pull {
        let _ = writeln!(s, "    {} \\", shell_quote(image));
    }
    s.push_str("; do\n");
    s.push_str("    echo \"pulling $image\"\n");
    s.push_str("    if ! docker pull \"$image\"; then\n        echo \"FAILED: $image\" >&2\n        failed=$((failed + 1))\n    fi\ndone\n");
    s.push_str("if [ \"$failed\" -gt 0 ]; then\n    echo \"$failed image(s) failed to pull\" >&2\n    exit 1\nfi\n");
    s
}
