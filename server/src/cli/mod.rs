//! The command line: clap definitions (`args`), and one thin handler per
//! command that asks the service and hands the result to a printer.
//!
//! Exit codes: 0 clean, 1 findings (stale pins, images that do not render,
//! files over a limit), 2 usage or I/O errors, 69 a store, engine or
//! registry that could not be reached ([`exit_code_of`]).

pub mod args;
mod build;
mod catalog;
pub mod console;
mod impact;
mod lifecycle;
mod lint;
mod registry;
mod serve;
mod store;
mod try_run;

pub use args::Cli;

use crate::registry::RegistryOptions;
use crate::service::{RepoConfig, Service};
use args::{Command, RegistryArgs, RepoArgs};
use clap::CommandFactory;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

/// Findings: the exit code of a check that found something.
pub const EXIT_FINDINGS: u8 = 1;
/// Usage or I/O errors.
pub const EXIT_USAGE: u8 = 2;

/// Runs the command the command line names.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Render(a) => catalog::render(&a),
        Command::Graph(a) => catalog::graph(&a),
        Command::Catalog(a) => catalog::catalog(&a),
        Command::Lint(a) => lint::lint(&a),
        Command::PullScript(a) => lint::pull_script(&a),
        Command::Registry(a) => registry::registry(&a),
        Command::Serve(a) => serve::serve(a),
        Command::Build(a) => build::build(&a),
        Command::Builds(a) => build::builds(&a),
        Command::Update(a) => build::update(&a),
        Command::Prune(a) => build::prune(&a),
        Command::Pull(a) => build::pull(&a),
        Command::Hosts(a) => build::hosts(&a),
        Command::Impact(a) => impact::impact(&a),
        Command::Try(a) => try_run::try_image(&a),
        Command::Cleanup(a) => lifecycle::cleanup(&a),
        Command::Sizes(a) => lifecycle::sizes(&a),
        Command::Store(a) => store::store(a),
        Command::Completions(a) => {
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "dockyard", &mut out);
            emit_code(&out, ExitCode::SUCCESS)
        }
        Command::Man(a) => {
            // Every page dockyard(1) lists is one this prints.
            // Built, so that clap's own `help` command is there too.
            let mut top = Cli::command();
            top.build();
            let page = match &a.command {
                None => clap_mangen::Man::new(top),
                Some(name) => match top.find_subcommand(name) {
                    Some(sub) => clap_mangen::Man::new(sub.clone()).title(format!("dockyard-{name}")),
                    None => return fail(format!("no command `{name}` (dockyard --help lists them)")),
                },
            };
            let mut out = Vec::new();
            match page.render(&mut out) {
                Ok(()) => emit_code(&out, ExitCode::SUCCESS),
                Err(e) => fail(e),
            }
        }
    }
}

/// Something dockyard needs (the store, an engine, the registry) could not
/// be reached: trying again later may help (sysexits.h's EX_UNAVAILABLE).
pub const EXIT_UNAVAILABLE: u8 = 69;

/// The one mapping of a service error to an exit code.
pub fn exit_code_of(kind: crate::service::Kind) -> u8 {
    use crate::service::Kind;
    match kind {
        Kind::Unavailable => EXIT_UNAVAILABLE,
        Kind::NotFound | Kind::Invalid | Kind::Conflict | Kind::Internal => EXIT_USAGE,
    }
}

/// Prints `error: …` and returns the exit code of the error's kind.
pub fn failed(e: crate::service::Error) -> ExitCode {
    let code = exit_code_of(e.kind);
    fail(e);
    ExitCode::from(code)
}

/// Prints `error: …` and returns the usage/I-O exit code.
pub fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {}", crate::print::sanitize(&msg.to_string()));
    ExitCode::from(EXIT_USAGE)
}

/// Writes to stdout. A closed pipe (`dockyard lint | head`) ends the output
/// quietly; any other write error is an I/O error.
pub fn emit(text: impl AsRef<[u8]>) -> Result<(), ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_ref()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(ExitCode::SUCCESS),
        Err(e) => Err(fail(format!("cannot write output: {e}"))),
    }
}

/// Lines to stdout as the work goes on; once the reader is gone (a closed
/// pipe) the rest is dropped quietly and the work goes on.
#[derive(Default)]
pub struct Out {
    closed: bool,
}

impl Out {
    pub fn line(&mut self, text: &str) {
        if !self.closed && emit(format!("{text}\n")).is_err() {
            self.closed = true;
        }
    }
}

/// [`emit`], then `code`. A reader that went away (a closed pipe) does
/// not change the command's own exit code: `lint | head -1` still says 1
/// when there are findings.
pub fn emit_code(text: impl AsRef<[u8]>, code: ExitCode) -> ExitCode {
    match emit(text) {
        Ok(()) => code,
        Err(c) if c == ExitCode::SUCCESS => code,
        Err(c) => c,
    }
}

/// The service for the repository the flags name.
pub fn service(repo: &RepoArgs) -> Result<Arc<Service>, ExitCode> {
    let config = RepoConfig::resolve(&repo.flags()).map_err(fail)?;
    Ok(Service::new(config))
}

/// A runtime for a command's async work (one thread: commands are short).
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the runtime: {e}")))
}

/// Registry options: the flags over the operator file over the defaults.
pub fn registry_options(args: &RegistryArgs, base: &RegistryOptions) -> RegistryOptions {
    let mut o = base.clone();
    if let Some(v) = args.max_age {
        o.max_age = v;
    }
    if let Some(v) = args.timeout {
        o.timeout = v;
    }
    if let Some(v) = args.retries {
        o.retries = v;
    }
    if let Some(v) = args.concurrency {
        o.concurrency = v as usize;
    }
    o.offline = args.offline;
    o.insecure = args.insecure;
    o.tls = args.tls;
    o.token_realms.extend(args.token_realm.iter().cloned());
    o
}

/// Applies `--store` before the store is first used.
pub fn use_store(service: &Arc<Service>, args: &RegistryArgs) -> Result<(), ExitCode> {
    if let Some(s) = &args.store {
        service.with_store(&crate::store::Location::parse(s)).map_err(fail)?;
    }
    Ok(())
}

/// Shell-quoted arguments, for commands dockyard suggests.
pub fn shell_words(words: &[String]) -> String {
    words.iter().map(|w| dockyard_core::shell::word(w)).collect::<Vec<_>>().join(" ")
}

/// The command line that was run, with `extra` appended (for "run this").
pub fn this_command_with(extra: &str, drop: &[&str]) -> String {
    let mut words: Vec<String> = std::env::args().skip(1).filter(|a| !drop.contains(&a.as_str())).collect();
    words.insert(0, "dockyard".into());
    words.push(extra.into());
    shell_words(&words)
}

pub use crate::term::{RawMode, terminal_size};
