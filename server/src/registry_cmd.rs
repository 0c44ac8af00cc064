//! `dockyard registry`, and the registry index as `lint --registry` and
//! `pull-script --digest` use it.

use crate::cli::{Format, RegistryArgs, RegistryCmdArgs};
use crate::commands::EXIT_USAGE;
use crate::registry::index::{self, State};
use crate::registry::{ClientOptions, IndexOptions, IndexReport, RegistryClient, auth};
use crate::store::{self, Store};
use dockyard_core::catalog::Catalog;
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

/// Builds (or, offline, reads) the registry index of `catalog`.
pub fn run_index(
    catalog: &Catalog,
    args: &RegistryArgs,
    want: &BTreeSet<(String, String)>,
) -> Result<IndexReport, String> {
    let host = catalog.config.registry();
    if host.is_empty() {
        return Err(format!("{}: no `registry` is configured", catalog.config.path.display()));
    }
    let store_path = args.store.clone().unwrap_or_else(store::default_path);
    let store = Store::open(&store_path)?;
    let client = if args.offline {
        None
    } else {
        let creds = auth::resolve(&host, &catalog.config)?;
        let ca_bundle = catalog
            .config
            .get("ca_bundle")
            .filter(|v| !v.is_none())
            .map(|v| std::path::PathBuf::from(dockyard_core::pyfmt::py_str(v)));
        let opts = ClientOptions {
            timeout: Duration::from_secs_f64(args.timeout),
            retries: args.retries,
            insecure: args.insecure,
            force_tls: args.tls,
            ca_bundle,
            ..ClientOptions::default()
        };
        Some(RegistryClient::new(&host, creds, opts).map_err(|e| e.to_string())?)
    };
    let opts = IndexOptions {
        concurrency: args.concurrency,
        max_age: Duration::from_secs(args.max_age),
        offline: args.offline,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    Ok(runtime.block_on(index::build(catalog, client.as_ref(), &store, want, &opts)))
}

fn age(seconds: Option<i64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s < 120 => format!("{s}s"),
        Some(s) if s < 7200 => format!("{}m", s / 60),
        Some(s) if s < 172_800 => format!("{}h", s / 3600),
        Some(s) => format!("{}d", s / 86400),
    }
}

/// `dockyard registry`.
pub fn registry(args: &RegistryCmdArgs) -> ExitCode {
    let catalogs = match crate::commands::load_catalogs(&args.roots) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut failed = false;
    let mut reports = Vec::new();
    for catalog in &catalogs {
        match run_index(catalog, &args.registry, &BTreeSet::new()) {
            Ok(r) => {
                failed |= r.has_errors();
                reports.push(r);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    match args.format {
        Format::Json => {
            let value =
                if reports.len() == 1 { serde_json::to_value(&reports[0]) } else { serde_json::to_value(&reports) };
            println!("{}", serde_json::to_string_pretty(&value.unwrap_or_default()).unwrap_or_default());
        }
        Format::Text => {
            for r in &reports {
                println!(
                    "registry {}: {} repositories, {} requests, {} ms",
                    r.registry,
                    r.entries.len(),
                    r.requests,
                    r.elapsed_ms
                );
                let w = r.entries.iter().map(|e| e.image.len()).max().unwrap_or(5).max(5);
                println!(
                    "{:w$}  {:14}  {:9}  {:>5}  {:7}  {:>5}  NEWEST TAGS",
                    "IMAGE", "LATEST", "PUBLISHED", "TAGS", "STATE", "AGE"
                );
                for e in &r.entries {
                    let published = match e.published {
                        Some(true) => "yes",
                        Some(false) => "NO",
                        None => "?",
                    };
                    let state = match e.state {
                        State::Fresh => "fresh",
                        State::Cached => "cached",
                        State::Stale => "STALE",
                        State::Missing => "missing",
                        State::Error => "ERROR",
                    };
                    let newest: Vec<&str> = e.tags.iter().rev().take(3).map(String::as_str).collect();
                    println!(
                        "{:w$}  {:14}  {:9}  {:>5}  {:7}  {:>5}  {}",
                        e.image,
                        e.latest.as_deref().unwrap_or("-"),
                        published,
                        e.tags.len(),
                        state,
                        age(e.age_seconds),
                        newest.join(" ")
                    );
                    if let Some(err) = &e.error {
                        println!("{:w$}  ^ {err}", "");
                    }
                }
            }
        }
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
