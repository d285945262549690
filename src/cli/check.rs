//! `authtap check` (to be written).

use std::process::ExitCode;

/// Arguments of `authtap check`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `authtap check`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`authtap check` is not implemented yet")
}
