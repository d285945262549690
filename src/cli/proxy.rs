//! `authtap proxy` (to be written).

use std::process::ExitCode;

/// Arguments of `authtap proxy`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `authtap proxy`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`authtap proxy` is not implemented yet")
}
