//! `authtap lint` (to be written).

use std::process::ExitCode;

/// Arguments of `authtap lint`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `authtap lint`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`authtap lint` is not implemented yet")
}
