//! The `dockyard` command: parses the command line and hands it to the CLI.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    dockyard::init_tls();
    dockyard::cli::run(dockyard::cli::Cli::parse())
}
