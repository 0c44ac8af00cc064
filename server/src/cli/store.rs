//! `dockyard store export` and `dockyard store import`.

use super::args::{StoreArgs, StoreCommand};
use super::{emit, fail, failed, service};
use crate::service::Service;
use crate::service::runs::Imported;
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

/// Dumps larger than this are refused (they are read whole).
const MAX_DUMP_BYTES: u64 = 4 << 30;

/// `dockyard store`.
pub fn store(args: StoreArgs) -> ExitCode {
    match args.command {
        StoreCommand::Export { repo, store, output } => {
            let service = match open(repo, store.as_deref()) {
                Ok(s) => s,
                Err(c) => return c,
            };
            let dump = match service.export_store() {
                Ok(d) => d,
                Err(e) => return failed(e),
            };
            let text = dockyard_api::to_json(&dump);
            match output {
                Some(path) => match crate::fsio::atomic_write(&path, text.as_bytes(), None) {
                    Ok(()) => {
                        eprintln!(
                            "{}: {} repositories, {} runs from {}",
                            path.display(),
                            dump.registry.len(),
                            dump.runs.len(),
                            describe(&service)
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(format!("{}: {e}", path.display())),
                },
                None => match emit(text) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(c) => c,
                },
            }
        }
        StoreCommand::Import { repo, store, shift_to_now, if_empty, file } => {
            let service = match open(repo, store.as_deref()) {
                Ok(s) => s,
                Err(c) => return c,
            };
            let name = file.display().to_string();
            let mut bytes = Vec::new();
            let read = if name == "-" {
                std::io::stdin().lock().take(MAX_DUMP_BYTES + 1).read_to_end(&mut bytes)
            } else {
                std::fs::File::open(&file).and_then(|f| f.take(MAX_DUMP_BYTES + 1).read_to_end(&mut bytes))
            };
            if let Err(e) = read {
                return fail(format!("{name}: {e}"));
            }
            if bytes.len() as u64 > MAX_DUMP_BYTES {
                return fail(format!("{name}: larger than {MAX_DUMP_BYTES} bytes"));
            }
            match service.import_store(&name, &bytes, shift_to_now, if_empty) {
                Ok(Imported::HadRuns) => {
                    eprintln!("{}: has runs already; nothing imported", describe(&service));
                    ExitCode::SUCCESS
                }
                Ok(Imported::Added(n, warning)) => {
                    if let Some(w) = warning {
                        eprintln!("warning: {w}");
                    }
                    eprintln!(
                        "{}: imported {} repositories, {} runs, {} log lines",
                        describe(&service),
                        n.repositories,
                        n.runs,
                        n.log_lines
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => failed(e),
            }
        }
    }
}

/// The store as it may be shown (no password).
fn describe(service: &Service) -> String {
    service.store().map_or_else(|e| e.to_string(), |s| s.0.describe())
}

/// The service on the store `--store` names, else the operator file's
/// (then $DOCKYARD_STORE and the default), opened.
fn open(repo: Option<std::path::PathBuf>, store: Option<&str>) -> Result<Arc<Service>, ExitCode> {
    let service = service(&super::args::RepoArgs { repo, ..Default::default() })?;
    if let Some(s) = store {
        service.with_store(&crate::store::Location::parse(s)).map_err(fail)?;
    }
    service.store().map_err(fail)?;
    Ok(service)
}
