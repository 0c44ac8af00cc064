//! The `dockyard` command: parses the command line and hands off to the
//! command it names.

mod cli;
mod commands;
mod fsio;
mod lint_cmd;
mod registry;
mod registry_cmd;
mod serve;
mod store;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Render(args) => commands::render(&args),
        cli::Command::Graph(args) => commands::graph(&args),
        cli::Command::Catalog(args) => commands::catalog(&args),
        cli::Command::Registry(args) => registry_cmd::registry(&args),
        cli::Command::Lint(args) => lint_cmd::lint(&args),
        cli::Command::PullScript(args) => lint_cmd::pull_script(&args),
        cli::Command::Serve(args) => serve::run(args),
    }
}
