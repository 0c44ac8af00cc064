//! `dockyard store export` and `dockyard store import`.

use super::args::{StoreArgs, StoreCommand};
use super::{emit, fail, service};
use crate::store::dump;
use std::io::Read;
use std::process::ExitCode;

/// Dumps larger than this are refused (they are read whole).
const MAX_DUMP_BYTES: u64 = 4 << 30;

/// `dockyard store`.
pub fn store(args: StoreArgs) -> ExitCode {
    match args.command {
        StoreCommand::Export { repo, store, output } => {
            let store = match open(repo, store.as_deref()) {
                Ok(s) => s,
                Err(c) => return c,
            };
            let dump = match dump::export(store.as_ref()) {
                Ok(d) => d,
                Err(e) => return fail(e),
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
                            store.describe()
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
            let store = match open(repo, store.as_deref()) {
                Ok(s) => s,
                Err(c) => return c,
            };
            if if_empty {
                match store.list_runs(1) {
                    Ok(runs) if !runs.is_empty() => {
                        eprintln!("{}: has runs already; nothing imported", store.describe());
                        return ExitCode::SUCCESS;
                    }
                    Ok(_) => {}
                    Err(e) => return fail(e),
                }
            }
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
            let mut dump: dump::Dump = match serde_json::from_slice(&bytes) {
                Ok(d) => d,
                Err(e) => return fail(format!("{name}:{}: {e}", e.line())),
            };
            if let Err(e) = dump::check(&dump) {
                return fail(format!("{name}: {e}"));
            }
            if shift_to_now {
                dump::shift_to(&mut dump, crate::store::now());
            }
            match dump::import(store.as_ref(), &dump) {
                Ok(n) => {
                    // Runs the store held that a dead process left running.
                    if let Err(e) = store.interrupt_dead_runs(&crate::store::owner_alive, crate::store::now()) {
                        eprintln!("warning: could not check for interrupted runs: {e}");
                    }
                    eprintln!(
                        "{}: imported {} repositories, {} runs, {} log lines",
                        store.describe(),
                        n.repositories,
                        n.runs,
                        n.log_lines
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// The store `--store` names, else the operator file's (then
/// $DOCKYARD_STORE and the default).
fn open(
    repo: Option<std::path::PathBuf>,
    store: Option<&str>,
) -> Result<std::sync::Arc<dyn crate::store::Store>, std::process::ExitCode> {
    let service = service(&super::args::RepoArgs { repo, ..Default::default() })?;
    if let Some(s) = store {
        service.with_store(&crate::store::Location::parse(s)).map_err(fail)?;
    }
    service.store().map(|s| s.0).map_err(fail)
}
