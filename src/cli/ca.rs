//! `authtap ca` (to be written).

use std::process::ExitCode;

/// Arguments of `authtap ca`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `authtap ca`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`authtap ca` is not implemented yet")
}
